/**
 * File syscalls, part 3: names and metadata — renameat2 linkat symlinkat mknodat (regular
 * files) fchmod fchmodat fchown fchownat utimensat statfs fstatfs close_range.
 * Conventions as kernel/fs/sys-fs.ts; every path goes through HostRoot.resolve (chroot
 * semantics, kernel/fs/hostfs.ts), so a name created or moved here stays under `--root`:
 * - a symlink's target is stored verbatim and only ever followed by the resolver, which
 *   restarts an absolute target at the guest root and keeps `..` at the root;
 * - rename and link resolve both names inside the root (a destination "outside" is a name
 *   under the root, as in a chroot) and act on the final link itself, never through it;
 * - metadata calls act on the resolved host file (the guest is root-like: the host applies
 *   chmod/chown/utimes where it permits, and its refusal is the guest's errno);
 * - no host call gets a path the host would walk again: each acts on the final name through
 *   its opened, checked parent directory (hostfs.ts atParent) or on an fd from openInRoot, so
 *   a directory swapped for a symlink between the walk and the call cannot redirect it.
 */
import * as fs from 'node:fs';
import { realtimeMs } from '../../cpu/vclock.ts';
import { EACCES, EBADF, EBUSY, EEXIST, EFAULT, EINVAL, ENOENT, EPERM } from '../errno.ts';
import { fifoMake, fifoUnlinked } from './fifo.ts';
import { virtReadOnly } from './sys-fs-virt.ts';
import { fdCloseRange } from './fdtable.ts';
import { atParent, bytesOf, errnoFromNode, EXDEV, openInRoot, OPEN_RETRY, type ResolvedPath } from './hostfs.ts';
import {
  AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, O_PATH, S_IFIFO, S_IFMT, S_IFREG,
} from '../linux-flags.ts';
import { ofileFlags, ofileHostFd, ofileKind, ofilePath } from './ofile.ts';
import { OK_HOST_DIR, OK_HOST_FILE, OK_PIPE_READ, OK_PIPE_WRITE } from './layout.ts';
import type { FsEnv } from './sys-fs-env.ts';
import { atBase, userPath, withFd } from './sys-fs.ts';
import { fdTableUmask } from './fdtable.ts';
import { argInt, argU } from '../syscall.ts';
import { copyFromUser, copyToUser } from '../mm/uaccess.ts';

/** renameat2 flags (include/uapi/linux/fs.h). */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;
/** close_range flags (include/uapi/linux/close_range.h). */
export const CLOSE_RANGE_UNSHARE = 2;
export const CLOSE_RANGE_CLOEXEC = 4;
/** utimensat's special tv_nsec values. */
export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;
/** f_type of the pipe filesystem (fstatfs on a pipe). */
const PIPEFS_MAGIC = 0x50495045;
/** struct statfs (asm-generic, 64-bit words): 15 words = 120 bytes. */
export const STATFS_SIZE = 120;

/** Walks a path call makes before EACCES when the host keeps changing under it (see hostfs.ts atParent). */
const ATTEMPTS = 8;

/** The path argument at va and the directory it starts from, or -errno. */
function pathArg(f: FsEnv, dirfd: number, va: number): { path: string; base: string | undefined } | number {
  const path = userPath(f, va);
  if (typeof path === 'number') return path;
  const base = atBase(f, dirfd, path);
  if (typeof base === 'number') return base;
  return { path, base };
}

/**
 * Resolve the *at() path (final link followed when `follow`) and run `fn` on its final name
 * through the checked parent directory (hostfs.ts atParent), walking again when a directory
 * on the way was swapped meanwhile. fn's result, or -errno.
 */
