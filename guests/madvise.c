/*
 * madvise — the advice values stress-ng's mmapfork and madvise stressors use, checked against
 * Linux's semantics:
 *   - MADV_WIPEONFORK on private anonymous memory: a forked child finds the range zero-filled
 *     (and still mapped, writable), the parent keeps its data; MADV_KEEPONFORK undoes it; on a
 *     shared or file mapping it is EINVAL;
 *   - MADV_DONTFORK: the range is not mapped in a forked child (SIGSEGV, SEGV_MAPERR at the
 *     exact address), the parent keeps it; MADV_DOFORK undoes it;
 *   - MADV_FREE on private anonymous memory: 0, every page then reads its old data or zero
 *     (Linux frees lazily), a write afterwards sticks; on a shared mapping EINVAL;
 *   - MADV_POPULATE_WRITE / MADV_POPULATE_READ: 0 and the pages resident (mincore); after a
 *     fork, POPULATE_WRITE breaks COW in the child without touching the parent's data; EINVAL
 *     for POPULATE_WRITE on read-only memory and POPULATE_READ on PROT_NONE; ENOMEM over a hole;
 *   - MADV_COLD, MADV_PAGEOUT, MADV_DONTDUMP, MADV_DODUMP: 0, data unchanged;
 *   - MADV_REMOVE on private anonymous memory: EINVAL.
 * Args: [--qemu-madvise-lenient] [rounds]. qemu-user 7.2 answers 0 to every advice but
 * DONTNEED without doing it; the flag turns the checks that need the real behaviour into one
 * `note:` line. Expected final line: "madvise: OK".
 */
#include "guest.h"

#include <sys/mman.h>

#define NPAGES 4

static int lenient;
static int lenient_hits;

/* linux_only: a Linux behaviour qemu-user lacks; fails unless --qemu-madvise-lenient. */
static void linux_only(int ok, const char *what)
{
    if (ok)
        return;
    CHECK(lenient, "%s", what);
    lenient_hits++;
}

static char *map_rw(int flags)
{
    void *p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | flags, -1, 0);
    CHECK(p != MAP_FAILED, "mmap: errno %d", errno);
    return p;
}

static void fill(char *m, uint64_t tag)
{
    for (size_t i = 0; i < NPAGES; i++)
        fill_page(m + i * PAGE, tag + i);
}

static int all_zero(const char *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i])
            return 0;
    return 1;
}

static int same(const char *m, uint64_t tag)
{
    for (size_t i = 0; i < NPAGES; i++)
        if (check_page(m + i * PAGE, tag + i) >= 0)
            return 0;
    return 1;
}

/* In a child: exit 0 when m reads zero and stays writable, 2 when it holds tag's data, 3 otherwise. */
static int child_wiped(char *m, uint64_t tag)
{
    if (all_zero(m, NPAGES * PAGE)) {
        m[5] = 1; /* still mapped and writable */
        return m[5] == 1 ? 0 : 3;
    }
    return same(m, tag) ? 2 : 3;
}

static void wipeonfork(uint64_t tag)
{
    char *m = map_rw(MAP_PRIVATE);
    fill(m, tag);
    CHECK(madvise(m, NPAGES * PAGE, MADV_WIPEONFORK) == 0, "MADV_WIPEONFORK: errno %d", errno);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: errno %d", errno);
    if (pid == 0)
        _exit(child_wiped(m, tag));
    int st = reap(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 3, "WIPEONFORK child: status 0x%x", st);
    linux_only(WEXITSTATUS(st) == 0, "MADV_WIPEONFORK: the child saw the parent's data");
    CHECK(same(m, tag), "WIPEONFORK: the parent's data changed");
    /* KEEPONFORK undoes it (on the middle two pages: the region splits). */
    CHECK(madvise(m + PAGE, 2 * PAGE, MADV_KEEPONFORK) == 0, "MADV_KEEPONFORK: errno %d", errno);
    pid = fork();
    CHECK(pid >= 0, "fork: errno %d", errno);
    if (pid == 0) {
        int ok = all_zero(m, PAGE) && check_page(m + PAGE, tag + 1) < 0 && check_page(m + 2 * PAGE, tag + 2) < 0 &&
                 all_zero(m + 3 * PAGE, PAGE);
        _exit(ok ? 0 : same(m, tag) ? 2 : 3);
    }
    st = reap(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 3, "KEEPONFORK child: status 0x%x", st);
    linux_only(WEXITSTATUS(st) == 0, "MADV_KEEPONFORK on the middle: the child saw the wrong pages");
    CHECK(munmap(m, NPAGES * PAGE) == 0, "munmap");
    /* Not private anonymous: EINVAL. */
    char *sh = map_rw(MAP_SHARED);
    linux_only(madvise(sh, PAGE, MADV_WIPEONFORK) == -1 && errno == EINVAL, "MADV_WIPEONFORK on MAP_SHARED: not EINVAL");
    CHECK(munmap(sh, NPAGES * PAGE) == 0, "munmap");
}

