/**
 * Registers the waiting-on-many-fds and fd-passing syscalls (issue 14 item 4): ppoll, pselect6
 * (kernel/fs/sys-poll.ts), eventfd2 (kernel/fs/eventfd.ts), socketpair, sendto, recvfrom,
 * sendmsg, recvmsg, shutdown, getsockopt (kernel/fs/sys-socket.ts), epoll_create1, epoll_ctl,
 * epoll_pwait, epoll_pwait2 (kernel/fs/epoll.ts); installs the eventfd, socket and epoll kinds'
 * read/write, fstat, poll and release hooks. Imported once by kernel/fs/sys-fs-register.ts.
 */
import { EFAULT, EINVAL } from '../errno.ts';
import { O_LARGEFILE, O_NONBLOCK, O_RDWR } from '../linux-flags.ts';
import { argInt, argU, NO_RETURN, registerSyscall, type SyscallResult } from '../syscall.ts';
import { syscallNumber } from '../syscalls-table.ts';
import { copyFromUser, copyToUser } from '../mm/uaccess.ts';
import { fdInstall } from './fdtable.ts';
import { OK_EPOLL, OK_EVENTFD, OK_SOCKET } from './layout.ts';
import { socketPoll } from './socket.ts';
import {
  socketIo, socketRelease, sysGetsockopt, sysRecvfrom, sysRecvmsg, sysSendmsg, sysSendto, sysShutdown, sysSocketpair,
} from './sys-socket.ts';
import { sysEpollCreate1, sysEpollCtl, sysEpollPwait, sysEpollPwait2 } from './epoll.ts';
import { ofileCreate, ofileFlags, ofileHostFd, ofilePut, setOfileReleaseHook } from './ofile.ts';
import { fsEnvOf, type FsEnv } from './sys-fs-env.ts';
import { setKindIo } from './sys-fs.ts';
import { setKindStat } from './sys-fs-meta.ts';
import { setKindPoll } from './readiness.ts';
import { eventfdCreate, eventfdPoll, eventfdRead, eventfdRelease, eventfdWrite } from './eventfd.ts';
import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE } from './poll-abi.ts';
import { sysPpoll, sysPselect6 } from './sys-poll.ts';
import { PARKED } from './pipe.ts';
import { STAT_SIZE } from './hostfs.ts';

/** The riscv64 number of syscall `name` (throws for a name the table lacks: a typo). */
export function nr(name: string): number {
  const n = syscallNumber(name);
  if (n === undefined) throw new Error(`sys-pollio-register: no syscall ${name}`);
  return n;
}

/** Register `fn` for syscall `name` (registerSyscall throws if another module took it: a merge to look at). */
export function register(name: string, fn: Parameters<typeof registerSyscall>[2]): void {
  registerSyscall(nr(name), name, fn);
}

/** struct stat of an anonymous-inode object (eventfd, epoll: mode 0600, no type bits) or a socket. */
export function anonStat(ino: number, mode: number): Uint8Array {
  const out = new Uint8Array(STAT_SIZE);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, 0xdn, true); // anon_inodefs / sockfs device
  dv.setBigUint64(8, BigInt(ino), true);
  dv.setUint32(16, mode, true);
  dv.setUint32(20, 1, true);
  dv.setInt32(56, 4096, true);
  return out;
}

// ---- eventfd ----

/** eventfd2(initval, flags): a new fd, -EINVAL for unknown flags, -EMFILE, -ENFILE. */
function sysEventfd2(f: FsEnv, a: readonly bigint[]): number {
  const initval = argU(a[0]!) >>> 0, flags = argInt(a[1]!);
  if (flags & ~(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK)) return -EINVAL;
  const e = eventfdCreate(f.kctx, initval, (flags & EFD_SEMAPHORE) !== 0);
  if (e < 0) return e;
  const id = ofileCreate(f.kctx, {
    kind: OK_EVENTFD, hostFd: e,
    flags: O_RDWR | O_LARGEFILE | (flags & EFD_NONBLOCK ? O_NONBLOCK : 0),
  });
  if (id < 0) {
    eventfdRelease(f.kctx, e);
    return id;
  }
  const fd = fdInstall(f.kctx, f.fdt, id, (flags & EFD_CLOEXEC) !== 0);
  if (fd < 0) ofilePut(f.kctx, id, f.waiter);
  return fd;
}

setOfileReleaseHook(OK_EVENTFD, (ctx, e) => eventfdRelease(ctx, e));
setKindPoll(OK_EVENTFD, (ctx, e) => {
  const r = eventfdPoll(ctx, e);
  return { mask: r.mask, keys: [r.key] };
});
setKindStat(OK_EVENTFD, (e) => anonStat(e + 1, 0o600));
setKindIo(OK_EVENTFD, {
  read(f, id, va, len) {
    if (len < 8) return -EINVAL;
    const v = eventfdRead(f.kctx, ofileHostFd(f.kctx, id), (ofileFlags(f.kctx, id) & O_NONBLOCK) !== 0, f.waiter);
    if (typeof v === 'number') return v;
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, v, true);
    // Linux copies after taking the value: a bad buffer loses it (eventfd_read: EFAULT after the reset)
    return copyToUser(f.kctx, f.as, va, out) < 0 ? -EFAULT : 8;
  },
  write(f, id, va, len) {
    if (len < 8) return -EINVAL;
    const b = copyFromUser(f.kctx, f.as, va, 8);
    if (typeof b === 'number') return -EFAULT;
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    if (v === 0xffffffffffffffffn) return -EINVAL;
    const r = eventfdWrite(f.kctx, ofileHostFd(f.kctx, id), v, (ofileFlags(f.kctx, id) & O_NONBLOCK) !== 0, f.waiter);
    return r < 0 ? r : 8;
  },
});

/** The dispatcher handler running `fn` with the caller's FsEnv (PARKED → NO_RETURN). */
function fsCall(fn: (f: FsEnv, a: readonly bigint[]) => number): Parameters<typeof registerSyscall>[2] {
  return (env, a): SyscallResult => {
    const f = fsEnvOf(env);
    if (typeof f === 'number') return f;
    const r = fn(f, a);
    return r === PARKED ? NO_RETURN : r;
  };
}

// ---- socket pairs ----
setOfileReleaseHook(OK_SOCKET, (ctx, object, waiter) => socketRelease({ kctx: ctx }, object, waiter));
setKindPoll(OK_SOCKET, (ctx, h) => {
  const r = socketPoll(ctx, h >> 1, h & 1);
  return { mask: r.mask, keys: [r.key] };
});
setKindStat(OK_SOCKET, (h) => anonStat(h + 1, 0o140777)); // S_IFSOCK | 0777
setKindIo(OK_SOCKET, socketIo);
setKindStat(OK_EPOLL, (ep) => anonStat(ep + 1, 0o600));

register('ppoll', sysPpoll);
register('pselect6', sysPselect6);
register('eventfd2', fsCall(sysEventfd2));
register('socketpair', fsCall(sysSocketpair));
register('sendto', fsCall(sysSendto));
register('recvfrom', fsCall(sysRecvfrom));
register('sendmsg', fsCall(sysSendmsg));
register('recvmsg', fsCall(sysRecvmsg));
register('shutdown', fsCall(sysShutdown));
register('getsockopt', fsCall(sysGetsockopt));
register('epoll_create1', fsCall(sysEpollCreate1));
register('epoll_ctl', fsCall(sysEpollCtl));
register('epoll_pwait', sysEpollPwait);
register('epoll_pwait2', sysEpollPwait2);
