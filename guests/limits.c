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
 *
 * Prints informative lines and "limits: OK" (exit 0), or "limits: FAIL <what>" (exit 1).
 */
#include "guest.h"
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

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 3) { printf("limits: FAIL usage: limits maps|procs N\n"); return 1; }
    long n = atol(argv[2]);
    int r = strcmp(argv[1], "maps") == 0 ? maps(n) : strcmp(argv[1], "procs") == 0 ? procs(n) : 1;
    printf(r == 0 ? "limits: OK\n" : "limits: FAIL\n");
    return r;
}
