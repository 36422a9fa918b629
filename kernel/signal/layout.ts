/**
 * Inside the signal regions of ctl (kernel/layout.ts places them; this file says what is in
 * them, like kernel/proc/layout.ts for the scheduler regions). Word indices are Int32 offsets
 * from the start of their record; 64-bit values (masks, addresses) are lo/hi word pairs.
 *
 *   sigProcs    P x SIGPROC_BYTES     per process slot: lock, shared pending set, action table,
 *                                     one queued siginfo per shared-pending signal
 *   sigThreads  T x SIGTHREAD_BYTES   per thread slot: blocked mask, pending set, sigaltstack,
 *                                     sigsuspend's saved mask, restart bookkeeping, siginfos
 *   (P = sched maxProcesses, T = sched maxThreads: same slots as the process and thread tables)
 *
 * Who writes what, and what guards it (Linux's sighand->siglock):
 * - The SpinLock SP_LOCK of a process guards its whole sigProcs record AND the sigThreads
 *   records of its threads, except the words marked "atomic" below. Senders (kill, tgkill, a
 *   child's exit) take it to queue a signal; the thread itself takes it to change its mask or
 *   to dequeue a signal on its way back to user mode.
 * - Ownership stamps SP_PID / ST_TID: slots are reused, and nobody clears these records when
 *   a process or thread is created. Whoever takes the lock first compares the stamp with the
 *   slot's pid/tid and, on a mismatch, resets the record (default actions, nothing pending,
 *   empty mask, no altstack) — a new process or thread starts clean without a hook. fork and
 *   clone call kernel/signal/state.ts inheritSignals to copy what Linux copies instead.
 * - Racy reads: a hart checks "is anything pending and unblocked" before each quantum with
 *   plain loads of the pending and blocked words (no lock). A sender sets a pending bit under
 *   the lock, then interrupts or kicks the target; a stale read is corrected by that kick.
 * - ST_SEQ (atomic): Atomics.add by a sender after queueing a signal for the thread; the word
 *   a thread in sigsuspend / rt_sigtimedwait blocks on (no lost wake-up: see sys-signal.ts).
 * - A thread blocked in another syscall is taken off its wait queue by the sender
 *   (scheduler/block.ts cancel): -EINTR, or a plain wake that re-runs a restartable syscall
 *   after the handler when the action has SA_RESTART (Linux's -ERESTARTSYS).
 */

// ---- per-process record (words) ----
export const SP_LOCK = 0; // SpinLock
export const SP_PID = 1; // ownership stamp: pid this record belongs to
export const SP_PEND_LO = 2; // shared (process-directed) pending set, bits 0..31 = signals 1..32
export const SP_PEND_HI = 3; // signals 33..64
export const SP_ACTIONS = 16; // NSIG x ACTION_WORDS (signal s at (s - 1) * ACTION_WORDS)
export const ACTION_WORDS = 8;
export const A_HANDLER = 0; // lo, hi: SIG_DFL 0, SIG_IGN 1, else the handler va
export const A_FLAGS = 2; // sa_flags (low 32 bits; every flag lives there)
export const A_MASK = 3; // lo, hi: sa_mask
export const A_RESTORER = 5; // lo, hi: unused on riscv (no SA_RESTORER in its ABI), kept 0
export const SIG_SLOTS = 64;
export const SP_INFOS = SP_ACTIONS + SIG_SLOTS * ACTION_WORDS; // NSIG x INFO_WORDS
export const SIGPROC_BYTES = (SP_INFOS + SIG_SLOTS * 8) * 4; // 4160, a multiple of 64

// ---- per-thread record (words) ----
export const ST_TID = 0; // ownership stamp: tid this record belongs to
export const ST_BLK_LO = 1; // blocked mask
export const ST_BLK_HI = 2;
export const ST_PEND_LO = 3; // thread-directed pending set
export const ST_PEND_HI = 4;
export const ST_SAVED_LO = 5; // mask to restore after the handler (sigsuspend), valid when ST_HAS_SAVED
export const ST_SAVED_HI = 6;
export const ST_HAS_SAVED = 7;
export const ST_ALT_SP_LO = 8; // sigaltstack: ss_sp
export const ST_ALT_SP_HI = 9;
export const ST_ALT_SIZE_LO = 10; // ss_size
export const ST_ALT_SIZE_HI = 11;
export const ST_ALT_FLAGS = 12; // SS_DISABLE / SS_AUTODISARM as stored
export const ST_SEQ = 13; // atomic: bumped when a signal is queued for this thread
export const ST_TWAIT_LO = 14; // the set a thread in rt_sigtimedwait waits for (wakes it although blocked)
export const ST_TWAIT_HI = 15;
export const ST_INFOS = 32; // NSIG x INFO_WORDS
export const SIGTHREAD_BYTES = (ST_INFOS + SIG_SLOTS * 8) * 4; // 2176, a multiple of 64

