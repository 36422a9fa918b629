/*
 * pollio.c — waiting on many fds (issue 14 item 4): poll/ppoll/select/pselect over pipes,
 * eventfds and socket pairs, epoll (level- and edge-triggered, EPOLLONESHOT, EPOLLRDHUP/HUP/ERR),
 * eventfd counter semantics, and pause()/ppoll woken by a signal. A producer process feeds a
 * pipe, an eventfd and a socket pair in rounds; the consumer waits on all three at once with
 * poll, then select, then epoll, and checks that it saw every item exactly once.
 * Deterministic output (the same under qemu-riscv64): only results, never timings.
 * Usage: pollio [rounds [--qemu-epoll-pwait2-lenient]]   (default 20 rounds)
 *        pollio race N      (N single wake-ups: the lost wake-up check, see race())
 *        pollio stdin       (the host's stdin as a source, see stdin_source())
 */
#include "guest.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t got_usr1;
static const char *self_path = "";
/* --qemu-epoll-pwait2-lenient (after the rounds): qemu-user 7.2 has no epoll_pwait2 (ENOSYS). */
static int qemu_pwait2_lenient;
static void on_usr1(int sig) { (void)sig; got_usr1++; }

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void pipe_basics(void)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct pollfd f[2] = { { p[0], POLLIN, 0 }, { p[1], POLLOUT, 0 } };
    CHECK(poll(f, 2, 0) == 1 && f[0].revents == 0 && f[1].revents == POLLOUT, "empty pipe: only the write end is ready (%d %d)", f[0].revents, f[1].revents);
    CHECK(write(p[1], "x", 1) == 1, "write");
    CHECK(poll(f, 2, 0) == 2 && f[0].revents == POLLIN, "pipe with a byte: POLLIN (%d)", f[0].revents);
    struct pollfd neg[2] = { { -1, POLLIN, 77 }, { closed_fd(), POLLIN, 0 } };
    CHECK(poll(neg, 2, 0) == 1 && neg[0].revents == 0 && neg[1].revents == POLLNVAL, "negative fd skipped, closed fd POLLNVAL");
    close(p[1]);
    CHECK(poll(f, 1, 0) == 1 && f[0].revents == (POLLIN | POLLHUP), "writer closed: POLLIN|POLLHUP (%d)", f[0].revents);
    char c;
    CHECK(read(p[0], &c, 1) == 1, "read");
    CHECK(poll(f, 1, 0) == 1 && f[0].revents == POLLHUP, "drained, writer closed: POLLHUP (%d)", f[0].revents);
    CHECK(pipe(p) == 0, "pipe 2");
    close(p[0]);
    struct pollfd w = { p[1], POLLOUT, 0 };
    CHECK(poll(&w, 1, 0) == 1 && (w.revents & POLLERR), "reader closed: POLLERR (%d)", w.revents);
    close(p[1]);
    printf("pollio: pipe readiness ok\n");
}

static void eventfd_semantics(void)
{
    int e = eventfd(3, EFD_NONBLOCK);
    CHECK(e >= 0, "eventfd");
    uint64_t v = 0;
    CHECK(read(e, &v, 8) == 8 && v == 3, "read 3 (%llu)", (unsigned long long)v);
    CHECK(read(e, &v, 8) == -1 && errno == EAGAIN, "empty nonblocking read: EAGAIN");
    CHECK(read(e, &v, 4) == -1 && errno == EINVAL, "short read: EINVAL");
    v = UINT64_MAX;
    CHECK(write(e, &v, 8) == -1 && errno == EINVAL, "write 2^64-1: EINVAL");
    v = UINT64_MAX - 1;
    CHECK(write(e, &v, 8) == 8, "write max");
    v = 1;
    CHECK(write(e, &v, 8) == -1 && errno == EAGAIN, "overflow: EAGAIN");
    struct pollfd f = { e, POLLIN | POLLOUT, 0 };
    CHECK(poll(&f, 1, 0) == 1 && f.revents == POLLIN, "full counter: POLLIN only (%d)", f.revents);
    CHECK(read(e, &v, 8) == 8 && v == UINT64_MAX - 1, "read max");
    close(e);
    int s = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(s >= 0 && (fcntl(s, F_GETFD) & FD_CLOEXEC), "semaphore eventfd, cloexec");
    CHECK(read(s, &v, 8) == 8 && v == 1 && read(s, &v, 8) == 8 && v == 1, "semaphore reads 1, 1");
    CHECK(read(s, &v, 8) == -1 && errno == EAGAIN, "semaphore empty: EAGAIN");
    close(s);
    CHECK(eventfd(0, 0x7) == -1 && errno == EINVAL, "bad flags: EINVAL");
    printf("pollio: eventfd counter ok\n");
}

