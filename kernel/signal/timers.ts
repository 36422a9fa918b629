/**
 * The timer table: ITIMER_REAL (alarm, setitimer), POSIX timers (timer_create) and timerfds of
 * every process, in one region of ctl (kernel/signal/layout.ts TH_* / TM_*), and the one
 * mechanism that makes them fire — whichever hart notices first.
 *
 * How timers fire (docs/architecture.md "Timers"): there is no timer interrupt. Every hart calls
 * expireTimers() when it is idle (before it sleeps in Atomics.wait, whose timeout is then
 * bounded by the nearest deadline that expireTimers returns) and at every quantum end of a busy
 * thread. A racy look at TH_ARMED and TH_NEXT (earliest deadline) makes the call one load when
 * nothing is due; when something is, the table lock is taken, every due timer is advanced (a
 * periodic one by as many periods as passed, the extra ones counted as overruns) or disarmed,
 * TH_NEXT is recomputed, the lock dropped, and only then the signals are queued
 * (kernel/signal/send.ts postSignal: it interrupts a blocked target with -EINTR or restarts it
 * under SA_RESTART, kicks a running one). So a timer fires within one quantum or one idle
 * wake-up of its deadline, whatever the harts are doing, and exactly once: the advance happens
 * under the lock.
 *
 * Signals as Linux sends them:
 * - ITIMER_REAL: SIGALRM to the process, si_code SI_KERNEL; an expiry while the previous
 *   SIGALRM is still pending is lost (standard signals do not queue).
 * - POSIX timer, SIGEV_SIGNAL (to the process) or SIGEV_THREAD_ID (to one thread of it):
 *   si_code SI_TIMER, si_timerid, si_value; while its signal is pending (TM_QUEUED) further
 *   expiries only count (TM_OVERRUN); when the signal leaves the pending set (delivery or
 *   sigtimedwait: timerSignalTaken, under the process's signal lock) the count becomes
 *   si_overrun and timer_getoverrun's answer, and the timer may queue again. SIGEV_NONE: no
 *   signal, timer_gettime still counts down.
 * - timerfd: the expiry count grows (TM_TICKS), TM_SEQ is bumped and its readers are woken
 *   through `wake` (the scheduler's, passed by the hart; kernel/signal/timerfd.ts).
 *
 * Lifetime as Linux: timers belong to the process (its pid); fork does not copy them (the child
 * has another pid), execve deletes POSIX timers and keeps ITIMER_REAL (timersExec), and a
 * record whose owner is no longer a live process with that pid is freed by the next scan or
 * allocation (exit frees them without a hook into the process layer). The table has one record
 * per thread slot (sized from --memory); a full table is EAGAIN, like Linux's RLIMIT_SIGPENDING.
 */
import type { KernelContext } from '../context.ts';
import type { Ctl } from '../layout.ts';
import { SpinLock, type WhileWaiting } from '../sync/lock.ts';
import { P_EXITING, P_PID, P_STATE, PS_LIVE } from '../proc/layout.ts';
import { clockNs } from '../proc/sys-info.ts';
import { specialChanged } from '../fs/special.ts';
import { CLOCK_MONOTONIC, CLOCK_REALTIME } from '../linux-flags.ts';
import {
  TH_ARMED, TH_CPU_ARMED, TH_HIGH, TH_LOCK, TH_NEXT, TIMER_BYTES, TIMER_HEADER_BYTES, TK_ITIMER_PROF, TK_ITIMER_REAL,
  TK_ITIMER_VIRTUAL, TK_POSIX, TK_TIMERFD, TM_CLOCK,
  TM_DEADLINE, TM_ID, TM_INTERVAL, TM_KIND, TM_NOTIFY, TM_OVERRUN, TM_OVERRUN_LAST, TM_PID, TM_PROC, TM_QUEUED, TM_SIGNO,
  TM_SEQ, TM_STATE, TM_TICKS, TM_TID, TM_VALUE_HI, TM_VALUE_LO, TMS_ARMED, TMS_FREE, TMS_IDLE,
} from './layout.ts';
import type { SigInfo } from './sigframe.ts';
import { postSignal } from './send.ts';
import { procField, procOfThread, setTimerTakenHook, threadOfTid } from './state.ts';
import { SI_KERNEL, SI_TIMER, SIGALRM } from './signals.ts';

