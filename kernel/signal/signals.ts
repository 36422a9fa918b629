/**
 * Linux signal facts for riscv64 (asm-generic/signal.h, asm-generic/siginfo.h): signal
 * numbers, default actions, sigaction/sigaltstack flags and si_code values. The frame a
 * handler receives is in sigframe.ts. test/fixtures/linux-abi.json checks the numbers.
 */

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGSTKFLT = 16;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGXCPU = 24;
export const SIGXFSZ = 25;
export const SIGVTALRM = 26;
export const SIGPROF = 27;
export const SIGWINCH = 28;
export const SIGIO = 29;
export const SIGPWR = 30;
export const SIGSYS = 31;
/** Kernel's first real-time signal (glibc reserves 32 and 33 and reports SIGRTMIN as 34). */
export const SIGRTMIN = 32;
export const SIGRTMAX = 64;
/** _NSIG: signals are 1..NSIG; a sigset_t the kernel reads is 8 bytes (sigsetsize 8). */
export const NSIG = 64;
export const KERNEL_SIGSET_BYTES = 8;

/** Bit of signal `sig` in a 64-bit sigset (bit sig-1). */
export function sigBit(sig: number): bigint {
  if (!Number.isInteger(sig) || sig < 1 || sig > NSIG) throw new Error(`sigBit: bad signal ${sig}`);
  return 1n << BigInt(sig - 1);
}
/** SIGKILL and SIGSTOP can never be blocked, caught or ignored. */
export const UNBLOCKABLE = sigBit(SIGKILL) | sigBit(SIGSTOP);

/** What a signal does when its disposition is SIG_DFL (signal(7)). */
export type DefaultAction = 'term' | 'core' | 'ignore' | 'stop' | 'cont';

const CORE = [SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS];
const IGNORE = [SIGCHLD, SIGURG, SIGWINCH];
const STOP = [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU];

/** Default action of `sig` (1..64); real-time signals terminate. */
export function defaultAction(sig: number): DefaultAction {
  if (!Number.isInteger(sig) || sig < 1 || sig > NSIG) throw new Error(`defaultAction: bad signal ${sig}`);
  if (CORE.includes(sig)) return 'core';
  if (IGNORE.includes(sig)) return 'ignore';
  if (STOP.includes(sig)) return 'stop';
  if (sig === SIGCONT) return 'cont';
  return 'term';
}

const NAMES = [
  '', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1',
  'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP',
  'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];
/** "SIGSEGV", "SIGRTMIN+3", or "signal 99" for a number outside 1..64. */
export function signalName(sig: number): string {
  if (sig >= 1 && sig < SIGRTMIN) return NAMES[sig];
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${sig - SIGRTMIN}`;
  return `signal ${sig}`;
}

// sigaction sa_flags (asm-generic/signal.h). riscv has no SA_RESTORER: the kernel always
// returns through the vDSO's __vdso_rt_sigreturn.
export const SA_NOCLDSTOP = 0x00000001;
export const SA_NOCLDWAIT = 0x00000002;
export const SA_SIGINFO = 0x00000004;
export const SA_ONSTACK = 0x08000000;
export const SA_RESTART = 0x10000000;
export const SA_NODEFER = 0x40000000;
export const SA_RESETHAND = 0x80000000;
/** Handler values. */
export const SIG_DFL = 0n;
export const SIG_IGN = 1n;
/** rt_sigprocmask how. */
export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;
export const SIG_SETMASK = 2;
/** sigaltstack ss_flags. */
export const SS_ONSTACK = 1;
export const SS_DISABLE = 2;
export const SS_AUTODISARM = 1 << 31;
/** Smallest altstack sigaltstack accepts (asm-generic MINSIGSTKSZ). */
export const MINSIGSTKSZ = 2048;
export const SIGSTKSZ = 8192;

// si_code values (asm-generic/siginfo.h). Negative codes mean "sent by a process".
export const SI_USER = 0;
export const SI_KERNEL = 0x80;
export const SI_QUEUE = -1;
export const SI_TIMER = -2;
export const SI_MESGQ = -3;
export const SI_ASYNCIO = -4;
export const SI_SIGIO = -5;
export const SI_TKILL = -6;
export const ILL_ILLOPC = 1;
export const ILL_ILLOPN = 2;
export const ILL_ILLADR = 3;
export const ILL_ILLTRP = 4;
export const ILL_PRVOPC = 5;
export const ILL_PRVREG = 6;
export const ILL_COPROC = 7;
export const ILL_BADSTK = 8;
export const FPE_INTDIV = 1;
export const FPE_INTOVF = 2;
export const SEGV_MAPERR = 1;
export const SEGV_ACCERR = 2;
export const BUS_ADRALN = 1;
export const BUS_ADRERR = 2;
export const BUS_OBJERR = 3;
export const TRAP_BRKPT = 1;
export const TRAP_TRACE = 2;
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;
export const CLD_TRAPPED = 4;
export const CLD_STOPPED = 5;
export const CLD_CONTINUED = 6;
