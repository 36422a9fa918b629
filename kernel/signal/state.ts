/**
 * Signal state in shared memory (kernel/signal/layout.ts): per process the action table and
 * the shared pending set, per thread the blocked mask, its own pending set and sigaltstack.
 * Any hart may run any thread, so nothing here is worker-local.
 *
 * SignalState is a worker-local view (no state of its own). Every method that reads or
 * changes a record runs with the owning process's lock held: `withProc(p, fn)` takes it and
 * claims the records first (a record whose ownership stamp is not the slot's current pid /
 * tid belongs to a dead process or thread and is reset — see the layout file).
 *
 * Masks are 64-bit bigints, bit (s - 1) for signal s (kernel/signal/signals.ts sigBit).
 */
import type { Ctl } from '../layout.ts';
import { SpinLock, type WhileWaiting } from '../sync/lock.ts';
import {
  P_PID, P_STATE, PROC_BYTES, PS_LIVE, T_FLAGS, T_LAST_HART, T_PROC, T_STATE, T_TID, THREAD_BYTES, TS_BLOCKED, TS_FREE,
  TS_DEAD, TS_EMBRYO,
} from '../proc/layout.ts';
import type { SigInfo } from './sigframe.ts';
import {
  A_FLAGS, A_HANDLER, A_MASK, ACTION_WORDS, I_ADDR_HI, I_ADDR_LO, I_CODE, I_ERRNO, I_KIND, I_PID, I_STATUS, I_UID,
  IK_ADDR, IK_PID, IK_STATUS, IK_TIMER, IK_VALUE, INFO_WORDS, SIGPROC_BYTES, SIGTHREAD_BYTES, SP_ACTIONS, SP_INFOS, SP_LOCK,
  SP_PEND_HI, SP_PEND_LO, SP_PID, ST_ALT_FLAGS, ST_ALT_SIZE_HI, ST_ALT_SIZE_LO, ST_ALT_SP_HI, ST_ALT_SP_LO, ST_BLK_HI,
  ST_BLK_LO, ST_HAS_SAVED, ST_INFOS, ST_PEND_HI, ST_PEND_LO, ST_SAVED_HI, ST_SAVED_LO, ST_SEQ, ST_TID, ST_TWAIT_LO,
} from './layout.ts';
import { NSIG, SA_NOCLDWAIT, SIGCHLD, SIG_DFL, SIG_IGN, SIGRTMIN, SS_DISABLE, UNBLOCKABLE, defaultAction, sigBit } from './signals.ts';
import type { AltStack } from './sigframe.ts';
import type { ChildDisposition } from '../proc/sys-proc-table.ts';

export const ALL_SIGNALS = (1n << BigInt(NSIG)) - 1n;

/** One sigaction as the kernel keeps it. */
export interface SigAction {
  handler: bigint;
  flags: number;
  mask: bigint;
}
export const DEFAULT_ACTION: Readonly<SigAction> = Object.freeze({ handler: SIG_DFL, flags: 0, mask: 0n });

// ---- the process and thread tables, read from kernel/ (scheduler/ owns them) ----

/** Word index of thread `tix`'s scheduler field `f`. */
export const threadField = (ctl: Ctl, tix: number, f: number): number => (ctl.layout.threads + tix * THREAD_BYTES) / 4 + f;
/** Word index of process slot `p`'s scheduler field `f`. */
export const procField = (ctl: Ctl, p: number, f: number): number => (ctl.layout.processes + p * PROC_BYTES) / 4 + f;
/** Thread `tix`'s process slot. */
export const procOfThread = (ctl: Ctl, tix: number): number => ctl.i32[threadField(ctl, tix, T_PROC)]!;
export const tidOf = (ctl: Ctl, tix: number): number => ctl.i32[threadField(ctl, tix, T_TID)]!;
export const pidOf = (ctl: Ctl, p: number): number => ctl.i32[procField(ctl, p, P_PID)]!;
export const threadState = (ctl: Ctl, tix: number): number => Atomics.load(ctl.i32, threadField(ctl, tix, T_STATE));
export const threadFlags = (ctl: Ctl, tix: number): number => Atomics.load(ctl.i32, threadField(ctl, tix, T_FLAGS));
export const lastHartOf = (ctl: Ctl, tix: number): number => ctl.i32[threadField(ctl, tix, T_LAST_HART)]!;

