/*
 * coh-deferred — coherence conformance guest (issue 12, bugs 3 and 4): one kernel operation
 * on a page races worker threads that keep using that page on other harts.
 *
 * Usage: coh-deferred <mode> [rounds] [workers]      (defaults: 20 rounds, 3 workers)
 *
 * Every mode runs `rounds` rounds of one protocol. A shared word `phase` says where main is:
 * 2r = round r is open (the page is usable), 2r+1 = the operation of round r HAS RETURNED.
 *
 *   main:    prepare(r); phase := 2r (release); wait until every worker used the page twice
 *            (its TLB holds the translation); operate(r); phase := 2r+1 (release);
 *            wait until every worker acknowledged 2r+1; verify(r).
 *   worker:  loop { ph := phase (acquire);
 *                   even: use the page (keeps the translation hot);
 *                   odd, not yet acknowledged: check_after — the accesses below — then ack }.
 *
 * A worker that read phase 2r+1 accesses the page strictly after the operation returned
 * (acquire/release: the return happens-before the access). A correct kernel has completed the
 * operation's TLB invalidation on every hart by then (Linux flushes before mprotect, madvise,
 * mremap and ftruncate return), so the access must see the NEW meaning of the address:
 *
 *   mprotect   mprotect(PROT_NONE) vs writers. check_after: a store must fault (SEGV_ACCERR);
 *              one that completes is a write after mprotect returned. verify: mprotect(READ)
 *              and no such late store may be in the page.
 *   dontneed   madvise(MADV_DONTNEED) vs readers and writers on a private anonymous page.
 *              check_after: the read word must be 0 (a fresh zero page), never the value main
 *              stored before the madvise (old data read after return); then store LATE.
 *              verify: main must find LATE (else a lost update: the store went to the old frame).
 *   dontunmap  mremap(MREMAP_MAYMOVE | MREMAP_DONTUNMAP) vs readers and writers: the old address
 *              stays mapped but empty. check_after as dontneed; verify: LATE is at the old
 *              address and NOT in the moved page (a store through the old address after return
 *              must not reach the frame that now lives at the new address).
 *   ftruncate  ftruncate of a MAP_SHARED file mapping from 2 pages to 1 vs readers of page 1.
 *              check_after: the read must raise SIGBUS (BUS_ADRERR, past end of file); a read
 *              that succeeds read old data after ftruncate returned.
 *   munmap     munmap vs readers, then the freed frames are likely reused by a scratch mapping
 *              filled with POISON. check_after: read the unmapped page up to 100000 times until
 *              it faults (SEGV_MAPERR). The page's old value is allowed (the `deferred`
 *              policy's contract lets a racing thread read the unmapped page's OLD frame until
 *              its next poll point); anything else is a read of a freed or reused frame.
 *
 * Waits are bounded (sched_yield loops); a timeout is a FAIL. Prints "coh-deferred: OK" and
 * exits 0, or "coh-deferred: FAIL <first violation>" and exits 1. Counts go to stderr.
 */
#include "guest.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define MAX_WORKERS 16
#define READ_WORD(id) (64 + (id))  /* word a worker reads */
#define WRITE_WORD(id) (id)        /* word a worker writes */
#define SCRATCH_PAGES 8
#define POISON64 0xDEADBEEFDEADBEEFULL
#define WAIT_LIMIT 2000000L

enum mode { M_MPROTECT, M_DONTNEED, M_DONTUNMAP, M_FTRUNCATE, M_MUNMAP };
static const char *const mode_names[] = { "mprotect", "dontneed", "dontunmap", "ftruncate", "munmap" };

static enum mode mode;
static long rounds, workers;
static char *page;     /* the page the operation changes */
static char *moved;    /* dontunmap: where the page moved this round */
static char *scratch;  /* munmap: frames freed from `page` are likely reused here */
static int fd = -1;    /* ftruncate: the mapped file */
static atomic_long phase, stop;
static atomic_long progress[MAX_WORKERS], ack[MAX_WORKERS];
static atomic_long violations, late_ok_reads;
static atomic_int first_taken;
static char first_msg[200];

static inline uint64_t old_value(long r, long id) { return 0x01D0000000000000ULL | ((uint64_t)r << 16) | (uint64_t)(id + 1); }
static inline uint64_t late_value(long r, long id) { return 0x1A7E000000000000ULL | ((uint64_t)r << 16) | (uint64_t)(id + 1); }
static inline uint64_t early_value(long ph, long id) { return 0xEA71000000000000ULL | ((uint64_t)ph << 16) | (uint64_t)(id + 1); }
static inline volatile uint64_t *word(char *p, long w) { return (volatile uint64_t *)(p + w * 8); }

