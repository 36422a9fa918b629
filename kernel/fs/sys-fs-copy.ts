/**
 * File syscalls, part 4: durability and in-kernel copies — fsync fdatasync syncfs sync
 * sendfile copy_file_range fadvise64 readahead. Conventions as kernel/fs/sys-fs.ts.
 *
 * fsync is a real flush: the caller's own shared mappings of the file have their dirty pages
 * written to the host file (kernel/mm/mmap.ts msyncFile: clean PTEs → shoot down → write
 * back), write() already wrote through, and then the host file is fsync'ed. In-kernel copies
 * move bytes through a kernel buffer: reads overlay the page cache's pages on the host's
 * bytes, writes update them (kernel/mm/pagecache.ts), exactly as read() and write() do.
 */
import * as fs from 'node:fs';
import { EBADF, EFAULT, EFBIG, EINVAL } from '../errno.ts';
import { EISDIR, errnoFromNode, ESPIPE } from './hostfs.ts';
import { O_APPEND, O_NONBLOCK, O_PATH } from '../linux-flags.ts';
import {
  ofileCachedFile, ofileFlags, ofileHostFd, ofileKind, ofileLock, ofileOffset, ofileReadable, ofileSetOffset, ofileWritable,
} from './ofile.ts';
import { fileRefDelta, overlayCached, writeThrough } from '../mm/pagecache.ts';
import { msyncFile } from '../mm/mmap.ts';
import { PARKED, pipeAvailable, pipeWrite } from './pipe.ts';
import { OK_HOST_DIR, OK_HOST_FILE, OK_PIPE_READ, OK_PIPE_WRITE, OK_STDIO, PIPE_BUF, PIPE_CAPACITY } from './layout.ts';
import type { FsEnv } from './sys-fs-env.ts';
import { FILE_BYTES_MAX, withFd } from './sys-fs.ts';
import { argInt, argU } from '../syscall.ts';
import { copyFromUser, copyToUser } from '../mm/uaccess.ts';

/** Bytes one in-kernel copy step moves (bounds the kernel buffer). */
const COPY_CHUNK = 1 << 16;
/** Linux MAX_RW_COUNT. */
const MAX_RW_COUNT = 0x7ffff000;
/** posix_fadvise advice values (POSIX_FADV_NORMAL .. POSIX_FADV_NOREUSE). */
const FADV_MAX = 5;


/**
 * fsync(fd) / fdatasync(fd): the caller's dirty shared-mapping pages of the file written back,
 * then the host file synced. EINVAL for pipes and the host's stdio (Linux: no fsync there).
 */
function syncFd(f: FsEnv, a: readonly bigint[], dataOnly: boolean): number {
  return withFd(f, argInt(a[0]!), (id) => {
    const k = ofileKind(f.kctx, id);
    if (ofileFlags(f.kctx, id) & O_PATH) return -EBADF;
    if (k !== OK_HOST_FILE && k !== OK_HOST_DIR) return -EINVAL;
    if (k === OK_HOST_FILE) {
      const pc = ofileCachedFile(f.kctx, id);
      if (pc > 0) {
        try { msyncFile(f.kctx, f.as, pc); } finally { fileRefDelta(f.kctx, pc, -1); }
      }
    }
    try {
      if (dataOnly) fs.fdatasyncSync(ofileHostFd(f.kctx, id));
      else fs.fsyncSync(ofileHostFd(f.kctx, id));
    } catch (e) {
      return -errnoFromNode(e);
    }
    return 0;
  });
}
/** fsync(fd). */
export const sysFsync = (f: FsEnv, a: readonly bigint[]): number => syncFd(f, a, false);
/** fdatasync(fd). */
export const sysFdatasync = (f: FsEnv, a: readonly bigint[]): number => syncFd(f, a, true);

