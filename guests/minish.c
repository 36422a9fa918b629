/*
 * minish — a tiny job-control shell, the kind of program stress-test harnesses are built from
 * (issue 14's bundled "real-world-style" guest). It exercises the Linux process model together:
 * pipelines whose members share one process group, background jobs in groups of their own,
 * `wait` and `$?`, `kill -SIG %N` reaching a whole group (kill(-pgid)), `timeout S cmd` built on
 * alarm(2) and SIGALRM interrupting waitpid (EINTR) and then killing the job's group, `status`
 * reading /proc/self/status and checking it against getpid/getppid and the thread count, and
 * external commands started with posix_spawn (POSIX_SPAWN_SETPGROUP, file actions for the
 * pipe ends).
 *
 *   minish -c SCRIPT    run SCRIPT (lines or ';'-separated), exit with the last status; no job
 *                       control, as a non-interactive sh: commands stay in the shell's group
 *   minish -m -c SCRIPT the same with job control (set -m): each pipeline in a group of its own
 *   minish selftest     (job control on) run built-in scripts with their output captured and checked; prints
 *                       one line per case and "minish: OK" (the bundled run; no externals,
 *                       so it also runs under qemu-riscv64 without binfmt)
 *
 * Syntax: `cmd args | cmd args ... [&]`, words split on blanks, 'single quotes' keep blanks,
 * `$?` expands to the last status. Builtins: cd, exit N, wait, kill -N %J, timeout S PIPELINE,
 * status. Applets (run in a forked child, busybox's NOEXEC style): echo, cat, wc -l, yes,
 * seq N, head -n N, sleep S, true, false, spin. A word holding '/' is an external program,
 * started with posix_spawn.
 */
#include "guest.h"
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

#define MAXW 32
#define MAXCMD 8
#define MAXJOBS 8

static int last_status;
/* A started pipeline: its process group (job control) and its members, the last one's status
 * being the pipeline's. */
struct job { pid_t pgid; pid_t pids[MAXCMD]; int n; int last_failed; };
static struct job jobs[MAXJOBS]; /* background jobs (pgid 0: free) */
static int jobctl;               /* job control (set -m): each pipeline in a group of its own */
static volatile sig_atomic_t alarmed;

static void on_alarm(int sig) { (void)sig; alarmed = 1; }

/* ---- applets: run in a child, argv[0] is the applet's name ---- */

static int applet(char **av)
{
    const char *n = av[0];
    char buf[4096];
    ssize_t k;
    if (strcmp(n, "echo") == 0) {
        for (int i = 1; av[i]; i++) printf(i > 1 ? " %s" : "%s", av[i]);
        printf("\n");
        return 0;
    }
    if (strcmp(n, "cat") == 0) {
        while ((k = read(0, buf, sizeof buf)) > 0)
            if (write(1, buf, (size_t)k) != k) return 1;
        return k < 0;
    }
    if (strcmp(n, "wc") == 0) { /* wc -l */
        long lines = 0;
        while ((k = read(0, buf, sizeof buf)) > 0)
            for (ssize_t i = 0; i < k; i++) lines += buf[i] == '\n';
        printf("%ld\n", lines);
        return 0;
    }
    if (strcmp(n, "yes") == 0) {
        for (;;) if (write(1, "y\n", 2) != 2) return 1; /* SIGPIPE ends it first */
    }
    if (strcmp(n, "seq") == 0) {
        long m = av[1] ? atol(av[1]) : 0;
        for (long i = 1; i <= m; i++) printf("%ld\n", i);
        return 0;
    }
    if (strcmp(n, "head") == 0) { /* head -n N: reads byte by byte so it stops at line N */
        long m = av[1] && av[2] ? atol(av[2]) : 10;
        char c;
        while (m > 0 && read(0, &c, 1) == 1) {
            if (write(1, &c, 1) != 1) return 1;
            if (c == '\n') m--;
        }
        return 0;
    }
    if (strcmp(n, "sleep") == 0) {
        struct timespec t = {av[1] ? atol(av[1]) : 1, 0};
        while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
        return 0;
    }
    if (strcmp(n, "true") == 0) return 0;
    if (strcmp(n, "false") == 0) return 1;
    if (strcmp(n, "spin") == 0) for (volatile unsigned long i = 0;; i++) {}
    fprintf(stderr, "minish: %s: not found\n", n);
    return 127;
}

