/*
 * checkact — an unlocked check-then-act (lazy initialisation without a lock), the smallest
 * ordering bug: two threads each compute a while, then get the shared instance, creating it
 * when they find none. The window is the few instructions between the load that finds no
 * instance and the store that publishes one: a thread preempted there, with the other thread
 * getting the instance before it resumes, makes two instances — a bug of depth 2 (one
 * preemption inside the window, one ordering of the other thread's check before the store).
 * Run with the pct and random schedules of `coherent hunt` (docs/deterministic.md "pct against
 * random"; bench deterministic det.pct-failures-per-100 / det.random-failures-per-100).
 *
 *   checkact [rounds=64] [work=3000]
 *
 * Each of `rounds` rounds: both threads spin `work` + a round-dependent number of iterations,
 * then get the round's instance; a barrier (atomic counter) ends the round. With no race every
 * round has one instance: "checkact: OK". A race prints "checkact: FAIL round R: two instances"
 * and exits 1. Checked on qemu-riscv64, whose threads run in parallel: the race is real there too
 * (`checkact 1024 300` fails most runs).
 */
#include "guest.h"
#include <pthread.h>

struct obj { long owner; long round; };

static long rounds, work;
static struct obj pool[2][1024];
static struct obj *volatile instance[1024];
static struct obj *got[2][1024];
static volatile long arrived;
static volatile long sink;

/* The bug: the check (load) and the act (store) are not one atomic step. */
static struct obj *get_instance(long me, long r)
{
    struct obj *p = instance[r];
    if (p == NULL) {
        p = &pool[me][r];
        p->owner = me;
        p->round = r;
        instance[r] = p;
    }
    return p;
}

static void spin(long n)
{
    for (long i = 0; i < n; i++) sink += i;
}

static void *worker(void *arg)
{
    long me = (long)arg;
    for (long r = 0; r < rounds; r++) {
        spin(work + (r * 37 + me * 11) % 97);
        got[me][r] = get_instance(me, r);
        __atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&arrived, __ATOMIC_SEQ_CST) < 2 * (r + 1)) {}
    }
    return NULL;
}

int main(int argc, char **argv)
{
    guest_start("checkact");
    rounds = argc > 1 ? atol(argv[1]) : 64;
    work = argc > 2 ? atol(argv[2]) : 3000;
    CHECK(rounds > 0 && rounds <= 1024 && work >= 0, "usage: checkact [rounds 1-1024] [work]");
    pthread_t t[2];
    for (long i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0, "pthread_create");
    for (long i = 0; i < 2; i++) CHECK(pthread_join(t[i], NULL) == 0, "pthread_join");
    for (long r = 0; r < rounds; r++) {
        if (got[0][r] != got[1][r]) fail("round %ld: two instances (threads got %ld's and %ld's)", r, got[0][r]->owner, got[1][r]->owner);
    }
    printf("checkact: %ld rounds, one instance each\n", rounds);
    printf("checkact: OK\n");
    return 0;
}
