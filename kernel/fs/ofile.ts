/**
 * Open file descriptions ("struct file"): what an fd points to, shared by dup, fork and
 * SCM-less inheritance exactly as Linux shares them — one offset, one set of status flags.
 *
 * Records live in ctl (kernel/fs/layout.ts OF_*), so every hart sees the same offset.
 * A host file's description holds a host fd from fs.openSync: host fds are process-wide in
 * Node, so a description created on one hart is usable from every hart (worker). Kinds:
 * OK_HOST_FILE / OK_HOST_DIR (a host fd we own and close), OK_STDIO (the host's own fd 0/1/2,
 * never closed), OK_PIPE_READ / OK_PIPE_WRITE (OF_HOSTFD is the pipe index; kernel/fs/pipe.ts).
 *
 * References: ofileCreate hands the caller one; each fd-table entry holds one; a syscall that
 * works on a description takes one for its duration (fdtable.ts fdGet), so a concurrent close
 * cannot release it underneath. The last ofilePut releases it: the host fd is closed, the pipe
 * end is closed (waking the other side), the page-cache file reference (mmap) is dropped.
 */
import * as fs from 'node:fs';
import type { KernelContext } from '../context.ts';
import { ENAMETOOLONG, ENFILE } from '../errno.ts';
import type { HostRoot } from './hostfs.ts';
import { SpinLock } from '../sync/lock.ts';
import { fileRefDelta, findHostFile, openHostFile } from '../mm/pagecache.ts';
import { pipeCloseEnd, type Waiter } from './pipe.ts';
import { fifoClose } from './fifo.ts';
import { specialOps } from './special.ts';
import { releaseOfile } from './locks.ts';
import {
  OFILE_BYTES, OF_DEV, OF_FLAGS, OF_INO, OF_HOSTFD, OF_KIND, OF_LOCK, OF_OFFSET, OF_PATH_BYTE, OF_PATH_LEN, OF_PATH_MAX,
  OF_PCFILE, OF_PUSHBACK, OF_REFS, OF_STATE, OK_HOST_DIR, OK_HOST_FILE, OK_PIPE_READ, OK_PIPE_WRITE, SLOT_FREE, SLOT_LIVE,
} from './layout.ts';
import { O_ACCMODE, O_RDONLY, O_WRONLY } from '../linux-flags.ts';

export interface OfileInit {
  /** OK_* kind. */
  kind: number;
  /** Linux open flags kept as the status flags (access mode, O_APPEND, O_NONBLOCK, ...). */
  flags: number;
  /** Host fd, or pipe index for pipe ends. */
  hostFd: number;
  /** Canonical guest path (host files and directories; a byte string), for *at() bases, fchdir and mmap. */
  path?: string;
  /** Host st_dev / st_ino of a host file: how read/write find its page-cache pages. */
  dev?: number;
  ino?: number;
}

/** Word index of field `f` of ofile `id` (1-based). */
export function ofileWord(ctx: KernelContext, id: number, f: number): number {
  return (ctx.ctl.layout.ofiles + (id - 1) * OFILE_BYTES) / 4 + f;
}

/**
 * Create a description with one reference for the caller. Returns its id (>= 1), -ENFILE
 * when the table is full, -ENAMETOOLONG when the path does not fit its record. The caller
 * still owns `hostFd` when this fails.
 */
export function ofileCreate(ctx: KernelContext, init: OfileInit): number {
  const path = Buffer.from(init.path ?? '', 'latin1');
  if (path.length > OF_PATH_MAX) return -ENAMETOOLONG;
  const i32 = ctx.ctl.i32;
  for (let id = 1, n = ctx.ctl.layout.fs.ofiles; id <= n; id++) {
    const w = ofileWord(ctx, id, 0);
    if (Atomics.compareExchange(i32, w + OF_STATE, SLOT_FREE, SLOT_LIVE) !== SLOT_FREE) continue;
    i32[w + OF_KIND] = init.kind;
    Atomics.store(i32, w + OF_FLAGS, init.flags);
    i32[w + OF_HOSTFD] = init.hostFd;
    i32[w + OF_PCFILE] = 0;
    i32[w + OF_PUSHBACK] = 0; // host stdin's peeked bytes (kernel/fs/host-stdin.ts): none yet
    ctx.ctl.f64[(w + OF_OFFSET) / 2] = 0;
    ctx.ctl.f64[(w + OF_DEV) / 2] = init.dev ?? -1;
    ctx.ctl.f64[(w + OF_INO) / 2] = init.ino ?? -1;
    i32[w + OF_PATH_LEN] = path.length;
    new Uint8Array(ctx.ctl.sab, w * 4 + OF_PATH_BYTE, path.length).set(path);
    Atomics.store(i32, w + OF_REFS, 1);
    return id;
  }
  return -ENFILE;
}

