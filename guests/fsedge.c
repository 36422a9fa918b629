/*
 * fsedge — file-system edge cases where a kernel can lose data or alias names (issue 13,
 * items 3-8). Works in the current directory and removes what it creates. Checks:
 *  1. huge offsets: pwrite at 2^53 and 2^62 is EFBIG (ext4's s_maxbytes is far below), at
 *     2^63-1 (pos + count overflows loff_t) EINVAL; pread there returns 0 / EINVAL; ftruncate
 *     to 2^53 is EFBIG, to -1 EINVAL; and the file still holds exactly its 4 bytes.
 *  2. long paths: a directory chain 3,015 bytes deep (15 names of 200 bytes), entered with
 *     chdir: getcwd gives it back, a file created there reads back; and open(O_TRUNC) that
 *     fails with EMFILE (RLIMIT_NOFILE full) leaves the file's bytes alone.
 *  3. MAP_SHARED of an O_RDONLY file: mmap(PROT_WRITE) and mprotect(PROT_WRITE) are EACCES,
 *     a store faults (SIGSEGV, SEGV_ACCERR); MAP_PRIVATE may become writable, privately.
 *  4. pipes: a blocking 1 MiB write() and a 1 MiB writev() of 3 buffers to a pipe whose reader
 *     (a child) reads 4 KiB at a time return 1 MiB each, and the child got every byte in order; a blocking write interrupted by
 *     a signal (handler with and without SA_RESTART) after filling the pipe returns 65536.
 *  5. names are bytes: "\xff\xfe" and "\xef\xbf\xbd\xef\xbf\xbd" (what UTF-8 decoding of the
 *     first gives) are two files; readdir returns both names byte for byte.
 *  6. execve of 2 GiB sparse files is refused at once: garbage header → ENOEXEC; a valid-looking
 *     riscv64 header with a 64 TiB segment → ENOEXEC or ENOMEM (the host kernel under qemu
 *     says ENOEXEC for a foreign machine, Linux on riscv64 refuses the mapping).
 * Args: [section...] — offsets paths maywrite pipes names exec (default: all, in that order);
 * or a mode: "argv-parent SELF" re-executes SELF (this guest's path) with argv and envp strings
 * that are not UTF-8, and the child ("argv-child") checks them byte for byte; "execfile PATH"
 * prints what execve(PATH) said.
 * Expected final line: "fsedge: OK".
 */
#include "guest.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#define DAT "fsedge.dat"

static void expect_err(long r, int want, const char *what)
{
    CHECK(r == -1 && errno == want, "%s: got %ld (%s), want -1 %s", what, r, r == -1 ? strerror(errno) : "no error",
          strerror(want));
}

static void huge_offsets(void)
{
    int fd = open(DAT, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open %s: %s", DAT, strerror(errno));
    CHECK(write(fd, "ABCD", 4) == 4, "write: %s", strerror(errno));
    char b[8];
    expect_err(pwrite(fd, "xy", 2, (off_t)1 << 53), EFBIG, "pwrite at 2^53");
    expect_err(pwrite(fd, "xy", 2, (off_t)1 << 62), EFBIG, "pwrite at 2^62");
    expect_err(pwrite(fd, "xy", 2, INT64_MAX), EINVAL, "pwrite at 2^63-1");
    CHECK(pread(fd, b, 2, (off_t)1 << 53) == 0, "pread at 2^53: %s", strerror(errno));
    expect_err(pread(fd, b, 2, INT64_MAX), EINVAL, "pread at 2^63-1");
    expect_err(ftruncate(fd, (off_t)1 << 53), EFBIG, "ftruncate to 2^53");
    expect_err(ftruncate(fd, -1), EINVAL, "ftruncate to -1");
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == 4, "size after huge offsets: %ld, want 4", (long)st.st_size);
    CHECK(pread(fd, b, 8, 0) == 4 && memcmp(b, "ABCD", 4) == 0, "contents after huge offsets changed");
    close(fd);
    printf("fsedge: offsets >= 2^53: pwrite EFBIG/EINVAL, pread 0/EINVAL, ftruncate EFBIG; file intact\n");
}

#define DEPTH 15
#define NAMELEN 200

