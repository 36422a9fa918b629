/**
 * FIFOs (named pipes), on top of the pipes of kernel/fs/pipe.ts.
 *
 * The name is a host regular file (mknodat S_IFIFO makes it), so ls, stat, rename and unlink
 * go through the ordinary path code; a FIFO record in the pollio region (kernel/fs/layout.ts
 * FF_*) keyed by the host file's (dev, ino) says it is a FIFO: stat reports S_IFIFO, and open
 * attaches to the record's pipe instead of the host file. The pipe exists while someone has
 * the FIFO open (or is blocked opening it): created by the first open, freed by the last
 * close, so a later open starts empty (Linux drops the buffer when no one has it open).
 *
 * open (Linux fifo_open): O_RDONLY waits for a writer unless O_NONBLOCK; O_WRONLY waits for a
 * reader, O_NONBLOCK without a reader is -ENXIO; O_RDWR never waits (the description is both
 * ends). A waiting opener counts as an open end of the pipe while it waits (as Linux's does),
 * so a writer that opens, writes and closes while a reader is still blocked in open does not
 * get SIGPIPE, and the reader then reads the bytes and EOF. It waits for the partner's open
 * counter (FF_WCOUNT / FF_RCOUNT) to move — not for a partner to be open now, which a quick
 * partner may already no longer be.
 *
 * Waiting goes through the restarting Waiter: the thread parks on FF_SEQ and the whole
 * openat runs again when woken. Its wait record (FW_CODE, FW_SEEN: which FIFO end it holds
 * and the counter it waits to move) tells the re-run that the end is already counted. No
 * wake-up is lost: FF_SEQ is read before the check under FF_LOCK and every open and close
 * bumps it after its change (pipe.ts's protocol). A signal (or the exit of the process) takes
 * the thread off its wait without running it: the scheduler calls fifoWaitTake, which takes the
 * record (Atomics.exchange, before the thread can run again), and fifoWaitDrop, which drops the
 * counted end — -EINTR, or a fresh run under SA_RESTART (Linux's -ERESTARTSYS). A re-run that
 * ends elsewhere (the name is gone) drops it through fifoDropWait.
 *
 * The table holds F = pipes records (sized from --memory); mknodat with every record in use is
 * -ENOSPC. A record goes when its last name is unlinked and no one has it open.
 */
import type { KernelContext } from '../context.ts';
import { ENFILE, ENOSPC } from '../errno.ts';
import { ENXIO } from './hostfs.ts';
import { SpinLock } from '../sync/lock.ts';
import { bumpSource } from './pollwait.ts';
import { inject, INJ } from '../lab/inject.ts';
import { PARKED, pipeCloseEnd, pipeCreate, pipeEnds, pipeOpenEnd, type Waiter } from './pipe.ts';
import {
  FF_BYTES, FF_DEV, FF_INO, FF_LOCK, FF_PIPE, FF_RCOUNT, FF_SEQ, FF_STATE, FF_UNLINKED, FF_WCOUNT, FW_BYTES, FW_CODE, FW_SEEN,
  pollioLayout, SLOT_FREE, SLOT_LIVE,
} from './layout.ts';

const regionOf = (ctx: KernelContext) => pollioLayout(ctx.ctl.layout.fs, ctx.ctl.layout.sched.maxThreads);
const rec = (ctx: KernelContext, r: number): number => (ctx.ctl.layout.pollio + regionOf(ctx).fifos + r * FF_BYTES) / 4;
const waitRec = (ctx: KernelContext, tix: number): number => (ctx.ctl.layout.pollio + regionOf(ctx).fifoWaits + tix * FW_BYTES) / 4;
const lockOf = (ctx: KernelContext, r: number): SpinLock => new SpinLock(ctx.ctl.i32, rec(ctx, r) + FF_LOCK, ctx.whileWaiting);
const READ = 1, WRITE = 2;
const codeOf = (r: number, end: number): number => (r + 1) * 4 + end;

/** The FIFO record of host file (dev, ino) still named somewhere, or -1 (not a FIFO). */
export function fifoFind(ctx: KernelContext, dev: number, ino: number): number {
  const { i32, f64 } = ctx.ctl;
  for (let r = 0, n = regionOf(ctx).fifoCount; r < n; r++) {
    const w = rec(ctx, r);
    if (Atomics.load(i32, w + FF_STATE) !== SLOT_LIVE) continue;
    const hit = lockOf(ctx, r).with(() =>
      i32[w + FF_STATE] === SLOT_LIVE && i32[w + FF_UNLINKED] === 0 && f64[(w + FF_DEV) / 2] === dev && f64[(w + FF_INO) / 2] === ino);
    if (hit) return r;
  }
  return -1;
}