/** Releases the object of a description kind defined elsewhere (eventfd, socket, epoll): its OF_HOSTFD value. */
export type OfileReleaseHook = (ctx: KernelContext, object: number, waiter: Waiter | null) => void;
const releaseHooks = new Map<number, OfileReleaseHook>();
/** Install the release of kind `kind`'s objects (at import time, by the module that creates them). */
export function setOfileReleaseHook(kind: number, fn: OfileReleaseHook): void {
  releaseHooks.set(kind, fn);
}
/** Told of every description's release, before its object goes (epoll drops items that name it). */
export type OfileGoneHook = (ctx: KernelContext, id: number, waiter: Waiter | null) => void;
const goneHooks: OfileGoneHook[] = [];
/** Install a hook told of every release (at import time). */
export function addOfileGoneHook(fn: OfileGoneHook): void {
  goneHooks.push(fn);
}

/** Take one more reference on live description `id`. */
export function ofileGet(ctx: KernelContext, id: number): void {
  const n = Atomics.add(ctx.ctl.i32, ofileWord(ctx, id, OF_REFS), 1);
  if (n <= 0) throw new Error(`ofileGet: ofile ${id} is not live`);
}

/**
 * Drop one reference; the last one releases the description (see the header). `waiter` is
 * the scheduler's wake for threads blocked on a pipe whose end this closes (null: notify only).
 */
export function ofilePut(ctx: KernelContext, id: number, waiter: Waiter | null = null): void {
  const i32 = ctx.ctl.i32;
  const w = ofileWord(ctx, id, 0);
  const n = Atomics.sub(i32, w + OF_REFS, 1) - 1;
  if (n < 0) throw new Error(`ofilePut: ofile ${id} has no references`);
  if (n > 0) return;
  releaseOfile(ctx, id, waiter); // its flock and OFD locks (Linux: at the last fput)
  const kind = i32[w + OF_KIND]!;
  const host = i32[w + OF_HOSTFD]!;
  for (const gone of goneHooks) gone(ctx, id, waiter); // before the object goes (epoll items name it)
  const release = releaseHooks.get(kind);
  if (release) release(ctx, host, waiter);
  else if (kind === OK_HOST_FILE || kind === OK_HOST_DIR) {
    try { fs.closeSync(host); } catch { /* already gone: nothing to release */ }
  } else if (kind === OK_PIPE_READ || kind === OK_PIPE_WRITE) {
    const fifo = ofileFifo(ctx, id);
    if (fifo >= 0) { // a FIFO end (kernel/fs/fifo.ts): O_RDWR holds both
      const acc = i32[w + OF_FLAGS]! & O_ACCMODE;
      fifoClose(ctx, fifo, acc !== O_WRONLY, acc !== O_RDONLY, waiter);
    } else {
      pipeCloseEnd(ctx, host, kind === OK_PIPE_WRITE, waiter);
    }
  } else {
    specialOps(kind)?.release(ctx, host); // a special file (kernel/fs/special.ts): its owner releases the handle
  }
  const pc = i32[w + OF_PCFILE]!;
  if (pc !== 0) fileRefDelta(ctx, pc, -1);
  Atomics.store(i32, w + OF_STATE, SLOT_FREE);
}

/** OF_DEV of a FIFO's pipe end (OF_INO then holds the FIFO record, kernel/fs/fifo.ts). */
export const FIFO_DEV = -3;
/** The FIFO record behind pipe-end description `id`, or -1 (an anonymous pipe, or not a pipe end). */
export function ofileFifo(ctx: KernelContext, id: number): number {
  const w = ofileWord(ctx, id, 0);
  return ctx.ctl.f64[(w + OF_DEV) / 2] === FIFO_DEV ? ctx.ctl.f64[(w + OF_INO) / 2]! : -1;
}

/** References held on `id` (tests, statistics). */
export function ofileRefs(ctx: KernelContext, id: number): number {
  return Atomics.load(ctx.ctl.i32, ofileWord(ctx, id, OF_REFS));
}