/* The producer: `rounds` rounds of one byte on the pipe, +1 on the eventfd, one message on the socket. */
static void producer(int pw, int efd, int sock, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        struct timespec d = { 0, 2000000 };
        nanosleep(&d, NULL);
        char b = (char)('a' + i % 26);
        uint64_t one = 1;
        char m[16];
        int n = snprintf(m, sizeof m, "m%d", i);
        if (write(pw, &b, 1) != 1 || write(efd, &one, 8) != 8 || send(sock, m, (size_t)n, 0) != n) _exit(3);
    }
    _exit(0);
}

struct tally { int pipe_bytes, events, msgs; };

static void consume(int fd, int kind, struct tally *t)
{
    char buf[64];
    if (kind == 0) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) t->pipe_bytes += (int)n;
    } else if (kind == 1) {
        uint64_t v;
        if (read(fd, &v, 8) == 8) t->events += (int)v;
    } else {
        if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) t->msgs++;
    }
}

/* Run a producer and consume with `how`: 0 poll, 1 select, 2 epoll (level), 3 epoll (edge). */
static void produce_consume(int how, int rounds)
{
    int p[2], sv[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0, "pipe");
    int efd = eventfd(0, EFD_NONBLOCK);
    CHECK(efd >= 0, "eventfd");
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0, "socketpair");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(p[0]);
        close(sv[0]);
        producer(p[1], efd, sv[1], rounds);
    }
    close(p[1]);
    close(sv[1]);
    int fds[3] = { p[0], efd, sv[0] };
    struct tally t = { 0, 0, 0 };
    int ep = -1;
    if (how >= 2) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        CHECK(ep >= 0, "epoll_create1");
        for (int k = 0; k < 3; k++) {
            struct epoll_event ev = { .events = EPOLLIN | (how == 3 ? EPOLLET : 0), .data.u32 = (uint32_t)k };
            CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fds[k], &ev) == 0, "epoll_ctl add %d", k);
        }
    }
    int hup = 0, waits = 0;
    while ((t.pipe_bytes < rounds || t.events < rounds || t.msgs < rounds) && waits < 100000) {
        waits++;
        if (how == 0) {
            struct pollfd f[3];
            for (int k = 0; k < 3; k++) f[k] = (struct pollfd){ fds[k], POLLIN, 0 };
            int n = poll(f, 3, 5000);
            CHECK(n > 0, "poll returned %d", n);
            for (int k = 0; k < 3; k++) {
                if (f[k].revents & POLLIN) consume(fds[k], k, &t);
                if (k == 0 && (f[k].revents & POLLHUP)) hup = 1;
            }
        } else if (how == 1) {
            fd_set r;
            FD_ZERO(&r);
            int max = 0;
            for (int k = 0; k < 3; k++) { FD_SET(fds[k], &r); if (fds[k] > max) max = fds[k]; }
            struct timeval tv = { 5, 0 };
            int n = select(max + 1, &r, NULL, NULL, &tv);
            CHECK(n > 0, "select returned %d", n);
            for (int k = 0; k < 3; k++) if (FD_ISSET(fds[k], &r)) consume(fds[k], k, &t);
        } else {
            struct epoll_event ev[3];
            int n = epoll_wait(ep, ev, 3, 5000);
            CHECK(n > 0, "epoll_wait returned %d", n);
            for (int i = 0; i < n; i++) {
                int k = (int)ev[i].data.u32;
                if (ev[i].events & EPOLLIN) {
                    if (how == 3) { /* edge: drain everything */
                        struct tally before;
                        do { before = t; consume(fds[k], k, &t); } while (memcmp(&before, &t, sizeof t) != 0);
                    } else {
                        consume(fds[k], k, &t);
                    }
                }
            }
        }
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "producer status %x", st);
    CHECK(t.pipe_bytes == rounds && t.events == rounds && t.msgs == rounds, "%s saw %d/%d/%d of %d",
          how == 0 ? "poll" : how == 1 ? "select" : "epoll", t.pipe_bytes, t.events, t.msgs, rounds);
    (void)hup;
    if (ep >= 0) close(ep);
    close(p[0]);
    close(efd);
    close(sv[0]);
    printf("pollio: %s consumed %d rounds from pipe+eventfd+socketpair\n",
           how == 0 ? "poll" : how == 1 ? "select" : how == 2 ? "epoll level" : "epoll edge", rounds);
}

