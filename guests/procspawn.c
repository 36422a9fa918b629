/*
 * procspawn — what fork, vfork, exec and posix_spawn hand to the new program, as Linux does:
 *   fork       the child has the parent's handlers, ignored signals and blocked mask, and
 *              nothing of its pending signals;
 *   vfork      the parent sleeps until the child exits (the child's store to the shared memory
 *              is seen at once, although the child slept first), and gets the child's status;
 *              a signal the child sends it meanwhile (a handler without SA_RESTART) does not cut
 *              the wait short: vfork still returns the child's pid, then the handler runs;
 *   spawn      posix_spawn of a missing file reports ENOENT (glibc's vfork child tells the
 *              parent through the shared memory);
 *   attrs      prctl (PR_SET_NAME/GET_NAME, PR_GET_DUMPABLE, PR_SET_DUMPABLE), personality,
 *              getresuid/getresgid, setresuid(-1, -1, -1), capget (version probe, EINVAL and
 *              the version written back for an unknown one, CAP_KILL for root).
 * With "exec=PATH" (PATH = this program in the guest's file system) also:
 *   exec       execve resets handlers to SIG_DFL but keeps ignored signals and the blocked
 *              mask; the parent's setpgid on a child that has exec'd is EACCES;
 *   vfork+exec the parent resumes when the child execs; posix_spawn runs PATH with
 *              POSIX_SPAWN_SETPGROUP, SETSIGMASK and SETSIGDEF applied.
 * Internal modes (argv[1]): "exec-check", "vfork-exec", "spawned" — the exec'd images.
 * "--qemu-vfork-is-fork": qemu-user runs vfork as fork (no shared memory, no suspension), so
 * the vfork store and posix_spawn's ENOENT become notes.
 * Expected final line: "procspawn: OK".
 */
#include "guest.h"
#include <spawn.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <time.h>

extern char **environ;
static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1++; }
static int qemu_vfork;

#define REPORT_FD 10 /* an exec'd image writes its verdict here */
#define GATE_FD 11   /* and waits for a byte here before it exits */

static void (*handler_of(int sig))(int)
{
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0)
        return SIG_ERR;
    return sa.sa_handler;
}

static int blocked(int sig)
{
    sigset_t m;
    sigprocmask(SIG_BLOCK, NULL, &m);
    return sigismember(&m, sig);
}

/* The parent's signal state for the fork and exec checks. */
static void set_up_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaddset(&sa.sa_mask, SIGINT);
    sa.sa_flags = SA_RESTART;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
    CHECK(signal(SIGUSR2, SIG_IGN) != SIG_ERR, "signal(SIG_IGN)");
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGTERM);
    sigaddset(&m, SIGHUP);
    CHECK(sigprocmask(SIG_BLOCK, &m, NULL) == 0, "sigprocmask");
}

/* The fork child's checks: 0 or the first failure's code. */
static int forked_child(void)
{
    struct sigaction sa;
    if (sigaction(SIGUSR1, NULL, &sa) != 0 || sa.sa_handler != on_usr1)
        return 2; /* handler not inherited */
    if (!(sa.sa_flags & SA_RESTART) || !sigismember(&sa.sa_mask, SIGINT))
        return 3; /* flags or sa_mask not inherited */
    if (handler_of(SIGUSR2) != SIG_IGN)
        return 4;
    if (!blocked(SIGTERM) || !blocked(SIGHUP) || blocked(SIGUSR1))
        return 5;
    sigset_t p;
    sigpending(&p);
    if (sigismember(&p, SIGHUP))
        return 6; /* the parent's pending signal came along */
    got_usr1 = 0;
    raise(SIGUSR1);
    if (got_usr1 != 1)
        return 7;
    raise(SIGUSR2); /* ignored: must not end us */
    kill(getpid(), SIGTERM); /* blocked: stays pending */
    sigpending(&p);
    if (!sigismember(&p, SIGTERM))
        return 8;
    return 0;
}

static void check_fork(void)
{
    set_up_signals();
    raise(SIGHUP); /* pending (blocked) in the parent only */
    pid_t c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0)
        _exit(forked_child());
    int st = reap(c);
    CHECK(!WIFSIGNALED(st), "the fork child was killed by signal %d (its handlers or mask were not inherited)", WTERMSIG(st));
    expect_exit(st, 0, "fork child");
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    int sig = 0;
    CHECK(sigwait(&hup, &sig) == 0 && sig == SIGHUP, "the parent's own SIGHUP");
    printf("procspawn: fork: handler, sa_flags, sa_mask, SIG_IGN and the blocked mask inherited; pending signals not\n");
}

