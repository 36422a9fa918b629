/*
 * threads — pthreads with exact totals. NTHREADS threads each do ITERS rounds of:
 * atomic_fetch_add on a shared C11 atomic counter, and an increment of a plain counter
 * under a pthread mutex. Then a token is handed around the ring of threads HANDOFFS
 * times with a mutex and a condition variable (thread k waits for turn == k). Each
 * thread keeps a __thread counter and returns it through pthread_join. Every total is
 * checked exactly: a lost atomic, a broken mutex or a missed wakeup shows as a wrong number
 * (or a hang).
 * Args: [threads] (default 4) [iters] (default 10000) [handoffs] (default 200).
 * Expected final line: "threads: OK".
 */
#include "guest.h"
#include <pthread.h>
#include <stdatomic.h>

static long nthreads, iters, handoffs;
static atomic_long atomic_total;
static long mutex_total;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long turn;          /* guarded by lock: whose turn it is to take the token */
static long token_passes;  /* guarded by lock */
static long order_errors;  /* guarded by lock */
static pthread_barrier_t start;
static __thread long my_count;

static void *worker(void *arg)
{
    long id = (long)arg;
    pthread_barrier_wait(&start);
    for (long i = 0; i < iters; i++) {
        atomic_fetch_add_explicit(&atomic_total, 1, memory_order_relaxed);
        pthread_mutex_lock(&lock);
        mutex_total++;
        pthread_mutex_unlock(&lock);
        my_count++;
    }
    for (long h = 0; h < handoffs; h++) {
        pthread_mutex_lock(&lock);
        while (turn != id)
            pthread_cond_wait(&cond, &lock);
        if (token_passes % nthreads != id)
            order_errors++;
        token_passes++;
        turn = (id + 1) % nthreads;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
        my_count++;
    }
    return (void *)(my_count * 1000 + id);
}

int main(int argc, char **argv)
{
    guest_start("threads");
    nthreads = arg_long(argc, argv, 1, 4);
    iters = arg_long(argc, argv, 2, 10000);
    handoffs = arg_long(argc, argv, 3, 200);
    CHECK(nthreads >= 1 && nthreads <= 256, "threads must be 1..256");
    CHECK(iters >= 0 && handoffs >= 0, "iters and handoffs must be >= 0");
    pthread_t *t = calloc((size_t)nthreads, sizeof *t);
    CHECK(t, "calloc");
    CHECK(pthread_barrier_init(&start, NULL, (unsigned)nthreads) == 0, "barrier init");
    for (long i = 0; i < nthreads; i++) {
        int e = pthread_create(&t[i], NULL, worker, (void *)i);
        CHECK(e == 0, "pthread_create %ld: %s", i, strerror(e));
    }
    long joined = 0;
    for (long i = 0; i < nthreads; i++) {
        void *ret;
        int e = pthread_join(t[i], &ret);
        CHECK(e == 0, "pthread_join %ld: %s", i, strerror(e));
        long r = (long)ret;
        CHECK(r % 1000 == i, "thread %ld returned id %ld", i, r % 1000);
        CHECK(r / 1000 == iters + handoffs, "thread %ld __thread count %ld, want %ld", i, r / 1000, iters + handoffs);
        joined++;
    }
    long want = nthreads * iters;
    long got_atomic = atomic_load(&atomic_total);
    CHECK(got_atomic == want, "atomic total %ld, want %ld", got_atomic, want);
    CHECK(mutex_total == want, "mutex total %ld, want %ld", mutex_total, want);
    CHECK(token_passes == nthreads * handoffs, "token passes %ld, want %ld", token_passes, nthreads * handoffs);
    CHECK(order_errors == 0, "%ld token passes out of ring order", order_errors);
    CHECK(my_count == 0, "main thread's __thread counter changed");
    printf("threads: %ld threads joined; atomic=%ld mutex=%ld handoffs=%ld\n", joined, got_atomic, mutex_total,
           token_passes);
    free(t);
    ok();
}
