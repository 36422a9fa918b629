/*
 * timers — Linux timers and time: alarm/setitimer/getitimer, POSIX timers, clock_nanosleep,
 * timerfd, and how their signals interrupt blocking calls. Every check compares with what
 * Linux does; no timing figure is printed, so the output is deterministic.
 *   read      a one-shot ITIMER_REAL interrupts a blocked pipe read (EINTR); under SA_RESTART
 *             alarm(1)'s SIGALRM runs a handler that writes a byte and the read goes on to
 *             return it;
 *   blocking  the same SIGALRM (no SA_RESTART) ends a futex wait and a wait4 with EINTR, and a
 *             nanosleep / relative clock_nanosleep with EINTR and the time left in rem;
 *   periodic  a 10 ms periodic ITIMER_REAL delivers exactly 5 SIGALRMs to a sigsuspend loop,
 *             then is disarmed; getitimer reads 0;
 *   getitimer an armed itimer reads back its interval exactly and a value in (9 s, 10 s];
 *             alarm() returns the seconds left, rounded as glibc does;
 *   posix     timer_create SIGEV_SIGNAL: si_code SI_TIMER, si_value as given, si_overrun 0;
 *             SIGEV_NONE counts down without a signal; errnos for bad ids and clocks;
 *   thread    SIGEV_THREAD_ID reaches the named thread, not the main one; glibc's SIGEV_THREAD
 *             (a helper thread in sigwaitinfo, woken by a SIGEV_THREAD_ID signal) runs its function;
 *   overrun   a 1 ms periodic timer whose signal stays blocked for 50 ms: sigwaitinfo's
 *             si_overrun is large and timer_getoverrun agrees;
 *   abstime   clock_nanosleep TIMER_ABSTIME on MONOTONIC and REALTIME wakes at or after the
 *             deadline; a deadline in the past returns at once;
 *   timerfd   read blocks until an expiry and returns the count; a non-blocking read before
 *             an expiry is EAGAIN; timerfd_gettime counts down; periodic counts accumulate;
 *             poll and epoll report POLLIN once an expiry is counted, not before;
 *   rusage    getrusage (SELF, THREAD, CHILDREN), wait4's rusage and times() count a child's
 *             100 ms of CPU; EINVAL for a bad `who`, EFAULT for a wild pointer;
 *   cputime   CLOCK_THREAD_CPUTIME_ID and a 50 ms ITIMER_VIRTUAL stand still while the process
 *             sleeps; spinning, ITIMER_VIRTUAL sends SIGVTALRM and a 10 ms ITIMER_PROF SIGPROFs;
 *             the process CPU clock is at least the thread's;
 *   fork      the child has no alarm and no POSIX timer; the parent keeps both;
 *   exec      (with "--exec PATH", PATH = this program inside the guest root) an alarm and an
 *             itimer survive execve, a POSIX timer does not ("--after-exec" is the exec'd half).
 *   exhaust   (only with "--exhaust", for Coherent: Linux bounds timers by RLIMIT_SIGPENDING)
 *             timer_create fails with EAGAIN once the table is full; deleting frees records,
 *             and so does the exit of processes that filled the table and never deleted.
 * Args: none, "--exec PATH" or "--exhaust". Expected final line: "timers: OK".
 */
#include "guest.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/epoll.h>
#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/futex.h>

static volatile sig_atomic_t alarms;
static int wake_fd = -1; /* the handler writes a byte here when >= 0 */

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
    if (wake_fd >= 0) {
        char c = 'x';
        if (write(wake_fd, &c, 1) != 1)
            _exit(3);
    }
}

static void handle(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction(%d): errno %d", sig, errno);
}

static void oneshot_ms(long ms)
{
    struct itimerval v = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    CHECK(setitimer(ITIMER_REAL, &v, NULL) == 0, "setitimer(%ld ms): errno %d", ms, errno);
}

static void disarm(void)
{
    struct itimerval v = {{0, 0}, {0, 0}};
    CHECK(setitimer(ITIMER_REAL, &v, NULL) == 0, "setitimer(0): errno %d", errno);
}

