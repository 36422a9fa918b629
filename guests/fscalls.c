/*
 * fscalls — the file-system calls real programs need (issue 14 items 4 and 5), each checked
 * against Linux's behaviour. Works in the current directory (a scratch directory) and removes
 * what it creates. Sections (args select them; default: all but sandbox, in this order):
 *  sync     fsync/fdatasync/syncfs of a file written through write() and a MAP_SHARED store;
 *           EINVAL on a pipe, EBADF on a closed fd
 *  names    renameat2 (plain, NOREPLACE → EEXIST, unknown flag EINVAL, EXCHANGE swapped or
 *           EINVAL where the host has none), linkat (nlink 2), symlinkat + readlinkat
 *           (truncation, EINVAL on a non-link), mkdirat EEXIST, unlinkat (EISDIR, ENOTDIR,
 *           ENOTEMPTY, AT_REMOVEDIR), mknodat of a regular file
 *  meta     fchmod/fchmodat, fchown/fchownat (lchown of a link), utimensat (times,
 *           UTIME_OMIT, futimens), statfs/fstatfs (pipefs on a pipe)
 *  fds      close_range (closing, CLOSE_RANGE_CLOEXEC, EINVAL), EMFILE under RLIMIT_NOFILE
 *  copy     sendfile file→pipe and file→file with an offset, copy_file_range, fadvise64,
 *           readahead errnos
 *  vm       mincore from the page tables, mlock makes pages resident, mlockall EINVAL,
 *           msync errnos, mmap EACCES (MAP_SHARED|PROT_WRITE of O_RDONLY/O_WRONLY), EINVAL
 *           without a type (both bits are MAP_SHARED_VALIDATE, valid on Linux since 4.15 but
 *           EINVAL under qemu-user 7.2: not checked here; test/kernel/mm covers it)
 *  locks    fcntl record locks between processes (EAGAIN, F_GETLK's owner, F_SETLKW waiting
 *           for the holder, exactly one EDEADLK in a two-process cycle, EINTR by a signal,
 *           release on close of any fd), OFD locks, flock (shared by a forked description)
 *  dents    getdents64 of a 2,000-entry directory with a 1 KiB buffer: every name once;
 *           EINVAL when one entry does not fit
 *  sandbox  (Coherent only: the guest root is a chroot) symlinks pointing outside, absolute
 *           and by ../, stay inside; rename and link to "outside" names land inside
 *  swaprace (Coherent only) a directory swapped for a symlink to outside while another
 *           process opens through it: no open escapes the root (see sec_swaprace)
 * Expected final line: "fscalls: OK".
 */
#include "guest.h"
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC 4
#endif
#define PIPEFS_MAGIC 0x50495045

static int sys_renameat2(int od, const char *o, int nd, const char *n, unsigned flags)
{
    return (int)syscall(SYS_renameat2, od, o, nd, n, flags);
}
static int sys_close_range(unsigned a, unsigned b, unsigned flags)
{
    return (int)syscall(SYS_close_range, a, b, flags);
}
static void put_file(const char *name, const char *text)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open %s: %s", name, strerror(errno));
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", name);
    close(fd);
}
static void get_file(const char *name, char *buf, size_t n)
{
    int fd = open(name, O_RDONLY);
    CHECK(fd >= 0, "open %s: %s", name, strerror(errno));
    ssize_t r = read(fd, buf, n - 1);
    CHECK(r >= 0, "read %s", name);
    buf[r] = 0;
    close(fd);
}
#define ERRNO_IS(call, e, what) do { errno = 0; long r_ = (long)(call); CHECK(r_ == -1 && errno == (e), "%s: got %ld errno %d (%s), want %s", what, r_, errno, strerror(errno), #e); } while (0)

static void sec_sync(void)
{
    int fd = open("fsc.sync", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open");
    CHECK(ftruncate(fd, PAGE) == 0, "ftruncate");
    char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED, "mmap");
    memcpy(p, "mapped", 6);
    CHECK(pwrite(fd, "written", 7, 100) == 7, "pwrite");
    CHECK(fsync(fd) == 0, "fsync: %s", strerror(errno));
    CHECK(fdatasync(fd) == 0, "fdatasync: %s", strerror(errno));
    CHECK(syncfs(fd) == 0, "syncfs: %s", strerror(errno));
    int fd2 = open("fsc.sync", O_RDONLY);
    char b[8] = {0};
    CHECK(pread(fd2, b, 6, 0) == 6 && memcmp(b, "mapped", 6) == 0, "mapped bytes after fsync");
    CHECK(pread(fd2, b, 7, 100) == 7 && memcmp(b, "written", 7) == 0, "written bytes after fsync");
    munmap(p, PAGE);
    close(fd2);
    int pfd[2];
    CHECK(pipe(pfd) == 0, "pipe");
    ERRNO_IS(fsync(pfd[0]), EINVAL, "fsync of a pipe");
    close(pfd[0]);
    close(pfd[1]);
    close(fd);
    ERRNO_IS(fsync(fd), EBADF, "fsync of a closed fd");
    unlink("fsc.sync");
    printf("fscalls: sync: fsync/fdatasync/syncfs keep mapped and written bytes; EINVAL on a pipe, EBADF closed\n");
}

