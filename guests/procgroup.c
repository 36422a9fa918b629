/*
 * procgroup — the Linux process model: process groups, sessions, kill and wait semantics,
 * orphans. Every check compares with what Linux does; children report through exit codes and
 * pipes, and only the first process prints, so the output is deterministic.
 *   ids        getpid/getppid/getpgrp/getpgid/getsid agree with each other;
 *   group      three children join a new group (setpgid from both sides, as a shell does);
 *              kill(-pgid, SIGTERM) ends all three and nobody else;
 *   kill(0)    a child leading its own group signals "its group": itself and its two children;
 *   wait4(0)   waitpid(0) and waitpid(-pgid) reap only children of that group, ECHILD when
 *              none matches even though another child exists;
 *   setsid     a new session: sid = pgid = pid; a second setsid, setpgid on a session leader,
 *              setsid by a group leader and setpgid across sessions are EPERM;
 *   waitid     WNOWAIT leaves the zombie, siginfo as Linux fills it (CLD_EXITED/CLD_KILLED),
 *              WNOHANG on a live child returns 0 with zeroed info, EINVAL without WEXITED;
 *   autoreap   with SIGCHLD ignored or SA_NOCLDWAIT children leave no zombie: wait blocks
 *              until the last one ends, then ECHILD; children that died ignored send no SIGCHLD
 *              to a handler installed after; the SA_NOCLDWAIT handler still runs, once;
 *   errnos     waitpid on a non-child (the parent, init) ECHILD; kill, getpgid, getsid of a
 *              reaped pid ESRCH; setpgid of a non-child ESRCH, to a missing group EPERM,
 *              negative EINVAL;
 *   subreaper  with PR_SET_CHILD_SUBREAPER, a grandchild whose parent exits is re-parented to
 *              us, gets its PR_SET_PDEATHSIG signal, and we reap it (and a zombie grandchild);
 * Args: none; "orphan-to-init": only the orphan check, without a subreaper, printing the
 * orphan's new parent ("procgroup: orphan's parent is now pid N"; N = 1 on Coherent);
 * "print-ids": only print pid, ppid, pgid and sid (environment-dependent);
 * "--qemu-subreaper-lenient": qemu-user 7.2 answers PR_SET_CHILD_SUBREAPER with EINVAL, which
 * becomes a note, and the orphans are checked without it; and getsid may be 0 (a session
 * leader outside the host container's pid namespace); and SA_NOCLDWAIT may leave a zombie
 * (qemu-user does not pass the flag to the host kernel): a note.
 * Expected final line: "procgroup: OK".
 */
#include "guest.h"
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1++; }

static void wait_byte(int fd)
{
    char c;
    CHECK(read(fd, &c, 1) == 1, "pipe read");
}

/* A child that joins process group `pgid` (0: a new one it leads), says so on `ready`, and sleeps until killed. */
static pid_t pauser(pid_t pgid, int ready[2])
{
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        if (setpgid(0, pgid) != 0)
            _exit(90);
        if (write(ready[1], "r", 1) != 1)
            _exit(91);
        sigset_t none;
        sigemptyset(&none);
        for (;;)
            sigsuspend(&none); /* (pause() is ppoll on riscv64, which the kernel may lack) */
    }
    CHECK(setpgid(pid, pgid ? pgid : pid) == 0, "parent setpgid(%d) errno %d", (int)pid, errno);
    return pid;
}

static void check_ids(int lenient)
{
    pid_t me = getpid();
    CHECK(me != 1, "the first guest process is pid 1");
    CHECK(getppid() != me && getppid() > 0, "getppid %d", (int)getppid());
    CHECK(getpgrp() == getpgid(0) && getpgid(0) == getpgid(me), "getpgrp/getpgid disagree");
    /* Linux gives 0 when the session leader is outside our pid namespace (a container running
     * qemu-user); on Coherent the session always has a visible leader. */
    CHECK(getsid(0) == getsid(me) && (getsid(0) > 0 || (lenient && getsid(0) == 0)), "getsid disagree");
    pid_t c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0)
        _exit(getpgrp() == getpgid(getppid()) && getsid(0) == getsid(getppid()) ? 0 : 1);
    CHECK(getpgid(c) == getpgrp() || getpgid(c) < 0, "child's group");
    expect_exit(reap(c), 0, "a child starts in its parent's group and session");
    printf("procgroup: ids: pid, ppid, pgid and sid agree; a child inherits group and session\n");
}

