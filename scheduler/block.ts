/**
 * Blocking and waking threads on wait channels — what the ABI builds futex, wait4 and pipes on.
 *
 * A channel (kernel/syscall.ts WaitChannel) is a key plus a word. Keys hash to one of
 * WAIT_BUCKETS buckets in ctl (kernel/proc/layout.ts WB_*); each bucket is a SpinLock and a
 * list of blocked threads linked through their records (T_WAIT_NEXT, index + 1; 0 ends).
 *
 * No lost wake-ups (Linux's futex hash-bucket argument):
 *   blocker: save registers; lock bucket; if word !== expected → unlock, -EAGAIN;
 *            else link itself, state BLOCKED; unlock; give up the hart.
 *   waker:   change the word (its own business, before calling wake); lock bucket; unlink up to
 *            `count` threads with the key, a0 := 0, enqueue them; unlock.
 * The check and the link happen under the lock the waker must take, so a waker either runs
 * before the check (the blocker sees the new word and does not sleep) or after the link (it
 * finds the blocker). The blocker's registers are saved before it becomes BLOCKED, so the
 * hart the waker hands it to restores the right state even while the blocking hart is still
 * on its way out of the syscall.
 *
 * Restartable blocks (BlockOptions.restart — Linux's -ERESTARTSYS): the thread is saved with pc
 * back on its ecall and its argument registers untouched; a plain wake re-runs the whole
 * syscall with the original arguments, which re-checks its condition (pipes, wait4). Being
 * cancelled (-EINTR, -ETIMEDOUT) instead returns that errno from the ecall. A sleep
 * (BlockOptions.sleep: nanosleep) turns its timeout into success (a0 := 0) and a cancel into
 * -EINTR with the time left kept for its rem (TF_SLEEP_INTR, written at switch-in); a poll
 * (BlockOptions.poll, restartable: the host's stdin) turns it into a re-run of the syscall.
 *
 * A restart record of -1 (T_RESTART_DONE, set by kernel/fs/pollwait.ts for poll, select and
 * epoll_wait) marks a call a signal never restarts: cancel turns a signal's plain restart (a0 0,
 * SA_RESTART) into -EINTR for it, and keeps the record across a poll timeout's re-run.
 * requeue() moves waiters between keys without waking them (FUTEX_(CMP_)REQUEUE).
 *
 * Timeouts: a thread blocked with a deadline is counted in SH_TIMED; harts call
 * expireTimeouts() when idle and between quanta; an expired thread gets -ETIMEDOUT.
 * cancel() takes a blocked thread off its bucket with -EINTR (process exit / kill).
 */
import type { Hart } from '../cpu/hart.ts';
import type { Ctl } from '../kernel/layout.ts';
import { SpinLock, type WhileWaiting } from '../kernel/sync/lock.ts';
import {
  BUCKET_BYTES, SH_TIMED, T_SLEEP_END, T_WAIT_BITSET, T_WAIT_KEY, TF_POLL, TF_RESTART, TF_SLEEP, TF_SLEEP_INTR, TS_BLOCKED, WAIT_BUCKETS, WB_HEAD, WB_LOCK,
} from '../kernel/proc/layout.ts';
import { EAGAIN, EINTR } from '../kernel/errno.ts';
import { inject, INJ } from '../kernel/lab/inject.ts';
import { monotonicMs } from '../kernel/proc/sys-info.ts';
import { NO_RETURN, type BlockOptions, type WaitChannel } from '../kernel/syscall.ts';
import type { RunQueues } from './runqueue.ts';
import type { ThreadTable } from './threads.ts';

/** Linux ETIMEDOUT (kernel/errno.ts does not list it yet). */
export const ETIMEDOUT = 110;
const A0 = 10;

/** A channel on a 32-bit word of RAM at physical address `pa` (futexes). */
export function ramChannel(ramI32: Int32Array, pa: number): WaitChannel {
  if (pa % 4 !== 0) throw new Error(`ramChannel: pa ${pa} is not 4-byte aligned`);
  return { key: pa, i32: ramI32, index: pa / 4 };
}

/** A channel on ctl word `index` (kernel objects: process exit, pipes). */
export function ctlChannel(ctl: Ctl, index: number): WaitChannel {
  return { key: -1 - index, i32: ctl.i32, index };
}

/**
 * Monotonic milliseconds shared by every worker (deadlines): the host's CLOCK_MONOTONIC, the
 * same clock on every hart, so a deadline set on one hart expires on time on another
 * (kernel/proc/sys-info.ts monotonicMs; nanosleep's T_SLEEP_END uses it too).
 */