/* violation: count one, remember the first description (printed by main). */
__attribute__((format(printf, 1, 2))) static void violation(const char *fmt, ...)
{
    atomic_fetch_add(&violations, 1);
    if (atomic_exchange(&first_taken, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(first_msg, sizeof first_msg, fmt, ap);
        va_end(ap);
    }
}

/* expect_sig: a fault seen by a worker must be the one this mode allows. */
static void expect_sig(struct probe_result f, int sig, int code, const char *what)
{
    if (f.sig != sig || f.code != code)
        violation("%s: unexpected fault signal %d si_code %d at %#lx", what, f.sig, f.code, (unsigned long)f.addr);
}

/* use_before: a worker's access while round ph/2 is open (keeps its translation hot). */
static void use_before(long id, long ph)
{
    long r = ph / 2;
    uint64_t v = 0;
    struct probe_result f;
    switch (mode) {
    case M_MPROTECT:
        f = probe_write64(word(page, WRITE_WORD(id)), early_value(ph, id));
        if (f.sig) {
            expect_sig(f, SIGSEGV, SEGV_ACCERR, "mprotect worker (open round)");
            sched_yield();
        }
        break;
    case M_DONTNEED:
    case M_DONTUNMAP:
        v = *word(page, READ_WORD(id));
        if (v != 0 && v != old_value(r, id))
            violation("%s worker: read %#lx in round %ld (expected its value or 0)", mode_names[mode], (unsigned long)v, r);
        *word(page, WRITE_WORD(id)) = early_value(ph, id);
        break;
    case M_FTRUNCATE:
    case M_MUNMAP:
        f = probe_read64(word(page, READ_WORD(id)), &v);
        if (f.sig) {
            if (mode == M_FTRUNCATE)
                expect_sig(f, SIGBUS, BUS_ADRERR, "ftruncate worker (open round)");
            else
                expect_sig(f, SIGSEGV, SEGV_MAPERR, "munmap worker (open round)");
            sched_yield();
        } else if (v != old_value(r, id)) {
            violation("%s worker: read %#lx in round %ld (expected %#lx)", mode_names[mode], (unsigned long)v, r,
                      (unsigned long)old_value(r, id));
        }
        break;
    }
}

/* check_after: a worker's accesses after it saw that round ph/2's operation returned. */
static void check_after(long id, long ph)
{
    long r = ph / 2;
    uint64_t v = 0;
    struct probe_result f;
    switch (mode) {
    case M_MPROTECT:
        f = probe_write64(word(page, WRITE_WORD(id)), late_value(r, id));
        if (!f.sig)
            violation("mprotect: a store completed after mprotect(PROT_NONE) returned (round %ld, worker %ld)", r, id);
        else
            expect_sig(f, SIGSEGV, SEGV_ACCERR, "mprotect worker (after return)");
        break;
    case M_DONTNEED:
    case M_DONTUNMAP:
        v = *word(page, READ_WORD(id));
        if (v == old_value(r, id))
            violation("%s: old data read after the call returned (round %ld, worker %ld)", mode_names[mode], r, id);
        else if (v != 0)
            violation("%s: read %#lx after the call returned (expected 0; round %ld)", mode_names[mode], (unsigned long)v, r);
        *word(page, WRITE_WORD(id)) = late_value(r, id);
        break;
    case M_FTRUNCATE:
        f = probe_read64(word(page, READ_WORD(id)), &v);
        if (!f.sig)
            violation("ftruncate: read %s (%#lx) after ftruncate returned, no SIGBUS (round %ld, worker %ld)",
                      v == old_value(r, id) ? "old data" : "a value", (unsigned long)v, r, id);
        else
            expect_sig(f, SIGBUS, BUS_ADRERR, "ftruncate worker (after return)");
        break;
    case M_MUNMAP:
        for (long k = 0; k < 100000; k++) {
            f = probe_read64(word(page, READ_WORD(id)), &v);
            if (f.sig) {
                expect_sig(f, SIGSEGV, SEGV_MAPERR, "munmap worker (after return)");
                return;
            }
            if (v != old_value(r, id)) {
                violation("munmap: read %#lx through the unmapped page after munmap returned: a freed frame (round %ld, worker %ld)",
                          (unsigned long)v, r, id);
                return;
            }
            atomic_fetch_add_explicit(&late_ok_reads, 1, memory_order_relaxed);
        }
        break;
    }
}

static void *worker(void *arg)
{
    long id = (long)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        long ph = atomic_load_explicit(&phase, memory_order_acquire);
        if (ph & 1) {
            if (atomic_load_explicit(&ack[id], memory_order_relaxed) != ph) {
                check_after(id, ph);
                atomic_store_explicit(&ack[id], ph, memory_order_release);
            } else {
                sched_yield();
            }
            continue;
        }
        if (ph == 0) {
            sched_yield();
            continue;
        }
        use_before(id, ph);
        atomic_fetch_add_explicit(&progress[id], 1, memory_order_release);
    }
    return NULL;
}

