/*
 * guest.h — helpers shared by the bundled guest programs (header-only, static functions).
 *
 * Every guest is self-checking: it prints a few informative lines and a final line
 * "<name>: OK" and exits 0, or prints "<name>: FAIL <what>" and exits 1.
 * stdout is line-buffered so that a fork never duplicates buffered output and a crash
 * never loses a line that was already printed.
 *
 * Fault probes: probe_read()/probe_write() touch one address with a SIGSEGV/SIGBUS handler
 * armed and report whether it faulted, with the signal, si_code and si_addr. The jump
 * buffer is thread-local, so threads may probe at the same time. The handler runs with
 * SA_NODEFER so a fault inside a probe never leaves SIGSEGV blocked.
 */
#ifndef GUEST_H
#define GUEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Helpers below are static; a guest uses only some of them. */
#pragma GCC diagnostic ignored "-Wunused-function"

#define PAGE 4096UL

static const char *guest_name = "guest";

/* guest_start: name the guest (prefix of every line) and make stdout line-buffered. */
static void guest_start(const char *name)
{
    guest_name = name;
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* fail: print "<name>: FAIL <what>" and exit 1. Never returns. */
__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
    va_list ap;
    printf("%s: FAIL ", guest_name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(1);
}

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond))                                                                     \
            fail(__VA_ARGS__);                                                           \
    } while (0)

/* sleep_ms: sleep ms milliseconds, resuming after signal handlers (EINTR). */
static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* reap: waitpid(pid) must return pid (retried on EINTR); its wait status. */
static int reap(pid_t pid)
{
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
    CHECK(r == pid, "waitpid(%d) = %d (errno %d)", (int)pid, (int)r, errno);
    return st;
}

/* expect_exit: wait status st is a normal exit with code. */
static void expect_exit(int st, int code, const char *what)
{
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == code, "%s: status 0x%x, expected exit %d", what, st, code);
}

/* expect_errno: a call's result r is -1 with errno err. */
static void expect_errno(long r, int err, const char *what)
{
    CHECK(r == -1 && errno == err, "%s = %ld errno %d, expected errno %d", what, r, errno, err);
}

/* ok: print the final "<name>: OK" line and exit 0. */
/* A descriptor number that is surely closed now: the lowest free one. Guests use it instead of a
 * literal (77, 99, 999): under qemu-user the guest inherits whatever the host process had open
 * (a test runner's pipes), so a literal number may be open there. Needs a free slot below
 * RLIMIT_NOFILE. */
static int closed_fd(void)
{
    int fd = dup(2);
    if (fd < 0) fd = dup(0);
    if (fd < 0) fail("closed_fd: dup: %s", strerror(errno));
    close(fd);
    return fd;
}

__attribute__((noreturn)) static void ok(void)
{
    printf("%s: OK\n", guest_name);
    fflush(stdout);
    exit(0);
}

/* arg_long: argv[i] as a number (decimal or 0x hex), or dflt when absent. Fails on junk. */
static long arg_long(int argc, char **argv, int i, long dflt)
{
    if (i >= argc)
        return dflt;
    char *end;
    errno = 0;
    long v = strtol(argv[i], &end, 0);
    if (errno || *end || end == argv[i])
        fail("bad argument %d: '%s' is not a number", i, argv[i]);
    return v;
}

/* xorshift64*: the seeded PRNG every guest uses (deterministic across machines). */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* rng_below: uniform-ish value in [0, n). */
static inline uint64_t rng_below(uint64_t *s, uint64_t n) { return rng_next(s) % n; }

/* ---- fault probes ------------------------------------------------------------------- */

struct probe_result {
    int sig;        /* 0 when the access did not fault */
    int code;       /* si_code */
    uintptr_t addr; /* si_addr */
};

static __thread sigjmp_buf probe_jmp;
static __thread volatile int probe_armed;
static __thread struct probe_result probe_last;

