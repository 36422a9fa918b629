/*
 * mix — the mixed stress workload of the demo, driven by a seeded PRNG, three parts at once:
 *  1. race: 2 reader threads and a writer racing unmap/remap of a 2-page area (race.h,
 *     the tlbrace invariant);
 *  2. churn: a thread doing random mmap (MAP_FIXED, 1-16 pages), munmap of random ranges
 *     (exact, trims, holes, spans across mappings and gaps), mprotect R/RW of mapped ranges,
 *     madvise(MADV_DONTNEED), page rewrites, against a page-by-page model of a 64-page
 *     window; every few operations every page is probed: unmapped pages fault SEGV_MAPERR,
 *     read-only pages refuse writes with SEGV_ACCERR, contents match the model;
 *  3. fork: the main thread forks children (while the other threads run) that check and
 *     rewrite a private buffer copy-on-write and count in a MAP_SHARED page; the parent
 *     rewrites its own copy meanwhile and checks it after each child exits.
 * stdout is deterministic for a given seed and scale (operation counts come from the
 * PRNG); the race's read/fault counts go to stderr.
 * Args: [seed] (default 1) [scale] (default 1; multiplies every part's work).
 * Expected final line: "mix: OK".
 */
#include "race.h"
#include <sys/wait.h>

#define CW 64          /* churn window pages */
#define TAG_ZERO 1     /* page mapped, all zero */
#define FORK_PAGES 16

static struct race race;
static uint64_t seed;
static long scale;

/* ---- churn ---- */
static char *cwin;
static uint64_t ctag[CW]; /* 0 unmapped, TAG_ZERO, or a pattern tag */
static int cwritable[CW];
static uint64_t cnext = 2;
static long n_map, n_unmap, n_prot, n_advise, n_write, n_verify;
static atomic_int churn_go;

static void churn_verify(void)
{
    n_verify++;
    for (size_t i = 0; i < CW; i++) {
        char *p = cwin + i * PAGE;
        struct probe_result r = probe_read(p + 8, NULL);
        if (ctag[i] == 0) {
            expect_fault(r, SIGSEGV, SEGV_MAPERR, p + 8, "churn: unmapped page read");
            continue;
        }
        expect_no_fault(r, "churn: mapped page read");
        if (ctag[i] == TAG_ZERO) {
            for (size_t w = 0; w < PAGE / 8; w++)
                CHECK(((volatile uint64_t *)p)[w] == 0, "churn: page %zu word %zu not zero", i, w);
        } else {
            long bad = check_page(p, ctag[i]);
            CHECK(bad < 0, "churn: page %zu word %ld lost its contents", i, bad);
        }
        if (!cwritable[i])
            expect_fault(probe_write(p + 16, 0), SIGSEGV, SEGV_ACCERR, p + 16, "churn: read-only page write");
    }
}

