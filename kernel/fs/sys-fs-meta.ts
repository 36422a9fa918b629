/**
 * File syscalls, part 2: descriptors and metadata — dup dup3 fcntl pipe2 ioctl fstat
 * newfstatat readlinkat unlinkat mkdirat ftruncate faccessat getcwd chdir fchdir getdents64.
 * Conventions as kernel/fs/sys-fs.ts.
 */
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { EBADF, EBUSY, EFAULT, EFBIG, EINVAL, ERANGE } from '../errno.ts';
import {
  fdClose, fdDupTo, fdGet, fdGetCloexec, fdInstall, fdSetCloexec, fdTableCwd, fdTableRlimit, fdTableSetCwd, fdTableUmask,
} from './fdtable.ts';
import { EISDIR, ENOTDIR, ENOTTY, errnoFromNode, putDirent64, statToLinux, STAT_SIZE, type ResolvedPath } from './hostfs.ts';
import {
  AT_EMPTY_PATH, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, FD_CLOEXEC, FIONREAD, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL,
  F_GETLK, F_SETFD, F_SETFL, F_SETLK, F_SETLKW, O_APPEND, O_CLOEXEC, O_DIRECT, O_LARGEFILE, O_NOATIME, O_NONBLOCK,
  O_RDONLY, O_WRONLY, RLIMIT_NOFILE, S_IFIFO, TCGETS, TCSETS, TIOCGPGRP, TIOCGWINSZ,
} from '../linux-flags.ts';
import {
  ofileCreate, ofileFlags, ofileHostFd, ofileKind, ofileLock, ofileOffset, ofilePath, ofilePut, ofileSetFlags,
  ofileSetOffset, ofileWritable,
} from './ofile.ts';
import { pipeAvailable, pipeCloseEnd, pipeCreate } from './pipe.ts';
import { fifoFind } from './fifo.ts';
import { FDT_FDS, OK_HOST_DIR, OK_HOST_FILE, OK_PIPE_READ, OK_PIPE_WRITE, OK_STDIO, OK_VIRT_DIR, PIPE_CAPACITY } from './layout.ts';
import {
  isVirtualKind, virtAccess, virtFstat, virtGetdents, virtReadlink, virtReadOnly, virtStat,
} from './sys-fs-virt.ts';
import type { VNode } from './procfs.ts';
import type { FsEnv } from './sys-fs-env.ts';
import { atBase, FILE_BYTES_MAX, userPath, withFd } from './sys-fs.ts';
import { truncateCached } from './sys-fs-truncate.ts';
import { fcntlLock, isLockCmd } from './sys-fs-lock.ts';
import { lastNameGone, onName } from './sys-fs-paths.ts';
import { argInt, argU } from '../syscall.ts';
import { copyToUser } from '../mm/uaccess.ts';

const F_GETPIPE_SZ = 1032;
const F_SETPIPE_SZ = 1031;
const F_UNLCK = 2;
/** F_SETFL may change only these (Linux SETFL_MASK, less O_ASYNC which needs signals). */
const SETFL_MASK = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

/** dup(fd): lowest free fd naming the same description. */
export function sysDup(f: FsEnv, a: readonly bigint[]): number {
  const id = fdGet(f.kctx, f.fdt, argInt(a[0]!));
  if (id < 0) return id;
  const fd = fdInstall(f.kctx, f.fdt, id, false);
  if (fd < 0) ofilePut(f.kctx, id, f.waiter);
  return fd;
}

/** dup3(oldfd, newfd, flags): EINVAL for oldfd == newfd or flags other than O_CLOEXEC. */
export function sysDup3(f: FsEnv, a: readonly bigint[]): number {
  const oldfd = argInt(a[0]!), newfd = argInt(a[1]!), flags = argInt(a[2]!);
  if (flags & ~O_CLOEXEC) return -EINVAL;
  if (oldfd === newfd) return -EINVAL;
  return fdDupTo(f.kctx, f.fdt, oldfd, newfd, (flags & O_CLOEXEC) !== 0, f.waiter);
}