/** Linux SIGVTALRM / SIGPROF: what ITIMER_VIRTUAL / ITIMER_PROF send. */
export const SIGVTALRM = 26;
export const SIGPROF = 27;
/** True for the kinds that count CPU time, not a clock (TM_DEADLINE = CPU ns left). */
export const isCpuKind = (kind: number): boolean => kind === TK_ITIMER_VIRTUAL || kind === TK_ITIMER_PROF;

/** Kernel sigev_notify values (asm-generic/siginfo.h). */
export const SIGEV_SIGNAL = 0;
export const SIGEV_NONE = 1;
export const SIGEV_THREAD = 2;
export const SIGEV_THREAD_ID = 4;
/** Linux DELAYTIMER_MAX: the largest overrun count reported. */
export const DELAYTIMER_MAX = 0x7fffffff;
/** clock_realtime_alarm / clock_boottime_alarm (alarmtimer): treated as their plain clocks. */
export const CLOCK_BOOTTIME = 7;
export const CLOCK_REALTIME_ALARM = 8;
export const CLOCK_BOOTTIME_ALARM = 9;

/** CLOCK_MONOTONIC now, in ns (a double) — the clock every deadline is kept on. */
export function monoNs(): number {
  return Number(clockNs(CLOCK_MONOTONIC)!);
}

/** True for the clocks timers may be created on (no CPU-time clocks here: see kernel/signal/README.md). */
export function timerClockOk(clock: number): boolean {
  return clock === CLOCK_REALTIME || clock === CLOCK_MONOTONIC || clock === CLOCK_BOOTTIME
    || clock === CLOCK_REALTIME_ALARM || clock === CLOCK_BOOTTIME_ALARM;
}

/** An absolute time `ns` on `clock` as a monotonic deadline (REALTIME is shifted by its current offset). */
export function absToMono(clock: number, ns: number): number {
  if (clock === CLOCK_REALTIME || clock === CLOCK_REALTIME_ALARM) return monoNs() + (ns - Number(clockNs(CLOCK_REALTIME)!));
  return ns;
}

/** What a new record holds besides its owner. */
export interface TimerSpec {
  kind: number;
  id: number;
  clock: number;
  notify: number;
  signo: number;
  tid: number;
  value: bigint;
}

/** Worker-local view of the timer region of one ctl. */
export class TimerTable {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly lock: SpinLock;
  private readonly base: number;
  readonly max: number;

  constructor(readonly ctl: Ctl, whileWaiting?: WhileWaiting) {
    this.i32 = ctl.i32;
    this.f64 = ctl.f64;
    this.base = ctl.layout.timers / 4;
    this.max = ctl.layout.sched.maxThreads;
    this.lock = new SpinLock(this.i32, this.base + TH_LOCK, whileWaiting);
  }

  /** Word index of header field `f` / of field `f` of record `slot`. */
  hw(f: number): number { return this.base + f; }
  w(slot: number, f: number): number { return this.base + (TIMER_HEADER_BYTES + slot * TIMER_BYTES) / 4 + f; }
  /** f64 fields: TM_DEADLINE, TM_INTERVAL, TM_TICKS (word pairs at even indices). */
  get(slot: number, f: number): number { return this.f64[this.w(slot, f) / 2]!; }
  set(slot: number, f: number, v: number): void { this.f64[this.w(slot, f) / 2] = v; }
  state(slot: number): number { return this.i32[this.w(slot, TM_STATE)]!; }
  field(slot: number, f: number): number { return this.i32[this.w(slot, f)]!; }
  setField(slot: number, f: number, v: number): void { this.i32[this.w(slot, f)] = v; }
  get high(): number { return this.i32[this.hw(TH_HIGH)]!; }

