/*
 * procfs.c — /proc and /dev parsed back and checked against the process's real state.
 *
 * Every line states a check, never a host-dependent value, so the output is the same on
 * Coherent and under qemu-riscv64 (where most of /proc is the host's own, and /proc/self/maps,
 * stat, cmdline and exe are qemu's emulation):
 *   maps     an mmap of 4 pages appears rw-p; mprotect of its second page splits it into
 *            rw-p / r--p / rw-p with exact boundaries; main's address is in an r-x line, a
 *            stack variable in [stack]
 *   status   Pid/PPid/Tgid agree with getpid/getppid; Threads grows by one while a thread
 *            runs (and its /proc/self/task/<tid>/comm is the name it set); VmRSS grows by at
 *            least 3 MiB after touching 4 MiB
 *   stat     pid, (comm), ppid, and — not under qemu, whose stat has 44 fields and zeros —
 *            the state, pgrp, session, thread count and 52 fields
 *   cmdline  equals argv; comm follows prctl(PR_SET_NAME); exe's base name is argv[0]'s
 *   fd/      a new file's link is cwd/name, a pipe's is pipe:[st_ino]; readdir lists them
 *   meminfo  MemTotal equals sysinfo's totalram; MemFree <= MemTotal
 *   cpuinfo  as many "processor" entries as sysconf(_SC_NPROCESSORS_ONLN)
 *   files    /proc/self -> getpid; /proc lists self, meminfo and our pid; fstat of a /proc file
 *            is S_IFREG 0444 size 0; lseek back gives the same bytes; pid_max, overcommit,
 *            uptime, loadavg and mounts parse
 *   /dev     zero reads zeros and maps (private and, across fork, shared); null swallows
 *            writes and reads EOF; urandom gives differing non-zero bytes; tty is absent
 *            (ENXIO or ENOENT: no controlling terminal)
 *   shm      shm_open + ftruncate + MAP_SHARED: a forked child's write and a second
 *            process's own shm_open + mmap are seen by the parent; shm_unlink, then ENOENT
 * Arguments: none; `--qemu-lenient` skips the stat fields qemu-user 7.2 leaves 0 and the
 * 52-field count (its emulated stat has 44) and another process's maps (qemu emulates only
 * its own); `cat PATH...` prints files and directory listings; `errnos` the errno of each
 * refused operation; `exec MODE...` execs itself through /proc/self/exe with MODE...;
 * `urandom` prints 32 bytes of /dev/urandom and of /dev/random in hex; `race [ITER]` reads a
 * child's maps, status, stat and cmdline while two of its threads churn its address space.
 * Final line `procfs: OK`.
 */
#include "guest.h"
#include <sys/times.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>

static int lenient;

/* The whole of file `path` (NUL-terminated; `*len` its length), read in small pieces. */
static char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open %s: errno %d", path, errno);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 512 + 1 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + n, 512); /* small reads: the offset must carry a snapshot across them */
        CHECK(r >= 0, "read %s: errno %d", path, errno);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

/* The number after "key:" in a status-like text, or -1. */
static long field(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, k) == 0 && p[k] == ':')
            return strtol(p + k + 1, NULL, 10);
    }
    return -1;
}

/* A maps line covering [lo, hi): its bounds and permissions; 0 when there is none. */
static int maps_find(const char *maps, uintptr_t addr, uintptr_t *lo, uintptr_t *hi, char perms[5], char *name, size_t namelen)
{
    for (const char *p = maps; *p; p = strchr(p, '\n') + 1) {
        unsigned long a, b;
        char pr[5];
        int off = 0;
        if (sscanf(p, "%lx-%lx %4s %*x %*x:%*x %*u%n", &a, &b, pr, &off) < 3)
            fail("maps: bad line '%.60s'", p);
        if (addr >= a && addr < b) {
            *lo = a, *hi = b;
            memcpy(perms, pr, 5);
            const char *q = p + off, *e = strchr(p, '\n');
            while (q < e && *q == ' ')
                q++;
            size_t n = (size_t)(e - q) < namelen - 1 ? (size_t)(e - q) : namelen - 1;
            memcpy(name, q, n);
            name[n] = 0;
            return 1;
        }
        if (!strchr(p, '\n'))
            break;
    }
    return 0;
}

