/*
 * coh-exec — conformance guest (issue 12, bug 5): execve in a forked setting on several harts.
 *
 * The parent forks CHILDREN processes at a time, ROUNDS times; each child execs this program
 * again ("/coh-exec --child ..."; the guest root holds a copy at /coh-exec). The exec'd
 * program runs the TLB-coherence race of race.h (READERS reader threads against a writer that
 * keeps unmapping and remapping an area, ITERS times); its main thread — the one that called
 * execve — reads the area too and never blocks, so it keeps running on the hart it exec'd on,
 * while a helper thread forks FORKS short-lived grandchildren that touch memory and exit. So, while an exec'd program runs,
 * other processes are created in, change and free the address-space slots that execs just
 * released — the slot the exec'd program left behind is reused by another program.
 *
 * What it checks: every value a race reader reads is allowed (race.h's invariant), every child
 * and grandchild exits 0. On a correct kernel it always passes. Under an unsafe policy the race
 * fails (stale reads) — and the sanitizer must have reported: it has to check the program that
 * runs after execve against ITS address space, not the one exec released.
 *
 * Args (parent): [rounds] (default 3) [children] (default 2) [readers] (default 2)
 *                [iterations] (default 30) [forks] (default 3; forking from the multi-threaded
 *                program write-protects it for COW — under an unsafe policy its threads may then
 *                wait forever on words they see through stale translations, so the conformance
 *                suite passes 0)
 *        (child): --child readers iterations forks   (what the parent passes; runnable alone,
 *                 e.g. under qemu-riscv64, which cannot exec a RISC-V program itself)
 * Final line: "coh-exec: OK" (exit 0) or "coh-exec: FAIL ..." (exit 1).
 */
#include "race.h"
#include <sys/wait.h>
#include <time.h>

#define SELF "/coh-exec"
#define MAIN_READER_SECONDS 20

static struct race race;

/* One grandchild: touch a few fresh pages (demand faults, a COW break of `shared`) and exit. */
static void grandchild(volatile uint64_t *shared, long k)
{
    char *p = map_anon(NULL, 4, PROT_READ | PROT_WRITE, 0, "grandchild");
    for (long pg = 0; pg < 4; pg++)
        fill_page(p + pg * PAGE, (uint64_t)(k * 4 + pg));
    for (long pg = 0; pg < 4; pg++)
        if (check_page(p + pg * PAGE, (uint64_t)(k * 4 + pg)) >= 0)
            _exit(2);
    *shared = (uint64_t)k; /* COW break: the parent's copy must not change */
    _exit(0);
}

/* Reads of the main thread (the one that called execve) that broke race.h's invariant. */
static atomic_ulong main_bad, main_reads;
static atomic_int writer_done;
static long n_forks;

/* The exec'd program's helper thread: forks the grandchildren, then waits for the race writer. */
static void *finisher(void *arg)
{
    static volatile uint64_t shared = 0xC0FFEE;
    (void)arg;
    for (long k = 0; k < n_forks; k++) {
        pid_t g = fork();
        CHECK(g >= 0, "fork grandchild: %s", strerror(errno));
        if (g == 0)
            grandchild(&shared, k + 1);
        int st = 0;
        CHECK(waitpid(g, &st, 0) == g, "waitpid grandchild: %s", strerror(errno));
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "grandchild %ld status %#x", k, st);
        CHECK(shared == 0xC0FFEE, "a grandchild's store reached this process: %#lx", (unsigned long)shared);
    }
    pthread_join(race.writer_thread, NULL);
    atomic_store(&writer_done, 1);
    return NULL;
}

/* The main thread reads the race area itself, never blocking: it stays on the hart it exec'd
 * on, with the TLB it had right after execve (race.h's reader check, without its scribbles). */