/** fcntl(fd, cmd, arg): F_DUPFD[_CLOEXEC], F_GETFD/SETFD, F_GETFL/SETFL, record locks (kernel/fs/sys-fs-lock.ts), pipe size. */
export function sysFcntl(f: FsEnv, a: readonly bigint[]): number {
  const { kctx, fdt } = f;
  const fd = argInt(a[0]!), cmd = argInt(a[1]!);
  if (isLockCmd(cmd)) return fcntlLock(f, fd, cmd, argU(a[2]!)); // kernel/fs/sys-fs-lock.ts
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const min = argInt(a[2]!);
      const id = fdGet(kctx, fdt, fd);
      if (id < 0) return id;
      if (min < 0 || min >= Math.min(FDT_FDS, fdTableRlimit(kctx, fdt, RLIMIT_NOFILE)[0])) {
        ofilePut(kctx, id, f.waiter);
        return -EINVAL;
      }
      const nfd = fdInstall(kctx, fdt, id, cmd === F_DUPFD_CLOEXEC, min);
      if (nfd < 0) ofilePut(kctx, id, f.waiter);
      return nfd;
    }
    case F_GETFD:
      return fdGetCloexec(kctx, fdt, fd);
    case F_SETFD:
      return fdSetCloexec(kctx, fdt, fd, (argInt(a[2]!) & FD_CLOEXEC) !== 0);
    case F_GETFL:
      return withFd(f, fd, (id) => ofileFlags(kctx, id));
    case F_SETFL:
      return withFd(f, fd, (id) => {
        ofileSetFlags(kctx, id, SETFL_MASK, argInt(a[2]!));
        return 0;
      });
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ:
      return withFd(f, fd, (id) => {
        const k = ofileKind(kctx, id);
        return k === OK_PIPE_READ || k === OK_PIPE_WRITE ? PIPE_CAPACITY : -EBADF;
      });
    default:
      return withFd(f, fd, () => -EINVAL);
  }
}

/** pipe2(fds, flags): two fds [read, write]; EINVAL for flags other than O_CLOEXEC/O_NONBLOCK/O_DIRECT. */
export function sysPipe2(f: FsEnv, a: readonly bigint[]): number {
  const { kctx, fdt } = f;
  const flags = argInt(a[1]!);
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return -EINVAL;
  const p = pipeCreate(kctx);
  if (p < 0) return p;
  const status = (flags & (O_NONBLOCK | O_DIRECT)) | O_LARGEFILE;
  const r = ofileCreate(kctx, { kind: OK_PIPE_READ, flags: O_RDONLY | status, hostFd: p });
  const w = r < 0 ? r : ofileCreate(kctx, { kind: OK_PIPE_WRITE, flags: O_WRONLY | status, hostFd: p });
  if (r < 0 || w < 0) {
    // Close what exists; a missing end is closed on the pipe directly.
    if (r > 0) ofilePut(kctx, r); else closePipeEnd(f, p, false);
    if (w > 0) ofilePut(kctx, w); else closePipeEnd(f, p, true);
    return r < 0 ? r : w;
  }
  const cloexec = (flags & O_CLOEXEC) !== 0;
  const rfd = fdInstall(kctx, fdt, r, cloexec);
  const wfd = rfd < 0 ? rfd : fdInstall(kctx, fdt, w, cloexec);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setInt32(0, rfd, true);
  new DataView(out.buffer).setInt32(4, wfd, true);
  if (rfd < 0 || wfd < 0 || copyToUser(kctx, f.as, argU(a[0]!), out) < 0) {
    if (rfd >= 0) fdCloseQuiet(f, rfd); else ofilePut(kctx, r, f.waiter);
    if (wfd >= 0) fdCloseQuiet(f, wfd); else ofilePut(kctx, w, f.waiter);
    return rfd < 0 ? rfd : wfd < 0 ? wfd : -EFAULT;
  }
  return 0;
}

function closePipeEnd(f: FsEnv, p: number, write: boolean): void {
  pipeCloseEnd(f.kctx, p, write, f.waiter);
}
function fdCloseQuiet(f: FsEnv, fd: number): void {
  fdClose(f.kctx, f.fdt, fd, f.waiter);
}