/* ---- parsing ---- */

struct cmd { char *argv[MAXW]; };
struct pipeline { struct cmd c[MAXCMD]; int n; int bg; };

/* Split `line` (modified in place) into a pipeline; returns 0 for an empty line, -1 on a syntax error. */
static int parse(char *line, struct pipeline *p)
{
    static char status_word[16];
    memset(p, 0, sizeof *p);
    int w = 0;
    for (char *s = line; *s;) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        if (*s == '|') { if (w == 0) return -1; p->c[p->n++].argv[w] = NULL; w = 0; s++; if (p->n == MAXCMD) return -1; continue; }
        if (*s == '&') { p->bg = 1; s++; continue; }
        char *start = s;
        if (*s == '\'') {
            start = ++s;
            while (*s && *s != '\'') s++;
            if (!*s) return -1;
        } else {
            while (*s && *s != ' ' && *s != '\t' && *s != '|' && *s != '&') s++;
        }
        char end = *s;
        *s = 0;
        if (strcmp(start, "$?") == 0) {
            snprintf(status_word, sizeof status_word, "%d", last_status);
            start = status_word;
        }
        if (w == MAXW - 1) return -1;
        p->c[p->n].argv[w++] = start;
        if (end) s += (end == '\'' || end == ' ' || end == '\t') ? 1 : 0;
    }
    if (w == 0) return p->n == 0 && !p->bg ? 0 : -1;
    p->c[p->n++].argv[w] = NULL;
    return 1;
}

/* ---- running ---- */

