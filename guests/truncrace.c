/*
 * truncrace — ftruncate of a MAP_SHARED file racing fork and exit (issue 13 item 2).
 *
 * Usage: truncrace [children] [truncations]   (defaults 40, 40)
 *
 * Creates truncrace.tmp (16 pages) in the current directory and maps it MAP_SHARED. A
 * truncator child shrinks the file to 4 pages and grows it back `truncations` times; every
 * truncation removes the mappings past the new end in every address space that maps the file.
 * Meanwhile the parent forks `children` short-lived children, two at a time: each inherits the
 * mapping, maps the file once more itself, checks page 0 (never truncated) and exits — so
 * address spaces die and their slots are reused while the truncations walk over them.
 * Every child must exit 0, the truncator too, and the bytes of page 0 must be intact.
 * The kernel must neither halt ("RwLock.writeUnlock: no writer holds the lock") nor wedge.
 */
#include "guest.h"
#include <fcntl.h>
#include <sys/wait.h>

#define FILE_PAGES 16
#define SHORT_PAGES 4

static int child(int fd, volatile unsigned char *inherited)
{
    volatile unsigned char *mine = mmap(NULL, FILE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mine == MAP_FAILED)
        return 2;
    if (inherited[0] != 'T' || mine[1] != 'R')
        return 3;
    return 0;
}

int main(int argc, char **argv)
{
    guest_start("truncrace");
    long children = arg_long(argc, argv, 1, 40);
    long truncations = arg_long(argc, argv, 2, 40);
    CHECK(children >= 0 && truncations >= 0, "counts must be >= 0");
    int fd = open("truncrace.tmp", O_CREAT | O_TRUNC | O_RDWR, 0644);
    CHECK(fd >= 0, "create truncrace.tmp: %s", strerror(errno));
    CHECK(ftruncate(fd, FILE_PAGES * PAGE) == 0, "ftruncate: %s", strerror(errno));
    CHECK(pwrite(fd, "TR", 2, 0) == 2, "pwrite: %s", strerror(errno));
    volatile unsigned char *map = mmap(NULL, FILE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(map != MAP_FAILED, "mmap: %s", strerror(errno));
    CHECK(map[0] == 'T', "page 0 reads %#x", map[0]);

    pid_t truncator = fork();
    CHECK(truncator >= 0, "fork: %s", strerror(errno));
    if (truncator == 0) {
        for (long i = 0; i < truncations; i++) {
            if (ftruncate(fd, SHORT_PAGES * PAGE) != 0 || ftruncate(fd, FILE_PAGES * PAGE) != 0)
                _exit(2);
        }
        _exit(0);
    }
    long forked = 0, reaped = 0;
    pid_t live[2] = {0, 0};
    while (reaped < children) {
        for (int k = 0; k < 2; k++) {
            if (live[k] == 0 && forked < children) {
                live[k] = fork();
                CHECK(live[k] >= 0, "fork: %s", strerror(errno));
                if (live[k] == 0)
                    _exit(child(fd, map));
                forked++;
            }
        }
        for (int k = 0; k < 2; k++) {
            if (live[k] == 0)
                continue;
            int st;
            CHECK(waitpid(live[k], &st, 0) == live[k], "waitpid: %s", strerror(errno));
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %ld: status %#x", reaped, st);
            live[k] = 0;
            reaped++;
        }
    }
    int st;
    CHECK(waitpid(truncator, &st, 0) == truncator, "waitpid truncator: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "truncator: status %#x", st);
    CHECK(map[0] == 'T' && map[1] == 'R', "page 0 changed");
    CHECK(unlink("truncrace.tmp") == 0, "unlink: %s", strerror(errno));
    printf("truncrace: %ld children forked and exited during %ld truncation pairs\n", children, truncations);
    ok();
}