/** termios of a tty as Linux's defaults (struct termios, asm-generic: 4 x u32, c_line, c_cc[19]). */
function defaultTermios(): Uint8Array {
  const b = new Uint8Array(36);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x500, true); // ICRNL | IXON
  dv.setUint32(4, 0x5, true); // OPOST | ONLCR
  dv.setUint32(8, 0xbf, true); // B38400 | CS8 | CREAD
  dv.setUint32(12, 0x8a3b, true); // ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN
  b.set([3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0], 17);
  return b;
}

function isTty(f: FsEnv, id: number): boolean {
  if (ofileKind(f.kctx, id) !== OK_STDIO) return false;
  try { return tty.isatty(ofileHostFd(f.kctx, id)); } catch { return false; }
}

/**
 * ioctl(fd, req, arg): TCGETS / TIOCGWINSZ / TCSETS* / TIOCGPGRP on a tty (the host's
 * stdio when it is a terminal), FIONREAD on pipes and files; everything else -ENOTTY, as
 * Linux says for a request the file does not know (glibc's isatty relies on it).
 */
export function sysIoctl(f: FsEnv, a: readonly bigint[]): number {
  const req = argU(a[1]!) & 0xffffffff;
  const va = argU(a[2]!);
  const { kctx } = f;
  return withFd(f, argInt(a[0]!), (id) => {
    const put = (b: Uint8Array): number => (copyToUser(kctx, f.as, va, b) < 0 ? -EFAULT : 0);
    if (req === FIONREAD) {
      const k = ofileKind(kctx, id);
      let n: number;
      if (k === OK_PIPE_READ || k === OK_PIPE_WRITE) n = pipeAvailable(kctx, ofileHostFd(kctx, id));
      else if (k === OK_HOST_FILE) n = Math.max(0, fs.fstatSync(ofileHostFd(kctx, id)).size - ofileOffset(kctx, id));
      else if (isTty(f, id)) n = 0;
      else return -ENOTTY;
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, n, true);
      return put(b);
    }
    if (!isTty(f, id)) return -ENOTTY;
    switch (req) {
      case TCGETS: return put(defaultTermios());
      case TCSETS: case TCSETS + 1: case TCSETS + 2: return 0;
      case TIOCGWINSZ: {
        const b = new Uint8Array(8);
        const dv = new DataView(b.buffer);
        dv.setUint16(0, 24, true);
        dv.setUint16(2, 80, true);
        return put(b);
      }
      case TIOCGPGRP: {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setInt32(0, f.pid, true);
        return put(b);
      }
      default: return -ENOTTY;
    }
  });
}

/** struct stat of a pipe end (Linux: S_IFIFO | 0600, one link, the pipe's own inode). */
function pipeStat(p: number): Uint8Array {
  const out = new Uint8Array(STAT_SIZE);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, 0xcn, true); // pipefs device
  dv.setBigUint64(8, BigInt(p + 1), true);
  dv.setUint32(16, S_IFIFO | 0o600, true);
  dv.setUint32(20, 1, true);
  dv.setInt32(56, 4096, true);
  return out;
}

const kindStat = new Map<number, (object: number) => Uint8Array>();
/** Install fstat for description kind `kind` (its object number → a struct stat); at import time. */
export function setKindStat(kind: number, fn: (object: number) => Uint8Array): void {
  kindStat.set(kind, fn);
}

function statOf(f: FsEnv, id: number): Uint8Array | number {
  const k = ofileKind(f.kctx, id);
  if (isVirtualKind(k)) return virtFstat(f, id);
  if (k === OK_PIPE_READ || k === OK_PIPE_WRITE) return pipeStat(ofileHostFd(f.kctx, id));
  const special = kindStat.get(k); // eventfd, socket, epoll (kernel/fs/sys-pollio-register.ts)
  if (special) return special(ofileHostFd(f.kctx, id));
  try {
    return statToLinux(fs.fstatSync(ofileHostFd(f.kctx, id), { bigint: true }));
  } catch (e) {
    return -errnoFromNode(e);
  }
}

/** fstat(fd, statbuf). */
export function sysFstat(f: FsEnv, a: readonly bigint[]): number {
  return withFd(f, argInt(a[0]!), (id) => {
    const st = statOf(f, id);
    if (typeof st === 'number') return st;
    return copyToUser(f.kctx, f.as, argU(a[1]!), st) < 0 ? -EFAULT : 0;
  });
}