static void check_maps(void)
{
    char *m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, "mmap");
    uintptr_t base = (uintptr_t)m, lo, hi;
    char perms[5], name[256];
    char *maps = slurp("/proc/self/maps", NULL);
    CHECK(maps_find(maps, base, &lo, &hi, perms, name, sizeof name), "maps: no line for the new mapping");
    CHECK(lo <= base && hi >= base + 4 * PAGE && strcmp(perms, "rw-p") == 0, "maps: mapping shown as %lx-%lx %s", (unsigned long)lo, (unsigned long)hi, perms);
    free(maps);
    CHECK(mprotect(m + PAGE, PAGE, PROT_READ) == 0, "mprotect");
    maps = slurp("/proc/self/maps", NULL);
    CHECK(maps_find(maps, base, &lo, &hi, perms, name, sizeof name) && hi == base + PAGE && strcmp(perms, "rw-p") == 0, "maps: first part %s ends %lx", perms, (unsigned long)hi);
    CHECK(maps_find(maps, base + PAGE, &lo, &hi, perms, name, sizeof name) && lo == base + PAGE && hi == base + 2 * PAGE && strcmp(perms, "r--p") == 0,
          "maps: middle %lx-%lx %s", (unsigned long)lo, (unsigned long)hi, perms);
    CHECK(maps_find(maps, base + 2 * PAGE, &lo, &hi, perms, name, sizeof name) && lo == base + 2 * PAGE && hi >= base + 4 * PAGE && strcmp(perms, "rw-p") == 0,
          "maps: last part %lx %s", (unsigned long)lo, perms);
    CHECK(maps_find(maps, (uintptr_t)&check_maps, &lo, &hi, perms, name, sizeof name) && perms[0] == 'r' && perms[2] == 'x', "maps: code not r-x (%s)", perms);
    int local = 0;
    CHECK(maps_find(maps, (uintptr_t)&local, &lo, &hi, perms, name, sizeof name) && strcmp(name, "[stack]") == 0 && strcmp(perms, "rw-p") == 0,
          "maps: stack variable in '%s' %s", name, perms);
    /* every line: "%08lx-%08lx perms offset maj:min inode", a name (if any) at column 73 */
    for (const char *p = maps; *p; p = strchr(p, '\n') + 1) {
        const char *e = strchr(p, '\n');
        CHECK(e, "maps: last line unterminated");
        if (e - p > 73)
            CHECK(p[72] == ' ' && p[73] != ' ', "maps: a name does not start at column 73: '%.80s'", p);
    }
    free(maps);
    munmap(m, 4 * PAGE);
    printf("procfs: maps: a new mapping is rw-p; mprotect splits it rw-p / r--p / rw-p exactly; code r-x, stack [stack]\n");
}

static void probe_handler_noop(int sig) { (void)sig; }

static pthread_barrier_t bar;
static void *idle_thread(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "procfs-worker");
    pthread_barrier_wait(&bar); /* named */
    pthread_barrier_wait(&bar); /* parent looked */
    return NULL;
}

static void check_status(void)
{
    char *st = slurp("/proc/self/status", NULL);
    CHECK(field(st, "Pid") == getpid() && field(st, "Tgid") == getpid() && field(st, "PPid") == getppid(),
          "status: Pid %ld Tgid %ld PPid %ld", field(st, "Pid"), field(st, "Tgid"), field(st, "PPid"));
    long threads = field(st, "Threads"), rss = field(st, "VmRSS");
    CHECK(threads >= 1 && rss > 0, "status: Threads %ld VmRSS %ld", threads, rss);
    free(st);

    pthread_t t;
    pthread_barrier_init(&bar, NULL, 2);
    CHECK(pthread_create(&t, NULL, idle_thread, NULL) == 0, "pthread_create");
    pthread_barrier_wait(&bar);
    st = slurp("/proc/self/status", NULL);
    CHECK(field(st, "Threads") == threads + 1, "status: Threads %ld with one more thread (was %ld)", field(st, "Threads"), threads);
    free(st);
    DIR *d = opendir("/proc/self/task");
    CHECK(d, "opendir task: errno %d", errno);
    int tasks = 0, named = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        tasks++;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        char *c = slurp(path, NULL);
        named += strcmp(c, "procfs-worker\n") == 0;
        free(c);
    }
    closedir(d);
    CHECK(tasks == threads + 1 && named == 1, "task/: %d tasks, %d named procfs-worker", tasks, named);
    pthread_barrier_wait(&bar);
    pthread_join(t, NULL);

    size_t big = 4 << 20;
    char *m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, "mmap 4 MiB");
    for (size_t i = 0; i < big; i += PAGE)
        m[i] = 1;
    st = slurp("/proc/self/status", NULL);
    long rss2 = field(st, "VmRSS");
    CHECK(rss2 - rss >= 3 * 1024, "status: VmRSS grew %ld kB after touching 4 MiB", rss2 - rss);
    free(st);
    munmap(m, big);
    if (!lenient) { /* qemu-user keeps the guest's signal state to itself: the host's status shows qemu's */
        sigset_t set, old;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, &old);
        signal(SIGUSR2, SIG_IGN);
        signal(SIGTERM, probe_handler_noop);
        raise(SIGUSR1); /* pending while blocked */
        st = slurp("/proc/self/status", NULL);
        unsigned long long blk = 0, ign = 0, cgt = 0, pnd = 0, shd = 0;
        const char *p;
        CHECK((p = strstr(st, "SigPnd:\t")) && sscanf(p + 8, "%llx", &pnd) == 1 && (p = strstr(st, "ShdPnd:\t")) && sscanf(p + 8, "%llx", &shd) == 1 &&
              (p = strstr(st, "SigBlk:\t")) && sscanf(p + 8, "%llx", &blk) == 1 && (p = strstr(st, "SigIgn:\t")) && sscanf(p + 8, "%llx", &ign) == 1 &&
              (p = strstr(st, "SigCgt:\t")) && sscanf(p + 8, "%llx", &cgt) == 1, "status: signal lines");
        CHECK(blk & (1ULL << (SIGUSR1 - 1)) && (pnd | shd) & (1ULL << (SIGUSR1 - 1)) && ign & (1ULL << (SIGUSR2 - 1)) &&
              cgt & (1ULL << (SIGTERM - 1)) && !(cgt & (1ULL << (SIGUSR2 - 1))),
              "status: SigPnd %llx ShdPnd %llx SigBlk %llx SigIgn %llx SigCgt %llx", pnd, shd, blk, ign, cgt);
        free(st);
        signal(SIGUSR1, SIG_IGN); /* discard the pending one */
        sigprocmask(SIG_SETMASK, &old, NULL);
        signal(SIGUSR1, SIG_DFL);
        signal(SIGUSR2, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
    }
    printf("procfs: status: Pid/PPid/Tgid agree; Threads and task/ follow a new thread; VmRSS grows with touched pages\n");
}

