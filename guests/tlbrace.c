/*
 * tlbrace — the TLB-coherence race: READERS threads keep reading an area that a writer
 * thread keeps unmapping and remapping with a new generation (see race.h for the exact
 * invariant: a correct kernel can never let a reader see poison, a foreign pattern, or a
 * generation older than the one published before its read; nor let a reader's write land
 * in a frame after it was freed). Deterministic stdout; the read/fault counts, which
 * depend on scheduling, go to stderr.
 * Args: [--inject-stale] [readers] (default 3) [iterations] (default 100) [pages] (default 4).
 * --inject-stale breaks the writer's protocol on purpose (publishes a generation before it
 * exists) so the guest's own check can be seen to fail: it must end in FAIL, exit 1.
 * Final line: "tlbrace: OK iterations=N", or "tlbrace: FAIL stale reads=K ..." and exit 1.
 */
#include "race.h"

static struct race race;

int main(int argc, char **argv)
{
    guest_start("tlbrace");
    int inject = 0, argi = 1;
    if (argi < argc && strcmp(argv[argi], "--inject-stale") == 0) {
        inject = 1;
        argi++;
    }
    long readers = arg_long(argc, argv, argi, 3);
    long iterations = arg_long(argc, argv, argi + 1, 100);
    long pages = arg_long(argc, argv, argi + 2, 4);
    CHECK(!inject || readers > 0, "--inject-stale needs readers");
    probe_install();
    printf("tlbrace: readers=%ld pages=%ld iterations=%ld\n", readers, pages, iterations);
    race_start(&race, readers, pages, iterations, inject);
    race_go(&race);
    unsigned long bad = race_finish(&race);
    fprintf(stderr, "tlbrace: reads=%lu faults=%lu zero-reads=%lu\n", atomic_load(&race.reads),
            atomic_load(&race.faults), atomic_load(&race.zero_reads));
    if (bad) {
        printf("tlbrace: first bad value %#lx read after generation %lu was published\n",
               atomic_load(&race.first_bad_value), atomic_load(&race.first_bad_pub));
        fail("stale reads=%lu corrupt reads=%lu stale writes=%lu", atomic_load(&race.stale_reads),
             atomic_load(&race.corrupt_reads), atomic_load(&race.stale_writes));
    }
    printf("tlbrace: OK iterations=%ld\n", iterations);
    return 0;
}
