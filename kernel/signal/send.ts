/**
 * Generating signals: queue a signal on a process (kill) or a thread (tgkill, a fault), and
 * make its target notice (Linux __send_signal + complete_signal + signal_wake_up).
 *
 *   sender: lock the target process's signal record; drop the signal when it is ignored;
 *           set the pending bit and store its siginfo (a standard signal already pending is
 *           not queued twice); choose the thread to take it (the named thread, or for a
 *           process-directed signal the calling thread or the first one not blocking it);
 *           bump that thread's ST_SEQ; unlock; then
 *             blocked in a syscall → take it off the wait queue (SignalHost.interrupt): -EINTR,
 *               or a plain wake when the handler has SA_RESTART and the syscall is
 *               restartable (pc is still on its ecall: the handler's frame saves that pc, and
 *               sigreturn re-runs the syscall — Linux's -ERESTARTSYS); a killable-only wait
 *               (TF_KILLABLE: vfork) is interrupted only by a fatal signal (SIGKILL, or a
 *               default action that ends the process), others stay pending until it returns;
 *             running on another hart → a reschedule interrupt (SignalHost.kick), so the hart
 *               leaves its quantum and checks signals before it resumes the thread;
 *             ready, or running here → nothing: signals are checked before every quantum.
 *
 * The scheduler side (SignalHost: the hart, interrupt, kick, exitGroup) is bound once per
 * worker by scheduler/hart-loop.ts with bindSignalHost; kernel/ never imports scheduler/.
 * Without a bound host (the host thread, unit tests) signals are only queued.
 */
import type { KernelContext } from '../context.ts';
import { EINTR, EINVAL } from '../errno.ts';
import type { Ctl } from '../layout.ts';
import { inject, INJ } from '../lab/inject.ts';
import { P_PID, P_STATE, PS_FREE, PS_ZOMBIE, TF_KILLABLE, TF_RESTART, TS_RUNNING } from '../proc/layout.ts';
import type { SigInfo } from './sigframe.ts';
import {
  lastHartOf, procField, procOfThread, SignalState, threadBlocked, threadFlags, threadOfTid, threadsOfProc, threadState,
  DEFAULT_ACTION,
} from './state.ts';
import { NSIG, SA_RESTART, SIG_DFL, SIG_IGN, SIGKILL, SI_KERNEL, UNBLOCKABLE, defaultAction, sigBit } from './signals.ts';

/** Linux ESRCH (kernel/errno.ts does not list it). */
export const ESRCH = 3;

/** The user-visible registers of a hart (cpu/hart.ts Hart satisfies it). */
export interface UserHart {
  /** x[2i] low, x[2i+1] high 32 bits of x_i. */
  readonly x: Int32Array;
  /** The sign-extended 64-bit pc as a double. */
  pc: number;
  readonly fpu: { readonly fi32: Int32Array; readFcsr(): number; writeFcsr(v: number): void };
}

/** What the scheduler of this worker provides to signal code (implemented by scheduler/hart-loop.ts). */
export interface SignalHost {
  readonly kctx: KernelContext;
  readonly hart: UserHart;
  /** Thread slot running on this hart, -1 none. */
  readonly current: number;
  /** End the current thread's whole process, killed by `signal` (the thread never runs again). */
  exitGroup(code: number, signal: number): unknown;
  /**
   * Take blocked thread `tix` off its wait queue with a0 := `a0` (-EINTR; 0 re-runs a
   * restartable syscall) — only if `stillWanted()`, asked under the wait queue's lock, says
   * so. False when it was not blocked (or not wanted any more).
   */
  interrupt(tix: number, a0: number, stillWanted?: () => boolean): boolean;
  /** Make hart `hartId` leave its quantum and look at its current thread. */
  kick(hartId: number): void;
}

let boundHost: SignalHost | null = null;
const states = new WeakMap<Ctl, SignalState>();

/** Bind this worker's scheduler (once per worker; tests may rebind). */
export function bindSignalHost(host: SignalHost | null): void {
  boundHost = host;
}
/** This worker's bound SignalHost, or null. */
export function signalHost(): SignalHost | null {
  return boundHost;
}

/** The worker-local SignalState of `kctx`'s ctl (one per ctl, made on first use). */
export function signalState(kctx: KernelContext): SignalState {
  let st = states.get(kctx.ctl);
  if (!st) states.set(kctx.ctl, (st = new SignalState(kctx.ctl, kctx.whileWaiting)));
  return st;
}

/**
 * Queue `sig` on process slot `p` (tix < 0: process-directed) or on its thread `tix`, and wake
 * the thread that will take it. `senderTix`: the calling thread (preferred target of a
 * process-directed signal it does not block), -1 none. sig 0 only checks. Returns 0.
 */