static void *churn(void *arg)
{
    (void)arg;
    uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    long ops = 300 * scale;
    while (!atomic_load(&churn_go))
        sched_yield();
    for (long op = 0; op < ops; op++) {
        size_t s = rng_below(&rng, CW), n = 1 + rng_below(&rng, 16);
        if (s + n > CW)
            n = CW - s;
        int kind = (int)rng_below(&rng, 10);
        if (kind < 3) { /* map */
            void *p = mmap(cwin + s * PAGE, n * PAGE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            CHECK(p == cwin + s * PAGE, "churn: mmap: %s", strerror(errno));
            for (size_t i = s; i < s + n; i++) {
                ctag[i] = TAG_ZERO;
                cwritable[i] = 1;
            }
            n_map++;
        } else if (kind < 5) { /* munmap any range */
            CHECK(munmap(cwin + s * PAGE, n * PAGE) == 0, "churn: munmap: %s", strerror(errno));
            for (size_t i = s; i < s + n; i++)
                ctag[i] = 0;
            n_unmap++;
        } else if (kind < 7) { /* mprotect a fully mapped range */
            int all = 1;
            for (size_t i = s; i < s + n; i++)
                all &= ctag[i] != 0;
            if (!all)
                continue;
            int w = (int)rng_below(&rng, 2);
            CHECK(mprotect(cwin + s * PAGE, n * PAGE, w ? PROT_READ | PROT_WRITE : PROT_READ) == 0,
                  "churn: mprotect: %s", strerror(errno));
            for (size_t i = s; i < s + n; i++)
                cwritable[i] = w;
            n_prot++;
        } else if (kind < 8) { /* madvise DONTNEED a fully mapped range: pages read zero */
            int all = 1;
            for (size_t i = s; i < s + n; i++)
                all &= ctag[i] != 0;
            if (!all)
                continue;
            CHECK(madvise(cwin + s * PAGE, n * PAGE, MADV_DONTNEED) == 0, "churn: madvise: %s", strerror(errno));
            for (size_t i = s; i < s + n; i++)
                ctag[i] = TAG_ZERO;
            n_advise++;
        } else { /* rewrite writable mapped pages */
            for (size_t i = s; i < s + n; i++) {
                if (ctag[i] && cwritable[i]) {
                    ctag[i] = cnext++;
                    fill_page(cwin + i * PAGE, ctag[i]);
                    n_write++;
                }
            }
        }
        if (op % 16 == 15)
            churn_verify();
    }
    churn_verify();
    return NULL;
}

/* ---- fork/COW ---- */
static uint64_t fpat(uint64_t who, uint64_t i) { return (who << 40) ^ (i * 2654435761ULL); }

/* fork_rounds: `buf` is FORK_PAGES private RW pages mapped before the churn window was released. */
static void fork_rounds(uint64_t *buf, atomic_long *shared_count)
{
    uint64_t rng = seed ^ 0xF0F0F0F0ULL;
    size_t words = FORK_PAGES * PAGE / 8;
    long rounds = 4 * scale;
    for (long r = 0; r < rounds; r++) {
        uint64_t mine = 1000 + (uint64_t)r, theirs = 5000 + (uint64_t)r;
        for (size_t i = 0; i < words; i++)
            buf[i] = fpat(mine, i);
        size_t first = rng_below(&rng, words / 2), count = 1 + rng_below(&rng, words / 2);
        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            for (size_t i = 0; i < words; i++)
                if (buf[i] != fpat(mine, i))
                    _exit(2);
            for (size_t i = first; i < first + count; i++)
                buf[i] = fpat(theirs, i);
            for (size_t i = 0; i < words; i++)
                if (buf[i] != ((i >= first && i < first + count) ? fpat(theirs, i) : fpat(mine, i)))
                    _exit(3);
            atomic_fetch_add(shared_count, 1);
            _exit(0);
        }
        /* The parent writes its own copy while the child runs. */
        for (size_t i = words / 2; i < words; i++)
            buf[i] = fpat(mine + 100, i);
        int st;
        CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork round %ld: child status %#x", r, st);
        for (size_t i = 0; i < words; i++)
            CHECK(buf[i] == (i >= words / 2 ? fpat(mine + 100, i) : fpat(mine, i)),
                  "fork round %ld: parent word %zu changed", r, i);
    }
    munmap(buf, FORK_PAGES * PAGE);
    printf("mix: fork rounds=%ld\n", rounds);
}

int main(int argc, char **argv)
{
    guest_start("mix");
    seed = (uint64_t)arg_long(argc, argv, 1, 1);
    scale = arg_long(argc, argv, 2, 1);
    CHECK(scale >= 1, "scale must be >= 1");
    probe_install();
    printf("mix: seed=%lu scale=%ld\n", (unsigned long)seed, scale);
    atomic_long *shared_count = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shared_count != MAP_FAILED, "mmap shared: %s", strerror(errno));
    /* The churn window: reserved while every other mapping is made (the fork buffer, the
     * race areas, every thread stack), then released, so only MAP_FIXED maps land in it.
     * Released earlier, it would be the highest free gap, where Linux's top-down search
     * places the next non-fixed mmap (the race reservation, say), and churn would clobber it. */
    cwin = map_anon(NULL, CW, PROT_NONE, 0, "churn window");
    uint64_t *fork_buf = map_anon(NULL, FORK_PAGES, PROT_READ | PROT_WRITE, 0, "fork buffer");
    pthread_t churn_thread;
    race_start(&race, 2, 2, 50 * scale, 0);
    int e = pthread_create(&churn_thread, NULL, churn, NULL);
    CHECK(e == 0, "pthread_create churn: %s", strerror(e));
    CHECK(munmap(cwin, CW * PAGE) == 0, "munmap churn window");
    race_go(&race);
    atomic_store(&churn_go, 1);

    fork_rounds(fork_buf, shared_count);
    pthread_join(churn_thread, NULL);
    printf("mix: churn map=%ld munmap=%ld mprotect=%ld madvise=%ld page-writes=%ld verifies=%ld\n", n_map, n_unmap,
           n_prot, n_advise, n_write, n_verify);
    unsigned long bad = race_finish(&race);
    fprintf(stderr, "mix: race reads=%lu faults=%lu zero-reads=%lu\n", atomic_load(&race.reads),
            atomic_load(&race.faults), atomic_load(&race.zero_reads));
    CHECK(bad == 0, "race: stale reads=%lu corrupt reads=%lu stale writes=%lu", atomic_load(&race.stale_reads),
          atomic_load(&race.corrupt_reads), atomic_load(&race.stale_writes));
    printf("mix: race iterations=%ld\n", race.iterations);
    CHECK(atomic_load(shared_count) == 4 * scale, "shared fork counter %ld, want %ld", atomic_load(shared_count),
          4 * scale);
    munmap(cwin, CW * PAGE);
    ok();
}
