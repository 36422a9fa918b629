/*
 * coh-aba — conformance guest (issue 12, bug 6): ABA frame reuse under a shared file mapping.
 *
 * A store thread S spins on a command word and, when told, stores one value into page P of a
 * MAP_SHARED file mapping, so S's hart caches P's translation as writable and dirty. Each round:
 *   1. S stores a into P;
 *   2. main munmaps P (a dirty page is written back) and closes the file: the page cache drops
 *      the page and frees its frame F; the file (pread) must hold a;
 *   3. main opens the file again, maps it at the same address and loads from the page: it is
 *      read into a fresh frame — with a LIFO frame cache, F itself (the frame is current again)
 *      — under a clean PTE;
 *   4. S stores b into P; main munmaps and closes; the file must hold b.
 * With --keep-open main keeps the file open over step 2-3: the page stays cached, so step 3 maps
 * the very same frame F again, never freed, under a clean PTE.
 * On a correct kernel S's entry was invalidated in step 2, so the store in step 4 walks the new
 * PTE and sets D: the file gets b. Through a stale entry (an unsafe policy) the store lands in F
 * — the right frame again — without setting D: it never reaches the file ("lost store"). The
 * sanitizer must report that store, though the entry's frame is the current one: "frame-reused"
 * (F was freed since the entry was filled) or, with --keep-open, "dirty-bit-skipped" (a store
 * through an entry cached writable+dirty whose PTE is clean).
 *
 * Args: [--keep-open] [rounds] (default 20). Final line "coh-aba: OK" (exit 0) or "coh-aba: FAIL ..." (exit 1).
 */
#include "guest.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define PATH "coh-aba.dat" /* in the working directory (the guest root on Coherent) */
#define SPIN_SECONDS 20

static atomic_long cmd;  /* > 0: the value S stores into *target; S sets it back to 0 when done */
static atomic_int quit;
static uint64_t *volatile target;

/* S: never blocks, never makes a system call while waiting: it keeps its hart and its TLB. */
static void *store_thread(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&quit, memory_order_acquire)) {
        long v = atomic_load_explicit(&cmd, memory_order_acquire);
        if (v > 0) {
            *target = (uint64_t)v;
            atomic_store_explicit(&cmd, 0, memory_order_release);
        }
    }
    return NULL;
}

/* Have S store v into the page; wait (bounded) until it has. */
static void store_via_s(long v)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    atomic_store_explicit(&cmd, v, memory_order_release);
    for (long k = 1; atomic_load_explicit(&cmd, memory_order_acquire) != 0; k++) {
        if ((k & 4095) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            CHECK(t.tv_sec - t0.tv_sec < SPIN_SECONDS, "the store thread did not answer within %d s", SPIN_SECONDS);
        }
    }
}

/* Open the file and map its first page at `at` (NULL: anywhere); returns the mapping. */
static uint64_t *map_file(void *at, int *fd)
{
    *fd = open(PATH, O_RDWR);
    CHECK(*fd >= 0, "open %s: %s", PATH, strerror(errno));
    void *p = mmap(at, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | (at ? MAP_FIXED : 0), *fd, 0);
    CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
    return p;
}

static void unmap_file(void *p, int fd)
{
    CHECK(munmap(p, PAGE) == 0, "munmap: %s", strerror(errno));
    CHECK(close(fd) == 0, "close: %s", strerror(errno));
}

static uint64_t file_word(void)
{
    int fd = open(PATH, O_RDONLY);
    CHECK(fd >= 0, "open %s: %s", PATH, strerror(errno));
    uint64_t v = 0;
    CHECK(pread(fd, &v, sizeof v, 0) == (ssize_t)sizeof v, "pread: %s", strerror(errno));
    close(fd);
    return v;
}

int main(int argc, char **argv)
{
    guest_start("coh-aba");
    int argi = 1, keep_open = 0;
    if (argi < argc && strcmp(argv[argi], "--keep-open") == 0) {
        keep_open = 1;
        argi++;
    }
    long rounds = arg_long(argc, argv, argi, 20);
    printf("coh-aba: rounds=%ld%s\n", rounds, keep_open ? " keep-open" : "");
    int fd = open(PATH, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0, "create %s: %s", PATH, strerror(errno));
    CHECK(ftruncate(fd, PAGE) == 0, "ftruncate: %s", strerror(errno));
    close(fd);
    uint64_t *p = map_file(NULL, &fd);
    target = p;
    pthread_t s;
    int e = pthread_create(&s, NULL, store_thread, NULL);
    CHECK(e == 0, "pthread_create: %s", strerror(e));
    long lost = 0, first_lost = -1;
#define LOST(k)                                                                                    \
    do {                                                                                           \
        lost++;                                                                                    \
        if (first_lost < 0)                                                                        \
            first_lost = (k);                                                                      \
    } while (0)
    for (long k = 1; k <= rounds; k++) {
        long a = k << 8 | 1, b = k << 8 | 2;
        store_via_s(a); /* S's TLB: page -> frame F, writable and dirty (or a stale entry of it) */
        CHECK(*p == (uint64_t)a, "round %ld: S's store is not in the page", k);
        CHECK(munmap(p, PAGE) == 0, "munmap: %s", strerror(errno)); /* written back only if the PTE is dirty */
        if (!keep_open) {
            close(fd); /* the page cache drops the page: F is freed */
            if (file_word() != (uint64_t)a)
                LOST(k);
            fd = open(PATH, O_RDWR);
            CHECK(fd >= 0, "open %s: %s", PATH, strerror(errno));
        }
        void *q = mmap(p, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
        CHECK(q == p, "round %ld: mmap moved", k);
        (void)*(volatile uint64_t *)p; /* a load: the new PTE is clean; its frame is F again */
        store_via_s(b);
        CHECK(*p == (uint64_t)b, "round %ld: S's second store is not in the page", k);
        unmap_file(p, fd);
        if (file_word() != (uint64_t)b)
            LOST(k);
        CHECK(map_file(p, &fd) == p, "round %ld: mmap moved", k);
        (void)*(volatile uint64_t *)p; /* fault the page in now: its frame is F again (LIFO) */
    }
    atomic_store(&quit, 1);
    pthread_join(s, NULL);
    unmap_file(p, fd);
    unlink(PATH);
    if (lost)
        fail("lost stores: %ld of %ld (first in round %ld): a store S completed never reached the file", lost,
             keep_open ? rounds : 2 * rounds, first_lost);
    ok();
}