static void timeouts(void)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct pollfd f = { p[0], POLLIN, 0 };
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(poll(&f, 1, 30) == 0 && f.revents == 0, "poll timeout: 0");
    CHECK(ms_since(&t0) >= 29, "poll returned before its timeout");
    struct timespec ts = { 0, 20000000 };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(ppoll(&f, 1, &ts, NULL) == 0, "ppoll timeout: 0");
    CHECK(ms_since(&t0) >= 19, "ppoll returned before its timeout");
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = { 0, 20000 };
    CHECK(select(p[0] + 1, &r, NULL, NULL, &tv) == 0 && !FD_ISSET(p[0], &r), "select timeout: 0, set cleared");
    CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "select wrote the time left back (%ld.%06ld)", (long)tv.tv_sec, (long)tv.tv_usec);
    FD_ZERO(&r);
    int shut = closed_fd();
    FD_SET(shut, &r);
    tv = (struct timeval){ 0, 0 };
    CHECK(select(shut + 1, &r, NULL, NULL, &tv) == -1 && errno == EBADF, "select on a closed fd: EBADF");
    struct timespec bad = { 0, 1000000000 };
    CHECK(ppoll(&f, 1, &bad, NULL) == -1 && errno == EINVAL, "ppoll bad timespec: EINVAL");
    close(p[0]);
    close(p[1]);
    printf("pollio: timeouts ok\n");
}

/* A child that sends SIGUSR1 to its parent every 2 ms until the parent kills it. */
static pid_t nagger(void)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        for (;;) {
            kill(parent, SIGUSR1);
            struct timespec d = { 0, 2000000 };
            nanosleep(&d, NULL);
        }
    }
    return pid;
}

/* End the nagger. Its last SIGUSR1 may still be on the way after kill(SIGKILL) returns (it is
 * mid-kill on another CPU), and would interrupt our next blocking call: block SIGUSR1 while it
 * dies, reap it, then unblock (a pending SIGUSR1 runs its handler here, outside any call). */
