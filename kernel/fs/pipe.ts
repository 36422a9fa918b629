/**
 * Pipes: a PIPE_CAPACITY-byte ring in ctl per pipe (kernel/fs/layout.ts PP_*), so the
 * reader and the writer may run on different harts. Linux semantics:
 * - read returns what is there (at least one byte), blocks while empty and a writer is open,
 *   returns 0 (EOF) once every write end is closed;
 * - write blocks until everything is written; a write of at most PIPE_BUF bytes is atomic
 *   (it waits for room for all of it); with no read end open it raises SIGPIPE (sigpipeHook)
 *   and fails with -EPIPE (or returns the bytes already written);
 * - O_NONBLOCK: -EAGAIN instead of blocking (or the partial count).
 *
 * Blocking goes through a Waiter: the word waited on is PP_SEQ, bumped (Atomics.add) after
 * every change under PP_LOCK and then woken. A waiter reads PP_SEQ *before* it checks the
 * state under the lock and waits only while PP_SEQ still holds that value, so a change made
 * between the check and the wait is never missed.
 */
import type { KernelContext } from '../context.ts';
import { EAGAIN, ENFILE } from '../errno.ts';
import { EPIPE } from './hostfs.ts';
import { SpinLock, waitSlice, type WhileWaiting } from '../sync/lock.ts';
import { bumpSource } from './pollwait.ts';
import {
  PIPE_BUF, PIPE_BYTES, PIPE_CAPACITY, PP_COUNT, PP_DATA_BYTE, PP_HEAD, PP_LOCK, PP_READERS, PP_SEQ, PP_STATE,
  PP_WRITERS, SLOT_FREE, SLOT_LIVE,
} from './layout.ts';

/**
 * How a syscall blocks its thread until a ctl word changes. The scheduler supplies one that
 * parks the thread (scheduler/block.ts, wait channel keyed by the word index); hartWaiter
 * below blocks the hart itself and is what tests and a single-thread hart use.
 */
export interface Waiter {
  /**
   * Block until i32[index] !== seen (spurious returns are allowed; callers re-check).
   * Returns 0, or a negative errno (-EINTR: a signal is pending) that the syscall returns.
   * `done`: bytes the syscall already moved. A restarting waiter records them: the re-run
   * gets them from resumed() and carries on after them, and an interruption makes the
   * syscall return them (Linux's partial count) instead of an errno.
   */
  wait(i32: Int32Array, index: number, seen: number, done?: number): number;
  /**
   * Restarting waiters: the bytes this syscall moved before it last parked (see wait), 0 on
   * a fresh call. Taking them clears them; a syscall asks once, at its start.
   */
  resumed?(): number;
  /** Wake every thread blocked on i32[index] (called after the word was changed and Atomics.notify'd). */
  wake(i32: Int32Array, index: number): void;
  /** Wake every thread blocked with channel key `key` (kernel/fs/pollwait.ts: pollers' own keys). */
  wakeKey?(key: number): void;
  /**
   * True when wait() parks the thread and re-runs the whole syscall when woken (the
   * scheduler's waiter): a caller that already made progress passes it to wait() and asks
   * resumed() when it runs again.
   */
  readonly restarts?: boolean;
}

/**
 * What a restarting Waiter's wait() returns when it parked the thread: the syscall handler
 * passes it up unchanged (the dispatcher's NO_RETURN), whatever it had done so far.
 */
export const PARKED = -0x7fff_0000;

/** A Waiter that blocks this worker in Atomics.wait slices, running `whileWaiting` between them. */
export function hartWaiter(whileWaiting: WhileWaiting): Waiter {
  return {
    wait(i32, index, seen) {
      waitSlice(i32, index, seen, whileWaiting);
      return 0;
    },
    wake() {
      // bump() has already notified every Atomics.wait on the word.
    },
  };
}

/**
 * Called when a write finds no reader, before the write returns -EPIPE. The signal engineer
 * installs the delivery of SIGPIPE to the calling thread with setSigpipeHook; default: nothing.
 */
export type SigpipeHook = () => void;
let sigpipeHook: SigpipeHook = () => {};
/** Install the SIGPIPE delivery (per worker; run at import time by the signal module). */
export function setSigpipeHook(fn: SigpipeHook): void {
  sigpipeHook = fn;
}
/**
 * Raise SIGPIPE on the calling thread: a write found no reader — in a pipe here, or on a host
 * fd (the host's stdout behind `| head`, a FIFO) that failed with EPIPE (kernel/fs/sys-fs.ts).
 */
export function raiseSigpipe(): void {
  sigpipeHook();
}

