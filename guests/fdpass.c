/*
 * fdpass.c — AF_UNIX socket pairs and passing fds (issue 14 item 4): stream, seqpacket and
 * datagram semantics (boundaries, MSG_PEEK, MSG_DONTWAIT, MSG_TRUNC, shutdown, EPIPE), then
 * SCM_RIGHTS between a parent and its child in both directions: the passed fd refers to the same
 * open file description, so both processes move one file offset; MSG_CTRUNC when the control
 * buffer is too small; MSG_CMSG_CLOEXEC; EBADF for a bad fd in the rights.
 * Writes and removes one file, fdpass.dat, in the current directory. Deterministic output.
 * Usage: fdpass [--qemu-ctrunc-lenient]
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define DAT "fdpass.dat"

/* --qemu-ctrunc-lenient: qemu-user 7.2 translates the control buffer itself and neither sets
 * MSG_CTRUNC nor closes the fds that did not fit; accept that (and say so) under qemu only. */
static int qemu_lenient;

/* Send `n` bytes and the fds `fds[0..nfds)` on socket `s`. */
static ssize_t send_fds(int s, const char *data, size_t n, const int *fds, int nfds)
{
    char ctl[CMSG_SPACE(sizeof(int) * 4)];
    memset(ctl, 0, sizeof ctl);
    struct iovec iov = { (void *)data, n };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds > 0) {
        m.msg_control = ctl;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    return sendmsg(s, &m, 0);
}

/* Receive into buf and up to `room` fds; returns the byte count, fills fds/nfds/flags. */
static ssize_t recv_fds(int s, char *buf, size_t n, int *fds, int room, int *nfds, int *flags, int rflags)
{
    char ctl[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = { buf, n };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                        .msg_controllen = room > 0 ? CMSG_LEN(sizeof(int) * (size_t)room) : 0 };
    if (room == 0) m.msg_control = NULL;
    ssize_t r = recvmsg(s, &m, rflags);
    *nfds = 0;
    *flags = m.msg_flags;
    if (r < 0) return r;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        memcpy(fds + *nfds, CMSG_DATA(c), sizeof(int) * (size_t)k);
        *nfds += k;
    }
    return r;
}

static void stream_semantics(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair stream");
    char buf[64];
    CHECK(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN, "empty: EAGAIN with MSG_DONTWAIT");
    CHECK(send(sv[1], "hello", 5, 0) == 5 && write(sv[1], " world", 6) == 6, "send, write");
    CHECK(recv(sv[0], buf, 5, MSG_PEEK) == 5 && memcmp(buf, "hello", 5) == 0, "peek");
    CHECK(read(sv[0], buf, sizeof buf) == 11 && memcmp(buf, "hello world", 11) == 0, "stream writes merge");
    int type = 0;
    socklen_t tl = sizeof type;
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM, "SO_TYPE");
    CHECK(shutdown(sv[1], SHUT_WR) == 0, "shutdown");
    CHECK(recv(sv[0], buf, sizeof buf, 0) == 0, "peer SHUT_WR: EOF");
    CHECK(send(sv[1], "x", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE, "send after SHUT_WR: EPIPE");
    CHECK(send(sv[0], "back", 4, 0) == 4 && recv(sv[1], buf, sizeof buf, 0) == 4, "the other direction still works");
    CHECK(shutdown(sv[0], 7) == -1 && errno == EINVAL, "shutdown bad how: EINVAL");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    CHECK(shutdown(p[0], SHUT_RD) == -1 && errno == ENOTSOCK, "shutdown on a pipe: ENOTSOCK");
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    signal(SIGPIPE, SIG_IGN);
    CHECK(write(sv[1], "x", 1) == -1 && errno == EPIPE, "write to a closed peer: EPIPE");
    signal(SIGPIPE, SIG_DFL);
    close(sv[1]);
    CHECK(socketpair(AF_INET, SOCK_STREAM, 0, sv) == -1 && errno == EOPNOTSUPP, "AF_INET pair: EOPNOTSUPP");
    printf("fdpass: stream: merge, peek, EAGAIN, shutdown EOF/EPIPE, ENOTSOCK\n");
}

static void packet_semantics(int type, const char *name)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, type, 0, sv) == 0, "socketpair %s", name);
    char buf[64];
    CHECK(send(sv[1], "one", 3, 0) == 3 && send(sv[1], "second", 6, 0) == 6 && send(sv[1], "", 0, 0) == 0, "sends");
    CHECK(recv(sv[0], buf, sizeof buf, 0) == 3, "boundary kept: 3");
    int fds[4], nfds, flags;
    CHECK(recv_fds(sv[0], buf, 3, fds, 0, &nfds, &flags, 0) == 3 && (flags & MSG_TRUNC) && memcmp(buf, "sec", 3) == 0, "truncated: MSG_TRUNC");
    CHECK(recv(sv[0], buf, sizeof buf, 0) == 0, "empty record: 0 bytes");
    CHECK(send(sv[1], "abcdef", 6, 0) == 6 && recv(sv[0], buf, 2, MSG_TRUNC) == 6, "recv MSG_TRUNC gives the real length");
    CHECK(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN, "empty: EAGAIN");
    if (type == SOCK_SEQPACKET) {
        close(sv[1]);
        CHECK(recv(sv[0], buf, sizeof buf, 0) == 0, "seqpacket: peer closed: EOF");
    } else {
        close(sv[1]);
    }
    close(sv[0]);
    printf("fdpass: %s: boundaries, MSG_TRUNC, empty records\n", name);
}