static void check_stat(void)
{
    char *s = slurp("/proc/self/stat", NULL);
    char *close_paren = strrchr(s, ')');
    CHECK(close_paren && strchr(s, '('), "stat: no comm");
    long pid = strtol(s, NULL, 10);
    char comm[32] = "";
    char *open_paren = strchr(s, '(');
    snprintf(comm, sizeof comm, "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
    char state = 0;
    long ppid = 0, pgrp = 0, sid = 0;
    sscanf(close_paren + 2, "%c %ld %ld %ld", &state, &ppid, &pgrp, &sid);
    int fields = 2;
    for (char *p = close_paren + 1; *p; p++)
        if (*p == ' ' && p[1] && p[1] != '\n')
            fields++;
    CHECK(pid == getpid() && strcmp(comm, "procfs") == 0 && ppid == getppid(), "stat: pid %ld comm %s ppid %ld", pid, comm, ppid);
    if (!lenient) {
        CHECK(state == 'R' && pgrp == getpgrp() && sid == getsid(0), "stat: state %c pgrp %ld sid %ld", state, pgrp, sid);
        CHECK(fields == 52, "stat: %d fields", fields);
        long nthreads = 0;
        char *p = close_paren + 2;
        for (int i = 3; i < 20; i++)
            p = strchr(p, ' ') + 1; /* field 20: num_threads */
        nthreads = strtol(p, NULL, 10);
        CHECK(nthreads == 1, "stat: num_threads %ld", nthreads);
    }
    free(s);
    if (!lenient) { /* qemu-user's emulated stat has 0 CPU times */
        /* utime+stime and cutime+cstime (fields 14-17) grow with this process's and a reaped
           child's CPU time, in clock ticks, as times() reports them. */
        struct timespec c;
        do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c); while (c.tv_sec == 0 && c.tv_nsec < 50000000L);
        pid_t kid = fork();
        CHECK(kid >= 0, "fork");
        if (kid == 0) {
            do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c); while (c.tv_sec == 0 && c.tv_nsec < 50000000L);
            _exit(0);
        }
        int wst;
        CHECK(waitpid(kid, &wst, 0) == kid, "waitpid");
        /* times() before and after the read: reading stat costs CPU time itself (a lot of it
           on a loaded host, where a trap's kernel time stretches), so stat's figure lies
           between the two, give or take their tick rounding */
        struct tms t, t1;
        times(&t);
        s = slurp("/proc/self/stat", NULL);
        times(&t1);
        char *q = strrchr(s, ')') + 2;
        for (int i = 3; i < 14; i++)
            q = strchr(q, ' ') + 1; /* field 14: utime */
        long ut = 0, st = 0, cut = 0, cst = 0;
        sscanf(q, "%ld %ld %ld %ld", &ut, &st, &cut, &cst);
        free(s);
        CHECK(ut + st >= 4 && ut + st + 2 >= (long)(t.tms_utime + t.tms_stime) && ut + st <= (long)(t1.tms_utime + t1.tms_stime) + 2,
              "stat: utime+stime %ld ticks, times %ld before and %ld after", ut + st, (long)(t.tms_utime + t.tms_stime), (long)(t1.tms_utime + t1.tms_stime));
        CHECK(cut + cst >= 4 && cut + cst == (long)(t.tms_cutime + t.tms_cstime), "stat: cutime+cstime %ld ticks, times %ld", cut + cst, (long)(t.tms_cutime + t.tms_cstime));
    }
    printf("procfs: stat: pid, comm and ppid agree; state, pgrp, session, thread count and CPU times where emulated\n");
}