const word = (ctx: KernelContext, p: number, f: number): number => (ctx.ctl.layout.pipes + p * PIPE_BYTES) / 4 + f;
const dataAt = (ctx: KernelContext, p: number): number => ctx.ctl.layout.pipes + p * PIPE_BYTES + PP_DATA_BYTE;
const lockOf = (ctx: KernelContext, p: number): SpinLock => new SpinLock(ctx.ctl.i32, word(ctx, p, PP_LOCK), ctx.whileWaiting);

function bump(ctx: KernelContext, p: number, waiter: Waiter | null): void {
  bumpSource(ctx, word(ctx, p, PP_SEQ), waiter); // waiters and pollers (kernel/fs/pollwait.ts)
}

/**
 * Readiness of one end of pipe `p` as poll(2) reports it (POLLIN/POLLOUT/POLLHUP/POLLERR bits
 * of linux-flags' epoll values, which equal poll's) and the channel key a poller registers on.
 * Read end: IN when bytes wait, HUP once every writer closed. Write end: OUT when PIPE_BUF
 * bytes fit (a small write then cannot block), ERR once every reader closed.
 */
export function pipePoll(ctx: KernelContext, p: number, write: boolean): { mask: number; key: number } {
  const i32 = ctx.ctl.i32;
  const mask = lockOf(ctx, p).with(() => {
    const count = i32[word(ctx, p, PP_COUNT)]!;
    if (!write) return (count > 0 ? 0x041 : 0) | (i32[word(ctx, p, PP_WRITERS)] === 0 ? 0x010 : 0);
    return (PIPE_CAPACITY - count >= PIPE_BUF ? 0x104 : 0) | (i32[word(ctx, p, PP_READERS)] === 0 ? 0x008 : 0);
  });
  return { mask, key: -1 - word(ctx, p, PP_SEQ) };
}

/**
 * Create a pipe with `readers` readers and `writers` writers (pipe2: one each; a FIFO's pipe
 * starts with none, its opens add them); its index, or -ENFILE when all are in use.
 */
export function pipeCreate(ctx: KernelContext, readers = 1, writers = 1): number {
  const i32 = ctx.ctl.i32;
  for (let p = 0, n = ctx.ctl.layout.fs.pipes; p < n; p++) {
    if (Atomics.compareExchange(i32, word(ctx, p, PP_STATE), SLOT_FREE, SLOT_LIVE) !== SLOT_FREE) continue;
    lockOf(ctx, p).with(() => {
      i32[word(ctx, p, PP_READERS)] = readers;
      i32[word(ctx, p, PP_WRITERS)] = writers;
      i32[word(ctx, p, PP_HEAD)] = 0;
      i32[word(ctx, p, PP_COUNT)] = 0;
    });
    return p;
  }
  return -ENFILE;
}

/** Add an open end (a new description of the same pipe; not needed for dup/fork). */
export function pipeOpenEnd(ctx: KernelContext, p: number, write: boolean): void {
  lockOf(ctx, p).with(() => { ctx.ctl.i32[word(ctx, p, write ? PP_WRITERS : PP_READERS)]!++; });
}

/**
 * Close one end (the last reference of its description went away); wakes the other side.
 * The pipe is freed when both counts reach zero (returns true then). `waiter` (optional) is the scheduler's wake.
 */
export function pipeCloseEnd(ctx: KernelContext, p: number, write: boolean, waiter: Waiter | null = null): boolean {
  const i32 = ctx.ctl.i32;
  const free = lockOf(ctx, p).with(() => {
    const w = word(ctx, p, write ? PP_WRITERS : PP_READERS);
    if (i32[w]! <= 0) throw new Error(`pipeCloseEnd: pipe ${p} has no open ${write ? 'write' : 'read'} end`);
    i32[w]!--;
    return i32[word(ctx, p, PP_READERS)] === 0 && i32[word(ctx, p, PP_WRITERS)] === 0;
  });
  bump(ctx, p, waiter);
  if (free) Atomics.store(i32, word(ctx, p, PP_STATE), SLOT_FREE);
  return free;
}

/** Bytes waiting in pipe `p` (FIONREAD). */
export function pipeAvailable(ctx: KernelContext, p: number): number {
  return lockOf(ctx, p).with(() => ctx.ctl.i32[word(ctx, p, PP_COUNT)]!);
}

/** Open read / write ends of pipe `p` (tests). */
export function pipeEnds(ctx: KernelContext, p: number): { readers: number; writers: number } {
  return lockOf(ctx, p).with(() => ({ readers: ctx.ctl.i32[word(ctx, p, PP_READERS)]!, writers: ctx.ctl.i32[word(ctx, p, PP_WRITERS)]! }));
}

/**
 * Read up to `len` bytes from pipe `p`. `check(n)` is asked, before any byte is consumed,
 * whether n bytes may be delivered (the user buffer is writable: 0 or -EFAULT); `deliver`
 * receives the bytes taken. Returns the count, 0 at EOF, -EAGAIN (nonblock and empty),
 * -EFAULT, or the waiter's errno (-EINTR).
 */
