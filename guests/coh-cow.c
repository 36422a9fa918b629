/*
 * coh-cow — coherence conformance: a copy-on-write break racing readers on other harts
 * (issue 12, bug 2).
 *
 * Setup: an area of `rounds` private pages, page k holding OLDV(k) in every word; fork() makes
 * every page copy-on-write shared with the child, which only holds its references (it waits on
 * a pipe) and at the end checks that its own view still holds OLDV everywhere.
 *
 * Round k (the parent, threads made after the fork):
 *   - `writers` threads store NEWV(k) into every word they own of page k (writer i owns words
 *     i, i + writers, ...) at once: the first store breaks COW (one of them copies the page;
 *     the others wait for it or use the new PTE); then writer i publishes k in published[i]
 *     with a release store;
 *   - readers keep taking a writer i in turn, loading published[i] (acquire) = p, then a
 *     word of writer i in page p, which must be NEWV(p); then they load a word of page
 *     round (being broken now) and of page round + 1 (OLDV or NEWV: either is fine there), so
 *     that their harts' TLBs hold the pre-COW translation of the page the next round breaks
 *     and they fault on the page whose break is in progress;
 *   - the conductor (main) starts round k once every writer finished round k - 1 and every
 *     reader made two loads since (so page k is in their TLBs).
 *
 * INVARIANT (any correct kernel): a reader that saw published[i] = p reads NEWV(p) from the
 * words of writer i in page p. They were stored into the post-COW frame before p was
 * published; the pre-COW frame only ever holds OLDV(p). Reading OLDV(p) ("stale") means the
 * reader's hart still used the translation to the pre-COW frame after another hart had stored
 * through the new one: the new PTE was usable before the old translation was flushed
 * everywhere (Linux's wp_page_copy: clear the PTE, flush, then set the new one). Any other
 * value is "corrupt".
 * Also checked: after the race every word of the parent's pages is NEWV(k), and the child's
 * view is still OLDV(k) (COW isolation).
 *
 * With 2 harts the race is rarely visible even on a kernel with the bug (the hart of the
 * breaking writer is busy in the fault, so the second writer and the reader share one hart,
 * whose TLB the second writer's own fault flushes); 3 or more harts show it.
 * All control words live in a MAP_SHARED page, never copy-on-write: a spin loop never waits on
 * a stale value, so the guest ends under every policy (lazy/off included).
 *
 * Usage: coh-cow [rounds] [readers] [writers]   (defaults 64 2 2). Prints counts, then
 * "coh-cow: OK" (exit 0) or "coh-cow: FAIL ..." (exit 1).
 */
#include "guest.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define MAX_READERS 16
#define MAX_WRITERS 8
#define WORDS (PAGE / 8)

/* The value of word w of page k before the COW break, and the value the writers store. */
static inline uint64_t oldv(uint64_t k, uint64_t w) { return 0x0DD0000000000000ULL | (k << 16) | w; }
static inline uint64_t newv(uint64_t k, uint64_t w) { return 0xC0C0000000000000ULL | (k << 16) | w; }

struct ctl {                        /* in a MAP_SHARED page: never COW */
    atomic_long round;              /* the round writers may run (page index), -1 before the first */
    atomic_int stop;
    atomic_long published[MAX_WRITERS]; /* writer i's words of pages 0..published[i] hold NEWV */
    atomic_ulong progress[MAX_READERS];
    atomic_ulong reads, stale, corrupt;
    atomic_ulong first_value, first_page, first_word;
};

static struct ctl *C;
static volatile uint64_t *area;
static long rounds, readers, writers;

/* spin_yield: a polite spin step (threads outnumber harts on small machines). */
static inline void spin_yield(unsigned *n)
{
    if (++*n % 64 == 0)
        sched_yield();
}