/** Descriptions live now (leak checks). */
export function ofilesLive(ctx: KernelContext): number {
  let n = 0;
  for (let id = 1, max = ctx.ctl.layout.fs.ofiles; id <= max; id++) if (Atomics.load(ctx.ctl.i32, ofileWord(ctx, id, OF_STATE)) === SLOT_LIVE) n++;
  return n;
}

export const ofileKind = (ctx: KernelContext, id: number): number => ctx.ctl.i32[ofileWord(ctx, id, OF_KIND)]!;
export const ofileHostFd = (ctx: KernelContext, id: number): number => ctx.ctl.i32[ofileWord(ctx, id, OF_HOSTFD)]!;
export const ofileFlags = (ctx: KernelContext, id: number): number => Atomics.load(ctx.ctl.i32, ofileWord(ctx, id, OF_FLAGS));

/** Replace the status flags selected by `mask` (F_SETFL); the access mode never changes. */
export function ofileSetFlags(ctx: KernelContext, id: number, mask: number, value: number): void {
  const i32 = ctx.ctl.i32;
  const w = ofileWord(ctx, id, OF_FLAGS);
  for (;;) {
    const old = Atomics.load(i32, w);
    const next = (old & ~mask) | (value & mask);
    if (Atomics.compareExchange(i32, w, old, next) === old) return;
  }
}

/** True when the description was opened for reading / writing. */
export function ofileReadable(ctx: KernelContext, id: number): boolean {
  const acc = ofileFlags(ctx, id) & O_ACCMODE;
  return acc === O_RDONLY || acc === 2;
}
export function ofileWritable(ctx: KernelContext, id: number): boolean {
  const acc = ofileFlags(ctx, id) & O_ACCMODE;
  return acc === O_WRONLY || acc === 2;
}

/** Canonical guest path of a host file or directory, a byte string ('' for other kinds). */
export function ofilePath(ctx: KernelContext, id: number): string {
  const w = ofileWord(ctx, id, 0);
  const n = ctx.ctl.i32[w + OF_PATH_LEN]!;
  return Buffer.from(new Uint8Array(ctx.ctl.sab, w * 4 + OF_PATH_BYTE, n)).toString('latin1');
}

/** The offset lock of `id` (Linux's f_pos_lock): hold it across read-modify-write of the offset. */
export function ofileLock(ctx: KernelContext, id: number): SpinLock {
  return new SpinLock(ctx.ctl.i32, ofileWord(ctx, id, OF_LOCK), ctx.whileWaiting);
}

/** File position of `id` (caller holds ofileLock for a consistent read-modify-write). */
export function ofileOffset(ctx: KernelContext, id: number): number {
  return ctx.ctl.f64[ofileWord(ctx, id, OF_OFFSET) / 2]!;
}
export function ofileSetOffset(ctx: KernelContext, id: number, offset: number): void {
  ctx.ctl.f64[ofileWord(ctx, id, OF_OFFSET) / 2] = offset;
}

/**
 * The page-cache file (kernel/mm/pagecache.ts id) that mmap of description `id` maps: the one
 * cache file of its host inode (openHostFile: shared with every other open), looked up on the
 * first call and referenced until the description is released. Returns the id, or -errno from createFile (-ENFILE, -ENAMETOOLONG).
 * The caller passes the id to mmap, which takes its own reference per region.
 */
export function ofileMmapFile(ctx: KernelContext, id: number, root: HostRoot): number {
  const lock = ofileLock(ctx, id);
  const w = ofileWord(ctx, id, OF_PCFILE);
  return lock.with(() => {
    const have = ctx.ctl.i32[w]!;
    if (have !== 0) return have;
    const pc = openHostFile(ctx, { hostPath: root.hostOfGuest(ofilePath(ctx, id)), hostFd: ofileHostFd(ctx, id) });
    if (pc > 0) ctx.ctl.i32[w] = pc;
    return pc;
  });
}

/**
 * The page-cache file holding pages of host file `id` (any open of the same inode may have
 * created it), with one new reference the caller drops with fileRefDelta; 0 when none exists.
 */
export function ofileCachedFile(ctx: KernelContext, id: number): number {
  const w = ofileWord(ctx, id, 0);
  const dev = ctx.ctl.f64[(w + OF_DEV) / 2]!, ino = ctx.ctl.f64[(w + OF_INO) / 2]!;
  return ino < 0 ? 0 : findHostFile(ctx, dev, ino);
}