export function pipeRead(
  ctx: KernelContext, p: number, len: number, nonblock: boolean, waiter: Waiter,
  check: (n: number) => number, deliver: (bytes: Uint8Array) => void,
): number {
  if (len === 0) return 0;
  const i32 = ctx.ctl.i32;
  const lock = lockOf(ctx, p);
  const seqIndex = word(ctx, p, PP_SEQ);
  for (;;) {
    const seen = Atomics.load(i32, seqIndex);
    lock.lock();
    const count = i32[word(ctx, p, PP_COUNT)]!;
    if (count > 0) {
      const n = Math.min(count, len);
      const bad = check(n);
      if (bad < 0) {
        lock.unlock();
        return bad;
      }
      const head = i32[word(ctx, p, PP_HEAD)]!;
      const out = new Uint8Array(n);
      const base = dataAt(ctx, p);
      const first = Math.min(n, PIPE_CAPACITY - head);
      const ring = new Uint8Array(ctx.ctl.sab, base, PIPE_CAPACITY);
      out.set(ring.subarray(head, head + first));
      if (first < n) out.set(ring.subarray(0, n - first), first);
      i32[word(ctx, p, PP_HEAD)] = (head + n) % PIPE_CAPACITY;
      i32[word(ctx, p, PP_COUNT)] = count - n;
      lock.unlock();
      bump(ctx, p, waiter); // room for writers
      deliver(out);
      return n;
    }
    const writers = i32[word(ctx, p, PP_WRITERS)]!;
    lock.unlock();
    if (writers === 0) return 0;
    if (nonblock) return -EAGAIN;
    const r = waiter.wait(i32, seqIndex, seen);
    if (r < 0) return r;
  }
}

/**
 * Write `len` bytes to pipe `p`. `source(off, n)` gives bytes [off, off + n) of the user
 * buffer, or -EFAULT. A blocking write transfers everything before it returns `len`, unless
 * a later piece faults, the reader goes away or a signal interrupts it after some bytes (then
 * the partial count); nonblock returns what fitted. Nothing written: -EPIPE, -EAGAIN,
 * -EFAULT, -EINTR. `resume`: bytes [0, resume) were written by this syscall before it parked
 * (a restarting waiter's re-run); `base`: bytes the whole syscall moved before this buffer
 * (writev), reported with them to the waiter. Counts returned include `resume`.
 */
export function pipeWrite(
  ctx: KernelContext, p: number, len: number, nonblock: boolean, waiter: Waiter,
  source: (off: number, n: number) => Uint8Array | number, resume = 0, base = 0,
): number {
  if (len === 0) return 0;
  const i32 = ctx.ctl.i32;
  const lock = lockOf(ctx, p);
  const seqIndex = word(ctx, p, PP_SEQ);
  let written = resume;
  let chunk: Uint8Array | null = null; // user bytes [written, written + chunk.length) copied in
  while (written < len) {
    if (chunk === null || chunk.length === 0) {
      const got = source(written, Math.min(len - written, PIPE_CAPACITY));
      if (typeof got === 'number') return written > 0 ? written : got;
      chunk = got;
    }
    const seen = Atomics.load(i32, seqIndex);
    lock.lock();
    if (i32[word(ctx, p, PP_READERS)] === 0) {
      lock.unlock();
      sigpipeHook();
      return written > 0 ? written : -EPIPE;
    }
    const count = i32[word(ctx, p, PP_COUNT)]!;
    const room = PIPE_CAPACITY - count;
    // A write of at most PIPE_BUF bytes goes in whole or not at all.
    const need = len <= PIPE_BUF ? len : 1;
    if (room >= need) {
      const n = Math.min(room, chunk.length);
      const head = i32[word(ctx, p, PP_HEAD)]!;
      const tail = (head + count) % PIPE_CAPACITY;
      const ring = new Uint8Array(ctx.ctl.sab, dataAt(ctx, p), PIPE_CAPACITY);
      const first = Math.min(n, PIPE_CAPACITY - tail);
      ring.set(chunk.subarray(0, first), tail);
      if (first < n) ring.set(chunk.subarray(first, n), 0);
      // Publishing the count hands the bytes to the reader (both under the lock).
      i32[word(ctx, p, PP_COUNT)] = count + n;
      lock.unlock();
      bump(ctx, p, waiter);
      written += n;
      chunk = chunk.subarray(n);
      continue;
    }
    lock.unlock();
    if (nonblock) return written > 0 ? written : -EAGAIN;
    const r = waiter.wait(i32, seqIndex, seen, base + written); // a restart carries on after these bytes
    if (r === PARKED) return r;
    if (r < 0) return written > 0 ? written : r;
  }
  return written;
}