/** True when thread slot `tix` holds a thread that can still receive signals. */
export function threadLive(ctl: Ctl, tix: number): boolean {
  const s = threadState(ctl, tix);
  return s !== TS_FREE && s !== TS_DEAD && s !== TS_EMBRYO;
}
/** True when the thread waits on a wait channel (blocked in a syscall). */
export const threadBlocked = (ctl: Ctl, tix: number): boolean => threadState(ctl, tix) === TS_BLOCKED;

/** Thread slot of live thread `tid`, or -1. */
export function threadOfTid(ctl: Ctl, tid: number): number {
  for (let tix = 0; tix < ctl.layout.sched.maxThreads; tix++) if (tidOf(ctl, tix) === tid && threadLive(ctl, tix)) return tix;
  return -1;
}
/** Process slot of live process `pid` (not a zombie), or -1. */
export function liveProcOfPid(ctl: Ctl, pid: number): number {
  for (let p = 0; p < ctl.layout.sched.maxProcesses; p++) {
    if (Atomics.load(ctl.i32, procField(ctl, p, P_STATE)) === PS_LIVE && pidOf(ctl, p) === pid) return p;
  }
  return -1;
}
/** Live thread slots of process slot `p`, in slot order. */
export function threadsOfProc(ctl: Ctl, p: number): number[] {
  const out: number[] = [];
  for (let tix = 0; tix < ctl.layout.sched.maxThreads; tix++) if (threadLive(ctl, tix) && procOfThread(ctl, tix) === p) out.push(tix);
  return out;
}

// ---- 64-bit words ----
const get64 = (i32: Int32Array, w: number): bigint => (BigInt(i32[w + 1]! >>> 0) << 32n) | BigInt(i32[w]! >>> 0);
function set64(i32: Int32Array, w: number, v: bigint): void {
  i32[w] = Number(BigInt.asIntN(32, v));
  i32[w + 1] = Number(BigInt.asIntN(32, v >> 32n));
}

/** Worker-local view of the signal regions of `ctl`. */
export class SignalState {
  readonly ctl: Ctl;
  private readonly i32: Int32Array;
  private readonly locks = new Map<number, SpinLock>();
  constructor(ctl: Ctl, private readonly whileWaiting?: WhileWaiting) {
    this.ctl = ctl;
    this.i32 = ctl.i32;
  }

  /** Word index of process slot p's signal field f / thread tix's. */
  pw(p: number, f: number): number { return (this.ctl.layout.sigProcs + p * SIGPROC_BYTES) / 4 + f; }
  tw(tix: number, f: number): number { return (this.ctl.layout.sigThreads + tix * SIGTHREAD_BYTES) / 4 + f; }

  private lockOf(p: number): SpinLock {
    let l = this.locks.get(p);
    if (!l) this.locks.set(p, (l = new SpinLock(this.i32, this.pw(p, SP_LOCK), this.whileWaiting)));
    return l;
  }

  /**
   * Run `fn` with process slot `p`'s signal lock held, its record claimed for its current pid
   * (reset when stale). Thread records are claimed by `claimThread` inside.
   */
  withProc<T>(p: number, fn: () => T): T {
    const lock = this.lockOf(p);
    lock.lock();
    try {
      const pid = pidOf(this.ctl, p);
      if (this.i32[this.pw(p, SP_PID)] !== pid) this.resetProc(p, pid);
      return fn();
    } finally {
      lock.unlock();
    }
  }

  /** Lock held: make thread `tix`'s record its own (reset when stale). */
  claimThread(tix: number): void {
    const tid = tidOf(this.ctl, tix);
    if (this.i32[this.tw(tix, ST_TID)] !== tid) this.resetThread(tix, tid);
  }

  private resetProc(p: number, pid: number): void {
    const b = this.pw(p, 0);
    this.i32.fill(0, b + SP_PEND_LO, b + SIGPROC_BYTES / 4);
    this.i32[b + SP_PID] = pid;
  }