static void check_group_kill(void)
{
    int ready[2];
    CHECK(pipe(ready) == 0, "pipe");
    pid_t lead = pauser(0, ready);
    pid_t a = pauser(lead, ready), b = pauser(lead, ready);
    for (int i = 0; i < 3; i++)
        wait_byte(ready[0]);
    CHECK(getpgid(lead) == lead && getpgid(a) == lead && getpgid(b) == lead, "group members");
    CHECK(getpgrp() != lead, "the parent joined the group");
    CHECK(kill(-lead, SIGTERM) == 0, "kill(-pgid) errno %d", errno);
    pid_t kids[3] = {lead, a, b};
    for (int i = 0; i < 3; i++) {
        int st = reap(kids[i]);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "member %d status 0x%x", i, st);
    }
    close(ready[0]);
    close(ready[1]);
    printf("procgroup: group: setpgid from both sides; kill(-pgid, SIGTERM) ended 3 of 3 members\n");
}

/* The boss leads its own group with two children; kill(0, SIGUSR1) reaches all three. */
static int boss(void)
{
    if (setpgid(0, 0) != 0)
        return 10;
    signal(SIGUSR1, on_usr1);
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old); /* children wait for it with sigsuspend: no lost signal */
    int ready[2];
    if (pipe(ready) != 0)
        return 11;
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] < 0)
            return 12;
        if (kids[i] == 0) {
            if (write(ready[1], "r", 1) != 1)
                _exit(1);
            while (!got_usr1)
                sigsuspend(&old);
            _exit(42);
        }
    }
    for (int i = 0; i < 2; i++)
        wait_byte(ready[0]);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (kill(0, SIGUSR1) != 0)
        return 13;
    if (got_usr1 != 1)
        return 14; /* Linux delivers a signal sent to oneself before kill returns */
    for (int i = 0; i < 2; i++) {
        int st = 0;
        if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 42)
            return 15 + i;
    }
    return 0;
}

static void check_kill_zero(void)
{
    pid_t b = fork();
    CHECK(b >= 0, "fork");
    if (b == 0)
        _exit(boss());
    expect_exit(reap(b), 0, "kill(0) in the boss's group");
    printf("procgroup: kill(0, SIGUSR1) reached the caller and both members of its group, not the parent\n");
}

static void check_wait_group(void)
{
    int gate[2], gone[2];
    CHECK(pipe(gate) == 0 && pipe(gone) == 0, "pipe");
    pid_t a = fork(); /* stays in our group, exits 1 when the gate opens */
    CHECK(a >= 0, "fork");
    if (a == 0) {
        close(gate[1]);
        close(gone[1]); /* only b may hold the write end: its exit is the EOF */
        wait_byte(gate[0]);
        _exit(1);
    }
    pid_t b = fork(); /* its own group, exits 2 at once */
    CHECK(b >= 0, "fork");
    if (b == 0) {
        setpgid(0, 0);
        close(gone[0]);
        _exit(2);
    }
    setpgid(b, b); /* EACCES or ESRCH are fine: the child did it, or is gone */
    close(gone[1]);
    char c;
    CHECK(read(gone[0], &c, 1) == 0, "b's pipe"); /* b has exited */
    int st;
    CHECK(waitpid(0, &st, WNOHANG) == 0, "waitpid(0, WNOHANG) took a child of another group");
    CHECK(write(gate[1], "g", 1) == 1, "gate");
    CHECK(waitpid(0, &st, 0) == a, "waitpid(0) errno %d", errno);
    expect_exit(st, 1, "waitpid(0)");
    expect_errno(waitpid(0, &st, 0), ECHILD, "waitpid(0) with only another group's child");
    CHECK(waitpid(-b, &st, 0) == b, "waitpid(-pgid) errno %d", errno);
    expect_exit(st, 2, "waitpid(-pgid)");
    expect_errno(waitpid(-1, &st, 0), ECHILD, "waitpid(-1) without children");
    close(gate[0]);
    close(gate[1]);
    close(gone[0]);
    printf("procgroup: wait4(0) and wait4(-pgid) reap only their group's children; ECHILD when none matches\n");
}

