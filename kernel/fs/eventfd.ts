/**
 * eventfd objects: a 64-bit counter in ctl (kernel/fs/layout.ts EV_*), so every hart sees one
 * counter. Linux semantics (fs/eventfd.c):
 * - read (8 bytes at least, else EINVAL): blocks while the counter is 0; returns the counter and
 *   resets it to 0, or with EFD_SEMAPHORE returns 1 and decrements it;
 * - write (8 bytes at least): adds the value (2^64 - 1 is EINVAL); blocks while the sum would
 *   pass 2^64 - 2;
 * - O_NONBLOCK: -EAGAIN instead of blocking.
 * Blocking goes through the Waiter on EV_SEQ (Atomics.add after every change under EV_LOCK, then
 * woken, and the pollers of its key told: kernel/fs/pollwait.ts), read before the check as
 * kernel/fs/pipe.ts does, so a change between the check and the wait is never missed.
 */
import type { KernelContext } from '../context.ts';
import { EAGAIN, ENFILE } from '../errno.ts';
import { SpinLock } from '../sync/lock.ts';
import { type Waiter } from './pipe.ts';
import { pollNotify } from './pollwait.ts';
import { EFD_MAX, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from './poll-abi.ts';
import { EV_BYTES, EV_HI, EV_LO, EV_LOCK, EV_SEMAPHORE, EV_SEQ, EV_STATE, pollioLayout, SLOT_FREE, SLOT_LIVE } from './layout.ts';

const word = (ctx: KernelContext, e: number, f: number): number =>
  (ctx.ctl.layout.pollio + pollioLayout(ctx.ctl.layout.fs, ctx.ctl.layout.sched.maxThreads).eventfds + e * EV_BYTES) / 4 + f;
const lockOf = (ctx: KernelContext, e: number): SpinLock => new SpinLock(ctx.ctl.i32, word(ctx, e, EV_LOCK), ctx.whileWaiting);
const get = (ctx: KernelContext, e: number): bigint =>
  (BigInt(ctx.ctl.i32[word(ctx, e, EV_HI)]! >>> 0) << 32n) | BigInt(ctx.ctl.i32[word(ctx, e, EV_LO)]! >>> 0);
function set(ctx: KernelContext, e: number, v: bigint): void {
  ctx.ctl.i32[word(ctx, e, EV_LO)] = Number(v & 0xffffffffn) | 0;
  ctx.ctl.i32[word(ctx, e, EV_HI)] = Number(v >> 32n) | 0;
}
/** The wait channel key of eventfd `e` (pollers register on it). */
export const eventfdKey = (ctx: KernelContext, e: number): number => -1 - word(ctx, e, EV_SEQ);

function bump(ctx: KernelContext, e: number, waiter: Waiter | null): void {
  const i = word(ctx, e, EV_SEQ);
  Atomics.add(ctx.ctl.i32, i, 1);
  Atomics.notify(ctx.ctl.i32, i);
  waiter?.wake(ctx.ctl.i32, i);
  pollNotify(ctx, -1 - i, waiter);
}

/** Create an eventfd with counter `initval` (`semaphore`: EFD_SEMAPHORE); its index, or -ENFILE when all are in use. */
export function eventfdCreate(ctx: KernelContext, initval: number, semaphore = false): number {
  const i32 = ctx.ctl.i32;
  const n = pollioLayout(ctx.ctl.layout.fs, ctx.ctl.layout.sched.maxThreads).eventfdCount;
  for (let e = 0; e < n; e++) {
    if (Atomics.compareExchange(i32, word(ctx, e, EV_STATE), SLOT_FREE, SLOT_LIVE) !== SLOT_FREE) continue;
    lockOf(ctx, e).with(() => {
      set(ctx, e, BigInt(initval >>> 0));
      i32[word(ctx, e, EV_SEMAPHORE)] = semaphore ? 1 : 0;
    });
    return e;
  }
  return -ENFILE;
}

/** Free eventfd `e` (its description's last reference went away). */
export function eventfdRelease(ctx: KernelContext, e: number): void {
  Atomics.store(ctx.ctl.i32, word(ctx, e, EV_STATE), SLOT_FREE);
}

/** The counter of eventfd `e` (tests, fdinfo). */
export function eventfdCount(ctx: KernelContext, e: number): bigint {
  return lockOf(ctx, e).with(() => get(ctx, e));
}

/**
 * read(2) of eventfd `e`: the value read (a bigint: the counter, or 1 for EFD_SEMAPHORE), or
 * -EAGAIN (nonblock, counter 0), or the waiter's result (PARKED, -EINTR).
 */
export function eventfdRead(ctx: KernelContext, e: number, nonblock: boolean, waiter: Waiter): bigint | number {
  const seqIndex = word(ctx, e, EV_SEQ);
  const semaphore = ctx.ctl.i32[word(ctx, e, EV_SEMAPHORE)] === 1;
  for (;;) {
    const seen = Atomics.load(ctx.ctl.i32, seqIndex);
    const got = lockOf(ctx, e).with(() => {
      const v = get(ctx, e);
      if (v === 0n) return 0n;
      const out = semaphore ? 1n : v;
      set(ctx, e, v - out);
      return out;
    });
    if (got > 0n) {
      bump(ctx, e, waiter); // room for writers
      return got;
    }
    if (nonblock) return -EAGAIN;
    const r = waiter.wait(ctx.ctl.i32, seqIndex, seen);
    if (r < 0) return r;
  }
}

/** write(2) of `value` (< 2^64 - 1) to eventfd `e`: 0, -EAGAIN, or the waiter's result. */
export function eventfdWrite(ctx: KernelContext, e: number, value: bigint, nonblock: boolean, waiter: Waiter): number {
  const seqIndex = word(ctx, e, EV_SEQ);
  for (;;) {
    const seen = Atomics.load(ctx.ctl.i32, seqIndex);
    const done = lockOf(ctx, e).with(() => {
      const v = get(ctx, e);
      if (EFD_MAX - v < value) return false;
      set(ctx, e, v + value);
      return true;
    });
    if (done) {
      if (value > 0n) bump(ctx, e, waiter);
      return 0;
    }
    if (nonblock) return -EAGAIN;
    const r = waiter.wait(ctx.ctl.i32, seqIndex, seen);
    if (r < 0) return r;
  }
}

/** poll(2) readiness of eventfd `e`: IN while the counter is > 0, OUT while 1 more fits. */
export function eventfdPoll(ctx: KernelContext, e: number): { mask: number; key: number } {
  const v = eventfdCount(ctx, e);
  return { mask: (v > 0n ? POLLIN | POLLRDNORM : 0) | (v < EFD_MAX ? POLLOUT | POLLWRNORM : 0), key: eventfdKey(ctx, e) };
}