static void check_vfork(void)
{
    volatile int shared = 0;
    pid_t me = getpid();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART: only a fatal signal may cut a vfork wait short */
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
    got_usr1 = 0;
    pid_t c = vfork();
    CHECK(c >= 0, "vfork errno %d", errno);
    if (c == 0) {
        kill(me, SIGUSR1); /* the parent is asleep in vfork: the handler waits until it returns */
        sleep_ms(20); /* the parent must not run meanwhile */
        shared = getppid() == me ? 1 : 2;
        _exit(7);
    }
    int seen = shared;
    expect_exit(reap(c), 7, "vfork child");
    CHECK(got_usr1 == 1, "the signal sent during vfork ran its handler %d times", (int)got_usr1);
    if (qemu_vfork && seen == 0)
        printf("procspawn: note: vfork ran as fork, no shared store seen (qemu-user behaviour, lenient)\n");
    else
        CHECK(seen == 1, "after vfork the parent saw %d, expected the child's store 1", seen);
    char *argv[] = {"missing", NULL};
    pid_t p;
    int r = posix_spawn(&p, "/nonexistent/procspawn-missing", NULL, NULL, argv, environ);
    if (qemu_vfork && r == 0) {
        expect_exit(reap(p), 127, "posix_spawn of a missing file under qemu");
        printf("procspawn: note: posix_spawn of a missing file succeeded, child exit 127 (qemu-user behaviour, lenient)\n");
    } else {
        CHECK(r == ENOENT, "posix_spawn of a missing file = %d, expected ENOENT", r);
    }
    if (!qemu_vfork)
        printf("procspawn: vfork: parent suspended until the child exited; posix_spawn of a missing file ENOENT\n");
}

static void check_attrs(void)
{
    char name[16];
    CHECK(prctl(PR_SET_NAME, "a-very-long-thread-name", 0, 0, 0) == 0, "PR_SET_NAME");
    CHECK(prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && strcmp(name, "a-very-long-thr") == 0, "PR_GET_NAME '%s'", name);
    CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1, "PR_GET_DUMPABLE");
    CHECK(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "PR_SET_DUMPABLE 0");
    CHECK(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1, "PR_SET_DUMPABLE 1");
    CHECK(prctl(PR_SET_DUMPABLE, 7, 0, 0, 0) == -1 && errno == EINVAL, "PR_SET_DUMPABLE 7");
    CHECK(prctl(0x7fff, 0, 0, 0, 0) == -1 && errno == EINVAL, "an unknown prctl");
    CHECK(personality(0xffffffff) == PER_LINUX, "personality");
    CHECK(personality(PER_LINUX | ADDR_NO_RANDOMIZE) == PER_LINUX, "personality set");
    CHECK(personality(0xffffffff) == (PER_LINUX | ADDR_NO_RANDOMIZE), "personality kept");
    CHECK(personality(PER_LINUX) == (PER_LINUX | ADDR_NO_RANDOMIZE), "personality reset");
    uid_t r, e, s;
    gid_t gr, ge, gs;
    CHECK(getresuid(&r, &e, &s) == 0 && r == getuid() && e == geteuid() && s == e, "getresuid");
    CHECK(getresgid(&gr, &ge, &gs) == 0 && gr == getgid() && ge == getegid() && gs == ge, "getresgid");
    CHECK(setresuid(-1, -1, -1) == 0 && setresgid(-1, -1, -1) == 0, "setres[ug]id(-1, -1, -1)");
    struct __user_cap_header_struct h = {0, 0};
    struct __user_cap_data_struct d[2];
    CHECK(syscall(SYS_capget, &h, d) == -1 && errno == EINVAL && h.version == _LINUX_CAPABILITY_VERSION_3, "capget probe");
    h.pid = 0;
    CHECK(syscall(SYS_capget, &h, d) == 0, "capget errno %d", errno);
    if (geteuid() == 0)
        CHECK((d[0].effective & (1u << CAP_KILL)) && (d[0].permitted & (1u << CAP_KILL)), "root without CAP_KILL");
    printf("procspawn: attrs: prctl name/dumpable, personality, getres[ug]id, capget as Linux answers them\n");
}

