/**
 * ppoll(2) and pselect6(2) — riscv64 has no poll/select/pause syscalls: glibc's poll() is ppoll
 * with a converted timeout, select() is pselect6, and pause() is ppoll(NULL, 0, NULL, NULL).
 * Both wait through kernel/fs/pollwait.ts (every fd's channel registered, then checked, then
 * parked on the thread's own wake-up word) with Linux's semantics:
 * - timeout NULL: forever; 0: check once; otherwise the remaining time is written back to the
 *   caller's timespec on return (poll_select_finish), as Linux does;
 * - the sigmask (ppoll, pselect6) is installed for the wait and the old one restored on return,
 *   or, when a signal interrupts the wait, after its handler (the frame holds the old mask);
 * - a signal always ends the wait with EINTR, SA_RESTART or not (signal(7));
 * - poll: a negative fd is skipped (revents 0), a closed one gives POLLNVAL; nfds above
 *   RLIMIT_NOFILE is EINVAL; select: nfds is capped at the table size, a set bit naming a closed
 *   fd is EBADF, and the result sets replace the caller's.
 */
import { EBADF, EFAULT, EINTR, EINVAL } from '../errno.ts';
import { argInt, argU, NO_RETURN, type SyscallEnv, type SyscallResult } from '../syscall.ts';
import { copyFromUser, copyToUser } from '../mm/uaccess.ts';
import { fdGet, fdTableRlimit } from './fdtable.ts';
import { RLIMIT_NOFILE } from '../linux-flags.ts';
import { FDT_FDS } from './layout.ts';
import { ofilePut } from './ofile.ts';
import { fsEnvOf, type FsEnv } from './sys-fs-env.ts';
import { PARKED } from './pipe.ts';
import { nowMs, pollDeadlineOf, pollWait, type PollSpec } from './pollwait.ts';
import { readinessOf, type Readiness } from './readiness.ts';
import { POLLERR, POLLEX_SET, POLLHUP, POLLIN_SET, POLLNVAL, POLLOUT_SET } from './poll-abi.ts';
import { procOps } from '../proc/sys-proc.ts';

/** The sigset_t size riscv64 Linux accepts. */
const SIGSET_BYTES = 8;

/** A user timespec in ms (null = NULL pointer), or -EFAULT / -EINVAL. */
export function readTimeoutMs(f: FsEnv, va: number): number | null | { err: number } {
  if (va === 0) return null;
  const b = copyFromUser(f.kctx, f.as, va, 16);
  if (typeof b === 'number') return { err: -EFAULT };
  const dv = new DataView(b.buffer, b.byteOffset, 16);
  const sec = dv.getBigInt64(0, true), nsec = dv.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) return { err: -EINVAL };
  return Number(sec) * 1000 + Number(nsec) / 1e6;
}

/** Write the time left (ms) to the user timespec at `va` (Linux poll_select_finish); errors are ignored. */
function writeRemaining(f: FsEnv, va: number, leftMs: number): void {
  const left = Math.max(0, leftMs);
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  const ns = BigInt(Math.round(left * 1e6));
  dv.setBigInt64(0, ns / 1_000_000_000n, true);
  dv.setBigInt64(8, ns % 1_000_000_000n, true);
  copyToUser(f.kctx, f.as, va, out);
}

