/**
 * The socket syscalls on socket pairs (kernel/fs/socket.ts): socketpair, sendto, recvfrom,
 * sendmsg, recvmsg (SCM_RIGHTS in both directions, MSG_CTRUNC / MSG_TRUNC), shutdown,
 * getsockopt (SO_TYPE, SO_ERROR, SO_DOMAIN), and read/write on a socket. Linux riscv64 ABI:
 *   struct msghdr  { void *name @0; u32 namelen @8; iovec *iov @16; size_t iovlen @24;
 *                    void *control @32; size_t controllen @40; int flags @48 }   (56 bytes)
 *   struct cmsghdr { size_t len @0; int level @8; int type @12; data @16 }   CMSG_ALIGN = 8
 * A description holds pair index * 2 + end in OF_HOSTFD. Anything not a socket is ENOTSOCK.
 */
import { EBADF, EFAULT, EINVAL } from '../errno.ts';
import { O_CLOEXEC, O_LARGEFILE, O_NONBLOCK, O_RDWR } from '../linux-flags.ts';
import { argInt, argU } from '../syscall.ts';
import { copyFromUser, copyToUser, readIovecs } from '../mm/uaccess.ts';
import { fdClose as fdCloseRaw, fdGet, fdInstall } from './fdtable.ts';
import { OK_SOCKET } from './layout.ts';
import { ofileCreate, ofileFlags, ofileHostFd, ofileKind, ofilePut } from './ofile.ts';
import type { FsEnv } from './sys-fs-env.ts';
import { withFd } from './sys-fs.ts';
import {
  RCV_SHUTDOWN, SEND_SHUTDOWN, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, socketPairCreate, socketCloseEnd, socketRecv,
  socketSend, socketShutdown, socketType,
} from './socket.ts';

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const EOPNOTSUPP = 95;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_DOMAIN = 39;
export const MSG_PEEK = 0x2;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const SOCK_NONBLOCK = O_NONBLOCK;
export const SOCK_CLOEXEC = O_CLOEXEC;
export const ENOTSOCK = 88;
export const EPROTONOSUPPORT = 93;
export const ESOCKTNOSUPPORT = 94;
export const EAFNOSUPPORT = 97;
export const EISCONN = 106;
export const ENOPROTOOPT = 92;

/** Run `fn` with the socket (pair, end) behind `fd` (one reference held), or -EBADF / -ENOTSOCK. */
function withSocket(f: FsEnv, fd: number, fn: (s: number, e: number, id: number) => number): number {
  return withFd(f, fd, (id) => {
    if (ofileKind(f.kctx, id) !== OK_SOCKET) return -ENOTSOCK;
    const h = ofileHostFd(f.kctx, id);
    return fn(h >> 1, h & 1, id);
  });
}

const fdClose = (f: FsEnv, fd: number): number => fdCloseRaw(f.kctx, f.fdt, fd, f.waiter);

/** Release the descriptions `ids` (each one reference). */
function putAll(f: FsEnv, ids: number[]): void {
  for (const id of ids) ofilePut(f.kctx, id, f.waiter);
}

/** The description release of a socket end (ofile.ts release hook). */
export function socketRelease(f: Pick<FsEnv, 'kctx'>, object: number, waiter: FsEnv['waiter'] | null): void {
  const orphans = socketCloseEnd(f.kctx, object >> 1, object & 1, waiter);
  for (const id of orphans) ofilePut(f.kctx, id, waiter);
}

