/*
 * maxrss — getrusage's ru_maxrss is the peak resident set (KiB), not the size now:
 *   1. touch N anonymous pages, unmap them: RUSAGE_SELF's ru_maxrss is still >= N pages;
 *   2. a fork child touches C pages (C > N plus what the parent keeps), unmaps them, and checks
 *      its own ru_maxrss >= C pages; the parent's wait4 rusage and RUSAGE_CHILDREN report
 *      >= C pages, while the parent's own ru_maxrss stays below the child's (the child's
 *      pages are the child's).
 * Usage: maxrss [N [C]]   (default 256 4096)
 */
#include "guest.h"
#include <sys/resource.h>

static long maxrss(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0) fail("getrusage(%d): errno %d", who, errno);
    return ru.ru_maxrss;
}

/* Map `pages` anonymous pages, write one byte in each, unmap them. */
static void touch(long pages)
{
    char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("mmap %ld pages: errno %d", pages, errno);
    for (long i = 0; i < pages; i++) p[i * PAGE] = (char)i;
    if (munmap(p, pages * PAGE) != 0) fail("munmap: errno %d", errno);
}

int main(int argc, char **argv)
{
    guest_start("maxrss");
    long n = argc > 1 ? atol(argv[1]) : 256, c = argc > 2 ? atol(argv[2]) : 4096;
    long kib = PAGE / 1024;
    long before = maxrss(RUSAGE_SELF);
    touch(n);
    long after = maxrss(RUSAGE_SELF);
    if (after < before) fail("ru_maxrss went down: %ld then %ld KiB", before, after);
    if (after < n * kib) fail("ru_maxrss %ld KiB after %ld pages were resident (and unmapped): below %ld KiB", after, n, n * kib);
    if (maxrss(RUSAGE_THREAD) < n * kib) fail("RUSAGE_THREAD ru_maxrss %ld KiB below %ld KiB", maxrss(RUSAGE_THREAD), n * kib);
    printf("maxrss: %ld pages touched and unmapped: ru_maxrss still covers them\n", n);

    int fd[2];
    if (pipe(fd) != 0) fail("pipe: errno %d", errno);
    pid_t pid = fork();
    if (pid < 0) fail("fork: errno %d", errno);
    if (pid == 0) {
        touch(c);
        long mine = maxrss(RUSAGE_SELF);
        if (write(fd[1], &mine, sizeof mine) != sizeof mine) _exit(2);
        _exit(mine >= c * kib ? 0 : 1);
    }
    long child = 0;
    if (read(fd[0], &child, sizeof child) != sizeof child) fail("read the child's ru_maxrss: errno %d", errno);
    int st;
    struct rusage wru;
    if (wait4(pid, &st, 0, &wru) != pid) fail("wait4: errno %d", errno);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("child: its ru_maxrss %ld KiB after %ld pages: below %ld KiB", child, c, c * kib);
    if (wru.ru_maxrss < c * kib) fail("wait4's rusage of the child: ru_maxrss %ld KiB below %ld KiB", wru.ru_maxrss, c * kib);
    long children = maxrss(RUSAGE_CHILDREN), self = maxrss(RUSAGE_SELF);
    if (children < c * kib) fail("RUSAGE_CHILDREN ru_maxrss %ld KiB below the child's %ld pages", children, c);
    if (self >= child) fail("the parent's own ru_maxrss %ld KiB counts the child's pages (child %ld KiB)", self, child);
    printf("maxrss: a fork child's %ld pages count in its own, wait4's and RUSAGE_CHILDREN's ru_maxrss, not in the parent's\n", c);
    printf("maxrss: OK\n");
    return 0;
}
