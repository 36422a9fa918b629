/*
 * race.h — the TLB-coherence race shared by tlbrace and mix (header-only).
 *
 * A writer thread keeps replacing an area A of `pages` pages: generation g lives in a
 * fresh mapping whose page pg holds race_value(g, pg, w) in word w of its first half.
 * Each iteration the writer either munmaps A and then mmaps A again with MAP_FIXED
 * (leaving a window where A is unmapped), or replaces A directly with one MAP_FIXED mmap.
 * Right after the old frames are released it maps a scratch area S (elsewhere, fixed)
 * and fills it with POISON, so a frame freed from A and reused for S carries poison.
 * Then it fills the new A, publishes g with a release store to `published`, checks that
 * S still holds nothing but POISON, and unmaps S.
 *
 * Readers loop: pub = load-acquire(published); read one word v of A (with a SIGSEGV probe:
 * inside the unmapped window a read faults cleanly with SEGV_MAPERR at the exact address).
 *
 * INVARIANT (holds on any correct kernel): every value a reader reads is
 *   - 0 (a page of a newer generation the writer has not filled yet), or
 *   - race_value(g', pg, w) for the page and word read, with g' >= pub.
 * Generation pub was fully written before it was published, and every mapping of A after
 * that moment is generation pub or newer; older generations' frames were released before
 * pub was published. So a reader that sees POISON or any other pattern ("corrupt"), or an
 * older generation than it had seen published before the read ("stale"), read through a
 * translation the kernel had already removed: a stale TLB entry.
 *
 * Readers also write a scribble word in the second half of the page they read. On a
 * correct kernel those writes land only in A; a scribble found in S ("stale write") was
 * written through a stale translation to a frame that was freed and reused.
 *
 * Self-test (inject): the writer publishes g before replacing A, which breaks the protocol;
 * readers then see generation g-1 after g was published and must report stale reads.
 *
 * Detection is probabilistic (a stale frame that was reused for the next generation of A
 * looks legal), but a violation report is never a false alarm.
 */
#ifndef RACE_H
#define RACE_H

#include "guest.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define RACE_MAX_READERS 64
#define RACE_MAX_PAGES 1024
#define RACE_HALF_WORDS (PAGE / 16) /* words in the first half of a page */
#define RACE_POISON 0xDEADBEEFDEADBEEFULL

/* race_value: word w (< RACE_HALF_WORDS) of page pg in generation g. */
static inline uint64_t race_value(uint64_t g, uint64_t pg, uint64_t w)
{
    return (0xC0DEULL << 48) | (g << 20) | ((pg & 0x7ff) << 9) | (w & 0x1ff);
}

struct race {
    long readers, pages, iterations;
    char *area;    /* A */
    char *scratch; /* S */
    atomic_ulong published;
    int inject;    /* self-test: publish each generation before it exists (readers must report) */
    atomic_int go, stop;
    atomic_ulong progress[RACE_MAX_READERS];
    atomic_ulong window_faults; /* faults seen by readers, live (the writer waits for one) */
    atomic_ulong reads, faults, zero_reads, stale_reads, corrupt_reads, stale_writes;
    atomic_ulong first_bad_value, first_bad_pub;
    pthread_t reader_threads[RACE_MAX_READERS];
    pthread_t writer_thread;
};

struct race_reader_arg {
    struct race *r;
    long id;
};
static struct race_reader_arg race_reader_args[RACE_MAX_READERS];

static void race_fill(struct race *r, uint64_t g)
{
    for (long pg = 0; pg < r->pages; pg++) {
        volatile uint64_t *w = (volatile uint64_t *)(r->area + pg * PAGE);
        for (uint64_t i = 0; i < RACE_HALF_WORDS; i++)
            w[i] = race_value(g, (uint64_t)pg, i);
    }
}

static void *race_reader(void *arg)
{
    struct race_reader_arg *a = arg;
    struct race *r = a->r;
    uint64_t k = (uint64_t)a->id * 7919, reads = 0, faults = 0, zeros = 0;
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        k++;
        uint64_t pub = atomic_load_explicit(&r->published, memory_order_acquire);
        uint64_t pg = k % (uint64_t)r->pages, w = (k * 13) % RACE_HALF_WORDS;
        char *page = r->area + pg * PAGE;
        uint64_t v = 0;
        struct probe_result f = probe_read64(page + w * 8, &v);
        if (f.sig) {
            if (f.sig != SIGSEGV || f.code != SEGV_MAPERR || f.addr != (uintptr_t)(page + w * 8))
                fail("race reader: unexpected fault sig %d code %d at %#lx", f.sig, f.code, (unsigned long)f.addr);
            faults++;
            atomic_fetch_add_explicit(&r->window_faults, 1, memory_order_relaxed);
            sched_yield(); /* A is being replaced: let the writer finish */
            continue;
        }
        reads++;
        if (v == 0) {
            zeros++;
        } else if ((v & ~(0xFFFFFFFULL << 20)) != race_value(0, pg, w)) {
            if (atomic_fetch_add(&r->corrupt_reads, 1) == 0 && atomic_load(&r->stale_reads) == 0) {
                atomic_store(&r->first_bad_value, v);
                atomic_store(&r->first_bad_pub, pub);
            }
        } else if (((v >> 20) & 0xFFFFFFF) < pub) {
            if (atomic_fetch_add(&r->stale_reads, 1) == 0 && atomic_load(&r->corrupt_reads) == 0) {
                atomic_store(&r->first_bad_value, v);
                atomic_store(&r->first_bad_pub, pub);
            }
        }
        if ((k & 3) == 0) {
            char *scribble = page + PAGE / 2 + (uint64_t)a->id * 8;
            f = probe_write64(scribble, 0x5C5C000000000000ULL | k);
            if (f.sig && (f.sig != SIGSEGV || f.code != SEGV_MAPERR))
                fail("race reader: unexpected write fault sig %d code %d", f.sig, f.code);
        }
        atomic_fetch_add_explicit(&r->progress[a->id], 1, memory_order_relaxed);
        if ((k & 255) == 0)
            sched_yield(); /* be fair to the writer when threads outnumber harts */
    }
    atomic_fetch_add(&r->reads, reads);
    atomic_fetch_add(&r->faults, faults);
    atomic_fetch_add(&r->zero_reads, zeros);
    return NULL;
}