static void sec_names(void)
{
    char b[64];
    put_file("fsc.a", "A");
    put_file("fsc.b", "B");
    CHECK(sys_renameat2(AT_FDCWD, "fsc.a", AT_FDCWD, "fsc.c", 0) == 0, "rename: %s", strerror(errno));
    ERRNO_IS(access("fsc.a", F_OK), ENOENT, "old name after rename");
    ERRNO_IS(sys_renameat2(AT_FDCWD, "fsc.c", AT_FDCWD, "fsc.b", RENAME_NOREPLACE), EEXIST, "RENAME_NOREPLACE onto a file");
    get_file("fsc.c", b, sizeof b);
    CHECK(strcmp(b, "A") == 0, "source kept after EEXIST");
    CHECK(sys_renameat2(AT_FDCWD, "fsc.c", AT_FDCWD, "fsc.d", RENAME_NOREPLACE) == 0, "NOREPLACE to a free name: %s", strerror(errno));
    ERRNO_IS(sys_renameat2(AT_FDCWD, "fsc.d", AT_FDCWD, "fsc.e", 0x80), EINVAL, "unknown renameat2 flag");
    ERRNO_IS(sys_renameat2(AT_FDCWD, "fsc.d", AT_FDCWD, "fsc.e", RENAME_NOREPLACE | RENAME_EXCHANGE), EINVAL, "NOREPLACE|EXCHANGE");
    int x = sys_renameat2(AT_FDCWD, "fsc.d", AT_FDCWD, "fsc.b", RENAME_EXCHANGE);
    if (x == 0) {
        get_file("fsc.b", b, sizeof b);
        CHECK(strcmp(b, "A") == 0, "EXCHANGE swapped");
        sys_renameat2(AT_FDCWD, "fsc.d", AT_FDCWD, "fsc.b", RENAME_EXCHANGE);
    } else CHECK(errno == EINVAL, "EXCHANGE: %s", strerror(errno));
    /* hard and symbolic links */
    CHECK(linkat(AT_FDCWD, "fsc.d", AT_FDCWD, "fsc.hard", 0) == 0, "linkat: %s", strerror(errno));
    struct stat st;
    CHECK(stat("fsc.d", &st) == 0 && st.st_nlink == 2, "nlink after linkat");
    ERRNO_IS(linkat(AT_FDCWD, "fsc.d", AT_FDCWD, "fsc.hard", 0), EEXIST, "linkat onto a name");
    ERRNO_IS(linkat(AT_FDCWD, "fsc.d", AT_FDCWD, "fsc.x", 0x4), EINVAL, "linkat bad flag");
    CHECK(symlinkat("fsc.d", AT_FDCWD, "fsc.sym") == 0, "symlinkat: %s", strerror(errno));
    ssize_t n = readlinkat(AT_FDCWD, "fsc.sym", b, sizeof b);
    CHECK(n == 5 && memcmp(b, "fsc.d", 5) == 0, "readlinkat %zd", n);
    CHECK(readlinkat(AT_FDCWD, "fsc.sym", b, 3) == 3 && memcmp(b, "fsc", 3) == 0, "readlinkat truncates");
    ERRNO_IS(readlinkat(AT_FDCWD, "fsc.d", b, sizeof b), EINVAL, "readlinkat of a file");
    get_file("fsc.sym", b, sizeof b);
    CHECK(strcmp(b, "A") == 0, "open through a symlink");
    CHECK(linkat(AT_FDCWD, "fsc.sym", AT_FDCWD, "fsc.symhard", AT_SYMLINK_FOLLOW) == 0, "linkat FOLLOW");
    CHECK(lstat("fsc.symhard", &st) == 0 && S_ISREG(st.st_mode), "AT_SYMLINK_FOLLOW linked the target");
    ERRNO_IS(symlinkat("", AT_FDCWD, "fsc.empty"), ENOENT, "symlink to an empty target");
    /* directories */
    CHECK(mkdirat(AT_FDCWD, "fsc.dir", 0755) == 0, "mkdirat");
    ERRNO_IS(mkdirat(AT_FDCWD, "fsc.dir", 0755), EEXIST, "mkdirat twice");
    put_file("fsc.dir/f", "f");
    ERRNO_IS(unlinkat(AT_FDCWD, "fsc.dir", 0), EISDIR, "unlink of a directory");
    ERRNO_IS(unlinkat(AT_FDCWD, "fsc.dir", AT_REMOVEDIR), ENOTEMPTY, "rmdir of a full directory");
    ERRNO_IS(unlinkat(AT_FDCWD, "fsc.d", AT_REMOVEDIR), ENOTDIR, "rmdir of a file");
    ERRNO_IS(unlinkat(AT_FDCWD, "fsc.d", 0x1), EINVAL, "unlinkat bad flag");
    int dfd = open("fsc.dir", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0 && unlinkat(dfd, "f", 0) == 0, "unlinkat relative to a dirfd");
    close(dfd);
    CHECK(unlinkat(AT_FDCWD, "fsc.dir", AT_REMOVEDIR) == 0, "rmdir");
    CHECK(mknodat(AT_FDCWD, "fsc.node", S_IFREG | 0600, 0) == 0, "mknodat S_IFREG: %s", strerror(errno));
    CHECK(stat("fsc.node", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0, "mknodat made a file");
    ERRNO_IS(mknodat(AT_FDCWD, "fsc.node", S_IFREG | 0600, 0), EEXIST, "mknodat twice");
    const char *gone[] = {"fsc.b", "fsc.d", "fsc.hard", "fsc.sym", "fsc.symhard", "fsc.node"};
    for (unsigned i = 0; i < sizeof gone / sizeof *gone; i++) CHECK(unlink(gone[i]) == 0, "unlink %s", gone[i]);
    printf("fscalls: names: renameat2 (NOREPLACE EEXIST, bad flags EINVAL), linkat, symlinkat, readlinkat, mkdirat, unlinkat, mknodat\n");
}

static void sec_meta(void)
{
    struct stat st;
    put_file("fsc.m", "meta");
    int fd = open("fsc.m", O_RDWR);
    CHECK(fchmod(fd, 0640) == 0 && fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0640, "fchmod");
    CHECK(fchmodat(AT_FDCWD, "fsc.m", 0604, 0) == 0 && stat("fsc.m", &st) == 0 && (st.st_mode & 07777) == 0604, "fchmodat");
    CHECK(fchown(fd, 1234, 5678) == 0, "fchown: %s", strerror(errno));
    CHECK(fstat(fd, &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678, "fchown shows in stat (%u %u)", st.st_uid, st.st_gid);
    CHECK(fchownat(AT_FDCWD, "fsc.m", -1, 42, 0) == 0 && stat("fsc.m", &st) == 0 && st.st_uid == 1234 && st.st_gid == 42, "fchownat keeps uid -1");
    CHECK(symlink("fsc.m", "fsc.ml") == 0, "symlink");
    CHECK(fchownat(AT_FDCWD, "fsc.ml", 7, 7, AT_SYMLINK_NOFOLLOW) == 0, "lchown");
    CHECK(lstat("fsc.ml", &st) == 0 && st.st_uid == 7 && stat("fsc.m", &st) == 0 && st.st_uid == 1234, "lchown changed only the link");
    ERRNO_IS(fchownat(AT_FDCWD, "fsc.m", 0, 0, 0x2), EINVAL, "fchownat bad flag");
    struct timespec ts[2] = {{1000000000, 500000000}, {1200000000, 250000000}};
    CHECK(utimensat(AT_FDCWD, "fsc.m", ts, 0) == 0, "utimensat: %s", strerror(errno));
    CHECK(stat("fsc.m", &st) == 0 && st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec == 1200000000, "times set");
    CHECK(st.st_atim.tv_nsec == 500000000 && st.st_mtim.tv_nsec == 250000000, "nanoseconds %ld %ld", st.st_atim.tv_nsec, st.st_mtim.tv_nsec);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {1300000000, 0}};
    CHECK(futimens(fd, omit) == 0 && fstat(fd, &st) == 0 && st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec == 1300000000, "futimens UTIME_OMIT");
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    ERRNO_IS(utimensat(AT_FDCWD, "fsc.m", bad, 0), EINVAL, "utimensat nsec out of range");
    struct statfs sf, sf2;
    CHECK(statfs(".", &sf) == 0 && fstatfs(fd, &sf2) == 0, "statfs: %s", strerror(errno));
    CHECK(sf.f_bsize > 0 && sf.f_blocks > 0 && sf.f_type == sf2.f_type && sf.f_namelen == 255, "statfs figures");
    int pfd[2];
    CHECK(pipe(pfd) == 0 && fstatfs(pfd[0], &sf) == 0 && sf.f_type == PIPEFS_MAGIC, "fstatfs of a pipe");
    close(pfd[0]);
    close(pfd[1]);
    ERRNO_IS(statfs("fsc.nonexistent", &sf), ENOENT, "statfs of a missing path");
    close(fd);
    unlink("fsc.ml");
    unlink("fsc.m");
    printf("fscalls: meta: fchmod/fchmodat, fchown/fchownat/lchown, utimensat (ns, UTIME_OMIT), statfs/fstatfs\n");
}

static void sec_fds(void)
{
    int fds[5];
    for (int i = 0; i < 5; i++) CHECK((fds[i] = open(".", O_RDONLY)) >= 0, "open");
    CHECK(sys_close_range(fds[3], ~0U, CLOSE_RANGE_CLOEXEC) == 0, "close_range CLOEXEC: %s", strerror(errno));
    CHECK(fcntl(fds[3], F_GETFD) == FD_CLOEXEC && fcntl(fds[4], F_GETFD) == FD_CLOEXEC && fcntl(fds[2], F_GETFD) == 0, "CLOEXEC marked");
    CHECK(sys_close_range(fds[1], ~0U, 0) == 0, "close_range");
    CHECK(fcntl(fds[0], F_GETFD) == 0, "fd below the range stays");
    for (int i = 1; i < 5; i++) ERRNO_IS(fcntl(fds[i], F_GETFD), EBADF, "closed by close_range");
    ERRNO_IS(sys_close_range(5, 4, 0), EINVAL, "close_range first > last");
    ERRNO_IS(sys_close_range(3, 4, 0x1), EINVAL, "close_range bad flag");
    close(fds[0]);
    struct rlimit old, rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0, "getrlimit");
    rl.rlim_cur = 16;
    rl.rlim_max = old.rlim_max;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit");
    int n = 0, fd;
    while ((fd = open(".", O_RDONLY)) >= 0) n++;
    CHECK(errno == EMFILE, "past RLIMIT_NOFILE: %s", strerror(errno));
    CHECK(n >= 8 && n <= 13, "fds opened under a limit of 16: %d", n); /* qemu-user keeps some fds of its own */
    sys_close_range(3, ~0U, 0);
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0, "restore");
    printf("fscalls: fds: close_range closes and marks CLOEXEC, EINVAL; EMFILE at RLIMIT_NOFILE\n");
}