  /**
   * Lock held: does record `slot`'s owner still exist (a live process with its pid, not
   * exiting)? A timerfd lives as long as its open file description (shared by dup and fork).
   */
  ownerLive(slot: number): boolean {
    if (this.field(slot, TM_KIND) === TK_TIMERFD) return true;
    const p = this.field(slot, TM_PROC), ctl = this.ctl;
    return Atomics.load(ctl.i32, procField(ctl, p, P_STATE)) === PS_LIVE && ctl.i32[procField(ctl, p, P_PID)] === this.field(slot, TM_PID)
      && ctl.i32[procField(ctl, p, P_EXITING)] === 0;
  }

  /** Lock held: free record `slot` (disarming it first). */
  free(slot: number): void {
    this.disarm(slot);
    this.i32.fill(0, this.w(slot, 0), this.w(slot, 0) + TIMER_BYTES / 4);
  }

  /** Lock held: free every record whose owner is gone; returns how many. */
  sweep(): number {
    let n = 0;
    for (let s = 0; s < this.high; s++) if (this.state(s) !== TMS_FREE && !this.ownerLive(s)) { this.free(s); n++; }
    return n;
  }

  /** Lock held: a new IDLE record for process slot `p` (pid `pid`), or -1 when the table is full. */
  alloc(p: number, pid: number, spec: TimerSpec): number {
    let slot = this.findFree();
    if (slot < 0 && this.sweep() > 0) slot = this.findFree();
    if (slot < 0) return -1;
    const i = this.i32;
    i.fill(0, this.w(slot, 0), this.w(slot, 0) + TIMER_BYTES / 4);
    i[this.w(slot, TM_PID)] = pid;
    i[this.w(slot, TM_PROC)] = p;
    i[this.w(slot, TM_ID)] = spec.id;
    i[this.w(slot, TM_KIND)] = spec.kind;
    i[this.w(slot, TM_CLOCK)] = spec.clock;
    i[this.w(slot, TM_NOTIFY)] = spec.notify;
    i[this.w(slot, TM_SIGNO)] = spec.signo;
    i[this.w(slot, TM_TID)] = spec.tid;
    i[this.w(slot, TM_VALUE_LO)] = Number(BigInt.asIntN(32, spec.value));
    i[this.w(slot, TM_VALUE_HI)] = Number(BigInt.asIntN(32, spec.value >> 32n));
    i[this.w(slot, TM_STATE)] = TMS_IDLE;
    if (slot >= this.high) i[this.hw(TH_HIGH)] = slot + 1;
    return slot;
  }

  private findFree(): number {
    for (let s = 0; s < this.max; s++) if (this.state(s) === TMS_FREE) return s;
    return -1;
  }

  /** Lock held: the record of process `pid` of kind `kind` with id `id` (a live owner only), or -1. */
  find(pid: number, kind: number, id: number): number {
    for (let s = 0; s < this.high; s++) {
      if (this.state(s) !== TMS_FREE && this.field(s, TM_PID) === pid && this.field(s, TM_KIND) === kind && this.field(s, TM_ID) === id) {
        return this.ownerLive(s) ? s : -1;
      }
    }
    return -1;
  }

  /** Lock held: the smallest POSIX timer id process `pid` does not use. */
  freeId(pid: number): number {
    const used = new Set<number>();
    for (let s = 0; s < this.high; s++) {
      if (this.state(s) !== TMS_FREE && this.field(s, TM_PID) === pid && this.field(s, TM_KIND) === TK_POSIX) used.add(this.field(s, TM_ID));
    }
    let id = 0;
    while (used.has(id)) id++;
    return id;
  }

