/**
 * File syscalls, part 1: data movement — read write readv writev pread64 pwrite64 lseek,
 * open and close — over the open file descriptions of kernel/fs/ofile.ts. Linux riscv64
 * semantics and errnos; every user buffer goes through kernel/mm/uaccess.ts (a wild or
 * kernel-half pointer is -EFAULT, never a host exception).
 *
 * Handlers take an FsEnv (kernel/fs/sys-fs-env.ts) and the raw argument registers; they return
 * a count or -errno, or PARKED when the Waiter parked the thread (the dispatcher's NO_RETURN).
 * Registration with the dispatcher: kernel/fs/sys-fs-register.ts.
 *
 * Host I/O is positional (pread/pwrite on the host fd at the description's offset, under
 * its offset lock), so the host fd's own position never matters and two harts sharing a
 * description see one offset. O_APPEND writes append on the host, then the offset is the
 * new end. stdio descriptions read and write the host's own fds as streams (ESPIPE on seek).
 *
 * The page cache (kernel/mm/pagecache.ts) is the truth for the pages it holds: when the inode of
 * a host file has a cache file (someone mapped it), read() overlays the cached pages on the
 * host's bytes and write() updates them after writing the host; O_TRUNC truncates them.
 */
import * as fs from 'node:fs';
import { argInt, argU } from '../syscall.ts';
import { EACCES, EBADF, EFAULT, EFBIG, EINVAL } from '../errno.ts';
import { fdClose, fdGet, fdInstall, fdTableCwd, fdTableHasFree, fdTableUmask } from './fdtable.ts';
import {
  EISDIR, EMFILE, ENOTDIR, ENXIO, EPIPE, errnoFromNode, ESPIPE, openInRoot, OPEN_RETRY, openFlagsToHost, PATH_MAX, type ResolvedPath,
} from './hostfs.ts';
import {
  AT_FDCWD, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_EXCL, O_LARGEFILE, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_TRUNC,
  SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET,
} from '../linux-flags.ts';
import {
  ofileCreate, ofileFlags, ofileHostFd, ofileKind, ofileLock, ofileOffset, ofilePath, ofilePut, ofileReadable,
  ofileCachedFile, ofileSetOffset, ofileWritable, FIFO_DEV,
} from './ofile.ts';
import { fileRefDelta, overlayCached, writeThrough } from '../mm/pagecache.ts';
import { truncateCached } from './sys-fs-truncate.ts';
import { hostStreamRead } from './host-stdin.ts';
import { PARKED, pipeRead, pipeWrite, raiseSigpipe } from './pipe.ts';
import { OK_CHARDEV, OK_HOST_DIR, OK_HOST_FILE, OK_PIPE_READ, OK_PIPE_WRITE, OK_STDIO, OK_VIRT_DIR, OK_VIRT_FILE } from './layout.ts';
import { isVirtualKind, virtLseek, virtOpen, virtRead, virtWrite } from './sys-fs-virt.ts';
import type { FsEnv } from './sys-fs-env.ts';
import { accessOk, copyFromUser, copyToUser, readIovecs, strncpyFromUser } from '../mm/uaccess.ts';
import { inject, INJ } from '../lab/inject.ts';
import { fifoClose, fifoDropWait, fifoFind, fifoOpen } from './fifo.ts';
import { procOps } from '../proc/sys-proc.ts';

/** Returned by a handler whose thread the Waiter parked (becomes NO_RETURN); kernel/fs/pipe.ts. */
export { PARKED } from './pipe.ts';
import { specialOps } from './special.ts';
/** Bytes moved between host and user per step (bounds the bounce buffer, not the request). */
const IO_CHUNK = 1 << 16;
/** Linux MAX_RW_COUNT: one read/write moves at most this many bytes. */
const MAX_RW_COUNT = 0x7ffff000;
/**
 * Largest size a host file reaches here (the s_maxbytes of this "filesystem"): Node takes
 * file positions and lengths as safe integers only (below 2^53) and treats a position it
 * cannot take as "the current position". So positions at or past it never reach the host: a
 * write there is -EFBIG, a read returns 0, a write crossing it is cut short at it, ftruncate
 * past it is -EFBIG — what Linux does at s_maxbytes (generic_write_check_limits,
 * inode_newsize_ok). Host filesystems with a smaller limit (ext4: 16 TiB) say so themselves.
 */