static void rights_between_processes(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(sv[0]);
        char buf[16];
        int fds[4], nfds, flags;
        if (recv_fds(sv[1], buf, sizeof buf, fds, 4, &nfds, &flags, MSG_CMSG_CLOEXEC) != 1 || nfds != 1) _exit(10);
        if (!(fcntl(fds[0], F_GETFD) & FD_CLOEXEC)) _exit(11);
        if (read(fds[0], buf, 4) != 4 || memcmp(buf, "abcd", 4) != 0) _exit(12); /* moves the shared offset to 4 */
        int p[2];
        if (pipe(p) != 0) _exit(13);
        if (send_fds(sv[1], "k", 1, &p[0], 1) != 1) _exit(14);
        close(p[0]);
        if (write(p[1], "from child", 10) != 10) _exit(15);
        close(p[1]);
        /* wait for the parent's read, then see its effect on the offset */
        if (recv(sv[1], buf, 1, 0) != 1) _exit(16);
        if (lseek(fds[0], 0, SEEK_CUR) != 7) _exit(17);
        _exit(0);
    }
    close(sv[1]);
    int f = open(DAT, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(f >= 0, "open " DAT);
    CHECK(write(f, "abcdefghij", 10) == 10 && lseek(f, 0, SEEK_SET) == 0, "write, rewind");
    int bad = 99;
    CHECK(send_fds(sv[0], "f", 1, &bad, 1) == -1 && errno == EBADF, "bad fd in SCM_RIGHTS: EBADF");
    CHECK(send_fds(sv[0], "f", 1, &f, 1) == 1, "sendmsg SCM_RIGHTS");
    char buf[16];
    int fds[4], nfds, flags;
    CHECK(recv_fds(sv[0], buf, sizeof buf, fds, 4, &nfds, &flags, 0) == 1 && nfds == 1 && buf[0] == 'k', "the child's pipe");
    CHECK(read(fds[0], buf, 10) == 10 && memcmp(buf, "from child", 10) == 0, "read what the child wrote to its pipe");
    close(fds[0]);
    CHECK(lseek(f, 0, SEEK_CUR) == 4, "the child's read moved our offset");
    CHECK(read(f, buf, 3) == 3 && memcmp(buf, "efg", 3) == 0, "we continue where the child stopped");
    CHECK(send(sv[0], "g", 1, 0) == 1, "go");
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %x", st);
    close(sv[0]);
    close(f);
    CHECK(unlink(DAT) == 0, "unlink");
    printf("fdpass: SCM_RIGHTS parent<->child: one description, one offset; MSG_CMSG_CLOEXEC; EBADF\n");
}

static void ctrunc(void)
{
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0 && pipe(p) == 0, "socketpair, pipe");
    CHECK(send_fds(sv[0], "x", 1, p, 2) == 1, "send two fds");
    char buf[4];
    int fds[4], nfds, flags;
    CHECK(recv_fds(sv[1], buf, sizeof buf, fds, 1, &nfds, &flags, 0) == 1 && nfds == 1, "one fd (%d)", nfds);
    int truncated = (flags & MSG_CTRUNC) != 0;
    CHECK(truncated || qemu_lenient, "MSG_CTRUNC (%x)", flags);
    close(p[0]);
    CHECK(write(p[1], "z", 1) == 1, "the read end still lives in the received fd");
    CHECK(read(fds[0], buf, 1) == 1 && buf[0] == 'z', "through the received fd");
    close(fds[0]);
    if (truncated) {
        signal(SIGPIPE, SIG_IGN);
        CHECK(write(p[1], "z", 1) == -1 && errno == EPIPE, "every read end closed: the truncated one too");
        signal(SIGPIPE, SIG_DFL);
    } else {
        printf("fdpass: note: MSG_CTRUNC not reported, the extra fd not closed (qemu-user behaviour, lenient)\n");
    }
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
    printf("fdpass: MSG_CTRUNC closes the fds that did not fit\n");
}

int main(int argc, char **argv)
{
    guest_start("fdpass");
    qemu_lenient = argc > 1 && strcmp(argv[1], "--qemu-ctrunc-lenient") == 0;
    stream_semantics();
    packet_semantics(SOCK_SEQPACKET, "seqpacket");
    packet_semantics(SOCK_DGRAM, "dgram");
    rights_between_processes();
    ctrunc();
    ok();
}
