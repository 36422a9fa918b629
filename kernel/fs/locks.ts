/**
 * File locks between guest processes: flock(2) locks and fcntl record locks (POSIX and OFD),
 * in the ctl region `fileLocks` (kernel/fs/layout.ts LK_*), so every hart sees one table.
 *
 * A lock is a record (kind, owner, type, file, byte range). Files are host inodes (dev, ino)
 * — a pipe is (-2, its index). Kinds do not interact (Linux: flock and fcntl locks are
 * independent); within fcntl, POSIX and OFD locks conflict with each other. Owners:
 * - POSIX: the process, as its fd-table slot + 1 (threads share the table and the locks; a
 *   forked child has its own table, so it does not inherit them). Released when the process
 *   closes ANY fd of the file (fdtable.ts calls releasePosixOnClose) and at exit;
 * - OFD and flock: the open file description (-id and id): shared by dup and fork, released
 *   with the description's last reference (ofile.ts calls releaseOfile).
 * Two locks conflict when their owners differ, their ranges overlap, and either is a write lock.
 *
 * Protocol: every read and change of the records happens under LKH_LOCK; after a change the
 * changer bumps LKH_SEQ (Atomics.add, notify) and calls the Waiter's wake, after unlocking.
 * A blocked locker reads LKH_SEQ before it checks for conflicts and waits only while it still
 * holds that value, so a release between its check and its wait is never missed. A blocked
 * POSIX locker leaves a LKS_WAITING record naming the owner it waits for; a new POSIX wait
 * that would close a cycle of such records fails with EDEADLK (Linux's posix_locks_deadlock).
 */
import type { KernelContext } from '../context.ts';
import { EAGAIN, EINTR } from '../errno.ts';
import { SpinLock } from '../sync/lock.ts';
import {
  LKH_COUNT, LKH_LOCK, LKH_SEQ, LK_DEV, LK_END, LK_HEADER_BYTES, LK_INO, LK_KIND, LK_OWNER, LK_PID, LK_START, LK_STATE,
  LK_TYPE, LKK_RECORD, LKS_FREE, LKS_HELD, LKS_WAITING, LOCK_RECORDS_PER_OFILE, LOCK_RECORD_BYTES, OF_DEV, OF_HOSTFD, OF_INO,
  OF_KIND, OK_PIPE_READ, OK_PIPE_WRITE,
} from './layout.ts';
import { ofileWord } from './ofile.ts';
import { PARKED as PARKED_, type Waiter } from './pipe.ts';

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
/** Linux ENOLCK / EDEADLK (asm-generic). */
export const ENOLCK = 37;
export const EDEADLK = 35;
/** Longest wait-for chain followed by the deadlock check (Linux's MAX_DEADLK_ITERATIONS). */
const MAX_DEADLK_ITERATIONS = 10;

/** The file a lock is on. */
export interface LockFile { dev: number; ino: number }
/** A lock request or a held lock. */
export interface LockSpec {
  kind: number;
  owner: number;
  type: number;
  start: number;
  /** One past the last byte; Infinity: to the end of any file. */
  end: number;
  /** F_GETLK's l_pid (-1 for OFD locks). */
  pid: number;
}

const base = (ctx: KernelContext): number => ctx.ctl.layout.fileLocks / 4;
const records = (ctx: KernelContext): number => ctx.ctl.layout.fs.ofiles * LOCK_RECORDS_PER_OFILE;
const rec = (ctx: KernelContext, i: number): number => base(ctx) + (LK_HEADER_BYTES + i * LOCK_RECORD_BYTES) / 4;
const lockOf = (ctx: KernelContext): SpinLock => new SpinLock(ctx.ctl.i32, base(ctx) + LKH_LOCK, ctx.whileWaiting);
const f64 = (ctx: KernelContext, w: number): number => ctx.ctl.f64[w / 2]!;

/** The lock identity of description `id`'s file (host inode, or the pipe), null for the host's stdio. */
export function lockFileOf(ctx: KernelContext, id: number): LockFile | null {
  const w = ofileWord(ctx, id, 0);
  const kind = ctx.ctl.i32[w + OF_KIND]!;
  if (kind === OK_PIPE_READ || kind === OK_PIPE_WRITE) return { dev: -2, ino: ctx.ctl.i32[w + OF_HOSTFD]! };
  const ino = f64(ctx, w + OF_INO);
  return ino < 0 ? null : { dev: f64(ctx, w + OF_DEV), ino };
}