export const FILE_BYTES_MAX = Number.MAX_SAFE_INTEGER; // 2^53 - 1
/** Linux loff_t's largest value: pos + count beyond it is -EINVAL (rw_verify_area). */
const LOFF_MAX = 2n ** 63n - 1n;

/** Run `fn` with the description at `fd` (one reference held throughout), or -EBADF. */
export function withFd(f: FsEnv, fd: number, fn: (id: number) => number): number {
  return withFdValue<number>(f, fd, fn);
}

/**
 * Read from a host fd into user va; `pos` null = the host fd's stream position. `pc`: the
 * page-cache file whose cached pages overlay the host's bytes (0: none). Count or -errno.
 */
function hostRead(f: FsEnv, hostFd: number, va: number, len: number, pos: number | null, pc = 0): number {
  let done = 0;
  while (done < len) {
    const k = Math.min(IO_CHUNK, len - done);
    const buf = Buffer.alloc(k);
    let got: number;
    try {
      got = fs.readSync(hostFd, buf, 0, k, pos === null ? null : pos + done);
    } catch (e) {
      return done > 0 ? done : -errnoFromNode(e);
    }
    if (got === 0) break;
    if (pc > 0 && pos !== null) overlayCached(f.kctx, pc, pos + done, buf.subarray(0, got));
    if (copyToUser(f.kctx, f.as, va + done, buf.subarray(0, got)) < 0) return done > 0 ? done : -EFAULT;
    done += got;
    if (got < k || pos === null) break; // a stream returns what it has
  }
  return done;
}

/**
 * Write user bytes [va, va + len) to a host fd (`pos` null: stream / O_APPEND). `pc`: the
 * page-cache file to update, the bytes landing at file position `at` (pc 0: none). Count or -errno.
 */
function hostWrite(f: FsEnv, hostFd: number, va: number, len: number, pos: number | null, pc = 0, at = 0): number {
  let done = 0;
  while (done < len) {
    const k = Math.min(IO_CHUNK, len - done);
    const bytes = copyFromUser(f.kctx, f.as, va + done, k);
    if (typeof bytes === 'number') return done > 0 ? done : -EFAULT;
    try {
      if ((hostFd === 1 || hostFd === 2) && pos === null && f.sched) f.sched.hostWrite(hostFd, bytes);
      else {
        let off = 0;
        while (off < k) off += fs.writeSync(hostFd, bytes, off, k - off, pos === null ? null : pos + done + off);
      }
    } catch (e) {
      const err = errnoFromNode(e);
      if (err === EPIPE) raiseSigpipe(); // the host's reader went away: as Linux, SIGPIPE with the EPIPE
      return done > 0 ? done : -err;
    }
    if (pc > 0) writeThrough(f.kctx, pc, at + done, bytes);
    done += k;
  }
  return done;
}

/**
 * read/pread core on description `id`: `pos` null = at (and advancing) the shared offset.
 * Count, 0 at EOF, -errno or PARKED.
 */
export function readAt(f: FsEnv, id: number, va: number, len: number, pos: number | null): number {
  const { kctx } = f;
  const flags = ofileFlags(kctx, id);
  if (flags & O_PATH || !ofileReadable(kctx, id)) return -EBADF;
  len = Math.min(len, MAX_RW_COUNT);
  switch (ofileKind(kctx, id)) {
    case OK_HOST_DIR:
      return -EISDIR;
    case OK_HOST_FILE:
      if (pos !== null && pos >= FILE_BYTES_MAX) return 0; // at or past s_maxbytes: end of file
      return withCache(f, id, (pc) => {
        if (pos !== null) return hostRead(f, ofileHostFd(kctx, id), va, len, pos, pc);
        const lock = ofileLock(kctx, id);
        return lock.with(() => {
          const at = ofileOffset(kctx, id);
          const n = hostRead(f, ofileHostFd(kctx, id), va, len, at, pc);
          if (n > 0) ofileSetOffset(kctx, id, at + n);
          return n;
        });
      });
    case OK_STDIO: // the host's stdin may block: never on the hart (kernel/fs/host-stdin.ts)
      if (pos !== null) return -ESPIPE;
      return len === 0 ? 0 : hostStreamRead(f, id, ofileHostFd(kctx, id), va, len, (flags & O_NONBLOCK) !== 0);
    case OK_PIPE_READ: {
      if (pos !== null) return -ESPIPE;
      const r = pipeRead(kctx, ofileHostFd(kctx, id), len, (flags & O_NONBLOCK) !== 0, f.waiter,
        (n) => (accessOk(f.as, va, n, true) ? 0 : -EFAULT),
        (bytes) => { copyToUser(kctx, f.as, va, bytes); });
      return r;
    }
    case OK_VIRT_FILE: case OK_VIRT_DIR: case OK_CHARDEV: // /proc and /dev (kernel/fs/sys-fs-virt.ts)
      return virtRead(f, id, va, len, pos);
    default: {
      const special = specialOps(ofileKind(kctx, id)); // a timerfd (kernel/fs/special.ts)
      if (special !== undefined) {
        if (pos !== null) return -ESPIPE;
        return special.read(f, id, ofileHostFd(kctx, id), va, len, (flags & O_NONBLOCK) !== 0);
      }
      const io = kindIo.get(ofileKind(kctx, id)); // eventfd, socket (kernel/fs/sys-pollio-register.ts)
      if (io === undefined) return -EBADF;
      return pos !== null ? -ESPIPE : io.read(f, id, va, len);
    }
  }
}