  private resetThread(tix: number, tid: number): void {
    const b = this.tw(tix, 0);
    const seq = Atomics.load(this.i32, b + ST_SEQ); // keep: a blocked waiter compares it
    this.i32.fill(0, b + 1, b + SIGTHREAD_BYTES / 4);
    this.i32[b + ST_SEQ] = seq;
    this.i32[b + ST_ALT_FLAGS] = SS_DISABLE;
    this.i32[b + ST_TID] = tid;
  }

  // ---- actions (lock held) ----
  action(p: number, sig: number): SigAction {
    const w = this.pw(p, SP_ACTIONS + (sig - 1) * ACTION_WORDS);
    return { handler: get64(this.i32, w + A_HANDLER), flags: this.i32[w + A_FLAGS]! >>> 0, mask: get64(this.i32, w + A_MASK) };
  }
  setAction(p: number, sig: number, a: SigAction): void {
    const w = this.pw(p, SP_ACTIONS + (sig - 1) * ACTION_WORDS);
    set64(this.i32, w + A_HANDLER, a.handler);
    this.i32[w + A_FLAGS] = a.flags | 0;
    set64(this.i32, w + A_MASK, a.mask & ~UNBLOCKABLE & ALL_SIGNALS);
  }
  /** Linux sig_ignored (for a signal that is not blocked): SIG_IGN, or SIG_DFL whose default is to ignore. */
  ignored(p: number, sig: number): boolean {
    const h = get64(this.i32, this.pw(p, SP_ACTIONS + (sig - 1) * ACTION_WORDS) + A_HANDLER);
    if (h === SIG_IGN) return true;
    return h === SIG_DFL && (defaultAction(sig) === 'ignore' || defaultAction(sig) === 'cont' || defaultAction(sig) === 'stop');
  }

  /**
   * What process slot p does with a child that dies (see ChildDisposition): SIGCHLD SIG_IGN
   * frees it and sends nothing, SA_NOCLDWAIT frees it and still signals. Lock-free read; a record not yet claimed by p's process (stale
   * from an earlier one) counts as the default action.
   */
  childDisposition(p: number): ChildDisposition {
    if (this.i32[this.pw(p, SP_PID)] !== pidOf(this.ctl, p)) return 'zombie';
    const a = this.action(p, SIGCHLD);
    if (a.handler === SIG_IGN) return 'reap-silent';
    return (a.flags & SA_NOCLDWAIT) !== 0 ? 'reap' : 'zombie';
  }

  // ---- masks and pending sets (lock held, thread claimed) ----
  blocked(tix: number): bigint { return get64(this.i32, this.tw(tix, ST_BLK_LO)); }
  setBlocked(tix: number, m: bigint): void { set64(this.i32, this.tw(tix, ST_BLK_LO), m & ~UNBLOCKABLE & ALL_SIGNALS); }
  threadPending(tix: number): bigint { return get64(this.i32, this.tw(tix, ST_PEND_LO)); }
  procPending(p: number): bigint { return get64(this.i32, this.pw(p, SP_PEND_LO)); }

  /** The set thread tix waits for in rt_sigtimedwait (0n when not waiting). */
  timedWaitSet(tix: number): bigint { return get64(this.i32, this.tw(tix, ST_TWAIT_LO)); }
  setTimedWaitSet(tix: number, m: bigint): void { set64(this.i32, this.tw(tix, ST_TWAIT_LO), m); }

  /** sigsuspend's saved mask, or null. */
  savedMask(tix: number): bigint | null {
    return this.i32[this.tw(tix, ST_HAS_SAVED)] ? get64(this.i32, this.tw(tix, ST_SAVED_LO)) : null;
  }
  setSavedMask(tix: number, m: bigint | null): void {
    this.i32[this.tw(tix, ST_HAS_SAVED)] = m === null ? 0 : 1;
    set64(this.i32, this.tw(tix, ST_SAVED_LO), m ?? 0n);
  }