/** Record i as a LockSpec (caller holds the lock). */
function read(ctx: KernelContext, i: number): LockSpec {
  const w = rec(ctx, i), i32 = ctx.ctl.i32;
  return { kind: i32[w + LK_KIND]!, owner: i32[w + LK_OWNER]!, type: i32[w + LK_TYPE]!, start: f64(ctx, w + LK_START), end: f64(ctx, w + LK_END), pid: i32[w + LK_PID]! };
}
function onFile(ctx: KernelContext, i: number, file: LockFile): boolean {
  const w = rec(ctx, i);
  return f64(ctx, w + LK_DEV) === file.dev && f64(ctx, w + LK_INO) === file.ino;
}
/** Write a record into a free slot (caller holds the lock): false when the table is full. */
function insert(ctx: KernelContext, state: number, file: LockFile, l: LockSpec): boolean {
  const i32 = ctx.ctl.i32, n = records(ctx);
  for (let i = 0; i < n; i++) {
    const w = rec(ctx, i);
    if (i32[w + LK_STATE] !== LKS_FREE) continue;
    i32[w + LK_KIND] = l.kind; i32[w + LK_OWNER] = l.owner; i32[w + LK_TYPE] = l.type; i32[w + LK_PID] = l.pid;
    ctx.ctl.f64[(w + LK_DEV) / 2] = file.dev; ctx.ctl.f64[(w + LK_INO) / 2] = file.ino;
    ctx.ctl.f64[(w + LK_START) / 2] = l.start; ctx.ctl.f64[(w + LK_END) / 2] = l.end;
    i32[w + LK_STATE] = state;
    i32[base(ctx) + LKH_COUNT]!++;
    return true;
  }
  return false;
}
function free(ctx: KernelContext, i: number): void {
  ctx.ctl.i32[rec(ctx, i) + LK_STATE] = LKS_FREE;
  ctx.ctl.i32[base(ctx) + LKH_COUNT]!--;
}
/** Publish a change: bump LKH_SEQ, notify, and the Waiter's wake (caller released the lock). */
function changed(ctx: KernelContext, waiter: Waiter | null): void {
  const i32 = ctx.ctl.i32, s = base(ctx) + LKH_SEQ;
  Atomics.add(i32, s, 1);
  Atomics.notify(i32, s);
  waiter?.wake(i32, s);
}

/** The first held lock conflicting with `l` on `file` (caller holds the lock), or null. */
function conflict(ctx: KernelContext, file: LockFile, l: LockSpec): LockSpec | null {
  const i32 = ctx.ctl.i32, n = records(ctx);
  for (let i = 0; i < n; i++) {
    const w = rec(ctx, i);
    if (i32[w + LK_STATE] !== LKS_HELD || i32[w + LK_KIND] !== l.kind || i32[w + LK_OWNER] === l.owner) continue;
    if (!onFile(ctx, i, file)) continue;
    const h = read(ctx, i);
    if (h.start < l.end && l.start < h.end && (h.type === F_WRLCK || l.type === F_WRLCK)) return h;
  }
  return null;
}

/** The held lock that would block `l` (F_GETLK / LOCK test), or null. */
export function lockTest(ctx: KernelContext, file: LockFile, l: LockSpec): LockSpec | null {
  return lockOf(ctx).with(() => conflict(ctx, file, l));
}

/**
 * Remove `owner`'s locks of `kind` on `file` within [start, end), keeping the parts outside
 * (a record split in two needs a free slot: false when none). Caller holds the lock.
 */
function carve(ctx: KernelContext, file: LockFile, kind: number, owner: number, start: number, end: number): boolean {
  const i32 = ctx.ctl.i32, n = records(ctx);
  for (let i = 0; i < n; i++) {
    const w = rec(ctx, i);
    if (i32[w + LK_STATE] !== LKS_HELD || i32[w + LK_KIND] !== kind || i32[w + LK_OWNER] !== owner || !onFile(ctx, i, file)) continue;
    const h = read(ctx, i);
    if (h.end <= start || end <= h.start) continue;
    if (h.start < start && end < h.end) { // a hole in the middle: keep both sides
      if (!insert(ctx, LKS_HELD, file, { ...h, start: end })) return false;
      ctx.ctl.f64[(w + LK_END) / 2] = start;
    } else if (h.start < start) ctx.ctl.f64[(w + LK_END) / 2] = start;
    else if (end < h.end) ctx.ctl.f64[(w + LK_START) / 2] = end;
    else free(ctx, i);
  }
  return true;
}

/** The owner the waiting record of `owner` waits for, or 0 (caller holds the lock). */
function waitsFor(ctx: KernelContext, owner: number): number {
  const i32 = ctx.ctl.i32, n = records(ctx);
  if (i32[base(ctx) + LKH_COUNT] === 0) return 0;
  for (let i = 0; i < n; i++) {
    const w = rec(ctx, i);
    if (i32[w + LK_STATE] === LKS_WAITING && i32[w + LK_KIND] === LKK_RECORD && i32[w + LK_OWNER] === owner) return i32[w + LK_PID]!;
  }
  return 0;
}
/** Drop the waiting record of `owner` (caller holds the lock). */
function unwait(ctx: KernelContext, owner: number): void {
  const i32 = ctx.ctl.i32, n = records(ctx);
  for (let i = 0; i < n; i++) {
    const w = rec(ctx, i);
    if (i32[w + LK_STATE] === LKS_WAITING && i32[w + LK_KIND] === LKK_RECORD && i32[w + LK_OWNER] === owner) free(ctx, i);
  }
}

