/*
 * trapspin — threads that trap all the time must still be preempted (issue 13 item 1).
 *
 * Usage: trapspin [spinners] [rounds]   (defaults 5, 3)
 *
 * Forks `spinners` children that never block and never leave a short loop around a trap:
 *   kind 0: getppid() as a raw system call;
 *   kind 1: clock_gettime(CLOCK_MONOTONIC) as a raw system call (no vDSO);
 *   kind 2: a store to a PROT_NONE page whose SIGSEGV handler makes it writable, then
 *           mprotect(PROT_NONE) again — a fault its handler resolves, forever.
 * and one thread of its own spinning on getppid(). Each spinner counts its laps in a shared
 * page. With more spinners than harts, the parent must still get the CPU: it sleeps (1 ms
 * naps until every spinner has run, then `rounds` naps of 10 ms: a sleeper wakes only when a
 * hart ends the spinner's quantum), then SIGKILLs every child, reaps it and checks it died of
 * SIGKILL. A kernel that grants a fresh quantum after every trap never runs the parent again:
 * the guest hangs instead of printing its OK line.
 */
#include "guest.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define MAX_SPINNERS 32
#define START_NAPS 20000 /* 1 ms naps while waiting for every spinner to run: 20 s at most */

static volatile unsigned long *laps; /* shared: one counter per spinner, [MAX_SPINNERS] the thread's */
static volatile unsigned char *trap_page;

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void lap(int i)
{
    __atomic_fetch_add(&laps[i], 1, __ATOMIC_RELAXED);
}

static void unprotect(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    if (syscall(SYS_mprotect, (void *)trap_page, PAGE, PROT_READ | PROT_WRITE) != 0)
        _exit(3);
}

static __attribute__((noreturn)) void spin(int i)
{
    int kind = i % 3;
    if (kind == 2) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = unprotect;
        sa.sa_flags = SA_SIGINFO;
        if (sigaction(SIGSEGV, &sa, NULL) != 0)
            _exit(4);
        trap_page = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (trap_page == MAP_FAILED)
            _exit(5);
    }
    for (;;) {
        if (kind == 0) {
            syscall(SYS_getppid);
        } else if (kind == 1) {
            struct timespec ts;
            syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
        } else {
            trap_page[0]++; /* faults: the handler makes the page writable, the store restarts */
            if (syscall(SYS_mprotect, (void *)trap_page, PAGE, PROT_NONE) != 0)
                _exit(6);
        }
        lap(i);
    }
}

static void *thread_spin(void *arg)
{
    (void)arg;
    for (;;) {
        syscall(SYS_getppid);
        lap(MAX_SPINNERS);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    guest_start("trapspin");
    long n = arg_long(argc, argv, 1, 5);
    long rounds = arg_long(argc, argv, 2, 3);
    CHECK(n >= 1 && n <= MAX_SPINNERS, "spinners must be 1..%d", MAX_SPINNERS);
    CHECK(rounds >= 0, "rounds must be >= 0");
    laps = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(laps != MAP_FAILED, "mmap shared: %s", strerror(errno));

    pid_t pids[MAX_SPINNERS];
    for (long i = 0; i < n; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0, "fork: %s", strerror(errno));
        if (pids[i] == 0)
            spin((int)i);
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_spin, NULL) == 0, "pthread_create");

    /* Every spinner has run at least once: the parent's naps ended while they spun. */
    long naps = 0;
    for (;;) {
        long started = 0;
        for (long i = 0; i < n; i++)
            started += laps[i] > 0;
        if (started == n && laps[MAX_SPINNERS] > 0)
            break;
        CHECK(++naps < START_NAPS, "only %ld of %ld spinners ran after %ld naps", started, n, naps);
        nap_ms(1);
    }
    for (long r = 0; r < rounds; r++)
        nap_ms(10);
    printf("trapspin: %ld spinners (getppid, clock_gettime, a fault its SIGSEGV handler resolves) and a "
           "spinning thread all ran; the parent slept and woke %ld times\n", n, rounds);

    for (long i = 0; i < n; i++)
        CHECK(kill(pids[i], SIGKILL) == 0, "kill %d: %s", pids[i], strerror(errno));
    for (long i = 0; i < n; i++) {
        int st;
        CHECK(waitpid(pids[i], &st, 0) == pids[i], "waitpid %d: %s", pids[i], strerror(errno));
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "spinner %ld: status %#x, not killed by SIGKILL", i, st);
    }
    printf("trapspin: every spinner died of SIGKILL\n");
    ok(); /* exit: the spinning thread ends with the process */
}
