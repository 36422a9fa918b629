/*
 * coh-writeback — write-back of dirty MAP_SHARED file pages races stores on other harts
 * (issue 12, bug 1). Conformance guest: test/lab/conformance.ts.
 *
 * Writer threads keep storing increasing values, each into its own page of a MAP_SHARED
 * file mapping, while the main thread runs one operation over the mapping:
 *   u  munmap
 *   s  msync(MS_SYNC), then munmap
 *   d  madvise(MADV_DONTNEED), then munmap
 *   x  exit: a forked child maps the file, its writer threads store, the child exits
 *   a  msync(MS_SYNC), then the writers store for hold_us more — every one of those stores
 *      after msync returned — then munmap (the msync sanitizer check, docs/policies.md)
 * The file's only reference is the mapping (its fd is closed right after mmap), so once the
 * mapping is gone the file's cached pages are dropped and a fresh open + pread reads what was
 * written back: exactly the stores the kernel did not lose.
 *
 * Protocol, per round: the main thread creates the file (one page per writer), maps it,
 * starts the writers and waits until each has stored (its TLB holds the translation); it
 * announces the operation (`calling`) and runs it. A writer stores value v = round << 32 | n
 * with n = 1, 2, ..., and after each store that did not fault publishes v in acked[t]
 * (release). It stops at a fault (the mapping is gone), when told, or `hold_us` after it saw
 * `calling` (so the last stores of msync/madvise rounds fall inside the operation, where a
 * kernel that writes back before the other harts are flushed loses them — a store after the
 * flush would mark the page dirty again and hide the loss). Then the main thread unmaps
 * (s, d), reopens the file and reads each writer's word.
 *
 * INVARIANT (any correct kernel): the word of writer t in the file is the last value t
 * stored without a fault — every store that completed, in particular every store completed
 * before the operation returned (snapshot of acked[t] right after it returned), reaches the
 * file. A store made through a still-valid TLB entry after the kernel wrote the page back,
 * before it flushed that hart, is lost: "FAIL lost store".
 * For a, msync cleaned the PTEs' D bits: a store after it returned must set D again (a correct
 * kernel flushed every hart's writable+dirty entry, so the store walks), or munmap finds the
 * page clean and the file keeps the value msync wrote. Under `lazy`/`off` the writer's stale
 * entry skips D and every store after msync is lost ("the last completed store was").
 * For x the child's writers publish acked[] in a MAP_SHARED anonymous page; after the parent
 * reaped the child the file must hold at least acked[t] (a writer killed between its store
 * and its publication may have stored one more).
 *
 * Args: [rounds] (default 4) [writers] (default: harts - 1, 1 to 3) [hold_us] (default 2000)
 *       [modes] (default usdx)
 * Deterministic stdout; counts go to stderr. Final line "coh-writeback: OK".
 * The file coh-writeback.dat is created in the current directory and unlinked at the end.
 */
#include "guest.h"
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define MAX_WRITERS 16
#define FILE_NAME "coh-writeback.dat"

static long writers, hold_us;
static char *area; /* writer t stores into word 0 of page t */

static atomic_int round_no; /* futex word: the round the writers work on (0: none yet) */
static atomic_int quit;
static atomic_int calling; /* the main thread entered the operation */
static atomic_int stop;    /* leave the round */
static atomic_ulong acked[MAX_WRITERS];
static atomic_int left[MAX_WRITERS]; /* the round writer t has finished */
static atomic_ulong total_stores;

static void futex_wait(atomic_int *w, int val)
{
    syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}
static void futex_wake(atomic_int *w) { syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1 << 30, NULL, NULL, 0); }

/* now_us: the time CSR (10 MHz on Linux/QEMU virt and on Coherent) in µs. No system call:
 * a writer must keep storing while the main thread holds the mmap lock in its operation. */
static long now_us(void)
{
    uint64_t t;
    __asm__ volatile("rdtime %0" : "=r"(t));
    return (long)(t / 10);
}

/* A wait this long means the guest is wedged (possible under the unsafe policies, where a
 * thread may keep reading a flag through a stale translation): fail instead of hanging. */
#define WAIT_LIMIT_US 20000000L

/* wait_check: fail when the wait that began at `start` (now_us) has lasted WAIT_LIMIT_US. */
static void wait_check(long start, const char *what, long t)
{
    if (now_us() - start > WAIT_LIMIT_US)
        fail("timeout: %s (writer %ld)", what, t);
    sched_yield();
}

/* store_round: writer t stores into its word until a fault, `stop`, or hold_us after `calling`.
 * Publishes every completed store in pub[t]. Returns the number of stores. */