static void long_paths(void)
{
    char name[NAMELEN + 1], top[4096];
    CHECK(getcwd(top, sizeof top) != NULL, "getcwd: %s", strerror(errno));
    memset(name, 'p', NAMELEN);
    name[NAMELEN] = 0;
    for (int i = 0; i < DEPTH; i++) {
        name[0] = (char)('a' + i);
        CHECK(mkdir(name, 0755) == 0, "mkdir level %d: %s", i, strerror(errno));
        CHECK(chdir(name) == 0, "chdir level %d: %s", i, strerror(errno));
    }
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd deep: %s", strerror(errno));
    size_t want = (strcmp(top, "/") == 0 ? 0 : strlen(top)) + DEPTH * (NAMELEN + 1);
    CHECK(strlen(cwd) == want, "getcwd deep: %zu bytes, want %zu", strlen(cwd), want);
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open in a %zu-byte directory: %s", want, strerror(errno));
    CHECK(write(fd, "keep", 4) == 4, "write deep: %s", strerror(errno));
    close(fd);

    /* O_TRUNC failing with EMFILE must not have truncated anything. */
    struct rlimit old, low;
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0, "getrlimit: %s", strerror(errno));
    int spare[64], n = 0;
    low.rlim_cur = 32;
    low.rlim_max = old.rlim_max;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit: %s", strerror(errno));
    for (;;) {
        int d = dup(0);
        if (d < 0)
            break;
        CHECK(n < 64, "RLIMIT_NOFILE 32 not enforced");
        spare[n++] = d;
    }
    expect_err(open("f", O_RDWR | O_TRUNC), EMFILE, "open(O_TRUNC) with no fd free");
    while (n > 0)
        close(spare[--n]);
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0, "setrlimit back: %s", strerror(errno));
    char b[8] = {0};
    fd = open("f", O_RDONLY);
    CHECK(fd >= 0 && read(fd, b, 8) == 4 && memcmp(b, "keep", 4) == 0, "the file lost its bytes to a failed O_TRUNC open");
    close(fd);

    CHECK(unlink("f") == 0, "unlink deep: %s", strerror(errno));
    for (int i = DEPTH - 1; i >= 0; i--) {
        CHECK(chdir("..") == 0, "chdir ..: %s", strerror(errno));
        name[0] = (char)('a' + i);
        CHECK(rmdir(name) == 0, "rmdir level %d: %s", i, strerror(errno));
    }
    printf("fsedge: a cwd %d bytes below the start works; a failed open(O_TRUNC) keeps the data\n", DEPTH * (NAMELEN + 1));
}