static void check_cmdline(int argc, char **argv)
{
    size_t n;
    char *c = slurp("/proc/self/cmdline", &n);
    size_t at = 0;
    for (int i = 0; i < argc; i++) {
        CHECK(at < n && strcmp(c + at, argv[i]) == 0, "cmdline: argument %d is '%s', not '%s'", i, at < n ? c + at : "", argv[i]);
        at += strlen(argv[i]) + 1;
    }
    CHECK(at == n, "cmdline: %zu bytes, argv has %zu", n, at);
    free(c);
    CHECK(prctl(PR_SET_NAME, "renamed") == 0, "PR_SET_NAME");
    c = slurp("/proc/self/comm", NULL);
    CHECK(strcmp(c, "renamed\n") == 0, "comm: '%s'", c);
    free(c);
    c = slurp("/proc/self/environ", NULL);
    free(c);
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(k > 0 && exe[0] == '/', "readlink exe: %zd errno %d", k, errno);
    exe[k] = 0;
    const char *base = strrchr(exe, '/') + 1, *arg0 = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    CHECK(strcmp(base, arg0) == 0, "exe: '%s' is not '%s'", exe, arg0);
    printf("procfs: cmdline equals argv; comm follows PR_SET_NAME; environ readable; exe names the program\n");
}

static void check_fds(void)
{
    int fd = open("procfs.tmp", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0, "open procfs.tmp: errno %d", errno);
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    char path[64], target[4096], cwd[4000];
    CHECK(getcwd(cwd, sizeof cwd), "getcwd");
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(path, target, sizeof target - 1);
    CHECK(k > 0, "readlink %s: errno %d", path, errno);
    target[k] = 0;
    char want[4200];
    snprintf(want, sizeof want, "%s%sprocfs.tmp", cwd, strcmp(cwd, "/") ? "/" : "");
    CHECK(strcmp(target, want) == 0, "fd link '%s', want '%s'", target, want);
    struct stat st;
    CHECK(fstat(p[0], &st) == 0, "fstat pipe");
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
    k = readlink(path, target, sizeof target - 1);
    CHECK(k > 0, "readlink pipe: errno %d", errno);
    target[k] = 0;
    snprintf(want, sizeof want, "pipe:[%lu]", (unsigned long)st.st_ino);
    CHECK(strcmp(target, want) == 0, "pipe link '%s', want '%s'", target, want);
    /* a pipe's link re-opens the pipe itself (Linux's magic link): its write end, here */
    int w2 = open(path, O_WRONLY);
    CHECK(w2 >= 0, "open %s: errno %d", path, errno);
    char got[3] = "";
    CHECK(write(w2, "hi", 2) == 2 && read(p[0], got, 2) == 2 && memcmp(got, "hi", 2) == 0, "write through the re-opened pipe");
    close(w2);
    int in = open("/dev/stdin", O_RDONLY);
    CHECK(in >= 0 || errno == ENXIO, "open /dev/stdin: errno %d", errno); /* ENXIO: stdin is a socket */
    if (in >= 0)
        close(in);
    DIR *d = opendir("/proc/self/fd");
    CHECK(d, "opendir fd");
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int n = atoi(e->d_name);
        if (e->d_name[0] != '.' && (n == 0 || n == 1 || n == 2 || n == fd || n == p[0] || n == p[1]))
            seen++;
    }
    closedir(d);
    CHECK(seen == 6, "fd/ lists %d of our 6 fds", seen);
    close(fd);
    close(p[0]);
    close(p[1]);
    unlink("procfs.tmp");
    printf("procfs: fd/: a file's link is its path, a pipe's pipe:[st_ino] and re-opens it; /dev/stdin opens; readdir lists them\n");
}