static void stop_nagger(pid_t n)
{
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old);
    kill(n, SIGKILL);
    while (waitpid(n, NULL, 0) < 0 && errno == EINTR) {}
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void signals_end_waits(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART; /* poll-family calls are never restarted: still EINTR */
    sigaction(SIGUSR1, &sa, NULL);

    got_usr1 = 0;
    pid_t n = nagger();
    int r = pause();
    CHECK(r == -1 && errno == EINTR && got_usr1 > 0, "pause: -1 EINTR after the handler (%d %d)", r, got_usr1);
    stop_nagger(n);
    printf("pollio: pause woken by a signal\n");

    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct pollfd f = { p[0], POLLIN, 0 };
    got_usr1 = 0;
    n = nagger();
    r = poll(&f, 1, -1);
    CHECK(r == -1 && errno == EINTR && got_usr1 > 0, "poll: EINTR with SA_RESTART (%d)", r);
    stop_nagger(n);

    /* ppoll's mask: SIGUSR1 blocked outside, unblocked only during the wait. */
    sigset_t block, empty, now;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, NULL);
    got_usr1 = 0;
    n = nagger();
    struct timespec d = { 0, 20000000 };
    nanosleep(&d, NULL);
    CHECK(got_usr1 == 0, "blocked SIGUSR1 ran its handler");
    r = ppoll(&f, 1, NULL, &empty);
    CHECK(r == -1 && errno == EINTR && got_usr1 == 1, "ppoll with an empty mask: EINTR, one handler run (%d %d)", r, got_usr1);
    sigprocmask(SIG_BLOCK, NULL, &now);
    CHECK(sigismember(&now, SIGUSR1), "ppoll did not restore the mask");
    /* The pending SIGUSR1 stays blocked by ppoll's own mask: a plain timeout. */
    struct timespec z = { 0, 10000000 };
    CHECK(ppoll(&f, 1, &z, &block) == 0, "ppoll with SIGUSR1 blocked: timeout");
    stop_nagger(n);
    /* pselect with an empty mask takes the pending signal. */
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    got_usr1 = 0;
    r = pselect(p[0] + 1, &rs, NULL, NULL, NULL, &empty);
    CHECK(r == -1 && errno == EINTR && got_usr1 == 1, "pselect: pending signal taken (%d %d)", r, got_usr1);
    /* epoll_pwait's mask the same way; epoll_pwait2's timespec timeout */
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN }, out;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "epoll_ctl");
    struct timespec z2 = { 0, 5000000 };
    r = epoll_pwait2(ep, &out, 1, &z2, NULL);
    if (r == -1 && errno == ENOSYS && qemu_pwait2_lenient)
        printf("pollio: note: epoll_pwait2 is ENOSYS (qemu-user behaviour, lenient)\n");
    else
        CHECK(r == 0, "epoll_pwait2 timeout: 0 (%d %d)", r, errno);
    got_usr1 = 0;
    kill(getpid(), SIGUSR1); /* blocked: stays pending */
    CHECK(got_usr1 == 0, "blocked SIGUSR1 ran");
    r = epoll_pwait(ep, &out, 1, -1, &empty);
    CHECK(r == -1 && errno == EINTR && got_usr1 == 1, "epoll_pwait with an empty mask: EINTR (%d %d)", r, got_usr1);
    sigprocmask(SIG_BLOCK, NULL, &now);
    CHECK(sigismember(&now, SIGUSR1), "epoll_pwait did not restore the mask");
    close(ep);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    close(p[0]);
    close(p[1]);
    printf("pollio: ppoll/pselect/epoll_pwait signal masks ok\n");

    /* A blocking eventfd read: EINTR from a handler without SA_RESTART. */
    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, NULL);
    int efd = eventfd(0, 0);
    got_usr1 = 0;
    n = nagger();
    uint64_t v;
    r = (int)read(efd, &v, 8);
    CHECK(r == -1 && errno == EINTR && got_usr1 > 0, "blocking eventfd read: EINTR (%d)", r);
    stop_nagger(n);
    /* SIGKILL ends a process parked in epoll_wait, ppoll and a blocking eventfd read. */
    for (int k = 0; k < 3; k++) {
        pid_t c = fork();
        CHECK(c >= 0, "fork");
        if (c == 0) {
            if (k == 0) {
                int ep = epoll_create1(0);
                struct epoll_event ev = { .events = EPOLLIN }, o;
                epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
                epoll_wait(ep, &o, 1, -1);
            } else if (k == 1) {
                ppoll(NULL, 0, NULL, NULL);
            } else {
                read(efd, &v, 8);
            }
            _exit(9);
        }
        struct timespec d = { 0, 10000000 };
        nanosleep(&d, NULL);
        int st = 0;
        CHECK(kill(c, SIGKILL) == 0 && waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "SIGKILL in wait %d: %x", k, st);
    }
    close(efd);
    printf("pollio: blocking eventfd read EINTR; SIGKILL ends epoll_wait, ppoll, eventfd waits\n");
}


