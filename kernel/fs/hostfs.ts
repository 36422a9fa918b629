/**
 * Guest paths under a host root directory, with chroot semantics, plus the Linux ↔ Node
 * translations a file syscall needs: open flags, struct stat, errno.
 *
 * Confinement — the guest behaves as a process chroot'ed into `root`:
 * - `..` at the root stays at the root (as in a chroot); it can never name the root's parent.
 * - Symbolic links are followed by this module, component by component, never by the host:
 *   an absolute target restarts at the guest root and a relative one continues from the
 *   link's directory, so `ln -s /etc/passwd x` names ROOT/etc/passwd and `ln -s ../../.. y`
 *   names the root. Nothing a link says can lead outside; 40 links in one lookup is ELOOP.
 * - As a second line, the host realpath of the deepest existing prefix of every result must
 *   lie inside the root's realpath; if it does not (a host-side race or mount), EACCES.
 * Results name the final component without following it when the caller asks not to
 * (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, readlinkat, unlinkat); host calls on the result then act
 * on the link itself, and intermediate components contain no links.
 *
 * Names are bytes, as in Linux: a guest path is a ByteString (one char per byte, never
 * decoded as UTF-8), host calls get Buffers, and link targets and directory entries are read
 * as Buffers — so two different byte names never alias one host file, and a name comes back
 * from readdir exactly as it was created.
 */

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { EACCES, EBADF, EBUSY, EEXIST, EFAULT, EFBIG, EINTR, EINVAL, EIO, ENAMETOOLONG, ENFILE, ENODEV, ENOENT, ENOMEM, ENOSPC, ENOSYS, EOPNOTSUPP, EOVERFLOW, EPERM, EAGAIN } from '../errno.ts';
import {
  O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDWR, O_TMPFILE, O_TRUNC, O_WRONLY,
} from '../linux-flags.ts';

// Errno values kernel/errno.ts does not (yet) export; asm-generic numbering.
export const ENXIO = 6;
export const EXDEV = 18;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EMFILE = 24;
export const ENOTTY = 25;
export const ETXTBSY = 26;
export const ESPIPE = 29;
export const EROFS = 30;
export const EMLINK = 31;
export const EPIPE = 32;
export const ENOTEMPTY = 39;
export const ELOOP = 40;

/** Linux PATH_MAX (bytes, NUL included) and NAME_MAX. */
export const PATH_MAX = 4096;
export const NAME_MAX = 255;
/** Linux MAXSYMLINKS: links followed in one lookup before ELOOP. */
export const MAX_SYMLINKS = 40;

/**
 * A Linux file name or path: its bytes held as a JS string of char codes 0–255 ("latin1"),
 * one char per byte. Never UTF-8 decoded; string operations (split on '/', length = bytes)
 * work on it as on the bytes. Convert at the host boundary with bytesOf / byteString.
 */