export function queueSignal(kctx: KernelContext, p: number, tix: number, sig: number, info: SigInfo, senderTix = -1): number {
  postSignal(kctx, p, tix, sig, info, senderTix);
  return 0;
}

/**
 * queueSignal that says what happened: true when `sig` was added to a pending set, false when
 * it was dropped (ignored) or already pending (a timer counts that as an overrun).
 */
export function postSignal(kctx: KernelContext, p: number, tix: number, sig: number, info: SigInfo, senderTix = -1): boolean {
  if (sig === 0) return false;
  let queued = false;
  const st = signalState(kctx);
  const ctl = kctx.ctl;
  const bit = sigBit(sig);
  let wake = -1;
  let restart = false;
  let fatal = false;
  st.withProc(p, () => {
    const threads = tix >= 0 ? [tix] : threadsOfProc(ctl, p);
    for (const t of threads) st.claimThread(t);
    const first = threads[0];
    const blockedByTarget = first !== undefined && (st.blocked(first) & bit) !== 0n;
    if (st.ignored(p, sig) && !blockedByTarget) return; // dropped (Linux sig_ignored)
    if (!st.addPending(p, tix, sig, info)) return; // already pending: nothing new to wake for
    queued = true;
    const wants = (t: number): boolean => (st.blocked(t) & bit) === 0n || (bit & UNBLOCKABLE) !== 0n || (st.timedWaitSet(t) & bit) !== 0n;
    if (tix >= 0) wake = wants(tix) ? tix : -1;
    else wake = senderTix >= 0 && threads.includes(senderTix) && wants(senderTix) ? senderTix : threads.find(wants) ?? -1;
    if (wake >= 0 && tix < 0) Atomics.add(ctl.i32, st.seqIndex(wake), 1);
    const a = st.action(p, sig);
    fatal = sig === SIGKILL || (a.handler === SIG_DFL && (defaultAction(sig) === 'term' || defaultAction(sig) === 'core'));
    restart = (a.handler !== SIG_DFL && a.handler !== SIG_IGN && (a.flags & SA_RESTART) !== 0)
      || (wake >= 0 && (st.timedWaitSet(wake) & bit) !== 0n); // rt_sigtimedwait re-runs and dequeues it
  });
  if (wake >= 0) wakeForSignal(kctx, wake, restart, fatal);
  return queued;
}

/**
 * Thread `tix` has just parked (TS_BLOCKED, off its hart; call after the hart let it go). A
 * signal queued between its syscall's last look and the park found it still running, so the
 * sender only kicked its hart, and a second signal of the same number is not queued again (no
 * new wake-up): look once more now and interrupt the wait as the sender would have — Linux's
 * set_current_state before the check, signal_pending() in schedule(). The sender's pending
 * bit and the blocker's look are both under the process's signal lock, and the blocker's
 * TS_BLOCKED store precedes its look: a sender either sees the thread blocked or its signal is
 * seen here (interrupting twice is harmless: the second finds it no longer blocked).
 */
export function signalsAfterPark(kctx: KernelContext, tix: number): void {
  const st = signalState(kctx);
  const p = procOfThread(kctx.ctl, tix);
  let found = false, restart = false, fatal = false;
  st.withProc(p, () => {
    st.claimThread(tix);
    const timed = st.timedWaitSet(tix);
    const ready = (st.threadPending(tix) | st.procPending(p)) & (~st.blocked(tix) | UNBLOCKABLE | timed);
    if (ready === 0n) return;
    let sig = 1;
    while (((ready >> BigInt(sig - 1)) & 1n) === 0n) sig++;
    const a = st.action(p, sig);
    found = true;
    fatal = sig === SIGKILL || (a.handler === SIG_DFL && (defaultAction(sig) === 'term' || defaultAction(sig) === 'core'));
    restart = (a.handler !== SIG_DFL && a.handler !== SIG_IGN && (a.flags & SA_RESTART) !== 0) || (timed & sigBit(sig)) !== 0n;
  });
  if (found) wakeForSignal(kctx, tix, restart, fatal);
}

/**
 * Whether thread `tix` has a signal to take now: pending for it or its process, and not
 * blocked (or awaited by its rt_sigtimedwait). Lock-free: the caller holds a wait-queue lock
 * (the signal lock must not be taken under it); the bit of a signal queued before the caller
 * found the thread blocked is visible here, and only the target's process clears it.
 */
function signalWaiting(kctx: KernelContext, tix: number): boolean {
  const st = signalState(kctx);
  const p = procOfThread(kctx.ctl, tix);
  return ((st.threadPending(tix) | st.procPending(p)) & (~st.blocked(tix) | UNBLOCKABLE | st.timedWaitSet(tix))) !== 0n;
}