static int decode(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

/* Start every member of `p` into `j`: with job control in one new process group (the
 * leader's pid), else in the shell's own group, as a non-interactive sh does. Returns the
 * number of members started. */
static int launch(struct pipeline *p, struct job *j)
{
    pid_t pgid = jobctl ? 0 : getpgrp();
    j->n = 0;
    j->last_failed = 0;
    int in = -1;
    for (int i = 0; i < p->n; i++) {
        int fds[2] = {-1, -1};
        if (i + 1 < p->n) CHECK(pipe2(fds, O_CLOEXEC) == 0, "pipe2 errno %d", errno);
        char **av = p->c[i].argv;
        pid_t c;
        if (strchr(av[0], '/')) {
            posix_spawn_file_actions_t fa;
            posix_spawnattr_t at;
            posix_spawn_file_actions_init(&fa);
            posix_spawnattr_init(&at);
            if (in >= 0) posix_spawn_file_actions_adddup2(&fa, in, 0);
            if (fds[1] >= 0) posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
            if (jobctl) {
                posix_spawnattr_setpgroup(&at, pgid);
                posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
            }
            int e = posix_spawn(&c, av[0], &fa, &at, av, environ);
            posix_spawn_file_actions_destroy(&fa);
            posix_spawnattr_destroy(&at);
            if (e != 0) { fprintf(stderr, "minish: %s: %s\n", av[0], strerror(e)); c = -1; }
        } else {
            c = fork();
            CHECK(c >= 0, "fork errno %d", errno);
            if (c == 0) {
                if (jobctl) setpgid(0, pgid);
                signal(SIGINT, SIG_DFL);
                signal(SIGPIPE, SIG_DFL);
                if (in >= 0) { dup2(in, 0); close(in); }
                if (fds[1] >= 0) { dup2(fds[1], 1); close(fds[1]); }
                if (fds[0] >= 0) close(fds[0]); /* else this member holds its own reader: no SIGPIPE */
                fflush(stdout);
                int r = applet(av);
                fflush(stdout);
                _exit(r);
            }
        }
        if (i + 1 == p->n) j->last_failed = c <= 0;
        if (c > 0) {
            if (pgid == 0) pgid = c;
            if (jobctl) setpgid(c, pgid); /* both sides, as a shell does: no race with the child's exec */
            j->pids[j->n++] = c;
        }
        if (in >= 0) close(in);
        if (fds[1] >= 0) close(fds[1]);
        in = fds[0];
    }
    if (in >= 0) close(in);
    j->pgid = pgid;
    return j->n;
}

/* Signal every process of job `j`: its whole group under job control, else each member. */
static void signal_job(const struct job *j, int sig)
{
    if (jobctl) kill(-j->pgid, sig);
    else for (int i = 0; i < j->n; i++) kill(j->pids[i], sig);
}

/* Wait for job `j`: under job control every process of its group (waitpid(-pgid) until
 * ECHILD), else each member. The last member's status is the pipeline's. With `limit` > 0, an
 * alarm after `limit` seconds sends the job SIGTERM (timeout's status: 124). */
static int wait_job(const struct job *j, int limit)
{
    int status = 0, timed_out = 0;
    if (limit > 0) { alarmed = 0; alarm((unsigned)limit); }
    for (int i = 0; jobctl || i < j->n;) {
        int st;
        pid_t r = waitpid(jobctl ? -j->pgid : j->pids[i], &st, 0);
        if (r < 0 && errno == EINTR) {
            if (alarmed && !timed_out) { timed_out = 1; signal_job(j, SIGTERM); }
            continue;
        }
        if (r < 0 && jobctl) break; /* ECHILD: the whole group is reaped */
        if (r == j->pids[j->n - 1]) status = decode(st);
        i++;
    }
    if (limit > 0) alarm(0);
    return timed_out ? 124 : status;
}

/* The `status` builtin: /proc/self/status parsed back and checked against the process. */
static int status_builtin(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) { fprintf(stderr, "minish: status: %s\n", strerror(errno)); return 1; }
    char line[256];
    long pid = -1, ppid = -1, tgid = -1, threads = -1, rss = -1;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "Pid: %ld", &pid);
        sscanf(line, "PPid: %ld", &ppid);
        sscanf(line, "Tgid: %ld", &tgid);
        sscanf(line, "Threads: %ld", &threads);
        sscanf(line, "VmRSS: %ld", &rss);
    }
    fclose(f);
    int good = pid == getpid() && tgid == pid && ppid == getppid() && threads >= 1 && rss > 0; /* qemu-user adds its own threads */
    printf("status: pid, tgid, ppid, threads and rss %s\n", good ? "match" : "DISAGREE");
    return good ? 0 : 1;
}

/* Run one line; returns its status (also in last_status). */
static int run_line(char *line)
{
    struct pipeline p;
    int r = parse(line, &p);
    if (r == 0) return last_status;
    if (r < 0) { fprintf(stderr, "minish: syntax error\n"); return last_status = 2; }
    char **av = p.c[0].argv;
    if (p.n == 1 && !p.bg) {
        if (strcmp(av[0], "exit") == 0) { fflush(stdout); exit(av[1] ? atoi(av[1]) : last_status); }
        if (strcmp(av[0], "cd") == 0) return last_status = chdir(av[1] ? av[1] : "/") == 0 ? 0 : 1;
        if (strcmp(av[0], "status") == 0) return last_status = status_builtin();
        if (strcmp(av[0], "wait") == 0) {
            int s = 0;
            for (int j = 0; j < MAXJOBS; j++)
                if (jobs[j].pgid) { s = wait_job(&jobs[j], 0); printf("[%d] done %d\n", j + 1, s); jobs[j].pgid = 0; }
            return last_status = s;
        }
        if (strcmp(av[0], "kill") == 0 && av[1] && av[2] && av[1][0] == '-' && av[2][0] == '%') {
            int j = atoi(av[2] + 1) - 1;
            if (j < 0 || j >= MAXJOBS || !jobs[j].pgid) { fprintf(stderr, "minish: kill: no such job\n"); return last_status = 1; }
            signal_job(&jobs[j], atoi(av[1] + 1));
            return last_status = 0;
        }
    }
    int limit = 0;
    if (strcmp(av[0], "timeout") == 0 && av[1] && av[2]) { /* timeout S cmd...: shift the first member */
        limit = atoi(av[1]);
        memmove(av, av + 2, (MAXW - 2) * sizeof *av);
    }
    fflush(stdout);
    struct job job;
    launch(&p, &job);
    if (job.last_failed) { /* the last member could not start: 127, the others run to their end */
        if (job.n > 0) wait_job(&job, 0);
        return last_status = 127;
    }
    if (p.bg) {
        for (int j = 0; j < MAXJOBS; j++)
            if (!jobs[j].pgid) { jobs[j] = job; printf("[%d] started\n", j + 1); return last_status = 0; }
        signal_job(&job, SIGKILL);
        wait_job(&job, 0);
        fprintf(stderr, "minish: too many jobs\n");
        return last_status = 1;
    }
    return last_status = wait_job(&job, limit);
}