/** socketpair(domain, type, protocol, sv[2]). */
export function sysSocketpair(f: FsEnv, a: readonly bigint[]): number {
  const domain = argInt(a[0]!), typeFlags = argInt(a[1]!), protocol = argInt(a[2]!);
  const type = typeFlags & 0xf;
  if (typeFlags & ~(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC)) return -EINVAL;
  if (domain === AF_INET || domain === AF_INET6) return -EOPNOTSUPP; // created, but inet has no socketpair
  if (domain !== AF_UNIX) return -EAFNOSUPPORT;
  if (type !== SOCK_STREAM && type !== SOCK_DGRAM && type !== SOCK_SEQPACKET) return -ESOCKTNOSUPPORT;
  if (protocol !== 0 && protocol !== AF_UNIX) return -EPROTONOSUPPORT;
  const s = socketPairCreate(f.kctx, type);
  if (s < 0) return s;
  const flags = O_RDWR | O_LARGEFILE | (typeFlags & SOCK_NONBLOCK ? O_NONBLOCK : 0);
  const ids: number[] = [];
  for (const e of [0, 1]) {
    const id = ofileCreate(f.kctx, { kind: OK_SOCKET, flags, hostFd: s * 2 + e });
    if (id < 0) {
      putAll(f, ids);
      if (ids.length === 0) socketCloseEnd(f.kctx, s, 0, f.waiter);
      socketCloseEnd(f.kctx, s, 1, f.waiter);
      return id;
    }
    ids.push(id);
  }
  const cloexec = (typeFlags & SOCK_CLOEXEC) !== 0;
  const fd0 = fdInstall(f.kctx, f.fdt, ids[0]!, cloexec);
  if (fd0 < 0) { putAll(f, ids); return fd0; }
  const fd1 = fdInstall(f.kctx, f.fdt, ids[1]!, cloexec);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setInt32(0, fd0, true);
  new DataView(out.buffer).setInt32(4, fd1, true);
  if (fd1 < 0 || copyToUser(f.kctx, f.as, argU(a[3]!), out) < 0) {
    // Undo: closing fd0 drops ids[0]; ids[1] is dropped directly or through fd1.
    fdClose(f, fd0);
    if (fd1 >= 0) fdClose(f, fd1); else ofilePut(f.kctx, ids[1]!, f.waiter);
    return fd1 < 0 ? fd1 : -EFAULT;
  }
  return 0;
}

/** Bytes [off, off + n) of the user buffers `iov` (a source for socketSend). */
function gather(f: FsEnv, iov: [number, number][]): (off: number, n: number) => Uint8Array | number {
  return (off, n) => {
    const out = new Uint8Array(n);
    let at = 0, skip = off;
    for (const [va, len] of iov) {
      if (at >= n) break;
      if (skip >= len) { skip -= len; continue; }
      const k = Math.min(len - skip, n - at);
      const b = copyFromUser(f.kctx, f.as, va + skip, k);
      if (typeof b === 'number') return -EFAULT;
      out.set(b, at);
      at += k;
      skip = 0;
    }
    return out;
  };
}

/** Scatter `bytes` over the user buffers `iov`; -EFAULT when one is not writable. */
function scatter(f: FsEnv, iov: [number, number][], bytes: Uint8Array): number {
  let at = 0;
  for (const [va, len] of iov) {
    if (at >= bytes.length) break;
    const k = Math.min(len, bytes.length - at);
    if (copyToUser(f.kctx, f.as, va, bytes.subarray(at, at + k)) < 0) return -EFAULT;
    at += k;
  }
  return 0;
}

/** Parse SCM_RIGHTS out of a control buffer: the descriptions (referenced), or -errno (nothing held). */
function rightsOf(f: FsEnv, va: number, len: number): number[] | number {
  if (len === 0) return [];
  if (va === 0 || len > 1 << 20) return -EINVAL;
  const raw = copyFromUser(f.kctx, f.as, va, len);
  if (typeof raw === 'number') return -EFAULT;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const ids: number[] = [];
  for (let off = 0; off + 16 <= len;) {
    const clen = Number(dv.getBigUint64(off, true));
    if (clen < 16 || off + clen > len) { putAll(f, ids); return -EINVAL; }
    if (dv.getInt32(off + 8, true) === SOL_SOCKET) {
      if (dv.getInt32(off + 12, true) !== SCM_RIGHTS) { putAll(f, ids); return -EINVAL; }
      for (let p = off + 16; p + 4 <= off + clen; p += 4) {
        const id = fdGet(f.kctx, f.fdt, dv.getInt32(p, true));
        if (id < 0) { putAll(f, ids); return -EBADF; }
        ids.push(id);
      }
    }
    off += Math.ceil(clen / 8) * 8;
  }
  return ids;
}

/** The send core of sendto/sendmsg/write: count, -errno or PARKED. `fds` are consumed (sent or released). */
function sendOn(f: FsEnv, fd: number, iov: [number, number][], flags: number, fds: number[], resume: number): number {
  const r = withSocket(f, fd, (s, e, id) => {
    const len = iov.reduce((t, [, l]) => t + l, 0);
    const o = { nonblock: (flags & MSG_DONTWAIT) !== 0 || (ofileFlags(f.kctx, id) & O_NONBLOCK) !== 0,
      nosignal: (flags & MSG_NOSIGNAL) !== 0, fds, resume };
    const n = socketSend(f.kctx, s, e, len, gather(f, iov), o, f.waiter);
    fds = o.fds; // what the socket did not take (a parked send's re-run passes them again)
    return n;
  });
  putAll(f, fds);
  return r;
}

