/*
 * reclaim.c — memory pressure (issue 13, "Limits that must go"): the page cache gives back
 * clean, unmapped pages, and only true exhaustion kills — the largest process, as Linux's OOM
 * killer. Modes:
 *
 *   reclaim files MIB   write a MIB MiB file (every page tagged with its index), then walk it
 *                       three times through 4 MiB mmap windows, each unmapped before the next:
 *                       MAP_SHARED reads, MAP_PRIVATE reads (with a private write per page),
 *                       MAP_SHARED writes (a new tag per page); finally pread checks that every
 *                       shared write reached the file. With MIB above the machine's memory the
 *                       page cache must evict (dirty pages written back first).
 *   reclaim oom HOG SENT a child (the hog) touches HOG MiB and then blocks on a pipe; the parent (the
 *                       sentinel) then touches SENT MiB and checks them. When HOG + SENT exceed
 *                       the memory, the OOM killer must pick the hog (most resident pages):
 *                       SIGKILL; the sentinel finishes. Under ample memory nothing is killed
 *                       and the sentinel kills the hog itself (also SIGKILL): same output.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/wait.h>

#define MIB (1024UL * 1024UL)
#define WINDOW (4 * MIB)

static uint64_t tag(uint64_t page, uint64_t round) { return page * 0x9e3779b97f4a7c15ULL + round; }

static int files(long mib)
{
    const char *path = "reclaim.data";
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0, "open errno %d", errno);
    size_t size = (size_t)mib * MIB;
    static uint64_t buf[MIB / 8];
    for (size_t off = 0; off < size; off += MIB) {
        for (size_t p = 0; p < MIB / PAGE; p++) buf[p * (PAGE / 8)] = tag(off / PAGE + p, 0);
        CHECK(pwrite(fd, buf, MIB, (off_t)off) == (ssize_t)MIB, "pwrite errno %d", errno);
    }
    printf("reclaim: wrote a %ld MiB file\n", mib);
    for (int pass = 0; pass < 3; pass++) {
        int prot = PROT_READ | PROT_WRITE;
        int flags = pass == 1 ? MAP_PRIVATE : MAP_SHARED;
        for (size_t off = 0; off < size; off += WINDOW) {
            size_t len = size - off < WINDOW ? size - off : WINDOW;
            uint64_t *w = mmap(NULL, len, prot, flags, fd, (off_t)off);
            CHECK(w != MAP_FAILED, "pass %d mmap at %zu errno %d", pass, off, errno);
            for (size_t p = 0; p < len / PAGE; p++) {
                uint64_t *q = w + p * (PAGE / 8);
                uint64_t page = off / PAGE + p;
                CHECK(*q == tag(page, 0), "pass %d page %zu reads %llx", pass, (size_t)page, (unsigned long long)*q);
                if (pass == 1) *q = 1; /* private: never reaches the file */
                if (pass == 2) *q = tag(page, 2);
            }
            CHECK(munmap(w, len) == 0, "munmap errno %d", errno);
        }
        printf("reclaim: pass %d (%s) saw every page\n", pass, pass == 1 ? "private" : "shared");
    }
    for (size_t off = 0; off < size; off += MIB) {
        CHECK(pread(fd, buf, MIB, (off_t)off) == (ssize_t)MIB, "pread errno %d", errno);
        for (size_t p = 0; p < MIB / PAGE; p++) {
            CHECK(buf[p * (PAGE / 8)] == tag(off / PAGE + p, 2), "page %zu lost its shared write", off / PAGE + p);
        }
    }
    printf("reclaim: every shared write reached the file\n");
    close(fd);
    unlink(path);
    return 0;
}

/* Touch `mib` MiB of fresh anonymous memory with a pattern; returns it. */
static unsigned char *touch(long mib, unsigned char seed)
{
    unsigned char *m = mmap(NULL, (size_t)mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, "mmap of %ld MiB errno %d", mib, errno);
    for (size_t o = 0; o < (size_t)mib * MIB; o += PAGE) m[o] = (unsigned char)(seed + o / PAGE);
    return m;
}

static int oom(long hog, long sent)
{
    int ready[2], hold[2];
    CHECK(pipe(ready) == 0 && pipe(hold) == 0, "pipe errno %d", errno);
    pid_t c = fork();
    CHECK(c >= 0, "fork errno %d", errno);
    if (c == 0) {
        close(ready[0]);
        close(hold[1]);
        touch(hog, 3);
        char b = 'r';
        if (write(ready[1], &b, 1) != 1) _exit(2);
        for (;;) if (read(hold[0], &b, 1) <= 0) _exit(3); /* blocks: the parent never writes */
    }
    close(ready[1]);
    close(hold[0]);
    char b;
    CHECK(read(ready[0], &b, 1) == 1, "the hog died before it was ready");
    printf("reclaim: the hog holds %ld MiB\n", hog);
    unsigned char *m = touch(sent, 7);
    for (size_t o = 0; o < (size_t)sent * MIB; o += PAGE) CHECK(m[o] == (unsigned char)(7 + o / PAGE), "sentinel page %zu lost", o / PAGE);
    printf("reclaim: the sentinel touched and checked %ld MiB\n", sent);
    kill(c, SIGKILL); /* no OOM happened (ample memory): end the hog the same way */
    int st;
    CHECK(waitpid(c, &st, 0) == c, "waitpid errno %d", errno);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the hog ended with status 0x%x, not SIGKILL", st);
    printf("reclaim: the hog was killed by SIGKILL\n");
    return 0;
}

int main(int argc, char **argv)
{
    guest_start("reclaim");
    if (argc == 3 && strcmp(argv[1], "files") == 0) files(atol(argv[2]));
    else if (argc == 4 && strcmp(argv[1], "oom") == 0) oom(atol(argv[2]), atol(argv[3]));
    else fail("usage: reclaim files MIB | oom HOGMIB SENTMIB");
    printf("reclaim: OK\n");
    return 0;
}