export const nowMs = monotonicMs;

/**
 * Told of a thread cancel() takes off its wait (kernel/fs/fifo.ts: a parked FIFO open holds an
 * end it must drop). take() runs under the bucket lock, before the thread can run again, and
 * may only use atomics; drop() gets take()'s token after the lock is released.
 */
export interface CancelHook {
  take(tix: number): number;
  drop(token: number): void;
}

export class WaitQueues {
  /** See CancelHook (set once by the hart that owns this instance). */
  cancelHook: CancelHook | null = null;
  private readonly i32: Int32Array;
  private readonly base: number;
  private readonly locks: SpinLock[] = [];
  private readonly timed: number;

  constructor(private readonly ctl: Ctl, private readonly threads: ThreadTable, private readonly rq: RunQueues, whileWaiting?: WhileWaiting) {
    this.i32 = ctl.i32;
    this.base = ctl.layout.waitBuckets / 4;
    this.timed = ctl.layout.schedHeader / 4 + SH_TIMED;
    for (let b = 0; b < WAIT_BUCKETS; b++) this.locks.push(new SpinLock(this.i32, this.bw(b) + WB_LOCK, whileWaiting));
  }

  private bw(b: number): number {
    return this.base + (b * BUCKET_BYTES) / 4;
  }

  /** Bucket of channel key `key`. */
  static bucketOf(key: number): number {
    const k = Math.abs(key) % 2 ** 31;
    return (Math.imul(k ^ (k >>> 12), 0x9e3779b1) >>> 24) % WAIT_BUCKETS;
  }

  /**
   * Block thread `tix`, running on `hart`, on `chan` unless its word !== expected. Saves the
   * thread's registers first. Returns -EAGAIN (nothing changed; the thread keeps running) or
   * NO_RETURN: the thread is BLOCKED and belongs to the wait queue — the caller must drop it
   * from the hart without touching its record again.
   */
  block(tix: number, hart: Hart, chan: WaitChannel, expected: number, timeoutNs?: number, o: BlockOptions = {}): number | typeof NO_RETURN {
    const t = this.threads;
    t.save(tix, hart);
    if (!o.restart) t.setReg(tix, A0, 0n); // the result when woken
    const b = WaitQueues.bucketOf(chan.key);
    const lock = this.locks[b]!;
    lock.lock();
    if (Atomics.load(chan.i32, chan.index) !== expected) {
      lock.unlock();
      return -EAGAIN;
    }
    const deadline = timeoutNs !== undefined && timeoutNs >= 0 ? nowMs() + timeoutNs / 1e6 : 0;
    t.setDeadline(tix, deadline);
    if (o.restart) t.setPc(tix, hart.pc - 4); // back on the ecall (always 4 bytes)
    const mode = (o.restart ? TF_RESTART : 0) | (o.sleep ? TF_SLEEP : 0) | (o.restart && o.poll ? TF_POLL : 0);
    if (mode) t.setFlags(tix, t.flags(tix) | mode);
    this.i32[t.w(tix, T_WAIT_BITSET)] = o.bitset ?? -1;
    this.ctl.f64[t.w(tix, T_WAIT_KEY) / 2] = chan.key;
    t.setWaitBucket(tix, b);
    t.setWaitNext(tix, this.i32[this.bw(b) + WB_HEAD]!);
    this.i32[this.bw(b) + WB_HEAD] = tix + 1;
    if (deadline) Atomics.add(this.i32, this.timed, 1);
    t.setState(tix, TS_BLOCKED); // hands the thread to the wait queue
    lock.unlock();
    return NO_RETURN;
  }

  /**
   * Wake up to `count` threads blocked on key `key` whose futex bitset shares a bit with
   * `bitset` (a0 := 0, or a restart); returns how many. `hartId` = where to queue them by default.
   */
  wake(key: number, count: number, hartId: number, bitset = -1): number {
    const b = WaitQueues.bucketOf(key);
    const lock = this.locks[b]!;
    let woken = 0;
    lock.lock();
    try {
      let prev = -1;
      let cur = this.i32[this.bw(b) + WB_HEAD]! - 1;
      while (cur >= 0 && woken < count) {
        const next = this.threads.waitNext(cur) - 1;
        if (this.ctl.f64[this.threads.w(cur, T_WAIT_KEY) / 2] === key && (this.i32[this.threads.w(cur, T_WAIT_BITSET)]! & bitset) !== 0) {
          this.unlink(b, prev, cur, next);
          this.ready(cur, 0, hartId);
          woken++;
        } else {
          prev = cur;
        }
        cur = next;
      }
    } finally {
      lock.unlock();
    }
    return woken;
  }