static void note_bad(atomic_ulong *counter, uint64_t v, long page, long w)
{
    if (atomic_fetch_add(counter, 1) == 0 && atomic_load(&C->stale) + atomic_load(&C->corrupt) == 1) {
        atomic_store(&C->first_value, v);
        atomic_store(&C->first_page, (uint64_t)page);
        atomic_store(&C->first_word, (uint64_t)w);
    }
}

static void *reader(void *arg)
{
    long id = (long)arg;
    uint64_t k = (uint64_t)id * 7919, reads = 0;
    while (!atomic_load_explicit(&C->stop, memory_order_relaxed)) {
        k++;
        long i = (long)(k % (uint64_t)writers);
        long p = atomic_load_explicit(&C->published[i], memory_order_acquire);
        if (p >= 0) {
            long w = i + (long)((k / (uint64_t)writers) % (WORDS / (uint64_t)writers)) * writers;
            uint64_t v = area[p * WORDS + w];
            reads++;
            if (v == oldv((uint64_t)p, (uint64_t)w))
                note_bad(&C->stale, v, p, w);
            else if (v != newv((uint64_t)p, (uint64_t)w))
                note_bad(&C->corrupt, v, p, w);
        }
        /* The page being broken now and the next one: either value is legal. The first load
         * meets the COW break in progress; the second primes the translation the next round
         * breaks. */
        long cur = atomic_load_explicit(&C->round, memory_order_acquire);
        for (long q = cur; q <= cur + 1; q++) {
            if (q < 0 || q >= rounds)
                continue;
            long w = (long)((k * 13 + (uint64_t)q) % WORDS);
            uint64_t v = area[q * WORDS + w];
            if (v != oldv((uint64_t)q, (uint64_t)w) && v != newv((uint64_t)q, (uint64_t)w))
                note_bad(&C->corrupt, v, q, w);
        }
        atomic_fetch_add_explicit(&C->progress[id], 1, memory_order_release);
        if ((k & 127) == 0)
            sched_yield();
    }
    atomic_fetch_add(&C->reads, reads);
    return NULL;
}

static void *writer(void *arg)
{
    long id = (long)arg;
    for (long k = 0; k < rounds; k++) {
        unsigned n = 0;
        while (atomic_load_explicit(&C->round, memory_order_acquire) < k)
            spin_yield(&n);
        /* Writer id owns words id, id + writers, ...: every writer's first store hits the
         * same pre-COW page at about the same time. */
        for (long w = id; w < (long)WORDS; w += writers)
            area[k * WORDS + w] = newv((uint64_t)k, (uint64_t)w);
        atomic_store_explicit(&C->published[id], k, memory_order_release);
    }
    return NULL;
}

/* Write-touch every page of .data/.bss so that no later library write breaks COW on them while
 * other threads run (only the race on the area is under test). */
extern char __data_start[], end[];
static void touch_own_data(void)
{
    for (uintptr_t a = (uintptr_t)__data_start & ~(PAGE - 1); a < (uintptr_t)end; a += PAGE) {
        volatile char *c = (volatile char *)a;
        *c = *c;
    }
}