/** Make thread `tix` notice a new signal (see the file comment). */
function wakeForSignal(kctx: KernelContext, tix: number, restart: boolean, fatal: boolean): void {
  const host = boundHost;
  if (!host || host.kctx.ctl !== kctx.ctl) return;
  if (tix === host.current) return;
  const ctl = kctx.ctl;
  if (threadBlocked(ctl, tix)) {
    if (!fatal && threadFlags(ctl, tix) & TF_KILLABLE) return; // stays pending until the wait ends
    inject(ctl, INJ['signal.before-interrupt']);
    // The wait found blocked above may be gone by now: the thread woke, took the signal and
    // blocked again. End the wait it is in only while a signal is still there for it (Linux:
    // an interrupted wait looks at signal_pending() itself) — never a spurious EINTR. A fatal
    // signal always ends the wait: the process is going away whatever the wait was.
    host.interrupt(tix, restart && (threadFlags(ctl, tix) & TF_RESTART) !== 0 ? 0 : -EINTR, fatal ? undefined : () => signalWaiting(kctx, tix));
  } else if (threadState(ctl, tix) === TS_RUNNING) {
    const h = lastHartOf(ctl, tix);
    if (h >= 0 && h !== kctx.hartId) host.kick(h);
  }
}

/**
 * A synchronous signal for thread `tix` (a fault it caused; Linux force_sig_info): when the
 * signal is blocked or ignored its action is reset to SIG_DFL and it is unblocked, so the
 * thread cannot run past the fault. Delivered on the thread's way back to user mode.
 */
export function forceSignal(kctx: KernelContext, tix: number, info: SigInfo): void {
  const st = signalState(kctx);
  const p = procOfThread(kctx.ctl, tix);
  const sig = info.signo;
  const bit = sigBit(sig);
  st.withProc(p, () => {
    st.claimThread(tix);
    const a = st.action(p, sig);
    const blocked = (st.blocked(tix) & bit) !== 0n;
    if (blocked || a.handler === SIG_IGN) {
      st.setAction(p, sig, { ...a, handler: SIG_DFL });
      if (blocked) st.setBlocked(tix, st.blocked(tix) & ~bit);
    }
    st.addPending(p, tix, sig, info);
  });
}

/** Linux force_sigsegv: a frame could not be built for `sig`; SIGSEGV (SI_KERNEL), whose own handler is dropped first if it was SIGSEGV. */
export function forceSigsegv(kctx: KernelContext, tix: number, sig: number): void {
  const st = signalState(kctx);
  const p = procOfThread(kctx.ctl, tix);
  if (sig === 11) st.withProc(p, () => st.setAction(p, 11, DEFAULT_ACTION));
  forceSignal(kctx, tix, { signo: 11, code: SI_KERNEL });
}

/** Process slot with pid `pid` that exists (live or zombie), or -1. */
export function procOfPidAny(ctl: Ctl, pid: number): number {
  for (let p = 0; p < ctl.layout.sched.maxProcesses; p++) {
    if (Atomics.load(ctl.i32, procField(ctl, p, P_STATE)) !== PS_FREE && ctl.i32[procField(ctl, p, P_PID)] === pid) return p;
  }
  return -1;
}

/**
 * Send `sig` to process `pid` (process-directed, as kill(2) does; a tid of any thread names
 * its process). 0, -ESRCH (no such process), -EINVAL (bad signal). A zombie accepts and drops it.
 */
export function sendSignal(kctx: KernelContext, pid: number, sig: number, info: SigInfo, senderTix = -1): number {
  if (!(Number.isInteger(sig) && sig >= 0 && sig <= NSIG)) return -EINVAL;
  const ctl = kctx.ctl;
  let p = procOfPidAny(ctl, pid);
  if (p < 0) {
    const t = threadOfTid(ctl, pid);
    if (t < 0) return -ESRCH;
    p = procOfThread(ctl, t);
  }
  if (Atomics.load(ctl.i32, procField(ctl, p, P_STATE)) === PS_ZOMBIE) return 0;
  return queueSignal(kctx, p, -1, sig, info, senderTix);
}

/** Send `sig` to thread `tid` (thread-directed: tkill/tgkill). 0, -ESRCH, -EINVAL. */
export function sendSignalToThread(kctx: KernelContext, tid: number, sig: number, info: SigInfo): number {
  if (!(Number.isInteger(sig) && sig >= 0 && sig <= NSIG)) return -EINVAL;
  const t = threadOfTid(kctx.ctl, tid);
  if (t < 0) return -ESRCH;
  return queueSignal(kctx, procOfThread(kctx.ctl, t), t, sig, info);
}