/* wait_workers: until every worker made 2 more uses of the page (bounded). */
static void wait_progress(void)
{
    for (long i = 0; i < workers; i++) {
        long seen = atomic_load(&progress[i]);
        long n = 0;
        while (atomic_load_explicit(&progress[i], memory_order_acquire) < seen + 2) {
            CHECK(++n < WAIT_LIMIT, "timeout: worker %ld makes no progress", i);
            sched_yield();
        }
    }
}

/* wait_acks: until every worker acknowledged phase ph (bounded). */
static void wait_acks(long ph)
{
    for (long i = 0; i < workers; i++) {
        long n = 0;
        while (atomic_load_explicit(&ack[i], memory_order_acquire) != ph) {
            CHECK(++n < WAIT_LIMIT, "timeout: worker %ld does not acknowledge phase %ld", i, ph);
            sched_yield();
        }
    }
}

static void fill_old(char *p, long r)
{
    for (long id = 0; id < workers; id++)
        *word(p, READ_WORD(id)) = old_value(r, id);
}

static void prepare(long r)
{
    switch (mode) {
    case M_MPROTECT:
        CHECK(mprotect(page, PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect RW: %s", strerror(errno));
        break;
    case M_DONTNEED:
    case M_DONTUNMAP:
        fill_old(page, r);
        break;
    case M_FTRUNCATE: {
        CHECK(ftruncate(fd, 2 * PAGE) == 0, "ftruncate grow: %s", strerror(errno));
        uint64_t buf[MAX_WORKERS];
        for (long id = 0; id < workers; id++)
            buf[id] = old_value(r, id);
        ssize_t n = (ssize_t)(workers * 8);
        CHECK(pwrite(fd, buf, (size_t)n, (off_t)(PAGE + READ_WORD(0) * 8)) == n, "pwrite: %s", strerror(errno));
        break;
    }
    case M_MUNMAP:
        if (r > 1)
            CHECK(mmap(page, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == page,
                  "mmap page again: %s", strerror(errno));
        fill_old(page, r);
        break;
    }
}

static void operate(long r)
{
    (void)r;
    switch (mode) {
    case M_MPROTECT:
        CHECK(mprotect(page, PAGE, PROT_NONE) == 0, "mprotect NONE: %s", strerror(errno));
        break;
    case M_DONTNEED:
        CHECK(madvise(page, PAGE, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
        break;
    case M_DONTUNMAP: {
        void *p = mremap(page, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
        CHECK(p != MAP_FAILED, "mremap DONTUNMAP: %s", strerror(errno));
        moved = p;
        break;
    }
    case M_FTRUNCATE:
        CHECK(ftruncate(fd, PAGE) == 0, "ftruncate shrink: %s", strerror(errno));
        break;
    case M_MUNMAP:
        CHECK(munmap(page, PAGE) == 0, "munmap: %s", strerror(errno));
        /* Likely reuse of the freed frames (per-hart LIFO caches): a scratch area full of poison. */
        CHECK(mmap(scratch, SCRATCH_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
                  scratch,
              "mmap scratch: %s", strerror(errno));
        for (size_t i = 0; i < SCRATCH_PAGES * PAGE / 8; i++)
            ((volatile uint64_t *)scratch)[i] = POISON64;
        break;
    }
}

static void verify(long r)
{
    switch (mode) {
    case M_MPROTECT:
        CHECK(mprotect(page, PAGE, PROT_READ) == 0, "mprotect R: %s", strerror(errno));
        for (long id = 0; id < workers; id++)
            if (*word(page, WRITE_WORD(id)) == late_value(r, id))
                violation("mprotect: a store made after mprotect(PROT_NONE) returned is in the page (round %ld, worker %ld)", r, id);
        break;
    case M_DONTNEED:
    case M_DONTUNMAP:
        for (long id = 0; id < workers; id++)
            if (*word(page, WRITE_WORD(id)) != late_value(r, id))
                violation("%s: lost update: worker %ld's store after the call returned is missing (found %#lx, round %ld)",
                          mode_names[mode], id, (unsigned long)*word(page, WRITE_WORD(id)), r);
        if (mode == M_DONTUNMAP) {
            for (long id = 0; id < workers; id++) {
                if (*word(moved, WRITE_WORD(id)) == late_value(r, id))
                    violation("dontunmap: a store through the old address after mremap returned reached the moved page (round %ld)", r);
                if (*word(moved, READ_WORD(id)) != old_value(r, id))
                    violation("dontunmap: the moved page lost its data (round %ld)", r);
            }
            CHECK(munmap(moved, PAGE) == 0, "munmap moved: %s", strerror(errno));
        }
        break;
    case M_FTRUNCATE:
        break;
    case M_MUNMAP:
        /* Back to the PROT_NONE reservation (frames released, range kept out of other mappings' way). */
        CHECK(mmap(scratch, SCRATCH_PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == scratch,
              "mmap scratch reservation: %s", strerror(errno));
        break;
    }
}

int main(int argc, char **argv)
{
    guest_start("coh-deferred");
    CHECK(argc >= 2, "usage: coh-deferred mprotect|dontneed|dontunmap|ftruncate|munmap [rounds] [workers]");
    int found = 0;
    for (int m = 0; m <= M_MUNMAP; m++)
        if (strcmp(argv[1], mode_names[m]) == 0) {
            mode = (enum mode)m;
            found = 1;
        }
    CHECK(found, "unknown mode '%s'", argv[1]);
    rounds = arg_long(argc, argv, 2, 20);
    workers = arg_long(argc, argv, 3, 3);
    CHECK(rounds >= 1 && workers >= 1 && workers <= MAX_WORKERS, "rounds >= 1, workers 1..%d", MAX_WORKERS);
    probe_install();

    /* One reservation: the page, a PROT_NONE gap, the scratch area (nothing else lands there). */
    char *base = map_anon(NULL, 2 + SCRATCH_PAGES, PROT_NONE, 0, "reservation");
    page = base;
    scratch = base + 2 * PAGE;
    if (mode == M_FTRUNCATE) {
        fd = open("coh-deferred.tmp", O_RDWR | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0, "open: %s", strerror(errno));
        CHECK(ftruncate(fd, 2 * PAGE) == 0, "ftruncate: %s", strerror(errno));
        /* The mapping covers 2 pages; page 1 exists only while the file is 2 pages long. */
        CHECK(mmap(base, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == base, "mmap file: %s", strerror(errno));
        page = base + PAGE;
    } else {
        CHECK(mmap(page, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == page, "mmap page");
    }

    pthread_t th[MAX_WORKERS];
    for (long i = 0; i < workers; i++) {
        int e = pthread_create(&th[i], NULL, worker, (void *)i);
        CHECK(e == 0, "pthread_create: %s", strerror(e));
    }
    for (long r = 1; r <= rounds; r++) {
        prepare(r);
        atomic_store_explicit(&phase, 2 * r, memory_order_release);
        wait_progress();
        operate(r);
        atomic_store_explicit(&phase, 2 * r + 1, memory_order_release); /* the operation has returned */
        wait_acks(2 * r + 1);
        verify(r);
    }
    atomic_store(&stop, 1);
    for (long i = 0; i < workers; i++)
        pthread_join(th[i], NULL);
    if (fd >= 0) {
        close(fd);
        unlink("coh-deferred.tmp");
    }
    fprintf(stderr, "coh-deferred %s: %ld rounds, %ld workers, %ld violations, %ld old-frame reads after munmap\n",
            mode_names[mode], rounds, workers, atomic_load(&violations), atomic_load(&late_ok_reads));
    printf("coh-deferred %s: %ld rounds, %ld workers\n", mode_names[mode], rounds, workers);
    if (atomic_load(&violations) != 0)
        fail("%ld violation(s); first: %s", atomic_load(&violations), first_msg);
    ok();
}