  /**
   * FUTEX_(CMP_)REQUEUE (SchedOps.requeue): both buckets locked (lower index first), the
   * compare of from's word under them, then up to `nrWake` waiters of from.key woken and up to
   * `nrRequeue` more re-keyed to `to` and moved to its bucket, still blocked. -EAGAIN when the
   * word is not `expected`; else woken + moved.
   */
  requeue(from: WaitChannel, expected: number | null, to: number, nrWake: number, nrRequeue: number, hartId: number): number {
    const b1 = WaitQueues.bucketOf(from.key), b2 = WaitQueues.bucketOf(to);
    const first = this.locks[Math.min(b1, b2)]!, second = b1 === b2 ? null : this.locks[Math.max(b1, b2)]!;
    first.lock();
    second?.lock();
    try {
      if (expected !== null && Atomics.load(from.i32, from.index) !== expected) return -EAGAIN;
      let woken = 0, moved = 0;
      let prev = -1;
      let cur = this.i32[this.bw(b1) + WB_HEAD]! - 1;
      const keyW = (tix: number): number => this.threads.w(tix, T_WAIT_KEY) / 2;
      while (cur >= 0 && (woken < nrWake || moved < nrRequeue)) {
        const next = this.threads.waitNext(cur) - 1;
        if (this.ctl.f64[keyW(cur)] !== from.key) { prev = cur; cur = next; continue; }
        if (woken < nrWake) {
          this.unlink(b1, prev, cur, next);
          this.ready(cur, 0, hartId);
          woken++;
        } else {
          this.ctl.f64[keyW(cur)] = to;
          if (b1 !== b2) { // off b1 (its deadline stays: unlink's timed count is undone), onto b2
            const deadline = this.threads.deadline(cur);
            this.unlink(b1, prev, cur, next);
            if (deadline > 0) { this.threads.setDeadline(cur, deadline); Atomics.add(this.i32, this.timed, 1); }
            this.threads.setWaitBucket(cur, b2);
            this.threads.setWaitNext(cur, this.i32[this.bw(b2) + WB_HEAD]!);
            this.i32[this.bw(b2) + WB_HEAD] = cur + 1;
          } else {
            prev = cur;
          }
          moved++;
        }
        cur = next;
      }
      return woken + moved;
    } finally {
      second?.unlock();
      first.unlock();
    }
  }

  /**
   * Take blocked thread `tix` off its bucket with a0 := `a0` and queue it; false if it was not
   * blocked. A restartable syscall that recorded progress (ThreadTable.setRestartDone) returns
   * that count instead, whatever `a0` says. With `expiredBy` (a timeout, the nowMs reading it
   * was found expired at) only a wait whose own deadline has passed by then is cancelled;
   * with `stillWanted` (asked under the bucket lock; it must take no lock) only while it says so.
   */
  cancel(tix: number, a0: number, hartId: number, expiredBy?: number, stillWanted?: () => boolean): boolean {
    const b = this.threads.waitBucket(tix);
    if (b < 0) return false;
    const lock = this.locks[b]!;
    let token = 0, result = 0;
    lock.lock();
    try {
      if (this.threads.state(tix) !== TS_BLOCKED || this.threads.waitBucket(tix) !== b) return false;
      if (expiredBy !== undefined) {
        // A timeout: the deadline read without the lock may belong to an earlier wait the
        // thread has left since (woken, run, blocked again — perhaps with no deadline at all).
        const d = this.threads.deadline(tix);
        if (!(d > 0 && d <= expiredBy)) return false;
      }
      if (stillWanted && !stillWanted()) return false; // e.g. the signal that asked was taken meanwhile
      let prev = -1;
      for (let cur = this.i32[this.bw(b) + WB_HEAD]! - 1; cur >= 0; prev = cur, cur = this.threads.waitNext(cur) - 1) {
        if (cur !== tix) continue;
        this.unlink(b, prev, cur, this.threads.waitNext(cur) - 1);
        // A restartable syscall that already moved bytes returns them when interrupted
        // (Linux pipe_write: a signal after progress gives the partial count, SA_RESTART or not).
        // A poll's timeout re-runs the syscall: its restart record (kernel/fs/pollwait.ts) stays.
        const rerun = (this.threads.flags(cur) & TF_POLL) !== 0 && a0 === -ETIMEDOUT;
        const done = rerun ? 0 : this.threads.takeAnyRestartDone(cur);
        // -1 marks a call that a signal never restarts (poll, select, epoll_wait: signal(7)):
        // a signal's plain restart (a0 0, SA_RESTART) becomes -EINTR for it.
        if (done === -1 && a0 === 0) a0 = -EINTR;
        if (this.cancelHook && !rerun) token = this.cancelHook.take(cur);
        result = done > 0 ? done : a0;
        // With something to drop (a FIFO end the wait held), the thread runs only after the
        // drop: else it could go on (a writer's open, say) and still find its own end there.
        if (token === 0) this.ready(cur, result, hartId);
        return true;
      }
      return false;
    } finally {
      lock.unlock();
      if (token !== 0) {
        // Off its bucket, still TS_BLOCKED: no wake or cancel can reach it until ready().
        inject(this.ctl, INJ['sched.before-cancel-drop']);
        this.cancelHook?.drop(token);
        this.ready(tix, result, hartId);
      }
    }
  }