  /**
   * Lock held: arm `slot` to expire at monotonic `deadline` ns, then every `interval` ns (0:
   * once). A CPU-time kind (ITIMER_VIRTUAL / ITIMER_PROF) takes `deadline` as CPU ns left.
   */
  arm(slot: number, deadline: number, interval: number): void {
    const cpu = isCpuKind(this.field(slot, TM_KIND));
    if (this.state(slot) !== TMS_ARMED) Atomics.add(this.i32, this.hw(cpu ? TH_CPU_ARMED : TH_ARMED), 1);
    this.i32[this.w(slot, TM_STATE)] = TMS_ARMED;
    this.set(slot, TM_DEADLINE, deadline);
    this.set(slot, TM_INTERVAL, interval);
    if (cpu) return;
    const next = this.hw(TH_NEXT) / 2;
    if (Atomics.load(this.i32, this.hw(TH_ARMED)) === 1 || deadline < this.f64[next]!) this.f64[next] = deadline;
  }

  /** Lock held: disarm `slot` (it stays allocated). */
  disarm(slot: number): void {
    if (this.state(slot) === TMS_ARMED) {
      Atomics.sub(this.i32, this.hw(isCpuKind(this.field(slot, TM_KIND)) ? TH_CPU_ARMED : TH_ARMED), 1);
      this.i32[this.w(slot, TM_STATE)] = TMS_IDLE;
    }
    this.set(slot, TM_DEADLINE, 0);
    this.set(slot, TM_INTERVAL, 0);
  }

  /** Lock held: [ns left until the next expiry (0 when disarmed), interval ns]. */
  remaining(slot: number, now = monoNs()): [number, number] {
    if (this.state(slot) !== TMS_ARMED) return [0, 0];
    const left = isCpuKind(this.field(slot, TM_KIND)) ? this.get(slot, TM_DEADLINE) : this.get(slot, TM_DEADLINE) - now;
    return [Math.max(1, left), this.get(slot, TM_INTERVAL)];
  }
}

const tables = new WeakMap<Ctl, TimerTable>();

/** The worker-local TimerTable of `kctx`'s ctl (made on first use). */
export function timerTable(kctx: KernelContext): TimerTable {
  let t = tables.get(kctx.ctl);
  if (!t) tables.set(kctx.ctl, (t = new TimerTable(kctx.ctl, kctx.whileWaiting)));
  return t;
}

/** A due expiry, collected under the lock, acted on after it. */
interface Fire {
  slot: number;
  kind: number;
  p: number;
  pid: number;
  id: number;
  tid: number;
  signo: number;
  info: SigInfo;
  expiries: number;
}

/** How an expiry wakes the readers blocked on a timerfd's ctl word `index` (the scheduler's wake). */
export type WordWake = (i32: Int32Array, index: number) => void;

/**
 * Fire every due timer (see the file comment). Cheap when nothing is due: two racy loads and a
 * clock read. Returns the ns until the earliest armed deadline after this scan (Infinity when
 * none is armed): the longest an idle hart may sleep.
 */
export function expireTimers(kctx: KernelContext, wake: WordWake | null = null): number {
  const t = timerTable(kctx);
  if (Atomics.load(t.i32, t.hw(TH_ARMED)) === 0) return Infinity;
  let now = monoNs();
  const next = t.f64[t.hw(TH_NEXT) / 2]!;
  if (now < next) return next - now;
  const fires: Fire[] = [];
  let earliest = Infinity;
  t.lock.lock();
  try {
    now = monoNs();
    for (let s = 0; s < t.high; s++) {
      if (t.state(s) !== TMS_ARMED || isCpuKind(t.field(s, TM_KIND))) continue;
      if (!t.ownerLive(s)) { t.free(s); continue; }
      const d = t.get(s, TM_DEADLINE), iv = t.get(s, TM_INTERVAL);
      if (d > now) { earliest = Math.min(earliest, d); continue; }
      let expiries = 1;
      if (iv > 0) {
        expiries = Math.floor((now - d) / iv) + 1;
        t.set(s, TM_DEADLINE, d + expiries * iv);
        earliest = Math.min(earliest, d + expiries * iv);
      } else {
        t.disarm(s);
      }
      const f = collect(t, s, expiries);
      if (f) fires.push(f);
    }
    t.f64[t.hw(TH_NEXT) / 2] = earliest;
  } finally {
    t.lock.unlock();
  }
  for (const f of fires) fire(kctx, t, f, wake);
  return earliest === Infinity ? Infinity : Math.max(0, earliest - monoNs());
}