static int ep_wait0(int ep, struct epoll_event *ev, int max)
{
    return epoll_wait(ep, ev, max, 0);
}

static void epoll_semantics(void)
{
    int ep = epoll_create1(0);
    CHECK(ep >= 0, "epoll_create1");
    CHECK(epoll_create1(1) == -1 && errno == EINVAL, "epoll_create1 bad flags: EINVAL");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1122334455667788ULL }, out[4];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "add level");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == -1 && errno == EEXIST, "add twice: EEXIST");
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev) == -1 && errno == ENOENT, "mod missing: ENOENT");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev) == -1 && errno == EINVAL, "add itself: EINVAL");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, closed_fd(), &ev) == -1 && errno == EBADF, "add closed fd: EBADF");
    int file = open(self_path, O_RDONLY);
    if (file >= 0) {
        struct stat st;
        if (fstat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, file, &ev) == -1 && errno == EPERM, "regular file: EPERM");
            struct pollfd pf = { file, POLLIN | POLLOUT, 0 };
            CHECK(poll(&pf, 1, 0) == 1 && pf.revents == (POLLIN | POLLOUT), "regular file always ready in poll (%d)", pf.revents);
        }
        close(file);
    }
    CHECK(ep_wait0(ep, out, 4) == 0, "empty pipe: no event");
    CHECK(write(p[1], "ab", 2) == 2, "write");
    CHECK(ep_wait0(ep, out, 4) == 1 && out[0].events == EPOLLIN && out[0].data.u64 == 0x1122334455667788ULL, "level: EPOLLIN with data");
    CHECK(ep_wait0(ep, out, 4) == 1, "level: reported again while ready");
    /* edge-triggered: once per change */
    ev.events = EPOLLIN | EPOLLET;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "mod to edge");
    CHECK(ep_wait0(ep, out, 4) == 1, "edge: ready data reported once after MOD");
    CHECK(ep_wait0(ep, out, 4) == 0, "edge: not again without a change");
    CHECK(write(p[1], "c", 1) == 1, "write");
    CHECK(ep_wait0(ep, out, 4) == 1, "edge: new data reported");
    CHECK(ep_wait0(ep, out, 4) == 0, "edge: and only once");
    /* one-shot */
    ev.events = EPOLLIN | EPOLLONESHOT;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "mod to oneshot");
    CHECK(ep_wait0(ep, out, 4) == 1 && ep_wait0(ep, out, 4) == 0, "oneshot: reported once, then disarmed");
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0 && ep_wait0(ep, out, 4) == 1, "oneshot: re-armed by MOD");
    /* the epoll fd itself is pollable */
    ev.events = EPOLLIN;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "mod to level");
    struct pollfd pf = { ep, POLLIN, 0 };
    CHECK(poll(&pf, 1, 0) == 1 && pf.revents == POLLIN, "epoll fd readable while an item is ready");
    int outer = epoll_create1(0);
    struct epoll_event oev = { .events = EPOLLIN, .data.u32 = 7 };
    CHECK(epoll_ctl(outer, EPOLL_CTL_ADD, ep, &oev) == 0, "nest an epoll");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, outer, &oev) == -1 && errno == ELOOP, "nesting cycle: ELOOP");
    CHECK(ep_wait0(outer, out, 4) == 1 && out[0].data.u32 == 7, "outer epoll sees the inner one ready");
    close(outer);
    char buf[8];
    CHECK(read(p[0], buf, sizeof buf) == 3, "drain");
    /* hang-up and error */
    close(p[1]);
    CHECK(ep_wait0(ep, out, 4) == 1 && out[0].events == EPOLLHUP, "writer closed: EPOLLHUP (%x)", out[0].events);
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0 && ep_wait0(ep, out, 4) == 0, "deleted: quiet");
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == -1 && errno == ENOENT, "delete twice: ENOENT");
    close(p[0]);
    CHECK(pipe(p) == 0, "pipe");
    ev.events = EPOLLOUT;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev) == 0, "add write end");
    CHECK(ep_wait0(ep, out, 4) == 1 && out[0].events == EPOLLOUT, "write end: EPOLLOUT");
    close(p[0]);
    CHECK(ep_wait0(ep, out, 4) == 1 && out[0].events == (EPOLLOUT | EPOLLERR), "reader closed: EPOLLOUT|EPOLLERR (%x)", out[0].events);
    /* closing the last fd of a description removes its item */
    close(p[1]);
    CHECK(ep_wait0(ep, out, 4) == 0, "closed fd: item gone");
    /* socket pair: EPOLLRDHUP when the peer shuts down writing */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    ev.events = EPOLLIN | EPOLLRDHUP;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev) == 0, "add socket");
    CHECK(ep_wait0(ep, out, 4) == 0, "socket: quiet");
    CHECK(shutdown(sv[1], SHUT_WR) == 0, "shutdown");
    CHECK(ep_wait0(ep, out, 4) == 1 && out[0].events == (EPOLLIN | EPOLLRDHUP), "peer SHUT_WR: EPOLLIN|EPOLLRDHUP (%x)", out[0].events);
    close(sv[1]);
    CHECK(ep_wait0(ep, out, 4) == 1 && out[0].events == (EPOLLIN | EPOLLRDHUP | EPOLLHUP), "peer closed: +EPOLLHUP (%x)", out[0].events);
    close(sv[0]);
    /* eventfd: a blocking epoll_wait woken by another process */
    int efd = eventfd(0, 0);
    ev.events = EPOLLIN;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0, "add eventfd");
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec d = { 0, 20000000 };
        nanosleep(&d, NULL);
        uint64_t v = 5;
        _exit(write(efd, &v, 8) == 8 ? 0 : 1);
    }
    CHECK(epoll_wait(ep, out, 4, -1) == 1 && out[0].events == EPOLLIN, "blocking epoll_wait woken by the writer");
    uint64_t v;
    CHECK(read(efd, &v, 8) == 8 && v == 5, "eventfd value from the child");
    waitpid(pid, NULL, 0);
    CHECK(epoll_wait(ep, out, 0, 0) == -1 && errno == EINVAL, "maxevents 0: EINVAL");
    close(efd);
    /* more ready than maxevents: round robin */
    int three[3];
    for (int k = 0; k < 3; k++) {
        three[k] = eventfd(1, 0);
        struct epoll_event e3 = { .events = EPOLLIN, .data.u32 = (uint32_t)(100 + k) };
        CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, three[k], &e3) == 0, "add eventfd %d", k);
    }
    unsigned seen_mask = 0;
    for (int k = 0; k < 3; k++) {
        CHECK(ep_wait0(ep, out, 1) == 1 && out[0].data.u32 >= 100 && out[0].data.u32 < 103, "one of three");
        seen_mask |= 1u << (out[0].data.u32 - 100);
    }
    CHECK(seen_mask == 7, "three waits of maxevents 1 saw every ready item (%x)", seen_mask);
    for (int k = 0; k < 3; k++) close(three[k]);
    close(ep);
    printf("pollio: epoll level/edge/oneshot/hup/err ok\n");
}