  /** Interrupt blocked thread `tix` (-EINTR); see cancel. */
  interrupt(tix: number, hartId: number): boolean {
    return this.cancel(tix, -EINTR, hartId);
  }

  /** Time out every blocked thread whose deadline passed (-ETIMEDOUT); returns how many. Cheap when none is timed. */
  expireTimeouts(hartId: number): number {
    if (Atomics.load(this.i32, this.timed) === 0) return 0;
    const now = nowMs();
    let n = 0;
    for (let tix = 0; tix < this.ctl.layout.sched.maxThreads; tix++) {
      if (this.threads.state(tix) !== TS_BLOCKED) continue;
      const d = this.threads.deadline(tix);
      if (!(d > 0 && d <= now)) continue;
      inject(this.ctl, INJ['sched.before-expire']);
      if (this.cancel(tix, -ETIMEDOUT, hartId, now)) n++;
    }
    return n;
  }

  /** The earliest deadline (ms, the nowMs clock) of a blocked thread; Infinity when none. */
  earliestDeadlineMs(): number {
    if (Atomics.load(this.i32, this.timed) === 0) return Infinity;
    let best = Infinity;
    for (let tix = 0; tix < this.ctl.layout.sched.maxThreads; tix++) {
      if (this.threads.state(tix) !== TS_BLOCKED) continue;
      const d = this.threads.deadline(tix);
      if (d > 0 && d < best) best = d;
    }
    return best;
  }

  /** True when some thread waits with a deadline. */
  anyTimed(): boolean {
    return Atomics.load(this.i32, this.timed) !== 0;
  }

  private unlink(b: number, prev: number, cur: number, next: number): void {
    if (prev < 0) this.i32[this.bw(b) + WB_HEAD] = next + 1;
    else this.threads.setWaitNext(prev, next + 1);
    this.threads.setWaitNext(cur, 0);
    this.threads.setWaitBucket(cur, -1);
    if (this.threads.deadline(cur) > 0) {
      this.threads.setDeadline(cur, 0);
      Atomics.sub(this.i32, this.timed, 1);
    }
  }

  /** Bucket lock held (or the thread is off every bucket: cancel after its drop): the woken thread's a0 and its run queue (its last hart, else `hartId`). */
  private ready(tix: number, a0: number, hartId: number): void {
    const t = this.threads;
    const f = t.flags(tix);
    if (f & (TF_RESTART | TF_SLEEP | TF_POLL)) t.setFlags(tix, f & ~(TF_RESTART | TF_SLEEP | TF_POLL));
    if (f & TF_SLEEP && a0 !== -ETIMEDOUT) {
      // A signal ended a nanosleep: keep the time left for its rem (kernel/proc/sys-proc.ts finishInterruptedSleep).
      const end = t.w(tix, T_SLEEP_END) / 2;
      this.ctl.f64[end] = Math.max(0, this.ctl.f64[end]! - nowMs());
      t.setFlags(tix, t.flags(tix) | TF_SLEEP_INTR);
    }
    if (f & TF_RESTART) {
      // Cancelled: the ecall returns the errno instead of running again — but a poll's timeout re-runs it.
      if (a0 !== 0 && !(f & TF_POLL && a0 === -ETIMEDOUT)) {
        t.setPc(tix, t.pc(tix) + 4);
        t.setReg(tix, A0, BigInt(a0));
      }
    } else {
      t.setReg(tix, A0, BigInt(f & TF_SLEEP && a0 === -ETIMEDOUT ? 0 : a0));
    }
    const last = this.threads.lastHart(tix);
    this.rq.enqueue(tix, last >= 0 ? last : Math.max(0, hartId));
  }
}