static void sec_copy(void)
{
    char big[10000], b[10000];
    for (unsigned i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    int in = open("fsc.in", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(write(in, big, sizeof big) == (ssize_t)sizeof big, "write");
    CHECK(lseek(in, 0, SEEK_SET) == 0, "lseek");
    int pfd[2];
    CHECK(pipe(pfd) == 0, "pipe");
    CHECK(sendfile(pfd[1], in, NULL, 3000) == 3000, "sendfile to a pipe");
    CHECK(lseek(in, 0, SEEK_CUR) == 3000, "sendfile advanced the offset");
    CHECK(read(pfd[0], b, sizeof b) == 3000 && memcmp(b, big, 3000) == 0, "pipe got the bytes");
    int out = open("fsc.out", O_RDWR | O_CREAT | O_TRUNC, 0644);
    off_t off = 5000;
    CHECK(sendfile(out, in, &off, 10000) == 5000 && off == 10000, "sendfile with an offset to EOF");
    CHECK(lseek(in, 0, SEEK_CUR) == 3000, "offset pointer leaves the file offset");
    CHECK(pread(out, b, sizeof b, 0) == 5000 && memcmp(b, big + 5000, 5000) == 0, "sendfile file bytes");
    ERRNO_IS(sendfile(out, pfd[0], NULL, 10), EINVAL, "sendfile from a pipe");
    int wo = open("fsc.in", O_WRONLY);
    ERRNO_IS(sendfile(out, wo, NULL, 10), EBADF, "sendfile from a write-only fd");
    loff_t oi = 100, oo = 0;
    CHECK(copy_file_range(in, &oi, out, &oo, 200, 0) == 200 && oi == 300 && oo == 200, "copy_file_range");
    CHECK(pread(out, b, 200, 0) == 200 && memcmp(b, big + 100, 200) == 0, "copied bytes");
    ERRNO_IS(copy_file_range(in, &oi, out, &oo, 10, 1), EINVAL, "copy_file_range flags");
    ERRNO_IS(copy_file_range(in, NULL, pfd[1], NULL, 10, 0), EINVAL, "copy_file_range to a pipe");
    oi = 0, oo = 50;
    ERRNO_IS(copy_file_range(in, &oi, in, &oo, 100, 0), EINVAL, "copy_file_range overlapping");
    CHECK(posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL) == 0, "fadvise");
    CHECK(posix_fadvise(in, 0, 0, 77) == EINVAL, "fadvise bad advice");
    CHECK(posix_fadvise(pfd[0], 0, 0, POSIX_FADV_NORMAL) == ESPIPE, "fadvise of a pipe");
    CHECK(readahead(in, 0, 4096) == 0, "readahead");
    ERRNO_IS(readahead(pfd[0], 0, 4096), EINVAL, "readahead of a pipe");
    ERRNO_IS(readahead(wo, 0, 4096), EBADF, "readahead of a write-only fd");
    close(wo); close(in); close(out); close(pfd[0]); close(pfd[1]);
    unlink("fsc.in");
    unlink("fsc.out");
    printf("fscalls: copy: sendfile (pipe, offset), copy_file_range, fadvise64, readahead\n");
}

static void sec_vm(void)
{
    unsigned char vec[4];
    char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap");
    p[0] = 1;
    p[2 * PAGE] = 1;
    CHECK(mincore(p, 4 * PAGE, vec) == 0, "mincore: %s", strerror(errno));
    CHECK((vec[0] & 1) && !(vec[1] & 1) && (vec[2] & 1) && !(vec[3] & 1), "mincore %d%d%d%d", vec[0], vec[1], vec[2], vec[3]);
    ERRNO_IS(mincore(p + 1, PAGE, vec), EINVAL, "mincore unaligned");
    CHECK(munmap(p + 3 * PAGE, PAGE) == 0, "munmap");
    ERRNO_IS(mincore(p, 4 * PAGE, vec), ENOMEM, "mincore over a hole");
    CHECK(mlock(p + PAGE, PAGE) == 0, "mlock: %s", strerror(errno));
    CHECK(mincore(p, 3 * PAGE, vec) == 0 && (vec[1] & 1), "mlock made the page resident");
    CHECK(munlock(p + PAGE, PAGE) == 0, "munlock");
    ERRNO_IS(mlock(p, 4 * PAGE), ENOMEM, "mlock over a hole");
    ERRNO_IS(mlockall(0), EINVAL, "mlockall(0)");
    ERRNO_IS(mlockall(MCL_ONFAULT), EINVAL, "mlockall(MCL_ONFAULT)");
    CHECK(munlockall() == 0, "munlockall");
    ERRNO_IS(msync(p + 1, PAGE, MS_SYNC), EINVAL, "msync unaligned");
    ERRNO_IS(msync(p, PAGE, MS_SYNC | MS_ASYNC), EINVAL, "msync SYNC|ASYNC");
    ERRNO_IS(msync(p, PAGE, 0x10), EINVAL, "msync bad flag");
    ERRNO_IS(msync(p, 4 * PAGE, MS_SYNC), ENOMEM, "msync over a hole");
    CHECK(msync(p, 3 * PAGE, MS_ASYNC) == 0, "msync of anonymous memory");
    munmap(p, 3 * PAGE);
    put_file("fsc.vm", "0123456789");
    int ro = open("fsc.vm", O_RDONLY), wo = open("fsc.vm", O_WRONLY);
    ERRNO_IS(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES, "MAP_SHARED|PROT_WRITE of O_RDONLY");
    ERRNO_IS(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, wo, 0), EACCES, "MAP_SHARED of O_WRONLY");
    ERRNO_IS(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, wo, 0), EACCES, "MAP_PRIVATE of O_WRONLY");
    ERRNO_IS(mmap(NULL, PAGE, PROT_READ, 0, ro, 0), EINVAL, "neither MAP_SHARED nor MAP_PRIVATE");
    ERRNO_IS(mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL, "anonymous with neither");
    close(ro); close(wo);
    unlink("fsc.vm");
    printf("fscalls: vm: mincore, mlock/munlock/mlockall, msync and mmap errnos\n");
}