/**
 * write/pwrite core on description `id` (see readAt). `resume` and `base` (pipes): bytes of
 * this buffer already written before the syscall parked, and bytes the syscall moved before
 * this buffer (kernel/fs/pipe.ts pipeWrite); the count returned includes `resume`.
 */
export function writeAt(f: FsEnv, id: number, va: number, len: number, pos: number | null, resume = 0, base = 0): number {
  const { kctx } = f;
  const flags = ofileFlags(kctx, id);
  if (flags & O_PATH || !ofileWritable(kctx, id)) return -EBADF;
  len = Math.min(len, MAX_RW_COUNT);
  switch (ofileKind(kctx, id)) {
    case OK_HOST_FILE:
      if (pos !== null && !(flags & O_APPEND)) {
        if (pos >= FILE_BYTES_MAX) return -EFBIG;
        len = Math.min(len, FILE_BYTES_MAX - pos);
      }
      return withCache(f, id, (pc) => {
        const hfd = ofileHostFd(kctx, id);
        if (pos !== null && !(flags & O_APPEND)) return hostWrite(f, hfd, va, len, pos, pc, pos);
        const lock = ofileLock(kctx, id);
        return lock.with(() => {
          if (flags & O_APPEND) { // the host fd has O_APPEND: appends (pwrite too, as on Linux)
            let end = 0;
            try { end = fs.fstatSync(hfd).size; } catch (e) { return -errnoFromNode(e); }
            const n = hostWrite(f, hfd, va, len, null, pc, end);
            if (pos === null) ofileSetOffset(kctx, id, end + Math.max(n, 0));
            return n;
          }
          const at = ofileOffset(kctx, id);
          if (at >= FILE_BYTES_MAX) return -EFBIG;
          const n = hostWrite(f, hfd, va, Math.min(len, FILE_BYTES_MAX - at), at, pc, at);
          if (n > 0) ofileSetOffset(kctx, id, at + n);
          return n;
        });
      });
    case OK_STDIO:
      if (pos !== null) return -ESPIPE;
      return hostWrite(f, ofileHostFd(kctx, id), va, len, null);
    case OK_PIPE_WRITE: case OK_PIPE_READ: // a read kind that is writable: a FIFO opened O_RDWR
      if (pos !== null) return -ESPIPE;
      return pipeWrite(kctx, ofileHostFd(kctx, id), len, (flags & O_NONBLOCK) !== 0, f.waiter,
        (off, n) => {
          const b = copyFromUser(kctx, f.as, va + off, n);
          return typeof b === 'number' ? -EFAULT : b;
        }, resume, base);
    case OK_CHARDEV: // /dev/null, zero, random: kernel/fs/sys-fs-virt.ts
      return virtWrite(f, id, len);
    default: {
      if (specialOps(ofileKind(kctx, id))) return -EINVAL; // a timerfd is not writable (Linux: EINVAL)
      const io = kindIo.get(ofileKind(kctx, id));
      if (io === undefined) return -EBADF;
      return pos !== null ? -ESPIPE : io.write(f, id, va, len, resume);
    }
  }
}

/** read/write of a description kind defined in another file: count, -errno or PARKED. */
export interface KindIo {
  read(f: FsEnv, id: number, va: number, len: number): number;
  /** `resume`: bytes written before the syscall parked (a restarting waiter's re-run). */
  write(f: FsEnv, id: number, va: number, len: number, resume: number): number;
}
const kindIo = new Map<number, KindIo>();
/** Install read/write for description kind `kind` (at import time). */
export function setKindIo(kind: number, io: KindIo): void {
  kindIo.set(kind, io);
}