// ---- one queued siginfo (words), at INFOS + (signo - 1) * INFO_WORDS ----
export const INFO_WORDS = 8;
export const I_CODE = 0;
export const I_PID = 1;
export const I_UID = 2;
export const I_STATUS = 3;
export const I_ADDR_LO = 4; // si_addr, or si_value
export const I_ADDR_HI = 5;
export const I_ERRNO = 6;
export const I_KIND = 7; // IK_* bits: which union members are meaningful
export const IK_ADDR = 1;
export const IK_PID = 2;
export const IK_VALUE = 4;
export const IK_STATUS = 8;
export const IK_TIMER = 16; // si_timerid in I_PID, si_overrun in I_UID (a POSIX timer's SI_TIMER signal)

/** Bytes of the two signal regions for `maxProcesses` / `maxThreads` slots. */
export function signalRegionBytes(maxProcesses: number, maxThreads: number): { sigProcs: number; sigThreads: number } {
  return { sigProcs: maxProcesses * SIGPROC_BYTES, sigThreads: maxThreads * SIGTHREAD_BYTES };
}

/**
 * Fixed user va of the signal trampoline page (Linux: the vDSO's __vdso_rt_sigreturn):
 * above the main stack (scheduler/process.ts STACK_TOP 0x3f_f000_0000), below USER_TOP.
 */
export const SIGTRAMP_VA = 0x3f_f800_0000;

// ---- the timer table (region `timers`; kernel/signal/timers.ts) ----
//
//   timers  TIMER_HEADER_BYTES + N x TIMER_BYTES   N = maxThreads (sized from --memory)
//
// One record per armed-or-idle timer of any process: ITIMER_REAL (alarm, setitimer), POSIX
// timers (timer_create) and timerfds. Deadlines are CLOCK_MONOTONIC nanoseconds (a double:
// exact to well below a microsecond for years of uptime).
// Who writes what: every field of the header and of every record only under TH_LOCK (one
// SpinLock for the table: timer calls are rare), except TH_ARMED and TH_NEXT, which harts read
// racily before each quantum and when idle (a stale read only delays the scan to the next
// check, bounded by the idle slice) and TM_SEQ (Atomics: a timerfd reader reads it before it
// looks at TM_TICKS, the expiry bumps it under the lock and then wakes the channel).
// Lock order: a process's signal lock (SP_LOCK) before TH_LOCK, never the reverse — a timer
// fires by queueing its signal after dropping TH_LOCK.
export const TIMER_HEADER_BYTES = 64;
export const TH_LOCK = 0; // SpinLock for the whole table
export const TH_ARMED = 1; // armed timers (racy reads: "anything to scan?")
export const TH_NEXT = 2; // f64: earliest armed deadline (monotonic ns), Infinity when none
export const TH_HIGH = 4; // one past the highest slot ever used (bounds the scans)
export const TH_CPU_ARMED = 5; // armed ITIMER_VIRTUAL / ITIMER_PROF records (racy reads: "charge CPU time to them?")
export const TIMER_BYTES = 128;
export const TM_STATE = 0; // TMS_*
export const TM_PID = 1; // owner process pid (a record whose owner is not a live process with this pid is freed)
export const TM_PROC = 2; // owner process slot
export const TM_ID = 3; // POSIX timer id (per process), the fd's ofile for a timerfd, -1 for ITIMER_REAL
export const TM_KIND = 4; // TK_*
export const TM_CLOCK = 5; // clock id it was created on
export const TM_NOTIFY = 6; // SIGEV_SIGNAL / SIGEV_NONE / SIGEV_THREAD_ID (kernel value)
export const TM_SIGNO = 7; // signal sent at expiry
export const TM_TID = 8; // SIGEV_THREAD_ID: the target thread's tid
export const TM_OVERRUN = 9; // expiries while its signal was still queued (since the last delivery)
export const TM_OVERRUN_LAST = 10; // timer_getoverrun: the overrun reported with the last delivered signal
export const TM_QUEUED = 11; // 1 while its signal is pending (not yet delivered)
export const TM_VALUE_LO = 12; // sigev_value (si_value)
export const TM_VALUE_HI = 13;
export const TM_DEADLINE = 14; // f64: monotonic ns of the next expiry, 0 = disarmed (ITIMER_VIRTUAL/PROF: CPU ns left)
export const TM_INTERVAL = 16; // f64: period in ns, 0 = one-shot
export const TM_TICKS = 18; // f64: timerfd: expiries not yet read
export const TM_SEQ = 20; // timerfd: bumped at every expiry and settime; its readers' wait word (woken by the expiring hart)
export const TMS_FREE = 0;
export const TMS_IDLE = 1; // exists, disarmed
export const TMS_ARMED = 2;
export const TK_ITIMER_REAL = 1;
export const TK_POSIX = 2;
export const TK_TIMERFD = 3;
export const TK_ITIMER_VIRTUAL = 4; // counts the process's user time (kernel/proc/cputime.ts)
export const TK_ITIMER_PROF = 5; // counts its user + system time

/** Bytes of the timer region for `maxTimers` records. */
export function timerRegionBytes(maxTimers: number): number {
  return TIMER_HEADER_BYTES + maxTimers * TIMER_BYTES;
}