static void main_reader(struct race *r)
{
    uint64_t k = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!atomic_load_explicit(&writer_done, memory_order_acquire)) {
        k++;
        if ((k & 4095) == 0) {
            /* Bounded: a stale view of writer_done (an unsafe policy) must end in FAIL, not a hang. */
            clock_gettime(CLOCK_MONOTONIC, &t);
            CHECK(t.tv_sec - t0.tv_sec < MAIN_READER_SECONDS, "main thread: the writer did not finish within %d s",
                  MAIN_READER_SECONDS);
        }
        uint64_t pub = atomic_load_explicit(&r->published, memory_order_acquire);
        uint64_t pg = k % (uint64_t)r->pages, w = (k * 29) % RACE_HALF_WORDS;
        uint64_t v = 0;
        struct probe_result f = probe_read64(r->area + pg * PAGE + w * 8, &v);
        if (f.sig) {
            CHECK(f.sig == SIGSEGV && f.code == SEGV_MAPERR, "main reader: fault sig %d code %d", f.sig, f.code);
            continue;
        }
        atomic_fetch_add_explicit(&main_reads, 1, memory_order_relaxed);
        if (v == 0)
            continue;
        if ((v & ~(0xFFFFFFFULL << 20)) != race_value(0, pg, w) || ((v >> 20) & 0xFFFFFFF) < pub)
            atomic_fetch_add(&main_bad, 1);
    }
}

/* The exec'd program: the race, its main thread one of the readers, grandchildren forked meanwhile. */
static int child_main(long readers, long iterations, long forks)
{
    n_forks = forks;
    race_start(&race, readers, 4, iterations, 0);
    pthread_t fin;
    int e = pthread_create(&fin, NULL, finisher, NULL);
    CHECK(e == 0, "pthread_create finisher: %s", strerror(e));
    race_go(&race);
    main_reader(&race);
    pthread_join(fin, NULL);
    atomic_store(&race.stop, 1);
    for (long i = 0; i < race.readers; i++)
        pthread_join(race.reader_threads[i], NULL);
    unsigned long bad = atomic_load(&race.stale_reads) + atomic_load(&race.corrupt_reads) +
                        atomic_load(&race.stale_writes) + atomic_load(&main_bad);
    if (bad)
        fail("exec'd program: main thread bad reads=%lu of %lu; readers: stale reads=%lu corrupt reads=%lu stale writes=%lu",
             atomic_load(&main_bad), atomic_load(&main_reads), atomic_load(&race.stale_reads),
             atomic_load(&race.corrupt_reads), atomic_load(&race.stale_writes));
    return 0;
}

int main(int argc, char **argv)
{
    guest_start("coh-exec");
    probe_install();
    if (argc >= 2 && strcmp(argv[1], "--child") == 0) {
        CHECK(argc == 5, "--child readers iterations forks");
        return child_main(arg_long(argc, argv, 2, 0), arg_long(argc, argv, 3, 0), arg_long(argc, argv, 4, 0));
    }
    long rounds = arg_long(argc, argv, 1, 3);
    long children = arg_long(argc, argv, 2, 2);
    long readers = arg_long(argc, argv, 3, 2);
    long iterations = arg_long(argc, argv, 4, 30);
    long forks = arg_long(argc, argv, 5, 3);
    CHECK(children >= 1 && children <= 16, "children must be 1..16");
    printf("coh-exec: rounds=%ld children=%ld readers=%ld iterations=%ld forks=%ld\n", rounds, children, readers,
           iterations, forks);
    char a1[24], a2[24], a3[24];
    snprintf(a1, sizeof a1, "%ld", readers);
    snprintf(a2, sizeof a2, "%ld", iterations);
    snprintf(a3, sizeof a3, "%ld", forks);
    for (long r = 0; r < rounds; r++) {
        pid_t pids[16];
        for (long c = 0; c < children; c++) {
            pids[c] = fork();
            CHECK(pids[c] >= 0, "fork: %s", strerror(errno));
            if (pids[c] == 0) {
                char *cargv[] = { SELF, "--child", a1, a2, a3, NULL };
                char *cenv[] = { NULL };
                execve(SELF, cargv, cenv);
                printf("coh-exec: FAIL execve %s: %s\n", SELF, strerror(errno));
                fflush(stdout);
                _exit(1);
            }
        }
        for (long c = 0; c < children; c++) {
            int st = 0;
            CHECK(waitpid(pids[c], &st, 0) == pids[c], "waitpid: %s", strerror(errno));
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "round %ld child %ld: status %#x", r, c, st);
        }
    }
    ok();
}