/* Run a whole script: lines or ';'-separated commands. */
static int run_script(const char *script)
{
    char *copy = strdup(script);
    CHECK(copy != NULL, "strdup");
    for (char *save = NULL, *line = strtok_r(copy, ";\n", &save); line; line = strtok_r(NULL, ";\n", &save))
        run_line(line);
    free(copy);
    return last_status;
}

static void shell_setup(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm; /* no SA_RESTART: SIGALRM interrupts waitpid */
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* ---- the self test ---- */

struct tcase { const char *name, *script, *out; int status; };

static const struct tcase CASES[] = {
    {"echo and $?", "echo hello world; false; echo $?; true; echo $?", "hello world\n1\n0\n", 0},
    {"pipeline", "seq 100 | cat | wc -l", "100\n", 0},
    {"pipeline status", "seq 3 | false", "", 1},
    {"SIGPIPE ends yes", "yes | head -n 3", "y\ny\ny\n", 0},
    {"background and wait", "true & ; seq 3 | false & ; wait", "[1] started\n[2] started\n[1] done 0\n[2] done 1\n", 1},
    {"kill a job's group", "spin | spin & ; kill -15 %1 ; wait", "[1] started\n[1] done 143\n", 143},
    {"timeout kills the group", "timeout 1 spin | spin; echo $?", "124\n", 0},
    {"timeout not reached", "timeout 5 seq 2", "1\n2\n", 0},
    {"status from /proc", "status", "status: pid, tgid, ppid, threads and rss match\n", 0},
    {"exit code", "echo bye; exit 7; echo never", "bye\n", 7},
};

static void selftest(void)
{
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        const struct tcase *t = &CASES[i];
        int fds[2];
        CHECK(pipe(fds) == 0, "pipe errno %d", errno);
        pid_t c = fork();
        CHECK(c >= 0, "fork errno %d", errno);
        if (c == 0) {
            close(fds[0]);
            dup2(fds[1], 1);
            close(fds[1]);
            setvbuf(stdout, NULL, _IOLBF, 0);
            shell_setup();
            int s = run_script(t->script);
            fflush(stdout);
            _exit(s);
        }
        close(fds[1]);
        char out[4096];
        size_t n = 0;
        ssize_t k;
        while ((k = read(fds[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)k;
        out[n] = 0;
        close(fds[0]);
        int st;
        CHECK(waitpid(c, &st, 0) == c, "waitpid errno %d", errno);
        CHECK(strcmp(out, t->out) == 0, "%s: output '%s', expected '%s'", t->name, out, t->out);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == t->status, "%s: status 0x%x, expected exit %d", t->name, st, t->status);
        printf("minish: %s: ok\n", t->name);
    }
}

int main(int argc, char **argv)
{
    guest_start("minish");
    if (argc == 2 && strcmp(argv[1], "selftest") == 0) {
        jobctl = 1;
        selftest();
        ok();
    }
    int a = 1;
    if (argc > a && strcmp(argv[a], "-m") == 0) { jobctl = 1; a++; }
    if (argc == a + 2 && strcmp(argv[a], "-c") == 0) {
        shell_setup();
        int s = run_script(argv[a + 1]);
        fflush(stdout);
        return s;
    }
    fail("usage: minish [-m] -c SCRIPT | minish selftest");
}