/** syncfs(fd): the file's own flush when it is a host file (the guest's filesystem is the host's), else 0. */
export function sysSyncfs(f: FsEnv, a: readonly bigint[]): number {
  return withFd(f, argInt(a[0]!), (id) => {
    const k = ofileKind(f.kctx, id);
    if (k !== OK_HOST_FILE && k !== OK_HOST_DIR) return 0;
    const r = syncFd(f, a, false);
    return r === -EINVAL ? 0 : r;
  });
}

/** sync(): 0 (the host writes its caches back; write() here already wrote through). */
export const sysSync = (): number => 0;

/** Bytes [pos, pos + len) of host file `id` as the guest sees them (page cache overlaid); fewer at EOF. */
function readKernel(f: FsEnv, id: number, pos: number, len: number): Buffer | number {
  const buf = Buffer.alloc(len);
  let got: number;
  try {
    got = fs.readSync(ofileHostFd(f.kctx, id), buf, 0, len, pos);
  } catch (e) {
    return -errnoFromNode(e);
  }
  const pc = ofileCachedFile(f.kctx, id);
  if (pc > 0) {
    try { overlayCached(f.kctx, pc, pos, buf.subarray(0, got)); } finally { fileRefDelta(f.kctx, pc, -1); }
  }
  return buf.subarray(0, got);
}

/** Write `bytes` to host file `id` at `pos` (page cache updated). Count or -errno. */
function writeFileAt(f: FsEnv, id: number, pos: number, bytes: Uint8Array): number {
  if (pos >= FILE_BYTES_MAX) return -EFBIG;
  const hfd = ofileHostFd(f.kctx, id);
  let off = 0;
  try {
    while (off < bytes.length) off += fs.writeSync(hfd, bytes, off, bytes.length - off, pos + off);
  } catch (e) {
    if (off === 0) return -errnoFromNode(e);
  }
  const pc = ofileCachedFile(f.kctx, id);
  if (pc > 0) {
    try { writeThrough(f.kctx, pc, pos, bytes.subarray(0, off)); } finally { fileRefDelta(f.kctx, pc, -1); }
  }
  return off;
}

/**
 * Write `bytes` to description `id` as write() would (at and advancing its offset, O_APPEND,
 * stdio, pipes). `done`: what the syscall moved before (a parked pipe write reports it).
 * Count, -errno or PARKED.
 */
function writeKernel(f: FsEnv, id: number, bytes: Uint8Array, done: number): number {
  const { kctx } = f;
  const flags = ofileFlags(kctx, id);
  switch (ofileKind(kctx, id)) {
    case OK_HOST_FILE:
      return ofileLock(kctx, id).with(() => {
        let at = ofileOffset(kctx, id);
        if (flags & O_APPEND) {
          try { at = fs.fstatSync(ofileHostFd(kctx, id)).size; } catch (e) { return -errnoFromNode(e); }
        }
        const n = writeFileAt(f, id, at, bytes);
        if (n > 0) ofileSetOffset(kctx, id, at + n);
        return n;
      });
    case OK_STDIO: {
      const hfd = ofileHostFd(kctx, id);
      try {
        if ((hfd === 1 || hfd === 2) && f.sched) f.sched.hostWrite(hfd, bytes);
        else fs.writeSync(hfd, bytes);
      } catch (e) {
        return -errnoFromNode(e);
      }
      return bytes.length;
    }
    case OK_PIPE_WRITE:
      return pipeWrite(kctx, ofileHostFd(kctx, id), bytes.length, (flags & O_NONBLOCK) !== 0, f.waiter,
        (off, n) => bytes.subarray(off, off + n), 0, done);
    default:
      return -EBADF;
  }
}

/** Room for one more atomic chunk in the pipe of write end `id` (other kinds: always). */
function outHasRoom(f: FsEnv, id: number, n: number): boolean {
  if (ofileKind(f.kctx, id) !== OK_PIPE_WRITE) return true;
  return PIPE_CAPACITY - pipeAvailable(f.kctx, ofileHostFd(f.kctx, id)) >= n;
}

