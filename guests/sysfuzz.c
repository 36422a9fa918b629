/*
 * sysfuzz — a seeded system-call fuzzer beside a sentinel process: nothing a process does
 * through syscalls may halt the machine, wedge it, leak frames or touch another process.
 *
 * Args: SEED ITERATIONS CHILDREN (defaults 1 300 3).
 *
 * The parent maps a MAP_SHARED anonymous buffer and forks a sentinel: it fills a private
 * buffer and checks both against a pattern (derived from SEED) in a loop, yielding, until the
 * parent writes its stop pipe; its exit status says whether anything changed. The parent then
 * forks CHILDREN fuzzing children. Each closes fds 0-2 and the stop pipe (so its calls cannot
 * write into the run's output or stop the sentinel), installs SIGSEGV/SIGBUS/SIGILL/SIGSYS
 * handlers that siglongjmp back (and no-op handlers for SIGUSR1/2, SIGPIPE, SIGALRM, SIGXFSZ,
 * SIGCHLD), and issues ITERATIONS raw syscall(2)s: numbers from a table of riscv64 calls the
 * kernel implements plus unimplemented and out-of-range numbers (9999, -1, 2^32+64, ...),
 * arguments drawn by an xorshift PRNG (seed SEED*1000+child) from edge cases: 0, -1, 1, 2^53,
 * INT_MIN, huge sizes, page-unaligned, wild, kernel-half and non-canonical pointers, pointers
 * into its own buffers, a read-only page, fds -1/0/1/2/999 and the fds it opened, small flag
 * bitmasks.
 *
 * What the fuzzer may not do, because it would legitimately hurt other processes or the run
 * (not because the kernel should refuse it): signals go only to itself and never SIGKILL/
 * SIGSTOP; no exit before the end, execve, ptrace or reboot; clone only as fork (flags SIGCHLD)
 * whose child _exits at once; prlimit64 only reads; munmap/mprotect/madvise/msync/mremap/
 * MAP_FIXED only inside a private scratch reservation (a PROT_NONE guard of the same size on
 * each side, so offset + length never leaves it) or at kernel-half/non-canonical addresses,
 * with lengths either within the scratch or beyond the user address space; brk never below
 * the current break (static glibc keeps its TLS there); rt_sigaction only reads or gets bad
 * pointers; no rt_sigreturn; no F_SETFL (pipes stay O_NONBLOCK); every call that could sleep
 * (futex, nanosleep, rt_sigtimedwait, rt_sigsuspend, wait4) gets a zero/tiny timeout from
 * the read-only page, WNOHANG, or a bad pointer, so nothing blocks for ever. The signal mask
 * is reset after each iteration.
 *
 * A fuzzing child normally exits 0; one that dies of a signal is counted, not a failure.
 * stdout is deterministic for a seed: "sysfuzz: OK seed=S children=C" when the sentinel and
 * the shared buffer are intact, else a FAIL line and exit 1. The per-child outcomes (kernel
 * dependent) go to stderr.
 */
#include "guest.h"
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define SENT_PAGES 16
#define SCRATCH_LEN (64 * PAGE)
#define BUF_LEN (4 * PAGE)

static uint64_t pattern(uint64_t seed, uint64_t i)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + i * 0xbf58476d1ce4e5b9ULL + 1;
    x ^= x >> 31;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 29);
}

/* ---------------- sentinel ---------------- */

static void fill(uint64_t *p, size_t words, uint64_t seed)
{
    for (size_t i = 0; i < words; i++)
        p[i] = pattern(seed, i);
}

static size_t count_bad(const volatile uint64_t *p, size_t words, uint64_t seed)
{
    size_t bad = 0;
    for (size_t i = 0; i < words; i++)
        bad += p[i] != pattern(seed, i);
    return bad;
}

