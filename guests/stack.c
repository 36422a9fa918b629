/*
 * stack.c — the main thread's stack grows on demand up to RLIMIT_STACK, as on Linux (issue 13,
 * "Limits that must go"). Modes:
 *
 *   stack recurse KIB         recurse KIB KiB deep (1 KiB frames, every frame written and
 *                             checked on the way back): must pass for 6 MiB under the default
 *                             8 MiB RLIMIT_STACK.
 *   stack limit LIMKIB KIB    a child sets RLIMIT_STACK to LIMKIB KiB (0: leave the default)
 *                             and recurses KIB KiB: prints whether it finished or how it died
 *                             (beyond the limit: SIGSEGV, as Linux).
 *   stack gap KIB             a child maps a page 2 MiB below its stack pointer (MAP_FIXED),
 *                             then recurses KIB KiB: growing to within 1 MiB of that mapping
 *                             (Linux's stack_guard_gap) is SIGSEGV; less is fine.
 *   stack args KIB PATH       a child execs PATH ("stack argc") with KIB KiB of arguments in
 *                             64 KiB strings: prints E2BIG, or what the new program received.
 *   stack argc                (the exec'd side) prints its argument count and bytes, exits 0.
 *
 * qemu-riscv64 maps a fixed 8 MiB stack and ignores setrlimit(RLIMIT_STACK), so only `recurse`,
 * `limit 0 ...` and `args` (E2BIG) are comparable there (test/guests/stack.test.ts).
 */
#include "guest.h"
#include <sys/resource.h>
#include <sys/wait.h>

/* One 1 KiB frame per level; the buffer is used after the call so no tail call or loop remains. */
__attribute__((noinline)) static long recurse(long depth)
{
    volatile char buf[1000];
    for (int i = 0; i < (int)sizeof buf; i += 64) buf[i] = (char)(depth + i);
    long below = depth > 1 ? recurse(depth - 1) : 0;
    long sum = below;
    for (int i = 0; i < (int)sizeof buf; i += 64) {
        if (buf[i] != (char)(depth + i)) return -1000000000L;
        sum += buf[i] & 1;
    }
    return sum;
}

static long expected(long depth)
{
    long sum = 0;
    for (long d = 1; d <= depth; d++)
        for (int i = 0; i < 1000; i += 64) sum += (char)(d + i) & 1;
    return sum;
}

/* Wait for child c and describe its end. */
static void report(pid_t c, const char *what)
{
    int st;
    if (waitpid(c, &st, 0) != c) fail("waitpid errno %d", errno);
    if (WIFEXITED(st)) printf("stack: %s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) printf("stack: %s: killed by %s\n", what, WTERMSIG(st) == SIGSEGV ? "SIGSEGV" : strsignal(WTERMSIG(st)));
}

static int do_recurse(long kib)
{
    long got = recurse(kib);
    CHECK(got == expected(kib), "recursion of %ld KiB returned %ld, expected %ld", kib, got, expected(kib));
    printf("stack: recursed %ld KiB, every frame intact\n", kib);
    return 0;
}

static int do_limit(long limkib, long kib)
{
    pid_t c = fork();
    if (c < 0) fail("fork errno %d", errno);
    if (c == 0) {
        if (limkib > 0) {
            struct rlimit rl = { (rlim_t)limkib * 1024, RLIM_INFINITY };
            if (setrlimit(RLIMIT_STACK, &rl) != 0) _exit(90);
        }
        _exit(recurse(kib) == expected(kib) ? 0 : 91);
    }
    char what[64];
    snprintf(what, sizeof what, "%ld KiB deep", kib);
    report(c, what);
    return 0;
}

static int do_gap(long kib)
{
    pid_t c = fork();
    if (c < 0) fail("fork errno %d", errno);
    if (c == 0) {
        uintptr_t sp = (uintptr_t)__builtin_frame_address(0) & ~(PAGE - 1);
        void *want = (void *)(sp - 2 * 1024 * 1024);
        void *p = mmap(want, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (p != want) _exit(92);
        _exit(recurse(kib) == expected(kib) ? 0 : 91);
    }
    char what[80];
    snprintf(what, sizeof what, "%ld KiB deep, a mapping 2 MiB below", kib);
    report(c, what);
    return 0;
}

static int do_args(long kib, const char *path)
{
    enum { PIECE = 64 * 1024 };
    long n = (kib * 1024 + PIECE - 1) / PIECE;
    char **argv = calloc((size_t)n + 3, sizeof *argv);
    CHECK(argv != NULL, "calloc");
    argv[0] = (char *)path;
    argv[1] = "argc";
    for (long i = 0; i < n; i++) {
        argv[i + 2] = malloc(PIECE);
        CHECK(argv[i + 2] != NULL, "malloc");
        memset(argv[i + 2], 'a' + (int)(i % 26), PIECE - 1);
        argv[i + 2][PIECE - 1] = 0;
    }
    char *envp[] = { NULL };
    pid_t c = fork();
    if (c < 0) fail("fork errno %d", errno);
    if (c == 0) {
        execve(path, argv, envp);
        _exit(errno == E2BIG ? 97 : 98);
    }
    int st;
    if (waitpid(c, &st, 0) != c) fail("waitpid errno %d", errno);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 97) printf("stack: execve with %ld KiB of arguments: E2BIG\n", kib);
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) printf("stack: execve with %ld KiB of arguments: ran\n", kib);
    else fail("execve with %ld KiB of arguments: status 0x%x", kib, st);
    return 0;
}

static int do_argc(int argc, char **argv)
{
    long bytes = 0;
    for (int i = 0; i < argc; i++) bytes += (long)strlen(argv[i]) + 1;
    printf("stack: the new program got %d arguments, %ld KiB\n", argc, bytes / 1024);
    return 0;
}

int main(int argc, char **argv)
{
    guest_start("stack");
    if (argc >= 2 && strcmp(argv[1], "argc") == 0) return do_argc(argc, argv);
    if (argc < 3) fail("usage: stack recurse KIB | limit LIMKIB KIB | gap KIB | args KIB PATH | argc");
    const char *m = argv[1];
    int r;
    if (strcmp(m, "recurse") == 0) r = do_recurse(atol(argv[2]));
    else if (strcmp(m, "limit") == 0 && argc == 4) r = do_limit(atol(argv[2]), atol(argv[3]));
    else if (strcmp(m, "gap") == 0) r = do_gap(atol(argv[2]));
    else if (strcmp(m, "args") == 0 && argc == 4) r = do_args(atol(argv[2]), argv[3]);
    else fail("unknown mode %s", m);
    printf("stack: OK\n");
    return r;
}