export type ByteString = string;
/** The bytes of byte string `s` (for host calls: Node's fs takes Buffer paths as bytes). */
export function bytesOf(s: ByteString): Buffer {
  return Buffer.from(s, 'latin1');
}
/** The byte string of `b`. */
export function byteString(b: Uint8Array): ByteString {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** A resolved guest path. */
export interface ResolvedPath {
  /** Host path inside the root, as bytes (what Node's fs calls take); VIRTUAL_HOST_PATH for a virtual node. */
  hostPath: Buffer;
  /** Canonical absolute guest path ("/" for the root), links resolved except a kept final one. */
  guestPath: ByteString;
  /** Set when the path names a node of a virtual tree (procfs, /dev: kernel/fs/procfs.ts), not a host file. */
  virt?: VirtualHit;
}

/** A node of a virtual tree as the lookup sees it. */
export interface VirtualHit {
  type: 'dir' | 'file' | 'link' | 'dev';
  /** Where a 'link' points (a byte string, absolute or relative to the link's directory). */
  target?: ByteString;
  /**
   * A 'link' that names an open object rather than a path (/proc/<pid>/fd/<n> of a pipe or of
   * the host's stdio: Linux's "magic" links): followed as the last component it is not
   * resolved through its target; the path ends on the link node and open re-opens the object.
   */
  reopen?: boolean;
}

/**
 * Lookup in the virtual trees for the canonical components `c` (["proc", "self"] for
 * /proc/self): undefined when the path is not virtual (a host path), null when it lies inside
 * a virtual directory but does not exist, else the node.
 */
export type VirtualLookup = (c: readonly ByteString[]) => VirtualHit | null | undefined;

/**
 * The host path a virtual node resolves to: below a character device, so that a host call made
 * on it by code that does not know virtual nodes fails (ENOTDIR) instead of touching the host.
 */
export const VIRTUAL_HOST_PATH = Buffer.from('/dev/null/coherent-virtual-node');

export interface ResolveOptions {
  /** Directory a relative path starts from (a guest absolute path): the cwd or a dirfd's path. */
  base?: ByteString;
  /** Follow a symlink in the final component (default true). */
  followFinal?: boolean;
  /** The virtual trees (kernel/fs/procfs.ts), consulted for each component before the host. */
  virtual?: VirtualLookup;
}

/** Guest root directory on the host. Construct once per machine (`--root DIR`). */
export class HostRoot {
  /** realpath of the root directory. */
  readonly root: string;
  /** The same as a byte string (the host's bytes of it). */
  readonly rootBytes: ByteString;

  /** Throws if `rootDir` does not exist or is not a directory. */
  constructor(rootDir: string) {
    const real = fs.realpathSync(rootDir);
    if (!fs.statSync(real).isDirectory()) throw new Error(`HostRoot: ${rootDir} is not a directory`);
    this.root = real;
    this.rootBytes = byteString(fs.realpathSync(rootDir, { encoding: 'buffer' }));
  }

  /** Host path (bytes) of canonical guest path `guestPath` (no checks: it came from resolve). */
  hostOfGuest(guestPath: ByteString): Buffer {
    return bytesOf(this.hostOf(splitGuest(guestPath)));
  }

  /**
   * This root seen with the virtual trees `lookup` (kernel/fs/procfs.ts): an object sharing
   * this root's state whose resolve consults `lookup` unless the caller passes its own. Made per
   * syscall (the lookup knows the calling process: /proc/self).
   */
  withVirtual(lookup: VirtualLookup): HostRoot {
    const view = Object.create(this) as HostRoot;
    view.resolve = (path, options = {}) => this.resolve(path, { ...options, virtual: options.virtual ?? lookup });
    return view;
  }

  /**
   * Resolve guest `path` to a host path inside the root, as a chroot'ed Linux process would
   * look it up. Returns a negative errno instead when Linux's lookup fails: -ENOENT (empty
   * path, missing directory on the way), -ENOTDIR (a non-directory used as a directory, or a
   * trailing slash on one), -ELOOP, -ENAMETOOLONG (the path, a component, or the canonical
   * result reaching PATH_MAX), -EACCES (the host view escapes the root).
   * A missing final component is not an error: open(O_CREAT) and mkdir need its path.
   * `path` is a ByteString (kernel/mm/uaccess.ts strncpyFromUser gives one).
   */
  resolve(path: ByteString, options: ResolveOptions = {}): ResolvedPath | number {
    if (path.length === 0) return -ENOENT;
    if (path.length >= PATH_MAX) return -ENAMETOOLONG;
    const followFinal = options.followFinal ?? true;
    const stack: string[] = path.startsWith('/') ? [] : splitGuest(options.base ?? '/');
    const trailingSlash = /\/\.?$/.test(path) && path !== '/';
    let pending = splitRaw(path).reverse(); // components still to walk, next one last
    let links = 0;
    while (pending.length > 0) {
      const name = pending.pop()!;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        stack.pop(); // at the root, `..` stays at the root
        continue;
      }
      if (name.length > NAME_MAX) return -ENAMETOOLONG;
      stack.push(name);
      const isFinal = pending.every((c) => c === '' || c === '.');
      const v = options.virtual?.(stack);
      if (v !== undefined) { // a virtual node: no host call
        if (v === null) return -ENOENT;
        if (v.type === 'link' && (!isFinal || followFinal || trailingSlash) && !(v.reopen && isFinal && !trailingSlash)) {
          if (++links > MAX_SYMLINKS) return -ELOOP;
          const target = v.target ?? '';
          stack.pop();
          if (target.startsWith('/')) stack.length = 0;
          pending = pending.concat(splitRaw(target).reverse());
          continue;
        }
        if ((!isFinal || trailingSlash) && v.type !== 'dir') return -ENOTDIR;
        continue;
      }
      const host = this.hostOf(stack);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(bytesOf(host));
      } catch (e) {
        const errno = errnoFromNode(e);
        if (errno === ENOENT && isFinal) break;
        return -errno;
      }
      if (st.isSymbolicLink() && (!isFinal || followFinal || trailingSlash)) {
        if (++links > MAX_SYMLINKS) return -ELOOP;
        let target: ByteString;
        try {
          target = byteString(fs.readlinkSync(bytesOf(host), { encoding: 'buffer' }));
        } catch (e) {
          // Replaced since the lstat (another process renamed or swapped it): look at the
          // component again; the link count bounds how often.
          const errno = errnoFromNode(e);
          if (errno !== EINVAL && errno !== ENOENT) return -errno;
          stack.pop();
          pending.push(name);
          continue;
        }
        stack.pop();
        if (target.startsWith('/')) stack.length = 0;
        pending = pending.concat(splitRaw(target).reverse());
        continue;
      }
      if (!isFinal && !st.isDirectory()) return -ENOTDIR;
      if (isFinal && trailingSlash && !st.isDirectory()) return -ENOTDIR;
    }
    const guestPath = '/' + stack.join('/');
    // Every canonical path fits a description and a cwd record (PATH_MAX): a long relative
    // path under a long cwd, or a link expanding past it, is refused before any host call.
    if (guestPath.length >= PATH_MAX) return -ENAMETOOLONG;
    const virt = stack.length > 0 ? options.virtual?.(stack) : undefined;
    if (virt === null) return -ENOENT;
    if (virt) return { hostPath: VIRTUAL_HOST_PATH, guestPath, virt };
    const hostPath = this.hostOf(stack);
    // The walk followed every link itself; re-check the directory the result lives in on the
    // host (a kept final symlink may point anywhere — host calls act on the link, not through it).
    const top = stack.length === 0 || this.mounts.some((m) => m.at.length === stack.length && m.at.every((c, i) => stack[i] === c));
    if (!this.contains(top ? hostPath : nodePath.dirname(hostPath))) return -EACCES;
    return { hostPath: bytesOf(hostPath), guestPath };
  }

  /** Host path (byte string) of guest components (no checks); a mounted directory's components map to its host directory. */
  private hostOf(components: readonly ByteString[]): ByteString {
    for (const m of this.mounts) {
      if (components.length >= m.at.length && m.at.every((c, i) => components[i] === c)) {
        const rest = components.slice(m.at.length);
        return rest.length === 0 ? m.host : m.host + '/' + rest.join('/');
      }
    }
    return components.length === 0 ? this.rootBytes : this.rootBytes + '/' + components.join('/');
  }

  private readonly mounts: Array<{ at: ByteString[]; host: ByteString }> = [];
  /**
   * Show host directory `hostDir` at guest directory `guestDir` (absolute, canonical; e.g.
   * /dev/shm): paths below it resolve into `hostDir`, confined to it as to the root. For the
   * machine's /dev/shm (kernel/fs/procfs.ts). Throws if `hostDir` is not a directory.
   */
  mount(guestDir: ByteString, hostDir: string): void {
    const real = byteString(fs.realpathSync(hostDir, { encoding: 'buffer' }));
    if (!fs.statSync(bytesOf(real)).isDirectory()) throw new Error(`HostRoot.mount: ${hostDir} is not a directory`);
    this.mounts.push({ at: splitGuest(guestDir), host: real });
  }

  /** Host real path `real` (a byte string) is the root, a mounted directory (/dev/shm), or below one of them. */
  holds(real: ByteString): boolean {
    const inside = (root: ByteString): boolean => real === root || real.startsWith(root.endsWith('/') ? root : root + '/');
    return inside(this.rootBytes) || this.mounts.some((m) => inside(m.host));
  }

  /** The host realpath of the deepest existing prefix of hostPath (a byte string) lies inside the root (or a mounted directory). */
  contains(hostPath: ByteString): boolean {
    let p = hostPath;
    for (;;) {
      try {
        const real = byteString(fs.realpathSync(bytesOf(p), { encoding: 'buffer' }));
        return this.holds(real);
      } catch {
        const parent = nodePath.dirname(p);
        if (parent === p) return false;
        p = parent;
      }
    }
  }
}