static long long now_ns(clockid_t c)
{
    struct timespec ts;
    CHECK(clock_gettime(c, &ts) == 0, "clock_gettime(%d): errno %d", (int)c, errno);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- read: EINTR without SA_RESTART, the read goes on with it ---- */
static void check_read(void)
{
    int p[2];
    char c = 0;
    CHECK(pipe(p) == 0, "pipe: errno %d", errno);
    handle(SIGALRM, on_alarm, 0);
    alarms = 0;
    oneshot_ms(30);
    expect_errno(read(p[0], &c, 1), EINTR, "read interrupted by SIGALRM");
    CHECK(alarms == 1, "read: %d SIGALRM handlers ran, expected 1", (int)alarms);
    handle(SIGALRM, on_alarm, SA_RESTART);
    wake_fd = p[1];
    alarms = 0;
    CHECK(alarm(1) == 0, "alarm(1): an alarm was still pending");
    ssize_t n = read(p[0], &c, 1);
    wake_fd = -1;
    CHECK(n == 1 && c == 'x', "SA_RESTART read = %ld '%c' errno %d, expected the handler's byte", (long)n, c, errno);
    CHECK(alarms == 1, "SA_RESTART read: %d handlers ran", (int)alarms);
    close(p[0]);
    close(p[1]);
    printf("timers: read: ITIMER_REAL interrupted a blocked read (EINTR); under SA_RESTART alarm's handler fed it and it went on\n");
}

/* ---- blocking: futex wait, wait4, nanosleep, clock_nanosleep end with EINTR ---- */
static void check_blocking(void)
{
    handle(SIGALRM, on_alarm, 0);
    static int word;
    oneshot_ms(30);
    expect_errno(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EINTR, "futex wait interrupted");

    pid_t child = fork();
    CHECK(child >= 0, "fork: errno %d", errno);
    if (child == 0) {
        sigset_t none;
        sigemptyset(&none);
        for (;;) sigsuspend(&none); /* until SIGKILL */
    }
    oneshot_ms(30);
    int st;
    expect_errno(waitpid(child, &st, 0), EINTR, "wait4 interrupted");
    CHECK(kill(child, SIGKILL) == 0, "kill: errno %d", errno);
    CHECK(waitpid(child, &st, 0) == child && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "reap: status 0x%x", st);

    struct timespec req = {5, 0}, rem = {0, 0};
    oneshot_ms(30);
    expect_errno(nanosleep(&req, &rem), EINTR, "nanosleep interrupted");
    CHECK(rem.tv_sec >= 3 && rem.tv_sec <= 4 && rem.tv_nsec >= 0 && rem.tv_nsec < 1000000000L,
          "nanosleep rem %ld.%09ld, expected a little under 5 s", (long)rem.tv_sec, rem.tv_nsec);
    rem.tv_sec = 0;
    oneshot_ms(30);
    int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
    CHECK(r == EINTR, "clock_nanosleep interrupted = %d, expected EINTR", r);
    CHECK(rem.tv_sec >= 3 && rem.tv_sec <= 4, "clock_nanosleep rem %ld s", (long)rem.tv_sec);
    printf("timers: blocking: SIGALRM ended a futex wait and a wait4 (EINTR), nanosleep and clock_nanosleep (EINTR, time left in rem)\n");
}

/* ---- periodic ITIMER_REAL ---- */
static void check_periodic(void)
{
    handle(SIGALRM, on_alarm, 0);
    sigset_t alrm, old, none;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &alrm, &old);
    alarms = 0;
    struct itimerval v = {{0, 10000}, {0, 10000}};
    CHECK(setitimer(ITIMER_REAL, &v, NULL) == 0, "setitimer periodic: errno %d", errno);
    while (alarms < 5) sigsuspend(&none);
    disarm();
    int got = alarms;
    sigset_t pend;
    sigpending(&pend);
    if (sigismember(&pend, SIGALRM)) { /* one more may have come before the disarm: take it */
        int sig;
        sigwait(&alrm, &sig);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    CHECK(got == 5, "periodic: %d SIGALRMs, expected 5 (one per sigsuspend)", got);
    struct itimerval cur;
    CHECK(getitimer(ITIMER_REAL, &cur) == 0, "getitimer: errno %d", errno);
    CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0 && cur.it_interval.tv_sec == 0 && cur.it_interval.tv_usec == 0,
          "getitimer after disarm: %ld.%06ld / %ld.%06ld", (long)cur.it_value.tv_sec, (long)cur.it_value.tv_usec,
          (long)cur.it_interval.tv_sec, (long)cur.it_interval.tv_usec);
    printf("timers: periodic: a 10 ms ITIMER_REAL delivered 5 SIGALRMs to a sigsuspend loop; disarmed, getitimer reads 0\n");
}