int main(int argc, char **argv)
{
    guest_start("coh-cow");
    rounds = arg_long(argc, argv, 1, 64);
    readers = arg_long(argc, argv, 2, 2);
    writers = arg_long(argc, argv, 3, 2);
    CHECK(rounds >= 1 && rounds <= 1 << 15, "rounds must be 1..32768");
    CHECK(readers >= 1 && readers <= MAX_READERS, "readers must be 1..%d", MAX_READERS);
    CHECK(writers >= 1 && writers <= MAX_WRITERS, "writers must be 1..%d", MAX_WRITERS);

    C = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(C != MAP_FAILED, "mmap ctl: %s", strerror(errno));
    atomic_store(&C->round, -1);
    for (long i = 0; i < MAX_WRITERS; i++)
        atomic_store(&C->published[i], -1);
    area = map_anon(NULL, (size_t)rounds, PROT_READ | PROT_WRITE, 0, "area");
    for (long k = 0; k < rounds; k++)
        for (long w = 0; w < (long)WORDS; w++)
            area[k * WORDS + w] = oldv((uint64_t)k, (uint64_t)w);

    int go[2];
    CHECK(pipe(go) == 0, "pipe: %s", strerror(errno));
    pid_t child = fork();
    CHECK(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        /* The sharer: holds a reference on every page until the parent is done. */
        close(go[1]);
        char b;
        while (read(go[0], &b, 1) < 0 && errno == EINTR)
            ;
        for (long k = 0; k < rounds; k++)
            for (long w = 0; w < (long)WORDS; w++)
                if (area[k * WORDS + w] != oldv((uint64_t)k, (uint64_t)w))
                    _exit(3); /* the parent's store reached the child's frame */
        _exit(0);
    }
    close(go[0]);
    touch_own_data();

    pthread_t rt[MAX_READERS], wt[MAX_WRITERS];
    for (long i = 0; i < readers; i++)
        CHECK(pthread_create(&rt[i], NULL, reader, (void *)i) == 0, "pthread_create reader");
    for (long i = 0; i < writers; i++)
        CHECK(pthread_create(&wt[i], NULL, writer, (void *)i) == 0, "pthread_create writer");

    uint64_t seen[MAX_READERS];
    for (long k = 0; k < rounds; k++) {
        unsigned n = 0;
        for (long i = 0; i < writers; i++)
            while (atomic_load_explicit(&C->published[i], memory_order_acquire) < k - 1)
                spin_yield(&n);
        /* Two loads by every reader after round k - 1 completed: page k is primed. */
        for (int twice = 0; twice < 2; twice++)
            for (long i = 0; i < readers; i++) {
                seen[i] = atomic_load(&C->progress[i]);
                while (atomic_load_explicit(&C->progress[i], memory_order_acquire) == seen[i])
                    spin_yield(&n);
            }
        atomic_store_explicit(&C->round, k, memory_order_release);
    }
    for (long i = 0; i < writers; i++)
        pthread_join(wt[i], NULL);
    /* Let the readers check the last page a while, then stop them. */
    for (int twice = 0; twice < 2; twice++)
        for (long i = 0; i < readers; i++) {
            unsigned n = 0;
            seen[i] = atomic_load(&C->progress[i]);
            while (atomic_load(&C->progress[i]) == seen[i])
                spin_yield(&n);
        }
    atomic_store(&C->stop, 1);
    for (long i = 0; i < readers; i++)
        pthread_join(rt[i], NULL);

    long bad_final = -1;
    for (long k = 0; k < rounds && bad_final < 0; k++)
        for (long w = 0; w < (long)WORDS; w++)
            if (area[k * WORDS + w] != newv((uint64_t)k, (uint64_t)w)) {
                bad_final = k;
                break;
            }
    CHECK(write(go[1], "x", 1) == 1, "write pipe: %s", strerror(errno));
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child, "waitpid: %s", strerror(errno));

    unsigned long stale = atomic_load(&C->stale), corrupt = atomic_load(&C->corrupt);
    printf("coh-cow: %ld rounds, %ld readers, %ld writers\n", rounds, readers, writers);
    fprintf(stderr, "coh-cow: %lu checked reads, %lu stale, %lu corrupt\n", (unsigned long)atomic_load(&C->reads),
            stale, corrupt);
    if (stale || corrupt)
        fail("%lu stale and %lu corrupt reads (first: word %lu of page %lu read %#lx)", stale, corrupt,
             (unsigned long)atomic_load(&C->first_word), (unsigned long)atomic_load(&C->first_page),
             (unsigned long)atomic_load(&C->first_value));
    CHECK(bad_final < 0, "page %ld of the parent does not hold the writers' values", bad_final);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's COW view changed (status %#x)", status);
    ok();
}