/** newfstatat(dirfd, path, statbuf, flags): AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH. */
export function sysNewfstatat(f: FsEnv, a: readonly bigint[]): number {
  const dirfd = argInt(a[0]!), flags = argInt(a[3]!);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800)) return -EINVAL;
  const path = userPath(f, argU(a[1]!));
  if (typeof path === 'number') return path;
  if (path === '' && flags & AT_EMPTY_PATH) return sysFstat(f, [a[0]!, a[2]!]);
  const base = atBase(f, dirfd, path);
  if (typeof base === 'number') return base;
  const nofollow = (flags & AT_SYMLINK_NOFOLLOW) !== 0;
  const res = f.root.resolve(path, { base, followFinal: !nofollow });
  if (typeof res === 'number') return res;
  let st: Uint8Array;
  if (res.virt) return copyToUser(f.kctx, f.as, argU(a[2]!), virtStat(res.virt as VNode)) < 0 ? -EFAULT : 0;
  try {
    const hs = nofollow ? fs.lstatSync(res.hostPath, { bigint: true }) : fs.statSync(res.hostPath, { bigint: true });
    st = statToLinux(hs);
    if (hs.isFile() && fifoFind(f.kctx, Number(hs.dev), Number(hs.ino)) >= 0) {
      // A FIFO's name (kernel/fs/fifo.ts): S_IFIFO with its permission bits, size 0 (Linux).
      const dv = new DataView(st.buffer, st.byteOffset);
      dv.setUint32(16, S_IFIFO | (dv.getUint32(16, true) & 0o7777), true);
      dv.setBigInt64(48, 0n, true);
    }
  } catch (e) {
    return -errnoFromNode(e);
  }
  return copyToUser(f.kctx, f.as, argU(a[2]!), st) < 0 ? -EFAULT : 0;
}

/** Resolve a *at() path argument (final link kept when `follow` is false). */
function resolveAt(f: FsEnv, dirfd: number, va: number, follow: boolean): ResolvedPath | number {
  const path = userPath(f, va);
  if (typeof path === 'number') return path;
  const base = atBase(f, dirfd, path);
  if (typeof base === 'number') return base;
  return f.root.resolve(path, { base, followFinal: follow });
}

/** readlinkat(dirfd, path, buf, bufsiz): bytes placed (no NUL, truncated to bufsiz); EINVAL if not a link. */
export function sysReadlinkat(f: FsEnv, a: readonly bigint[]): number {
  const size = argInt(a[3]!);
  if (size <= 0) return -EINVAL;
  return onName(f, argInt(a[0]!), argU(a[1]!), false, (p) => {
    let target: Buffer;
    try {
      target = fs.readlinkSync(p, { encoding: 'buffer' });
    } catch (e) {
      return -errnoFromNode(e);
    }
    const n = Math.min(size, target.length);
    return copyToUser(f.kctx, f.as, argU(a[2]!), target.subarray(0, n)) < 0 ? -EFAULT : n;
  }, (res) => { // /proc/self, exe, fd/N (kernel/fs/sys-fs-virt.ts)
    const target = virtReadlink(res.virt as VNode);
    if (typeof target === 'number') return target;
    const n = Math.min(size, target.length);
    return copyToUser(f.kctx, f.as, argU(a[2]!), target.subarray(0, n)) < 0 ? -EFAULT : n;
  });
}

/** unlinkat(dirfd, path, flags): file, or with AT_REMOVEDIR an empty directory. */
export function sysUnlinkat(f: FsEnv, a: readonly bigint[]): number {
  const flags = argInt(a[2]!);
  if (flags & ~AT_REMOVEDIR) return -EINVAL;
  return onName(f, argInt(a[0]!), argU(a[1]!), false, (p, res) => {
    if (res.guestPath === '/') return flags & AT_REMOVEDIR ? -EBUSY : -EISDIR;
    let st: fs.Stats | null = null;
    try {
      if (flags & AT_REMOVEDIR) fs.rmdirSync(p);
      else {
        try { st = fs.lstatSync(p); } catch { /* unlinkSync says why */ }
        fs.unlinkSync(p);
      }
    } catch (e) {
      return -errnoFromNode(e);
    }
    if (st !== null) lastNameGone(f, st); // a FIFO's last name: its record goes (kernel/fs/fifo.ts)
    return 0;
  });
}