/* Take or test a record lock; returns fcntl's result (errno kept). */
static int rlock(int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}
static volatile sig_atomic_t got_usr1;
static void on_usr1(int s) { (void)s; got_usr1 = 1; }

static int wait_child(pid_t pid)
{
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void sec_locks(void)
{
    put_file("fsc.lock", "0123456789abcdef");
    int fd = open("fsc.lock", O_RDWR);
    int ready[2];
    CHECK(pipe(ready) == 0, "pipe");
    CHECK(rlock(fd, F_SETLK, F_WRLCK, 0, 10) == 0, "F_SETLK: %s", strerror(errno));
    pid_t me = getpid();
    pid_t c = fork();
    if (c == 0) {
        int f2 = open("fsc.lock", O_RDWR);
        if (rlock(f2, F_SETLK, F_WRLCK, 5, 1) != -1 || errno != EAGAIN) _exit(1);
        if (rlock(f2, F_SETLK, F_RDLCK, 10, 5) != 0) _exit(2); /* beyond the held range */
        struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        if (fcntl(f2, F_GETLK, &q) != 0 || q.l_type != F_WRLCK || q.l_pid != me || q.l_start != 0 || q.l_len != 10) _exit(3);
        if (write(ready[1], "r", 1) != 1) _exit(4);
        if (rlock(f2, F_SETLKW, F_WRLCK, 0, 1) != 0) _exit(5); /* waits for the parent */
        _exit(0);
    }
    char ch;
    CHECK(read(ready[0], &ch, 1) == 1, "child ready");
    CHECK(rlock(fd, F_SETLK, F_UNLCK, 0, 10) == 0, "unlock");
    CHECK(wait_child(c) == 0, "record locks across processes (child step %d)", 0);
    /* a cycle of two waiting processes: exactly one of them gets EDEADLK */
    CHECK(rlock(fd, F_SETLK, F_WRLCK, 0, 1) == 0, "lock A");
    c = fork();
    if (c == 0) {
        int f2 = open("fsc.lock", O_RDWR);
        if (rlock(f2, F_SETLK, F_WRLCK, 1, 1) != 0) _exit(10);
        if (write(ready[1], "r", 1) != 1) _exit(11);
        if (rlock(f2, F_SETLKW, F_WRLCK, 0, 1) == 0) _exit(0); /* got A after the parent gave up */
        _exit(errno == EDEADLK ? 1 : 12);                      /* exiting releases B */
    }
    CHECK(read(ready[0], &ch, 1) == 1, "child ready");
    int r = rlock(fd, F_SETLKW, F_WRLCK, 1, 1);
    int parent_deadlk = r == -1 && errno == EDEADLK;
    CHECK(r == 0 || parent_deadlk, "parent's wait: %s", strerror(errno));
    if (parent_deadlk) CHECK(rlock(fd, F_SETLK, F_UNLCK, 0, 1) == 0, "give up A");
    int cs = wait_child(c);
    CHECK((parent_deadlk && cs == 0) || (!parent_deadlk && cs == 1), "exactly one EDEADLK (parent %d, child status %d)", parent_deadlk, cs);
    CHECK(rlock(fd, F_SETLK, F_UNLCK, 0, 0) == 0, "unlock all");
    /* a signal interrupts F_SETLKW: EINTR */
    CHECK(rlock(fd, F_SETLK, F_WRLCK, 0, 0) == 0, "lock the file");
    c = fork();
    if (c == 0) {
        struct sigaction sa = {.sa_handler = on_usr1};
        sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART */
        int f2 = open("fsc.lock", O_RDWR);
        if (write(ready[1], "r", 1) != 1) _exit(20);
        if (rlock(f2, F_SETLKW, F_WRLCK, 0, 0) == -1 && errno == EINTR && got_usr1) _exit(0);
        _exit(21);
    }
    CHECK(read(ready[0], &ch, 1) == 1, "child ready");
    int st = 0;
    pid_t got = 0;
    for (int i = 0; i < 20000 && got != c; i++) {
        kill(c, SIGUSR1);
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
        got = waitpid(c, &st, WNOHANG);
    }
    CHECK(got == c, "F_SETLKW not interrupted by 20000 signals"); /* else st would still be 0 */
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "F_SETLKW interrupted by a signal (status %#x)", st);
    /* closing any fd of the file drops the process's POSIX locks */
    int other = open("fsc.lock", O_RDONLY);
    close(other);
    c = fork();
    if (c == 0) {
        int f2 = open("fsc.lock", O_RDWR);
        if (rlock(f2, F_SETLK, F_WRLCK, 0, 0) == 0) _exit(0);
        struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        fcntl(f2, F_GETLK, &q);
        printf("fscalls: held by pid %s, type %d, start %ld, len %ld\n", q.l_pid == me ? "parent" : "other", q.l_type, (long)q.l_start, (long)q.l_len);
        _exit(30);
    }
    CHECK(wait_child(c) == 0, "locks dropped when another fd of the file closed");
    /* OFD locks belong to the description: two opens in one process conflict */
    int o1 = open("fsc.lock", O_RDWR), o2 = open("fsc.lock", O_RDWR);
    struct flock ofl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 4};
    CHECK(fcntl(o1, F_OFD_SETLK, &ofl) == 0, "F_OFD_SETLK: %s", strerror(errno));
    ERRNO_IS(fcntl(o2, F_OFD_SETLK, &ofl), EAGAIN, "OFD lock of another description");
    struct flock q = ofl;
    CHECK(fcntl(o2, F_OFD_GETLK, &q) == 0 && q.l_type == F_WRLCK && q.l_pid == -1, "F_OFD_GETLK shows l_pid -1");
    ofl.l_pid = 1;
    ERRNO_IS(fcntl(o2, F_OFD_SETLK, &ofl), EINVAL, "OFD with l_pid set");
    close(o1);
    ofl.l_pid = 0;
    CHECK(fcntl(o2, F_OFD_SETLK, &ofl) == 0, "OFD lock freed with its description");
    close(o2);
    /* flock: per description; a forked copy of the description shares it */
    int k1 = open("fsc.lock", O_RDONLY);
    CHECK(flock(k1, LOCK_EX) == 0, "flock");
    c = fork();
    if (c == 0) {
        int k2 = open("fsc.lock", O_RDONLY);
        if (flock(k2, LOCK_SH | LOCK_NB) != -1 || errno != EWOULDBLOCK) _exit(40);
        if (flock(k1, LOCK_EX | LOCK_NB) != 0) _exit(41); /* the inherited description holds it */
        _exit(0);
    }
    CHECK(wait_child(c) == 0, "flock between processes");
    ERRNO_IS(flock(k1, 3), EINVAL, "flock bad operation");
    CHECK(flock(k1, LOCK_UN) == 0, "flock unlock");
    close(k1);
    close(fd);
    close(ready[0]);
    close(ready[1]);
    unlink("fsc.lock");
    printf("fscalls: locks: record locks (EAGAIN, F_GETLK owner, F_SETLKW, one EDEADLK, EINTR, close), OFD, flock\n");
}

