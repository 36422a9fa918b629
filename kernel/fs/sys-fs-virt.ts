/**
 * File syscalls on the virtual trees (kernel/fs/procfs.ts): what open, read, write, lseek,
 * stat, getdents64, readlink, access and mmap do for a /proc file or directory and for the
 * /dev character devices. The generic handlers (sys-fs.ts, sys-fs-meta.ts) call in here
 * when a path resolved to a virtual node (ResolvedPath.virt) or a description is of a
 * virtual kind (OK_VIRT_FILE, OK_VIRT_DIR, OK_CHARDEV).
 *
 * A /proc file's content is generated once, at open, into a page-cache data file (RAM frames,
 * kernel/mm/pagecache.ts createFile) that the description holds in OF_PCFILE: every read and
 * lseek of that description sees one consistent snapshot, as Linux's seq_file does for a
 * small file, and any hart can serve them. The last close drops it (ofilePut). Its st_size
 * is 0, as on Linux; SEEK_END is EINVAL (seq_lseek).
 */
import * as fs from 'node:fs';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { realtimeMs } from '../../cpu/vclock.ts';
import { EACCES, EBADF, EEXIST, EFAULT, EINVAL, ENODEV, ENOENT, ENOSPC, EPERM } from '../errno.ts';
import { createFile, fileRefDelta, fileSize, getPage } from '../mm/pagecache.ts';
import { copyToUser } from '../mm/uaccess.ts';
import { sysGetrandom } from '../proc/sys-info.ts';
import { fdGet, fdInstall } from './fdtable.ts';
import { ELOOP, EISDIR, ENOTDIR, ENXIO, putDirent64, STAT_SIZE, type HostOpenFlags, type ResolvedPath } from './hostfs.ts';
import {
  O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_LARGEFILE, O_NOFOLLOW, O_PATH, SEEK_CUR, SEEK_SET,
} from '../linux-flags.ts';
import { ofileCreate, ofileHostFd, ofileKind, ofileOffset, ofilePath, ofilePut, ofileWord, ofileLock, ofileSetOffset, ofileFifo, FIFO_DEV } from './ofile.ts';
import { OF_PCFILE, OK_CHARDEV, OK_PIPE_READ, OK_PIPE_WRITE, OK_STDIO, OK_VIRT_DIR, OK_VIRT_FILE } from './layout.ts';
import { pipeCloseEnd, pipeOpenEnd } from './pipe.ts';
import {
  DEV_FULL, DEV_NULL, DEV_ZERO, DEVTMPFS_DEV, DT_DIR, inoOf, MEM_MAJOR, PROC_DEV, procfsNodeAt, TTY_MAJOR, type DirEntry, type ProcfsCaller, type VNode,
} from './procfs.ts';
import type { FsEnv } from './sys-fs-env.ts';

const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000, S_IFCHR = 0o020000;
/** Creation-only flags a description does not keep. */
const CREATION = O_CREAT | O_EXCL | 0o400 /* O_NOCTTY */ | 0o1000 /* O_TRUNC */ | 0o2000000 /* O_CLOEXEC */;

/** The caller as the virtual trees see it. */
export function callerOf(f: FsEnv): ProcfsCaller {
  return { kctx: f.kctx, pid: f.pid, rootBytes: f.root.rootBytes };
}

/** True for the kinds this module serves. */
export function isVirtualKind(kind: number): boolean {
  return kind === OK_VIRT_FILE || kind === OK_VIRT_DIR || kind === OK_CHARDEV;
}

/**
 * openat of a virtual node `res.virt`: the new fd, or -errno as Linux gives for procfs:
 * EEXIST (O_CREAT|O_EXCL), EACCES (writing a /proc file), EISDIR (writing a directory),
 * ENOTDIR (O_DIRECTORY on a file), ELOOP (O_NOFOLLOW on a link), ENOMEM (no frame for the snapshot).
 */