/*
 * `pollio race N`: N single wake-ups with nothing after them. The child writes one byte after
 * a short seeded delay, then waits for the parent's ack; the parent waits (poll, select, epoll in
 * turn) with a 60 s timeout. A wake-up lost between the parent's check and its park (the window
 * the poll.before-park injection point widens) leaves nothing but the deadline to end the wait:
 * ppoll/pselect then report no time left (a re-check at the deadline finds the byte), epoll_wait
 * keeps the run waiting past any test's patience.
 */
static void race(int n)
{
    int data[2], ack[2];
    CHECK(pipe(data) == 0 && pipe(ack) == 0, "pipes");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        uint64_t rng = 12345;
        char c;
        for (int i = 0; i < n; i++) {
            struct timespec d = { 0, (long)rng_below(&rng, 4000) * 1000 };
            nanosleep(&d, NULL);
            if (write(data[1], "r", 1) != 1 || read(ack[0], &c, 1) != 1) _exit(2);
        }
        _exit(0);
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN }, out;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, data[0], &ev) == 0, "epoll_ctl");
    for (int i = 0; i < n; i++) {
        /* 60 s: a lost wake-up ends only at the deadline, with no time left (or the run times out) */
        struct timespec ts = { 60, 0 };
        int r;
        if (i % 3 == 0) {
            struct pollfd f = { data[0], POLLIN, 0 };
            r = ppoll(&f, 1, &ts, NULL);
        } else if (i % 3 == 1) {
            fd_set rs;
            FD_ZERO(&rs);
            FD_SET(data[0], &rs);
            r = pselect(data[0] + 1, &rs, NULL, NULL, &ts, NULL);
        } else {
            r = epoll_wait(ep, &out, 1, 60000);
            ts.tv_sec = 1;
        }
        CHECK(r == 1 && ts.tv_sec + ts.tv_nsec > 0, "wake-up %d lost (%s returned %d)", i,
              i % 3 == 0 ? "ppoll" : i % 3 == 1 ? "pselect" : "epoll_wait", r);
        char c;
        CHECK(read(data[0], &c, 1) == 1 && write(ack[1], "a", 1) == 1, "read, ack");
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %x", st);
    printf("pollio: race: %d single wake-ups, none lost\n", n);
}