/**
 * Whether host fd `hostFd`, just opened from a resolved path, names a file inside the root (or
 * a directory mounted into it, such as /dev/shm):
 * the host's /proc/self/fd link gives the path the host actually opened. The resolver walked
 * the path itself, but between that walk and the host's open another process may have
 * swapped a directory on the way for a symlink, which the host would follow (Node offers no
 * openat2 with RESOLVE_IN_ROOT). True when the host has no /proc (nothing to check with).
 */
export function openedInside(root: HostRoot, hostFd: number): boolean {
  let real: ByteString;
  try {
    real = byteString(fs.readlinkSync(`/proc/self/fd/${hostFd}`, { encoding: 'buffer' }));
  } catch {
    return true;
  }
  return root.holds(real);
}

/** The host has /proc/self/fd (Linux): the in-root checks of openInRoot and atParent use it. */
const HOST_PROC_FD = fs.existsSync('/proc/self/fd');

/** Linux's O_PATH (not in Node's fs.constants): the parent directories are opened only to name them, needing no read permission. */
const HOST_O_PATH = process.platform === 'linux' ? 0o10000000 : 0;

/** openInRoot's answer when the host's view changed under the walk: walk again. */
export const OPEN_RETRY = -0x7fff_0001;

/**
 * Open resolved path `res` on the host without letting a concurrent swap of a directory on
 * the way (for a symlink to outside) redirect the host: the parent directory is opened and
 * checked to lie inside the root (openedInside), then the final name is opened relative to
 * it through the host's /proc/self/fd/<dirfd>/<name>, with O_NOFOLLOW — the walk already
 * followed any final link, so a link found there now was swapped in. Returns the host fd,
 * -errno, or OPEN_RETRY (the caller walks again). `guestNofollow`: the guest asked for
 * O_NOFOLLOW (an ELOOP is then its answer, not a swap). Without /proc on the host, a plain open
 * followed by the openedInside check.
 */