export function virtOpen(f: FsEnv, res: ResolvedPath, flags: number, hf: HostOpenFlags): number {
  const node = res.virt as VNode;
  const { kctx } = f;
  if ((flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL)) return -EEXIST;
  if (node.type === 'link' && node.object && !(flags & O_NOFOLLOW)) return reopen(f, node.object, flags, hf);
  if (node.type === 'link') return -ELOOP; // only a kept final link gets here: O_NOFOLLOW
  if (flags & O_DIRECTORY && node.type !== 'dir') return -ENOTDIR;
  const kept = (flags & ~CREATION) | O_LARGEFILE;
  let id: number;
  if (node.type === 'dir') {
    if (hf.writable) return -EISDIR;
    id = ofileCreate(kctx, { kind: OK_VIRT_DIR, flags: kept, hostFd: -1, path: res.guestPath });
  } else if (node.type === 'dev') {
    if (node.major === TTY_MAJOR) return -ENXIO; // /dev/tty without a controlling terminal
    id = ofileCreate(kctx, { kind: OK_CHARDEV, flags: kept, hostFd: node.minor!, path: res.guestPath });
  } else {
    if (hf.writable || (flags & O_ACCMODE) === O_ACCMODE) return -EACCES; // read-only tree
    let pc = 0;
    if (!(flags & O_PATH)) {
      const c = node.content!();
      const data = typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
      pc = createFile(kctx, { data, size: data.length });
      if (pc < 0) return pc;
    }
    id = ofileCreate(kctx, { kind: OK_VIRT_FILE, flags: kept, hostFd: -1, path: res.guestPath });
    if (id < 0) {
      if (pc > 0) fileRefDelta(kctx, pc, -1); // the snapshot of a description that never came to be
      return id;
    }
    kctx.ctl.i32[ofileWord(kctx, id, OF_PCFILE)] = pc; // published by the fd install below
  }
  if (id < 0) return id;
  const fd = fdInstall(kctx, f.fdt, id, hf.cloexec);
  if (fd < 0) ofilePut(kctx, id, f.waiter);
  return fd;
}

/**
 * open of /proc/<pid>/fd/<n> naming a pipe or the host's stdio: a new description of the same
 * object, as Linux re-opens it — a pipe's read end for O_RDONLY, its write end for O_WRONLY
 * (O_RDWR: EINVAL here); the host's stdio with the access asked for, unless it is a socket.
 * Anything else ENXIO.
 */
function reopen(f: FsEnv, obj: { fdt: number; fd: number; ofile: number }, flags: number, hf: HostOpenFlags): number {
  const { kctx } = f;
  const held = fdGet(kctx, obj.fdt, obj.fd); // keeps the object alive while a second description is made
  if (held < 0) return -ENOENT;
  try {
    if (held !== obj.ofile) return -ENOENT; // closed and reused since the lookup
    const kind = ofileKind(kctx, held), object = ofileHostFd(kctx, held);
    const kept = (flags & ~CREATION) | O_LARGEFILE;
    let id: number;
    if (kind === OK_PIPE_READ || kind === OK_PIPE_WRITE) {
      if (hf.readable === hf.writable) return -EINVAL;
      pipeOpenEnd(kctx, object, hf.writable);
      const fifo = ofileFifo(kctx, held); // a FIFO's end: the new description closes through the FIFO too
      id = ofileCreate(kctx, {
        kind: hf.writable ? OK_PIPE_WRITE : OK_PIPE_READ, flags: kept, hostFd: object,
        ...(fifo >= 0 ? { dev: FIFO_DEV, ino: fifo } : {}),
      });
      if (id < 0) {
        pipeCloseEnd(kctx, object, hf.writable, f.waiter);
        return id;
      }
    } else if (kind === OK_STDIO) {
      try {
        if (fs.fstatSync(object).isSocket()) return -ENXIO; // a socket cannot be re-opened (Linux: ENXIO)
      } catch { return -ENXIO; }
      id = ofileCreate(kctx, { kind: OK_STDIO, flags: kept, hostFd: object });
      if (id < 0) return id;
    } else {
      return -ENXIO;
    }
    const fd = fdInstall(kctx, f.fdt, id, hf.cloexec);
    if (fd < 0) ofilePut(kctx, id, f.waiter);
    return fd;
  } finally {
    ofilePut(kctx, held, f.waiter);
  }
}

