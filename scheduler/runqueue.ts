/**
 * Per-hart run queues in ctl (kernel/proc/layout.ts RQ_*): a FIFO of ready thread indices per
 * hart under that hart's SpinLock; RQ_COUNT mirrors the length for racy reads by stealers.
 *
 * enqueue publishes a READY thread and then kicks the target hart's mailbox (WAKE +1, notify):
 * an idle hart reads WAKE *before* it looks at the queues and waits only while WAKE is
 * unchanged, so an enqueue between its look and its wait cannot be lost.
 *
 * Stealing: a hart whose queue is empty takes the oldest unpinned (T_AFFINITY -1) thread of
 * the hart with the longest queue. Pinned threads are never stolen.
 *
 * Usable from hart workers and from the host thread (spawn), any number at once.
 */
import type { Mailboxes } from '../cpu/mailbox.ts';
import type { Ctl } from '../kernel/layout.ts';
import { SpinLock, type WhileWaiting } from '../kernel/sync/lock.ts';
import { RQ_COUNT, RQ_LOCK, RQ_RING, runQueueBytes, TS_READY } from '../kernel/proc/layout.ts';
import { ThreadTable } from './threads.ts';

export class RunQueues {
  readonly ctl: Ctl;
  readonly threads: ThreadTable;
  private readonly i32: Int32Array;
  private readonly locks: SpinLock[] = [];
  private readonly stride: number;
  private readonly cap: number;

  /** Attach to the run queues of `ctl`; `whileWaiting` runs while blocked on a queue lock. */
  constructor(ctl: Ctl, private readonly mailboxes: Mailboxes, whileWaiting?: WhileWaiting) {
    this.ctl = ctl;
    this.i32 = ctl.i32;
    this.threads = new ThreadTable(ctl);
    this.cap = ctl.layout.sched.maxThreads;
    this.stride = runQueueBytes(this.cap) / 4;
    for (let h = 0; h < ctl.layout.cpus; h++) this.locks.push(new SpinLock(this.i32, this.base(h) + RQ_LOCK, whileWaiting));
  }

  private base(hartId: number): number {
    return this.ctl.layout.runQueues / 4 + hartId * this.stride;
  }

  /** Threads waiting on hart `hartId`'s queue (racy snapshot). */
  length(hartId: number): number {
    return Atomics.load(this.i32, this.base(hartId) + RQ_COUNT);
  }

  /** The hart a new thread without affinity should go to: the shortest queue (ties: lowest id from `from`). */
  leastLoaded(from = 0): number {
    const n = this.ctl.layout.cpus;
    let best = from % n, bestLen = Infinity;
    for (let k = 0; k < n; k++) {
      const h = (from + k) % n;
      const len = this.length(h);
      if (len < bestLen) { best = h; bestLen = len; }
    }
    return best;
  }

  /**
   * Make thread `tix` READY on hart `hartId`'s queue (its affinity, when set, wins) and kick
   * that hart. The caller has saved the thread's registers. Returns the hart used.
   */
  enqueue(tix: number, hartId: number): number {
    const pin = this.threads.affinity(tix);
    const h = pin >= 0 ? pin : hartId;
    const b = this.base(h);
    const lock = this.locks[h]!;
    lock.lock();
    const n = this.i32[b + RQ_COUNT]!;
    if (n >= this.cap) {
      lock.unlock();
      throw new Error(`RunQueues.enqueue: hart ${h} queue is full (${n})`);
    }
    this.threads.setState(tix, TS_READY);
    this.i32[b + RQ_RING + n] = tix;
    Atomics.store(this.i32, b + RQ_COUNT, n + 1); // publishes the thread to pop/steal (under the lock)
    lock.unlock();
    this.mailboxes.kick(h); // after publication: an idle hart's WAKE read precedes its queue check
    return h;
  }

  /** Take the oldest thread of hart `hartId`'s own queue, or -1. */
  pop(hartId: number): number {
    if (this.length(hartId) === 0) return -1;
    return this.take(hartId, () => true);
  }

  /** Steal the oldest unpinned thread from the hart with the longest queue (not `hartId`), or -1. */
  steal(hartId: number): number {
    let victim = -1, longest = 0;
    for (let h = 0; h < this.ctl.layout.cpus; h++) {
      if (h === hartId) continue;
      const len = this.length(h);
      if (len > longest) { victim = h; longest = len; }
    }
    if (victim < 0) return -1;
    return this.take(victim, (tix) => this.threads.affinity(tix) < 0);
  }

  /** Remove thread `tix` from whatever queue holds it (exit of a READY thread); true if found. */
  remove(tix: number): boolean {
    for (let h = 0; h < this.ctl.layout.cpus; h++) {
      if (this.length(h) > 0 && this.take(h, (t) => t === tix) === tix) return true;
    }
    return false;
  }

  /** Remove and return the first thread of hart h's queue that `ok` accepts, or -1. */
  private take(h: number, ok: (tix: number) => boolean): number {
    const b = this.base(h);
    const lock = this.locks[h]!;
    lock.lock();
    try {
      const n = this.i32[b + RQ_COUNT]!;
      for (let k = 0; k < n; k++) {
        const tix = this.i32[b + RQ_RING + k]!;
        if (!ok(tix)) continue;
        this.i32.copyWithin(b + RQ_RING + k, b + RQ_RING + k + 1, b + RQ_RING + n);
        Atomics.store(this.i32, b + RQ_COUNT, n - 1);
        return tix;
      }
      return -1;
    } finally {
      lock.unlock();
    }
  }
}