export function openInRoot(root: HostRoot, res: ResolvedPath, nodeFlags: number, mode: number, guestNofollow: boolean): number {
  const c = fs.constants;
  const slash = res.hostPath.lastIndexOf(0x2f);
  if (res.guestPath === '/' || slash <= 0 || !HOST_PROC_FD) {
    let fd: number;
    try {
      fd = fs.openSync(res.hostPath, nodeFlags, mode);
    } catch (e) {
      return -errnoFromNode(e);
    }
    if (openedInside(root, fd)) return fd;
    fs.closeSync(fd);
    return OPEN_RETRY;
  }
  let dirFd: number;
  try {
    dirFd = fs.openSync(res.hostPath.subarray(0, slash), c.O_RDONLY | HOST_O_PATH | c.O_DIRECTORY | c.O_NOFOLLOW);
  } catch (e) {
    const errno = errnoFromNode(e);
    return errno === ELOOP || errno === ENOTDIR || errno === ENOENT ? OPEN_RETRY : -errno;
  }
  try {
    if (!openedInside(root, dirFd)) return OPEN_RETRY;
    const name = res.hostPath.subarray(slash + 1);
    const via = Buffer.concat([Buffer.from(`/proc/self/fd/${dirFd}/`), name]);
    try {
      return fs.openSync(via, nodeFlags | c.O_NOFOLLOW, mode);
    } catch (e) {
      const errno = errnoFromNode(e);
      return errno === ELOOP && !guestNofollow ? OPEN_RETRY : -errno;
    }
  } finally {
    fs.closeSync(dirFd);
  }
}