/** Lock held: what `expiries` expiries of record `s` must do after the lock is dropped (null: only counted). */
function collect(t: TimerTable, s: number, expiries: number): Fire | null {
  const kind = t.field(s, TM_KIND);
  const base = { slot: s, kind, p: t.field(s, TM_PROC), pid: t.field(s, TM_PID), id: t.field(s, TM_ID), expiries };
  if (kind === TK_TIMERFD) {
    t.set(s, TM_TICKS, t.get(s, TM_TICKS) + expiries);
    Atomics.add(t.i32, t.w(s, TM_SEQ), 1);
    return { ...base, tid: -1, signo: 0, info: { signo: 0, code: 0 } };
  }
  if (kind === TK_ITIMER_REAL) return { ...base, tid: -1, signo: SIGALRM, info: { signo: SIGALRM, code: SI_KERNEL } };
  if (isCpuKind(kind)) {
    const signo = kind === TK_ITIMER_VIRTUAL ? SIGVTALRM : SIGPROF;
    return { ...base, tid: -1, signo, info: { signo, code: SI_KERNEL } };
  }
  const notify = t.field(s, TM_NOTIFY);
  if (notify === SIGEV_NONE) return null;
  if (t.field(s, TM_QUEUED)) {
    t.setField(s, TM_OVERRUN, Math.min(DELAYTIMER_MAX, t.field(s, TM_OVERRUN) + expiries));
    return null;
  }
  t.setField(s, TM_OVERRUN, Math.min(DELAYTIMER_MAX, t.field(s, TM_OVERRUN) + expiries - 1));
  t.setField(s, TM_QUEUED, 1);
  const value = (BigInt(t.field(s, TM_VALUE_HI) >>> 0) << 32n) | BigInt(t.field(s, TM_VALUE_LO) >>> 0);
  const signo = t.field(s, TM_SIGNO);
  return {
    ...base, tid: notify & SIGEV_THREAD_ID ? t.field(s, TM_TID) : -1, signo,
    info: { signo, code: SI_TIMER, timerid: base.id, overrun: 0, value },
  };
}

/** Lock not held: queue the signal of a due timer (or wake a timerfd's readers). */
function fire(kctx: KernelContext, t: TimerTable, f: Fire, wake: WordWake | null): void {
  if (f.kind === TK_TIMERFD) {
    const seq = t.w(f.slot, TM_SEQ);
    wake?.(t.i32, seq);
    // ... and its pollers (poll/select/epoll): a WordWake of word i wakes channel key -1 - i,
    // so channel key k is word -1 - k.
    specialChanged(kctx, seq, wake ? (key) => wake(t.i32, -1 - key) : null);
    return;
  }
  let tix = -1;
  if (f.tid >= 0) {
    tix = threadOfTid(kctx.ctl, f.tid);
    if (tix >= 0 && procOfThread(kctx.ctl, tix) !== f.p) tix = -1;
    if (tix < 0) return dequeued(t, f); // the target thread is gone: nothing to send to (Linux drops it)
  }
  if (!postSignal(kctx, f.p, tix, f.signo, f.info) && f.kind === TK_POSIX) dequeued(t, f);
}

/** The signal of POSIX timer `f` was not queued (ignored, already pending, no target): it may queue again. */
function dequeued(t: TimerTable, f: Fire): void {
  if (f.kind !== TK_POSIX) return;
  t.lock.lock();
  try {
    if (t.state(f.slot) !== TMS_FREE && t.field(f.slot, TM_PID) === f.pid && t.field(f.slot, TM_ID) === f.id) t.setField(f.slot, TM_QUEUED, 0);
  } finally {
    t.lock.unlock();
  }
}