static void sec_dents(void)
{
    enum { N = 2000 };
    char name[64];
    CHECK(mkdir("fsc.big", 0755) == 0, "mkdir");
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "fsc.big/entry-%05d-with-a-longer-name", i);
        int fd = open(name, O_WRONLY | O_CREAT, 0644);
        CHECK(fd >= 0, "create %d: %s", i, strerror(errno));
        close(fd);
    }
    static unsigned char seen[N];
    int dfd = open("fsc.big", O_RDONLY | O_DIRECTORY);
    char buf[1024];
    CHECK(syscall(SYS_getdents64, dfd, buf, 16) == -1 && errno == EINVAL, "getdents64 with a buffer smaller than an entry");
    long calls = 0, total = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
        CHECK(n >= 0, "getdents64: %s", strerror(errno));
        if (n == 0) break;
        calls++;
        for (long at = 0; at < n;) {
            struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d = (void *)(buf + at);
            int i;
            if (sscanf(d->name, "entry-%05d-", &i) == 1) {
                CHECK(i >= 0 && i < N && !seen[i], "entry %d seen twice", i);
                seen[i] = 1;
                CHECK(d->type == DT_REG, "d_type");
            } else CHECK(strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0, "odd name %s", d->name);
            total++;
            at += d->reclen;
        }
    }
    for (int i = 0; i < N; i++) CHECK(seen[i], "entry %d missing", i);
    CHECK(total == N + 2 && calls > 100, "entries %ld in %ld calls", total, calls);
    close(dfd);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "fsc.big/entry-%05d-with-a-longer-name", i);
        CHECK(unlink(name) == 0, "unlink");
    }
    CHECK(rmdir("fsc.big") == 0, "rmdir");
    printf("fscalls: dents: 2002 entries of a 2000-file directory through a 1 KiB buffer, each once; EINVAL when none fits\n");
}