static void check_machine(void)
{
    char *mi = slurp("/proc/meminfo", NULL);
    struct sysinfo si;
    CHECK(sysinfo(&si) == 0, "sysinfo");
    long total = field(mi, "MemTotal"), freek = field(mi, "MemFree");
    CHECK(total > 0 && (unsigned long long)total == (unsigned long long)si.totalram * si.mem_unit / 1024, "meminfo: MemTotal %ld kB, sysinfo %llu kB",
          total, (unsigned long long)si.totalram * si.mem_unit / 1024);
    CHECK(freek >= 0 && freek <= total && field(mi, "MemAvailable") >= 0 && field(mi, "Cached") >= 0, "meminfo: MemFree %ld", freek);
    free(mi);
    char *ci = slurp("/proc/cpuinfo", NULL);
    long cpus = 0;
    for (const char *p = ci; (p = strstr(p, "processor")); p++)
        if (p == ci || p[-1] == '\n')
            cpus++;
    CHECK(cpus == sysconf(_SC_NPROCESSORS_ONLN), "cpuinfo: %ld processors, sysconf %ld", cpus, sysconf(_SC_NPROCESSORS_ONLN));
    free(ci);
    /* /sys/devices/system/cpu: online "0-N" (or "0") names every online cpu; one cpuK directory each. */
    char *on = slurp("/sys/devices/system/cpu/online", NULL);
    long lo = -1, hi = -1;
    int got = sscanf(on, "%ld-%ld", &lo, &hi);
    if (got == 1)
        hi = lo;
    CHECK(got >= 1 && lo == 0 && hi + 1 == sysconf(_SC_NPROCESSORS_ONLN), "/sys/devices/system/cpu/online '%s', sysconf %ld", on, sysconf(_SC_NPROCESSORS_ONLN));
    free(on);
    DIR *cd = opendir("/sys/devices/system/cpu");
    CHECK(cd, "opendir /sys/devices/system/cpu: errno %d", errno);
    long dirs = 0;
    for (struct dirent *ce; (ce = readdir(cd));) {
        char *end;
        if (strncmp(ce->d_name, "cpu", 3) == 0 && ce->d_name[3] >= '0' && ce->d_name[3] <= '9' && (strtol(ce->d_name + 3, &end, 10), *end == 0))
            dirs++;
    }
    closedir(cd);
    CHECK(dirs == sysconf(_SC_NPROCESSORS_CONF), "/sys/devices/system/cpu: %ld cpuN directories, sysconf %ld", dirs, sysconf(_SC_NPROCESSORS_CONF));
    printf("procfs: meminfo MemTotal equals sysinfo; cpuinfo and /sys/devices/system/cpu have one entry per online cpu\n");

    char self[32], want[32];
    ssize_t k = readlink("/proc/self", self, sizeof self - 1);
    CHECK(k > 0, "readlink /proc/self: errno %d", errno);
    self[k] = 0;
    snprintf(want, sizeof want, "%d", getpid());
    CHECK(strcmp(self, want) == 0, "/proc/self -> %s", self);
    DIR *d = opendir("/proc");
    CHECK(d, "opendir /proc");
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        found |= (strcmp(e->d_name, "self") == 0) | (strcmp(e->d_name, "meminfo") == 0) << 1 | (strcmp(e->d_name, want) == 0) << 2;
    closedir(d);
    CHECK(found == 7, "/proc listing lacks %s", !(found & 1) ? "self" : !(found & 2) ? "meminfo" : "our pid");
    struct stat st;
    int fd = open("/proc/self/status", O_RDONLY);
    CHECK(fd >= 0 && fstat(fd, &st) == 0, "fstat status");
    CHECK(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0444 && st.st_size == 0, "status: mode %o size %ld", st.st_mode, (long)st.st_size);
    char a[64], b[64];
    CHECK(read(fd, a, sizeof a) == sizeof a && lseek(fd, 0, SEEK_SET) == 0 && read(fd, b, sizeof b) == sizeof b && memcmp(a, b, sizeof a) == 0, "lseek back");
    close(fd);
    char *s = slurp("/proc/sys/kernel/pid_max", NULL);
    CHECK(atol(s) > getpid(), "pid_max %s", s);
    free(s);
    s = slurp("/proc/sys/vm/overcommit_memory", NULL);
    CHECK(s[0] >= '0' && s[0] <= '2' && s[1] == '\n', "overcommit_memory %s", s);
    free(s);
    double up = -1, idle = -1;
    s = slurp("/proc/uptime", NULL);
    CHECK(sscanf(s, "%lf %lf", &up, &idle) == 2 && up > 0 && idle >= 0, "uptime '%s'", s);
    free(s);
    double l1;
    int run, all, last;
    s = slurp("/proc/loadavg", NULL);
    CHECK(sscanf(s, "%lf %*f %*f %d/%d %d", &l1, &run, &all, &last) == 4 && run >= 1 && all >= run, "loadavg '%s'", s);
    free(s);
    s = slurp("/proc/mounts", NULL);
    CHECK(strstr(s, " /proc proc "), "mounts lacks /proc");
    free(s);
    s = slurp("/proc/stat", NULL);
    CHECK(strncmp(s, "cpu ", 4) == 0 && strstr(s, "\ncpu0 ") && strstr(s, "\nbtime "), "stat lacks cpu lines");
    free(s);
    printf("procfs: /proc/self is our pid; /proc lists it; files are S_IFREG 0444 size 0 and seek back; sys, uptime, loadavg, mounts parse\n");
}