static void check_sessions(void)
{
    int ready[2], gate[2];
    CHECK(pipe(ready) == 0 && pipe(gate) == 0, "pipe");
    pid_t c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0) {
        pid_t me = getpid();
        if (setsid() != me)
            _exit(20);
        if (getsid(0) != me || getpgrp() != me)
            _exit(21);
        if (setsid() != -1 || errno != EPERM)
            _exit(22);
        if (setpgid(0, 0) != -1 || errno != EPERM)
            _exit(23);
        if (write(ready[1], "r", 1) != 1)
            _exit(24);
        wait_byte(gate[0]);
        _exit(0);
    }
    wait_byte(ready[0]);
    CHECK(getsid(c) == c && getpgid(c) == c, "the new session's ids");
    expect_errno(setpgid(c, getpgrp()), EPERM, "setpgid of a child in another session");
    CHECK(write(gate[1], "g", 1) == 1, "gate");
    expect_exit(reap(c), 0, "setsid child");
    pid_t d = fork();
    CHECK(d >= 0, "fork");
    if (d == 0) {
        if (setpgid(0, 0) != 0)
            _exit(30);
        _exit(setsid() == -1 && errno == EPERM ? 0 : 31);
    }
    expect_exit(reap(d), 0, "setsid by a group leader");
    printf("procgroup: setsid: a new session and group; EPERM for a leader, a second setsid, across sessions\n");
}

static volatile sig_atomic_t got_chld;
static void on_chld(int sig) { (void)sig; got_chld++; }

static void check_waitid(int lenient)
{
    siginfo_t si;
    pid_t c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0) _exit(7);
    memset(&si, 0xff, sizeof si);
    CHECK(waitid(P_PID, c, &si, WEXITED | WNOWAIT) == 0, "waitid WNOWAIT errno %d", errno);
    CHECK(si.si_signo == SIGCHLD && si.si_code == CLD_EXITED && si.si_pid == c && si.si_status == 7 && si.si_uid == getuid(),
          "waitid info signo %d code %d pid %d status %d", si.si_signo, si.si_code, (int)si.si_pid, si.si_status);
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_ALL, 0, &si, WEXITED) == 0 && si.si_pid == c && si.si_status == 7, "waitid after WNOWAIT: the zombie again");
    expect_errno(waitid(P_PID, c, &si, WEXITED), ECHILD, "waitid of the reaped child");
    int gate[2];
    CHECK(pipe(gate) == 0, "pipe");
    c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0) { close(gate[1]); wait_byte(gate[0]); _exit(0); }
    close(gate[0]);
    memset(&si, 0xff, sizeof si);
    CHECK(waitid(P_PGID, 0, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0 && si.si_signo == 0, "waitid WNOHANG of a live child: 0, zeroed info");
    CHECK(kill(c, SIGTERM) == 0, "kill");
    CHECK(waitid(P_PGID, getpgrp(), &si, WEXITED) == 0 && si.si_code == CLD_KILLED && si.si_status == SIGTERM && si.si_pid == c,
          "waitid of a killed child: code %d status %d", si.si_code, si.si_status);
    close(gate[1]);
    expect_errno(waitid(P_ALL, 0, &si, WNOHANG), EINVAL, "waitid without WEXITED");
    expect_errno(waitid((idtype_t)9, 0, &si, WEXITED), EINVAL, "waitid with a bad idtype");
    printf("procgroup: waitid: WNOWAIT keeps the zombie, CLD_EXITED/CLD_KILLED, WNOHANG zeroes, EINVAL\n");

    /* SIGCHLD ignored: children leave no zombie, wait blocks until the last ends, then ECHILD. */
    CHECK(signal(SIGCHLD, SIG_IGN) != SIG_ERR, "signal");
    for (int i = 0; i < 3; i++) {
        c = fork();
        CHECK(c >= 0, "fork");
        if (c == 0) { sleep_ms(20 * i); _exit(1); }
    }
    pid_t r;
    while ((r = wait(NULL)) < 0 && errno == EINTR) {}
    CHECK(r == -1 && errno == ECHILD, "wait with SIGCHLD ignored = %d errno %d", (int)r, errno);
    /* Whether a child sends SIGCHLD is decided at its death: a child that died under SIG_IGN
     * sends nothing, even to a handler installed right after wait's ECHILD. (The child is gone
     * before we wait; a test widens the window between its death and its signal.) */
    c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0) _exit(1);
    sleep_ms(10);
    while ((r = wait(NULL)) < 0 && errno == EINTR) {}
    CHECK(r == -1 && errno == ECHILD, "wait with SIGCHLD ignored = %d errno %d", (int)r, errno);
    got_chld = 0;
    CHECK(signal(SIGCHLD, on_chld) == SIG_IGN, "signal to a handler");
    sleep_ms(60);
    CHECK(got_chld == 0, "a child that died under SIG_IGN sent SIGCHLD %d times", (int)got_chld);
    CHECK(signal(SIGCHLD, SIG_DFL) == on_chld, "signal back to SIG_DFL");
    /* SA_NOCLDWAIT with a handler: no zombie, but SIGCHLD still arrives. */
    struct sigaction sa = {0};
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_NOCLDWAIT | SA_RESTART;
    CHECK(sigaction(SIGCHLD, &sa, NULL) == 0, "sigaction");
    got_chld = 0;
    c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0) _exit(3);
    while ((r = wait(NULL)) < 0 && errno == EINTR) {}
    if (lenient && r == c) /* qemu-user keeps SA_NOCLDWAIT from the host kernel: a zombie */
        printf("procgroup: note: SA_NOCLDWAIT left a zombie (qemu-user behaviour, lenient)\n");
    else
        CHECK(r == -1 && errno == ECHILD, "wait with SA_NOCLDWAIT = %d errno %d", (int)r, errno);
    for (int i = 0; i < 200 && !got_chld; i++) sleep_ms(5);
    sleep_ms(50); /* a second SIGCHLD (a child that died under SIG_IGN, signalled late) would land here */
    CHECK(got_chld == 1, "SIGCHLD with SA_NOCLDWAIT arrived %d times", (int)got_chld);
    signal(SIGCHLD, SIG_DFL);
    printf("procgroup: SIGCHLD SIG_IGN and SA_NOCLDWAIT: no zombies, wait ECHILD, the handler still runs\n");
}