/** Record host file (dev, ino) as a FIFO (mknodat S_IFIFO made it): 0, or -ENOSPC when the table is full. */
export function fifoMake(ctx: KernelContext, dev: number, ino: number): number {
  const { i32, f64 } = ctx.ctl;
  for (let r = 0, n = regionOf(ctx).fifoCount; r < n; r++) {
    const w = rec(ctx, r);
    if (Atomics.compareExchange(i32, w + FF_STATE, SLOT_FREE, SLOT_LIVE) !== SLOT_FREE) continue;
    lockOf(ctx, r).with(() => {
      f64[(w + FF_DEV) / 2] = dev;
      f64[(w + FF_INO) / 2] = ino;
      i32[w + FF_PIPE] = 0;
      i32[w + FF_RCOUNT] = 0;
      i32[w + FF_WCOUNT] = 0;
      i32[w + FF_UNLINKED] = 0;
    });
    return 0;
  }
  return -ENOSPC;
}

/**
 * The last name of host file (dev, ino) was unlinked: its record (if it is a FIFO) goes now,
 * or with its last close when someone has it open (the open ends keep working).
 */
export function fifoUnlinked(ctx: KernelContext, dev: number, ino: number): void {
  const r = fifoFind(ctx, dev, ino);
  if (r < 0) return;
  const w = rec(ctx, r);
  lockOf(ctx, r).with(() => {
    ctx.ctl.i32[w + FF_UNLINKED] = 1;
    if (ctx.ctl.i32[w + FF_PIPE] === 0) Atomics.store(ctx.ctl.i32, w + FF_STATE, SLOT_FREE);
  });
}

/** FIFO records in use (tests: a finished run leaves only the names that still exist). */
export function fifosLive(ctx: KernelContext): number {
  let n = 0;
  for (let r = 0, c = regionOf(ctx).fifoCount; r < c; r++) if (Atomics.load(ctx.ctl.i32, rec(ctx, r) + FF_STATE) === SLOT_LIVE) n++;
  return n;
}

/** Lock held: the record's pipe, created (no ends yet) when there is none; -ENFILE when every pipe is in use. */
function pipeOf(ctx: KernelContext, r: number): number {
  const w = rec(ctx, r);
  const have = ctx.ctl.i32[w + FF_PIPE]!;
  if (have > 0) return have - 1;
  const p = pipeCreate(ctx, 0, 0);
  if (p >= 0) ctx.ctl.i32[w + FF_PIPE] = p + 1;
  return p;
}

/** Lock held: close `end`s (READ | WRITE) of the record's pipe; frees the pipe (and an unlinked record) with the last. */
function closeLocked(ctx: KernelContext, r: number, ends: number, waiter: Waiter | null): void {
  const i32 = ctx.ctl.i32;
  const w = rec(ctx, r);
  const p = i32[w + FF_PIPE]! - 1;
  if (p < 0) throw new Error(`fifo ${r}: close without a pipe`);
  let freed = false;
  if (ends & READ) freed = pipeCloseEnd(ctx, p, false, waiter);
  if (ends & WRITE) freed = pipeCloseEnd(ctx, p, true, waiter);
  if (!freed) return;
  i32[w + FF_PIPE] = 0;
  if (i32[w + FF_UNLINKED] === 1) Atomics.store(i32, w + FF_STATE, SLOT_FREE);
}

/**
 * Close ends of FIFO `r`'s pipe (the last reference of an open description went: READ, WRITE or
 * both for O_RDWR); wakes blocked opens and the pipe's readers and writers.
 */
export function fifoClose(ctx: KernelContext, r: number, read: boolean, write: boolean, waiter: Waiter | null): void {
  lockOf(ctx, r).with(() => closeLocked(ctx, r, (read ? READ : 0) | (write ? WRITE : 0), waiter));
  bumpSource(ctx, rec(ctx, r) + FF_SEQ, waiter);
}

/** Drop the end a parked open of thread `tix` holds (its wait record `code`). */
function dropHeld(ctx: KernelContext, code: number, waiter: Waiter | null): void {
  const r = (code >> 2) - 1;
  fifoClose(ctx, r, (code & 3) === READ, (code & 3) === WRITE, waiter);
}

/**
 * The scheduler takes thread `tix` off its wait without re-running its syscall (a signal: EINTR
 * or an SA_RESTART re-run from scratch; the process exits): take its FIFO wait record before
 * the thread can run again (lock-free: the scheduler holds its bucket lock), so no later open
 * of the thread mistakes itself for the parked one. Returns the record's code (0: none) for
 * fifoWaitDrop, which the scheduler calls once its lock is released.
 */
export function fifoWaitTake(ctx: KernelContext, tix: number): number {
  return Atomics.exchange(ctx.ctl.i32, waitRec(ctx, tix) + FW_CODE, 0);
}

/** Drop the FIFO end a cancelled open held (`code` from fifoWaitTake; 0: nothing); `waiter` wakes the others. */
export function fifoWaitDrop(ctx: KernelContext, code: number, waiter: Waiter | null): void {
  if (code !== 0) dropHeld(ctx, code, waiter);
}

function fifoWaitCancelled(ctx: KernelContext, tix: number, waiter: Waiter | null): void {
  fifoWaitDrop(ctx, fifoWaitTake(ctx, tix), waiter);
}

