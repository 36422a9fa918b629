/*
 * stdinwait — threads blocked reading input must not stop anything else (issue 13 item 9).
 *
 * Usage: stdinwait [stdin]
 *
 * The blocking input is the guest's own pipe by default (nobody writes it), or with `stdin`
 * the host's standard input, which the caller keeps open without writing until the line
 * "stdinwait: ready for input" appears, then writes some bytes and closes it.
 *   1. A child blocks reading; the parent SIGKILLs it: it must die of SIGKILL.
 *   2. A child whose second thread blocks reading calls exit(0): it must exit, status 0.
 *   3. A thread blocks reading (SIGUSR1 handler without SA_RESTART) while the main thread maps,
 *      touches and unmaps memory 200 times (shootdowns to every hart) and the main thread then
 *      sends SIGUSR1 every 10 ms until the read returns: -1 with EINTR.
 *   4. With `stdin`: prints the ready line and reads standard input to its end, then prints
 *      the byte count and the first line.
 * A kernel that reads the host's stdin on the hart's worker thread hangs in each step (on one
 * hart nothing else runs; on several, the shootdowns to the reading hart are never answered).
 */
#include "guest.h"
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

static int in_fd;
static volatile int reading;
static volatile long thread_result, thread_errno;

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void on_usr1(int sig) { (void)sig; }

static void *reader(void *arg)
{
    (void)arg;
    char c;
    reading = 1;
    thread_result = read(in_fd, &c, 1);
    thread_errno = errno;
    return NULL;
}

int main(int argc, char **argv)
{
    guest_start("stdinwait");
    int use_stdin = argc > 1 && strcmp(argv[1], "stdin") == 0;
    int p[2] = {-1, -1};
    if (use_stdin) {
        in_fd = 0;
    } else {
        CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
        in_fd = p[0];
    }

    /* 1. SIGKILL reaches a reader. */
    pid_t c = fork();
    CHECK(c >= 0, "fork: %s", strerror(errno));
    if (c == 0) {
        char ch;
        (void)!read(in_fd, &ch, 1);
        _exit(7);
    }
    nap_ms(20);
    CHECK(kill(c, SIGKILL) == 0, "kill: %s", strerror(errno));
    int st;
    CHECK(waitpid(c, &st, 0) == c, "waitpid: %s", strerror(errno));
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "reader child: status %#x, not SIGKILL", st);
    printf("stdinwait: a blocked reader died of SIGKILL\n");

    /* 2. exit does not wait for a reader thread. */
    c = fork();
    CHECK(c >= 0, "fork: %s", strerror(errno));
    if (c == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, reader, NULL) != 0)
            _exit(8);
        while (!reading)
            nap_ms(1);
        nap_ms(20);
        exit(0);
    }
    CHECK(waitpid(c, &st, 0) == c, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exiting child: status %#x", st);
    printf("stdinwait: exit with a thread blocked reading\n");

    /* 3. Shootdowns while a thread reads; a signal interrupts the read. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART: the read fails with EINTR */
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction: %s", strerror(errno));
    reading = 0;
    thread_result = -2;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, reader, NULL) == 0, "pthread_create");
    while (!reading)
        nap_ms(1);
    for (int i = 0; i < 200; i++) {
        volatile char *m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(m != MAP_FAILED, "mmap: %s", strerror(errno));
        for (int k = 0; k < 4; k++)
            m[k * PAGE] = (char)i;
        CHECK(munmap((void *)m, 4 * PAGE) == 0, "munmap: %s", strerror(errno));
    }
    for (int i = 0; i < 2000 && thread_result == -2; i++) {
        pthread_kill(t, SIGUSR1);
        nap_ms(10);
    }
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    CHECK(thread_result == -1 && thread_errno == EINTR, "read: %ld (errno %ld), not EINTR", thread_result, thread_errno);
    printf("stdinwait: 200 munmaps while a thread read; a signal interrupted the read (EINTR)\n");

    /* 4. The data path. */
    if (use_stdin) {
        printf("stdinwait: ready for input\n");
        char buf[256];
        long total = 0, n;
        char first[64] = "";
        while ((n = read(0, buf, sizeof buf)) != 0) {
            if (n < 0 && errno == EINTR)
                continue;
            CHECK(n > 0, "read stdin: %s", strerror(errno));
            if (total == 0) {
                size_t k = strcspn(buf, "\n");
                if (k >= sizeof first || k > (size_t)n)
                    k = (size_t)n < sizeof first - 1 ? (size_t)n : sizeof first - 1;
                memcpy(first, buf, k);
                first[k] = 0;
            }
            total += n;
        }
        printf("stdinwait: read %ld bytes of input, first line '%s'\n", total, first);
    }
    ok();
}