export function onName(
  f: FsEnv, dirfd: number, va: number, follow: boolean, fn: (hostPath: Buffer, res: ResolvedPath) => number,
  onVirt: (res: ResolvedPath) => number = () => virtReadOnly(false),
): number {
  const arg = pathArg(f, dirfd, va);
  if (typeof arg === 'number') return arg;
  for (let i = 0; i < ATTEMPTS; i++) {
    const res = f.root.resolve(arg.path, { base: arg.base, followFinal: follow });
    if (typeof res === 'number') return res;
    if (res.virt) return onVirt(res); // /proc, /dev: no host file to change (kernel/fs/sys-fs-virt.ts)
    const r = atParent(f.root, res, (p) => fn(p, res));
    if (r !== OPEN_RETRY) return r;
  }
  return -EACCES;
}

/**
 * Resolve the *at() path following a final link and run `fn` on a host fd of the file
 * (opened read-only and non-blocking through hostfs.ts openInRoot, so neither a swapped
 * directory nor a link swapped in at the end can redirect it; the guest is root-like, so the
 * host lets it open what it may change). fn's result, or -errno.
 */
function onFile(f: FsEnv, dirfd: number, va: number, fn: (hostFd: number) => number): number {
  const arg = pathArg(f, dirfd, va);
  if (typeof arg === 'number') return arg;
  const c = fs.constants;
  for (let i = 0; i < ATTEMPTS; i++) {
    const res = f.root.resolve(arg.path, { base: arg.base, followFinal: true });
    if (typeof res === 'number') return res;
    if (res.virt) return virtReadOnly(false); // /proc, /dev: metadata cannot change (EPERM)
    const fd = openInRoot(f.root, res, c.O_RDONLY | c.O_NONBLOCK, 0, false);
    if (fd === OPEN_RETRY) continue;
    if (fd < 0) return fd;
    try {
      return fn(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  return -EACCES;
}

/** Two names resolved without following final links, each through its checked parent: fn's result or -errno. */
function onTwoNames(
  f: FsEnv, a0: bigint, a1: bigint, a2: bigint, a3: bigint, followFrom: boolean,
  fn: (from: Buffer, to: Buffer, fromRes: ResolvedPath, toRes: ResolvedPath) => number,
): number {
  const from = pathArg(f, argInt(a0), argU(a1));
  if (typeof from === 'number') return from;
  const to = pathArg(f, argInt(a2), argU(a3));
  if (typeof to === 'number') return to;
  for (let i = 0; i < ATTEMPTS; i++) {
    const fr = f.root.resolve(from.path, { base: from.base, followFinal: followFrom });
    if (typeof fr === 'number') return fr;
    const tr = f.root.resolve(to.path, { base: to.base, followFinal: false });
    if (typeof tr === 'number') return tr;
    if (fr.virt || tr.virt) return fr.virt && tr.virt ? virtReadOnly(false) : -EXDEV; // /proc, /dev are other file systems
    const r = atParent(f.root, fr, (fp) => atParent(f.root, tr, (tp) => fn(fp, tp, fr, tr)));
    if (r !== OPEN_RETRY) return r;
  }
  return -EACCES;
}

/** Run a host call, mapping a thrown Node error to -errno. */
function host(fn: () => void): number {
  try {
    fn();
    return 0;
  } catch (e) {
    return -errnoFromNode(e);
  }
}

/** lstat that answers null for a missing name. */
function lstatOrNull(p: Buffer): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/**
 * renameat2(olddirfd, oldpath, newdirfd, newpath, flags): both names resolved under the root
 * without following a final link. EINVAL for unknown flags, NOREPLACE with EXCHANGE, and for
 * RENAME_EXCHANGE / RENAME_WHITEOUT (the host interface here has no renameat2: Linux's answer
 * on a filesystem without them); EBUSY for the root; EEXIST under NOREPLACE when the new name
 * exists (a non-directory is moved by link + unlink, so the check and the move are one atomic
 * host step; a directory is checked, then renamed).
 */
export function sysRenameat2(f: FsEnv, a: readonly bigint[]): number {
  const flags = argInt(a[4]!);
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return -EINVAL;
  if (flags & RENAME_EXCHANGE && flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) return -EINVAL;
  if (flags & (RENAME_EXCHANGE | RENAME_WHITEOUT)) return -EINVAL;
  return onTwoNames(f, a[0]!, a[1]!, a[2]!, a[3]!, false, (from, to, fr, tr) => {
    if (fr.guestPath === '/' || tr.guestPath === '/') return -EBUSY;
    const st = lstatOrNull(from);
    if (st === null) return -ENOENT;
    if (!(flags & RENAME_NOREPLACE)) {
      const over = lstatOrNull(to); // a FIFO replaced by the rename loses its name (kernel/fs/fifo.ts)
      const r = host(() => fs.renameSync(from, to));
      if (r === 0 && over !== null) lastNameGone(f, over, st);
      return r;
    }
    if (fr.guestPath === tr.guestPath) return -EEXIST;
    if (st.isDirectory()) {
      if (lstatOrNull(to) !== null) return -EEXIST;
      return host(() => fs.renameSync(from, to));
    }
    const r = host(() => fs.linkSync(from, to)); // EEXIST when taken, atomically
    return r < 0 ? r : host(() => fs.unlinkSync(from));
  });
}

/**
 * linkat(olddirfd, oldpath, newdirfd, newpath, flags): a hard link to the old file (its final
 * link itself unless AT_SYMLINK_FOLLOW). AT_EMPTY_PATH links the file of olddirfd. EINVAL for
 * other flags; EPERM for a directory (the host's answer); EEXIST, ENOENT as the host says.
 */
export function sysLinkat(f: FsEnv, a: readonly bigint[]): number {
  const flags = argInt(a[4]!);
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  const oldPath = userPath(f, argU(a[1]!));
  if (typeof oldPath === 'number') return oldPath;
  if (oldPath === '' && flags & AT_EMPTY_PATH) {
    const k = withFd(f, argInt(a[0]!), (id) => {
      const kind = ofileKind(f.kctx, id);
      return kind === OK_HOST_DIR ? -EPERM : kind === OK_HOST_FILE ? 0 : -ENOENT;
    });
    if (k < 0) return k;
    const p = fdGuestPath(f, argInt(a[0]!));
    if (typeof p === 'number') return p;
    const to = pathArg(f, argInt(a[2]!), argU(a[3]!));
    if (typeof to === 'number') return to;
    for (let i = 0; i < ATTEMPTS; i++) {
      const fr = f.root.resolve(p, { followFinal: false });
      if (typeof fr === 'number') return fr;
      const tr = f.root.resolve(to.path, { base: to.base, followFinal: false });
      if (typeof tr === 'number') return tr;
      const r = atParent(f.root, fr, (fp) => atParent(f.root, tr, (tp) => host(() => fs.linkSync(fp, tp))));
      if (r !== OPEN_RETRY) return r;
    }
    return -EACCES;
  }
  return onTwoNames(f, a[0]!, a[1]!, a[2]!, a[3]!, (flags & AT_SYMLINK_FOLLOW) !== 0, (from, to, fr) =>
    fr.guestPath === '/' ? -EPERM : host(() => fs.linkSync(from, to)));
}

/** The guest path of the host file or directory at `fd` (-EBADF; -ENOENT for other kinds). */
function fdGuestPath(f: FsEnv, fd: number): string | number {
  let p: string | number = -EBADF;
  const r = withFd(f, fd, (id) => {
    const k = ofileKind(f.kctx, id);
    if (k !== OK_HOST_FILE && k !== OK_HOST_DIR) return -ENOENT;
    p = ofilePath(f.kctx, id);
    return 0;
  });
  return r < 0 ? r : p;
}

/**
 * symlinkat(target, newdirfd, linkpath): a link holding `target` verbatim (ENOENT for an
 * empty target); it is only followed by the resolver, so whatever it says stays in the root.
 */
export function sysSymlinkat(f: FsEnv, a: readonly bigint[]): number {
  const target = userPath(f, argU(a[0]!));
  if (typeof target === 'number') return target;
  if (target === '') return -ENOENT;
  return onName(f, argInt(a[1]!), argU(a[2]!), false, (p, res) =>
    res.guestPath === '/' ? -EEXIST : host(() => fs.symlinkSync(bytesOf(target), p)));
}

/**
 * A name of host file `st` was removed (unlink, or replaced by a rename of `moved`): when it was
 * the file's last name and the file is a FIFO, its record goes (with its last close if open),
 * so a later file given the same inode number is no FIFO.
 */
export function lastNameGone(f: FsEnv, st: fs.Stats, moved: fs.Stats | null = null): void {
  if (!st.isFile() || st.nlink > 1) return;
  if (moved !== null && moved.dev === st.dev && moved.ino === st.ino) return; // renamed onto itself
  fifoUnlinked(f.kctx, st.dev, st.ino);
}

/**
 * mknodat(dirfd, path, mode, dev): a regular file (S_IFREG or type 0) or a FIFO (S_IFIFO: a host
 * regular file whose (dev, ino) the FIFO table records, kernel/fs/fifo.ts; -ENOSPC when the
 * table is full), mode less the umask; EEXIST when the name exists. Device nodes are EPERM (no
 * CAP_MKNOD here), sockets and unknown types EINVAL.
 */
export function sysMknodatRegular(f: FsEnv, a: readonly bigint[]): number {
  const mode = argInt(a[2]!);
  const type = mode & S_IFMT;
  if (type !== 0 && type !== S_IFREG && type !== S_IFIFO) return type === 0o020000 || type === 0o060000 ? -EPERM : -EINVAL;
  const perm = mode & 0o7777 & ~fdTableUmask(f.kctx, f.fdt, null);
  const c = fs.constants;
  return onName(f, argInt(a[0]!), argU(a[1]!), false, (p) => {
    let hfd: number;
    try {
      hfd = fs.openSync(p, c.O_CREAT | c.O_EXCL | c.O_WRONLY | c.O_NOFOLLOW, perm);
    } catch (e) {
      return -errnoFromNode(e);
    }
    let r = 0;
    if (type === S_IFIFO) {
      try {
        const st = fs.fstatSync(hfd);
        r = fifoMake(f.kctx, st.dev, st.ino);
      } catch (e) {
        r = -errnoFromNode(e);
      }
    }
    fs.closeSync(hfd);
    if (r < 0) host(() => fs.unlinkSync(p)); // no FIFO without its record: the name goes again
    return r;
  });
}

/**
 * Run `fn` on the host object of `fd` for a metadata change: a host file or directory gives
 * its host fd; an O_PATH description is EBADF (Linux: fchmod/fchown need a real open); a
 * pipe end is accepted and changes nothing the guest can see again (its inode lives here).
 */
function withMetaFd(f: FsEnv, fd: number, fn: (hostFd: number) => number): number {
  return withFd(f, fd, (id) => {
    if (ofileFlags(f.kctx, id) & O_PATH) return -EBADF;
    const k = ofileKind(f.kctx, id);
    if (k === OK_HOST_FILE || k === OK_HOST_DIR) return fn(ofileHostFd(f.kctx, id));
    if (k === OK_PIPE_READ || k === OK_PIPE_WRITE) return 0;
    return 0; // the host's stdio: a tty or file the guest does not own; Linux would change it
  });
}

/** fchmod(fd, mode). */
export function sysFchmod(f: FsEnv, a: readonly bigint[]): number {
  const mode = argInt(a[1]!) & 0o7777;
  return withMetaFd(f, argInt(a[0]!), (h) => host(() => fs.fchmodSync(h, mode)));
}

/** fchmodat(dirfd, path, mode): follows a final link (the syscall has no flags). */
export function sysFchmodat(f: FsEnv, a: readonly bigint[]): number {
  const mode = argInt(a[2]!) & 0o7777;
  return onFile(f, argInt(a[0]!), argU(a[1]!), (h) => host(() => fs.fchmodSync(h, mode)));
}

/** An id argument: -1 (as u32 0xffffffff) keeps the current owner. */
const idArg = (v: bigint): number => {
  const u = Number(BigInt.asUintN(32, v));
  return u === 0xffffffff ? -1 : u;
};

/** fchown(fd, uid, gid): -1 keeps that id. */
export function sysFchown(f: FsEnv, a: readonly bigint[]): number {
  const uid = idArg(a[1]!), gid = idArg(a[2]!);
  return withMetaFd(f, argInt(a[0]!), (h) => host(() => fs.fchownSync(h, uid, gid)));
}

/** fchownat(dirfd, path, uid, gid, flags): AT_SYMLINK_NOFOLLOW (the link itself), AT_EMPTY_PATH (dirfd's file). */
export function sysFchownat(f: FsEnv, a: readonly bigint[]): number {
  const flags = argInt(a[4]!);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  const uid = idArg(a[2]!), gid = idArg(a[3]!);
  const path = userPath(f, argU(a[1]!));
  if (typeof path === 'number') return path;
  if (path === '' && flags & AT_EMPTY_PATH) return sysFchown(f, [a[0]!, a[2]!, a[3]!]);
  if (flags & AT_SYMLINK_NOFOLLOW) return onName(f, argInt(a[0]!), argU(a[1]!), false, (p) => host(() => fs.lchownSync(p, uid, gid)));
  return onFile(f, argInt(a[0]!), argU(a[1]!), (h) => host(() => fs.fchownSync(h, uid, gid)));
}

/**
 * The two times of a utimensat call as seconds (Node's unit), with UTIME_NOW / UTIME_OMIT
 * applied against the file's current times; -EINVAL for a tv_nsec out of range, -EFAULT.
 */
function utimes(f: FsEnv, va: number, current: () => fs.Stats): [number, number] | number {
  const now = realtimeMs() / 1000;
  if (va === 0) return [now, now];
  const raw = copyFromUser(f.kctx, f.as, va, 32);
  if (typeof raw === 'number') return -EFAULT;
  const dv = new DataView(raw.buffer, raw.byteOffset, 32);
  const out: number[] = [];
  for (let i = 0; i < 2; i++) {
    const sec = Number(dv.getBigInt64(i * 16, true)), nsec = Number(dv.getBigInt64(i * 16 + 8, true));
    if (nsec === UTIME_NOW) out.push(now);
    else if (nsec === UTIME_OMIT) {
      const st = current();
      out.push((i === 0 ? st.atimeMs : st.mtimeMs) / 1000);
    } else if (nsec < 0 || nsec > 999_999_999) return -EINVAL;
    else out.push(sec + nsec / 1e9);
  }
  return [out[0]!, out[1]!];
}

/**
 * utimensat(dirfd, path, times, flags): times[0] atime, times[1] mtime (NULL: both now);
 * UTIME_NOW, UTIME_OMIT; path NULL acts on dirfd (glibc's futimens); AT_SYMLINK_NOFOLLOW sets
 * a link's own times. Node carries times as double seconds, so nanoseconds are rounded to
 * what a double holds (sub-microsecond digits may change).
 */
export function sysUtimensat(f: FsEnv, a: readonly bigint[]): number {
  const flags = argInt(a[3]!);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  const pathVa = argU(a[1]!);
  const path = pathVa === 0 ? '' : userPath(f, pathVa);
  if (typeof path === 'number') return path;
  if (path === '') {
    if (pathVa !== 0 && !(flags & AT_EMPTY_PATH)) return -ENOENT;
    return withFd(f, argInt(a[0]!), (id) => {
      const k = ofileKind(f.kctx, id);
      if (k !== OK_HOST_FILE && k !== OK_HOST_DIR) return 0;
      const h = ofileHostFd(f.kctx, id);
      const t = utimes(f, argU(a[2]!), () => fs.fstatSync(h));
      if (typeof t === 'number') return t;
      return host(() => fs.futimesSync(h, t[0], t[1]));
    });
  }
  if (flags & AT_SYMLINK_NOFOLLOW) {
    return onName(f, argInt(a[0]!), pathVa, false, (p) => {
      const t = utimes(f, argU(a[2]!), () => fs.lstatSync(p));
      return typeof t === 'number' ? t : host(() => fs.lutimesSync(p, t[0], t[1]));
    });
  }
  return onFile(f, argInt(a[0]!), pathVa, (h) => {
    const t = utimes(f, argU(a[2]!), () => fs.fstatSync(h));
    return typeof t === 'number' ? t : host(() => fs.futimesSync(h, t[0], t[1]));
  });
}

/** struct statfs from the host's statfs of `hostPath` (f_fsid 0, f_namelen 255, f_frsize = f_bsize). */
function statfsOf(hostPath: Buffer | null): Uint8Array | number {
  const out = new Uint8Array(STATFS_SIZE);
  const dv = new DataView(out.buffer);
  const w = (i: number, v: number | bigint): void => dv.setBigInt64(i * 8, BigInt(v), true);
  if (hostPath === null) { // pipefs
    w(0, PIPEFS_MAGIC); w(1, 4096); w(8, 255); w(9, 4096);
    return out;
  }
  let s: fs.BigIntStatsFs;
  try {
    s = fs.statfsSync(hostPath, { bigint: true });
  } catch (e) {
    return -errnoFromNode(e);
  }
  w(0, s.type); w(1, s.bsize); w(2, s.blocks); w(3, s.bfree); w(4, s.bavail); w(5, s.files); w(6, s.ffree);
  // 7: f_fsid (two zero ints, as for an unprivileged caller of some filesystems)
  w(8, 255); w(9, s.bsize); // f_namelen, f_frsize; 10: f_flags 0 (rw); 11..14 spare
  return out;
}

/** statfs(path, buf): the host filesystem's figures for the resolved path. */
export function sysStatfs(f: FsEnv, a: readonly bigint[]): number {
  return onFile(f, -100, argU(a[0]!), (h) => {
    const b = statfsOf(Buffer.from(`/proc/self/fd/${h}`));
    if (typeof b === 'number') return b;
    return copyToUser(f.kctx, f.as, argU(a[1]!), b) < 0 ? -EFAULT : 0;
  });
}

/** fstatfs(fd, buf): as statfs for a host file or directory, pipefs for a pipe, the host's cwd filesystem for stdio. */
export function sysFstatfs(f: FsEnv, a: readonly bigint[]): number {
  return withFd(f, argInt(a[0]!), (id) => {
    const k = ofileKind(f.kctx, id);
    const b = k === OK_PIPE_READ || k === OK_PIPE_WRITE ? statfsOf(null)
      : k === OK_HOST_FILE || k === OK_HOST_DIR ? statfsOf(f.root.hostOfGuest(ofilePath(f.kctx, id)))
        : statfsOf(f.root.hostOfGuest('/'));
    if (typeof b === 'number') return b;
    return copyToUser(f.kctx, f.as, argU(a[1]!), b) < 0 ? -EFAULT : 0;
  });
}

/**
 * close_range(first, last, flags): close (or with CLOSE_RANGE_CLOEXEC mark close-on-exec)
 * every open fd in [first, last]. EINVAL for unknown flags or first > last.
 * CLOSE_RANGE_UNSHARE is accepted but the table is not unshared first: the range is closed in
 * the table the caller shares with its threads (the calling thread sees what Linux gives it;
 * its sibling threads lose those fds too).
 */
export function sysCloseRange(f: FsEnv, a: readonly bigint[]): number {
  const first = Number(BigInt.asUintN(32, a[0]!)), last = Number(BigInt.asUintN(32, a[1]!));
  const flags = argInt(a[2]!);
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) return -EINVAL;
  if (first > last) return -EINVAL;
  fdCloseRange(f.kctx, f.fdt, first, last, (flags & CLOSE_RANGE_CLOEXEC) !== 0, f.waiter);
  return 0;
}