/**
 * Set lock `l` on `file` (type F_UNLCK: remove the owner's locks in the range): 0, or
 * -EAGAIN when another owner's lock conflicts and `wait` is false, -EDEADLK when waiting
 * would close a cycle of POSIX waiters, -ENOLCK when the table is full, the Waiter's result
 * when interrupted (-EINTR, or PARKED for a restarting waiter: the syscall runs again).
 * `posix`: the owner is a process (deadlock detection applies).
 */
export function lockSet(ctx: KernelContext, file: LockFile, l: LockSpec, wait: boolean, waiter: Waiter, posix: boolean): number {
  const i32 = ctx.ctl.i32, seqW = base(ctx) + LKH_SEQ;
  const lock = lockOf(ctx);
  for (;;) {
    const seen = Atomics.load(i32, seqW);
    lock.lock();
    const c = l.type === F_UNLCK ? null : conflict(ctx, file, l);
    if (c === null) {
      if (posix) unwait(ctx, l.owner);
      const ok = carve(ctx, file, l.kind, l.owner, l.start, l.end) && (l.type === F_UNLCK || insert(ctx, LKS_HELD, file, l));
      lock.unlock();
      changed(ctx, waiter);
      return ok ? 0 : -ENOLCK;
    }
    if (!wait) {
      lock.unlock();
      return -EAGAIN;
    }
    if (posix && c.owner > 0) {
      // Follow who the blocker waits for; reaching ourselves is a deadlock.
      let o = c.owner;
      for (let k = 0; k < MAX_DEADLK_ITERATIONS && o > 0; k++) {
        if (o === l.owner) {
          unwait(ctx, l.owner); // posix only here
          lock.unlock();
          return -EDEADLK;
        }
        o = waitsFor(ctx, o);
      }
    }
    if (posix && waitsFor(ctx, l.owner) !== c.owner) {
      unwait(ctx, l.owner);
      insert(ctx, LKS_WAITING, file, { ...l, pid: c.owner }); // best effort: a full table only weakens the deadlock check
    }
    lock.unlock();
    const r = waiter.wait(i32, seqW, seen);
    if (r < 0) {
      if (posix && r !== PARKED_) lock.with(() => unwait(ctx, l.owner));
      return r;
    }
  }
}

/** Release every record (held or waiting) for which `pred(record index)` holds. */
function releaseWhere(ctx: KernelContext, pred: (i: number) => boolean, waiter: Waiter | null): void {
  const i32 = ctx.ctl.i32;
  if (Atomics.load(i32, base(ctx) + LKH_COUNT) === 0) return;
  let any = false;
  lockOf(ctx).with(() => {
    for (let i = 0, n = records(ctx); i < n; i++) {
      if (i32[rec(ctx, i) + LK_STATE] === LKS_FREE || !pred(i)) continue;
      free(ctx, i);
      any = true;
    }
  });
  if (any) changed(ctx, waiter);
}

/** A process (fd table `t`) closed an fd of description `id`: its POSIX locks on that file go (Linux's locks_remove_posix). */
export function releasePosixOnClose(ctx: KernelContext, t: number, id: number, waiter: Waiter | null): void {
  if (Atomics.load(ctx.ctl.i32, base(ctx) + LKH_COUNT) === 0) return;
  const file = lockFileOf(ctx, id);
  if (file === null) return;
  const i32 = ctx.ctl.i32;
  releaseWhere(ctx, (i) => i32[rec(ctx, i) + LK_KIND] === LKK_RECORD && i32[rec(ctx, i) + LK_OWNER] === t + 1 && onFile(ctx, i, file), waiter);
}

/** Process exit (its fd table `t` is released): every POSIX lock and waiting record it still has goes. */
export function releaseProcess(ctx: KernelContext, t: number, waiter: Waiter | null): void {
  const i32 = ctx.ctl.i32;
  releaseWhere(ctx, (i) => i32[rec(ctx, i) + LK_KIND] === LKK_RECORD && i32[rec(ctx, i) + LK_OWNER] === t + 1, waiter);
}

/** Description `id` is being released: its OFD and flock locks go. */
export function releaseOfile(ctx: KernelContext, id: number, waiter: Waiter | null): void {
  const i32 = ctx.ctl.i32;
  releaseWhere(ctx, (i) => {
    const o = i32[rec(ctx, i) + LK_OWNER]!;
    return i32[rec(ctx, i) + LK_KIND] === LKK_RECORD ? o === -id : o === id;
  }, waiter);
}

/** Records in use (leak checks: 0 once every process exited). */
export function locksLive(ctx: KernelContext): number {
  return Atomics.load(ctx.ctl.i32, base(ctx) + LKH_COUNT);
}