/* ---- getitimer / alarm remaining ---- */
static void check_remaining(void)
{
    struct itimerval v = {{2, 500000}, {10, 0}}, old, cur;
    CHECK(setitimer(ITIMER_REAL, &v, &old) == 0, "setitimer: errno %d", errno);
    CHECK(old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0, "setitimer: old value not 0");
    CHECK(getitimer(ITIMER_REAL, &cur) == 0, "getitimer: errno %d", errno);
    CHECK(cur.it_interval.tv_sec == 2 && cur.it_interval.tv_usec == 500000, "getitimer interval %ld.%06ld, expected 2.500000",
          (long)cur.it_interval.tv_sec, (long)cur.it_interval.tv_usec);
    long long us = cur.it_value.tv_sec * 1000000LL + cur.it_value.tv_usec;
    CHECK(us > 9000000 && us <= 10000000, "getitimer value %lld us, expected (9 s, 10 s]", us);
    unsigned left = alarm(7);
    CHECK(left == 9 || left == 10, "alarm(7) returned %u, expected 10 (the itimer's seconds, rounded)", left);
    CHECK(getitimer(ITIMER_REAL, &cur) == 0 && cur.it_interval.tv_sec == 0 && cur.it_interval.tv_usec == 0, "alarm left an interval");
    left = alarm(0);
    CHECK(left == 6 || left == 7, "alarm(0) returned %u, expected 7", left);
    struct itimerval bad = {{0, 0}, {0, 1000000}};
    expect_errno(setitimer(ITIMER_REAL, &bad, NULL), EINVAL, "setitimer tv_usec 1000000");
    expect_errno(setitimer(99, &v, NULL), EINVAL, "setitimer(99)");
    printf("timers: getitimer: interval exact, value in (9 s, 10 s]; alarm returns the seconds left; EINVAL for bad values\n");
}

/* ---- POSIX timers ---- */
static volatile sig_atomic_t timer_hits, timer_code, timer_value, timer_overrun, timer_tid;

static void on_timer(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    timer_hits++;
    timer_code = si->si_code;
    timer_value = si->si_value.sival_int;
    timer_overrun = si->si_overrun;
    timer_tid = (sig_atomic_t)syscall(SYS_gettid);
}

static void siginfo_handler(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_timer;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction(%d): errno %d", sig, errno);
}

static timer_t make_timer(clockid_t clock, int notify, int sig, int value, pid_t tid)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = notify;
    sev.sigev_signo = sig;
    sev.sigev_value.sival_int = value;
    sev._sigev_un._tid = tid;
    timer_t t;
    CHECK(timer_create(clock, &sev, &t) == 0, "timer_create(clock %d, notify %d): errno %d", (int)clock, notify, errno);
    return t;
}

static void arm(timer_t t, long value_ns, long interval_ns)
{
    struct itimerspec its = {{interval_ns / 1000000000L, interval_ns % 1000000000L}, {value_ns / 1000000000L, value_ns % 1000000000L}};
    CHECK(timer_settime(t, 0, &its, NULL) == 0, "timer_settime: errno %d", errno);
}