/** A user sigset (ppoll/pselect6/epoll_pwait): null for a NULL pointer, or -errno. */
export function readSigmask(f: FsEnv, va: number, size: number): bigint | null | { err: number } {
  if (va === 0) return null;
  if (size !== SIGSET_BYTES) return { err: -EINVAL };
  const b = copyFromUser(f.kctx, f.as, va, 8);
  if (typeof b === 'number') return { err: -EFAULT };
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

/** Readiness of `fd` of the caller's table: its mask and keys, or null when the fd is not open. */
function fdReadiness(f: FsEnv, fd: number): Readiness | null {
  const id = fdGet(f.kctx, f.fdt, fd);
  if (id < 0) return null;
  try {
    return readinessOf(f.kctx, id);
  } finally {
    ofilePut(f.kctx, id, f.waiter);
  }
}

/** The keys of every open fd in `fds` (what a poller registers on); `host.polled` set when one has no channel. */
function keysOf(f: FsEnv, fds: Iterable<number>, host: { polled: boolean }): number[] {
  const keys: number[] = [];
  host.polled = false;
  for (const fd of fds) {
    if (fd < 0) continue;
    const r = fdReadiness(f, fd);
    if (r === null) continue;
    keys.push(...r.keys);
    if (r.hostPoll) host.polled = true;
  }
  return keys;
}

/** The result of a wait for the dispatcher (PARKED → NO_RETURN). */
const result = (r: number): SyscallResult => (r === PARKED ? NO_RETURN : r);

/** ppoll(fds, nfds, tmo_p, sigmask, sigsetsize). */
export function sysPpoll(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const f = fsEnvOf(env);
  if (typeof f === 'number') return f;
  const va = argU(a[0]!), nfds = argU(a[1]!), tva = argU(a[2]!);
  if (nfds > fdTableRlimit(f.kctx, f.fdt, RLIMIT_NOFILE)[0]) return -EINVAL;
  const timeout = readTimeoutMs(f, tva);
  if (timeout !== null && typeof timeout === 'object') return timeout.err;
  const mask = readSigmask(f, argU(a[3]!), argU(a[4]!));
  if (mask !== null && typeof mask === 'object') return mask.err;
  const raw = nfds === 0 ? new Uint8Array(0) : copyFromUser(f.kctx, f.as, va, nfds * 8);
  if (typeof raw === 'number') return -EFAULT;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const fds: number[] = [];
  for (let i = 0; i < nfds; i++) fds.push(dv.getInt32(i * 8, true));
  const host = { polled: false };
  const spec: PollSpec = {
    get hostPoll() { return host.polled; },
    keys: () => keysOf(f, fds, host),
    check: () => {
      let n = 0;
      for (let i = 0; i < nfds; i++) {
        const fd = fds[i]!;
        let rev = 0;
        if (fd >= 0) {
          const r = fdReadiness(f, fd);
          rev = r === null ? POLLNVAL : r.mask & ((dv.getUint16(i * 8 + 4, true)) | POLLERR | POLLHUP);
        }
        dv.setUint16(i * 8 + 6, rev, true);
        if (rev !== 0) n++;
      }
      return n;
    },
  };
  const tix = procOps().currentThread();
  const r = pollWait(env, tix, timeout, spec, mask);
  if (r === PARKED) return NO_RETURN;
  if (r >= 0 || r === -EINTR) {
    if (r <= 0) for (let i = 0; i < nfds; i++) dv.setUint16(i * 8 + 6, 0, true); // nothing ready
    if (nfds > 0 && copyToUser(f.kctx, f.as, va, raw) < 0) return -EFAULT;
  }
  if (timeout !== null) writeRemaining(f, tva, pollDeadlineOf(f.kctx, tix) - nowMs());
  return result(r);
}

/** pselect6(nfds, readfds, writefds, exceptfds, timeout, sig): sig → { const sigset_t *ss; size_t ss_len }. */
export function sysPselect6(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const f = fsEnvOf(env);
  if (typeof f === 'number') return f;
  let nfds = argInt(a[0]!);
  if (nfds < 0) return -EINVAL;
  nfds = Math.min(nfds, FDT_FDS);
  const setBytes = Math.ceil(nfds / 64) * 8;
  const sets: (Uint8Array | null)[] = [];
  for (const i of [1, 2, 3]) {
    const va = argU(a[i]!);
    if (va === 0 || setBytes === 0) { sets.push(null); continue; }
    const b = copyFromUser(f.kctx, f.as, va, setBytes);
    if (typeof b === 'number') return -EFAULT;
    sets.push(new Uint8Array(b));
  }
  const tva = argU(a[4]!);
  const timeout = readTimeoutMs(f, tva);
  if (timeout !== null && typeof timeout === 'object') return timeout.err;
  let mask: bigint | null = null;
  const sva = argU(a[5]!);
  if (sva !== 0) {
    const sb = copyFromUser(f.kctx, f.as, sva, 16);
    if (typeof sb === 'number') return -EFAULT;
    const sdv = new DataView(sb.buffer, sb.byteOffset, 16);
    const m = readSigmask(f, Number(sdv.getBigUint64(0, true)), Number(sdv.getBigUint64(8, true)));
    if (m !== null && typeof m === 'object') return m.err;
    mask = m;
  }
  const isSet = (s: Uint8Array | null, fd: number): boolean => s !== null && (s[fd >> 3]! & (1 << (fd & 7))) !== 0;
  const wanted: number[] = [];
  for (let fd = 0; fd < nfds; fd++) if (isSet(sets[0]!, fd) || isSet(sets[1]!, fd) || isSet(sets[2]!, fd)) wanted.push(fd);
  for (const fd of wanted) if (fdReadiness(f, fd) === null) return -EBADF;
  const out = sets.map((s) => (s === null ? null : new Uint8Array(s.length)));
  const host = { polled: false };
  const spec: PollSpec = {
    get hostPoll() { return host.polled; },
    keys: () => keysOf(f, wanted, host),
    check: () => {
      let n = 0;
      for (const o of out) o?.fill(0);
      for (const fd of wanted) {
        const r = fdReadiness(f, fd);
        if (r === null) return -EBADF;
        const bits = [POLLIN_SET, POLLOUT_SET, POLLEX_SET];
        for (let k = 0; k < 3; k++) {
          if (isSet(sets[k]!, fd) && (r.mask & bits[k]!) !== 0) {
            out[k]![fd >> 3]! |= 1 << (fd & 7);
            n++;
          }
        }
      }
      return n;
    },
  };
  const tix = procOps().currentThread();
  const r = pollWait(env, tix, timeout, spec, mask);
  if (r === PARKED) return NO_RETURN;
  if (r >= 0) {
    for (let k = 0; k < 3; k++) {
      if (out[k] && copyToUser(f.kctx, f.as, argU(a[k + 1]!), out[k]!) < 0) return -EFAULT;
    }
  }
  if (timeout !== null) writeRemaining(f, tva, pollDeadlineOf(f.kctx, tix) - nowMs());
  return result(r);
}