/** Run `fn` with the page-cache file of host file `id` (0 when its inode has none), referenced throughout. */
function withCache(f: FsEnv, id: number, fn: (pc: number) => number): number {
  const pc = ofileCachedFile(f.kctx, id);
  try {
    return fn(pc);
  } finally {
    if (pc > 0) fileRefDelta(f.kctx, pc, -1);
  }
}

/** read(fd, buf, count). */
export function sysRead(f: FsEnv, a: readonly bigint[]): number {
  return withFd(f, argInt(a[0]!), (id) => readAt(f, id, argU(a[1]!), argU(a[2]!), null));
}
/** write(fd, buf, count); a re-run after a pipe write parked resumes after what it wrote. */
export function sysWrite(f: FsEnv, a: readonly bigint[]): number {
  const resume = f.waiter.resumed?.() ?? 0;
  return withFd(f, argInt(a[0]!), (id) => writeAt(f, id, argU(a[1]!), argU(a[2]!), null, resume));
}
/**
 * pread64 / pwrite64 (fd, buf, count, offset): -EINVAL for a negative offset (before the fd
 * is looked up, as Linux) or, on a file, for offset + count past loff_t; -ESPIPE on pipes and
 * ttys; at or past FILE_BYTES_MAX a read returns 0 and a write -EFBIG (see there).
 */
function positional(f: FsEnv, a: readonly bigint[], write: boolean): number {
  const pos = BigInt.asIntN(64, a[3]!);
  if (pos < 0n) return -EINVAL;
  const va = argU(a[1]!), len = argU(a[2]!);
  return withFd(f, argInt(a[0]!), (id) => {
    if (ofileKind(f.kctx, id) === OK_HOST_FILE && pos + BigInt(len) > LOFF_MAX) return -EINVAL;
    const at = pos >= BigInt(FILE_BYTES_MAX) ? FILE_BYTES_MAX : Number(pos);
    return write ? writeAt(f, id, va, len, at) : readAt(f, id, va, len, at);
  });
}
/** pread64(fd, buf, count, offset): see positional. */
export function sysPread(f: FsEnv, a: readonly bigint[]): number {
  return positional(f, a, false);
}
/** pwrite64(fd, buf, count, offset): see positional. */
export function sysPwrite(f: FsEnv, a: readonly bigint[]): number {
  return positional(f, a, true);
}

/** readv/writev: buffer after buffer; a writev re-run after a pipe write parked skips what it wrote. */
function vectored(f: FsEnv, a: readonly bigint[], write: boolean): number {
  let resume = write ? f.waiter.resumed?.() ?? 0 : 0;
  return withFd(f, argInt(a[0]!), (id) => {
    const iov = readIovecs(f.kctx, f.as, argU(a[1]!), argInt(a[2]!));
    if (typeof iov === 'number') return iov;
    let total = 0;
    for (const [base, len] of iov) {
      if (len === 0) continue;
      if (resume >= len) { // written before the syscall parked
        resume -= len;
        total += len;
        continue;
      }
      const n = write ? writeAt(f, id, base, len, null, resume, total) : readAt(f, id, base, len, null);
      resume = 0;
      if (n === PARKED) return n; // the re-run resumes (the waiter recorded total + progress)
      if (n < 0) return total > 0 ? total : n;
      total += n;
      if (n < len) break;
    }
    return total;
  });
}
/** readv(fd, iov, iovcnt). */
export const sysReadv = (f: FsEnv, a: readonly bigint[]): number => vectored(f, a, false);
/** writev(fd, iov, iovcnt). */
export const sysWritev = (f: FsEnv, a: readonly bigint[]): number => vectored(f, a, true);