/* race_wait_readers: yield until every reader has made progress since `seen` was taken. */
static void race_wait_readers(struct race *r, uint64_t *seen)
{
    for (long i = 0; i < r->readers; i++) {
        while (atomic_load_explicit(&r->progress[i], memory_order_relaxed) == seen[i])
            sched_yield();
        seen[i] = atomic_load_explicit(&r->progress[i], memory_order_relaxed);
    }
}

static void *race_writer(void *arg)
{
    struct race *r = arg;
    uint64_t seen[RACE_MAX_READERS] = { 0 };
    size_t len = (size_t)r->pages * PAGE;
    while (!atomic_load(&r->go))
        sched_yield();
    for (uint64_t g = 2; g < (uint64_t)r->iterations + 2; g++) {
        race_wait_readers(r, seen);
        if (r->inject) {
            /* Broken on purpose: publish g while A still holds g-1; wait twice so every
             * reader completes a read that began after this store. */
            atomic_store_explicit(&r->published, g, memory_order_release);
            race_wait_readers(r, seen);
            race_wait_readers(r, seen);
        }
        if (g & 1) {
            uint64_t before = atomic_load_explicit(&r->window_faults, memory_order_relaxed);
            CHECK(munmap(r->area, len) == 0, "race writer: munmap: %s", strerror(errno));
            /* Keep the window open briefly until a reader has run into it (bounded). */
            for (int y = 0; y < 8 && r->readers > 0 &&
                            atomic_load_explicit(&r->window_faults, memory_order_relaxed) == before;
                 y++)
                sched_yield();
        }
        void *s = mmap(r->scratch, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        CHECK(s == r->scratch, "race writer: mmap scratch: %s", strerror(errno));
        for (size_t i = 0; i < len / 8; i++)
            ((volatile uint64_t *)s)[i] = RACE_POISON;
        void *a = mmap(r->area, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        CHECK(a == r->area, "race writer: mmap area: %s", strerror(errno));
        race_fill(r, g);
        atomic_store_explicit(&r->published, g, memory_order_release);
        for (size_t i = 0; i < len / 8; i++)
            if (((volatile uint64_t *)s)[i] != RACE_POISON)
                atomic_fetch_add(&r->stale_writes, 1);
        CHECK(munmap(s, len) == 0, "race writer: munmap scratch: %s", strerror(errno));
    }
    return NULL;
}

/* race_start: map A and S, publish generation 1, start the readers and the writer thread.
 * The writer waits until race_go(). Thread creation must finish before race_go so that no
 * thread stack is ever placed in A's unmapped window. */
static void race_start(struct race *r, long readers, long pages, long iterations, int inject)
{
    CHECK(readers >= 0 && readers <= RACE_MAX_READERS, "race: readers must be 0..%d", RACE_MAX_READERS);
    CHECK(pages >= 1 && pages <= RACE_MAX_PAGES, "race: pages must be 1..%d", RACE_MAX_PAGES);
    CHECK(iterations >= 0, "race: iterations must be >= 0");
    memset(r, 0, sizeof *r);
    r->readers = readers;
    r->pages = pages;
    r->iterations = iterations;
    r->inject = inject;
    /* One reservation: A, a PROT_NONE guard page, S. */
    char *base = map_anon(NULL, (size_t)(2 * pages + 1), PROT_NONE, 0, "race reservation");
    r->area = base;
    r->scratch = base + (pages + 1) * PAGE;
    CHECK(mmap(r->area, (size_t)pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
               0) == r->area,
          "race: map A");
    CHECK(munmap(r->scratch, (size_t)pages * PAGE) == 0, "race: munmap S");
    race_fill(r, 1);
    atomic_store_explicit(&r->published, 1, memory_order_release);
    for (long i = 0; i < readers; i++) {
        race_reader_args[i].r = r;
        race_reader_args[i].id = i;
        int e = pthread_create(&r->reader_threads[i], NULL, race_reader, &race_reader_args[i]);
        CHECK(e == 0, "race: pthread_create reader: %s", strerror(e));
    }
    int e = pthread_create(&r->writer_thread, NULL, race_writer, r);
    CHECK(e == 0, "race: pthread_create writer: %s", strerror(e));
}

/* race_go: let the writer start. */
static void race_go(struct race *r) { atomic_store(&r->go, 1); }

/* race_finish: wait for the writer, stop and join the readers, unmap everything;
 * returns the number of violations (stale + corrupt reads + stale writes). */
static unsigned long race_finish(struct race *r)
{
    pthread_join(r->writer_thread, NULL);
    atomic_store(&r->stop, 1);
    for (long i = 0; i < r->readers; i++)
        pthread_join(r->reader_threads[i], NULL);
    munmap(r->area, (size_t)(2 * r->pages + 1) * PAGE);
    return atomic_load(&r->stale_reads) + atomic_load(&r->corrupt_reads) + atomic_load(&r->stale_writes);
}

#endif