  /**
   * Queue `sig` with `info` on thread `tix` (or, when tix < 0, on process slot p's shared set).
   * A standard signal already pending is not queued twice (its first siginfo stays); real-time
   * signals do not queue either here (one slot each). Returns false when it was already pending.
   */
  addPending(p: number, tix: number, sig: number, info: SigInfo): boolean {
    const pendW = tix >= 0 ? this.tw(tix, ST_PEND_LO) : this.pw(p, SP_PEND_LO);
    const set = get64(this.i32, pendW);
    const bit = sigBit(sig);
    if (set & bit) return false;
    set64(this.i32, pendW, set | bit);
    this.writeInfo((tix >= 0 ? this.tw(tix, ST_INFOS) : this.pw(p, SP_INFOS)) + (sig - 1) * INFO_WORDS, info);
    if (tix >= 0) Atomics.add(this.i32, this.tw(tix, ST_SEQ), 1);
    return true;
  }

  /** Remove `sig` from thread tix's pending set if there, else from the shared set; its siginfo, or null when pending in neither. */
  takePending(p: number, tix: number, sig: number): SigInfo | null {
    const bit = sigBit(sig);
    for (const [pendW, infos] of [[this.tw(tix, ST_PEND_LO), this.tw(tix, ST_INFOS)], [this.pw(p, SP_PEND_LO), this.pw(p, SP_INFOS)]] as const) {
      const set = get64(this.i32, pendW);
      if ((set & bit) === 0n) continue;
      set64(this.i32, pendW, set & ~bit);
      const info = this.readInfo(infos + (sig - 1) * INFO_WORDS, sig);
      if (info.timerid !== undefined) timerSignalTaken(this.ctl, p, info); // si_overrun, and the timer may queue again
      return info;
    }
    return null;
  }

  /** Drop `sig` from every pending set of process p (a handler set to SIG_IGN, Linux flush_sigqueue_mask). */
  discard(p: number, sig: number): void {
    const bit = sigBit(sig);
    set64(this.i32, this.pw(p, SP_PEND_LO), this.procPending(p) & ~bit);
    for (const tix of threadsOfProc(this.ctl, p)) {
      if (this.i32[this.tw(tix, ST_TID)] !== tidOf(this.ctl, tix)) continue;
      set64(this.i32, this.tw(tix, ST_PEND_LO), this.threadPending(tix) & ~bit);
    }
  }

  // ---- sigaltstack (lock held, thread claimed) ----
  altStack(tix: number): AltStack {
    return {
      sp: get64(this.i32, this.tw(tix, ST_ALT_SP_LO)),
      size: get64(this.i32, this.tw(tix, ST_ALT_SIZE_LO)),
      flags: this.i32[this.tw(tix, ST_ALT_FLAGS)]!,
    };
  }
  setAltStack(tix: number, a: AltStack): void {
    set64(this.i32, this.tw(tix, ST_ALT_SP_LO), a.sp);
    set64(this.i32, this.tw(tix, ST_ALT_SIZE_LO), a.size);
    this.i32[this.tw(tix, ST_ALT_FLAGS)] = a.flags | 0;
  }

  /** Index of thread tix's wake-up word (ST_SEQ; Atomics only). */
  seqIndex(tix: number): number { return this.tw(tix, ST_SEQ); }

  /**
   * Racy, lock-free: might thread `tix` of process `p` have a signal to take (pending and
   * not blocked, or anything pending for a stale record)? The hart's pre-quantum check.
   */
  mayHaveWork(p: number, tix: number): boolean {
    const i = this.i32;
    const t = this.tw(tix, 0), q = this.pw(p, 0);
    const lo = (i[t + ST_PEND_LO]! | i[q + SP_PEND_LO]!) & ~i[t + ST_BLK_LO]!;
    const hi = (i[t + ST_PEND_HI]! | i[q + SP_PEND_HI]!) & ~i[t + ST_BLK_HI]!;
    return (lo | hi | i[t + ST_HAS_SAVED]!) !== 0;
  }

  private writeInfo(w: number, info: SigInfo): void {
    const i = this.i32;
    i.fill(0, w, w + INFO_WORDS);
    i[w + I_CODE] = info.code;
    i[w + I_ERRNO] = info.errno ?? 0;
    let kind = 0;
    if (info.addr !== undefined) { kind |= IK_ADDR; set64(i, w + I_ADDR_LO, info.addr); }
    if (info.value !== undefined) { kind |= IK_VALUE; set64(i, w + I_ADDR_LO, info.value); }
    if (info.pid !== undefined) { kind |= IK_PID; i[w + I_PID] = info.pid; i[w + I_UID] = info.uid ?? 0; }
    if (info.status !== undefined) { kind |= IK_STATUS; i[w + I_STATUS] = info.status; }
    if (info.timerid !== undefined) { kind |= IK_TIMER; i[w + I_PID] = info.timerid; i[w + I_UID] = info.overrun ?? 0; }
    i[w + I_KIND] = kind;
  }