/** lseek(fd, offset, whence): the new offset, -ESPIPE (pipe, tty), -EINVAL, -ENXIO (SEEK_DATA/HOLE past end). */
export function sysLseek(f: FsEnv, a: readonly bigint[]): number {
  const off = Number(BigInt.asIntN(64, a[1]!));
  const whence = argInt(a[2]!);
  const { kctx } = f;
  return withFd(f, argInt(a[0]!), (id) => {
    const kind = ofileKind(kctx, id);
    if (isVirtualKind(kind)) return virtLseek(f, id, off, whence);
    if (kind !== OK_HOST_FILE && kind !== OK_HOST_DIR) return -ESPIPE;
    const lock = ofileLock(kctx, id);
    return lock.with(() => {
      const cur = ofileOffset(kctx, id);
      let size = 0;
      if (whence === SEEK_END || whence === SEEK_DATA || whence === SEEK_HOLE) {
        try { size = fs.fstatSync(ofileHostFd(kctx, id)).size; } catch (e) { return -errnoFromNode(e); }
      }
      let next: number;
      switch (whence) {
        case SEEK_SET: next = off; break;
        case SEEK_CUR: next = cur + off; break;
        case SEEK_END: next = size + off; break;
        case SEEK_DATA: if (off < 0) return -ENXIO; if (off >= size) return -ENXIO; next = off; break; // no holes here
        case SEEK_HOLE: if (off < 0) return -ENXIO; if (off >= size) return -ENXIO; next = size; break;
        default: return -EINVAL;
      }
      if (next < 0 || next > FILE_BYTES_MAX) return -EINVAL; // Linux vfs_setpos: past s_maxbytes is EINVAL
      ofileSetOffset(kctx, id, next);
      return next;
    });
  });
}

/**
 * Directory a *at() path starts from: undefined for an absolute path, the cwd for AT_FDCWD,
 * else the guest path of directory fd `dirfd` (-EBADF, -ENOTDIR).
 */
export function atBase(f: FsEnv, dirfd: number, path: string): string | undefined | number {
  if (path.startsWith('/')) return undefined;
  if (dirfd === AT_FDCWD) return fdTableCwd(f.kctx, f.fdt);
  return withFdValue(f, dirfd, (id) => {
    const k = ofileKind(f.kctx, id);
    return k === OK_HOST_DIR || k === OK_VIRT_DIR ? ofilePath(f.kctx, id) : -ENOTDIR;
  });
}

/** Run `fn` with the description at `fd` (one reference held throughout), or -EBADF; any result type. */
function withFdValue<T>(f: FsEnv, fd: number, fn: (id: number) => T | number): T | number {
  const id = fdGet(f.kctx, f.fdt, fd);
  if (id < 0) return id;
  try {
    return fn(id);
  } finally {
    ofilePut(f.kctx, id, f.waiter);
  }
}

/** A user path argument: the string, or -EFAULT / -ENAMETOOLONG. */
export function userPath(f: FsEnv, va: number): string | number {
  return strncpyFromUser(f.kctx, f.as, va, PATH_MAX - 1);
}

/** Walks and host opens openat tries before EACCES when the host keeps opening outside the root. */
const OPEN_ATTEMPTS = 8;

/** Flags an open file description keeps (F_GETFL shows them); creation-only flags drop out. */
const KEPT = ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);

/**
 * openat(dirfd, path, flags, mode): the new fd (lowest free), or -errno as Linux: ENOENT,
 * EEXIST (O_CREAT|O_EXCL), ENOTDIR, EISDIR (writing a directory), ELOOP (O_NOFOLLOW on a
 * link), EACCES, EMFILE, ENFILE, EFAULT, ENAMETOOLONG, EINVAL.
 * Nothing is lost on failure: the host file is opened without O_TRUNC, and truncated only
 * once its description and fd exist (Linux allocates both before it truncates).
 */
export function sysOpenat(f: FsEnv, a: readonly bigint[]): number {
  const tix = currentThread();
  const r = openat(f, a, tix);
  // A parked FIFO open keeps the end it holds for its re-run; any other ending of that re-run
  // (the name is gone, an error) drops it (kernel/fs/fifo.ts).
  if (r !== PARKED && tix >= 0) fifoDropWait(f.kctx, tix, f.waiter);
  return r;
}

/** The calling thread's index, or -1 where no scheduler runs (file-layer tests on a bare hart). */
function currentThread(): number {
  try {
    return procOps().currentThread();
  } catch {
    return -1; // no scheduler: nothing parks, so no FIFO open waits (kernel/fs/fifo.ts fifoOpen)
  }
}