static void sec_sandbox(void)
{
    char b[64];
    struct stat st;
    /* The guest root holds no etc/ (a fresh directory): names that point outside stay inside. */
    CHECK(symlink("/etc/passwd", "fsc.abs") == 0 && symlink("../../../../../../etc/passwd", "fsc.rel") == 0, "symlink");
    ERRNO_IS(open("fsc.abs", O_RDONLY), ENOENT, "absolute link to outside");
    ERRNO_IS(open("fsc.rel", O_RDONLY), ENOENT, "../ link to outside");
    ERRNO_IS(stat("/../../etc/passwd", &st), ENOENT, "../ above the root");
    put_file("fsc.mv", "mv");
    CHECK(rename("fsc.mv", "/../../../fsc.moved") == 0, "rename across the root: %s", strerror(errno));
    get_file("/fsc.moved", b, sizeof b);
    CHECK(strcmp(b, "mv") == 0, "the moved file is at the guest root");
    CHECK(link("fsc.abs", "fsc.abs2") == 0 && lstat("fsc.abs2", &st) == 0 && S_ISLNK(st.st_mode), "link of a link is the link itself");
    ERRNO_IS(linkat(AT_FDCWD, "fsc.abs", AT_FDCWD, "fsc.abs3", AT_SYMLINK_FOLLOW), ENOENT, "link through a link to outside");
    CHECK(mkdir("etc", 0755) == 0, "mkdir etc");
    put_file("etc/passwd", "inside");
    get_file("fsc.rel", b, sizeof b);
    CHECK(strcmp(b, "inside") == 0, "../ link resolves inside the root");
    CHECK(linkat(AT_FDCWD, "fsc.abs", AT_FDCWD, "fsc.hard", AT_SYMLINK_FOLLOW) == 0, "link through the link");
    get_file("fsc.hard", b, sizeof b);
    CHECK(strcmp(b, "inside") == 0, "hard link names the inside file");
    unlink("fsc.hard"); unlink("etc/passwd"); rmdir("etc"); unlink("fsc.abs"); unlink("fsc.abs2"); unlink("fsc.rel"); unlink("/fsc.moved");
    printf("fscalls: sandbox: links to outside (absolute, ../), rename and link across the root stay inside\n");
}

