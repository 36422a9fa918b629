/*
 * signals — signal delivery as Linux riscv64 does it:
 *  - a SIGSEGV handler gets siginfo (si_addr, SEGV_MAPERR) and the ucontext: it moves the
 *    saved pc past the faulting 4-byte load and sets the saved a5, and sigreturn resumes
 *    with exactly those registers;
 *  - a handler installed with SA_ONSTACK runs on the sigaltstack;
 *  - kill(getpid(), SIGUSR1) reaches its handler with SI_USER and our pid; raise() with SI_TKILL;
 *  - sigprocmask blocks SIGUSR1: raised, it stays pending (sigpending) until unblocked,
 *    then is delivered exactly once before sigprocmask returns;
 *  - a SIGCHLD handler runs when a child exits (CLD_EXITED, its pid and status), woken
 *    from sigsuspend.
 * Args: [rounds] (default 1). Expected final line: "signals: OK".
 */
#include "guest.h"
#include <sys/ucontext.h>
#include <sys/wait.h>

static volatile sig_atomic_t segv_count, usr1_count, usr2_count, chld_count;
static volatile uintptr_t segv_addr;
static volatile int segv_code, usr1_code, chld_code, chld_status;
static volatile pid_t usr1_pid, chld_pid;
static volatile uintptr_t usr2_sp;

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    ucontext_t *uc = ucv;
    segv_count++;
    segv_addr = (uintptr_t)si->si_addr;
    segv_code = si->si_code;
    uc->uc_mcontext.__gregs[REG_PC] += 4;    /* skip the 4-byte load */
    uc->uc_mcontext.__gregs[15] = 0x5eed;    /* x15 = a5, the load's destination */
}

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    usr1_count++;
    usr1_code = si->si_code;
    usr1_pid = si->si_pid;
}

static void on_usr2(int sig)
{
    (void)sig;
    int local;
    usr2_sp = (uintptr_t)&local;
    usr2_count++;
}

static void on_chld(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    chld_count++;
    chld_code = si->si_code;
    chld_pid = si->si_pid;
    chld_status = si->si_status;
}

static void install(int sig, void (*action)(int, siginfo_t *, void *), void (*handler)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    if (action) {
        sa.sa_sigaction = action;
        sa.sa_flags = SA_SIGINFO | flags;
    } else {
        sa.sa_handler = handler;
        sa.sa_flags = flags;
    }
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction(%d): %s", sig, strerror(errno));
}

static void segv_resume(void)
{
    install(SIGSEGV, on_segv, NULL, 0);
    volatile char *bad = (volatile char *)0x1008;
    register long a5 asm("a5") = 123;
    asm volatile(".option push\n.option norvc\nld a5, 0(%1)\n.option pop" : "+r"(a5) : "r"(bad) : "memory");
    long got = a5;
    CHECK(segv_count == 1, "SIGSEGV handler ran %d times", (int)segv_count);
    CHECK(segv_addr == 0x1008, "si_addr %#lx, want 0x1008", (unsigned long)segv_addr);
    CHECK(segv_code == SEGV_MAPERR, "si_code %d, want SEGV_MAPERR", segv_code);
    CHECK(got == 0x5eed, "a5 after sigreturn is %#lx, want 0x5eed (ucontext not restored)", (unsigned long)got);
    printf("signals: SIGSEGV si_addr/si_code right; handler-edited pc and a5 restored by sigreturn\n");
    segv_count = 0;
}

static void altstack(void)
{
    static char stack_mem[64 * 1024];
    stack_t ss = { .ss_sp = stack_mem, .ss_size = sizeof stack_mem, .ss_flags = 0 };
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack: %s", strerror(errno));
    install(SIGUSR2, NULL, on_usr2, SA_ONSTACK);
    usr2_count = 0;
    raise(SIGUSR2);
    CHECK(usr2_count == 1, "SIGUSR2 handler ran %d times", (int)usr2_count);
    CHECK(usr2_sp >= (uintptr_t)stack_mem && usr2_sp < (uintptr_t)stack_mem + sizeof stack_mem,
          "SA_ONSTACK handler ran at sp %#lx, not on the alternate stack", (unsigned long)usr2_sp);
    stack_t old;
    CHECK(sigaltstack(NULL, &old) == 0 && old.ss_sp == stack_mem && !(old.ss_flags & SS_ONSTACK),
          "sigaltstack query wrong");
    ss.ss_flags = SS_DISABLE;
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack disable");
    printf("signals: SA_ONSTACK handler ran on the sigaltstack\n");
}

static void usr1(void)
{
    install(SIGUSR1, on_usr1, NULL, 0);
    usr1_count = 0;
    CHECK(kill(getpid(), SIGUSR1) == 0, "kill: %s", strerror(errno));
    CHECK(usr1_count == 1, "SIGUSR1 via kill delivered %d times", (int)usr1_count);
    CHECK(usr1_code == SI_USER && usr1_pid == getpid(), "kill siginfo: code %d pid %d", usr1_code, (int)usr1_pid);
    CHECK(raise(SIGUSR1) == 0, "raise");
    CHECK(usr1_count == 2, "SIGUSR1 via raise delivered %d times", (int)usr1_count);
    CHECK(usr1_code == SI_TKILL, "raise si_code %d, want SI_TKILL", usr1_code);
    printf("signals: SIGUSR1 by kill (SI_USER) and raise (SI_TKILL)\n");

    sigset_t block, old, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0, "sigprocmask block");
    raise(SIGUSR1);
    raise(SIGUSR1); /* standard signals do not queue: one delivery */
    CHECK(usr1_count == 2, "blocked SIGUSR1 was delivered");
    CHECK(sigpending(&pending) == 0 && sigismember(&pending, SIGUSR1) == 1, "SIGUSR1 not pending");
    CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0, "sigprocmask unblock");
    CHECK(usr1_count == 3, "unblocking delivered SIGUSR1 %d times, want once", (int)usr1_count - 2);
    CHECK(sigpending(&pending) == 0 && sigismember(&pending, SIGUSR1) == 0, "SIGUSR1 still pending");
    printf("signals: blocked SIGUSR1 stays pending, delivered once on unblock\n");
}

static void sigchld(void)
{
    install(SIGCHLD, on_chld, NULL, 0);
    chld_count = 0;
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0, "block SIGCHLD");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        _exit(7);
    sigset_t wait_mask = old;
    sigdelset(&wait_mask, SIGCHLD);
    while (chld_count == 0)
        sigsuspend(&wait_mask);
    CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0, "restore mask");
    CHECK(chld_count == 1, "SIGCHLD handler ran %d times", (int)chld_count);
    CHECK(chld_code == CLD_EXITED && chld_pid == pid && chld_status == 7,
          "SIGCHLD siginfo: code %d pid %d status %d", chld_code, (int)chld_pid, chld_status);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7, "waitpid after SIGCHLD");
    signal(SIGCHLD, SIG_DFL);
    printf("signals: SIGCHLD handler saw the child exit with status 7\n");
}

int main(int argc, char **argv)
{
    guest_start("signals");
    long rounds = arg_long(argc, argv, 1, 1);
    for (long r = 0; r < rounds; r++) {
        segv_resume();
        altstack();
        usr1();
        sigchld();
    }
    ok();
}
