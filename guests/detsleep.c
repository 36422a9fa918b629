/*
 * detsleep: threads that sleep and read the clocks — the sleeper of deterministic mode's tests
 * (test/scheduler/deterministic.test.ts, docs/deterministic.md).
 *
 *   detsleep [threads=3] [rounds=4]
 *
 * Each thread t sleeps (t+1) ms `rounds` times (nanosleep, then clock_nanosleep to an absolute
 * CLOCK_MONOTONIC deadline, alternately) and logs, under a mutex, when it woke (ns since the
 * start, CLOCK_MONOTONIC). main joins them, checks every sleep lasted at least what it asked and
 * that the clocks only moved forward, then prints the log in wake-up order and "detsleep: OK".
 * Under --deterministic the log (times included) is the same on every run with the same seed:
 * the clocks are virtual. On Linux or qemu-riscv64 the times differ from run to run; the checks
 * hold everywhere.
 */
#include "guest.h"
#include <pthread.h>
#include <sys/time.h>

#define MAX_THREADS 16
#define MAX_EVENTS 1024

static long long t_start;
static long rounds;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { int thread, round; long long at; } events[MAX_EVENTS];
static int nevents;

static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *sleeper(void *arg)
{
    int t = (int)(long)arg;
    for (int r = 0; r < rounds; r++) {
        long long before = mono_ns();
        long long want = (long long)(t + 1) * 1000000LL;
        if (r % 2 == 0) {
            sleep_ms(t + 1);
        } else {
            long long until = before + want;
            struct timespec ts = {until / 1000000000LL, until % 1000000000LL};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
        }
        /* The clock is read under the log's lock, so the log's order is the order of the readings
           and "monotonic" can be checked along it (read outside, two threads could append in the
           other order on a parallel machine). */
        pthread_mutex_lock(&log_lock);
        long long after = mono_ns();
        if (nevents < MAX_EVENTS) events[nevents++] = (typeof(events[0])){t, r, after - t_start};
        pthread_mutex_unlock(&log_lock);
        CHECK(after - before >= want, "thread %d round %d slept %lld ns, asked %lld", t, r, after - before, want);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    guest_start("detsleep");
    long threads = arg_long(argc, argv, 1, 3);
    rounds = arg_long(argc, argv, 2, 4);
    CHECK(threads >= 1 && threads <= MAX_THREADS, "threads %ld: 1..%d", threads, MAX_THREADS);
    CHECK(rounds >= 1 && rounds * threads <= MAX_EVENTS, "rounds %ld", rounds);
    struct timeval tv0, tv1;
    gettimeofday(&tv0, NULL);
    t_start = mono_ns();
    pthread_t th[MAX_THREADS];
    for (long t = 0; t < threads; t++) CHECK(pthread_create(&th[t], NULL, sleeper, (void *)t) == 0, "pthread_create");
    for (long t = 0; t < threads; t++) pthread_join(th[t], NULL);
    long long total = mono_ns() - t_start;
    gettimeofday(&tv1, NULL);
    long long wall_us = (tv1.tv_sec - tv0.tv_sec) * 1000000LL + (tv1.tv_usec - tv0.tv_usec);
    CHECK(wall_us >= 0, "gettimeofday went back %lld us", wall_us);
    CHECK(nevents == threads * rounds, "%d events, expected %ld", nevents, threads * rounds);
    for (int i = 0; i < nevents; i++) {
        if (i > 0) CHECK(events[i].at >= events[i - 1].at, "CLOCK_MONOTONIC went back between wake-ups %d and %d", i - 1, i);
        printf("detsleep: thread %d round %d woke at %lld ns\n", events[i].thread, events[i].round, events[i].at);
    }
    CHECK(total >= (long long)threads * rounds * 1000000LL / threads, "the whole run took %lld ns", total);
    printf("detsleep: threads=%ld rounds=%ld took %lld ns (gettimeofday %lld us)\n", threads, rounds, total, wall_us);
    printf("detsleep: OK\n");
    return 0;
}
