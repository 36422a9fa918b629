/*
 * fdhop — file descriptors opened by one thread and closed by another (issue 13 item 11).
 *
 * Usage: fdhop [files-per-thread] [threads]   (defaults 48, 3)
 *
 * Creates fdhop.tmp in the current directory. The main thread opens it `files` × `threads`
 * times; `threads` threads each close their share of those descriptors, open `files` of their
 * own and hand them back; the main thread closes those after joining. On a multi-hart machine
 * the opener and the closer run on different harts (worker threads): nothing of the emulator
 * may appear in the guest's stderr (Node printed "File descriptor N closed but not opened in
 * unmanaged mode" when the hart workers tracked their host fds). Every close must succeed.
 */
#include "guest.h"
#include <fcntl.h>
#include <pthread.h>

#define MAX_FILES 256
#define MAX_THREADS 8

static long files, threads;
static int mine[MAX_THREADS][MAX_FILES];   /* opened by main, closed by thread t */
static int theirs[MAX_THREADS][MAX_FILES]; /* opened by thread t, closed by main */

static void *worker(void *arg)
{
    long t = (long)arg;
    for (long i = 0; i < files; i++)
        if (close(mine[t][i]) != 0)
            return (void *)1;
    for (long i = 0; i < files; i++) {
        theirs[t][i] = open("fdhop.tmp", O_RDONLY | O_CLOEXEC);
        if (theirs[t][i] < 0)
            return (void *)2;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    guest_start("fdhop");
    files = arg_long(argc, argv, 1, 48);
    threads = arg_long(argc, argv, 2, 3);
    CHECK(files >= 1 && files <= MAX_FILES, "files must be 1..%d", MAX_FILES);
    CHECK(threads >= 1 && threads <= MAX_THREADS, "threads must be 1..%d", MAX_THREADS);
    int fd = open("fdhop.tmp", O_CREAT | O_TRUNC | O_WRONLY, 0644);
    CHECK(fd >= 0, "create fdhop.tmp: %s", strerror(errno));
    CHECK(write(fd, "fdhop\n", 6) == 6, "write: %s", strerror(errno));
    CHECK(close(fd) == 0, "close: %s", strerror(errno));
    for (long t = 0; t < threads; t++)
        for (long i = 0; i < files; i++) {
            mine[t][i] = open("fdhop.tmp", O_RDONLY | O_CLOEXEC);
            CHECK(mine[t][i] >= 0, "open: %s", strerror(errno));
        }
    pthread_t tid[MAX_THREADS];
    for (long t = 0; t < threads; t++)
        CHECK(pthread_create(&tid[t], NULL, worker, (void *)t) == 0, "pthread_create");
    for (long t = 0; t < threads; t++) {
        void *r;
        CHECK(pthread_join(tid[t], &r) == 0, "pthread_join");
        CHECK(r == NULL, "thread %ld: %s failed", t, r == (void *)1 ? "close" : "open");
    }
    for (long t = 0; t < threads; t++)
        for (long i = 0; i < files; i++)
            CHECK(close(theirs[t][i]) == 0, "close %d: %s", theirs[t][i], strerror(errno));
    CHECK(unlink("fdhop.tmp") == 0, "unlink: %s", strerror(errno));
    printf("fdhop: %ld descriptors closed by a thread other than their opener\n", 2 * files * threads);
    ok();
}