static void dontfork(uint64_t tag)
{
    char *m = map_rw(MAP_PRIVATE);
    fill(m, tag);
    CHECK(madvise(m + 2 * PAGE, PAGE, MADV_DONTFORK) == 0, "MADV_DONTFORK: errno %d", errno);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: errno %d", errno);
    if (pid == 0) {
        unsigned char v;
        struct probe_result r = probe_read(m + 2 * PAGE + 8, &v);
        if (r.sig == 0)
            _exit(2);
        if (r.sig != SIGSEGV || r.code != SEGV_MAPERR || r.addr != (uintptr_t)(m + 2 * PAGE + 8))
            _exit(3);
        /* The neighbours were copied. */
        _exit(check_page(m + PAGE, tag + 1) < 0 && check_page(m + 3 * PAGE, tag + 3) < 0 ? 0 : 3);
    }
    int st = reap(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 3, "DONTFORK child: status 0x%x", st);
    linux_only(WEXITSTATUS(st) == 0, "MADV_DONTFORK: the page was mapped in the child");
    CHECK(same(m, tag), "DONTFORK: the parent's data changed");
    CHECK(madvise(m, NPAGES * PAGE, MADV_DOFORK) == 0, "MADV_DOFORK: errno %d", errno);
    pid = fork();
    CHECK(pid >= 0, "fork: errno %d", errno);
    if (pid == 0)
        _exit(same(m, tag) ? 0 : 3);
    expect_exit(reap(pid), 0, "DOFORK child");
    CHECK(munmap(m, NPAGES * PAGE) == 0, "munmap");
}

static void madv_free(uint64_t tag)
{
    char *m = map_rw(MAP_PRIVATE);
    fill(m, tag);
    CHECK(madvise(m, NPAGES * PAGE, MADV_FREE) == 0, "MADV_FREE: errno %d", errno);
    for (size_t i = 0; i < NPAGES; i++)
        CHECK(all_zero(m + i * PAGE, PAGE) || check_page(m + i * PAGE, tag + i) < 0, "MADV_FREE: page %zu neither old nor zero", i);
    fill(m, tag + 100);
    CHECK(same(m, tag + 100), "MADV_FREE: a write afterwards was lost");
    CHECK(munmap(m, NPAGES * PAGE) == 0, "munmap");
    char *sh = map_rw(MAP_SHARED);
    linux_only(madvise(sh, PAGE, MADV_FREE) == -1 && errno == EINVAL, "MADV_FREE on MAP_SHARED: not EINVAL");
    CHECK(munmap(sh, NPAGES * PAGE) == 0, "munmap");
    char *p = map_rw(MAP_PRIVATE);
    linux_only(madvise(p, PAGE, MADV_REMOVE) == -1 && errno == EINVAL, "MADV_REMOVE on private memory: not EINVAL");
    CHECK(munmap(p, NPAGES * PAGE) == 0, "munmap");
}