/* Pipes for an exec'd image: its verdict comes on report[0], a byte on gate[1] lets it exit. */
struct link { int report[2], gate[2]; };
static void link_open(struct link *l) { CHECK(pipe(l->report) == 0 && pipe(l->gate) == 0, "pipe"); }
/* In the child before exec: the ends it uses at REPORT_FD / GATE_FD. */
static void link_child(struct link *l)
{
    if (dup2(l->report[1], REPORT_FD) < 0 || dup2(l->gate[0], GATE_FD) < 0)
        _exit(99);
}
static int link_verdict(struct link *l)
{
    unsigned char v = 0xff;
    CHECK(read(l->report[0], &v, 1) == 1, "no verdict from the exec'd image");
    return v;
}
static void link_release(struct link *l)
{
    CHECK(write(l->gate[1], "g", 1) == 1, "gate");
    for (int i = 0; i < 2; i++) {
        close(l->report[i]);
        close(l->gate[i]);
    }
}

/* An exec'd image: write `verdict` to REPORT_FD, wait at GATE_FD, exit with it. */
static int image_done(int verdict)
{
    unsigned char v = (unsigned char)verdict;
    char g;
    if (write(REPORT_FD, &v, 1) != 1 || read(GATE_FD, &g, 1) != 1)
        return 98;
    return verdict;
}

static int exec_check(void)
{
    if (handler_of(SIGUSR1) != SIG_DFL)
        return image_done(2); /* a caught signal must be reset */
    if (handler_of(SIGUSR2) != SIG_IGN)
        return image_done(3); /* an ignored one stays ignored */
    if (!blocked(SIGTERM) || !blocked(SIGHUP))
        return image_done(4); /* the mask survives */
    return image_done(0);
}

static int spawned(void)
{
    if (getpgrp() != getpid())
        return image_done(2); /* POSIX_SPAWN_SETPGROUP 0: its own group */
    if (!blocked(SIGUSR2) || blocked(SIGTERM))
        return image_done(3); /* POSIX_SPAWN_SETSIGMASK */
    if (handler_of(SIGUSR2) != SIG_DFL)
        return image_done(4); /* POSIX_SPAWN_SETSIGDEF */
    return image_done(0);
}

static void check_exec(const char *path)
{
    struct link l;
    link_open(&l);
    pid_t c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0) {
        link_child(&l);
        char *argv[] = {(char *)path, "exec-check", NULL};
        execv(path, argv);
        _exit(97);
    }
    int v = link_verdict(&l);
    CHECK(v == 0, "exec-check verdict %d", v);
    CHECK(setpgid(c, c) == -1 && errno == EACCES, "setpgid after the child's exec: errno %d", errno);
    link_release(&l);
    expect_exit(reap(c), 0, "exec-check");
    printf("procspawn: exec: handlers reset to SIG_DFL, SIG_IGN and the blocked mask kept; setpgid then EACCES\n");

    volatile int before = 1;
    c = vfork();
    CHECK(c >= 0, "vfork");
    if (c == 0) {
        char *argv[] = {(char *)path, "vfork-exec", NULL};
        execv(path, argv);
        _exit(97);
    }
    CHECK(before == 1, "the parent's stack after vfork+exec");
    expect_exit(reap(c), 5, "vfork-exec");
    printf("procspawn: vfork+exec: the parent resumed after the child's exec\n");

    link_open(&l);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, l.report[1], REPORT_FD);
    posix_spawn_file_actions_adddup2(&fa, l.gate[0], GATE_FD);
    posix_spawnattr_init(&at);
    sigset_t m, def;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    sigemptyset(&def);
    sigaddset(&def, SIGUSR2);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &m);
    posix_spawnattr_setsigdefault(&at, &def);
    char *argv[] = {(char *)path, "spawned", NULL};
    pid_t p;
    int r = posix_spawn(&p, path, &fa, &at, argv, environ);
    CHECK(r == 0, "posix_spawn(%s) = %d", path, r);
    v = link_verdict(&l);
    CHECK(v == 0, "spawned verdict %d", v);
    CHECK(getpgid(p) == p, "the spawned program's group");
    link_release(&l);
    expect_exit(reap(p), 0, "spawned");
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    printf("procspawn: posix_spawn: ran with its own group, the given mask and SIG_DFL\n");
}

int main(int argc, char **argv)
{
    guest_start("procspawn");
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "exec-check") == 0)
        return exec_check();
    if (strcmp(mode, "spawned") == 0)
        return spawned();
    if (strcmp(mode, "vfork-exec") == 0)
        return 5;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--qemu-vfork-is-fork") == 0)
            qemu_vfork = 1;
        else if (strncmp(argv[i], "exec=", 5) == 0)
            path = argv[i] + 5;
        else
            fail("unknown argument %s", argv[i]);
    }
    check_fork();
    check_vfork();
    check_attrs();
    if (path)
        check_exec(path);
    printf("procspawn: OK\n");
    return 0;
}