/** mkdirat(dirfd, path, mode): mode less the umask. */
export function sysMkdirat(f: FsEnv, a: readonly bigint[]): number {
  return onName(f, argInt(a[0]!), argU(a[1]!), false, (p) => {
    try {
      fs.mkdirSync(p, argInt(a[2]!) & 0o7777 & ~fdTableUmask(f.kctx, f.fdt, null));
    } catch (e) {
      return -errnoFromNode(e);
    }
    return 0;
  }, () => virtReadOnly(true));
}

/**
 * ftruncate(fd, length): EINVAL for a negative length (before the fd is looked up, as Linux)
 * or a description not writable / not a file; EFBIG past FILE_BYTES_MAX (this filesystem's
 * s_maxbytes, kernel/fs/sys-fs.ts) without touching the host. The page cache follows
 * (kernel/fs/sys-fs-truncate.ts): mapped pages past the new end are unmapped everywhere, so
 * touching them raises SIGBUS as on Linux.
 */
export function sysFtruncate(f: FsEnv, a: readonly bigint[]): number {
  const length = BigInt.asIntN(64, a[1]!);
  if (length < 0n) return -EINVAL;
  return withFd(f, argInt(a[0]!), (id) => {
    if (ofileKind(f.kctx, id) !== OK_HOST_FILE || !ofileWritable(f.kctx, id)) return -EINVAL;
    if (length > BigInt(FILE_BYTES_MAX)) return -EFBIG;
    const len = Number(length);
    try {
      fs.ftruncateSync(ofileHostFd(f.kctx, id), len);
    } catch (e) {
      return -errnoFromNode(e);
    }
    truncateCached(f.kctx, id, len);
    return 0;
  });
}

/** faccessat(dirfd, path, mode[, flags]): the host's access check on the resolved file. */
export function sysFaccessat(f: FsEnv, a: readonly bigint[]): number {
  const mode = argInt(a[2]!);
  if (mode & ~7) return -EINVAL;
  const res = resolveAt(f, argInt(a[0]!), argU(a[1]!), true);
  if (typeof res === 'number') return res;
  if (res.virt) return virtAccess(res.virt as VNode, mode);
  try {
    fs.accessSync(res.hostPath, mode);
  } catch (e) {
    return -errnoFromNode(e);
  }
  return 0;
}

/** getcwd(buf, size): the length including the NUL (the raw syscall's value), ERANGE when too small. */
export function sysGetcwd(f: FsEnv, a: readonly bigint[]): number {
  const cwd = Buffer.from(fdTableCwd(f.kctx, f.fdt) + '\0', 'latin1'); // a byte string: its bytes as they are
  if (argU(a[1]!) < cwd.length) return -ERANGE;
  return copyToUser(f.kctx, f.as, argU(a[0]!), cwd) < 0 ? -EFAULT : cwd.length;
}

/** chdir(path): ENOENT, ENOTDIR. */
export function sysChdir(f: FsEnv, a: readonly bigint[]): number {
  const res = resolveAt(f, -100, argU(a[0]!), true);
  if (typeof res === 'number') return res;
  if (res.virt) return res.virt.type === 'dir' ? fdTableSetCwd(f.kctx, f.fdt, res.guestPath) : -ENOTDIR;
  try {
    if (!fs.statSync(res.hostPath).isDirectory()) return -ENOTDIR;
  } catch (e) {
    return -errnoFromNode(e);
  }
  return fdTableSetCwd(f.kctx, f.fdt, res.guestPath);
}

/** fchdir(fd): the directory fd's path becomes the cwd. */
export function sysFchdir(f: FsEnv, a: readonly bigint[]): number {
  return withFd(f, argInt(a[0]!), (id) =>
    ofileKind(f.kctx, id) === OK_HOST_DIR || ofileKind(f.kctx, id) === OK_VIRT_DIR ? fdTableSetCwd(f.kctx, f.fdt, ofilePath(f.kctx, id)) : -ENOTDIR);
}