static void check_errnos(void)
{
    pid_t c = fork();
    CHECK(c >= 0, "fork");
    if (c == 0)
        _exit(0);
    expect_exit(reap(c), 0, "short child");
    int st;
    expect_errno(waitpid(getppid(), &st, 0), ECHILD, "waitpid(parent)");
    expect_errno(waitpid(1, &st, WNOHANG), ECHILD, "waitpid(1)");
    expect_errno(waitpid(c, &st, 0), ECHILD, "waitpid(reaped child)");
    expect_errno(kill(c, 0), ESRCH, "kill(reaped pid, 0)");
    expect_errno(kill(-c, SIGTERM), ESRCH, "kill(-missing group)");
    expect_errno(getpgid(c), ESRCH, "getpgid(reaped pid)");
    expect_errno(getsid(c), ESRCH, "getsid(reaped pid)");
    expect_errno(setpgid(getppid(), 0), ESRCH, "setpgid(non-child)");
    expect_errno(setpgid(0, c), EPERM, "setpgid to a missing group");
    expect_errno(setpgid(0, -1), EINVAL, "setpgid(0, -1)");
    CHECK(kill(getpid(), 0) == 0, "kill(self, 0)");
    expect_errno(kill(getpid(), 65), EINVAL, "kill(self, 65)");
    printf("procgroup: errnos: ECHILD for non-children, ESRCH for a reaped pid, EPERM/EINVAL for setpgid\n");
}

/*
 * The middle child forks a grandchild that asks for SIGUSR1 at its parent's death and a
 * grandchild that exits at once, tells us their pids, and exits. The first grandchild waits
 * until it has a new parent and its signal, and reports both on a pipe. `subreaper`: they
 * must be re-parented to us, and we reap both; else (init or whoever Linux picks adopts
 * them) `print_parent` prints the new parent's pid.
 */