static void check_posix(void)
{
    siginfo_handler(SIGUSR1);
    sigset_t usr1, old, none;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &usr1, &old);
    timer_t t = make_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGUSR1, 4242, 0);
    timer_hits = 0;
    arm(t, 20000000L, 0);
    while (timer_hits == 0) sigsuspend(&none);
    sigprocmask(SIG_SETMASK, &old, NULL);
    CHECK(timer_code == SI_TIMER, "si_code %d, expected SI_TIMER (%d)", (int)timer_code, SI_TIMER);
    CHECK(timer_value == 4242, "si_value %d, expected 4242", (int)timer_value);
    CHECK(timer_overrun == 0 && timer_getoverrun(t) == 0, "one-shot overrun %d / %d", (int)timer_overrun, timer_getoverrun(t));
    struct itimerspec cur;
    CHECK(timer_gettime(t, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, "expired one-shot still armed");
    CHECK(timer_delete(t) == 0, "timer_delete: errno %d", errno);

    timer_t n = make_timer(CLOCK_REALTIME, SIGEV_NONE, 0, 0, 0);
    arm(n, 10000000000L, 3000000000L);
    CHECK(timer_gettime(n, &cur) == 0, "timer_gettime: errno %d", errno);
    CHECK(cur.it_interval.tv_sec == 3 && cur.it_interval.tv_nsec == 0, "SIGEV_NONE interval %ld.%09ld", (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
    CHECK(cur.it_value.tv_sec >= 9 && cur.it_value.tv_sec <= 10, "SIGEV_NONE value %ld s, expected about 10", (long)cur.it_value.tv_sec);
    CHECK(timer_delete(n) == 0, "timer_delete(SIGEV_NONE): errno %d", errno);

    expect_errno(timer_delete(n), EINVAL, "timer_delete twice");
    expect_errno(timer_gettime(n, &cur), EINVAL, "timer_gettime of a deleted timer");
    timer_t dummy;
    expect_errno(timer_create((clockid_t)77, NULL, &dummy), EINVAL, "timer_create(clock 77)");
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = 99;
    expect_errno(timer_create(CLOCK_MONOTONIC, &sev, &dummy), EINVAL, "timer_create(signal 99)");
    printf("timers: posix: SIGEV_SIGNAL gave SI_TIMER with si_value, overrun 0; SIGEV_NONE counts down; EINVAL for bad ids, clocks, signals\n");
}

/* ---- SIGEV_THREAD_ID, and glibc's SIGEV_THREAD (a helper thread woken by a SIGEV_THREAD_ID signal) ---- */
static atomic_int thread_tid, notified;

static void on_notify(union sigval v)
{
    atomic_store(&notified, v.sival_int);
}

static void *target_thread(void *arg)
{
    (void)arg;
    sigset_t none;
    sigemptyset(&none);
    atomic_store(&thread_tid, (int)syscall(SYS_gettid));
    while (timer_hits == 0) sigsuspend(&none);
    return NULL;
}

static void check_thread(void)
{
    siginfo_handler(SIGUSR2);
    sigset_t usr2, old;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, &old); /* the new thread's mask: blocked outside sigsuspend */
    timer_hits = 0;
    timer_tid = 0;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, target_thread, NULL) == 0, "pthread_create");
    sigprocmask(SIG_SETMASK, &old, NULL); /* the main thread takes SIGUSR2 if it were process-directed */
    while (atomic_load(&thread_tid) == 0) sched_yield();
    timer_t t = make_timer(CLOCK_MONOTONIC, SIGEV_THREAD_ID | SIGEV_SIGNAL, SIGUSR2, 7, atomic_load(&thread_tid));
    arm(t, 20000000L, 0);
    CHECK(pthread_join(th, NULL) == 0, "pthread_join");
    CHECK(timer_hits == 1, "SIGEV_THREAD_ID: %d handlers ran", (int)timer_hits);
    CHECK(timer_tid == atomic_load(&thread_tid), "SIGEV_THREAD_ID: handler ran in tid %d, expected %d", (int)timer_tid, atomic_load(&thread_tid));
    CHECK(timer_delete(t) == 0, "timer_delete: errno %d", errno);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGUSR2;
    sev._sigev_un._tid = 999999;
    timer_t dummy;
    expect_errno(timer_create(CLOCK_MONOTONIC, &sev, &dummy), EINVAL, "SIGEV_THREAD_ID to a missing thread");
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = on_notify;
    sev.sigev_value.sival_int = 31;
    timer_t tt;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &tt) == 0, "timer_create(SIGEV_THREAD): errno %d", errno);
    arm(tt, 20000000L, 0);
    for (int i = 0; i < 10000 && atomic_load(&notified) == 0; i++) {
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    CHECK(atomic_load(&notified) == 31, "SIGEV_THREAD: the notify function ran with %d, expected 31", atomic_load(&notified));
    CHECK(timer_delete(tt) == 0, "timer_delete(SIGEV_THREAD): errno %d", errno);
    printf("timers: thread: SIGEV_THREAD_ID reached the named thread, not the main one; EINVAL for a missing thread; SIGEV_THREAD ran its function\n");
}

/* ---- overrun ---- */
static void check_overrun(void)
{
    sigset_t rt, old;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &rt, &old);
    timer_t t = make_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN + 1, 99, 0);
    arm(t, 1000000L, 1000000L);
    struct timespec ts = {0, 50000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    siginfo_t si;
    int sig = sigwaitinfo(&rt, &si);
    CHECK(sig == SIGRTMIN + 1, "sigwaitinfo = %d errno %d", sig, errno);
    int o = timer_getoverrun(t);
    CHECK(si.si_code == SI_TIMER && si.si_value.sival_int == 99, "overrun: si_code %d si_value %d", si.si_code, si.si_value.sival_int);
    CHECK(si.si_overrun >= 10, "si_overrun %d after 50 ms of a 1 ms timer, expected >= 10", si.si_overrun);
    CHECK(o == si.si_overrun, "timer_getoverrun %d, si_overrun %d", o, si.si_overrun);
    CHECK(timer_delete(t) == 0, "timer_delete: errno %d", errno);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&rt, &si, &zero) > 0) {} /* a last expiry queued before the delete */
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("timers: overrun: a blocked 1 ms timer's signal reported its missed expiries; timer_getoverrun agrees\n");
}

