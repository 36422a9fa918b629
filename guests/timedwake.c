/*
 * timedwake — a timeout belongs to the wait that set it. One thread alternates a short sleep
 * (a wait with a deadline, nanosleep) and a blocking pipe read (a wait with none), which the
 * other thread ends with a byte `rounds` times. The read must return that byte every time:
 * a harts' timeout scan that found the sleep's deadline passed and cancelled the thread's wait
 * only later — by then the read's — made read fail with ETIMEDOUT (110), an errno read never
 * gives (test/scheduler/timeout-race.test.ts widens that window with the injection point
 * sched.before-expire). The same race failed posix_spawn with ETIMEDOUT in the litmus runner.
 *
 *   timedwake [rounds=200]
 *
 * Deterministic stdout; final line "timedwake: OK". Checked on qemu-riscv64.
 */
#include "guest.h"
#include <pthread.h>

static int p[2];

static void sleep_us(long us)
{
    struct timespec ts = {0, us * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}
static long rounds;

static void *writer(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        sleep_us(700);
        CHECK(write(p[1], "x", 1) == 1, "write: %s", strerror(errno));
    }
    return NULL;
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atol(argv[1]) : 200;
    CHECK(rounds > 0, "usage: timedwake [rounds]");
    CHECK(pipe(p) == 0, "pipe");
    pthread_t w;
    CHECK(pthread_create(&w, NULL, writer, NULL) == 0, "pthread_create");
    for (long i = 0; i < rounds; i++) {
        sleep_us(300);
        char c;
        ssize_t r = read(p[0], &c, 1);
        CHECK(r == 1 && c == 'x', "round %ld: read = %ld (%s)", i, (long)r, r < 0 ? strerror(errno) : "short");
    }
    pthread_join(w, NULL);
    printf("timedwake: %ld sleeps and %ld blocking reads, every read got its byte\n", rounds, rounds);
    printf("timedwake: OK\n");
    return 0;
}