/** The calling thread `tix`'s openat ended (any result but PARKED): a FIFO end it held while parked and did not take over goes. */
export function fifoDropWait(ctx: KernelContext, tix: number, waiter: Waiter | null): void {
  fifoWaitCancelled(ctx, tix, waiter);
}

/** What fifoOpen gives: the pipe and the ends the new description holds, or an errno / PARKED. */
export type FifoOpened = { pipe: number; read: boolean; write: boolean } | number;

/**
 * Open FIFO `r` for thread `tix`: `accmode` O_RDONLY 0, O_WRONLY 1, O_RDWR 2. Returns the pipe
 * with the ends now counted for the caller's new description (fifoClose undoes them); `tix` < 0
 * (no scheduler) opens as O_NONBLOCK does. -ENXIO
 * (O_WRONLY|O_NONBLOCK, no reader), -ENFILE (no free pipe), the Waiter's -EINTR, or PARKED.
 */
export function fifoOpen(ctx: KernelContext, r: number, tix: number, accmode: number, nonblock: boolean, waiter: Waiter): FifoOpened {
  if (tix < 0) nonblock = true; // no scheduler (bare-hart file tests): no thread to park
  const i32 = ctx.ctl.i32;
  const w = rec(ctx, r);
  const fw = waitRec(ctx, Math.max(tix, 0));
  const end = accmode === 0 ? READ : accmode === 1 ? WRITE : READ | WRITE;
  const held = Atomics.load(i32, fw + FW_CODE);
  if (held !== 0 && held !== codeOf(r, end)) fifoWaitCancelled(ctx, tix, waiter); // a stale wait of another open
  const lock = lockOf(ctx, r);
  for (;;) {
    const seen = Atomics.load(i32, w + FF_SEQ);
    lock.lock();
    const mine = Atomics.load(i32, fw + FW_CODE) === codeOf(r, end); // this is the re-run of a parked open: its end is counted
    const p = mine ? i32[w + FF_PIPE]! - 1 : pipeOf(ctx, r);
    if (p < 0) {
      lock.unlock();
      return -ENFILE;
    }
    const ends = pipeEnds(ctx, p);
    let result: FifoOpened | null = null;
    let wait = false;
    if (end === (READ | WRITE)) {
      pipeOpenEnd(ctx, p, false);
      pipeOpenEnd(ctx, p, true);
      i32[w + FF_RCOUNT]!++;
      i32[w + FF_WCOUNT]!++;
      result = { pipe: p, read: true, write: true };
    } else {
      const read = end === READ;
      const partners = read ? ends.writers : ends.readers;
      const partnerCount = w + (read ? FF_WCOUNT : FF_RCOUNT);
      if (mine) {
        if (partners > 0 || i32[partnerCount] !== i32[fw + FW_SEEN]) {
          Atomics.store(i32, fw + FW_CODE, 0); // the counted end is the description's now
          result = { pipe: p, read, write: !read };
        } else {
          wait = true;
        }
      } else if (partners > 0 || (read && nonblock)) {
        pipeOpenEnd(ctx, p, !read);
        i32[w + (read ? FF_RCOUNT : FF_WCOUNT)]!++;
        result = { pipe: p, read, write: !read };
      } else if (nonblock) { // a writer without a reader
        if (ends.readers === 0 && ends.writers === 0) closeLockedEmpty(ctx, r);
        result = -ENXIO;
      } else { // park, counted as an open end (see the header)
        pipeOpenEnd(ctx, p, !read);
        i32[w + (read ? FF_RCOUNT : FF_WCOUNT)]!++;
        i32[fw + FW_SEEN] = i32[partnerCount]!;
        Atomics.store(i32, fw + FW_CODE, codeOf(r, end));
        wait = true;
      }
    }
    lock.unlock();
    if (!wait || !mine) bumpSource(ctx, w + FF_SEQ, waiter); // an end opened (or the first wait counted): wake partners
    if (result !== null) return result;
    // A bump after `seen` (ours included) makes the wait return at once: check again.
    if (!mine) continue;
    inject(ctx.ctl, INJ['fifo.before-park']);
    const rw = waiter.wait(i32, w + FF_SEQ, seen);
    if (rw === PARKED) return rw;
    if (rw < 0) {
      fifoWaitCancelled(ctx, tix, waiter);
      return rw;
    }
  }
}

/** Lock held: a pipe created for an open that failed at once (nobody holds an end) goes again. */
function closeLockedEmpty(ctx: KernelContext, r: number): void {
  const i32 = ctx.ctl.i32;
  const w = rec(ctx, r);
  const p = i32[w + FF_PIPE]! - 1;
  if (p < 0) return;
  // Open and close one end: pipeCloseEnd frees a pipe whose counts both reach zero.
  pipeOpenEnd(ctx, p, false);
  pipeCloseEnd(ctx, p, false, null);
  i32[w + FF_PIPE] = 0;
  if (i32[w + FF_UNLINKED] === 1) Atomics.store(i32, w + FF_STATE, SLOT_FREE);
}
