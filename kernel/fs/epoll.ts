/**
 * epoll(7): instances in ctl (kernel/fs/layout.ts EP_*, EI_*), an interest list of up to EP_ITEMS
 * (fd, open file description) items each, and the syscalls epoll_create1, epoll_ctl,
 * epoll_pwait, epoll_pwait2. Waiting is kernel/fs/pollwait.ts: the waiter registers on the
 * instance's own channel (EP_SEQ: bumped by every epoll_ctl) and on every item's source, checks,
 * and parks. Linux semantics:
 * - level-triggered items are reported while ready; EPOLLERR and EPOLLHUP always are;
 * - EPOLLET: an item is reported when it is ready and its source changed since the last report
 *   (its channel words moved): a new write, a close, ... — also, unlike Linux, after the consumer
 *   itself read part of the data (a change of the same source; an extra report, never a lost one);
 * - EPOLLONESHOT: after one report the item is disarmed until EPOLL_CTL_MOD re-arms it;
 * - an item goes away with its open file description (its last close), as in Linux; regular files
 *   and directories cannot be added (EPERM); an epoll instance can (it is readable when one of its
 *   items is ready), up to EP_MAX_NEST levels, never into itself or a cycle (ELOOP);
 * - a signal ends the wait with EINTR; the sigmask of epoll_pwait is installed for the wait.
 * - more ready items than maxevents: the next wait starts its scan after the last one reported
 *   (round robin, as Linux's ready list re-queues level-triggered items at its tail).
 * Known gap: EPOLLEXCLUSIVE is accepted and treated as a plain item (every waiter is woken).
 */
import type { KernelContext } from '../context.ts';
import { EBADF, EEXIST, EFAULT, EINVAL, ENFILE, ENOENT, EPERM } from '../errno.ts';
import { NO_RETURN, argInt, argU, type SyscallEnv, type SyscallResult } from '../syscall.ts';
import { accessOk, copyFromUser, copyToUser } from '../mm/uaccess.ts';
import { SpinLock } from '../sync/lock.ts';
import { fdGet, fdInstall } from './fdtable.ts';
import {
  EI_DATA_HI, EI_DATA_LO, EI_EDGE, EI_EVENTS, EI_FD, EI_LAST, EI_OFILE, EI_STATE, EI_WORDS, EP_BYTES, EP_COUNT, EP_ITEMS, EP_ITEMS_WORD,
  EP_LOCK, EP_NEXT, EP_SEQ, EP_STATE, OK_EPOLL, pollioLayout, SLOT_FREE, SLOT_LIVE,
} from './layout.ts';
import { addOfileGoneHook, ofileCreate, ofileHostFd, ofileKind, ofilePut, setOfileReleaseHook } from './ofile.ts';
import { fsEnvOf, type FsEnv } from './sys-fs-env.ts';
import { PARKED, type Waiter } from './pipe.ts';
import { pollNotify, pollWait, type PollSpec } from './pollwait.ts';
import { epollable, readinessOf, setKindPoll } from './readiness.ts';
import {
  EP_MAX_EVENTS, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLL_EVENT_BYTES, EPOLLERR, EPOLLET, EPOLLEXCLUSIVE,
  EPOLLHUP, EPOLLIN, EPOLLONESHOT, EPOLLRDNORM,
} from './poll-abi.ts';
import { readSigmask, readTimeoutMs } from './sys-poll.ts';
import { procOps } from '../proc/sys-proc.ts';
import { O_LARGEFILE, O_RDWR } from '../linux-flags.ts';

/** Linux EP_MAX_NESTS: epoll instances nest at most this deep. */
export const EP_MAX_NEST = 4;
const ELOOP = 40;
const ENOSPC = 28;
const ARMED = 1;
const DISARMED = 2;

const word = (ctx: KernelContext, ep: number, f: number): number =>
  (ctx.ctl.layout.pollio + pollioLayout(ctx.ctl.layout.fs, ctx.ctl.layout.sched.maxThreads).epolls + ep * EP_BYTES) / 4 + f;
const item = (ctx: KernelContext, ep: number, i: number, f: number): number => word(ctx, ep, EP_ITEMS_WORD + i * EI_WORDS + f);
const lockOf = (ctx: KernelContext, ep: number): SpinLock => new SpinLock(ctx.ctl.i32, word(ctx, ep, EP_LOCK), ctx.whileWaiting);
const count = (ctx: KernelContext): number => pollioLayout(ctx.ctl.layout.fs, ctx.ctl.layout.sched.maxThreads).epollCount;
/** The channel key of instance `ep` (bumped by epoll_ctl). */
export const epollKey = (ctx: KernelContext, ep: number): number => -1 - word(ctx, ep, EP_SEQ);

