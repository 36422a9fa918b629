/*
 * mmap — anonymous mmap and every partial-munmap case, checked page by page.
 * Inside a free window of WINDOW pages it maps regions with MAP_FIXED, tags every page
 * with a pattern, munmaps (exact, front trim, back trim, hole punch, one range across
 * several mappings and gaps) and after each step probes every page of the window with a
 * SIGSEGV handler: exactly the expected pages fault (SEGV_MAPERR, exact si_addr) and the
 * survivors keep their contents. Then MAP_FIXED over a mapping, MAP_FIXED_NOREPLACE (EEXIST),
 * hint addresses, a PROT_NONE reservation (SEGV_ACCERR) made RW with mprotect, and the
 * munmap/mmap error cases.
 * qemu-user 7.2 treats MAP_FIXED_NOREPLACE as a plain hint; with --qemu-noreplace-lenient that
 * is reported on a "mmap: note" line instead of failing (Linux refuses with EEXIST).
 * Args: [--qemu-noreplace-lenient] [rounds] (default 1; repeats the munmap cases).
 * Expected final line: "mmap: OK".
 */
#include "guest.h"

#define WINDOW 32

static char *win;              /* the window base */
static uint64_t tags[WINDOW];  /* 0 = page must be unmapped, else its pattern tag */
static uint64_t next_tag = 1;
static int noreplace_lenient;  /* --qemu-noreplace-lenient */

/* map_pages: MAP_FIXED anonymous RW pages [first, first+n) of the window, each freshly tagged. */
static void map_pages(size_t first, size_t n)
{
    void *p = map_anon(win + first * PAGE, n, PROT_READ | PROT_WRITE, MAP_FIXED, "map_pages");
    CHECK(p == win + first * PAGE, "map_pages: MAP_FIXED returned %p, wanted %p", p, (void *)(win + first * PAGE));
    for (size_t i = first; i < first + n; i++) {
        CHECK(*(volatile uint64_t *)(win + i * PAGE) == 0, "fresh page %zu not zero", i);
        tags[i] = next_tag++;
        fill_page(win + i * PAGE, tags[i]);
    }
}

static void unmap_pages(size_t first, size_t n)
{
    CHECK(munmap(win + first * PAGE, n * PAGE) == 0, "munmap(%zu, %zu): %s", first, n, strerror(errno));
    for (size_t i = first; i < first + n; i++)
        tags[i] = 0;
}

/* verify: every window page faults iff its tag is 0; survivors hold their patterns. */
static void verify(const char *step)
{
    char layout[WINDOW + 1];
    for (size_t i = 0; i < WINDOW; i++) {
        char *p = win + i * PAGE + 0x18 + i; /* an odd offset, so si_addr is checked exactly */
        struct probe_result r = probe_read(p, NULL);
        char what[96];
        snprintf(what, sizeof what, "%s: page %zu", step, i);
        if (tags[i] == 0) {
            expect_fault(r, SIGSEGV, SEGV_MAPERR, p, what);
            struct probe_result w = probe_write(p, 1);
            expect_fault(w, SIGSEGV, SEGV_MAPERR, p, what);
            layout[i] = '.';
        } else {
            expect_no_fault(r, what);
            long bad = check_page(win + i * PAGE, tags[i]);
            CHECK(bad < 0, "%s: page %zu word %ld lost its contents", step, i, bad);
            layout[i] = 'M';
        }
    }
    layout[WINDOW] = 0;
    printf("mmap: %-22s %s\n", step, layout);
}

/* plug_free(1): map every free window page PROT_NONE (MAP_FIXED), so that no non-fixed
 * mmap can land in the window; plug_free(0): unmap those plugs again (tags stay 0). */
static void plug_free(int plug)
{
    for (size_t i = 0; i < WINDOW; i++) {
        if (tags[i] != 0)
            continue;
        size_t n = 1;
        while (i + n < WINDOW && tags[i + n] == 0)
            n++;
        if (plug)
            map_anon(win + i * PAGE, n, PROT_NONE, MAP_FIXED, "plug_free");
        else
            CHECK(munmap(win + i * PAGE, n * PAGE) == 0, "plug_free: munmap: %s", strerror(errno));
        i += n - 1;
    }
}

static void munmap_cases(void)
{
    map_pages(0, 4);
    verify("map 0-3");
    unmap_pages(0, 4);
    verify("exact munmap");

    map_pages(0, 8);
    unmap_pages(0, 2);
    verify("front trim");
    unmap_pages(6, 2);
    verify("back trim");
    unmap_pages(2, 4);

    map_pages(0, 8);
    unmap_pages(3, 2);
    verify("hole punch");
    unmap_pages(0, 8);

    map_pages(0, 4);
    map_pages(6, 4);
    map_pages(12, 4);
    map_pages(20, 12);
    verify("four mappings");
    unmap_pages(2, 12);
    verify("span 2-13");
    unmap_pages(16, 8); /* starts in a gap, ends inside a mapping */
    verify("gap to middle");
    unmap_pages(0, WINDOW);
    verify("everything");
    /* munmap of a range with nothing mapped succeeds. */
    unmap_pages(0, WINDOW);
}