static void probe_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (!probe_armed) {
        /* A fault outside a probe is a real crash: die of it with the default action. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    probe_armed = 0;
    probe_last.sig = sig;
    probe_last.code = si->si_code;
    probe_last.addr = (uintptr_t)si->si_addr;
    siglongjmp(probe_jmp, 1);
}

/* probe_install: route SIGSEGV and SIGBUS to the probe handler (process-wide). */
static void probe_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = probe_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) || sigaction(SIGBUS, &sa, NULL))
        fail("probe_install: sigaction: %s", strerror(errno));
}

/* probe_read: load one byte at p; returns the fault (sig 0 when none), *out gets the byte. */
static struct probe_result probe_read(const volatile void *p, unsigned char *out)
{
    probe_last.sig = 0;
    if (sigsetjmp(probe_jmp, 0) == 0) {
        probe_armed = 1;
        unsigned char v = *(const volatile unsigned char *)p;
        probe_armed = 0;
        if (out)
            *out = v;
    }
    return probe_last;
}

/* probe_read64: load one aligned 64-bit word at p; like probe_read. */
static struct probe_result probe_read64(const volatile void *p, uint64_t *out)
{
    probe_last.sig = 0;
    if (sigsetjmp(probe_jmp, 0) == 0) {
        probe_armed = 1;
        uint64_t v = *(const volatile uint64_t *)p;
        probe_armed = 0;
        if (out)
            *out = v;
    }
    return probe_last;
}

/* probe_write: store one byte v at p; returns the fault (sig 0 when none). */
static struct probe_result probe_write(volatile void *p, unsigned char v)
{
    probe_last.sig = 0;
    if (sigsetjmp(probe_jmp, 0) == 0) {
        probe_armed = 1;
        *(volatile unsigned char *)p = v;
        probe_armed = 0;
    }
    return probe_last;
}

/* probe_write64: store one aligned 64-bit word v at p; like probe_write. */
static struct probe_result probe_write64(volatile void *p, uint64_t v)
{
    probe_last.sig = 0;
    if (sigsetjmp(probe_jmp, 0) == 0) {
        probe_armed = 1;
        *(volatile uint64_t *)p = v;
        probe_armed = 0;
    }
    return probe_last;
}

/* expect_fault: a probe result must be signal sig with si_code code at address addr. */
static void expect_fault(struct probe_result r, int sig, int code, const void *addr, const char *what)
{
    CHECK(r.sig == sig, "%s: expected signal %d, got %d", what, sig, r.sig);
    CHECK(r.code == code, "%s: expected si_code %d, got %d", what, code, r.code);
    CHECK(r.addr == (uintptr_t)addr, "%s: expected si_addr %p, got %#lx", what, addr,
          (unsigned long)r.addr);
}

/* expect_no_fault: a probe result must show no fault. */
static void expect_no_fault(struct probe_result r, const char *what)
{
    CHECK(r.sig == 0, "%s: unexpected signal %d si_code %d at %#lx", what, r.sig, r.code,
          (unsigned long)r.addr);
}

/* page_pattern: the 64-bit word stored at word w of a page tagged tag. */
static inline uint64_t page_pattern(uint64_t tag, uint64_t w)
{
    return (tag << 32) ^ (w * 0x9E3779B97F4A7C15ULL) ^ 0x5A5A0000ULL;
}

/* fill_page: write page_pattern(tag, w) into every word of the page at p. */
static void fill_page(void *p, uint64_t tag)
{
    uint64_t *w = p;
    for (uint64_t i = 0; i < PAGE / 8; i++)
        w[i] = page_pattern(tag, i);
}

/* check_page: every word of the page at p holds page_pattern(tag, w); returns bad word or -1. */
static long check_page(const void *p, uint64_t tag)
{
    const volatile uint64_t *w = p;
    for (uint64_t i = 0; i < PAGE / 8; i++)
        if (w[i] != page_pattern(tag, i))
            return (long)i;
    return -1;
}

/* map_anon: anonymous private RW mapping of n pages (at addr with extra flags); fails loudly. */
static void *map_anon(void *addr, size_t n, int prot, int flags, const char *what)
{
    void *p = mmap(addr, n * PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    if (p == MAP_FAILED)
        fail("%s: mmap: %s", what, strerror(errno));
    return p;
}

#endif