/** The receive core: count (or the record's full length with MSG_TRUNC), fds received, flags out. */
function recvOn(f: FsEnv, fd: number, iov: [number, number][], flags: number): { n: number; fds: number[]; msgFlags: number } {
  let fds: number[] = [];
  let msgFlags = 0;
  const n = withSocket(f, fd, (s, e, id) => {
    const len = iov.reduce((t, [, l]) => t + l, 0);
    const r = socketRecv(f.kctx, s, e, len, (flags & MSG_PEEK) !== 0,
      (flags & MSG_DONTWAIT) !== 0 || (ofileFlags(f.kctx, id) & O_NONBLOCK) !== 0, f.waiter);
    if (typeof r === 'number') return r;
    fds = r.fds;
    if (scatter(f, iov, r.bytes) < 0) return -EFAULT;
    if (socketType(f.kctx, s) !== SOCK_STREAM && r.full > r.bytes.length) {
      msgFlags |= MSG_TRUNC;
      if (flags & MSG_TRUNC) return r.full;
    }
    return r.bytes.length;
  });
  return { n, fds, msgFlags };
}

/** sendto(fd, buf, len, flags, dest, addrlen): a destination on a connected pair is EISCONN. */
export function sysSendto(f: FsEnv, a: readonly bigint[]): number {
  const resume = f.waiter.resumed?.() ?? 0;
  if (argU(a[4]!) !== 0) return withSocket(f, argInt(a[0]!), () => -EISCONN);
  return sendOn(f, argInt(a[0]!), [[argU(a[1]!), argU(a[2]!)]], argInt(a[3]!), [], resume);
}

/** recvfrom(fd, buf, len, flags, src, addrlen): an unnamed peer gives address length 0. */
export function sysRecvfrom(f: FsEnv, a: readonly bigint[]): number {
  const r = recvOn(f, argInt(a[0]!), [[argU(a[1]!), argU(a[2]!)]], argInt(a[3]!));
  putAll(f, r.fds); // recvfrom has no control buffer: passed fds are dropped (Linux: closed)
  if (r.n >= 0 && argU(a[4]!) !== 0 && argU(a[5]!) !== 0) copyToUser(f.kctx, f.as, argU(a[5]!), new Uint8Array(4));
  return r.n;
}

/** sendmsg(fd, msg, flags). */
export function sysSendmsg(f: FsEnv, a: readonly bigint[]): number {
  const resume = f.waiter.resumed?.() ?? 0;
  const fd = argInt(a[0]!), flags = argInt(a[2]!);
  const raw = copyFromUser(f.kctx, f.as, argU(a[1]!), 56);
  if (typeof raw === 'number') return -EFAULT;
  const dv = new DataView(raw.buffer, raw.byteOffset, 56);
  const iov = readIovecs(f.kctx, f.as, Number(dv.getBigUint64(16, true)), Number(dv.getBigInt64(24, true)));
  if (typeof iov === 'number') return iov;
  if (dv.getBigUint64(0, true) !== 0n) return withSocket(f, fd, () => -EISCONN);
  // A re-run after a stream send parked already passed its fds with the first piece.
  const fds = resume > 0 ? [] : rightsOf(f, Number(dv.getBigUint64(32, true)), Number(dv.getBigUint64(40, true)));
  if (typeof fds === 'number') return withSocket(f, fd, () => fds);
  return sendOn(f, fd, iov, flags, fds, resume);
}

