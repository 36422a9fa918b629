/*
 * fifo — named pipes (mkfifo / mknodat S_IFIFO) as Linux has them.
 *
 * Runs in its (writable) working directory and removes what it creates:
 *   - mkfifo makes a name stat shows as S_ISFIFO with the mode less the umask; EEXIST again;
 *   - a blocking O_RDONLY open waits until a writer opens (a child opens the write end after
 *     a pause; the parent's open returns only then), data flows, EOF after the writer closes;
 *   - a writer that opens, writes and closes while the reader is still blocked in open: the
 *     reader gets the bytes and EOF (the blocked reader counts as a reader: no SIGPIPE);
 *   - O_RDONLY|O_NONBLOCK succeeds at once with no writer (read: 0), O_WRONLY|O_NONBLOCK
 *     without a reader is ENXIO; O_RDWR never blocks and reads back what it wrote;
 *   - a writer whose reader closed: EPIPE with SIGPIPE ignored, SIGPIPE when it is not;
 *   - an alarm (ualarm) interrupts a blocked open: EINTR without SA_RESTART, a re-run with it;
 *   - poll on a read end: nothing, then POLLIN once a byte is written, POLLHUP after the writer closes;
 *   - unlink while open: the open ends keep working, the name is gone; a new FIFO starts empty.
 */
#include "guest.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static void on_alarm(int sig) { (void)sig; }
static volatile sig_atomic_t alarms;
static void on_alarm_count(int sig)
{
    (void)sig;
    alarms++;
}

static void wait_child(pid_t pid, int want)
{
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == want, "child status 0x%x", st);
}

