/**
 * Reader-writer lock on Atomics (see kernel/sync/lock.ts for the waiting policy).
 *
 * Words:
 *   RW_STATE    number of readers holding it, or RW_WRITER when a writer holds it.
 *               Changed only by compareExchange (acquire) and add/sub/store (release).
 *   RW_WRITERS  writers waiting or holding; while nonzero new readers hold back, so
 *               writers are not starved (writer preference).
 *   RW_SEQ      wake sequence: every release that may let someone in bumps it and
 *               notifies all waiters. A waiter reads RW_SEQ BEFORE re-checking RW_STATE and
 *               waits only while RW_SEQ is unchanged, so a release can never be missed.
 * Who wakes whom: the last reader out and every writer release wake all waiters (readers and
 * writers re-race; a writer that wins keeps readers out via RW_WRITERS).
 * Not reentrant: a reader that read-locks again while a writer waits deadlocks — don't.
 */
import { LOCK_SPIN_LIMIT, type WhileWaiting, waitSlice } from './lock.ts';

export const RW_STATE = 0;
export const RW_WRITERS = 1;
export const RW_SEQ = 2;
export const RWLOCK_WORDS = 3;
export const RW_WRITER = 1 << 30;

export class RwLock {
  readonly i32: Int32Array;
  readonly index: number;

  /** Initialise the lock words at `index` (run once by the creator). */
  static initialize(i32: Int32Array, index: number): void {
    for (let k = 0; k < RWLOCK_WORDS; k++) Atomics.store(i32, index + k, 0);
  }

  /** Attach to the lock at i32[index]. */
  constructor(i32: Int32Array, index: number, private readonly whileWaiting: WhileWaiting = () => {}) {
    if (!(index >= 0 && index + RWLOCK_WORDS <= i32.length)) throw new RangeError(`RwLock: index ${index} out of range`);
    this.i32 = i32;
    this.index = index;
  }

  private tryRead(): boolean {
    const i32 = this.i32;
    const s = Atomics.load(i32, this.index + RW_STATE);
    if (s & RW_WRITER || Atomics.load(i32, this.index + RW_WRITERS) !== 0) return false;
    return Atomics.compareExchange(i32, this.index + RW_STATE, s, s + 1) === s;
  }

  private tryWrite(): boolean {
    return Atomics.compareExchange(this.i32, this.index + RW_STATE, 0, RW_WRITER) === 0;
  }

  private acquire(attempt: () => boolean): void {
    for (let i = 0; i < LOCK_SPIN_LIMIT; i++) if (attempt()) return;
    const seqIdx = this.index + RW_SEQ;
    for (;;) {
      const seq = Atomics.load(this.i32, seqIdx);
      if (attempt()) return;
      waitSlice(this.i32, seqIdx, seq, this.whileWaiting);
    }
  }

  private wakeAll(): void {
    Atomics.add(this.i32, this.index + RW_SEQ, 1);
    Atomics.notify(this.i32, this.index + RW_SEQ);
  }

  /** Acquire shared (read) access. */
  readLock(): void {
    this.acquire(() => this.tryRead());
  }

  /** Release shared access; the last reader out wakes waiters. */
  readUnlock(): void {
    const prev = Atomics.sub(this.i32, this.index + RW_STATE, 1);
    if (prev <= 0 || prev & RW_WRITER) throw new Error('RwLock.readUnlock: no reader holds the lock');
    if (prev === 1) this.wakeAll();
  }

  /** Acquire exclusive (write) access. */
  writeLock(): void {
    Atomics.add(this.i32, this.index + RW_WRITERS, 1);
    try {
      this.acquire(() => this.tryWrite());
    } finally {
      Atomics.sub(this.i32, this.index + RW_WRITERS, 1);
    }
  }

  /** Release exclusive access and wake every waiter. */
  writeUnlock(): void {
    if (Atomics.compareExchange(this.i32, this.index + RW_STATE, RW_WRITER, 0) !== RW_WRITER) {
      throw new Error('RwLock.writeUnlock: no writer holds the lock');
    }
    this.wakeAll();
  }

  /** Run `fn` with shared access. */
  withRead<T>(fn: () => T): T {
    this.readLock();
    try {
      return fn();
    } finally {
      this.readUnlock();
    }
  }

  /** Run `fn` with exclusive access. */
  withWrite<T>(fn: () => T): T {
    this.writeLock();
    try {
      return fn();
    } finally {
      this.writeUnlock();
    }
  }
}