/** recvmsg(fd, msg, flags): SCM_RIGHTS installed in the caller's table (MSG_CMSG_CLOEXEC), MSG_CTRUNC when they do not fit. */
export function sysRecvmsg(f: FsEnv, a: readonly bigint[]): number {
  const mva = argU(a[1]!), flags = argInt(a[2]!);
  const raw = copyFromUser(f.kctx, f.as, mva, 56);
  if (typeof raw === 'number') return -EFAULT;
  const dv = new DataView(raw.buffer, raw.byteOffset, 56);
  const iov = readIovecs(f.kctx, f.as, Number(dv.getBigUint64(16, true)), Number(dv.getBigInt64(24, true)));
  if (typeof iov === 'number') return iov;
  const r = recvOn(f, argInt(a[0]!), iov, flags);
  if (r.n < 0) { putAll(f, r.fds); return r.n; }
  const cva = Number(dv.getBigUint64(32, true)), clen = Number(dv.getBigUint64(40, true));
  let msgFlags = r.msgFlags, used = 0;
  if (r.fds.length > 0) {
    const room = clen >= 16 ? Math.floor((clen - 16) / 4) : 0;
    const fit = cva === 0 ? 0 : Math.min(room, r.fds.length);
    const installed: number[] = [];
    for (let i = 0; i < fit; i++) {
      const nfd = fdInstall(f.kctx, f.fdt, r.fds[i]!, (flags & MSG_CMSG_CLOEXEC) !== 0);
      if (nfd < 0) break;
      installed.push(nfd);
    }
    putAll(f, r.fds.slice(installed.length)); // what did not fit is closed (Linux scm_detach_fds)
    if (installed.length < r.fds.length) msgFlags |= MSG_CTRUNC;
    if (installed.length > 0) {
      const cm = new Uint8Array(16 + 4 * installed.length);
      const cdv = new DataView(cm.buffer);
      cdv.setBigUint64(0, BigInt(cm.length), true);
      cdv.setInt32(8, SOL_SOCKET, true);
      cdv.setInt32(12, SCM_RIGHTS, true);
      installed.forEach((nfd, i) => cdv.setInt32(16 + 4 * i, nfd, true));
      if (copyToUser(f.kctx, f.as, cva, cm) < 0) return -EFAULT;
      used = Math.min(clen, Math.ceil(cm.length / 8) * 8);
    }
  }
  const out = new Uint8Array(raw);
  const odv = new DataView(out.buffer, out.byteOffset, 56);
  odv.setUint32(8, 0, true); // msg_namelen: an unnamed peer
  odv.setBigUint64(40, BigInt(used), true);
  odv.setInt32(48, msgFlags, true);
  if (copyToUser(f.kctx, f.as, mva, out) < 0) return -EFAULT;
  return r.n;
}

/** shutdown(fd, how): SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2. */
export function sysShutdown(f: FsEnv, a: readonly bigint[]): number {
  const how = argInt(a[1]!);
  return withSocket(f, argInt(a[0]!), (s, e) => {
    if (how < 0 || how > 2) return -EINVAL;
    socketShutdown(f.kctx, s, e, (how + 1) & (RCV_SHUTDOWN | SEND_SHUTDOWN), f.waiter);
    return 0;
  });
}

/** getsockopt(fd, level, name, val, len): SO_TYPE, SO_ERROR, SO_DOMAIN; others ENOPROTOOPT. */
export function sysGetsockopt(f: FsEnv, a: readonly bigint[]): number {
  return withSocket(f, argInt(a[0]!), (s) => {
    if (argInt(a[1]!) !== SOL_SOCKET) return -ENOPROTOOPT;
    const name = argInt(a[2]!);
    const v = name === SO_TYPE ? socketType(f.kctx, s) : name === SO_ERROR ? 0 : name === SO_DOMAIN ? AF_UNIX : null;
    if (v === null) return -ENOPROTOOPT;
    const lb = copyFromUser(f.kctx, f.as, argU(a[4]!), 4);
    if (typeof lb === 'number') return -EFAULT;
    const len = new DataView(lb.buffer, lb.byteOffset, 4).getInt32(0, true);
    if (len < 0) return -EINVAL;
    const out = new Uint8Array(4);
    new DataView(out.buffer).setInt32(0, v, true);
    const n = Math.min(len, 4);
    if (copyToUser(f.kctx, f.as, argU(a[3]!), out.subarray(0, n)) < 0) return -EFAULT;
    const ol = new Uint8Array(4);
    new DataView(ol.buffer).setInt32(0, n, true);
    return copyToUser(f.kctx, f.as, argU(a[4]!), ol) < 0 ? -EFAULT : 0;
  });
}

/** read(2) / write(2) on a socket: recv / send with no flags. */
export const socketIo = {
  read(f: FsEnv, id: number, va: number, len: number): number {
    const h = ofileHostFd(f.kctx, id);
    const r = socketRecv(f.kctx, h >> 1, h & 1, len, false, (ofileFlags(f.kctx, id) & O_NONBLOCK) !== 0, f.waiter);
    if (typeof r === 'number') return r;
    putAll(f, r.fds);
    return copyToUser(f.kctx, f.as, va, r.bytes) < 0 ? -EFAULT : r.bytes.length;
  },
  write(f: FsEnv, id: number, va: number, len: number, resume: number): number {
    const h = ofileHostFd(f.kctx, id);
    return socketSend(f.kctx, h >> 1, h & 1, len, gather(f, [[va, len]]),
      { nonblock: (ofileFlags(f.kctx, id) & O_NONBLOCK) !== 0, nosignal: false, fds: [], resume }, f.waiter);
  },
};