function bump(ctx: KernelContext, ep: number, waiter: Waiter | null): void {
  const i = word(ctx, ep, EP_SEQ);
  Atomics.add(ctx.ctl.i32, i, 1);
  waiter?.wake(ctx.ctl.i32, i);
  pollNotify(ctx, -1 - i, waiter);
}

/** Create an instance; its index or -ENFILE. */
export function epollCreate(ctx: KernelContext): number {
  const i32 = ctx.ctl.i32;
  for (let ep = 0, n = count(ctx); ep < n; ep++) {
    if (Atomics.compareExchange(i32, word(ctx, ep, EP_STATE), SLOT_FREE, SLOT_LIVE) !== SLOT_FREE) continue;
    lockOf(ctx, ep).with(() => {
      i32[word(ctx, ep, EP_COUNT)] = 0;
      i32[word(ctx, ep, EP_NEXT)] = 0;
      for (let i = 0; i < EP_ITEMS; i++) i32[item(ctx, ep, i, EI_OFILE)] = 0;
    });
    return ep;
  }
  return -ENFILE;
}

/** A description went away: drop every item naming it (any instance). */
function forgetOfile(ctx: KernelContext, id: number, waiter: Waiter | null): void {
  const i32 = ctx.ctl.i32;
  for (let ep = 0, n = count(ctx); ep < n; ep++) {
    if (Atomics.load(i32, word(ctx, ep, EP_STATE)) !== SLOT_LIVE) continue;
    let hit = false;
    lockOf(ctx, ep).with(() => {
      if (i32[word(ctx, ep, EP_COUNT)] === 0) return;
      for (let i = 0; i < EP_ITEMS; i++) {
        if (i32[item(ctx, ep, i, EI_OFILE)] !== id) continue;
        i32[item(ctx, ep, i, EI_OFILE)] = 0;
        i32[word(ctx, ep, EP_COUNT)]!--;
        hit = true;
      }
    });
    if (hit) bump(ctx, ep, waiter);
  }
}

/** The instances an instance's items name (nesting checks). */
function nested(ctx: KernelContext, ep: number): number[] {
  const i32 = ctx.ctl.i32;
  return lockOf(ctx, ep).with(() => {
    const out: number[] = [];
    for (let i = 0; i < EP_ITEMS; i++) {
      const id = i32[item(ctx, ep, i, EI_OFILE)]!;
      if (id !== 0 && ofileKind(ctx, id) === OK_EPOLL) out.push(ofileHostFd(ctx, id));
    }
    return out;
  });
}

/** True when `target` reaches `ep` through nested instances, or nests deeper than EP_MAX_NEST. */
function loops(ctx: KernelContext, ep: number, target: number, depth = 1): boolean {
  if (target === ep || depth > EP_MAX_NEST) return true;
  return nested(ctx, target).some((t) => loops(ctx, ep, t, depth + 1));
}

/** Sum of the words behind channel keys (how "the source changed" is seen for EPOLLET). */
function seqOf(ctx: KernelContext, keys: number[]): number {
  let s = 0;
  for (const k of keys) if (k < 0) s = (s + Atomics.load(ctx.ctl.i32, -1 - k)) | 0;
  return s;
}

/** One reported event. */
interface EpollEvent { events: number; lo: number; hi: number }

/**
 * Ready items of `ep` (at most `max`), applying EPOLLET / EPOLLONESHOT when `consume` (a wait),
 * or only looking (`consume` false: the instance polled as a file). `depth`: nesting level.
 */
function collect(ctx: KernelContext, ep: number, max: number, consume: boolean, depth: number): EpollEvent[] {
  const i32 = ctx.ctl.i32;
  const out: EpollEvent[] = [];
  lockOf(ctx, ep).with(() => {
    const start = i32[word(ctx, ep, EP_NEXT)]! % EP_ITEMS;
    for (let k = 0; k < EP_ITEMS && out.length < max; k++) {
      const i = (start + k) % EP_ITEMS;
      const id = i32[item(ctx, ep, i, EI_OFILE)]!;
      if (id === 0 || i32[item(ctx, ep, i, EI_STATE)] !== ARMED) continue;
      const want = i32[item(ctx, ep, i, EI_EVENTS)]!;
      const r = depth >= EP_MAX_NEST ? { mask: 0, keys: [] } : readinessOf(ctx, id, depth + 1);
      const mask = r.mask & (want | EPOLLERR | EPOLLHUP);
      if (mask === 0) continue;
      if (want & EPOLLET) {
        const seq = seqOf(ctx, r.keys);
        if (i32[item(ctx, ep, i, EI_LAST)] === seq && i32[item(ctx, ep, i, EI_EDGE)] === 1) continue;
        if (consume) { i32[item(ctx, ep, i, EI_LAST)] = seq; i32[item(ctx, ep, i, EI_EDGE)] = 1; }
      }
      if (consume && want & EPOLLONESHOT) i32[item(ctx, ep, i, EI_STATE)] = DISARMED;
      out.push({ events: mask, lo: i32[item(ctx, ep, i, EI_DATA_LO)]!, hi: i32[item(ctx, ep, i, EI_DATA_HI)]! });
      if (consume && out.length === max) i32[word(ctx, ep, EP_NEXT)] = (i + 1) % EP_ITEMS; // the next wait starts after it
    }
  });
  return out;
}

