/*
 * pimutex — priority-inheritance mutexes (PTHREAD_PRIO_INHERIT), as stress-ng's pthread
 * stressor creates them, and the PI futex calls under them:
 *   - pthread_mutex_init with PTHREAD_PRIO_INHERIT succeeds (glibc probes FUTEX_UNLOCK_PI and
 *     refuses the mutex with ENOTSUP when the kernel lacks PI futexes);
 *   - T threads each add 1 to a plain counter R times under the mutex: the total is exact
 *     (no lost update: mutual exclusion through FUTEX_LOCK_PI / FUTEX_UNLOCK_PI when contended);
 *   - while another thread holds it: trylock is EBUSY, timedlock with a past deadline is ETIMEDOUT;
 *   - the raw calls: FUTEX_TRYLOCK_PI on a free word takes it (word = tid), FUTEX_LOCK_PI on a
 *     word the caller owns is EDEADLK, FUTEX_UNLOCK_PI of a word owned by another tid is EPERM,
 *     FUTEX_TRYLOCK_PI on such a word is EAGAIN, FUTEX_UNLOCK_PI by the owner frees it (0).
 * No check depends on timing. Args: [threads] [rounds]. Final line "pimutex: OK".
 */
#include "guest.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>

static pthread_mutex_t mu;
static long counter;
static long rounds;

static void *adder(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        int e = pthread_mutex_lock(&mu);
        CHECK(e == 0, "pthread_mutex_lock: %d", e);
        long v = counter;
        if ((i & 15) == 0)
            sched_yield(); /* hold it across a yield: others block in FUTEX_LOCK_PI */
        counter = v + 1;
        e = pthread_mutex_unlock(&mu);
        CHECK(e == 0, "pthread_mutex_unlock: %d", e);
    }
    return NULL;
}

static volatile int held, release;

static void *holder(void *arg)
{
    (void)arg;
    CHECK(pthread_mutex_lock(&mu) == 0, "holder lock");
    __atomic_store_n(&held, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&release, __ATOMIC_SEQ_CST))
        sched_yield();
    CHECK(pthread_mutex_unlock(&mu) == 0, "holder unlock");
    return NULL;
}

static long futex(uint32_t *w, int op)
{
    return syscall(SYS_futex, w, op, 0, NULL, NULL, 0);
}

static uint32_t pw;
static volatile int pheld, prelease;

/* Takes pw with FUTEX_TRYLOCK_PI, holds it until told, releases it with FUTEX_UNLOCK_PI. */
static void *pholder(void *arg)
{
    (void)arg;
    CHECK(futex(&pw, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG) == 0, "holder TRYLOCK_PI: errno %d", errno);
    __atomic_store_n(&pheld, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&prelease, __ATOMIC_SEQ_CST))
        sched_yield();
    CHECK(futex(&pw, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG) == 0, "holder UNLOCK_PI: errno %d", errno);
    return NULL;
}

int main(int argc, char **argv)
{
    guest_start("pimutex");
    long threads = arg_long(argc, argv, 1, 4);
    rounds = arg_long(argc, argv, 2, 200);
    CHECK(threads >= 1 && threads <= 64 && rounds >= 1, "bad arguments");

    pthread_mutexattr_t at;
    CHECK(pthread_mutexattr_init(&at) == 0, "mutexattr_init");
    CHECK(pthread_mutexattr_setprotocol(&at, PTHREAD_PRIO_INHERIT) == 0, "setprotocol");
    int e = pthread_mutex_init(&mu, &at);
    CHECK(e == 0, "pthread_mutex_init(PTHREAD_PRIO_INHERIT): %s", strerror(e));
    printf("pimutex: PTHREAD_PRIO_INHERIT mutex created\n");

    pthread_t t[64];
    for (long i = 0; i < threads; i++)
        CHECK(pthread_create(&t[i], NULL, adder, NULL) == 0, "pthread_create");
    for (long i = 0; i < threads; i++)
        CHECK(pthread_join(t[i], NULL) == 0, "pthread_join");
    CHECK(counter == threads * rounds, "counter %ld, expected %ld (lost update)", counter, threads * rounds);
    printf("pimutex: %ld threads x %ld rounds, counter exact\n", threads, rounds);

    pthread_t h;
    CHECK(pthread_create(&h, NULL, holder, NULL) == 0, "pthread_create");
    while (!__atomic_load_n(&held, __ATOMIC_SEQ_CST))
        sched_yield();
    e = pthread_mutex_trylock(&mu);
    CHECK(e == EBUSY, "trylock of a held PI mutex: %d, expected EBUSY", e);
    struct timespec past;
    clock_gettime(CLOCK_REALTIME, &past);
    past.tv_sec -= 1;
    e = pthread_mutex_timedlock(&mu, &past);
    CHECK(e == ETIMEDOUT, "timedlock with a past deadline: %d, expected ETIMEDOUT", e);
    __atomic_store_n(&release, 1, __ATOMIC_SEQ_CST);
    CHECK(pthread_join(h, NULL) == 0, "pthread_join");
    CHECK(pthread_mutex_lock(&mu) == 0 && pthread_mutex_unlock(&mu) == 0, "lock after release");
    printf("pimutex: trylock EBUSY, past timedlock ETIMEDOUT while held\n");

    uint32_t w = 0;
    uint32_t me = (uint32_t)syscall(SYS_gettid);
    CHECK(futex(&w, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG) == 0 && (w & FUTEX_TID_MASK) == me, "TRYLOCK_PI of a free word: word 0x%x", w);
    expect_errno(futex(&w, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG), EDEADLK, "LOCK_PI of an owned word");
    CHECK(futex(&w, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG) == 0 && (w & FUTEX_TID_MASK) == 0, "UNLOCK_PI by the owner: word 0x%x", w);
    CHECK(pthread_create(&h, NULL, pholder, NULL) == 0, "pthread_create");
    while (!__atomic_load_n(&pheld, __ATOMIC_SEQ_CST))
        sched_yield();
    expect_errno(futex(&pw, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG), EPERM, "UNLOCK_PI of another's word");
    expect_errno(futex(&pw, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG), EAGAIN, "TRYLOCK_PI of another's word");
    __atomic_store_n(&prelease, 1, __ATOMIC_SEQ_CST);
    CHECK(pthread_join(h, NULL) == 0, "pthread_join");
    CHECK((__atomic_load_n(&pw, __ATOMIC_SEQ_CST) & FUTEX_TID_MASK) == 0, "word 0x%x after the holder's UNLOCK_PI", pw);
    printf("pimutex: raw PI calls: TRYLOCK_PI, EDEADLK, UNLOCK_PI, EPERM, EAGAIN\n");
    printf("pimutex: OK\n");
    return 0;
}
