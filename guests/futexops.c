/*
 * futexops.c — the futex operations beyond WAIT/WAKE (issue 14 item 4), with 8 threads on however
 * many harts: FUTEX_CMP_REQUEUE (EAGAIN on a changed word; waiters moved, then woken from the
 * second word one by one), FUTEX_REQUEUE, FUTEX_WAKE_OP (the word modified atomically, the
 * second wake only when the comparison holds), FUTEX_WAIT_BITSET with absolute CLOCK_MONOTONIC
 * and CLOCK_REALTIME deadlines, FUTEX_WAKE_BITSET waking only matching bitsets, and condition
 * variables: pthread_cond_broadcast to 8 waiters, round after round.
 * Every count printed is deterministic (loops wait until each waiter is known to be blocked).
 * Usage: futexops [rounds]   (default 20)
 */
#include "guest.h"
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

#define NT 8

static long futex(atomic_int *uaddr, int op, int val, long val2, atomic_int *uaddr2, int val3)
{
    return syscall(SYS_futex, uaddr, op, val, val2, uaddr2, val3);
}

static atomic_int A, B, released, started;

static void *requeue_waiter(void *arg)
{
    (void)arg;
    atomic_fetch_add(&started, 1);
    while (!atomic_load(&released)) futex(&A, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0);
    return NULL;
}

static void nap(void)
{
    struct timespec d = { 0, 1000000 };
    nanosleep(&d, NULL);
}

static void requeue(int cmp)
{
    pthread_t t[NT];
    atomic_store(&A, 0);
    atomic_store(&released, 0);
    atomic_store(&started, 0);
    for (int i = 0; i < NT; i++) CHECK(pthread_create(&t[i], NULL, requeue_waiter, NULL) == 0, "pthread_create");
    int op = cmp ? FUTEX_CMP_REQUEUE_PRIVATE : FUTEX_REQUEUE_PRIVATE;
    if (cmp) CHECK(futex(&A, op, 0, INT_MAX, &B, 1) == -1 && errno == EAGAIN, "CMP_REQUEUE with a changed word: EAGAIN");
    /* Move every waiter to B as it blocks on A (none woken). */
    long moved = 0;
    for (int spins = 0; moved < NT && spins < 100000; spins++) {
        long r = futex(&A, op, 0, INT_MAX, &B, 0);
        CHECK(r >= 0, "requeue: %ld errno %d", r, errno);
        moved += r;
        if (moved < NT) nap();
    }
    CHECK(moved == NT, "moved %ld of %d", moved, NT);
    CHECK(futex(&A, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0) == 0, "nobody left on A");
    atomic_store(&released, 1);
    CHECK(futex(&B, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0) == 1, "B wakes one");
    CHECK(futex(&B, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0) == NT - 1, "B wakes the rest");
    for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
    printf("futexops: %s moved %d waiters to a second word, woken from there 1 + %d\n",
           cmp ? "FUTEX_CMP_REQUEUE" : "FUTEX_REQUEUE", NT, NT - 1);
}

static atomic_int X, Y, op_done;

static void *op_waiter(void *arg)
{
    (void)arg;
    while (atomic_load(&Y) < 100) futex(&Y, FUTEX_WAIT_PRIVATE, atomic_load(&Y), 0, NULL, 0);
    atomic_store(&op_done, 1);
    return NULL;
}

static void wake_op(void)
{
    const int or_shift = FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT;
    atomic_store(&Y, 1);
    /* No waiters: the word still changes. ADD 5 when old == 1 (true). */
    long r = futex(&X, FUTEX_WAKE_OP_PRIVATE, 1, 1, &Y, FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_EQ, 1));
    CHECK(r == 0 && atomic_load(&Y) == 6, "WAKE_OP add: %ld, Y %d", r, atomic_load(&Y));
    r = futex(&X, FUTEX_WAKE_OP_PRIVATE, 1, 1, &Y, FUTEX_OP(or_shift, 4, FUTEX_OP_CMP_GT, 100));
    CHECK(r == 0 && atomic_load(&Y) == 22, "WAKE_OP or (1<<4): Y %d", atomic_load(&Y));
    r = futex(&X, FUTEX_WAKE_OP_PRIVATE, 1, 1, &Y, FUTEX_OP(FUTEX_OP_ANDN, 2, FUTEX_OP_CMP_NE, 0));
    CHECK(r == 0 && atomic_load(&Y) == 20, "WAKE_OP andn: Y %d", atomic_load(&Y));
    r = futex(&X, FUTEX_WAKE_OP_PRIVATE, 1, 1, &Y, FUTEX_OP(FUTEX_OP_XOR, 1, FUTEX_OP_CMP_LT, 0));
    CHECK(r == 0 && atomic_load(&Y) == 21, "WAKE_OP xor: Y %d", atomic_load(&Y));
    CHECK(futex(&X, FUTEX_WAKE_OP_PRIVATE, 1, 1, &Y, (7 << 28)) == -1 && errno == ENOSYS, "WAKE_OP unknown op: ENOSYS");
    /* A waiter on Y: a false comparison leaves it, a true one wakes it. */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, op_waiter, NULL) == 0, "pthread_create");
    for (int i = 0; i < 20; i++) {
        r = futex(&X, FUTEX_WAKE_OP_PRIVATE, 1, 1, &Y, FUTEX_OP(FUTEX_OP_ADD, 0, FUTEX_OP_CMP_GT, 1000));
        CHECK(r == 0, "WAKE_OP with a false comparison woke %ld", r);
    }
    long woken = 0;
    for (int spins = 0; woken == 0 && !atomic_load(&op_done) && spins < 100000; spins++) {
        woken = futex(&X, FUTEX_WAKE_OP_PRIVATE, 1, 1, &Y, FUTEX_OP(FUTEX_OP_SET, 100, FUTEX_OP_CMP_GE, 0));
        if (woken == 0) nap();
    }
    CHECK(woken <= 1 && atomic_load(&Y) == 100, "WAKE_OP set 100, true comparison: woke %ld", woken);
    pthread_join(t, NULL); /* woken by WAKE_OP's second wake, or it saw 100 before blocking again */
    printf("futexops: FUTEX_WAKE_OP: add, or|shift, andn, xor on the word; wakes only on a true comparison\n");
}