static int resident(const char *m)
{
    unsigned char vec[NPAGES];
    CHECK(mincore((void *)m, NPAGES * PAGE, vec) == 0, "mincore: errno %d", errno);
    for (size_t i = 0; i < NPAGES; i++)
        if (!(vec[i] & 1))
            return 0;
    return 1;
}

static void populate(uint64_t tag)
{
    char *m = map_rw(MAP_PRIVATE);
    CHECK(madvise(m, NPAGES * PAGE, MADV_POPULATE_WRITE) == 0, "MADV_POPULATE_WRITE: errno %d", errno);
    linux_only(resident(m), "MADV_POPULATE_WRITE: pages not resident");
    CHECK(all_zero(m, NPAGES * PAGE), "MADV_POPULATE_WRITE: fresh pages not zero");
    fill(m, tag);
    /* After fork the pages are COW: POPULATE_WRITE in the child copies them; the parent keeps its data. */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: errno %d", errno);
    if (pid == 0) {
        if (madvise(m, NPAGES * PAGE, MADV_POPULATE_WRITE) != 0 || !same(m, tag))
            _exit(3);
        fill(m, tag + 50);
        _exit(same(m, tag + 50) ? 0 : 3);
    }
    expect_exit(reap(pid), 0, "POPULATE_WRITE child");
    CHECK(same(m, tag), "POPULATE_WRITE in the child changed the parent's data");
    CHECK(mprotect(m, NPAGES * PAGE, PROT_READ) == 0, "mprotect");
    linux_only(madvise(m, PAGE, MADV_POPULATE_WRITE) == -1 && errno == EINVAL, "MADV_POPULATE_WRITE on read-only memory: not EINVAL");
    CHECK(madvise(m, NPAGES * PAGE, MADV_POPULATE_READ) == 0, "MADV_POPULATE_READ: errno %d", errno);
    CHECK(mprotect(m, NPAGES * PAGE, PROT_NONE) == 0, "mprotect");
    linux_only(madvise(m, PAGE, MADV_POPULATE_READ) == -1 && errno == EINVAL, "MADV_POPULATE_READ on PROT_NONE: not EINVAL");
    CHECK(munmap(m + PAGE, PAGE) == 0, "munmap");
    CHECK(mprotect(m, PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect");
    linux_only(madvise(m, 2 * PAGE, MADV_POPULATE_READ) == -1 && errno == ENOMEM, "MADV_POPULATE_READ over a hole: not ENOMEM");
    CHECK(munmap(m, NPAGES * PAGE) == 0, "munmap");
    /* Hints: 0, data unchanged. */
    char *h = map_rw(MAP_PRIVATE);
    fill(h, tag + 7);
    static const int hints[] = {MADV_COLD, MADV_PAGEOUT, MADV_DONTDUMP, MADV_DODUMP};
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        CHECK(madvise(h, NPAGES * PAGE, hints[i]) == 0, "madvise(%d): errno %d", hints[i], errno);
    CHECK(same(h, tag + 7), "hints changed the data");
    linux_only(madvise(h, NPAGES * PAGE, -1) == -1 && errno == EINVAL, "madvise(-1): not EINVAL");
    CHECK(munmap(h, NPAGES * PAGE) == 0, "munmap");
}

int main(int argc, char **argv)
{
    guest_start("madvise");
    int a = 1;
    if (argc > a && strcmp(argv[a], "--qemu-madvise-lenient") == 0) {
        lenient = 1;
        a++;
    }
    long rounds = arg_long(argc, argv, a, 1);
    probe_install();
    for (long r = 0; r < rounds; r++) {
        uint64_t tag = 0x6d616476ULL + (uint64_t)r * 1000;
        wipeonfork(tag);
        dontfork(tag + 10);
        madv_free(tag + 20);
        populate(tag + 30);
    }
    printf("madvise: WIPEONFORK/KEEPONFORK, DONTFORK/DOFORK, FREE, POPULATE_READ/WRITE, hints\n");
    if (lenient_hits)
        printf("madvise: note: %d Linux-only check(s) skipped (qemu-user behaviour, lenient)\n", lenient_hits);
    printf("madvise: OK\n");
    return 0;
}