static void check_dev(void)
{
    int z = open("/dev/zero", O_RDWR);
    CHECK(z >= 0, "open /dev/zero: errno %d", errno);
    char buf[8192];
    memset(buf, 0x5a, sizeof buf);
    CHECK(read(z, buf, sizeof buf) == sizeof buf, "read /dev/zero");
    for (size_t i = 0; i < sizeof buf; i++)
        CHECK(buf[i] == 0, "/dev/zero byte %zu is %d", i, buf[i]);
    char *pm = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, z, 0);
    CHECK(pm != MAP_FAILED && pm[0] == 0 && pm[PAGE + 7] == 0, "private mmap of /dev/zero");
    pm[5] = 9;
    volatile int *sm = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
    CHECK(sm != MAP_FAILED && sm[0] == 0, "shared mmap of /dev/zero: errno %d", errno);
    pid_t c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0) {
        sm[0] = 4242;
        pm[5] = 1; /* private: the parent keeps its 9 */
        _exit(0);
    }
    int status;
    CHECK(waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child");
    CHECK(sm[0] == 4242 && pm[5] == 9, "/dev/zero: shared %d private %d after the child wrote", sm[0], pm[5]);
    munmap(pm, 2 * PAGE);
    munmap((void *)sm, PAGE);
    close(z);

    int n = open("/dev/null", O_RDWR);
    CHECK(n >= 0, "open /dev/null");
    CHECK(write(n, buf, 1000) == 1000 && read(n, buf, 10) == 0, "/dev/null");
    struct stat st;
    CHECK(fstat(n, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3, "/dev/null is not char 1:3");
    close(n);
    int full = open("/dev/full", O_RDWR);
    CHECK(full >= 0, "open /dev/full: errno %d", errno);
    buf[0] = 1;
    CHECK(read(full, buf, 16) == 16 && buf[0] == 0, "/dev/full reads zeros");
    errno = 0;
    CHECK(write(full, buf, 1) == -1 && errno == ENOSPC, "write to /dev/full: errno %d, not ENOSPC", errno);
    CHECK(fstat(full, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 7, "/dev/full is not char 1:7");
    close(full);
    int u = open("/dev/urandom", O_RDONLY);
    CHECK(u >= 0, "open /dev/urandom");
    unsigned char r1[64], r2[64];
    CHECK(read(u, r1, sizeof r1) == sizeof r1 && read(u, r2, sizeof r2) == sizeof r2, "read /dev/urandom");
    int zeros = 0;
    for (size_t i = 0; i < sizeof r1; i++)
        zeros += r1[i] == 0;
    CHECK(zeros < 16 && memcmp(r1, r2, sizeof r1) != 0, "/dev/urandom bytes look constant");
    close(u);
    errno = 0;
    int t = open("/dev/tty", O_RDWR);
    CHECK(t < 0 && (errno == ENXIO || errno == ENOENT), "/dev/tty: fd %d errno %d", t, errno);
    printf("procfs: /dev: zero reads and maps (private, shared across fork); null; full (ENOSPC); urandom; tty absent\n");
}

static void check_shm(void)
{
    const char *name = "/procfs-shm-check";
    shm_unlink(name);
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    CHECK(fd >= 0, "shm_open: errno %d", errno);
    CHECK(ftruncate(fd, 2 * PAGE) == 0, "ftruncate shm");
    volatile long *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap shm: errno %d", errno);
    m[0] = 1;
    pid_t c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0) { /* through the inherited mapping */
        m[1] = 111;
        _exit(0);
    }
    int status;
    CHECK(waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0, "shm child 1");
    c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0) { /* a process of its own: opens and maps the object by name */
        munmap((void *)m, 2 * PAGE);
        close(fd);
        int f2 = shm_open(name, O_RDWR, 0);
        if (f2 < 0)
            _exit(2);
        volatile long *m2 = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f2, 0);
        if (m2 == MAP_FAILED)
            _exit(3);
        if (m2[0] != 1 || m2[1] != 111)
            _exit(4);
        m2[PAGE / sizeof(long)] = 222;
        _exit(0);
    }
    CHECK(waitpid(c, &status, 0) == c && WIFEXITED(status), "shm child 2");
    CHECK(WEXITSTATUS(status) == 0, "shm child 2 exit %d", WEXITSTATUS(status));
    CHECK(m[1] == 111 && m[PAGE / sizeof(long)] == 222, "shm: parent sees %ld %ld", m[1], m[PAGE / sizeof(long)]);
    munmap((void *)m, 2 * PAGE);
    close(fd);
    CHECK(shm_unlink(name) == 0, "shm_unlink: errno %d", errno);
    errno = 0;
    CHECK(shm_open(name, O_RDWR, 0) < 0 && errno == ENOENT, "shm_open after unlink: errno %d", errno);
    printf("procfs: shm: shm_open + MAP_SHARED seen across fork and by a second opener; unlinked it is gone\n");
}