static unsigned long store_round(long t, int r, atomic_ulong *pub)
{
    volatile uint64_t *slot = (volatile uint64_t *)(area + t * PAGE);
    long since = -1;
    unsigned long n = 0;
    for (;;) {
        if (atomic_load_explicit(&stop, memory_order_acquire))
            break;
        if (atomic_load_explicit(&calling, memory_order_acquire)) {
            long now = now_us();
            if (since < 0)
                since = now;
            else if (now - since >= hold_us)
                break;
        }
        uint64_t v = ((uint64_t)r << 32) | (n + 1);
        struct probe_result f = probe_write64(slot, v);
        if (f.sig) {
            if (f.sig != SIGSEGV || f.code != SEGV_MAPERR || f.addr != (uintptr_t)slot)
                fail("writer %ld: unexpected fault sig %d code %d at %#lx", t, f.sig, f.code, (unsigned long)f.addr);
            break;
        }
        n++;
        atomic_store_explicit(&pub[t], v, memory_order_release);
    }
    return n;
}

static void *writer(void *arg)
{
    long t = (long)arg;
    int seen = 0;
    for (;;) {
        int r;
        while ((r = atomic_load(&round_no)) == seen && !atomic_load(&quit))
            futex_wait(&round_no, seen);
        if (atomic_load(&quit))
            return NULL;
        seen = r;
        atomic_fetch_add(&total_stores, store_round(t, r, acked));
        atomic_store_explicit(&left[t], r, memory_order_release);
    }
}