static void readonly_shared(void)
{
    int fd = open(DAT, O_RDONLY);
    CHECK(fd >= 0, "open %s read-only: %s", DAT, strerror(errno));
    void *w = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(w == MAP_FAILED && errno == EACCES, "mmap(MAP_SHARED, PROT_WRITE) of an O_RDONLY file: %s", w == MAP_FAILED ? strerror(errno) : "mapped");
    volatile char *p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED, "mmap shared read-only: %s", strerror(errno));
    expect_err(mprotect((void *)p, PAGE, PROT_READ | PROT_WRITE), EACCES, "mprotect(PROT_WRITE) of a shared O_RDONLY mapping");
    expect_fault(probe_write(p, 'Z'), SIGSEGV, SEGV_ACCERR, (const void *)p, "store to a shared O_RDONLY mapping");
    volatile char *q = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(q != MAP_FAILED, "mmap private: %s", strerror(errno));
    CHECK(mprotect((void *)q, PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect of a private mapping: %s", strerror(errno));
    q[0] = 'Z';
    char b[4];
    CHECK(pread(fd, b, 4, 0) == 4 && memcmp(b, "ABCD", 4) == 0 && p[0] == 'A', "a write reached an O_RDONLY file");
    munmap((void *)p, PAGE);
    munmap((void *)q, PAGE);
    close(fd);
    printf("fsedge: MAP_SHARED of an O_RDONLY file never becomes writable (EACCES, SIGSEGV)\n");
}

#define BIG (1 << 20)
static uint8_t pattern(size_t i) { return (uint8_t)(i * 13 + (i >> 12)); }

static void pipe_full_write(void)
{
    int pfd[2];
    CHECK(pipe(pfd) == 0, "pipe: %s", strerror(errno));
    pid_t c = fork();
    CHECK(c >= 0, "fork: %s", strerror(errno));
    if (c == 0) {
        close(pfd[1]);
        uint8_t b[4096];
        size_t got = 0;
        for (;;) {
            ssize_t n = read(pfd[0], b, sizeof b);
            if (n <= 0)
                _exit(n == 0 && got == 2 * BIG ? 0 : 2);
            for (ssize_t k = 0; k < n; k++)
                if (b[k] != pattern(got + k))
                    _exit(3);
            got += n;
        }
    }
    close(pfd[0]);
    static uint8_t buf[2 * BIG];
    for (size_t i = 0; i < 2 * BIG; i++)
        buf[i] = pattern(i);
    ssize_t n = write(pfd[1], buf, BIG);
    CHECK(n == BIG, "blocking pipe write returned %zd, want %d", n, BIG);
    struct iovec iov[3] = {{buf + BIG, 300000}, {buf + BIG + 300000, 400000}, {buf + BIG + 700000, BIG - 700000}};
    n = writev(pfd[1], iov, 3);
    CHECK(n == BIG, "blocking pipe writev returned %zd, want %d", n, BIG);
    close(pfd[1]);
    int status;
    CHECK(waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader saw a wrong stream (status 0x%x)", status);
    printf("fsedge: blocking 1 MiB pipe write and writev return 1 MiB; the reader got every byte in order\n");
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

static void pipe_interrupted_write(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0 && sigaction(SIGUSR2, &sa, NULL) == 0, "sigaction: %s", strerror(errno));
    got_usr1 = 0;
    int pfd[2];
    CHECK(pipe(pfd) == 0, "pipe: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t c = fork();
    CHECK(c >= 0, "fork: %s", strerror(errno));
    if (c == 0) {
        close(pfd[1]);
        int avail = 0;
        struct timespec ms = {0, 1000000}, settle = {0, 200000000};
        while (ioctl(pfd[0], FIONREAD, &avail) == 0 && avail < 65536)
            nanosleep(&ms, NULL);
        nanosleep(&settle, NULL); /* the writer is blocked by now */
        kill(parent, SIGUSR1);
        nanosleep(&settle, NULL);
        /* Should the writer not have been parked yet for the first one, a second signal finds it
           blocked (a standard signal already pending is not sent twice). */
        kill(parent, SIGUSR2);
        nanosleep(&settle, NULL);
        static uint8_t b[BIG];
        while (read(pfd[0], b, sizeof b) > 0) {
        }
        _exit(0);
    }
    close(pfd[0]);
    static uint8_t buf[BIG];
    ssize_t n = write(pfd[1], buf, BIG);
    CHECK(n == 65536 && got_usr1, "write interrupted by a signal (%s) returned %zd (handler ran: %d), want 65536",
          flags ? "SA_RESTART" : "no SA_RESTART", n, (int)got_usr1);
    close(pfd[1]);
    int status;
    pid_t w;
    while ((w = waitpid(c, &status, 0)) < 0 && errno == EINTR) { /* the second signal may land here */
    }
    CHECK(w == c, "waitpid: %s", strerror(errno));
}

static const char N1[] = "\xff\xfe";
static const char N2[] = "\xef\xbf\xbd\xef\xbf\xbd";

static void byte_names(void)
{
    int a = open(N1, O_RDWR | O_CREAT | O_EXCL, 0644);
    CHECK(a >= 0, "create \\xff\\xfe: %s", strerror(errno));
    int b = open(N2, O_RDWR | O_CREAT | O_EXCL, 0644);
    CHECK(b >= 0, "create U+FFFD U+FFFD beside \\xff\\xfe: %s", strerror(errno));
    CHECK(write(a, "1", 1) == 1 && write(b, "22", 2) == 2, "write: %s", strerror(errno));
    close(a);
    close(b);
    DIR *d = opendir(".");
    CHECK(d != NULL, "opendir: %s", strerror(errno));
    int seen1 = 0, seen2 = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, N1) == 0)
            seen1++;
        if (strcmp(e->d_name, N2) == 0)
            seen2++;
    }
    closedir(d);
    CHECK(seen1 == 1 && seen2 == 1, "readdir: \\xff\\xfe seen %d times, U+FFFD U+FFFD %d times", seen1, seen2);
    struct stat s1, s2;
    CHECK(stat(N1, &s1) == 0 && stat(N2, &s2) == 0 && s1.st_size == 1 && s2.st_size == 2, "the two names share a file");
    CHECK(unlink(N1) == 0 && unlink(N2) == 0, "unlink: %s", strerror(errno));
    printf("fsedge: names are bytes: two names that decode alike are two files\n");
}

/* A 2 GiB sparse file whose first bytes are `head`, mode 0755. */
static void sparse(const char *path, const void *head, size_t len)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0755);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    CHECK(write(fd, head, len) == (ssize_t)len, "write %s: %s", path, strerror(errno));
    CHECK(ftruncate(fd, (off_t)1 << 31) == 0, "ftruncate %s to 2 GiB: %s", path, strerror(errno));
    close(fd);
}