/* Another process's entries: a child's status and maps (a mapping it made), then its zombie state. */
static void check_other(void)
{
    int to_parent[2], to_child[2];
    CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0, "pipe");
    pid_t c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0) {
        char *m = mmap(NULL, 3 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        uintptr_t a = (uintptr_t)m;
        if (write(to_parent[1], &a, sizeof a) != sizeof a)
            _exit(2);
        char x;
        if (read(to_child[0], &x, 1) != 1) /* until the parent looked */
            _exit(3);
        _exit(0);
    }
    uintptr_t a = 0;
    CHECK(read(to_parent[0], &a, sizeof a) == sizeof a, "child address");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", c);
    char *st = slurp(path, NULL);
    CHECK(field(st, "Pid") == c && field(st, "PPid") == getpid(), "child status: Pid %ld PPid %ld", field(st, "Pid"), field(st, "PPid"));
    free(st);
    if (!lenient) { /* qemu-user emulates only its own process's maps */
        snprintf(path, sizeof path, "/proc/%d/maps", c);
        char *maps = slurp(path, NULL);
        uintptr_t lo, hi;
        char perms[5], name[64];
        CHECK(maps_find(maps, a, &lo, &hi, perms, name, sizeof name) && lo <= a && hi >= a + 3 * PAGE && strcmp(perms, "r--p") == 0,
              "child maps: %lx not an r--p line", (unsigned long)a);
        free(maps);
    }
    CHECK(write(to_child[1], "x", 1) == 1, "release child");
    snprintf(path, sizeof path, "/proc/%d/stat", c);
    char state = 0;
    for (int tries = 0; tries < 500 && state != 'Z'; tries++) { /* bounded: 5 s */
        char *s = slurp(path, NULL);
        char *p = strrchr(s, ')');
        state = p ? p[2] : 0;
        free(s);
        if (state != 'Z')
            usleep(10000);
    }
    CHECK(state == 'Z', "child stat state %c, not Z, before it is reaped", state);
    int status;
    CHECK(waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exit");
    errno = 0;
    CHECK(open(path, O_RDONLY) < 0 && errno == ENOENT, "reaped child's stat: errno %d", errno);
    close(to_parent[0]), close(to_parent[1]), close(to_child[0]), close(to_child[1]);
    printf("procfs: another process: its status and maps are readable; a zombie shows Z, a reaped one is gone\n");
}

/* maps text well-formed: every line parses, ranges non-empty, ascending and disjoint. Returns the line count. */
static int maps_valid(const char *maps)
{
    unsigned long prev = 0;
    int lines = 0;
    for (const char *p = maps; *p; p = strchr(p, '\n') + 1) {
        unsigned long a, b, off;
        unsigned maj, min;
        char perms[5];
        CHECK(sscanf(p, "%lx-%lx %4s %lx %x:%x", &a, &b, perms, &off, &maj, &min) == 6, "race: bad maps line '%.60s'", p);
        CHECK(a < b && a >= prev && (perms[3] == 'p' || perms[3] == 's'), "race: maps line %lx-%lx after %lx", a, b, prev);
        prev = b;
        lines++;
        CHECK(strchr(p, '\n'), "race: unterminated maps");
    }
    return lines;
}

/*
 * `race ITER`: a child churns its address space (mmap, touch, mprotect a page, munmap, in two
 * threads) while the parent reads its maps, status, stat and cmdline again and again: every
 * snapshot must be well-formed, and the child's own check (the bytes it wrote) must hold.
 */
static void *churn(void *arg)
{
    long iters = (long)arg;
    for (long i = 0; i < iters; i++) {
        size_t len = (size_t)(1 + i % 7) * PAGE;
        unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return (void *)1;
        for (size_t k = 0; k < len; k += PAGE)
            m[k] = (unsigned char)(i + k / PAGE);
        if (len > PAGE && mprotect(m + PAGE, PAGE, PROT_READ) != 0)
            return (void *)2;
        for (size_t k = 0; k < len; k += PAGE)
            if (m[k] != (unsigned char)(i + k / PAGE))
                return (void *)3;
        munmap(m, len);
    }
    return NULL;
}

static int race(long iters)
{
    int go[2];
    CHECK(pipe(go) == 0, "pipe");
    pid_t c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, churn, (void *)iters) != 0)
            _exit(4);
        void *r1 = churn((void *)iters), *r2;
        pthread_join(t, &r2);
        _exit(r1 || r2 ? 5 : 0);
    }
    char path[64];
    long reads = 0;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(c, &status, WNOHANG);
        CHECK(w >= 0, "waitpid");
        if (w == c)
            break;
        const char *what[] = {"maps", "status", "stat", "cmdline"};
        for (int k = 0; k < 4; k++) {
            snprintf(path, sizeof path, "/proc/%d/%s", c, what[k]);
            int fd = open(path, O_RDONLY);
            if (fd < 0)
                continue; /* reaped meanwhile? only by us: then the loop ends */
            close(fd);
            size_t n;
            char *b = slurp(path, &n);
            if (k == 0)
                maps_valid(b);
            if (k == 1 && n > 0)
                CHECK(field(b, "Pid") == c, "race: status Pid %ld", field(b, "Pid"));
            if (k == 2 && n > 0)
                CHECK(strtol(b, NULL, 10) == c && strrchr(b, ')'), "race: stat '%.40s'", b);
            free(b);
        }
        reads++;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "race: churning child status %#x", status);
    CHECK(reads > 0, "race: no snapshot taken");
    fprintf(stderr, "procfs: race: %ld rounds of snapshots\n", reads);
    printf("procfs: race: snapshots of a churning process's maps, status, stat and cmdline all well-formed\n");
    printf("procfs: OK\n");
    return 0;
}