int main(void)
{
    guest_start("fifo");
    const char *name = "fifo.test";
    unlink(name);
    umask(022);

    /* mkfifo: S_ISFIFO, mode less the umask, EEXIST, mknodat S_IFIFO too. */
    CHECK(mkfifo(name, 0666) == 0, "mkfifo: %s", strerror(errno));
    struct stat st;
    CHECK(stat(name, &st) == 0, "stat: %s", strerror(errno));
    CHECK(S_ISFIFO(st.st_mode), "stat mode 0%o is not a FIFO", st.st_mode);
    CHECK((st.st_mode & 07777) == 0644, "mode 0%o, want 0644", st.st_mode & 07777);
    CHECK(st.st_size == 0, "size %ld", (long)st.st_size);
    CHECK(mkfifo(name, 0600) == -1 && errno == EEXIST, "mkfifo again: %s", strerror(errno));
    CHECK(mknodat(AT_FDCWD, "fifo.node", S_IFIFO | 0600, 0) == 0, "mknodat S_IFIFO: %s", strerror(errno));
    CHECK(lstat("fifo.node", &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0600, "mknodat: mode 0%o", st.st_mode);
    CHECK(unlink("fifo.node") == 0, "unlink node");
    printf("fifo: mkfifo/mknodat: stat says S_IFIFO with the mode less the umask, size 0; EEXIST again\n");

    /* A blocking reader waits for the writer; data, then EOF. The writer does nothing more on the
       FIFO until the reader's open returned (an acknowledgement through a pipe): only its open
       can wake the reader, so a lost wake-up would hang here. */
    int ack[2];
    CHECK(pipe(ack) == 0, "pipe");
    /* The writer raises `opening` just before its open: the reader's open can only return after
       that (a check of the reader's own elapsed time would fail whenever the host delays it). */
    volatile int *opening = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(opening != MAP_FAILED, "mmap: %s", strerror(errno));
    *opening = 0;
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(ack[1]);
        pause_ms(150);
        __atomic_store_n(opening, 1, __ATOMIC_SEQ_CST);
        int w = open(name, O_WRONLY);
        if (w < 0) _exit(2);
        char k;
        if (read(ack[0], &k, 1) != 1) _exit(6);
        if (write(w, "hello", 5) != 5) _exit(3);
        pause_ms(50);
        if (write(w, " world", 6) != 6) _exit(4);
        close(w);
        _exit(0);
    }
    int r = open(name, O_RDONLY);
    int writer_opening = __atomic_load_n(opening, __ATOMIC_SEQ_CST);
    CHECK(r >= 0, "open O_RDONLY: %s", strerror(errno));
    CHECK(writer_opening == 1, "the reader's open returned before the writer opened");
    close(ack[0]);
    CHECK(write(ack[1], "k", 1) == 1, "ack");
    close(ack[1]);
    munmap((void *)opening, PAGE);
    char buf[64];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(r, buf + got, sizeof buf - got);
        CHECK(n >= 0, "read: %s", strerror(errno));
        if (n == 0)
            break;
        got += (size_t)n;
    }
    CHECK(got == 11 && memcmp(buf, "hello world", 11) == 0, "read %zu bytes '%.*s'", got, (int)got, buf);
    close(r);
    wait_child(pid, 0);
    printf("fifo: a reader's open waits for the writer; 11 bytes through, then EOF\n");

    /* The writer comes and goes while the reader is blocked in open: bytes and EOF, no SIGPIPE. */
    pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        int rr = open(name, O_RDONLY);
        if (rr < 0) _exit(2);
        char b[16];
        ssize_t n = read(rr, b, sizeof b);
        ssize_t e = read(rr, b, sizeof b);
        _exit(n == 3 && memcmp(b, "abc", 3) == 0 && e == 0 ? 0 : 5);
    }
    pause_ms(100);
    int w = open(name, O_WRONLY);
    CHECK(w >= 0, "open O_WRONLY: %s", strerror(errno));
    CHECK(write(w, "abc", 3) == 3, "write to a reader blocked in open: %s", strerror(errno));
    close(w);
    wait_child(pid, 0);
    printf("fifo: a writer that opens, writes and closes at once: the blocked reader gets the bytes, then EOF\n");

    /* O_NONBLOCK: a reader opens at once; a writer without a reader is ENXIO. O_RDWR never blocks. */
    r = open(name, O_RDONLY | O_NONBLOCK);
    CHECK(r >= 0, "open O_RDONLY|O_NONBLOCK: %s", strerror(errno));
    CHECK(read(r, buf, sizeof buf) == 0, "read with no writer: not EOF (%s)", strerror(errno));
    w = open(name, O_WRONLY | O_NONBLOCK); /* a reader is open now */
    CHECK(w >= 0, "open O_WRONLY|O_NONBLOCK with a reader: %s", strerror(errno));
    CHECK(read(r, buf, sizeof buf) == -1 && errno == EAGAIN, "read, writer open, empty: %s", strerror(errno));
    close(w);
    close(r);
    CHECK(open(name, O_WRONLY | O_NONBLOCK) == -1 && errno == ENXIO, "open O_WRONLY|O_NONBLOCK without a reader: %s", strerror(errno));
    int rw = open(name, O_RDWR);
    CHECK(rw >= 0, "open O_RDWR: %s", strerror(errno));
    CHECK(write(rw, "xyz", 3) == 3, "write O_RDWR: %s", strerror(errno));
    CHECK(read(rw, buf, sizeof buf) == 3 && memcmp(buf, "xyz", 3) == 0, "read back O_RDWR");
    CHECK(fstat(rw, &st) == 0 && S_ISFIFO(st.st_mode), "fstat of an open FIFO: mode 0%o", st.st_mode);
    close(rw);
    printf("fifo: O_NONBLOCK reader opens at once, O_NONBLOCK writer without a reader ENXIO, O_RDWR does not block\n");

    /* The reader goes away: EPIPE with SIGPIPE ignored, SIGPIPE otherwise. */
    signal(SIGPIPE, SIG_IGN);
    r = open(name, O_RDONLY | O_NONBLOCK);
    w = open(name, O_WRONLY);
    CHECK(r >= 0 && w >= 0, "open both ends: %s", strerror(errno));
    close(r);
    CHECK(write(w, "x", 1) == -1 && errno == EPIPE, "write without a reader: %s", strerror(errno));
    close(w);
    signal(SIGPIPE, SIG_DFL);
    pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        int cr = open(name, O_RDONLY | O_NONBLOCK);
        int cw = open(name, O_WRONLY);
        close(cr);
        (void)write(cw, "x", 1);
        _exit(9);
    }
    int ws = 0;
    CHECK(waitpid(pid, &ws, 0) == pid && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGPIPE, "child status 0x%x, want SIGPIPE", ws);
    printf("fifo: a writer without a reader: EPIPE with SIGPIPE ignored, killed by SIGPIPE otherwise\n");

    /* alarm interrupts a blocked open: EINTR without SA_RESTART. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
    ualarm(400000, 0);
    r = open(name, O_RDONLY);
    CHECK(r == -1 && errno == EINTR, "blocked open under alarm: %d %s", r, strerror(errno));
    ualarm(400000, 0);
    w = open(name, O_WRONLY);
    CHECK(w == -1 && errno == EINTR, "blocked writer open under alarm: %d %s", w, strerror(errno));
    /* The interrupted opens left no end behind: a non-blocking writer still finds no reader. */
    CHECK(open(name, O_WRONLY | O_NONBLOCK) == -1 && errno == ENXIO, "after EINTR: %s", strerror(errno));
    /* Under SA_RESTART the interrupted open runs again and waits on for the writer. */
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_alarm_count;
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction SA_RESTART");
    /* The alarm is armed before the fork (the child does not inherit it), so it fires 500 ms
       before the child's writer opens however long the parent takes to reach its open. */
    alarms = 0;
    ualarm(300000, 0);
    pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        pause_ms(800);
        int cw = open(name, O_WRONLY);
        if (cw < 0 || write(cw, "r", 1) != 1) _exit(2);
        close(cw);
        _exit(0);
    }
    r = open(name, O_RDONLY);
    CHECK(r >= 0, "open under SA_RESTART: %s", strerror(errno));
    CHECK(alarms == 1, "the alarm did not interrupt the open (%d)", (int)alarms);
    CHECK(read(r, buf, sizeof buf) == 1 && buf[0] == 'r', "read after a restarted open");
    close(r);
    wait_child(pid, 0);
    printf("fifo: alarm interrupts a blocked open (reader and writer): EINTR, and no end is left behind; SA_RESTART restarts it\n");

    /* poll on a read end. */
    r = open(name, O_RDONLY | O_NONBLOCK);
    w = open(name, O_WRONLY);
    CHECK(r >= 0 && w >= 0, "open for poll");
    struct pollfd p = {r, POLLIN, 0};
    CHECK(poll(&p, 1, 0) == 0, "poll of an empty FIFO: revents 0x%x", p.revents);
    pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        pause_ms(100);
        _exit(write(w, "p", 1) == 1 ? 0 : 1);
    }
    p.revents = 0;
    CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN), "poll for the child's byte: revents 0x%x", p.revents);
    wait_child(pid, 0);
    CHECK(read(r, buf, 1) == 1 && buf[0] == 'p', "read the polled byte");
    close(w);
    p.revents = 0;
    CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP), "poll after the writer closed: revents 0x%x", p.revents);
    close(r);
    printf("fifo: poll on the read end: quiet, POLLIN for a byte from another process, POLLHUP after the writer closed\n");

    /* unlink while open: the ends still work; the name is gone; a new FIFO starts empty. */
    r = open(name, O_RDONLY | O_NONBLOCK);
    w = open(name, O_WRONLY);
    CHECK(r >= 0 && w >= 0, "open before unlink");
    CHECK(write(w, "left", 4) == 4, "write");
    CHECK(unlink(name) == 0, "unlink: %s", strerror(errno));
    CHECK(stat(name, &st) == -1 && errno == ENOENT, "stat after unlink: %s", strerror(errno));
    CHECK(write(w, "over", 4) == 4, "write after unlink: %s", strerror(errno));
    CHECK(read(r, buf, sizeof buf) == 8 && memcmp(buf, "leftover", 8) == 0, "read after unlink");
    CHECK(mkfifo(name, 0600) == 0, "mkfifo again: %s", strerror(errno));
    int r2 = open(name, O_RDONLY | O_NONBLOCK);
    CHECK(r2 >= 0 && read(r2, buf, sizeof buf) == 0, "the new FIFO is empty and has no writer");
    close(r2);
    close(w);
    CHECK(read(r, buf, sizeof buf) == 0, "EOF on the unlinked FIFO after its writer closed");
    close(r);
    CHECK(unlink(name) == 0, "unlink");
    /* A regular file made later is a regular file. */
    int fd = open(name, O_CREAT | O_RDWR | O_EXCL, 0600);
    CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "a regular file of the same name: mode 0%o", st.st_mode);
    close(fd);
    CHECK(unlink(name) == 0, "unlink file");
    printf("fifo: unlink while open: the ends keep working, the name is gone; a new FIFO starts empty\n");

    printf("fifo: OK\n");
    return 0;
}
