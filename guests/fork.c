/*
 * fork — copy-on-write among several processes. The parent fills a heap buffer, a bss
 * array and a stack array, then forks CHILDREN children. Each child checks it sees the
 * parent's data, overwrites half of every buffer with its own pattern, checks its writes
 * and the untouched half; child 1 also forks a grandchild that does the same with its own
 * pattern. After the children start, the parent itself rewrites a buffer and tells the
 * child through a pipe; the child must still see the old contents. The parent waits for
 * every child (waitpid and wait4), checks each exit status (10+i), and checks its own
 * buffers hold what it wrote. Finally a child that raises SIGKILL and one that calls
 * abort() must be reported by WIFSIGNALED/WTERMSIG.
 * Args: [children] (default 3) [kib] (buffer size in KiB, default 64).
 * Expected final line: "fork: OK".
 */
#include "guest.h"
#include <sys/resource.h>
#include <sys/wait.h>

#define BSS_WORDS 2048
static uint64_t bss[BSS_WORDS];
static size_t heap_words;
static uint64_t *heap;

static uint64_t pat(uint64_t who, uint64_t i) { return (who << 48) ^ (i * 0x100000001B3ULL) ^ 0xC0FFEE; }

static void fill(uint64_t *b, size_t n, size_t from, uint64_t who)
{
    for (size_t i = from; i < n; i++)
        b[i] = pat(who, i);
}

static int holds(const uint64_t *b, size_t n, size_t from, uint64_t who)
{
    for (size_t i = from; i < n; i++)
        if (b[i] != pat(who, i))
            return 0;
    return 1;
}

/* child_work: the body every child and grandchild runs; returns 0 or a failure code. */
static int child_work(uint64_t me, uint64_t parent, uint64_t *stack_buf, size_t stack_words)
{
    if (!holds(heap, heap_words, 0, parent) || !holds(bss, BSS_WORDS, 0, parent) ||
        !holds(stack_buf, stack_words, 0, parent))
        return 2; /* does not see the parent's data */
    fill(heap, heap_words / 2, 0, me);
    fill(bss, BSS_WORDS / 2, 0, me);
    fill(stack_buf, stack_words / 2, 0, me);
    if (!holds(heap, heap_words / 2, 0, me) || !holds(bss, BSS_WORDS / 2, 0, me) ||
        !holds(stack_buf, stack_words / 2, 0, me))
        return 3; /* lost its own writes */
    if (!holds(heap, heap_words, heap_words / 2, parent) || !holds(bss, BSS_WORDS, BSS_WORDS / 2, parent) ||
        !holds(stack_buf, stack_words, stack_words / 2, parent))
        return 4; /* untouched half changed */
    return 0;
}

int main(int argc, char **argv)
{
    guest_start("fork");
    long children = arg_long(argc, argv, 1, 3);
    long kib = arg_long(argc, argv, 2, 64);
    CHECK(children >= 1 && children <= 64, "children must be 1..64");
    CHECK(kib >= 1, "kib must be positive");
    heap_words = (size_t)kib * 1024 / 8;
    heap = malloc(heap_words * 8);
    CHECK(heap, "malloc failed");
    uint64_t stack_buf[512];
    const size_t stack_words = 512;
    const uint64_t P = 1;
    fill(heap, heap_words, 0, P);
    fill(bss, BSS_WORDS, 0, P);
    fill(stack_buf, stack_words, 0, P);
    pid_t me = getpid();

    int go[2];
    CHECK(pipe(go) == 0, "pipe: %s", strerror(errno));
    pid_t pids[64];
    for (long i = 0; i < children; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            if (getppid() != me || getpid() == me)
                _exit(5);
            int rc = child_work(100 + (uint64_t)i, P, stack_buf, stack_words);
            if (rc)
                _exit(rc);
            if (i == 0) {
                /* Wait until the parent has rewritten its buffer; ours must not change. */
                char c;
                if (read(go[0], &c, 1) != 1)
                    _exit(6);
                if (!holds(heap, heap_words, heap_words / 2, P) || !holds(heap, heap_words / 2, 0, 100))
                    _exit(7);
            }
            if (i == 1) {
                pid_t g = fork();
                if (g < 0)
                    _exit(8);
                if (g == 0) {
                    /* The grandchild sees child 1's view: first half child's, rest parent's. */
                    if (!holds(heap, heap_words / 2, 0, 101) || !holds(heap, heap_words, heap_words / 2, P))
                        _exit(9);
                    fill(heap, heap_words, 0, 200);
                    fill(bss, BSS_WORDS, 0, 200);
                    if (!holds(heap, heap_words, 0, 200) || !holds(bss, BSS_WORDS, 0, 200))
                        _exit(3);
                    _exit(42);
                }
                int st;
                if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 42)
                    _exit(11);
                /* The grandchild's writes are invisible here. */
                if (!holds(heap, heap_words / 2, 0, 101) || !holds(bss, BSS_WORDS / 2, 0, 101))
                    _exit(12);
            }
            _exit(10 + (int)i);
        }
        pids[i] = pid;
    }
    fill(heap, heap_words / 2, 0, 7); /* the parent's own COW break, after every fork */
    CHECK(write(go[1], "g", 1) == 1, "pipe write");
    for (long i = 0; i < children; i++) {
        int st = 0;
        pid_t w;
        if (i % 2 == 0) {
            w = waitpid(pids[i], &st, 0);
        } else {
            struct rusage ru;
            w = wait4(pids[i], &st, 0, &ru);
        }
        CHECK(w == pids[i], "wait for child %ld returned %d (%s)", i, w, strerror(errno));
        CHECK(WIFEXITED(st), "child %ld did not exit normally (status %#x)", i, st);
        CHECK(WEXITSTATUS(st) == 10 + i, "child %ld exit status %d, want %ld", i, WEXITSTATUS(st), 10 + i);
    }
    CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "a child is left over");
    CHECK(holds(heap, heap_words / 2, 0, 7) && holds(heap, heap_words, heap_words / 2, P), "parent heap changed");
    CHECK(holds(bss, BSS_WORDS, 0, P), "parent bss changed");
    CHECK(holds(stack_buf, stack_words, 0, P), "parent stack changed");
    printf("fork: %ld children and a grandchild saw COW copies; exit statuses 10..%ld\n", children, 9 + children);

    /* Children killed by signals. */
    pid_t k = fork();
    CHECK(k >= 0, "fork: %s", strerror(errno));
    if (k == 0) {
        raise(SIGKILL);
        _exit(1);
    }
    pid_t a = fork();
    CHECK(a >= 0, "fork: %s", strerror(errno));
    if (a == 0) {
        abort();
    }
    int st;
    CHECK(waitpid(k, &st, 0) == k, "waitpid killed child");
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "SIGKILL child: status %#x", st);
    CHECK(waitpid(a, &st, 0) == a, "waitpid aborted child");
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "abort child: status %#x", st);
    printf("fork: killed children report SIGKILL and SIGABRT\n");
    free(heap);
    ok();
}