static int create_file(void)
{
    int fd = open(FILE_NAME, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open %s: %s", FILE_NAME, strerror(errno));
    CHECK(ftruncate(fd, writers * (long)PAGE) == 0, "ftruncate: %s", strerror(errno));
    return fd;
}

/* file_word: word 0 of page t of the file, as written back (nothing maps or opens it now). */
static uint64_t file_word(long t)
{
    int fd = open(FILE_NAME, O_RDONLY);
    CHECK(fd >= 0, "reopen %s: %s", FILE_NAME, strerror(errno));
    uint64_t v = 0;
    CHECK(pread(fd, &v, 8, t * (long)PAGE) == 8, "pread: %s", strerror(errno));
    close(fd);
    return v;
}

static const char *mode_name(char m)
{
    return m == 'u' ? "munmap" : m == 's' ? "msync" : m == 'd' ? "madvise(MADV_DONTNEED)" : m == 'a' ? "msync, then stores" : "exit";
}

/* One round of u, s, d or a with the process's writer threads. */
static void round_in_process(int r, char m)
{
    size_t len = (size_t)writers * PAGE;
    int fd = create_file();
    void *p = mmap(area, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    CHECK(p == area, "round %d: mmap: %s", r, strerror(errno));
    close(fd);
    for (long t = 0; t < writers; t++)
        atomic_store(&acked[t], 0);
    atomic_store(&calling, 0);
    atomic_store(&stop, 0);
    atomic_store(&round_no, r);
    futex_wake(&round_no);
    long start = now_us();
    for (long t = 0; t < writers; t++)
        while (atomic_load_explicit(&acked[t], memory_order_acquire) == 0)
            wait_check(start, "a writer never stored", t);
    if (m != 'a')
        atomic_store_explicit(&calling, 1, memory_order_release);
    int rc = m == 'u' ? munmap(area, len) : m == 's' || m == 'a' ? msync(area, len, MS_SYNC) : madvise(area, len, MADV_DONTNEED);
    CHECK(rc == 0, "round %d: %s: %s", r, mode_name(m), strerror(errno));
    uint64_t at_return[MAX_WRITERS];
    for (long t = 0; t < writers; t++)
        at_return[t] = atomic_load_explicit(&acked[t], memory_order_acquire);
    if (m == 'a')
        atomic_store_explicit(&calling, 1, memory_order_release); /* hold_us more stores, all after msync returned */
    else
        atomic_store_explicit(&stop, 1, memory_order_release);
    start = now_us();
    for (long t = 0; t < writers; t++)
        while (atomic_load_explicit(&left[t], memory_order_acquire) != r)
            wait_check(start, "a writer never left the round", t);
    if (m != 'u')
        CHECK(munmap(area, len) == 0, "round %d: munmap: %s", r, strerror(errno));
    for (long t = 0; t < writers; t++) {
        uint64_t last = atomic_load(&acked[t]), got = file_word(t);
        if (got < at_return[t])
            fail("lost store: round %d %s, writer %ld: the file holds %#lx, but %#lx was stored before %s returned",
                 r, mode_name(m), t, (unsigned long)got, (unsigned long)at_return[t], mode_name(m));
        if (got != last)
            fail("lost store: round %d %s, writer %ld: the file holds %#lx, the last completed store was %#lx",
                 r, mode_name(m), t, (unsigned long)got, (unsigned long)last);
    }
}

static atomic_ulong *child_pub;
static int child_round;

static void *child_writer(void *arg)
{
    store_round((long)arg, child_round, child_pub);
    return NULL;
}

/* The forked child: writer threads store; once each has stored a while, exit_group (never returns). */
__attribute__((noreturn)) static void child_writers(int r, atomic_ulong *shared_acked)
{
    atomic_store(&calling, 0);
    atomic_store(&stop, 0);
    child_round = r;
    child_pub = shared_acked;
    pthread_t th[MAX_WRITERS];
    for (long t = 0; t < writers; t++)
        if (pthread_create(&th[t], NULL, child_writer, (void *)t) != 0)
            _exit(4);
    long start = now_us();
    for (long t = 0; t < writers; t++)
        while ((atomic_load_explicit(&shared_acked[t], memory_order_acquire) & 0xffffffffu) < 64)
            wait_check(start, "a child's writer never stored 64 times", t);
    _exit(0); /* exit_group with the writers still storing */
}

/* One round of x: a forked child's writers store; the child exits with the file mapped. */
static void round_exit(int r, atomic_ulong *shared_acked)
{
    close(create_file());
    for (long t = 0; t < writers; t++)
        atomic_store(&shared_acked[t], 0);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(FILE_NAME, O_RDWR);
        if (fd < 0)
            _exit(2);
        void *p = mmap(area, (size_t)writers * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
        if (p != area)
            _exit(3);
        close(fd);
        child_writers(r, shared_acked);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "round %d: exit child status %#x", r, st);
    for (long t = 0; t < writers; t++) {
        uint64_t a = atomic_load(&shared_acked[t]), got = file_word(t);
        CHECK(a >> 32 == (uint64_t)r && (a & 0xffffffffu) != 0, "round %d exit, writer %ld stored nothing", r, t);
        if (got < a)
            fail("lost store: round %d exit, writer %ld: the file holds %#lx, but %#lx was stored before the child exited",
                 r, t, (unsigned long)got, (unsigned long)a);
    }
}

int main(int argc, char **argv)
{
    guest_start("coh-writeback");
    long rounds = arg_long(argc, argv, 1, 4);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    writers = arg_long(argc, argv, 2, cpus > 2 ? (cpus > 4 ? 3 : cpus - 1) : 1); /* one hart for the main thread */
    hold_us = arg_long(argc, argv, 3, 2000);
    const char *modes = argc > 4 ? argv[4] : "usdx";
    CHECK(rounds >= 1 && writers >= 1 && writers <= MAX_WRITERS && hold_us >= 0, "bad arguments");
    for (const char *m = modes; *m; m++)
        CHECK(strchr("usdxa", *m), "unknown mode '%c' (use u, s, d, x, a)", *m);
    probe_install();
    printf("coh-writeback: rounds=%ld modes=%s\n", rounds, modes);
    fprintf(stderr, "coh-writeback: writers=%ld\n", writers);
    /* A reservation for the mapping (every round maps it again at the same address). */
    area = map_anon(NULL, (size_t)writers, PROT_NONE, 0, "reservation");
    atomic_ulong *shared_acked = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shared_acked != MAP_FAILED, "mmap shared page: %s", strerror(errno));
    int r = 0;
    /* Exit rounds first: fork while this process has one thread (qemu-user cannot create
     * threads in a child forked from a multi-threaded process). */
    for (long k = 0; k < rounds && strchr(modes, 'x'); k++) {
        round_exit(++r, shared_acked);
        printf("coh-writeback: round %d exit: every completed store is in the file\n", r);
    }
    pthread_t th[MAX_WRITERS];
    for (long t = 0; t < writers; t++) {
        int e = pthread_create(&th[t], NULL, writer, (void *)t);
        CHECK(e == 0, "pthread_create: %s", strerror(e));
    }
    for (long k = 0; k < rounds; k++)
        for (const char *m = modes; *m; m++) {
            if (*m == 'x')
                continue;
            round_in_process(++r, *m);
            printf("coh-writeback: round %d %s: every completed store is in the file\n", r, mode_name(*m));
        }
    atomic_store(&quit, 1);
    atomic_store(&round_no, -1); /* a writer about to sleep on round_no sees it change */
    futex_wake(&round_no);
    for (long t = 0; t < writers; t++)
        pthread_join(th[t], NULL);
    fprintf(stderr, "coh-writeback: %lu stores\n", atomic_load(&total_stores));
    unlink(FILE_NAME);
    ok();
}
