/*
 * limits.c — the machine's tables must not break before Linux's limits do (issue 13, "Limits
 * that must go"). Two modes:
 *
 *   limits maps N    map N one-page anonymous regions with alternating protections (so no two
 *                    neighbours merge: N separate VMAs), write and read back every writable one,
 *                    then keep mapping until mmap fails: it must fail with ENOMEM (max_map_count,
 *                    65,530 on Linux) and not before N; munmap everything.
 *   limits procs N   fork N children that each wait on a pipe, so N processes are alive at once;
 *                    then close the pipe and reap them all (exit status checked).
 *   limits nproc N   RLIMIT_NPROC := N, then fork such children until fork fails: it must fail
 *                    with EAGAIN, after N-1 children (this process is the Nth task). Linux
 *                    exempts root; qemu-user cannot model it as another user either (each
 *                    forked qemu starts a helper thread, which the limit then refuses).
 *   limits forkall N RLIMIT_NPROC := unlimited, fork such children until fork fails (at most N):
 *                    when the machine's tables are full it must be EAGAIN, as Linux's fork.
 *
 * Prints informative lines and "limits: OK" (exit 0), or "limits: FAIL <what>" (exit 1).
 */
#include "guest.h"
#include <sys/resource.h>
#include <sys/wait.h>

#define MAX_TRY 70000

static int maps(long n) {
    static char *at[MAX_TRY];
    long k = 0;
    int err = 0;
    for (; k < MAX_TRY; k++) {
        int prot = (k & 1) ? PROT_READ : PROT_READ | PROT_WRITE;
        char *p = mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { err = errno; break; }
        at[k] = p;
        if (!(k & 1)) p[7] = (char)(k * 31 + 1);
    }
    printf("limits: %s mappings before mmap failed\n", k >= n ? "at least N" : "fewer than N");
    if (k < n) { printf("limits: FAIL only %ld mappings (errno %d)\n", k, err); return 1; }
    if (k == MAX_TRY || err != ENOMEM) { printf("limits: FAIL mmap beyond the limit gave errno %d, not ENOMEM\n", err); return 1; }
    printf("limits: the next mmap failed with ENOMEM\n");
    for (long i = 0; i < k; i += 2) {
        if (at[i][7] != (char)(i * 31 + 1)) { printf("limits: FAIL mapping %ld lost its byte\n", i); return 1; }
    }
    for (long i = 0; i < k; i++) {
        if (munmap(at[i], 4096) != 0) { printf("limits: FAIL munmap %ld errno %d\n", i, errno); return 1; }
    }
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { printf("limits: FAIL mmap after unmapping everything\n"); return 1; }
    printf("limits: every byte read back, every mapping unmapped\n");
    return 0;
}

static int procs(long n) {
    int fds[2];
    if (pipe(fds) != 0) { printf("limits: FAIL pipe\n"); return 1; }
    long made = 0;
    int err = 0;
    for (; made < n; made++) {
        pid_t c = fork();
        if (c < 0) { err = errno; break; }
        if (c == 0) {
            char b;
            close(fds[1]);
            ssize_t r = read(fds[0], &b, 1); /* blocks until the parent closes the write end */
            _exit(r == 0 ? 7 : 8);
        }
    }
    close(fds[1]);
    close(fds[0]);
    long good = 0;
    int st;
    while (wait(&st) > 0) if (WIFEXITED(st) && WEXITSTATUS(st) == 7) good++;
    if (made < n) { printf("limits: FAIL fork %ld failed with errno %d\n", made + 1, err); return 1; }
    if (good != n) { printf("limits: FAIL %ld of %ld children exited 7\n", good, n); return 1; }
    printf("limits: %ld processes alive at once, all reaped\n", n);
    return 0;
}

/* Fork children that wait on a pipe until fork fails (at most `cap`); the count made and the errno. */
static long fork_until_failure(long cap, int *err) {
    int fds[2];
    if (pipe(fds) != 0) { printf("limits: FAIL pipe\n"); exit(1); }
    long made = 0;
    *err = 0;
    for (; made < cap; made++) {
        pid_t c = fork();
        if (c < 0) { *err = errno; break; }
        if (c == 0) {
            char b;
            close(fds[1]);
            ssize_t r = read(fds[0], &b, 1);
            _exit(r == 0 ? 7 : 8);
        }
    }
    close(fds[1]);
    close(fds[0]);
    long good = 0;
    int st;
    while (wait(&st) > 0) if (WIFEXITED(st) && WEXITSTATUS(st) == 7) good++;
    if (good != made) { printf("limits: FAIL %ld of %ld children exited 7\n", good, made); exit(1); }
    return made;
}

/* RLIMIT_NPROC = n: fork must fail with EAGAIN once the user's tasks reach n (this process is one). */
static int nproc(long n) {
    struct rlimit rl = { (rlim_t)n, (rlim_t)n };
    if (setrlimit(RLIMIT_NPROC, &rl) != 0) { printf("limits: FAIL setrlimit errno %d\n", errno); return 1; }
    int err;
    long made = fork_until_failure(2 * n, &err);
    /* Linux counts every task of the user: this process and its children. */
    if (made != n - 1) { printf("limits: FAIL %ld children under RLIMIT_NPROC %ld\n", made, n); return 1; }
    if (err != EAGAIN) { printf("limits: FAIL fork beyond RLIMIT_NPROC gave errno %d, not EAGAIN\n", err); return 1; }
    printf("limits: fork failed with EAGAIN at RLIMIT_NPROC, all children reaped\n");
    return 0;
}

/* No RLIMIT_NPROC: fork until the machine's tables are full; that must be EAGAIN (or ENOMEM when RAM ran out first). */
static int forkall(long cap) {
    struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
    if (setrlimit(RLIMIT_NPROC, &rl) != 0) { printf("limits: FAIL setrlimit errno %d\n", errno); return 1; }
    int err;
    long made = fork_until_failure(cap, &err);
    if (made == cap) { printf("limits: FAIL %ld forks and no failure\n", made); return 1; }
    if (err != EAGAIN) { printf("limits: FAIL fork with full tables gave errno %d, not EAGAIN\n", err); return 1; }
    printf("limits: fork failed with EAGAIN when the tables were full, all children reaped\n");
    fprintf(stderr, "limits: %ld children\n", made);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 3) { printf("limits: FAIL usage: limits maps|procs|nproc|forkall N\n"); return 1; }
    long n = atol(argv[2]);
    int r = strcmp(argv[1], "maps") == 0 ? maps(n) : strcmp(argv[1], "procs") == 0 ? procs(n)
        : strcmp(argv[1], "nproc") == 0 ? nproc(n) : strcmp(argv[1], "forkall") == 0 ? forkall(n) : 1;
    printf(r == 0 ? "limits: OK\n" : "limits: FAIL\n");
    return r;
}