/* `cat PATH...`: each file's bytes (a directory: its names, one a line), after a "==> PATH" line. */
static int cat(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        printf("==> %s\n", argv[i]);
        DIR *d = opendir(argv[i]);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)))
                printf("%s %d\n", e->d_name, e->d_type);
            closedir(d);
            continue;
        }
        size_t n;
        char *b = slurp(argv[i], &n);
        fwrite(b, 1, n, stdout);
        free(b);
    }
    return 0;
}

/* `errnos`: what each refused operation on /proc and /dev answers, one "what: errno" line each. */
static int errnos(void)
{
    char buf[64];
    struct { const char *what; int r; } t[16];
    int n = 0;
#define TRY(w, call) do { errno = 0; long r_ = (long)(call); t[n].what = w; t[n].r = r_ < 0 ? errno : 0; n++; } while (0)
    TRY("open-write /proc/self/status", open("/proc/self/status", O_WRONLY));
    TRY("open-creat-excl /proc/meminfo", open("/proc/meminfo", O_CREAT | O_EXCL | O_RDONLY, 0600));
    TRY("open-write /proc", open("/proc", O_RDWR));
    TRY("open-directory /proc/meminfo", open("/proc/meminfo", O_RDONLY | O_DIRECTORY));
    TRY("open /proc/999999/stat", open("/proc/999999/stat", O_RDONLY));
    TRY("open /proc/self/nothing", open("/proc/self/nothing", O_RDONLY));
    TRY("open /dev/tty", open("/dev/tty", O_RDWR));
    TRY("mkdir /proc/x", mkdir("/proc/x", 0755));
    TRY("mkdir /proc/self", mkdir("/proc/self", 0755));
    TRY("unlink /proc/self/maps", unlink("/proc/self/maps"));
    TRY("readlink /proc/self/maps", readlink("/proc/self/maps", buf, sizeof buf));
    int fd = open("/proc/self/stat", O_RDONLY);
    TRY("lseek-end /proc/self/stat", lseek(fd, 0, SEEK_END));
    TRY("mmap /proc/self/stat", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED ? -1 : 0);
    TRY("write /proc/self/stat", write(fd, "x", 1));
    close(fd);
    fd = open("/dev/null", O_RDONLY);
    TRY("mmap /dev/null", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED ? -1 : 0);
    close(fd);
    TRY("access-write /proc/self/status", access("/proc/self/status", W_OK));
    for (int i = 0; i < n; i++)
        printf("%s: %d\n", t[i].what, t[i].r);
    return 0;
}

int main(int argc, char **argv)
{
    guest_start("procfs");
    if (argc > 1 && strcmp(argv[1], "cat") == 0)
        return cat(argc, argv);
    if (argc > 1 && strcmp(argv[1], "errnos") == 0)
        return errnos();
    if (argc > 1 && strcmp(argv[1], "race") == 0)
        return race(arg_long(argc, argv, 2, 2000));
    if (argc > 1 && strcmp(argv[1], "urandom") == 0) { /* `urandom`: 32 bytes of /dev/urandom and of /dev/random, in hex */
        for (int k = 0; k < 2; k++) {
            unsigned char b[32];
            int fd = open(k ? "/dev/random" : "/dev/urandom", O_RDONLY);
            CHECK(fd >= 0 && read(fd, b, sizeof b) == sizeof b, "read %s", k ? "/dev/random" : "/dev/urandom");
            close(fd);
            for (size_t i = 0; i < sizeof b; i++)
                printf("%02x", b[i]);
            printf("\n");
        }
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "exec") == 0) { /* `exec MODE...`: run ourselves again through /proc/self/exe */
        argv[1] = argv[0];
        execv("/proc/self/exe", argv + 1);
        fail("execv /proc/self/exe: errno %d", errno);
    }
    lenient = argc > 1 && strcmp(argv[1], "--qemu-lenient") == 0;
    check_maps();
    check_stat();
    check_status();
    check_other();
    check_cmdline(argc, argv);
    check_fds();
    check_machine();
    check_dev();
    check_shm();
    ok();
}
