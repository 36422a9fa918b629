/*
 * shared — MAP_SHARED|MAP_ANONYMOUS memory across fork, against a MAP_PRIVATE control.
 * The child writes a pattern into both mappings and tells the parent through a pipe: the
 * parent sees the shared writes and not the private ones. Then the parent writes and tells
 * the child: the child sees them in the shared mapping only. Both processes then do
 * atomic_fetch_add on one shared counter at the same time; the total must be exact (AMOs
 * on a frame two address spaces map). The shared data outlives the child's exit.
 * Args: [pages] (default 4) [adds] (per process, default 20000).
 * Expected final line: "shared: OK".
 */
#include "guest.h"
#include <stdatomic.h>
#include <sys/wait.h>

static uint64_t pat(uint64_t who, uint64_t i) { return (who << 40) + i * 3 + 1; }

static int holds(const volatile uint64_t *b, size_t n, uint64_t who)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != pat(who, i))
            return 0;
    return 1;
}

static void fill(volatile uint64_t *b, size_t n, uint64_t who)
{
    for (size_t i = 0; i < n; i++)
        b[i] = pat(who, i);
}

int main(int argc, char **argv)
{
    guest_start("shared");
    long pages = arg_long(argc, argv, 1, 4);
    long adds = arg_long(argc, argv, 2, 20000);
    CHECK(pages >= 1 && adds >= 0, "bad arguments");
    size_t len = (size_t)pages * PAGE, words = len / 8 - 8;
    char *shm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shm != MAP_FAILED, "mmap shared: %s", strerror(errno));
    volatile uint64_t *sh = (volatile uint64_t *)shm;
    atomic_long *counter = (atomic_long *)(shm + len - 64); /* the last 8 words are control */
    volatile uint64_t *pv = map_anon(NULL, (size_t)pages, PROT_READ | PROT_WRITE, 0, "private");
    fill(sh, words, 1);
    fill(pv, words, 1);

    int to_parent[2], to_child[2];
    CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    char c = 0;
    if (pid == 0) {
        if (!holds(sh, words, 1) || !holds(pv, words, 1))
            _exit(2);
        fill(sh, words, 2);
        fill(pv, words, 2);
        if (write(to_parent[1], "c", 1) != 1 || read(to_child[0], &c, 1) != 1)
            _exit(3);
        if (!holds(sh, words, 3))
            _exit(4); /* the parent's shared writes are not visible */
        if (!holds(pv, words, 2))
            _exit(5); /* the parent's private writes leaked in */
        if (write(to_parent[1], "r", 1) != 1 || read(to_child[0], &c, 1) != 1)
            _exit(3);
        for (long i = 0; i < adds; i++)
            atomic_fetch_add(counter, 1);
        fill(sh, 16, 4); /* a last write the parent checks after our exit */
        _exit(0);
    }
    CHECK(read(to_parent[0], &c, 1) == 1, "pipe read");
    CHECK(holds(sh, words, 2), "parent does not see the child's shared writes");
    CHECK(holds(pv, words, 1), "parent sees the child's private writes");
    printf("shared: child -> parent: shared visible, private not\n");
    fill(sh, words, 3);
    fill(pv, words, 3);
    CHECK(write(to_child[1], "p", 1) == 1, "pipe write");
    CHECK(read(to_parent[0], &c, 1) == 1, "pipe read");
    printf("shared: parent -> child: shared visible, private not\n");
    CHECK(write(to_child[1], "a", 1) == 1, "pipe write");
    for (long i = 0; i < adds; i++)
        atomic_fetch_add(counter, 1);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed: status %#x (exit %d)", st, WEXITSTATUS(st));
    long total = atomic_load(counter);
    CHECK(total == 2 * adds, "shared atomic counter %ld, want %ld", total, 2 * adds);
    CHECK(holds(sh, 16, 4), "the child's last shared write is gone after its exit");
    CHECK(holds(pv, words, 3), "private mapping changed");
    printf("shared: concurrent atomic adds total %ld\n", total);
    munmap(shm, len);
    ok();
}