  private readInfo(w: number, sig: number): SigInfo {
    const i = this.i32;
    const kind = i[w + I_KIND]!;
    const info: SigInfo = { signo: sig, code: i[w + I_CODE]! };
    if (i[w + I_ERRNO]) info.errno = i[w + I_ERRNO]!;
    if (kind & IK_ADDR) info.addr = get64(i, w + I_ADDR_LO);
    if (kind & IK_VALUE) info.value = get64(i, w + I_ADDR_LO);
    if (kind & IK_PID) { info.pid = i[w + I_PID]!; info.uid = i[w + I_UID]!; }
    if (kind & IK_STATUS) info.status = i[w + I_STATUS]!;
    if (kind & IK_TIMER) { info.timerid = i[w + I_PID]!; info.overrun = i[w + I_UID]!; }
    return info;
  }

  // ---- fork / clone / exec (the process engineer's hooks) ----

  /**
   * A new thread `childTix` was made by thread `parentTix` (clone, fork): it inherits the
   * blocked mask (and, for fork — a new process `childP` — the action table too; for a thread
   * with CLONE_VM the altstack is cleared, for fork it is kept, as Linux does). Nothing is
   * pending in the child. Call before the child first runs; parentTix < 0 = no parent (spawn).
   */
  inheritSignals(parentTix: number, childTix: number, childP: number, forkProcess: boolean): void {
    const ctl = this.ctl;
    const parentP = parentTix >= 0 ? procOfThread(ctl, parentTix) : -1;
    let blocked = 0n, alt: AltStack | null = null;
    let actions: Int32Array | null = null;
    if (parentP >= 0) {
      this.withProc(parentP, () => {
        this.claimThread(parentTix);
        blocked = this.blocked(parentTix);
        if (forkProcess) {
          alt = this.altStack(parentTix);
          actions = this.i32.slice(this.pw(parentP, SP_ACTIONS), this.pw(parentP, SP_INFOS));
        }
      });
    }
    this.withProc(childP, () => {
      this.resetThread(childTix, tidOf(ctl, childTix));
      this.setBlocked(childTix, blocked);
      if (alt) this.setAltStack(childTix, alt);
      if (actions) this.i32.set(actions, this.pw(childP, SP_ACTIONS));
    });
  }

  /**
   * execve in thread `tix` of process `p` (Linux flush_signal_handlers + sas reset): caught
   * signals go back to SIG_DFL (ignored ones stay ignored), flags and masks are cleared, the
   * altstack is dropped; the blocked mask and pending signals survive.
   */
  execSignals(p: number, tix: number): void {
    this.withProc(p, () => {
      this.claimThread(tix);
      for (let sig = 1; sig <= NSIG; sig++) {
        const a = this.action(p, sig);
        this.setAction(p, sig, { handler: a.handler === SIG_IGN ? SIG_IGN : SIG_DFL, flags: 0, mask: 0n });
      }
      this.setAltStack(tix, { sp: 0n, size: 0n, flags: SS_DISABLE });
    });
  }
}

/**
 * Called with process `p`'s signal lock held when a POSIX timer's signal (SI_TIMER) leaves a
 * pending set (delivery or sigtimedwait): fills in info.overrun and lets the timer queue its
 * signal again (kernel/signal/timers.ts installs it; Linux posixtimer_rearm / it_overrun_last).
 */
export type TimerTakenHook = (ctl: Ctl, p: number, info: SigInfo) => void;
let timerSignalTaken: TimerTakenHook = () => {};
/** Install the timer table's dequeue hook (kernel/signal/timers.ts, at import time). */
export function setTimerTakenHook(fn: TimerTakenHook): void {
  timerSignalTaken = fn;
}

/** Real-time signals (SIGRTMIN..) are queued by number order after the standard ones. */
export const isRealtime = (sig: number): boolean => sig >= SIGRTMIN;
