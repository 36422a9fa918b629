/*
 * mprotect — permission changes on an anonymous mapping, checked with fault probes:
 * RW -> R (a write faults SEGV_ACCERR at the exact address, data unchanged), R -> RW,
 * PROT_NONE and back (contents survive), mprotect of the middle splits the mapping,
 * PROT_WRITE alone implies read, and code written into a page runs after mprotect to
 * R|X (rewritten and run again: a pre-decoded or cached instruction must not survive),
 * while jumping into a page without X faults. Error cases: ENOMEM on an unmapped
 * range, EINVAL on a misaligned address.
 * Args: [rounds] (default 1). Expected final line: "mprotect: OK".
 */
#include "guest.h"

#define NPAGES 8

static char *m;
static uint64_t tag_base;

static void check_all(const char *what)
{
    for (size_t i = 0; i < NPAGES; i++) {
        long bad = check_page(m + i * PAGE, tag_base + i);
        CHECK(bad < 0, "%s: page %zu word %ld changed", what, i, bad);
    }
}

/* expect_perms: page i readable iff r[i]=='r' or 'w', writable iff 'w'; '-' neither. */
static void expect_perms(const char *layout, const char *what)
{
    for (size_t i = 0; i < NPAGES; i++) {
        char *p = m + i * PAGE + 0x88;
        unsigned char v;
        struct probe_result rr = probe_read(p, &v);
        if (layout[i] == '-') {
            expect_fault(rr, SIGSEGV, SEGV_ACCERR, p, what);
        } else {
            expect_no_fault(rr, what);
        }
        struct probe_result wr = probe_write(p, rr.sig ? 0 : v); /* writes back what it read */
        if (layout[i] == 'w') {
            expect_no_fault(wr, what);
        } else {
            expect_fault(wr, SIGSEGV, SEGV_ACCERR, p, what);
        }
    }
    printf("mprotect: %-24s %s\n", what, layout);
}

static void prot(size_t first, size_t n, int p)
{
    CHECK(mprotect(m + first * PAGE, n * PAGE, p) == 0, "mprotect(%zu,%zu,%d): %s", first, n, p, strerror(errno));
}

static void perm_cases(void)
{
    for (size_t i = 0; i < NPAGES; i++)
        fill_page(m + i * PAGE, tag_base + i);
    expect_perms("wwwwwwww", "RW");
    prot(0, NPAGES, PROT_READ);
    expect_perms("rrrrrrrr", "RW -> R");
    check_all("after R");
    prot(0, NPAGES, PROT_READ | PROT_WRITE);
    expect_perms("wwwwwwww", "R -> RW");
    prot(0, NPAGES, PROT_NONE);
    expect_perms("--------", "PROT_NONE");
    prot(0, NPAGES, PROT_READ | PROT_WRITE);
    check_all("after PROT_NONE and back");
    prot(3, 2, PROT_READ);
    expect_perms("wwwrrwww", "split middle R");
    prot(2, 4, PROT_NONE);
    expect_perms("ww----ww", "split 2-5 NONE");
    prot(1, 6, PROT_READ);
    expect_perms("wrrrrrrw", "merge 1-6 R");
    prot(0, NPAGES, PROT_WRITE); /* write-only is read-write on Linux/RISC-V */
    expect_perms("wwwwwwww", "PROT_WRITE only");
    check_all("after splits");
}

typedef long (*fn_t)(void);

static void exec_cases(void)
{
    uint32_t *code = map_anon(NULL, 1, PROT_READ | PROT_WRITE, 0, "code page");
    code[0] = 0x02a00513; /* addi a0, zero, 42 */
    code[1] = 0x00008067; /* jalr zero, 0(ra)   (ret) */
    fn_t fn = (fn_t)(void *)code;
    /* Jumping into a page without PROT_EXEC faults at the target. */
    struct probe_result r = { 0 };
    probe_last.sig = 0;
    if (sigsetjmp(probe_jmp, 0) == 0) {
        probe_armed = 1;
        fn();
        probe_armed = 0;
    }
    r = probe_last;
    expect_fault(r, SIGSEGV, SEGV_ACCERR, code, "call into RW page");

    CHECK(mprotect(code, PAGE, PROT_READ | PROT_EXEC) == 0, "mprotect RX: %s", strerror(errno));
    __builtin___clear_cache((char *)code, (char *)code + 8);
    long v1 = fn();
    CHECK(v1 == 42, "code page returned %ld, want 42", v1);
    /* Rewrite the instruction and run it again. */
    CHECK(mprotect(code, PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect RW: %s", strerror(errno));
    code[0] = 0x06300513; /* addi a0, zero, 99 */
    CHECK(mprotect(code, PAGE, PROT_READ | PROT_EXEC) == 0, "mprotect RX again: %s", strerror(errno));
    __builtin___clear_cache((char *)code, (char *)code + 8);
    long v2 = fn();
    CHECK(v2 == 99, "rewritten code page returned %ld, want 99 (stale instruction)", v2);
    CHECK(munmap(code, PAGE) == 0, "munmap code page");
    printf("mprotect: code page ran 42 then rewritten 99; no-exec call faults\n");
}

static void errors(void)
{
    char *hole = map_anon(NULL, 3, PROT_READ, 0, "hole");
    CHECK(munmap(hole + PAGE, PAGE) == 0, "munmap middle");
    errno = 0;
    CHECK(mprotect(hole, 3 * PAGE, PROT_READ | PROT_WRITE) == -1 && errno == ENOMEM,
          "mprotect over a hole: errno %d, want ENOMEM", errno);
    errno = 0;
    CHECK(mprotect(hole + 1, PAGE, PROT_READ) == -1 && errno == EINVAL, "mprotect misaligned: errno %d", errno);
    munmap(hole, 3 * PAGE);
    printf("mprotect: error cases ENOMEM/EINVAL\n");
}

int main(int argc, char **argv)
{
    guest_start("mprotect");
    long rounds = arg_long(argc, argv, 1, 1);
    probe_install();
    m = map_anon(NULL, NPAGES, PROT_READ | PROT_WRITE, 0, "mapping");
    for (long r = 0; r < rounds; r++) {
        tag_base = 1000 + (uint64_t)r * NPAGES;
        perm_cases();
    }
    exec_cases();
    errors();
    ok();
}