function openat(f: FsEnv, a: readonly bigint[], tix: number): number {
  const { kctx } = f;
  const path = userPath(f, argU(a[1]!));
  if (typeof path === 'number') return path;
  const flags = argInt(a[2]!);
  const hf = openFlagsToHost(flags);
  if (typeof hf === 'number') return hf;
  const base = atBase(f, argInt(a[0]!), path);
  if (typeof base === 'number') return base;
  if (!fdTableHasFree(kctx, f.fdt)) return -EMFILE; // Linux takes the fd before the file: EMFILE before ENFILE
  const excl = (flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL);
  const mode = argInt(a[3]!) & 0o7777 & ~fdTableUmask(kctx, f.fdt, null);
  const trunc = (hf.nodeFlags & fs.constants.O_TRUNC) !== 0;
  let hostFd = -1;
  let st: fs.Stats | null = null;
  let res: ResolvedPath | number = -EACCES;
  // The host open must land where the walk said: a path swapped under us (a directory
  // replaced by a symlink to outside) is walked again; a root that keeps moving is EACCES.
  for (let attempt = 0; attempt < OPEN_ATTEMPTS && st === null; attempt++) {
    res = f.root.resolve(path, { base, followFinal: !(flags & O_NOFOLLOW) && !excl });
    if (typeof res === 'number') return res;
    if (res.virt) return virtOpen(f, res, flags, hf); // /proc, /dev (kernel/fs/sys-fs-virt.ts)
    inject(kctx.ctl, INJ['fs.open.after-resolve']);
    hostFd = openInRoot(f.root, res, hf.nodeFlags & ~fs.constants.O_TRUNC, mode, (flags & O_NOFOLLOW) !== 0);
    if (hostFd === OPEN_RETRY) continue;
    if (hostFd < 0) return hostFd;
    try {
      st = fs.fstatSync(hostFd);
    } catch (e) {
      fs.closeSync(hostFd);
      return -errnoFromNode(e);
    }
  }
  if (st === null || typeof res === 'number') return -EACCES;
  if (st.isFile()) {
    const fifo = fifoFind(kctx, st.dev, st.ino);
    if (fifo >= 0) { // a FIFO's name: attach to its pipe (kernel/fs/fifo.ts)
      fs.closeSync(hostFd);
      return openFifo(f, fifo, flags, hf.cloexec, tix);
    }
  }
  const isDir = st.isDirectory();
  const id = ofileCreate(kctx, {
    kind: isDir ? OK_HOST_DIR : OK_HOST_FILE, flags: (flags & KEPT) | O_LARGEFILE, hostFd, path: res.guestPath,
    dev: st.dev, ino: st.ino,
  });
  if (id < 0) {
    fs.closeSync(hostFd);
    return id;
  }
  const fd = fdInstall(kctx, f.fdt, id, hf.cloexec);
  if (fd < 0) {
    ofilePut(kctx, id, f.waiter);
    return fd;
  }
  if (trunc && st.isFile()) {
    try {
      if (hf.writable) fs.ftruncateSync(hostFd, 0);
      else fs.truncateSync(res.hostPath, 0); // O_RDONLY|O_TRUNC: Linux truncates when writing is allowed
    } catch (e) {
      fdClose(kctx, f.fdt, fd, f.waiter);
      return -errnoFromNode(e);
    }
    truncateCached(kctx, id, 0); // the host file is empty: so are its cached pages
  }
  return fd;
}

/**
 * open of FIFO record `fifo`: wait for the other end as Linux (kernel/fs/fifo.ts), then a pipe-end
 * description (O_RDWR: both ends, kind OK_PIPE_READ with a writable access mode). The fd, or
 * -ENXIO, -ENFILE, -EMFILE, -EINTR, PARKED.
 */
function openFifo(f: FsEnv, fifo: number, flags: number, cloexec: boolean, tix: number): number {
  const { kctx } = f;
  const acc = flags & O_ACCMODE;
  const got = fifoOpen(kctx, fifo, tix, acc, (flags & O_NONBLOCK) !== 0, f.waiter);
  if (typeof got === 'number') return got;
  const id = ofileCreate(kctx, {
    kind: got.read ? OK_PIPE_READ : OK_PIPE_WRITE, flags: (flags & KEPT & ~O_TRUNC) | O_LARGEFILE, hostFd: got.pipe,
    dev: FIFO_DEV, ino: fifo,
  });
  if (id < 0) {
    fifoClose(kctx, fifo, got.read, got.write, f.waiter);
    return id;
  }
  const fd = fdInstall(kctx, f.fdt, id, cloexec);
  if (fd < 0) ofilePut(kctx, id, f.waiter);
  return fd;
}

/** close(fd): 0 or -EBADF. */
export function sysClose(f: FsEnv, a: readonly bigint[]): number {
  return fdClose(f.kctx, f.fdt, argInt(a[0]!), f.waiter);
}