/* ---- clock_nanosleep TIMER_ABSTIME ---- */
static void check_abstime(void)
{
    clockid_t clocks[2] = {CLOCK_MONOTONIC, CLOCK_REALTIME};
    for (int i = 0; i < 2; i++) {
        long long target = now_ns(clocks[i]) + 30000000LL;
        struct timespec ts = {target / 1000000000LL, target % 1000000000LL};
        int r;
        while ((r = clock_nanosleep(clocks[i], TIMER_ABSTIME, &ts, NULL)) == EINTR) {}
        CHECK(r == 0, "clock_nanosleep ABSTIME clock %d = %d", (int)clocks[i], r);
        CHECK(now_ns(clocks[i]) >= target, "clock %d: woke before the deadline", (int)clocks[i]);
    }
    struct timespec past = {1, 0};
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL) == 0, "ABSTIME in the past");
    struct timespec badns = {0, 1000000000L};
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &badns, NULL) == EINVAL, "ABSTIME tv_nsec 1e9: not EINVAL");
    printf("timers: abstime: clock_nanosleep TIMER_ABSTIME on MONOTONIC and REALTIME woke at or after the deadline; the past returns at once\n");
}

/* ---- timerfd ---- */
static void check_timerfd(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    CHECK(fd >= 0, "timerfd_create: errno %d", errno);
    uint64_t n = 0;
    expect_errno(read(fd, &n, 8), EAGAIN, "read of a disarmed non-blocking timerfd");
    struct itimerspec its = {{0, 0}, {10, 0}}, cur;
    CHECK(timerfd_settime(fd, 0, &its, NULL) == 0, "timerfd_settime: errno %d", errno);
    expect_errno(read(fd, &n, 8), EAGAIN, "read of an armed non-blocking timerfd before its expiry");
    CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec >= 9 && cur.it_value.tv_sec <= 10, "timerfd_gettime: %ld s", (long)cur.it_value.tv_sec);
    expect_errno(read(fd, &n, 4), EINVAL, "timerfd read of 4 bytes");
    close(fd);

    fd = timerfd_create(CLOCK_MONOTONIC, 0);
    CHECK(fd >= 0, "timerfd_create (blocking): errno %d", errno);
    its.it_value.tv_sec = 0;
    its.it_value.tv_nsec = 20000000L;
    CHECK(timerfd_settime(fd, 0, &its, NULL) == 0, "timerfd_settime: errno %d", errno);
    CHECK(read(fd, &n, 8) == 8 && n == 1, "blocking timerfd read: count %llu, expected 1", (unsigned long long)n);
    struct itimerspec per = {{0, 2000000L}, {0, 2000000L}};
    CHECK(timerfd_settime(fd, 0, &per, NULL) == 0, "timerfd_settime periodic: errno %d", errno);
    struct timespec ts = {0, 30000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    CHECK(read(fd, &n, 8) == 8 && n >= 5, "periodic timerfd: count %llu after 30 ms of 2 ms periods", (unsigned long long)n);
    struct itimerspec off = {{0, 0}, {0, 0}};
    CHECK(timerfd_settime(fd, 0, &off, &cur) == 0, "timerfd disarm: errno %d", errno);
    CHECK(cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 2000000L, "timerfd old interval %ld", cur.it_interval.tv_nsec);
    close(fd);

    /* poll and epoll wait for an expiry: not readable before it, POLLIN/EPOLLIN after it, and a
       read clears it (Linux timerfd_poll). The deadline is 30 ms; the waits allow 10 s. */
    fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    CHECK(fd >= 0, "timerfd_create (poll): errno %d", errno);
    struct pollfd pf = { fd, POLLIN, 0 };
    CHECK(poll(&pf, 1, 0) == 0, "poll of a disarmed timerfd: revents 0x%x", pf.revents);
    its.it_value.tv_sec = 0;
    its.it_value.tv_nsec = 30000000L;
    CHECK(timerfd_settime(fd, 0, &its, NULL) == 0, "timerfd_settime (poll): errno %d", errno);
    CHECK(poll(&pf, 1, 10000) == 1 && pf.revents == POLLIN, "poll of a timerfd until its expiry: revents 0x%x", pf.revents);
    CHECK(read(fd, &n, 8) == 8 && n == 1, "read after poll: count %llu", (unsigned long long)n);
    CHECK(poll(&pf, 1, 0) == 0, "poll after the read: revents 0x%x", pf.revents);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 7 }, got;
    CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl ADD timerfd: errno %d", errno);
    CHECK(epoll_wait(ep, &got, 1, 0) == 0, "epoll_wait before the expiry");
    CHECK(timerfd_settime(fd, 0, &its, NULL) == 0, "timerfd_settime (epoll): errno %d", errno);
    CHECK(epoll_wait(ep, &got, 1, 10000) == 1 && got.events == EPOLLIN && got.data.u64 == 7, "epoll_wait on a timerfd: events 0x%x", got.events);
    CHECK(read(fd, &n, 8) == 8 && n == 1, "read after epoll_wait: count %llu", (unsigned long long)n);
    close(ep);
    close(fd);
    expect_errno(timerfd_create(77, 0), EINVAL, "timerfd_create(clock 77)");
    printf("timers: timerfd: a blocking read returned the expiry count; EAGAIN before an expiry; gettime counts down; periodic counts add up; poll and epoll wait for an expiry\n");
}