static void fixed_and_hints(void)
{
    /* MAP_FIXED over part of a mapping replaces just those pages with zero pages. */
    map_pages(0, 6);
    map_pages(2, 2);
    verify("MAP_FIXED over 2-3");
    /* MAP_FIXED_NOREPLACE over a mapping fails with EEXIST and leaves it alone. */
    void *p = mmap(win + 1 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != MAP_FAILED && noreplace_lenient && p != win + 1 * PAGE) {
        /* qemu-user 7.2 treats MAP_FIXED_NOREPLACE as a hint and maps elsewhere. */
        printf("mmap: note: MAP_FIXED_NOREPLACE over a mapping was moved, not refused (qemu-user behaviour, lenient)\n");
        CHECK(munmap(p, 2 * PAGE) == 0, "munmap moved NOREPLACE mapping");
    } else {
        CHECK(p == MAP_FAILED && errno == EEXIST, "MAP_FIXED_NOREPLACE over a mapping: %p errno %d", p, errno);
    }
    verify("NOREPLACE refused");
    /* ... and in a free range it maps exactly there. */
    p = mmap(win + 8 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(p == win + 8 * PAGE, "MAP_FIXED_NOREPLACE in a free range returned %p", p);
    for (size_t i = 8; i < 10; i++) {
        tags[i] = next_tag++;
        fill_page(win + i * PAGE, tags[i]);
    }
    verify("NOREPLACE free");
    /* A free hint is honoured exactly. */
    p = mmap(win + 12 * PAGE, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p == win + 12 * PAGE, "free hint %p not honoured: got %p", (void *)(win + 12 * PAGE), p);
    for (size_t i = 12; i < 15; i++) {
        tags[i] = next_tag++;
        fill_page(win + i * PAGE, tags[i]);
    }
    verify("free hint");
    /* A hint over an existing mapping is moved elsewhere, and the mapping survives.
     * Linux places it by the normal top-down search, which picks the highest free gap:
     * the window's own free top. So the free window pages are plugged first (PROT_NONE),
     * and the moved mapping must land outside the window. */
    plug_free(1);
    p = mmap(win + 1 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "busy hint: mmap failed: %s", strerror(errno));
    CHECK((char *)p + 2 * PAGE <= win || (char *)p >= win + WINDOW * PAGE,
          "busy hint: new mapping %p inside the window (the old one or a plug)", p);
    CHECK(*(volatile uint64_t *)p == 0, "busy hint: new mapping not zero");
    plug_free(0);
    verify("busy hint moved");
    CHECK(munmap(p, 2 * PAGE) == 0, "munmap busy-hint mapping");
    unmap_pages(0, WINDOW);
}

static void reservation(void)
{
    /* A PROT_NONE reservation faults with SEGV_ACCERR; mprotect RW makes it zero-filled memory. */
    char *r = map_anon(win + 4 * PAGE, 8, PROT_NONE, MAP_FIXED, "reserve");
    for (size_t i = 0; i < 8; i++) {
        char *p = r + i * PAGE + 0x40;
        expect_fault(probe_read(p, NULL), SIGSEGV, SEGV_ACCERR, p, "read PROT_NONE");
        expect_fault(probe_write(p, 1), SIGSEGV, SEGV_ACCERR, p, "write PROT_NONE");
    }
    CHECK(mprotect(r + 2 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect reservation: %s", strerror(errno));
    for (size_t i = 2; i < 6; i++) {
        CHECK(*(volatile uint64_t *)(r + i * PAGE) == 0, "reserved page %zu not zero", i);
        tags[4 + i] = next_tag++;
        fill_page(r + i * PAGE, tags[4 + i]);
    }
    for (size_t i = 0; i < 8; i++) {
        char *p = r + i * PAGE + 0x40;
        struct probe_result res = probe_read(p, NULL);
        if (i < 2 || i >= 6)
            expect_fault(res, SIGSEGV, SEGV_ACCERR, p, "read remaining PROT_NONE");
        else
            expect_no_fault(res, "read reservation made RW");
    }
    CHECK(munmap(r, 8 * PAGE) == 0, "munmap reservation");
    for (size_t i = 4; i < 12; i++)
        tags[i] = 0;
    verify("reservation gone");
    printf("mmap: PROT_NONE reservation faults SEGV_ACCERR, mprotect RW works\n");
}

static void errors(void)
{
    errno = 0;
    CHECK(munmap(win + 1, PAGE) == -1 && errno == EINVAL, "munmap misaligned: errno %d", errno);
    errno = 0;
    CHECK(munmap(win, 0) == -1 && errno == EINVAL, "munmap length 0: errno %d", errno);
    errno = 0;
    void *p = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p == MAP_FAILED && errno == EINVAL, "mmap length 0: errno %d", errno);
    errno = 0;
    p = mmap(win + 1, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(p == MAP_FAILED && errno == EINVAL, "mmap MAP_FIXED misaligned: errno %d", errno);
    errno = 0;
    p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, -1, 0);
    CHECK(p == MAP_FAILED && errno == EBADF, "mmap file-backed with fd -1: errno %d", errno);
    printf("mmap: error cases EINVAL/EBADF\n");
}

int main(int argc, char **argv)
{
    guest_start("mmap");
    int argi = 1;
    if (argi < argc && strcmp(argv[argi], "--qemu-noreplace-lenient") == 0) {
        noreplace_lenient = 1;
        argi++;
    }
    long rounds = arg_long(argc, argv, argi, 1);
    probe_install();
    /* Find a free window: map it, then unmap it (nothing else maps while we work). */
    win = map_anon(NULL, WINDOW, PROT_NONE, 0, "window");
    CHECK(munmap(win, WINDOW * PAGE) == 0, "munmap window");
    verify("empty window");
    for (long r = 0; r < rounds; r++)
        munmap_cases();
    fixed_and_hints();
    reservation();
    errors();
    ok();
}