/**
 * Run host call `fn` on the final name of resolved path `res` through its parent directory,
 * opened and checked to lie inside the root first: `fn` gets /proc/self/fd/<dirfd>/<name>,
 * which the host resolves from that directory, so a directory on the way swapped for a
 * symlink meanwhile cannot redirect it. For calls that act on the name itself (rename, link,
 * unlink, mkdir, symlink, lchown, lstat); a call that would follow a final link uses
 * openInRoot instead. Returns fn's result, -errno, or OPEN_RETRY (walk again). The root
 * itself, and hosts without /proc, get the plain host path.
 */
export function atParent(root: HostRoot, res: ResolvedPath, fn: (hostPath: Buffer) => number): number {
  const slash = res.hostPath.lastIndexOf(0x2f);
  if (res.guestPath === '/' || slash <= 0 || !HOST_PROC_FD) return fn(res.hostPath);
  const c = fs.constants;
  let dirFd: number;
  try {
    dirFd = fs.openSync(res.hostPath.subarray(0, slash), c.O_RDONLY | HOST_O_PATH | c.O_DIRECTORY | c.O_NOFOLLOW);
  } catch (e) {
    const errno = errnoFromNode(e);
    return errno === ELOOP || errno === ENOTDIR || errno === ENOENT ? OPEN_RETRY : -errno;
  }
  try {
    if (!openedInside(root, dirFd)) return OPEN_RETRY;
    return fn(Buffer.concat([Buffer.from(`/proc/self/fd/${dirFd}/`), res.hostPath.subarray(slash + 1)]));
  } finally {
    fs.closeSync(dirFd);
  }
}

