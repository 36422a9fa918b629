/*
 * badsys — bad system calls must fail with the right errno and leave the process running:
 * an unknown syscall number (9999) returns -1 with ENOSYS; write() from an unmapped buffer
 * and read() into a read-only page return EFAULT; close() of a bad fd returns EBADF; futex with
 * an unknown command (99) returns ENOSYS as Linux's do_futex does (counted like an unknown call).
 * Args: none. Expected final line: "badsys: OK".
 */
#include "guest.h"
#include <sys/syscall.h>

int main(void)
{
    guest_start("badsys");
    errno = 0;
    long r = syscall(9999, 1, 2, 3);
    printf("badsys: syscall(9999) = %ld errno=%s\n", r, errno == ENOSYS ? "ENOSYS" : strerror(errno));
    CHECK(r == -1 && errno == ENOSYS, "syscall(9999) returned %ld errno %d", r, errno);
    int word = 0;
    errno = 0;
    r = syscall(SYS_futex, &word, 99, 0, 0, 0, 0);
    CHECK(r == -1 && errno == ENOSYS, "futex(cmd 99) returned %ld errno %d", r, errno);
    printf("badsys: futex(cmd 99) errno=ENOSYS\n");
    errno = 0;
    volatile uintptr_t wild = 0x10; /* through a volatile, so the compiler cannot see it */
    r = write(1, (const void *)wild, 5);
    CHECK(r == -1 && errno == EFAULT, "write from 0x10 returned %ld errno %d", r, errno);
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    CHECK(write(fds[1], "abc", 3) == 3, "pipe write");
    char *ro = map_anon(NULL, 1, PROT_READ, 0, "read-only page");
    errno = 0;
    r = read(fds[0], ro, 3);
    CHECK(r == -1 && errno == EFAULT, "read into a read-only page returned %ld errno %d", r, errno);
    errno = 0;
    CHECK(close(12345) == -1 && errno == EBADF, "close(12345) errno %d", errno);
    printf("badsys: EFAULT for bad buffers, EBADF for a bad fd\n");
    ok();
}