static atomic_int W;

static void *bitset_waiter(void *arg)
{
    (void)arg;
    while (atomic_load(&W) == 0) futex(&W, FUTEX_WAIT_BITSET_PRIVATE, 0, 0, NULL, 0x1);
    return NULL;
}

static void bitset(void)
{
    struct timespec now, abs;
    clock_gettime(CLOCK_MONOTONIC, &now);
    abs = now;
    abs.tv_nsec += 20000000;
    if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
    atomic_store(&W, 0);
    long r = futex(&W, FUTEX_WAIT_BITSET_PRIVATE, 0, (long)&abs, NULL, FUTEX_BITSET_MATCH_ANY);
    CHECK(r == -1 && errno == ETIMEDOUT, "absolute CLOCK_MONOTONIC deadline: ETIMEDOUT");
    struct timespec after;
    clock_gettime(CLOCK_MONOTONIC, &after);
    CHECK(after.tv_sec > abs.tv_sec || (after.tv_sec == abs.tv_sec && after.tv_nsec >= abs.tv_nsec - 1000000), "woke before the deadline");
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_sec -= 1; /* in the past */
    r = futex(&W, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, (long)&abs, NULL, FUTEX_BITSET_MATCH_ANY);
    CHECK(r == -1 && errno == ETIMEDOUT, "absolute CLOCK_REALTIME deadline in the past: ETIMEDOUT");
    CHECK(futex(&W, FUTEX_WAIT_BITSET_PRIVATE, 0, 0, NULL, 0) == -1 && errno == EINVAL, "bitset 0: EINVAL");
    CHECK(futex(&W, FUTEX_WAIT_BITSET_PRIVATE, 1, 0, NULL, 1) == -1 && errno == EAGAIN, "changed word: EAGAIN");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, bitset_waiter, NULL) == 0, "pthread_create");
    for (int i = 0; i < 20; i++) CHECK(futex(&W, FUTEX_WAKE_BITSET_PRIVATE, 1, 0, NULL, 0x6) == 0, "non-matching bitset woke");
    long woken = 0;
    atomic_store(&W, 1);
    for (int spins = 0; woken == 0 && spins < 200; spins++) {
        woken = futex(&W, FUTEX_WAKE_BITSET_PRIVATE, 1, 0, NULL, 0x3);
        if (woken == 0) nap();
    }
    pthread_join(t, NULL); /* woken by the matching bitset, or never blocked after W became 1 */
    printf("futexops: FUTEX_WAIT_BITSET absolute deadlines (monotonic, realtime), bitset matching\n");
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int generation, waiting, woke;

static void *cond_waiter(void *arg)
{
    long rounds = (long)arg;
    pthread_mutex_lock(&mu);
    for (long r = 0; r < rounds; r++) {
        int g = generation;
        waiting++;
        pthread_cond_broadcast(&cv); /* tell the main thread */
        while (generation == g) pthread_cond_wait(&cv, &mu);
        woke++;
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void condvar(int rounds)
{
    pthread_t t[NT];
    for (int i = 0; i < NT; i++) CHECK(pthread_create(&t[i], NULL, cond_waiter, (void *)(long)rounds) == 0, "pthread_create");
    pthread_mutex_lock(&mu);
    for (int r = 0; r < rounds; r++) {
        while (waiting < NT * (r + 1)) pthread_cond_wait(&cv, &mu);
        generation++;
        pthread_cond_broadcast(&cv);
    }
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
    CHECK(woke == NT * rounds, "woke %d of %d", woke, NT * rounds);
    printf("futexops: pthread_cond_broadcast woke %d waiters in each of %d rounds\n", NT, rounds);
}

int main(int argc, char **argv)
{
    guest_start("futexops");
    int rounds = (int)arg_long(argc, argv, 1, 20);
    requeue(1);
    requeue(0);
    wake_op();
    bitset();
    condvar(rounds);
    ok();
}
