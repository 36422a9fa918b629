/**
 * Reading a host stream (the guest's fds 0-2 when they are the host's own stdio, OK_STDIO)
 * without blocking the hart: a hart is a worker thread, and a blocking read(2) there stalled
 * every thread queued on it, the shootdowns sent to it (so munmap on other harts), exit and
 * SIGKILL, until input came.
 *
 * The host fd's file may block (a pipe, a tty, a FIFO): reads go to a NON-BLOCKING twin of it,
 * a second open file description of the same object (/proc/self/fd/N opened O_NONBLOCK: Linux
 * hosts), so the host fd's own flags stay untouched. Nothing there (EAGAIN): a guest
 * description with O_NONBLOCK gets -EAGAIN; otherwise the thread is parked with the scheduler's
 * block (restartable, with a poll interval: BlockOptions.poll) and the read re-runs after
 * POLL_MS, or at once when a signal interrupts it (-EINTR, and the signal is handled), or the
 * process exits. Regular files are read directly: they never block.
 * Known gap: a SOCKET cannot be re-opened through /proc (Node's own child-process pipes are
 * socket pairs), so a socket as the host's stdin is still read blocking, on the hart.
 * The twins are worker-local, keyed by host fd, device and inode (a host fd number may be
 * closed and reused for another file between two machines in one host process).
 * poll/epoll on such a stream (hostStreamPoll) peek through the twin: bytes read are kept in the
 * description (its pushback, in ctl, so every hart sees them) and handed out by the next read.
 */
import * as fs from 'node:fs';
import type { FsEnv } from './sys-fs-env.ts';
import { NO_RETURN } from '../syscall.ts';
import { EAGAIN, EFAULT } from '../errno.ts';
import { errnoFromNode } from './hostfs.ts';
import { copyToUser } from '../mm/uaccess.ts';
import { ofileLock, ofileWord } from './ofile.ts';
import { OF_OFFSET, OF_PATH_BYTE, OF_PATH_MAX, OF_PUSHBACK } from './layout.ts';
import type { KernelContext } from '../context.ts';
import { PARKED } from './pipe.ts';

/** How often a parked reader of the host's stdin looks again (ms). */
export const POLL_MS = 5;

const twins = new Map<string, number>();

/** The fd to read host fd `hostFd` through without blocking: a twin, or `hostFd` itself (never blocks, or no twin possible). */
function readableTwin(hostFd: number): number {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(hostFd);
  } catch {
    return hostFd; // the read reports the error
  }
  if (st.isFile() || st.isDirectory()) return hostFd;
  const key = `${hostFd}:${st.dev}:${st.ino}`;
  let twin = twins.get(key);
  if (twin === undefined) {
    try {
      twin = fs.openSync(`/proc/self/fd/${hostFd}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch {
      twin = hostFd; // a socket, or no /proc: read it as it is
    }
    twins.set(key, twin);
  }
  return twin;
}

/**
 * read(2) of up to `len` bytes from host stream `hostFd` of description `id` into user `va`
 * (len > 0). `nonBlocking`: the description has O_NONBLOCK. A count, 0 at end of input,
 * -errno, or PARKED (the thread waits; the syscall re-runs).
 */
export function hostStreamRead(f: FsEnv, id: number, hostFd: number, va: number, len: number, nonBlocking: boolean): number {
  const peeked = takePushback(f.kctx, id, len);
  if (peeked !== null) return copyToUser(f.kctx, f.as, va, peeked) < 0 ? -EFAULT : peeked.length;
  const buf = Buffer.alloc(Math.min(len, 1 << 16));
  let got: number;
  try {
    got = fs.readSync(readableTwin(hostFd), buf, 0, buf.length, null);
  } catch (e) {
    const err = errnoFromNode(e);
    if (err !== EAGAIN) return -err;
    if (nonBlocking || f.sched === null) return -EAGAIN;
    // Park: the channel's word (the unused offset of a stream description) never changes, so
    // only the poll interval, a signal or the process's exit ends the wait.
    const index = ofileWord(f.kctx, id, OF_OFFSET);
    const r = f.sched.block({ key: -1 - index, i32: f.kctx.ctl.i32, index }, Atomics.load(f.kctx.ctl.i32, index),
      POLL_MS * 1e6, { restart: true, poll: true });
    return r === NO_RETURN ? PARKED : -EAGAIN;
  }
  if (got > 0 && copyToUser(f.kctx, f.as, va, buf.subarray(0, got)) < 0) return -EFAULT;
  return got;
}

/**
 * Pushback: bytes a poll read from the host stream to learn that it is readable (there is no
 * host poll here), kept in the stdio description's unused path area (OF_PUSHBACK bytes at
 * OF_PATH_BYTE, under OF_LOCK) and handed out by the next read before the host is asked again.
 */
function takePushback(ctx: KernelContext, id: number, len: number): Uint8Array | null {
  const w = ofileWord(ctx, id, 0);
  return ofileLock(ctx, id).with(() => {
    const have = ctx.ctl.i32[w + OF_PUSHBACK]!;
    if (have === 0 || len === 0) return null;
    const n = Math.min(have, len);
    const area = new Uint8Array(ctx.ctl.sab, w * 4 + OF_PATH_BYTE, have);
    const out = area.slice(0, n);
    area.copyWithin(0, n, have);
    ctx.ctl.i32[w + OF_PUSHBACK] = have - n;
    return out;
  });
}

/**
 * poll(2) readiness of host stream `hostFd` read through description `id`: POLLIN when bytes
 * wait (peeked into the pushback), POLLHUP at the end of input, 0 when nothing is there yet
 * (`polled`: the caller must look again later — no wake-up comes from the host). A regular file,
 * or a stream without a non-blocking twin (a socket), is reported readable without looking.
 */
export function hostStreamPoll(ctx: KernelContext, id: number, hostFd: number): { mask: number; polled: boolean } {
  const READY = { mask: 0x041, polled: false }; // POLLIN | POLLRDNORM
  const twin = readableTwin(hostFd);
  if (twin === hostFd) return READY;
  const w = ofileWord(ctx, id, 0);
  return ofileLock(ctx, id).with(() => {
    const have = ctx.ctl.i32[w + OF_PUSHBACK]!;
    if (have > 0) return READY;
    const buf = Buffer.alloc(OF_PATH_MAX);
    let got: number;
    try {
      got = fs.readSync(twin, buf, 0, buf.length, null);
    } catch (e) {
      return errnoFromNode(e) === EAGAIN ? { mask: 0, polled: true } : { mask: 0x008, polled: false }; // POLLERR
    }
    if (got === 0) return { mask: 0x010, polled: false }; // POLLHUP: end of input
    new Uint8Array(ctx.ctl.sab, w * 4 + OF_PATH_BYTE, got).set(buf.subarray(0, got));
    ctx.ctl.i32[w + OF_PUSHBACK] = got;
    return READY;
  });
}

/** True when host fd `hostFd` is a regular file or directory (epoll refuses those: EPERM). */
export function hostIsFile(hostFd: number): boolean {
  try {
    const st = fs.fstatSync(hostFd);
    return st.isFile() || st.isDirectory();
  } catch {
    return false;
  }
}
