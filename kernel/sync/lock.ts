/**
 * Locks on Atomics over an Int32Array (the control SharedArrayBuffer), part 1: the shared
 * waiting policy and the spinlock. See kernel/sync/mutex.ts and kernel/sync/rwlock.ts for the others.
 *
 * Waiting policy (every lock): spin at most LOCK_SPIN_LIMIT rounds, then block in
 * Atomics.wait in slices of LOCK_WAIT_SLICE_MS. Between slices the lock calls its
 * `whileWaiting` callback: a hart passes "serve my mailbox and throw if the machine halted",
 * so a hart blocked on a lock still answers shootdown interrupts (no deadlock when the
 * lock holder waits for this hart's acknowledgement) and never hangs after a halt.
 * The machines have 2 cores and more harts than cores: nothing spins without bound.
 *
 * Like parlib-simple's lock.js, each lock is a size constant (words), an `initialize(i32, index)`
 * run once by the creator, and a constructor each worker uses to attach.
 */

import { relaxWait } from '../../cpu/baton.ts';

/** Bounded spin before blocking (rounds of one Atomics.load each). */
export const LOCK_SPIN_LIMIT = 100;
/** Length (ms) of one blocking wait before `whileWaiting` runs. */
export const LOCK_WAIT_SLICE_MS = 1;

/** Callback a lock runs between blocking slices; may throw to abandon the acquire. */
export type WhileWaiting = () => void;
const nothing: WhileWaiting = () => {};

/**
 * Block while i32[index] === value, for at most one slice, then run `whileWaiting`.
 * Callers loop around this and re-check their condition.
 */
export function waitSlice(i32: Int32Array, index: number, value: number, whileWaiting: WhileWaiting): void {
  relaxWait(i32, index, value, LOCK_WAIT_SLICE_MS); // deterministic mode: the baton moves on instead (cpu/baton.ts)
  whileWaiting();
}

/** Spinlock word states. */
export const SPIN_UNLOCKED = 0;
export const SPIN_LOCKED = 1; // held, nobody blocked
export const SPIN_CONTENDED = 2; // held, somebody may be blocked in Atomics.wait
export const SPINLOCK_WORDS = 1;

/**
 * Spinlock: one int32 word, states SPIN_UNLOCKED → SPIN_LOCKED (uncontended) or
 * SPIN_CONTENDED (a waiter blocked or is about to). Acquire: CAS 0→1; else spin up to
 * LOCK_SPIN_LIMIT rounds retrying; then exchange the word to 2 and Atomics.wait on it.
 * Release: exchange to 0; if it was 2, Atomics.notify one waiter (the woken waiter sets 2
 * again, so the next release also notifies). Not reentrant, not owner-checked: the fastest
 * lock, for short critical sections (the frame pool, queues).
 */
export class SpinLock {
  readonly i32: Int32Array;
  readonly index: number;

  /** Initialise the lock word at `index` to unlocked (run once by the creator). */
  static initialize(i32: Int32Array, index: number): void {
    Atomics.store(i32, index, SPIN_UNLOCKED);
  }

  /** Attach to the lock word i32[index]. */
  constructor(i32: Int32Array, index: number, private readonly whileWaiting: WhileWaiting = nothing) {
    if (!(index >= 0 && index < i32.length)) throw new RangeError(`SpinLock: index ${index} out of range`);
    this.i32 = i32;
    this.index = index;
  }

  /** Try once; true when acquired. */
  tryLock(): boolean {
    return Atomics.compareExchange(this.i32, this.index, SPIN_UNLOCKED, SPIN_LOCKED) === SPIN_UNLOCKED;
  }

  /** Acquire; spins briefly, then blocks (serving `whileWaiting` between slices). */
  lock(): void {
    const i32 = this.i32;
    const idx = this.index;
    if (Atomics.compareExchange(i32, idx, SPIN_UNLOCKED, SPIN_LOCKED) === SPIN_UNLOCKED) return;
    for (let i = 0; i < LOCK_SPIN_LIMIT; i++) {
      if (Atomics.load(i32, idx) === SPIN_UNLOCKED &&
          Atomics.compareExchange(i32, idx, SPIN_UNLOCKED, SPIN_LOCKED) === SPIN_UNLOCKED) return;
    }
    // Slow path: announce a waiter by moving the word to CONTENDED; acquiring from 0 here
    // leaves it CONTENDED, which only costs the releaser one extra notify.
    while (Atomics.exchange(i32, idx, SPIN_CONTENDED) !== SPIN_UNLOCKED) {
      waitSlice(i32, idx, SPIN_CONTENDED, this.whileWaiting);
    }
  }

  /** Release; wakes one blocked waiter if there may be one. */
  unlock(): void {
    const prev = Atomics.exchange(this.i32, this.index, SPIN_UNLOCKED);
    if (prev === SPIN_UNLOCKED) throw new Error('SpinLock.unlock: lock is not held');
    if (prev === SPIN_CONTENDED) Atomics.notify(this.i32, this.index, 1);
  }

  /** Run `fn` holding the lock; releases on every exit path. */
  with<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }
}