/* The sentinel: exit 0 when both buffers kept their pattern until told to stop, else 1. */
__attribute__((noreturn)) static void sentinel(int stop_fd, volatile uint64_t *shared, uint64_t seed)
{
    size_t words = SENT_PAGES * PAGE / 8;
    uint64_t *priv = mmap(NULL, SENT_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (priv == MAP_FAILED)
        _exit(2);
    fill(priv, words, seed + 1);
    pid_t me = getpid();
    size_t bad = 0;
    for (;;) {
        bad += count_bad(priv, words, seed + 1) + count_bad(shared, words, seed);
        if (getpid() != me)
            bad++;
        char c;
        ssize_t r = read(stop_fd, &c, 1);
        if (r == 1 || r == 0)
            break;
        sched_yield();
    }
    _exit(bad ? 1 : 0);
}

/* ---------------- fuzzing child ---------------- */

static sigjmp_buf fuzz_jmp;
static volatile sig_atomic_t fuzz_faults;

static void fault_handler(int sig)
{
    (void)sig;
    fuzz_faults++;
    siglongjmp(fuzz_jmp, 1);
}

static void noop_handler(int sig) { (void)sig; }

static void handle(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = SA_NODEFER;
    sigaction(sig, &sa, NULL);
}

/* riscv64 calls the kernel implements (fork-like clone, kill and mm calls are special-cased). */
static const long implemented[] = {
    SYS_getcwd, SYS_dup, SYS_dup3, SYS_fcntl, SYS_ioctl, SYS_mkdirat, SYS_unlinkat, SYS_ftruncate,
    SYS_faccessat, SYS_chdir, SYS_fchdir, SYS_openat, SYS_close, SYS_pipe2, SYS_getdents64, SYS_lseek,
    SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64, SYS_readlinkat, SYS_newfstatat,
    SYS_fstat, SYS_umask, SYS_uname, SYS_sysinfo, SYS_getrandom, SYS_clock_gettime, SYS_clock_getres,
    SYS_gettimeofday, SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid, SYS_prlimit64, SYS_faccessat2,
    SYS_brk, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_msync, SYS_clone, SYS_kill,
    SYS_tgkill, SYS_tkill, SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigpending, SYS_rt_sigsuspend,
    SYS_rt_sigtimedwait, SYS_sigaltstack, SYS_futex, SYS_nanosleep, SYS_clock_nanosleep, SYS_sched_yield,
    SYS_getpid, SYS_gettid, SYS_getppid, SYS_set_tid_address, SYS_set_robust_list, SYS_get_robust_list,
    SYS_wait4, SYS_getpgid, SYS_setpgid, SYS_getsid, SYS_setsid, SYS_setresuid, SYS_setresgid,
    SYS_getresuid, SYS_getresgid, SYS_prctl, SYS_personality, SYS_capget, SYS_sched_getaffinity,
    SYS_sched_setaffinity, SYS_riscv_flush_icache,
};
/* Not implemented here (ENOSYS expected) but harmless on Linux, and numbers beyond any table:
 * a kernel that truncated a7 to 32 bits would run 2^32+64 as write. */
static const long unimplemented[] = {
    SYS_socket, SYS_getcpu, SYS_statx, SYS_membarrier, SYS_times, SYS_getrusage, 500, 1024, 9999,
    -1L, (long)0x100000040ULL, (long)0x800000000000003fULL, INT_MIN,
};

struct fuzz {
    uint64_t rng;
    char *buf;        /* BUF_LEN read-write bytes */
    char *ro;         /* one read-only page: timespecs and path names */
    char *scratch;    /* SCRATCH_LEN inside a 3 * SCRATCH_LEN reservation */
    long last_map;    /* last mmap/mremap result */
    int fds[4];       /* fds it opened (-1 when none) */
    pid_t pid, tid;
};

#define RO_TS_ZERO 0   /* {0, 0} */
#define RO_TS_TINY 16  /* {0, 1000} */
#define RO_TS_BADNS 32 /* {0, 2e9}: EINVAL */
#define RO_TS_NEG 48   /* {-1, 0}: EINVAL */
#define RO_PATHS 256   /* NUL-separated names */
static const char *const path_names[] = {"fz0", "fz1", "fz0/fz1", ".", "/", "", "..", "/nonexistent/x", "fz1/"};
#define NPATHS (sizeof path_names / sizeof path_names[0])

static uint64_t pick(struct fuzz *f, const uint64_t *v, size_t n) { return v[rng_below(&f->rng, n)]; }
#define PICK(f, ...) ({ const uint64_t _v[] = {__VA_ARGS__}; pick(f, _v, sizeof _v / sizeof _v[0]); })

static const char *ro_path(struct fuzz *f, size_t i)
{
    const char *p = f->ro + RO_PATHS;
    while (i--)
        p += strlen(p) + 1;
    return p;
}

#define KERNEL_HALF 0xffffffc000000000ULL
#define NONCANON 0x0000800000000000ULL

/* A wild value: neither a valid pointer nor a sensible size. */
static uint64_t wild(struct fuzz *f)
{
    return PICK(f, 0, 1, 0x10, 0x10000, (uint64_t)-1, (uint64_t)-4096, 1ULL << 53, (uint64_t)(int64_t)INT_MIN,
                KERNEL_HALF, 0xffff800000000000ULL, NONCANON, 0x7fffffffffffULL, 0xdeadbeefULL);
}

/* A pointer argument: wild, or into its own buffers, or the read-only page, or a path name. */
static uint64_t ptr(struct fuzz *f)
{
    switch (rng_below(&f->rng, 8)) {
    case 0: case 1: return wild(f);
    case 2: return (uint64_t)f->buf;
    case 3: return (uint64_t)f->buf + rng_below(&f->rng, BUF_LEN);           /* unaligned */
    case 4: return (uint64_t)f->buf + BUF_LEN - rng_below(&f->rng, 8) - 1;   /* straddles the end */
    case 5: return (uint64_t)f->ro + rng_below(&f->rng, 64);
    case 6: return (uint64_t)ro_path(f, rng_below(&f->rng, NPATHS));
    default: return f->last_map ? (uint64_t)f->last_map : (uint64_t)f->scratch;
    }
}

static uint64_t size(struct fuzz *f)
{
    return PICK(f, 0, 1, 7, 8, 16, 24, 128, PAGE - 1, PAGE, BUF_LEN, BUF_LEN + 1, 1ULL << 31, 1ULL << 53,
                (uint64_t)-1, (uint64_t)(int64_t)INT_MIN, 0x7fffffff);
}

static uint64_t fd(struct fuzz *f)
{
    if (rng_below(&f->rng, 2))
        return (uint64_t)(int64_t)f->fds[rng_below(&f->rng, 4)];
    return PICK(f, (uint64_t)-1, 0, 1, 2, 3, 999, (uint64_t)(int64_t)INT_MIN, (uint64_t)-100 /* AT_FDCWD */,
                1ULL << 32);
}

static uint64_t flags(struct fuzz *f)
{
    switch (rng_below(&f->rng, 4)) {
    case 0: return 0;
    case 1: return rng_below(&f->rng, 16);
    case 2: return 1ULL << rng_below(&f->rng, 32);
    default: return rng_next(&f->rng) & 0xffff;
    }
}

static uint64_t num(struct fuzz *f)
{
    return PICK(f, 0, 1, 2, 3, 4, 5, 8, 15, 16, 31, 64, 1024, (uint64_t)-1, 1ULL << 53,
                (uint64_t)(int64_t)INT_MIN, 0x7fffffff, 1ULL << 32);
}

/* An address for mm calls: inside the scratch (aligned or not) or where no user mapping can be. */
static uint64_t mm_addr(struct fuzz *f)
{
    switch (rng_below(&f->rng, 6)) {
    case 0: return (uint64_t)f->scratch;
    case 1: return (uint64_t)f->scratch + PAGE * rng_below(&f->rng, SCRATCH_LEN / PAGE);
    case 2: return (uint64_t)f->scratch + rng_below(&f->rng, SCRATCH_LEN);
    case 3: return (uint64_t)f->scratch - PAGE * (1 + rng_below(&f->rng, 4)); /* into the guard */
    default: return PICK(f, KERNEL_HALF, 0xffff800000000000ULL, NONCANON, 1ULL << 53,
                         (uint64_t)(int64_t)INT_MIN & ~(PAGE - 1));
    }
}

/* A length for mm calls: at most SCRATCH_LEN, or beyond the whole user address space. */
static uint64_t mm_len(struct fuzz *f)
{
    return PICK(f, 0, 1, PAGE - 1, PAGE, 2 * PAGE + 5, 16 * PAGE, SCRATCH_LEN, 1ULL << 53, (uint64_t)-1,
                (uint64_t)-4096, (uint64_t)(int64_t)INT_MIN, 1ULL << 62);
}

static long note_fd(struct fuzz *f, long r)
{
    if (r >= 0 && r < 1024)
        f->fds[rng_below(&f->rng, 4)] = (int)r;
    return r;
}

/* With SYSFUZZ_TRACE=<file> each call is logged to fd TRACE_FD (not in the fd pool) first. */
#define TRACE_FD 1000
static int tracing;
static long sc6(long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    if (tracing) {
        char line[200];
        int n = snprintf(line, sizeof line, "%d %ld %#llx %#llx %#llx %#llx %#llx %#llx\n", (int)getpid(), nr,
                         (unsigned long long)a0, (unsigned long long)a1, (unsigned long long)a2,
                         (unsigned long long)a3, (unsigned long long)a4, (unsigned long long)a5);
        (void)!write(TRACE_FD, line, (size_t)n);
    }
    return syscall(nr, a0, a1, a2, a3, a4, a5);
}
#define SC(...) SC_(__VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define SC_(n, a, b, c, d, e, g, ...) sc6((long)(n), (uint64_t)(a), (uint64_t)(b), (uint64_t)(c), (uint64_t)(d), (uint64_t)(e), (uint64_t)(g))

/* One fuzzed call. Returns the raw result (-1 with errno on failure, as syscall(2) does). */
static long fuzz_one(struct fuzz *f)
{
    uint64_t a[6];
    for (int i = 0; i < 6; i++)
        a[i] = rng_below(&f->rng, 3) == 0 ? num(f) : rng_below(&f->rng, 2) ? ptr(f) : size(f);
    long nr;
    if (rng_below(&f->rng, 10) == 0)
        nr = unimplemented[rng_below(&f->rng, sizeof unimplemented / sizeof unimplemented[0])];
    else
        nr = implemented[rng_below(&f->rng, sizeof implemented / sizeof implemented[0])];
    uint64_t ts = (uint64_t)f->ro + PICK(f, RO_TS_ZERO, RO_TS_TINY, RO_TS_BADNS, RO_TS_NEG);
    uint64_t ts_or_bad = rng_below(&f->rng, 4) ? ts : PICK(f, 0x10, KERNEL_HALF, NONCANON, (uint64_t)-1);
    switch (nr) {
    case SYS_openat:
        return note_fd(f, SC(nr, fd(f), ptr(f), flags(f) | PICK(f, 0, O_CREAT, O_DIRECTORY, O_TRUNC, O_RDWR),
                                  PICK(f, 0, 0644, 0777, (uint64_t)-1)));
    case SYS_pipe2: /* always O_NONBLOCK: a read of an empty pipe must not sleep */
        return SC(nr, ptr(f), O_NONBLOCK | PICK(f, 0, O_CLOEXEC, O_DIRECT, 1, 1ULL << 40));
    case SYS_dup: return note_fd(f, SC(nr, fd(f)));
    case SYS_dup3: return note_fd(f, SC(nr, fd(f), fd(f), PICK(f, 0, O_CLOEXEC, 1, (uint64_t)-1)));
    case SYS_fcntl: /* never F_SETFL (4): pipes stay non-blocking; F_SETLKW (7) could sleep */
        return note_fd(f, SC(nr, fd(f), PICK(f, 0, 1, 2, 3, 5, 6, 1030, 1024, 1025, 9999, (uint64_t)-1), num(f)));
    case SYS_close: case SYS_fchdir: case SYS_fstat:
        return SC(nr, fd(f), ptr(f));
    case SYS_read: case SYS_write: case SYS_getdents64: case SYS_readv: case SYS_writev:
        return SC(nr, fd(f), ptr(f), size(f));
    case SYS_pread64: case SYS_pwrite64:
        return SC(nr, fd(f), ptr(f), size(f), PICK(f, 0, 1, PAGE, 1ULL << 53, (uint64_t)-1, 1ULL << 40));
    case SYS_lseek: return SC(nr, fd(f), num(f), PICK(f, 0, 1, 2, 3, 4, 5, (uint64_t)-1));
    case SYS_ftruncate: return SC(nr, fd(f), PICK(f, 0, 1, PAGE, 1ULL << 53, (uint64_t)-1, (uint64_t)(int64_t)INT_MIN));
    case SYS_ioctl: return SC(nr, fd(f), PICK(f, 0x5401, 0x5413, 0x541b, 0, (uint64_t)-1), ptr(f));
    case SYS_mkdirat: case SYS_unlinkat: case SYS_faccessat: case SYS_faccessat2: case SYS_readlinkat:
    case SYS_newfstatat:
        return SC(nr, fd(f), ptr(f), rng_below(&f->rng, 2) ? ptr(f) : flags(f), rng_below(&f->rng, 2) ? size(f) : flags(f));
    case SYS_chdir: return SC(nr, ptr(f));
    case SYS_brk: {
        uint64_t cur = (uint64_t)syscall(SYS_brk, 0);
        return SC(nr, PICK(f, 0, 1, 0x10, KERNEL_HALF, (uint64_t)-1, NONCANON) +
                               (rng_below(&f->rng, 2) ? cur + PICK(f, 0, 1, PAGE, 16 * PAGE, 1ULL << 53) : 0));
    }
    case SYS_mmap: {
        uint64_t fl = PICK(f, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, 0, 3) |
                      (flags(f) & (MAP_ANONYMOUS | MAP_POPULATE | MAP_NORESERVE | MAP_GROWSDOWN | MAP_STACK | MAP_LOCKED));
        uint64_t addr = rng_below(&f->rng, 2) ? mm_addr(f) : wild(f);
        switch (rng_below(&f->rng, 3)) {
        case 0: fl |= MAP_FIXED; addr = mm_addr(f); break;
        case 1: fl |= MAP_FIXED_NOREPLACE; addr = mm_addr(f); break;
        default: break;
        }
        long r = SC(nr, addr, mm_len(f), rng_below(&f->rng, 8), fl, fd(f), PICK(f, 0, PAGE, 1, (uint64_t)-4096, 1ULL << 53));
        if (r != -1)
            f->last_map = r;
        return r;
    }
    case SYS_munmap: case SYS_msync:
        return SC(nr, mm_addr(f), mm_len(f), flags(f));
    case SYS_mprotect: return SC(nr, mm_addr(f), mm_len(f), PICK(f, 0, 1, 3, 5, 7, 8, 0x01000000, 0x02000000, (uint64_t)-1));
    case SYS_madvise: return SC(nr, mm_addr(f), mm_len(f), PICK(f, 0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 14, 999, (uint64_t)-1));
    case SYS_mremap: {
        long r = SC(nr, mm_addr(f), mm_len(f), mm_len(f), PICK(f, 0, 1, 2, 3, 4, 5, 7, 8), mm_addr(f));
        if (r != -1)
            f->last_map = r;
        return r;
    }
    case SYS_clone: { /* fork-like only; the child leaves at once */
        long r = SC(nr, SIGCHLD, 0, 0, 0, 0);
        if (r == 0)
            syscall(SYS_exit_group, 0);
        return r;
    }
    case SYS_kill: return SC(nr, f->pid, PICK(f, 0, SIGUSR1, SIGSEGV, SIGCHLD, SIGPIPE, SIGURG, 65, (uint64_t)-1));
    case SYS_tgkill: return SC(nr, PICK(f, f->pid, (uint64_t)-1, 0), f->tid, PICK(f, 0, SIGUSR2, SIGBUS, 65));
    case SYS_tkill: return SC(nr, PICK(f, f->tid, (uint64_t)-1, 0), PICK(f, 0, SIGUSR1, SIGILL, 65, (uint64_t)-1));
    case SYS_rt_sigaction: /* only reads, or bad pointers: the fault handlers stay */
        return SC(nr, num(f), PICK(f, 0, 0x10, KERNEL_HALF, NONCANON, (uint64_t)-1), ptr(f), PICK(f, 8, 0, 4, 16));
    case SYS_rt_sigprocmask: return SC(nr, PICK(f, 0, 1, 2, 3, (uint64_t)-1), ptr(f), ptr(f), PICK(f, 8, 0, 4, 16));
    case SYS_rt_sigsuspend: /* a valid mask would sleep until a signal: only bad ones */
        return SC(nr, PICK(f, 0, 0x10, KERNEL_HALF, NONCANON), PICK(f, 8, 0, 4));
    case SYS_rt_sigtimedwait: return SC(nr, ptr(f), ptr(f), ts_or_bad, PICK(f, 8, 0, 4, 16));
    case SYS_futex: /* a matching FUTEX_WAIT without a timeout would sleep: always a timeout */
        return SC(nr, ptr(f), PICK(f, 0, 1, 3, 4, 9, 10, 128, 129, 137, 99, (uint64_t)-1), num(f), ts_or_bad, ptr(f), num(f));
    case SYS_nanosleep: return SC(nr, ts_or_bad, ptr(f));
    case SYS_clock_nanosleep: return SC(nr, PICK(f, 0, 1, 7, 99, (uint64_t)-1), PICK(f, 0, 1, 2), ts_or_bad, ptr(f));
    case SYS_wait4: return SC(nr, PICK(f, (uint64_t)-1, 0, 1, 999, (uint64_t)(int64_t)INT_MIN), ptr(f),
                                   WNOHANG | (flags(f) & ~(uint64_t)WNOHANG & 0xffff) , ptr(f));
    case SYS_prlimit64: /* reads only: a new limit could starve the rest of the run */
        return SC(nr, PICK(f, 0, f->pid, (uint64_t)-1, 999), num(f), PICK(f, 0, 0x10, KERNEL_HALF, NONCANON), ptr(f));
    case SYS_setpgid: return SC(nr, PICK(f, 0, f->pid, (uint64_t)-1, 999), PICK(f, 0, f->pid, (uint64_t)-1, 999));
    case SYS_prctl: return SC(nr, PICK(f, 0, 1, 2, 3, 4, 15, 16, 36, 37, 38, 39, 9999, (uint64_t)-1), num(f), ptr(f), num(f), num(f));
    case SYS_personality: return SC(nr, PICK(f, 0xffffffff, 0, 0x0008, (uint64_t)-1));
    case SYS_set_robust_list: return SC(nr, ptr(f), PICK(f, 24, 0, 23, (uint64_t)-1));
    case SYS_setresuid: case SYS_setresgid:
        return SC(nr, PICK(f, (uint64_t)-1, 0, 1000), PICK(f, (uint64_t)-1, 0, 1000), PICK(f, (uint64_t)-1, 0, 1000));
    case SYS_sched_setaffinity: case SYS_sched_getaffinity:
        /* sizes bounded: qemu-riscv64 allocates the user's size on its stack */
        return SC(nr, PICK(f, 0, f->pid, (uint64_t)-1, 999), PICK(f, 0, 1, 7, 8, 16, 128, PAGE), ptr(f));
    default:
        return SC(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
}

/* A fuzzing child. Exits 0 after `iterations` calls (if it survives them). */
__attribute__((noreturn)) static void fuzzer(uint64_t seed, long iterations, int stop_r, int stop_w)
{
    close(stop_r);
    close(stop_w);
    close(0);
    close(1);
    close(2);
    struct fuzz f;
    memset(&f, 0, sizeof f);
    f.rng = seed ? seed : 1;
    f.pid = getpid();
    f.tid = (pid_t)syscall(SYS_gettid);
    for (int i = 0; i < 4; i++)
        f.fds[i] = -1;
    char *resv = mmap(NULL, 3 * SCRATCH_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    f.buf = mmap(NULL, BUF_LEN + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (resv == MAP_FAILED || f.buf == MAP_FAILED)
        _exit(3);
    f.scratch = resv + SCRATCH_LEN;
    if (mprotect(f.scratch, SCRATCH_LEN, PROT_READ | PROT_WRITE) != 0)
        _exit(3);
    f.ro = f.buf + BUF_LEN;
    struct timespec t[4] = {{0, 0}, {0, 1000}, {0, 2000000000L}, {-1, 0}};
    memcpy(f.ro, t, sizeof t);
    char *p = f.ro + RO_PATHS;
    for (size_t i = 0; i < NPATHS; i++) {
        strcpy(p, path_names[i]);
        p += strlen(p) + 1;
    }
    if (mprotect(f.ro, PAGE, PROT_READ) != 0)
        _exit(3);
    for (size_t i = 0; i < BUF_LEN; i++)
        f.buf[i] = (char)rng_next(&f.rng);
    handle(SIGSEGV, fault_handler);
    handle(SIGBUS, fault_handler);
    handle(SIGILL, fault_handler);
    handle(SIGSYS, fault_handler);
    handle(SIGUSR1, noop_handler);
    handle(SIGUSR2, noop_handler);
    handle(SIGPIPE, noop_handler);
    handle(SIGALRM, noop_handler);
    handle(SIGXFSZ, noop_handler);
    handle(SIGCHLD, noop_handler);
    sigset_t none;
    sigemptyset(&none);
    for (volatile long i = 0; i < iterations; i++) {
        if (sigsetjmp(fuzz_jmp, 1) == 0)
            (void)fuzz_one(&f);
        sigprocmask(SIG_SETMASK, &none, NULL);
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    syscall(SYS_exit_group, 0);
    __builtin_unreachable();
}

int main(int argc, char **argv)
{
    guest_start("sysfuzz");
    uint64_t seed = (uint64_t)arg_long(argc, argv, 1, 1);
    long iterations = arg_long(argc, argv, 2, 300);
    long children = arg_long(argc, argv, 3, 3);
    CHECK(iterations >= 0 && children >= 1 && children <= 64, "bad arguments");
    const char *trace = getenv("SYSFUZZ_TRACE");
    if (trace) {
        int t = open(trace, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        CHECK(t >= 0 && dup2(t, TRACE_FD) == TRACE_FD, "open %s: %s", trace, strerror(errno));
        close(t);
        tracing = 1;
    }
    printf("sysfuzz: seed=%llu iterations=%ld children=%ld\n", (unsigned long long)seed, iterations, children);

    size_t words = SENT_PAGES * PAGE / 8;
    uint64_t *shared = mmap(NULL, SENT_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shared != MAP_FAILED, "mmap shared sentinel buffer: %s", strerror(errno));
    fill(shared, words, seed);
    int stop[2];
    CHECK(pipe2(stop, O_NONBLOCK) == 0, "pipe2");
    pid_t sent = fork();
    CHECK(sent >= 0, "fork sentinel: %s", strerror(errno));
    if (sent == 0) {
        close(stop[1]);
        sentinel(stop[0], shared, seed);
    }
    pid_t kids[64];
    for (long c = 0; c < children; c++) {
        kids[c] = fork();
        CHECK(kids[c] >= 0, "fork fuzzer %ld: %s", c, strerror(errno));
        if (kids[c] == 0)
            fuzzer(seed * 1000 + (uint64_t)c + 1, iterations, stop[0], stop[1]);
    }
    long clean = 0, signalled = 0, other = 0;
    for (long c = 0; c < children; c++) {
        int st;
        CHECK(waitpid(kids[c], &st, 0) == kids[c], "waitpid fuzzer %ld: %s", c, strerror(errno));
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            clean++;
        else if (WIFSIGNALED(st)) {
            signalled++;
            fprintf(stderr, "sysfuzz: child %ld (seed %llu) died of signal %d\n", c,
                    (unsigned long long)(seed * 1000 + (uint64_t)c + 1), WTERMSIG(st));
        } else {
            other++;
            fprintf(stderr, "sysfuzz: child %ld (seed %llu) exited %d\n", c,
                    (unsigned long long)(seed * 1000 + (uint64_t)c + 1), WEXITSTATUS(st));
        }
    }
    fprintf(stderr, "sysfuzz: children clean=%ld signalled=%ld other=%ld\n", clean, signalled, other);
    CHECK(other == 0, "%ld fuzzing children exited non-zero without a signal", other);
    CHECK(write(stop[1], "x", 1) == 1, "stop the sentinel");
    int st;
    CHECK(waitpid(sent, &st, 0) == sent, "waitpid sentinel: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sentinel saw its memory change (status 0x%x)", st);
    size_t bad = count_bad(shared, words, seed);
    CHECK(bad == 0, "%zu words of the shared buffer changed", bad);
    printf("sysfuzz: OK seed=%llu children=%ld\n", (unsigned long long)seed, children);
    return 0;
}