/* ---- CPU time: clocks and ITIMER_VIRTUAL / ITIMER_PROF ---- */
static volatile sig_atomic_t vtalrms, profs;
static void on_vtalrm(int sig) { (void)sig; vtalrms++; }
static void on_prof(int sig) { (void)sig; profs++; }

/* Spin (never blocking) until `*flag` reaches `want` or 20 s of wall time passed; the flag's value. */
static int spin_until(volatile sig_atomic_t *flag, int want)
{
    long long end = now_ns(CLOCK_MONOTONIC) + 20000000000LL;
    volatile unsigned long x = 0;
    while (*flag < want && now_ns(CLOCK_MONOTONIC) < end)
        for (int i = 0; i < 100000; i++) x += (unsigned long)i;
    return *flag;
}

static void check_cputime(void)
{
    long long t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    struct timespec ts = {0, 100000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    long long slept = now_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
    CHECK(slept >= 0 && slept < 50000000LL, "thread CPU time grew %lld ns over a 100 ms sleep", slept);
    handle(SIGVTALRM, on_vtalrm, 0);
    handle(SIGPROF, on_prof, 0);
    vtalrms = 0;
    struct itimerval v = {{0, 0}, {0, 50000}}, cur;
    CHECK(setitimer(ITIMER_VIRTUAL, &v, NULL) == 0, "setitimer(ITIMER_VIRTUAL): errno %d", errno);
    ts.tv_sec = 0;
    ts.tv_nsec = 100000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    CHECK(vtalrms == 0, "ITIMER_VIRTUAL fired while the process slept");
    CHECK(getitimer(ITIMER_VIRTUAL, &cur) == 0 && cur.it_value.tv_usec > 10000, "ITIMER_VIRTUAL ran down while asleep: %ld us left",
          (long)cur.it_value.tv_usec);
    long long c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    CHECK(spin_until(&vtalrms, 1) == 1, "ITIMER_VIRTUAL: no SIGVTALRM after 20 s of spinning");
    long long spun = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    CHECK(spun > 5000000LL, "thread CPU time grew only %lld ns until the 50 ms ITIMER_VIRTUAL fired", spun);
    CHECK(getitimer(ITIMER_VIRTUAL, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0, "one-shot ITIMER_VIRTUAL still armed");
    long long thread_ns = now_ns(CLOCK_THREAD_CPUTIME_ID);
    long long process_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID); /* read after the thread's: never less */
    CHECK(process_ns >= thread_ns, "process CPU time %lld below the thread's %lld", process_ns, thread_ns);
    profs = 0;
    struct itimerval p = {{0, 10000}, {0, 10000}};
    CHECK(setitimer(ITIMER_PROF, &p, NULL) == 0, "setitimer(ITIMER_PROF): errno %d", errno);
    CHECK(spin_until(&profs, 3) >= 3, "ITIMER_PROF: %d SIGPROFs after 20 s of spinning", (int)profs);
    struct itimerval off = {{0, 0}, {0, 0}};
    CHECK(setitimer(ITIMER_PROF, &off, &cur) == 0 && cur.it_interval.tv_usec == 10000, "ITIMER_PROF disarm");
    printf("timers: cputime: CPU clocks and ITIMER_VIRTUAL stand still while asleep; ITIMER_VIRTUAL and ITIMER_PROF fire on CPU time\n");
}

/* ---- fork ---- */
static void check_fork(void)
{
    alarm(30);
    timer_t t = make_timer(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0, 0);
    arm(t, 30000000000L, 0);
    fflush(stdout);
    pid_t child = fork();
    CHECK(child >= 0, "fork: errno %d", errno);
    if (child == 0) {
        struct itimerval cur;
        struct itimerspec its;
        if (getitimer(ITIMER_REAL, &cur) != 0 || cur.it_value.tv_sec != 0 || cur.it_value.tv_usec != 0)
            _exit(10);
        if (alarm(0) != 0)
            _exit(11);
        if (timer_gettime(t, &its) != -1 || errno != EINVAL)
            _exit(12);
        _exit(0);
    }
    int st;
    CHECK(waitpid(child, &st, 0) == child, "waitpid: errno %d", errno);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child: status 0x%x (10: itimer inherited, 11: alarm inherited, 12: POSIX timer inherited)", st);
    unsigned left = alarm(0);
    CHECK(left >= 29 && left <= 30, "parent's alarm after fork: %u s left", left);
    struct itimerspec its;
    CHECK(timer_gettime(t, &its) == 0 && its.it_value.tv_sec >= 29, "parent's POSIX timer after fork");
    CHECK(timer_delete(t) == 0, "timer_delete: errno %d", errno);
    printf("timers: fork: the child has no alarm, itimer or POSIX timer; the parent keeps them\n");
}

/* ---- exec ---- */
static int after_exec(const char *id)
{
    guest_start("timers");
    struct itimerval cur;
    CHECK(getitimer(ITIMER_REAL, &cur) == 0, "after exec: getitimer: errno %d", errno);
    CHECK(cur.it_interval.tv_sec == 5, "after exec: itimer interval %ld s, expected 5", (long)cur.it_interval.tv_sec);
    CHECK(cur.it_value.tv_sec >= 19 && cur.it_value.tv_sec <= 20, "after exec: itimer value %ld s, expected about 20", (long)cur.it_value.tv_sec);
    struct itimerspec its;
    expect_errno(timer_gettime((timer_t)strtol(id, NULL, 0), &its), EINVAL, "after exec: the POSIX timer");
    CHECK(alarm(0) >= 19, "after exec: alarm gone");
    printf("timers: exec: the itimer survived execve, the POSIX timer did not\n");
    return 0;
}

static void check_exec(const char *path)
{
    fflush(stdout);
    pid_t child = fork();
    CHECK(child >= 0, "fork: errno %d", errno);
    if (child == 0) {
        struct itimerval v = {{5, 0}, {20, 0}};
        if (setitimer(ITIMER_REAL, &v, NULL) != 0)
            _exit(20);
        timer_t t = make_timer(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0, 0);
        arm(t, 30000000000L, 0);
        char id[32];
        snprintf(id, sizeof id, "%ld", (long)t);
        char *argv[] = {"timers", "--after-exec", id, NULL};
        char *envp[] = {NULL};
        execve(path, argv, envp);
        _exit(22);
    }
    int st;
    CHECK(waitpid(child, &st, 0) == child, "waitpid: errno %d", errno);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec child: status 0x%x", st);
}

/* ---- exhaust (Coherent's table only: Linux's bound is RLIMIT_SIGPENDING) ---- */
static void check_exhaust(void)
{
    static timer_t ids[1 << 16];
    int n = 0;
    for (; n < (1 << 16); n++) {
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_NONE;
        if (timer_create(CLOCK_MONOTONIC, &sev, &ids[n]) != 0)
            break;
    }
    CHECK(n < (1 << 16) && errno == EAGAIN, "exhaust: %d timers, then errno %d (expected EAGAIN)", n, errno);
    for (int i = 0; i < n; i++) CHECK(timer_delete(ids[i]) == 0, "exhaust: timer_delete: errno %d", errno);
    /* Children fill the table and exit without deleting: their exits free the records. */
    for (int round = 0; round < 2; round++) {
        fflush(stdout);
        pid_t child = fork();
        CHECK(child >= 0, "fork: errno %d", errno);
        if (child == 0) {
            alarm(100); /* an ITIMER_REAL record too, freed by the exit like the rest */
            int k = 0;
            timer_t t;
            struct sigevent sev;
            memset(&sev, 0, sizeof sev);
            sev.sigev_notify = SIGEV_NONE;
            while (k < n && timer_create(CLOCK_MONOTONIC, &sev, &t) == 0) k++;
            _exit(k >= n - 8 ? 0 : 1); /* the parent holds none; a few records may be other processes' */
        }
        int st;
        CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0, "exhaust: child %d could not fill the table: 0x%x", round, st);
    }
    printf("timers: exhaust: EAGAIN once the timer table is full; deleted and exited processes' timers are freed\n");
}