/** Bytes [pos, pos + len) of snapshot file `pc` (clipped at its end). */
function snapshotBytes(f: FsEnv, pc: number, pos: number, len: number): Uint8Array | number {
  const size = fileSize(f.kctx, pc);
  const n = Math.max(0, Math.min(len, size - pos));
  const out = new Uint8Array(n);
  for (let done = 0; done < n;) {
    const at = pos + done;
    const ppn = getPage(f.kctx, pc, Math.floor(at / PAGE_SIZE));
    if (ppn < 0) return -EFAULT;
    const off = at % PAGE_SIZE;
    const k = Math.min(n - done, PAGE_SIZE - off);
    out.set(f.kctx.ram.u8.subarray(ppn * PAGE_SIZE + off, ppn * PAGE_SIZE + off + k), done);
    f.kctx.frames.put(ppn);
    done += k;
  }
  return out;
}

/** read/pread on a virtual description (`pos` null: at and advancing the shared offset). Count or -errno. */
export function virtRead(f: FsEnv, id: number, va: number, len: number, pos: number | null): number {
  const { kctx } = f;
  switch (ofileKind(kctx, id)) {
    case OK_VIRT_DIR:
      return -EISDIR;
    case OK_CHARDEV: {
      const minor = ofileHostFd(kctx, id);
      if (minor === DEV_NULL) return 0;
      if (minor === DEV_ZERO || minor === DEV_FULL) { // /dev/full reads zeros too (Linux read_iter_zero)
        for (let done = 0; done < len;) { // in bounded pieces: a large read never allocates its size
          const k = Math.min(len - done, 1 << 16);
          if (copyToUser(kctx, f.as, va + done, new Uint8Array(k)) < 0) return done > 0 ? done : -EFAULT;
          done += k;
        }
        return len;
      }
      // random, urandom: the kernel's getrandom stream (seeded by --seed: reproducible runs)
      return sysGetrandom(f, [BigInt(va), BigInt(len), 0n]);
    }
    default: {
      const pc = kctx.ctl.i32[ofileWord(kctx, id, OF_PCFILE)]!;
      if (pc === 0) return -EBADF; // O_PATH
      const lock = ofileLock(kctx, id);
      return lock.with(() => {
        const at = pos ?? ofileOffset(kctx, id);
        const bytes = snapshotBytes(f, pc, at, len);
        if (typeof bytes === 'number') return bytes;
        if (bytes.length > 0 && copyToUser(kctx, f.as, va, bytes) < 0) return -EFAULT;
        if (pos === null) ofileSetOffset(kctx, id, at + bytes.length);
        return bytes.length;
      });
    }
  }
}

/** write on a virtual description: the character devices swallow everything (null, zero, random), but /dev/full is always ENOSPC. */
export function virtWrite(f: FsEnv, id: number, len: number): number {
  if (ofileKind(f.kctx, id) !== OK_CHARDEV) return -EBADF;
  return ofileHostFd(f.kctx, id) === DEV_FULL ? -ENOSPC : len;
}

/** lseek on a virtual description: SEEK_SET / SEEK_CUR (seq_lseek); a character device stays at 0. */
export function virtLseek(f: FsEnv, id: number, off: number, whence: number): number {
  const { kctx } = f;
  if (ofileKind(kctx, id) === OK_CHARDEV) return 0;
  return ofileLock(kctx, id).with(() => {
    const next = whence === SEEK_SET ? off : whence === SEEK_CUR ? ofileOffset(kctx, id) + off : -1;
    if (whence !== SEEK_SET && whence !== SEEK_CUR) return -EINVAL;
    if (next < 0) return -EINVAL;
    ofileSetOffset(kctx, id, next);
    return next;
  });
}

/** struct stat of virtual node `node` (procfs: S_IFREG 0444 size 0; directories S_IFDIR 0555; devices S_IFCHR 0666). */
export function virtStat(node: VNode): Uint8Array {
  const out = new Uint8Array(STAT_SIZE);
  const dv = new DataView(out.buffer);
  const type = node.type === 'dir' ? S_IFDIR : node.type === 'link' ? S_IFLNK : node.type === 'dev' ? S_IFCHR : S_IFREG;
  dv.setBigUint64(0, BigInt(node.dev), true);
  dv.setBigUint64(8, BigInt(node.ino), true);
  dv.setUint32(16, type | node.perm, true);
  dv.setUint32(20, node.nlink ?? 1, true);
  if (node.type === 'dev') dv.setBigUint64(32, BigInt(((node.major ?? MEM_MAJOR) << 8) | node.minor!), true);
  dv.setInt32(56, node.type === 'dev' ? 4096 : 1024, true);
  const now = BigInt(realtimeMs());
  for (const off of [72, 88, 104]) {
    dv.setBigInt64(off, now / 1000n, true);
    dv.setBigUint64(off + 8, (now % 1000n) * 1_000_000n, true);
  }
  return out;
}

