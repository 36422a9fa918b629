/*
 * heap — malloc/free growth and shrink, then the program break driven directly with sbrk:
 * grow it, touch every new page, lower it, and probe (SIGSEGV handler + siglongjmp) that
 * the pages above the lowered break fault with SEGV_MAPERR; grow it again and check the
 * re-grown pages read zero.
 *
 * Real Linux unmaps pages above a lowered break; qemu-user keeps them mapped. The check is
 * strict by default; with --qemu-brk-lenient a still-mapped page is reported on a
 * "heap: note" line instead of failing (the qemu test passes that flag).
 * Args: [--qemu-brk-lenient] [blocks] (default 2000 malloc blocks).
 * Expected final line: "heap: OK".
 */
#include "guest.h"
#include <malloc.h>

static uint8_t block_byte(size_t i) { return (uint8_t)(i * 131 + 7); }

static void malloc_phase(long nblocks)
{
    void **blocks = calloc((size_t)nblocks, sizeof *blocks);
    size_t *sizes = calloc((size_t)nblocks, sizeof *sizes);
    CHECK(blocks && sizes, "malloc_phase: calloc failed");
    uint64_t rng = 12345;
    char *brk0 = sbrk(0);
    size_t total = 0;
    for (long i = 0; i < nblocks; i++) {
        sizes[i] = 16 + rng_below(&rng, 2000);
        blocks[i] = malloc(sizes[i]);
        CHECK(blocks[i], "malloc(%zu) returned NULL", sizes[i]);
        memset(blocks[i], block_byte((size_t)i), sizes[i]);
        total += sizes[i];
    }
    char *brk1 = sbrk(0);
    CHECK(brk1 > brk0, "malloc of %zu bytes did not grow the break", total);
    /* Free every other block, then verify the survivors and reallocate the holes bigger. */
    for (long i = 0; i < nblocks; i += 2)
        free(blocks[i]);
    for (long i = 1; i < nblocks; i += 2)
        for (size_t k = 0; k < sizes[i]; k++)
            CHECK(((uint8_t *)blocks[i])[k] == block_byte((size_t)i), "block %ld byte %zu corrupted", i, k);
    for (long i = 0; i < nblocks; i += 2) {
        sizes[i] *= 2;
        blocks[i] = malloc(sizes[i]);
        CHECK(blocks[i], "re-malloc failed");
        memset(blocks[i], block_byte((size_t)i), sizes[i]);
    }
    /* realloc grows keep the prefix. */
    for (long i = 1; i < nblocks; i += 7) {
        size_t old = sizes[i];
        sizes[i] = old + 3000;
        blocks[i] = realloc(blocks[i], sizes[i]);
        CHECK(blocks[i], "realloc failed");
        for (size_t k = 0; k < old; k++)
            CHECK(((uint8_t *)blocks[i])[k] == block_byte((size_t)i), "realloc lost byte %zu of block %ld", k, i);
        memset(blocks[i], block_byte((size_t)i), sizes[i]);
    }
    /* A large block comes from mmap (above the 128 KiB threshold) and goes back on free. */
    size_t big = 1 << 20;
    uint8_t *b = malloc(big);
    CHECK(b, "malloc(1 MiB) failed");
    for (size_t k = 0; k < big; k += PAGE)
        b[k] = (uint8_t)k;
    for (size_t k = 0; k < big; k += PAGE)
        CHECK(b[k] == (uint8_t)k, "1 MiB block lost byte %zu", k);
    free(b);
    for (long i = 0; i < nblocks; i++) {
        for (size_t k = 0; k < sizes[i]; k += 97)
            CHECK(((uint8_t *)blocks[i])[k] == block_byte((size_t)i), "final check: block %ld corrupted", i);
        free(blocks[i]);
    }
    free(blocks);
    free(sizes);
    char *peak = sbrk(0);
    malloc_trim(0);
    char *trimmed = sbrk(0);
    CHECK(trimmed < peak, "malloc_trim did not lower the break (%p -> %p)", (void *)peak, (void *)trimmed);
    printf("heap: malloc %ld blocks, break grew and shrank\n", nblocks);
}

static void brk_phase(int lenient)
{
    const size_t grow = 16, keep = 4, regrow = 8;
    char *cur = sbrk(0);
    char *base = (char *)(((uintptr_t)cur + PAGE - 1) & ~(PAGE - 1));
    size_t pad = (size_t)(base - cur);
    CHECK(sbrk((intptr_t)(pad + grow * PAGE)) == cur, "sbrk grow did not return the old break");
    CHECK(sbrk(0) == base + grow * PAGE, "break is not where sbrk put it");
    for (size_t i = 0; i < grow; i++)
        fill_page(base + i * PAGE, 100 + i);
    for (size_t i = 0; i < grow; i++)
        CHECK(check_page(base + i * PAGE, 100 + i) < 0, "brk page %zu lost its contents", i);

    /* Lower the break: pages [keep, grow) must disappear on Linux. */
    CHECK(brk(base + keep * PAGE) == 0, "brk shrink failed: %s", strerror(errno));
    CHECK(sbrk(0) == base + keep * PAGE, "break not lowered");
    for (size_t i = 0; i < keep; i++)
        CHECK(check_page(base + i * PAGE, 100 + i) < 0, "page %zu below the lowered break changed", i);
    size_t still_mapped = 0;
    for (size_t i = keep; i < grow; i++) {
        char *p = base + i * PAGE + 8;
        struct probe_result r = probe_read(p, NULL);
        if (r.sig == 0) {
            still_mapped++;
            continue;
        }
        expect_fault(r, SIGSEGV, SEGV_MAPERR, p, "read above lowered break");
    }
    if (still_mapped) {
        if (!lenient)
            fail("%zu page(s) above the lowered break are still mapped", still_mapped);
        printf("heap: note: %zu page(s) above the lowered break still mapped (qemu-user behaviour, lenient)\n",
               still_mapped);
    } else {
        printf("heap: pages above the lowered break fault (SEGV_MAPERR)\n");
    }

    /* Grow again: the re-grown pages are fresh and zero. */
    CHECK(brk(base + regrow * PAGE) == 0, "brk regrow failed: %s", strerror(errno));
    for (size_t i = keep; i < regrow; i++)
        for (size_t k = 0; k < PAGE; k += 8)
            CHECK(*(volatile uint64_t *)(base + i * PAGE + k) == 0, "re-grown brk page %zu not zero at %zu", i, k);
    for (size_t i = 0; i < keep; i++)
        CHECK(check_page(base + i * PAGE, 100 + i) < 0, "page %zu changed by regrow", i);
    /* Restore the original break for malloc. */
    CHECK(brk(cur) == 0, "brk restore failed");
    CHECK(sbrk(0) == cur, "break not restored");
    printf("heap: brk grow %zu pages, shrink to %zu, regrow to %zu zero-filled\n", grow, keep, regrow);
}

int main(int argc, char **argv)
{
    guest_start("heap");
    int lenient = 0, argi = 1;
    if (argi < argc && strcmp(argv[argi], "--qemu-brk-lenient") == 0) {
        lenient = 1;
        argi++;
    }
    long nblocks = arg_long(argc, argv, argi, 2000);
    CHECK(nblocks > 0, "blocks must be positive");
    probe_install();
    malloc_phase(nblocks);
    brk_phase(lenient);
    ok();
}