static void exec_sparse(void)
{
    char *argv[] = {"big", NULL}, *envp[] = {NULL};
    char junk[64];
    memset(junk, 'j', sizeof junk);
    sparse("big.elf", junk, sizeof junk);
    execve("big.elf", argv, envp);
    CHECK(errno == ENOEXEC, "execve of a 2 GiB sparse non-ELF: %s, want ENOEXEC", strerror(errno));

    /* Elf64_Ehdr + one PT_LOAD: va 0x10000, 4 KiB from the file, 64 TiB in memory. */
    uint8_t h[64 + 56];
    memset(h, 0, sizeof h);
    memcpy(h, "\x7f" "ELF\x02\x01\x01", 7);
    h[16] = 2;                          /* ET_EXEC */
    h[18] = 243;                        /* EM_RISCV */
    h[20] = 1;                          /* EV_CURRENT */
    uint64_t entry = 0x10000, phoff = 64, pmem = (uint64_t)1 << 46;
    memcpy(h + 24, &entry, 8);
    memcpy(h + 32, &phoff, 8);
    h[48] = 0x5;                        /* RVC | double-float ABI */
    h[52] = 64;                         /* e_ehsize */
    h[54] = 56;                         /* e_phentsize */
    h[56] = 1;                          /* e_phnum */
    uint8_t *ph = h + 64;
    ph[0] = 1;                          /* PT_LOAD */
    ph[4] = 5;                          /* R X */
    uint64_t off = 0, va = 0x10000, fsz = 0x1000, align = 0x1000;
    memcpy(ph + 8, &off, 8);
    memcpy(ph + 16, &va, 8);
    memcpy(ph + 24, &va, 8);
    memcpy(ph + 32, &fsz, 8);
    memcpy(ph + 40, &pmem, 8);
    memcpy(ph + 48, &align, 8);
    sparse("big.elf", h, sizeof h);
    execve("big.elf", argv, envp);
    CHECK(errno == ENOEXEC || errno == ENOMEM, "execve of a 2 GiB sparse ELF with a 64 TiB segment: %s", strerror(errno));
    CHECK(unlink("big.elf") == 0, "unlink big.elf: %s", strerror(errno));
    printf("fsedge: execve refuses 2 GiB sparse files at once\n");
}

/* Run section `name` when no names were given or it is among them. */
static int wanted(int argc, char **argv, const char *name)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

static const char ARG_BYTES[] = "\xff\xfe-\xc3(";
static const char ENV_BYTES[] = "FSEDGE=\xfe\xff";

/* Modes with a path: the guest's own copy (argv-parent) or a file to execve (execfile). */
static void modes(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "argv-child") == 0) {
        CHECK(argc == 3 && strcmp(argv[2], ARG_BYTES) == 0, "argv bytes changed across execve (argc %d)", argc);
        const char *v = getenv("FSEDGE");
        CHECK(v != NULL && strcmp(v, ENV_BYTES + 7) == 0, "envp bytes changed across execve");
        printf("fsedge: argv and envp bytes survive execve unchanged\n");
        ok();
    }
    if (argc == 3 && strcmp(argv[1], "argv-parent") == 0) {
        char *cargv[] = {"fsedge", "argv-child", (char *)ARG_BYTES, NULL}, *cenv[] = {(char *)ENV_BYTES, NULL};
        execve(argv[2], cargv, cenv);
        fail("execve %s: %s", argv[2], strerror(errno));
    }
    if (argc == 3 && strcmp(argv[1], "execfile") == 0) {
        char *cargv[] = {"x", NULL}, *cenv[] = {NULL};
        execve(argv[2], cargv, cenv);
        printf("fsedge: execve %s: %s\n", argv[2], strerror(errno));
        ok();
    }
}

int main(int argc, char **argv)
{
    guest_start("fsedge");
    probe_install();
    modes(argc, argv);
    if (wanted(argc, argv, "offsets"))
        huge_offsets();
    if (wanted(argc, argv, "paths"))
        long_paths();
    if (wanted(argc, argv, "maywrite")) {
        if (!wanted(argc, argv, "offsets")) { /* the file huge_offsets leaves */
            int fd = open(DAT, O_RDWR | O_CREAT | O_TRUNC, 0644);
            CHECK(fd >= 0 && write(fd, "ABCD", 4) == 4, "create %s: %s", DAT, strerror(errno));
            close(fd);
        }
        readonly_shared();
    }
    if (access(DAT, F_OK) == 0)
        CHECK(unlink(DAT) == 0, "unlink %s: %s", DAT, strerror(errno));
    if (wanted(argc, argv, "pipes")) {
        pipe_full_write();
        pipe_interrupted_write(0);
        pipe_interrupted_write(SA_RESTART);
        printf("fsedge: a write interrupted by a signal returns what it wrote (65536)\n");
    }
    if (wanted(argc, argv, "names"))
        byte_names();
    if (wanted(argc, argv, "exec"))
        exec_sparse();
    ok();
}