/** fstat of a virtual description: its node now, or (the process gone) what its kind says. */
export function virtFstat(f: FsEnv, id: number): Uint8Array {
  const node = procfsNodeAt(callerOf(f), ofilePath(f.kctx, id));
  if (node) return virtStat(node);
  const kind = ofileKind(f.kctx, id);
  return virtStat(kind === OK_VIRT_DIR ? { type: 'dir', ino: 0, dev: PROC_DEV, perm: 0o555 }
    : kind === OK_CHARDEV ? { type: 'dev', ino: 0, dev: DEVTMPFS_DEV, perm: 0o666, minor: ofileHostFd(f.kctx, id) }
    : { type: 'file', ino: 0, dev: PROC_DEV, perm: 0o444 });
}

/** The entries getdents64 lists for virtual directory description `id`: ".", "..", then the node's (none once it is gone). */
export function virtDirEntries(f: FsEnv, id: number): Array<[name: Buffer, type: number, ino: number]> {
  const path = ofilePath(f.kctx, id);
  const node = procfsNodeAt(callerOf(f), path);
  const list: DirEntry[] = node?.entries?.() ?? [];
  const here = node?.ino ?? 1;
  return [
    [Buffer.from('.'), DT_DIR, here], [Buffer.from('..'), DT_DIR, 1],
    ...list.map(([n, t]): [Buffer, number, number] => [Buffer.from(n, 'latin1'), t, procfsNodeAt(callerOf(f), `${path}/${n}`)?.ino ?? inoOf(`${path}/${n}`)]), // d_ino 0 would hide it (glibc readdir)
  ];
}

/** readlinkat on a virtual node: the link's target, -EINVAL for anything else. */
export function virtReadlink(node: VNode): Buffer | number {
  return node.type === 'link' ? Buffer.from(node.target ?? '', 'latin1') : -EINVAL;
}

/** faccessat on a virtual node: reading and searching are allowed, writing is not (a read-only tree) — except the devices. */
export function virtAccess(node: VNode, mode: number): number {
  return mode & 2 && node.type !== 'dev' ? -EACCES : 0;
}

/** mmap of a virtual description: /dev/zero maps anonymous memory (MAP_SHARED: shared anonymous); everything else -ENODEV. */
export function virtMmapIsZero(f: FsEnv, id: number): true | number {
  if (ofileKind(f.kctx, id) !== OK_CHARDEV) return -ENODEV;
  return ofileHostFd(f.kctx, id) === DEV_ZERO ? true : -ENODEV;
}

/** For callers that must refuse to change a virtual node: EEXIST when creating it (mkdir), else EPERM (unlink, rename: procfs has no such operation). */
export function virtReadOnly(creating: boolean): number {
  return creating ? -EEXIST : -EPERM;
}

/**
 * getdents64 on virtual directory description `id`: linux_dirent64 records from its position
 * (an entry index, as for host directories), the entries listed now. 0 at the end; EINVAL
 * when the first record does not fit.
 */
export function virtGetdents(f: FsEnv, id: number, va: number, count: number): number {
  const { kctx } = f;
  const names = virtDirEntries(f, id);
  return ofileLock(kctx, id).with(() => {
    let idx = ofileOffset(kctx, id);
    const out = new Uint8Array(Math.min(count, 1 << 16));
    const dv = new DataView(out.buffer);
    let at = 0;
    for (; idx < names.length; idx++) {
      const [nb, type, ino] = names[idx]!;
      const reclen = putDirent64(out, dv, at, BigInt(ino), idx + 1, type, nb);
      if (reclen === 0) break;
      at += reclen;
    }
    if (at === 0 && idx < names.length) return -EINVAL;
    if (at > 0 && copyToUser(kctx, f.as, va, out.subarray(0, at)) < 0) return -EFAULT;
    ofileSetOffset(kctx, id, idx);
    return at;
  });
}