/* ---- getrusage, times, wait4's rusage ---- */
static long long tv_ns(struct timeval tv) { return (long long)tv.tv_sec * 1000000000LL + (long long)tv.tv_usec * 1000LL; }

static void check_rusage(void)
{
    struct rusage self, thread, kids0, kids1, waited;
    struct tms t0, t1;
    /* THREAD first: SELF, read after it, includes this thread's time and can only have grown. */
    CHECK(getrusage(RUSAGE_THREAD, &thread) == 0 && getrusage(RUSAGE_SELF, &self) == 0, "getrusage: errno %d", errno);
    long long self_ns = tv_ns(self.ru_utime) + tv_ns(self.ru_stime);
    CHECK(self_ns > 0, "getrusage(RUSAGE_SELF): no CPU time after the spinning above");
    CHECK(tv_ns(thread.ru_utime) + tv_ns(thread.ru_stime) <= self_ns, "RUSAGE_THREAD %lld ns above RUSAGE_SELF %lld ns",
          tv_ns(thread.ru_utime) + tv_ns(thread.ru_stime), self_ns);
    CHECK(self.ru_maxrss > 0, "ru_maxrss %ld", self.ru_maxrss);
    CHECK(getrusage(RUSAGE_CHILDREN, &kids0) == 0, "getrusage(RUSAGE_CHILDREN): errno %d", errno);
    clock_t c0 = times(&t0);
    CHECK(c0 != (clock_t)-1, "times: errno %d", errno);
    long ticks = sysconf(_SC_CLK_TCK);
    CHECK(ticks == 100, "sysconf(_SC_CLK_TCK) %ld", ticks);
    /* A child that spins until its own CPU clock shows 100 ms. */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        while (now_ns(CLOCK_PROCESS_CPUTIME_ID) < 100000000LL) {}
        _exit(0);
    }
    int st;
    CHECK(wait4(pid, &st, 0, &waited) == pid && WIFEXITED(st), "wait4");
    long long waited_ns = tv_ns(waited.ru_utime) + tv_ns(waited.ru_stime);
    CHECK(waited_ns >= 99000000LL && waited_ns < 60000000000LL, "wait4 rusage: %lld ns for a 100 ms spin", waited_ns);
    CHECK(getrusage(RUSAGE_CHILDREN, &kids1) == 0, "getrusage(RUSAGE_CHILDREN) after");
    long long grew = tv_ns(kids1.ru_utime) + tv_ns(kids1.ru_stime) - tv_ns(kids0.ru_utime) - tv_ns(kids0.ru_stime);
    CHECK(grew >= waited_ns - 2000000LL, "RUSAGE_CHILDREN grew %lld ns, the child used %lld", grew, waited_ns);
    clock_t c1 = times(&t1);
    CHECK(c1 >= c0, "times went back: %ld then %ld", (long)c0, (long)c1);
    CHECK((t1.tms_cutime + t1.tms_cstime) - (t0.tms_cutime + t0.tms_cstime) >= 9, "times: children's ticks grew by %ld",
          (long)((t1.tms_cutime + t1.tms_cstime) - (t0.tms_cutime + t0.tms_cstime)));
    errno = 0;
    CHECK(getrusage(7, &self) == -1 && errno == EINVAL, "getrusage(7): errno %d", errno);
    errno = 0;
    CHECK(getrusage(RUSAGE_SELF, (struct rusage *)8) == -1 && errno == EFAULT, "getrusage to a wild pointer: errno %d", errno);
    printf("timers: rusage: getrusage SELF/THREAD/CHILDREN, wait4's rusage and times() count a child's 100 ms of CPU; EINVAL, EFAULT\n");
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--after-exec") == 0)
        return after_exec(argv[2]);
    guest_start("timers");
    const char *exec_path = NULL;
    if (argc > 1 && strcmp(argv[1], "--exhaust") == 0) {
        check_exhaust();
        ok();
    }
    if (argc > 2 && strcmp(argv[1], "--exec") == 0)
        exec_path = argv[2];
    else if (argc > 1)
        fail("usage: timers [--exec PATH | --exhaust]");
    check_read();
    check_blocking();
    check_periodic();
    check_remaining();
    check_posix();
    check_thread();
    check_overrun();
    check_abstime();
    check_timerfd();
    check_cputime();
    check_rusage();
    check_fork();
    if (exec_path)
        check_exec(exec_path);
    ok();
}
