/**
 * Sleeping mutex on Atomics, with an owner (see kernel/sync/lock.ts for the waiting policy).
 *
 * Words: MUTEX_STATE (0 unlocked, 1 locked, 2 locked and a waiter may be blocked — the same
 * three states as SpinLock) and MUTEX_OWNER (holder's id + 1; 0 = none; written by the holder
 * only, after acquiring and before releasing). Unlike SpinLock it does not spin: after one
 * failed try it blocks in Atomics.wait right away (for longer critical sections, where
 * spinning wastes one of the 2 host cores). The releaser notifies one waiter when the state
 * was 2. Errors: relocking by the holder ("Mutex.lock: ... already holds"), unlocking by a
 * non-holder ("Mutex.unlock: ... does not hold").
 */
import { type WhileWaiting, waitSlice } from './lock.ts';

export const MUTEX_STATE = 0;
export const MUTEX_OWNER = 1;
export const MUTEX_WORDS = 2;

export class Mutex {
  readonly i32: Int32Array;
  readonly index: number;
  readonly ownerId: number;

  /** Initialise the mutex words at `index` (run once by the creator). */
  static initialize(i32: Int32Array, index: number): void {
    Atomics.store(i32, index + MUTEX_STATE, 0);
    Atomics.store(i32, index + MUTEX_OWNER, 0);
  }

  /**
   * Attach to the mutex at i32[index]; `ownerId` (>= 0, e.g. the hartId) identifies this
   * user for the ownership checks.
   */
  constructor(i32: Int32Array, index: number, ownerId: number, private readonly whileWaiting: WhileWaiting = () => {}) {
    if (!(index >= 0 && index + MUTEX_WORDS <= i32.length)) throw new RangeError(`Mutex: index ${index} out of range`);
    if (!(Number.isInteger(ownerId) && ownerId >= 0)) throw new RangeError(`Mutex: ownerId ${ownerId} must be >= 0`);
    this.i32 = i32;
    this.index = index;
    this.ownerId = ownerId;
  }

  /** Id of the current holder, or -1 (racy snapshot). */
  owner(): number {
    return Atomics.load(this.i32, this.index + MUTEX_OWNER) - 1;
  }

  /** Acquire, blocking (serving `whileWaiting` between slices) until free. */
  lock(): void {
    const i32 = this.i32;
    const s = this.index + MUTEX_STATE;
    if (Atomics.compareExchange(i32, s, 0, 1) !== 0) {
      if (this.owner() === this.ownerId) throw new Error(`Mutex.lock: ${this.ownerId} already holds the mutex`);
      while (Atomics.exchange(i32, s, 2) !== 0) waitSlice(i32, s, 2, this.whileWaiting);
    }
    Atomics.store(i32, this.index + MUTEX_OWNER, this.ownerId + 1);
  }

  /** Try once; true when acquired. */
  tryLock(): boolean {
    if (Atomics.compareExchange(this.i32, this.index + MUTEX_STATE, 0, 1) !== 0) return false;
    Atomics.store(this.i32, this.index + MUTEX_OWNER, this.ownerId + 1);
    return true;
  }

  /** Release; only the holder may. Wakes one waiter if any may be blocked. */
  unlock(): void {
    const owner = this.owner();
    if (owner !== this.ownerId) {
      throw new Error(`Mutex.unlock: ${this.ownerId} does not hold the mutex (holder ${owner})`);
    }
    Atomics.store(this.i32, this.index + MUTEX_OWNER, 0);
    if (Atomics.exchange(this.i32, this.index + MUTEX_STATE, 0) === 2) Atomics.notify(this.i32, this.index + MUTEX_STATE, 1);
  }

  /** Run `fn` holding the mutex; releases on every exit path. */
  with<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }
}