/** The keys a waiter on `ep` registers on: its own and every item's (`host.polled`: an item has no channel). */
function keysOf(ctx: KernelContext, ep: number, depth: number, host: { polled: boolean } = { polled: false }): number[] {
  const i32 = ctx.ctl.i32;
  const keys = [epollKey(ctx, ep)];
  const ids = lockOf(ctx, ep).with(() => {
    const out: number[] = [];
    for (let i = 0; i < EP_ITEMS; i++) if (i32[item(ctx, ep, i, EI_OFILE)]! !== 0) out.push(i32[item(ctx, ep, i, EI_OFILE)]!);
    return out;
  });
  host.polled = false;
  if (depth < EP_MAX_NEST) {
    for (const id of ids) {
      const r = readinessOf(ctx, id, depth + 1);
      keys.push(...r.keys);
      if (r.hostPoll) host.polled = true;
    }
  }
  return keys;
}

setOfileReleaseHook(OK_EPOLL, (ctx, ep) => {
  lockOf(ctx, ep).with(() => { ctx.ctl.i32[word(ctx, ep, EP_COUNT)] = 0; });
  Atomics.store(ctx.ctl.i32, word(ctx, ep, EP_STATE), SLOT_FREE);
});
addOfileGoneHook(forgetOfile);
setKindPoll(OK_EPOLL, (ctx, ep, depth) => ({
  mask: collect(ctx, ep, 1, false, depth).length > 0 ? EPOLLIN | EPOLLRDNORM : 0,
  keys: keysOf(ctx, ep, depth),
}));

/** epoll_create1(flags): a new fd; EINVAL for flags other than EPOLL_CLOEXEC. */
export function sysEpollCreate1(f: FsEnv, a: readonly bigint[]): number {
  const flags = argInt(a[0]!);
  if (flags & ~EPOLL_CLOEXEC) return -EINVAL;
  const ep = epollCreate(f.kctx);
  if (ep < 0) return ep;
  const id = ofileCreate(f.kctx, { kind: OK_EPOLL, flags: O_RDWR | O_LARGEFILE, hostFd: ep });
  if (id < 0) {
    Atomics.store(f.kctx.ctl.i32, word(f.kctx, ep, EP_STATE), SLOT_FREE);
    return id;
  }
  const fd = fdInstall(f.kctx, f.fdt, id, (flags & EPOLL_CLOEXEC) !== 0);
  if (fd < 0) ofilePut(f.kctx, id, f.waiter);
  return fd;
}

