/*
 * vmrw — process_vm_readv / process_vm_writev between a parent and its forked child (stress-ng's
 * vm-rw stressor): the parent reads the child's copy-on-write buffer through 2 remote iovecs
 * (one crossing a page boundary) into 3 local ones and finds the child's pattern, not its own;
 * writes a new pattern into the child, which checks it (its page was COW-shared with the
 * parent: the parent's copy is unchanged); a transfer whose second remote iovec is unmapped
 * returns the bytes of the first (partial); errors: flags != 0 EINVAL, a gone pid ESRCH, an
 * unmapped remote range EFAULT, a write to a read-only remote page EFAULT. The same calls on
 * the caller's own pid work. Synchronised through pipes only. qemu-user 7.2 lacks both calls
 * (ENOSYS): --qemu-enosys-lenient turns that into a `note:` line.
 * Args: [--qemu-enosys-lenient] [rounds]. Final line
 * "vmrw: OK".
 */
#include "guest.h"

#include <sys/uio.h>

#define BUF (3 * PAGE)

static unsigned char *buf, *ro;
static int lenient, skipped;

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

static int holds(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7))
            return 0;
    return 1;
}

static void xread(int fd, char *c)
{
    ssize_t r;
    while ((r = read(fd, c, 1)) < 0 && errno == EINTR) {}
    CHECK(r == 1, "pipe read: %zd errno %d", r, errno);
}

static void xwrite(int fd, char c)
{
    CHECK(write(fd, &c, 1) == 1, "pipe write: errno %d", errno);
}

static void round_once(unsigned seed)
{
    fill(buf, BUF, seed);
    int to_child[2], to_parent[2];
    CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: errno %d", errno);
    if (pid == 0) {
        char c;
        fill(buf, BUF, seed + 1); /* the child's own copy now */
        xwrite(to_parent[1], 'r');
        xread(to_child[0], &c);   /* the parent wrote into us */
        _exit(holds(buf + 100, 2 * PAGE, seed + 2) && holds(buf, 100, seed + 1) ? 0 : 3);
    }
    char c;
    xread(to_parent[0], &c);

    /* Read: remote [buf + 10, +PAGE) and [buf + PAGE + 500, +PAGE) (crosses into page 2) into 3 local pieces. */
    static unsigned char l1[1000], l2[PAGE], l3[PAGE];
    struct iovec local[3] = {{l1, sizeof l1}, {l2, sizeof l2}, {l3, sizeof l3}};
    struct iovec remote[2] = {{buf + 10, PAGE}, {buf + PAGE + 500, PAGE}};
    ssize_t n = process_vm_readv(pid, local, 3, remote, 2, 0);
    if (n == -1 && errno == ENOSYS && lenient) { /* qemu-user: not implemented */
        skipped = 1;
        xwrite(to_child[1], 'w');
        reap(pid);
        close(to_child[0]); close(to_child[1]); close(to_parent[0]); close(to_parent[1]);
        return;
    }
    CHECK(n == 2 * PAGE, "process_vm_readv = %zd errno %d", n, errno);
    unsigned char all[2 * PAGE];
    memcpy(all, l1, sizeof l1);
    memcpy(all + sizeof l1, l2, sizeof l2);
    memcpy(all + sizeof l1 + sizeof l2, l3, 2 * PAGE - sizeof l1 - sizeof l2);
    CHECK(holds(all, PAGE, seed + 1 + 10 * 7), "readv: first remote piece is not the child's data");
    CHECK(holds(all + PAGE, PAGE, seed + 1 + (PAGE + 500) * 7), "readv: second remote piece is not the child's data");

    /* Partial: a second remote iovec in an unmapped page moves only the first one's bytes. */
    struct iovec rpart[2] = {{buf, 100}, {ro + 2 * PAGE, 100}};
    struct iovec lpart[1] = {{l2, 200}};
    n = process_vm_readv(pid, lpart, 1, rpart, 2, 0);
    CHECK(n == 100, "partial process_vm_readv = %zd errno %d, expected 100", n, errno);
    struct iovec rbad[1] = {{ro + 2 * PAGE, 100}};
    expect_errno(process_vm_readv(pid, lpart, 1, rbad, 1, 0), EFAULT, "process_vm_readv of an unmapped range");
    expect_errno(process_vm_readv(pid, local, 1, remote, 1, 1), EINVAL, "process_vm_readv with flags 1");
    struct iovec rro[1] = {{ro, 100}};
    expect_errno(process_vm_writev(pid, lpart, 1, rro, 1, 0), EFAULT, "process_vm_writev to a read-only page");

    /* Write: a new pattern into the child's [buf + 100, +2 PAGE). */
    static unsigned char w[2 * PAGE];
    fill(w, sizeof w, seed + 2);
    struct iovec lw[2] = {{w, 300}, {w + 300, sizeof w - 300}};
    struct iovec rw[1] = {{buf + 100, 2 * PAGE}};
    n = process_vm_writev(pid, lw, 2, rw, 1, 0);
    CHECK(n == 2 * PAGE, "process_vm_writev = %zd errno %d", n, errno);
    xwrite(to_child[1], 'w');
    expect_exit(reap(pid), 0, "child (sees the written pattern, keeps its own elsewhere)");
    CHECK(holds(buf, BUF, seed), "the parent's copy changed (COW broken the wrong way)");
    expect_errno(process_vm_readv(pid, local, 1, remote, 1, 0), ESRCH, "process_vm_readv of a reaped pid");

    /* The caller's own pid. */
    struct iovec rself[1] = {{buf + 5, 64}};
    struct iovec lself[1] = {{l1, 64}};
    CHECK(process_vm_readv(getpid(), lself, 1, rself, 1, 0) == 64 && holds(l1, 64, seed + 35), "process_vm_readv of self");
    close(to_child[0]); close(to_child[1]); close(to_parent[0]); close(to_parent[1]);
}

int main(int argc, char **argv)
{
    guest_start("vmrw");
    int a = 1;
    if (argc > a && strcmp(argv[a], "--qemu-enosys-lenient") == 0) {
        lenient = 1;
        a++;
    }
    long rounds = arg_long(argc, argv, a, 1);
    buf = mmap(NULL, BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(buf != MAP_FAILED, "mmap");
    /* ro: page 0 read-only (touched), pages 1-2 unmapped. */
    ro = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(ro != MAP_FAILED, "mmap");
    ro[0] = 1;
    CHECK(mprotect(ro, PAGE, PROT_READ) == 0 && munmap(ro + PAGE, 2 * PAGE) == 0, "mprotect/munmap");
    for (long r = 0; r < rounds; r++)
        round_once((unsigned)(r * 13 + 1));
    if (skipped)
        printf("vmrw: note: process_vm_readv is ENOSYS (qemu-user behaviour, lenient)\n");
    else
        printf("vmrw: readv across pages and iovecs, writev into a COW child, partial, EFAULT/EINVAL/ESRCH\n");
    printf("vmrw: OK\n");
    return 0;
}