/*
 * swaprace (Coherent only): a child swaps directory "fsc.d" (holding "passwd" = "INSIDE") for
 * a symlink to "/etc" — inside the guest root there is no /etc, but on the host there is —
 * while this process opens "fsc.d/passwd" again and again. Linux (a chroot) gives either the
 * inside file or ENOENT; reading anything else is an escape from the root. With
 * --inject fs.open.after-resolve=US the window between the path walk and the host open is
 * widened. Prints how many opens saw each outcome class (inside / ENOENT) — never "escaped".
 */
static void sec_swaprace(void)
{
    char b[64];
    CHECK(mkdir("fsc.d", 0755) == 0, "mkdir");
    put_file("fsc.d/passwd", "INSIDE");
    int go[2];
    CHECK(pipe(go) == 0, "pipe");
    pid_t c = fork();
    if (c == 0) {
        close(go[1]);
        fcntl(go[0], F_SETFL, O_NONBLOCK);
        for (long i = 0; i < 1000000; i++) {
            char x;
            if (read(go[0], &x, 1) == 0) break; /* the opener is done */
            struct stat st;
            for (int k = 0; k < 10; k++) lstat("fsc.d", &st); /* dwell: the directory */
            if (rename("fsc.d", "fsc.real") != 0) _exit(2);
            if (symlink("/etc", "fsc.d") != 0) _exit(3);
            for (int k = 0; k < 10; k++) lstat("fsc.d", &st); /* dwell: the link */
            if (unlink("fsc.d") != 0) _exit(4);
            if (rename("fsc.real", "fsc.d") != 0) _exit(5);
        }
        _exit(0);
    }
    close(go[0]);
    int inside = 0, missing = 0, escaped = 0;
    for (int i = 0; i < 300; i++) {
        int fd = open("fsc.d/passwd", O_RDONLY);
        if (fd < 0) {
            CHECK(errno == ENOENT || errno == EACCES, "open during the swap: %s", strerror(errno));
            missing++;
            continue;
        }
        ssize_t n = read(fd, b, sizeof b - 1);
        close(fd);
        b[n < 0 ? 0 : n] = 0;
        if (strcmp(b, "INSIDE") == 0) inside++;
        else escaped++;
    }
    close(go[1]);
    CHECK(wait_child(c) == 0, "swapper");
    printf("fscalls: swaprace: %d opens inside, %d ENOENT, %d escaped\n", inside, missing, escaped);
    CHECK(escaped == 0, "%d opens read a host file outside the root", escaped);
    unlink("fsc.d/passwd");
    rmdir("fsc.d");
    printf("fscalls: swaprace: a directory swapped for a link to outside never lets an open escape\n");
}

int main(int argc, char **argv)
{
    guest_start("fscalls");
    static const struct { const char *name; void (*fn)(void); int dflt; } secs[] = {
        {"sync", sec_sync, 1}, {"names", sec_names, 1}, {"meta", sec_meta, 1}, {"fds", sec_fds, 1},
        {"copy", sec_copy, 1}, {"vm", sec_vm, 1}, {"locks", sec_locks, 1}, {"dents", sec_dents, 1},
        {"sandbox", sec_sandbox, 0}, {"swaprace", sec_swaprace, 0},
    };
    for (unsigned i = 0; i < sizeof secs / sizeof *secs; i++) {
        int want = argc < 2 ? secs[i].dflt : 0;
        for (int a = 1; a < argc; a++) want |= strcmp(argv[a], secs[i].name) == 0;
        if (want) secs[i].fn();
    }
    ok();
}