/** epoll_ctl(epfd, op, fd, event). */
export function sysEpollCtl(f: FsEnv, a: readonly bigint[]): number {
  const { kctx } = f;
  const epfd = argInt(a[0]!), op = argInt(a[1]!), fd = argInt(a[2]!), eva = argU(a[3]!);
  let events = 0, lo = 0, hi = 0;
  if (op !== EPOLL_CTL_DEL) {
    const b = copyFromUser(kctx, f.as, eva, EPOLL_EVENT_BYTES);
    if (typeof b === 'number') return -EFAULT;
    const dv = new DataView(b.buffer, b.byteOffset, EPOLL_EVENT_BYTES);
    events = dv.getInt32(0, true);
    lo = dv.getInt32(8, true);
    hi = dv.getInt32(12, true);
  }
  const epId = fdGet(kctx, f.fdt, epfd);
  if (epId < 0) return -EBADF;
  const id = fdGet(kctx, f.fdt, fd);
  try {
    if (id < 0) return -EBADF;
    if (!epollable(kctx, id)) return -EPERM;
    if (ofileKind(kctx, epId) !== OK_EPOLL || epId === id) return -EINVAL;
    if (op !== EPOLL_CTL_ADD && op !== EPOLL_CTL_MOD && op !== EPOLL_CTL_DEL) return -EINVAL;
    if (events & EPOLLEXCLUSIVE && (op === EPOLL_CTL_MOD || events & EPOLLONESHOT)) return -EINVAL;
    const ep = ofileHostFd(kctx, epId);
    if (op === EPOLL_CTL_ADD && ofileKind(kctx, id) === OK_EPOLL && loops(kctx, ep, ofileHostFd(kctx, id))) return -ELOOP;
    const i32 = kctx.ctl.i32;
    const r = lockOf(kctx, ep).with(() => {
      let at = -1, free = -1;
      for (let i = 0; i < EP_ITEMS; i++) {
        const o = i32[item(kctx, ep, i, EI_OFILE)]!;
        if (o === id && i32[item(kctx, ep, i, EI_FD)] === fd) at = i;
        else if (o === 0 && free < 0) free = i;
      }
      if (op === EPOLL_CTL_ADD) {
        if (at >= 0) return -EEXIST;
        if (free < 0) return -ENOSPC;
        at = free;
        i32[item(kctx, ep, at, EI_FD)] = fd;
        i32[item(kctx, ep, at, EI_OFILE)] = id;
        i32[word(kctx, ep, EP_COUNT)]!++;
      } else if (at < 0) {
        return -ENOENT;
      } else if (op === EPOLL_CTL_DEL) {
        i32[item(kctx, ep, at, EI_OFILE)] = 0;
        i32[word(kctx, ep, EP_COUNT)]!--;
        return 0;
      }
      i32[item(kctx, ep, at, EI_EVENTS)] = events;
      i32[item(kctx, ep, at, EI_DATA_LO)] = lo;
      i32[item(kctx, ep, at, EI_DATA_HI)] = hi;
      i32[item(kctx, ep, at, EI_STATE)] = ARMED;
      i32[item(kctx, ep, at, EI_EDGE)] = 0; // no edge reported yet: a ready item is reported once
      return 0;
    });
    if (r === 0) bump(kctx, ep, f.waiter); // waiters look at the new list
    return r;
  } finally {
    if (id > 0) ofilePut(kctx, id, f.waiter);
    ofilePut(kctx, epId, f.waiter);
  }
}

/** epoll_pwait / epoll_pwait2 core: `timeoutMs` null = forever. */
function epollWait(env: SyscallEnv, f: FsEnv, a: readonly bigint[], timeoutMs: number | null): SyscallResult {
  const { kctx } = f;
  const evva = argU(a[1]!), max = argInt(a[2]!);
  if (max <= 0 || max > EP_MAX_EVENTS) return -EINVAL;
  if (!accessOk(f.as, evva, max * EPOLL_EVENT_BYTES, true)) return -EFAULT;
  const mask = readSigmask(f, argU(a[4]!), argU(a[5]!));
  if (mask !== null && typeof mask === 'object') return mask.err;
  const epId = fdGet(kctx, f.fdt, argInt(a[0]!));
  if (epId < 0) return -EBADF;
  try {
    if (ofileKind(kctx, epId) !== OK_EPOLL) return -EINVAL;
    const ep = ofileHostFd(kctx, epId);
    let got: EpollEvent[] = [];
    const host = { polled: false };
    const spec: PollSpec = {
      get hostPoll() { return host.polled; },
      keys: () => keysOf(kctx, ep, 0, host),
      check: () => {
        got = collect(kctx, ep, max, true, 0);
        return got.length;
      },
    };
    const r = pollWait(env, procOps().currentThread(), timeoutMs, spec, mask);
    if (r === PARKED) return NO_RETURN;
    if (r > 0) {
      const out = new Uint8Array(got.length * EPOLL_EVENT_BYTES);
      const dv = new DataView(out.buffer);
      got.forEach((e, i) => {
        dv.setInt32(i * 16, e.events, true);
        dv.setInt32(i * 16 + 8, e.lo, true);
        dv.setInt32(i * 16 + 12, e.hi, true);
      });
      if (copyToUser(kctx, f.as, evva, out) < 0) return -EFAULT;
    }
    return r;
  } finally {
    ofilePut(kctx, epId, f.waiter);
  }
}

/** epoll_pwait(epfd, events, maxevents, timeout_ms, sigmask, sigsetsize): a negative timeout waits forever. */
export function sysEpollPwait(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const f = fsEnvOf(env);
  if (typeof f === 'number') return f;
  const t = argInt(a[3]!);
  return epollWait(env, f, a, t < 0 ? null : t);
}

/** epoll_pwait2(epfd, events, maxevents, timeout timespec, sigmask, sigsetsize): NULL waits forever. */
export function sysEpollPwait2(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const f = fsEnvOf(env);
  if (typeof f === 'number') return f;
  const t = readTimeoutMs(f, argU(a[3]!));
  if (t !== null && typeof t === 'object') return t.err;
  return epollWait(env, f, a, t);
}