const DOT = Buffer.from('.'), DOTDOT = Buffer.from('..'), SLASH = Buffer.from('/'), DOTDOT_SUFFIX = Buffer.from('/..');
const DT: Array<[(d: fs.Dirent<Buffer>) => boolean, number]> = [
  [(d) => d.isFIFO(), 1], [(d) => d.isCharacterDevice(), 2], [(d) => d.isDirectory(), 4], [(d) => d.isBlockDevice(), 6],
  [(d) => d.isFile(), 8], [(d) => d.isSymbolicLink(), 10], [(d) => d.isSocket(), 12],
];

/** Directory listings being read, per description (this worker's; see listing). */
const listings = new Map<number, { guest: string; names: fs.Dirent<Buffer>[] }>();
/** Listings kept per worker (a description not read to its end is dropped oldest first). */
const LISTINGS_MAX = 64;

/**
 * The host entries of directory description `id` for a read at entry index `idx`: read from
 * the host when the read starts at 0 (a new or rewound stream), else the listing this worker
 * took then, so a directory of n entries costs one host readdir, not one per call (Linux's
 * readdir likewise walks one stream; entries created meanwhile may or may not show). A worker
 * that did not take it (the description moved to another hart) reads the host again: the
 * host's order of an unchanged directory is stable. -errno when the host read fails.
 */
function listing(id: number, guest: string, host: Buffer, idx: number): fs.Dirent<Buffer>[] | number {
  const have = listings.get(id);
  if (idx > 0 && have !== undefined && have.guest === guest) return have.names;
  let names: fs.Dirent<Buffer>[];
  try {
    names = fs.readdirSync(host, { withFileTypes: true, encoding: 'buffer' }); // names as bytes
  } catch (e) {
    return -errnoFromNode(e);
  }
  listings.delete(id);
  if (listings.size >= LISTINGS_MAX) listings.delete(listings.keys().next().value!);
  listings.set(id, { guest, names });
  return names;
}

/**
 * getdents64(fd, dirp, count): linux_dirent64 records from the description's position (an
 * entry index: ".", "..", then the host's entries). 0 at the end; EINVAL when the first
 * record does not fit; ENOTDIR for a non-directory.
 */
export function sysGetdents64(f: FsEnv, a: readonly bigint[]): number {
  const { kctx } = f;
  const count = argU(a[2]!);
  return withFd(f, argInt(a[0]!), (id) => {
    if (ofileKind(kctx, id) === OK_VIRT_DIR) return virtGetdents(f, id, argU(a[1]!), count); // /proc, /dev
    if (ofileKind(kctx, id) !== OK_HOST_DIR) return -ENOTDIR;
    const guest = ofilePath(kctx, id);
    const host = f.root.hostOfGuest(guest);
    const lock = ofileLock(kctx, id);
    return lock.with(() => {
      let idx = ofileOffset(kctx, id);
      const names = listing(id, guest, host, idx);
      if (typeof names === 'number') return names;
      const out = new Uint8Array(Math.min(count, 1 << 16));
      const dv = new DataView(out.buffer);
      let at = 0;
      for (; idx < names.length + 2; idx++) {
        const nb = idx === 0 ? DOT : idx === 1 ? DOTDOT : names[idx - 2]!.name;
        if (at + Math.ceil((19 + nb.length + 1) / 8) * 8 > out.length) break; // before the lstat
        let ino = 0n;
        const p = idx === 0 ? host : idx === 1 ? (guest === '/' ? host : Buffer.concat([host, DOTDOT_SUFFIX])) : Buffer.concat([host, SLASH, nb]);
        try { ino = fs.lstatSync(p, { bigint: true }).ino; } catch { /* vanished: inode 0 */ }
        const type = idx < 2 ? 4 : DT.find(([is]) => is(names[idx - 2]!))?.[1] ?? 0;
        at += putDirent64(out, dv, at, ino, idx + 1, type, nb);
      }
      if (at === 0 && idx < names.length + 2) return -EINVAL;
      if (at > 0 && copyToUser(kctx, f.as, argU(a[1]!), out.subarray(0, at)) < 0) return -EFAULT;
      ofileSetOffset(kctx, id, idx);
      if (at === 0) listings.delete(id); // read to the end: the next read starts over
      return at;
    });
  });
}