function splitRaw(path: string): string[] {
  return path.split('/');
}
function splitGuest(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/** How to open a host file for a Linux open(2) flag word. */
export interface HostOpenFlags {
  /** Flags for fs.openSync (fs.constants values of this host). */
  nodeFlags: number;
  readable: boolean;
  writable: boolean;
  append: boolean;
  cloexec: boolean;
  nonblock: boolean;
  /** O_PATH: the descriptor only names the file (opened read-only on the host). */
  pathOnly: boolean;
}

/**
 * Translate Linux riscv64 open flags (asm-generic values) to the host's. Returns -EINVAL for
 * O_ACCMODE = 3 with O_CREAT/O_TRUNC, and -EOPNOTSUPP for O_TMPFILE (not supported here).
 * O_CLOEXEC and O_NONBLOCK are reported, not passed (Node opens close-on-exec already).
 */
export function openFlagsToHost(flags: number): HostOpenFlags | number {
  const c = fs.constants;
  if ((flags & O_TMPFILE) === O_TMPFILE) return -EOPNOTSUPP;
  const pathOnly = (flags & O_PATH) !== 0;
  const acc = flags & O_ACCMODE;
  if (acc === O_ACCMODE && flags & (O_CREAT | O_TRUNC)) return -EINVAL;
  const readable = !pathOnly && (acc === 0 || acc === O_RDWR);
  const writable = !pathOnly && (acc === O_WRONLY || acc === O_RDWR);
  let nodeFlags = readable && writable ? c.O_RDWR : writable ? c.O_WRONLY : c.O_RDONLY;
  if (!pathOnly) {
    if (flags & O_CREAT) nodeFlags |= c.O_CREAT;
    if (flags & O_EXCL) nodeFlags |= c.O_EXCL;
    if (flags & O_TRUNC) nodeFlags |= c.O_TRUNC;
    if (flags & O_APPEND) nodeFlags |= c.O_APPEND;
  }
  if (flags & O_DIRECTORY) nodeFlags |= c.O_DIRECTORY;
  if (flags & O_NOFOLLOW) nodeFlags |= c.O_NOFOLLOW;
  return {
    nodeFlags,
    readable,
    writable,
    append: (flags & O_APPEND) !== 0,
    cloexec: (flags & O_CLOEXEC) !== 0,
    nonblock: (flags & O_NONBLOCK) !== 0,
    pathOnly,
  };
}

// struct stat for riscv64 (asm-generic/stat.h), 128 bytes.
export const STAT_SIZE = 128;
export const ST_DEV = 0; // u64
export const ST_INO = 8; // u64
export const ST_MODE = 16; // u32
export const ST_NLINK = 20; // u32
export const ST_UID = 24; // u32
export const ST_GID = 28; // u32
export const ST_RDEV = 32; // u64 (then __pad1 u64)
export const ST_SIZE = 48; // i64
export const ST_BLKSIZE = 56; // i32 (then __pad2 i32)
export const ST_BLOCKS = 64; // i64 (512-byte units)
export const ST_ATIME = 72; // i64 sec, u64 nsec at +8
export const ST_MTIME = 88;
export const ST_CTIME = 104;
// 120: two unused u32

/** Fields of a stat, from Node's Stats or BigIntStats (bigint gives exact nanoseconds). */
type AnyStats = fs.Stats | fs.BigIntStats;

/**
 * Encode host stats as riscv64 Linux `struct stat` (newfstatat / fstat), 128 bytes.
 * Modes use the POSIX type bits (S_IFREG ...), identical on Linux and macOS hosts.
 */
export function statToLinux(st: AnyStats, out = new Uint8Array(STAT_SIZE), offset = 0): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset + offset, STAT_SIZE);
  out.fill(0, offset, offset + STAT_SIZE);
  const big = (v: number | bigint) => BigInt.asUintN(64, BigInt(v));
  dv.setBigUint64(ST_DEV, big(st.dev), true);
  dv.setBigUint64(ST_INO, big(st.ino), true);
  dv.setUint32(ST_MODE, Number(st.mode) >>> 0, true);
  dv.setUint32(ST_NLINK, Number(st.nlink) >>> 0, true);
  dv.setUint32(ST_UID, Number(st.uid) >>> 0, true);
  dv.setUint32(ST_GID, Number(st.gid) >>> 0, true);
  dv.setBigUint64(ST_RDEV, big(st.rdev), true);
  dv.setBigInt64(ST_SIZE, BigInt(st.size), true);
  dv.setInt32(ST_BLKSIZE, Number(st.blksize) || 4096, true);
  dv.setBigInt64(ST_BLOCKS, BigInt(st.blocks), true);
  const times: [number, 'atime' | 'mtime' | 'ctime'][] = [[ST_ATIME, 'atime'], [ST_MTIME, 'mtime'], [ST_CTIME, 'ctime']];
  for (const [off, which] of times) {
    const [sec, nsec] = timeOf(st, which);
    dv.setBigInt64(off, sec, true);
    dv.setBigUint64(off + 8, nsec, true);
  }
  return out;
}

function timeOf(st: AnyStats, which: 'atime' | 'mtime' | 'ctime'): [bigint, bigint] {
  if (typeof st.size === 'bigint') {
    const ns = (st as fs.BigIntStats)[`${which}Ns`];
    const sec = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
    return [sec, ns - sec * 1_000_000_000n];
  }
  const ms = (st as fs.Stats)[`${which}Ms`];
  const sec = Math.floor(ms / 1000);
  return [BigInt(sec), BigInt(Math.round((ms - sec * 1000) * 1e6))];
}

const NODE_ERRNO: Readonly<Record<string, number>> = {
  EPERM, ENOENT, EINTR, EIO, ENXIO, EBADF, EAGAIN, ENOMEM, EACCES, EFAULT, EBUSY, EEXIST, EXDEV, ENODEV,
  ENOTDIR, EISDIR, EINVAL, ENFILE, EMFILE, ENOTTY, ETXTBSY, EFBIG, ENOSPC, ESPIPE, EROFS, EMLINK, EPIPE,
  ENAMETOOLONG, ENOSYS, ENOTEMPTY, ELOOP, EOVERFLOW, EOPNOTSUPP, ENOTSUP: EOPNOTSUPP, EWOULDBLOCK: EAGAIN,
};

/**
 * The positive Linux errno for an error thrown by a Node fs call (by its `code`, so the
 * host's own numbering does not matter). Anything unrecognised is EIO.
 */
export function errnoFromNode(err: unknown): number {
  const code = (err as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && NODE_ERRNO[code]) || EIO;
}
