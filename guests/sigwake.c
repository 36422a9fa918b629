/*
 * sigwake — a wait ends with EINTR only for a signal. The main thread reads a pipe (a wait
 * with no timeout, no SA_RESTART) while a second thread sends the process SIGUSR1 every
 * 0.5 ms and, every third time, a byte. Every read that returns EINTR must have run the
 * handler during that call. Before the fix a sender that had found the thread blocked
 * interrupted it later — after the thread had woken, taken that signal and blocked in its
 * next read — so that read failed with EINTR and no signal (1–2 per run on 4 harts; every
 * run with the injection point signal.before-interrupt: test/kernel/signal/sigwake.test.ts).
 *
 *   sigwake [signals=300]
 *
 * Deterministic stdout; final line "sigwake: OK". Checked on qemu-riscv64.
 */
#include "guest.h"
#include <pthread.h>
#include <stdatomic.h>

static volatile sig_atomic_t got;
static int p[2];
static atomic_int done;
static long nsignals;

static void on_usr1(int sig) { (void)sig; got++; }

static void *sender(void *arg)
{
    (void)arg;
    pid_t me = getpid();
    for (long i = 0; i < nsignals; i++) {
        kill(me, SIGUSR1);
        struct timespec d = {0, 500000};
        nanosleep(&d, NULL);
        if (i % 3 == 0)
            CHECK(write(p[1], "x", 1) == 1, "write: %s", strerror(errno));
    }
    atomic_store(&done, 1);
    CHECK(write(p[1], "x", 1) == 1, "write: %s", strerror(errno));
    return NULL;
}

int main(int argc, char **argv)
{
    nsignals = argc > 1 ? atol(argv[1]) : 300;
    CHECK(nsignals > 0, "usage: sigwake [signals]");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART: a signal ends the read with EINTR */
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
    CHECK(pipe(p) == 0, "pipe");
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* the sender thread never takes it */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, sender, NULL) == 0, "pthread_create");
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    long eintr = 0, spurious = 0;
    while (!atomic_load(&done)) {
        int before = got;
        char c;
        ssize_t r = read(p[0], &c, 1);
        if (r < 0 && errno == EINTR) {
            eintr++;
            if (got == before)
                spurious++;
        } else {
            CHECK(r == 1 && c == 'x', "read = %ld (%s)", (long)r, r < 0 ? strerror(errno) : "short");
        }
    }
    pthread_join(t, NULL);
    fprintf(stderr, "sigwake: %ld EINTR, %d signals handled\n", eintr, (int)got);
    CHECK(spurious == 0, "%ld of %ld reads ended with EINTR and no signal", spurious, eintr);
    CHECK(got > 0, "no signal was handled");
    printf("sigwake: every EINTR came with a signal\n");
    printf("sigwake: OK\n");
    return 0;
}