/** A loff_t pointer argument read (null pointer: null), or -EFAULT / -EINVAL for a negative value. */
function readOffset(f: FsEnv, va: number): number | null | { err: number } {
  if (va === 0) return null;
  const b = copyFromUser(f.kctx, f.as, va, 8);
  if (typeof b === 'number') return { err: -EFAULT };
  const v = new DataView(b.buffer, b.byteOffset, 8).getBigInt64(0, true);
  if (v < 0n) return { err: -EINVAL };
  return Number(v);
}
function writeOffset(f: FsEnv, va: number, v: number): number {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(v), true);
  return copyToUser(f.kctx, f.as, va, b) < 0 ? -EFAULT : 0;
}

/**
 * sendfile(out_fd, in_fd, offset, count): copy from host file in_fd (at *offset, updated,
 * when offset is given; else at and advancing in_fd's offset) to out_fd (a file, pipe or the
 * host's stdio). EBADF (not readable / writable), EINVAL (in_fd not a regular file, O_APPEND
 * out file), EAGAIN from a full O_NONBLOCK pipe before any byte moved.
 * A pipe output takes chunks of PIPE_BUF bytes, each whole: once some bytes moved, a full
 * pipe ends the call with the partial count instead of blocking (Linux's sendfile does too
 * when a signal or O_NONBLOCK stops it; the bytes it reports are exactly the bytes moved).
 */
export function sysSendfile(f: FsEnv, a: readonly bigint[]): number {
  const resumed = f.waiter.resumed?.() ?? 0;
  if (resumed > 0) return resumed; // a pipe write parked after earlier chunks moved: report them
  const { kctx } = f;
  const offVa = argU(a[2]!);
  const count = Math.min(argU(a[3]!), MAX_RW_COUNT);
  return withFd(f, argInt(a[1]!), (inId) => withFd(f, argInt(a[0]!), (outId) => {
    if (!ofileReadable(kctx, inId) || ofileFlags(kctx, inId) & O_PATH) return -EBADF;
    if (!ofileWritable(kctx, outId) || ofileFlags(kctx, outId) & O_PATH) return -EBADF;
    if (ofileKind(kctx, inId) !== OK_HOST_FILE) return -EINVAL;
    const outKind = ofileKind(kctx, outId);
    if (outKind === OK_HOST_FILE && ofileFlags(kctx, outId) & O_APPEND) return -EINVAL;
    if (outKind === OK_HOST_DIR || outKind === OK_PIPE_READ) return -EBADF;
    const given = readOffset(f, offVa);
    if (given !== null && typeof given === 'object') return given.err;
    const pipeOut = outKind === OK_PIPE_WRITE;
    const step = pipeOut ? PIPE_BUF : COPY_CHUNK;
    const lock = ofileLock(kctx, inId);
    let pos = given ?? lock.with(() => ofileOffset(kctx, inId));
    let total = 0;
    let err = 0;
    while (total < count) {
      const want = Math.min(step, count - total);
      if (total > 0 && pipeOut && !outHasRoom(f, outId, want)) break;
      const bytes = readKernel(f, inId, pos, want);
      if (typeof bytes === 'number') { err = bytes; break; }
      if (bytes.length === 0) break;
      const n = writeKernel(f, outId, bytes, total);
      if (n === PARKED) {
        if (total === 0) return PARKED; // nothing moved: the re-run starts over
        break; // unreachable while outHasRoom holds; the waiter reports total on the re-run
      }
      if (n < 0) { err = n; break; }
      total += n;
      pos += n;
      if (n < bytes.length) break;
    }
    if (total > 0 || err === 0) {
      if (given !== null) {
        if (writeOffset(f, offVa, pos) < 0) return -EFAULT;
      } else lock.with(() => ofileSetOffset(kctx, inId, pos));
    }
    return total > 0 ? total : err;
  }));
}

/**
 * copy_file_range(fd_in, off_in, fd_out, off_out, len, flags): copy between two regular host
 * files, each at *off (updated) or at and advancing its description's offset. EINVAL: flags
 * non-zero, a non-regular file, overlapping ranges of one file; EISDIR for a directory; EBADF:
 * not readable / writable, or fd_out O_APPEND.
 */