static void check_orphans(int subreaper, int print_parent)
{
    pid_t top = getpid();
    int pids[2], ready[2], report[2];
    CHECK(pipe(pids) == 0 && pipe(ready) == 0 && pipe(report) == 0, "pipe");
    pid_t m = fork();
    CHECK(m >= 0, "fork");
    if (m == 0) {
        pid_t me = getpid();
        pid_t g = fork();
        if (g < 0)
            _exit(40);
        if (g == 0) {
            signal(SIGUSR1, on_usr1);
            if (prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0) != 0)
                _exit(50);
            int sig = 0;
            if (prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) != 0 || sig != SIGUSR1)
                _exit(51);
            if (write(ready[1], "r", 1) != 1)
                _exit(52);
            for (int i = 0; i < 20000 && (getppid() == me || !got_usr1); i++)
                sleep_ms(1);
            int out[2] = {(int)getppid(), (int)got_usr1};
            _exit(write(report[1], out, sizeof out) == sizeof out ? 0 : 53);
        }
        pid_t z = fork();
        if (z < 0)
            _exit(41);
        if (z == 0)
            _exit(3);
        pid_t both[2] = {g, z};
        if (write(pids[1], both, sizeof both) != sizeof both)
            _exit(42);
        wait_byte(ready[0]);
        _exit(0); /* g and z are orphaned: z probably a zombie already */
    }
    pid_t both[2];
    CHECK(read(pids[0], both, sizeof both) == sizeof both, "grandchild pids");
    expect_exit(reap(m), 0, "middle child");
    int out[2];
    CHECK(read(report[0], out, sizeof out) == sizeof out, "orphan's report");
    CHECK(out[0] != m, "the orphan still has its dead parent %d", (int)m);
    CHECK(out[1] >= 1, "the orphan did not get its parent-death signal"); /* qemu-user: once per thread of its parent */
    if (subreaper) {
        CHECK(out[0] == top, "the orphan's new parent is %d, not the subreaper %d", out[0], (int)top);
        expect_exit(reap(both[1]), 3, "zombie grandchild re-parented to the subreaper");
        expect_exit(reap(both[0]), 0, "orphaned grandchild");
        printf("procgroup: subreaper: orphans re-parented to us, PR_SET_PDEATHSIG delivered, both reaped\n");
    } else {
        expect_errno(waitpid(both[0], NULL, WNOHANG), ECHILD, "waitpid(an orphan adopted elsewhere)");
        if (print_parent)
            printf("procgroup: orphan's parent is now pid %d\n", out[0]);
        else
            printf("procgroup: orphans re-parented away from their dead parent, PR_SET_PDEATHSIG delivered\n");
    }
    for (int i = 0; i < 2; i++) {
        close(pids[i]);
        close(ready[i]);
        close(report[i]);
    }
}

/* PR_SET_CHILD_SUBREAPER on (checked back with PR_GET); false only when qemu-user lacks it and `lenient`. */
static int become_subreaper(int lenient)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        CHECK(lenient && errno == EINVAL, "PR_SET_CHILD_SUBREAPER errno %d", errno);
        printf("procgroup: note: PR_SET_CHILD_SUBREAPER is EINVAL (qemu-user behaviour, lenient)\n");
        return 0;
    }
    int on = 0;
    CHECK(prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) == 0 && on == 1, "PR_GET_CHILD_SUBREAPER");
    return 1;
}

int main(int argc, char **argv)
{
    guest_start("procgroup");
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "orphan-to-init") == 0) {
        check_orphans(0, 1);
    } else if (strcmp(mode, "print-ids") == 0) {
        printf("procgroup: pid %d ppid %d pgid %d sid %d\n", (int)getpid(), (int)getppid(), (int)getpgrp(), (int)getsid(0));
    } else {
        int lenient = strcmp(mode, "--qemu-subreaper-lenient") == 0;
        check_ids(lenient);
        check_group_kill();
        check_kill_zero();
        check_wait_group();
        check_sessions();
        check_errnos();
        check_waitid(lenient);
        int sub = become_subreaper(lenient);
        check_orphans(sub, 0);
    }
    printf("procgroup: OK\n");
    return 0;
}