/*
 * `pollio stdin`: the host's stdin as a poll / epoll source (run with an open pipe as stdin that
 * stays silent until "ready for input" is printed, then gets "hello\nworld\n" and is closed:
 * test/bin/host-io.test.ts). Nothing readable before; epoll_wait and poll wake for the data;
 * POLLHUP (no POLLIN) at the end of input.
 */
static void stdin_source(void)
{
    struct pollfd f = { 0, POLLIN, 0 };
    CHECK(poll(&f, 1, 0) == 0, "stdin readable before any input (%d)", f.revents);
    printf("pollio: stdin: nothing to read yet\n");
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN }, out;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) == 0, "epoll_ctl stdin: %d", errno);
    printf("pollio: ready for input\n");
    char buf[64];
    size_t got = 0;
    for (int waits = 0; waits < 100; waits++) {
        if (waits % 2 == 0) {
            CHECK(epoll_wait(ep, &out, 1, -1) == 1 && (out.events & (EPOLLIN | EPOLLHUP)), "epoll_wait on stdin");
        } else {
            CHECK(poll(&f, 1, -1) == 1 && (f.revents & (POLLIN | POLLHUP)), "poll on stdin");
        }
        ssize_t n = read(0, buf + got, sizeof buf - 1 - got);
        CHECK(n >= 0, "read stdin");
        if (n == 0) break;
        got += (size_t)n;
    }
    buf[got] = 0;
    CHECK(got == 12 && strcmp(buf, "hello\nworld\n") == 0, "stdin gave %zu bytes", got);
    CHECK(poll(&f, 1, 0) == 1 && f.revents == POLLHUP, "end of input: POLLHUP (%d)", f.revents);
    printf("pollio: stdin: %zu bytes through epoll_wait and poll, then POLLHUP\n", got);
    close(ep);
}

int main(int argc, char **argv)
{
    guest_start("pollio");
    self_path = argv[0];
    qemu_pwait2_lenient = argc > 2 && strcmp(argv[2], "--qemu-epoll-pwait2-lenient") == 0;
    if (argc > 1 && strcmp(argv[1], "stdin") == 0) {
        stdin_source();
        ok();
    }
    if (argc > 2 && strcmp(argv[1], "race") == 0) {
        race((int)arg_long(argc, argv, 2, 30));
        ok();
    }
    int rounds = (int)arg_long(argc, argv, 1, 20);
    pipe_basics();
    eventfd_semantics();
    timeouts();
    signals_end_waits();
    produce_consume(0, rounds);
    produce_consume(1, rounds);
    epoll_semantics();
    produce_consume(2, rounds);
    produce_consume(3, rounds);
    ok();
}