export function sysCopyFileRange(f: FsEnv, a: readonly bigint[]): number {
  const { kctx } = f;
  if (argInt(a[5]!) !== 0) return -EINVAL;
  const offInVa = argU(a[1]!), offOutVa = argU(a[3]!);
  const len = Math.min(argU(a[4]!), MAX_RW_COUNT);
  return withFd(f, argInt(a[0]!), (inId) => withFd(f, argInt(a[2]!), (outId) => {
    if (!ofileReadable(kctx, inId) || !ofileWritable(kctx, outId)) return -EBADF;
    if (ofileFlags(kctx, outId) & O_APPEND) return -EBADF;
    const ki = ofileKind(kctx, inId), ko = ofileKind(kctx, outId);
    if (ki === OK_HOST_DIR || ko === OK_HOST_DIR) return -EISDIR;
    if (ki !== OK_HOST_FILE || ko !== OK_HOST_FILE) return -EINVAL;
    const gi = readOffset(f, offInVa), go = readOffset(f, offOutVa);
    if (gi !== null && typeof gi === 'object') return gi.err;
    if (go !== null && typeof go === 'object') return go.err;
    let pin = gi ?? ofileLock(kctx, inId).with(() => ofileOffset(kctx, inId));
    let pout = go ?? ofileLock(kctx, outId).with(() => ofileOffset(kctx, outId));
    let same = false;
    try {
      const si = fs.fstatSync(ofileHostFd(kctx, inId)), so = fs.fstatSync(ofileHostFd(kctx, outId));
      same = si.dev === so.dev && si.ino === so.ino;
    } catch (e) {
      return -errnoFromNode(e);
    }
    if (same && pin < pout + len && pout < pin + len) return -EINVAL;
    if (pout + len > FILE_BYTES_MAX) return -EFBIG;
    let total = 0;
    while (total < len) {
      const bytes = readKernel(f, inId, pin, Math.min(COPY_CHUNK, len - total));
      if (typeof bytes === 'number') { if (total === 0) return bytes; break; }
      if (bytes.length === 0) break;
      const n = writeFileAt(f, outId, pout, bytes);
      if (n < 0) { if (total === 0) return n; break; }
      total += n;
      pin += n;
      pout += n;
      if (n < bytes.length) break;
    }
    if (gi !== null) { if (writeOffset(f, offInVa, pin) < 0) return -EFAULT; } else ofileLock(kctx, inId).with(() => ofileSetOffset(kctx, inId, pin));
    if (go !== null) { if (writeOffset(f, offOutVa, pout) < 0) return -EFAULT; } else ofileLock(kctx, outId).with(() => ofileSetOffset(kctx, outId, pout));
    return total;
  }));
}

/** fadvise64(fd, offset, len, advice): ESPIPE for pipes, EINVAL for unknown advice or a negative len; advice taken, nothing changes. */
export function sysFadvise64(f: FsEnv, a: readonly bigint[]): number {
  const len = BigInt.asIntN(64, a[2]!), advice = argInt(a[3]!);
  return withFd(f, argInt(a[0]!), (id) => {
    const k = ofileKind(f.kctx, id);
    if (k === OK_PIPE_READ || k === OK_PIPE_WRITE) return -ESPIPE;
    if (advice < 0 || advice > FADV_MAX || len < 0n) return -EINVAL;
    return 0;
  });
}

/**
 * readahead(fd, offset, count): EBADF unless open for reading; EINVAL unless a regular file.
 * The host's own cache does the reading ahead; nothing is added to the page cache here (it
 * caches only mapped files).
 */
export function sysReadahead(f: FsEnv, a: readonly bigint[]): number {
  return withFd(f, argInt(a[0]!), (id) => {
    if (!ofileReadable(f.kctx, id)) return -EBADF;
    return ofileKind(f.kctx, id) === OK_HOST_FILE ? 0 : -EINVAL;
  });
}