/**
 * The hart charged `userNs` / `sysNs` of CPU time to a thread of process slot `p` (kernel/proc/
 * cputime.ts): count them down on the process's ITIMER_VIRTUAL (user) and ITIMER_PROF (user +
 * system), and send SIGVTALRM / SIGPROF for each that ran out (reloaded with its interval, as
 * many periods as the slice covered, or disarmed). One racy load when no such timer is armed.
 */
export function cpuTimersTick(kctx: KernelContext, p: number, userNs: number, sysNs: number): void {
  const t = timerTable(kctx);
  if (Atomics.load(t.i32, t.hw(TH_CPU_ARMED)) === 0) return;
  const ctl = kctx.ctl;
  const pid = ctl.i32[procField(ctl, p, P_PID)]!;
  const fires: Fire[] = [];
  t.lock.with(() => {
    for (let s = 0; s < t.high; s++) {
      if (t.state(s) !== TMS_ARMED || !isCpuKind(t.field(s, TM_KIND)) || t.field(s, TM_PID) !== pid || t.field(s, TM_PROC) !== p) continue;
      if (!t.ownerLive(s)) { t.free(s); continue; }
      let left = t.get(s, TM_DEADLINE) - (t.field(s, TM_KIND) === TK_ITIMER_VIRTUAL ? userNs : userNs + sysNs);
      if (left > 0) { t.set(s, TM_DEADLINE, left); continue; }
      const iv = t.get(s, TM_INTERVAL);
      let expiries = 1;
      if (iv > 0) {
        expiries = Math.floor(-left / iv) + 1;
        left += expiries * iv;
        t.set(s, TM_DEADLINE, left);
      } else {
        t.disarm(s);
      }
      fires.push(collect(t, s, expiries)!);
    }
  });
  for (const f of fires) fire(kctx, t, f, null);
}

// A POSIX timer's signal left a pending set (process p's signal lock held: lock order signal → table).
setTimerTakenHook((ctl, p, info) => {
  const t = tables.get(ctl) ?? new TimerTable(ctl);
  if (!tables.has(ctl)) tables.set(ctl, t);
  const pid = ctl.i32[procField(ctl, p, P_PID)]!;
  t.lock.lock();
  try {
    const s = t.find(pid, TK_POSIX, info.timerid!);
    if (s < 0) { info.overrun = 0; return; }
    const n = t.field(s, TM_OVERRUN);
    info.overrun = n;
    t.setField(s, TM_OVERRUN_LAST, n);
    t.setField(s, TM_OVERRUN, 0);
    t.setField(s, TM_QUEUED, 0);
  } finally {
    t.lock.unlock();
  }
});

/** execve in process slot `p` (pid `pid`): its POSIX timers are deleted; ITIMER_REAL and timerfds stay (Linux exit_itimers). */
export function timersExec(kctx: KernelContext, pid: number): void {
  const t = timerTable(kctx);
  t.lock.lock();
  try {
    for (let s = 0; s < t.high; s++) if (t.state(s) !== TMS_FREE && t.field(s, TM_PID) === pid && t.field(s, TM_KIND) === TK_POSIX) t.free(s);
  } finally {
    t.lock.unlock();
  }
}

/** Records in use in `ctl` (owners gone are swept first): what the leak checks of the tests count. Any thread. */
export function timersInUse(ctl: Ctl): number {
  const t = tables.get(ctl) ?? new TimerTable(ctl);
  t.lock.lock();
  try {
    t.sweep();
    let n = 0;
    for (let s = 0; s < t.high; s++) if (t.state(s) !== TMS_FREE) n++;
    return n;
  } finally {
    t.lock.unlock();
  }
}

export { TK_ITIMER_PROF, TK_ITIMER_REAL, TK_ITIMER_VIRTUAL, TK_POSIX, TK_TIMERFD };
