/**
 * timerfd_create, timerfd_settime, timerfd_gettime, and read(2) of a timerfd (Linux
 * fs/timerfd.c). A timerfd is a timer-table record of kind TK_TIMERFD (kernel/signal/timers.ts)
 * behind a special open file description (kernel/fs/special.ts, kind OK_TIMERFD): dup, fork,
 * F_SETFL and close-on-exec work as for any file, and the record is freed with the last
 * reference to the description (not with the process that made it).
 *
 * read: at least 8 bytes (else EINVAL); returns the expiries since the last read or settime
 * as a u64 and resets the count; with none, EAGAIN when non-blocking, else it blocks on the
 * record's TM_SEQ word until an expiry (the expiring hart bumps TM_SEQ and wakes it) — a
 * restartable wait: a signal interrupts it with EINTR, or under SA_RESTART it reads again.
 * settime resets the count (Linux: a re-armed timerfd forgets its old expiries) and wakes
 * nothing. Flags: TFD_TIMER_ABSTIME; TFD_TIMER_CANCEL_ON_SET is accepted and never fires
 * (there is no clock_settime here). Clocks as timer_create's. poll/select/epoll: readable
 * (POLLIN) while expiries are counted; an expiry wakes the pollers (kernel/fs/special.ts).
 */
import type { KernelContext } from '../context.ts';
import { EAGAIN, EFAULT, EINVAL, ENOMEM } from '../errno.ts';
import { OK_TIMERFD } from '../fs/layout.ts';
import { openSpecial, registerSpecialKind, specialHandle } from '../fs/special.ts';
import { fsHandler } from '../fs/sys-fs-register.ts';
import { withFd } from '../fs/sys-fs.ts';
import type { FsEnv } from '../fs/sys-fs-env.ts';
import { O_CLOEXEC, O_NONBLOCK } from '../linux-flags.ts';
import { POLLIN, POLLRDNORM } from '../fs/poll-abi.ts';
import { copyFromUser, copyToUser } from '../mm/uaccess.ts';
import { argInt, argU, registerSyscall } from '../syscall.ts';
import { TM_CLOCK, TM_SEQ, TM_TICKS } from './layout.ts';
import { procOfThread, threadOfTid } from './state.ts';
import { signalHost } from './send.ts';
import { absToMono, monoNs, SIGEV_NONE, TK_TIMERFD, timerClockOk, timerTable } from './timers.ts';

export const SYS_timerfd_create = 85;
export const SYS_timerfd_settime = 86;
export const SYS_timerfd_gettime = 87;
export const TFD_TIMER_ABSTIME = 1;
export const TFD_TIMER_CANCEL_ON_SET = 2;
const NS = 1_000_000_000;

/** Process slot of the calling thread of `f`. */
function callerProc(f: FsEnv): number {
  const host = signalHost();
  const tix = host && host.current >= 0 ? host.current : threadOfTid(f.kctx.ctl, f.pid);
  return procOfThread(f.kctx.ctl, tix);
}

/** timerfd_create(clockid, flags) */
function timerfdCreate(f: FsEnv, a: readonly bigint[]): number {
  const clock = argInt(a[0]!), flags = argInt(a[1]!);
  if (!timerClockOk(clock) || flags & ~(O_NONBLOCK | O_CLOEXEC)) return -EINVAL;
  const t = timerTable(f.kctx);
  const slot = t.lock.with(() => t.alloc(callerProc(f), f.pid, { kind: TK_TIMERFD, id: -1, clock, notify: SIGEV_NONE, signo: 0, tid: -1, value: 0n }));
  if (slot < 0) return -ENOMEM;
  return openSpecial(f, OK_TIMERFD, slot, flags); // releases the slot when it fails
}

/** Read an itimerspec: [interval ns, value ns], or -errno. */
function readSpec(f: FsEnv, va: number): [number, number] | number {
  const b = copyFromUser(f.kctx, f.as, va, 32);
  if (typeof b === 'number') return -EFAULT;
  const dv = new DataView(b.buffer, b.byteOffset, 32);
  const out: number[] = [];
  for (const off of [0, 16]) {
    const sec = dv.getBigInt64(off, true), nsec = dv.getBigInt64(off + 8, true);
    if (sec < 0n || nsec < 0n || nsec >= BigInt(NS)) return -EINVAL;
    out.push(Number(sec) * NS + Number(nsec));
  }
  return [out[0]!, out[1]!];
}

function writeSpec(f: FsEnv, va: number, interval: number, value: number): number {
  const out = new Uint8Array(32);
  const dv = new DataView(out.buffer);
  [interval, value].forEach((ns, i) => {
    const n = Math.ceil(ns);
    dv.setBigInt64(i * 16, BigInt(Math.floor(n / NS)), true);
    dv.setBigInt64(i * 16 + 8, BigInt(n % NS), true);
  });
  return copyToUser(f.kctx, f.as, va, out) < 0 ? -EFAULT : 0;
}

/** Run `fn` on the timer slot behind timerfd `fd` (EBADF: no fd; EINVAL: not a timerfd). */
function withTimerfd(f: FsEnv, fd: number, fn: (slot: number) => number): number {
  return withFd(f, fd, (id) => {
    const slot = specialHandle(f.kctx, id, OK_TIMERFD);
    return slot < 0 ? -EINVAL : fn(slot);
  });
}

/** timerfd_settime(fd, flags, new_value, old_value) */
function timerfdSettime(f: FsEnv, a: readonly bigint[]): number {
  const flags = argInt(a[1]!), oldVa = argU(a[3]!);
  if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) return -EINVAL;
  const next = readSpec(f, argU(a[2]!));
  if (typeof next === 'number') return next;
  let old: [number, number] = [0, 0];
  const r = withTimerfd(f, argInt(a[0]!), (slot) => {
    const t = timerTable(f.kctx);
    t.lock.with(() => {
      old = t.remaining(slot);
      t.set(slot, TM_TICKS, 0);
      Atomics.add(t.i32, t.w(slot, TM_SEQ), 1);
      if (next[1] > 0) {
        const deadline = flags & TFD_TIMER_ABSTIME ? absToMono(t.field(slot, TM_CLOCK), next[1]) : monoNs() + next[1];
        t.arm(slot, deadline, next[0]);
      } else {
        t.disarm(slot);
      }
    });
    return 0;
  });
  if (r < 0) return r;
  return oldVa !== 0 ? writeSpec(f, oldVa, old[1], old[0]) : 0;
}

/** timerfd_gettime(fd, curr_value) */
function timerfdGettime(f: FsEnv, a: readonly bigint[]): number {
  let cur: [number, number] = [0, 0];
  const r = withTimerfd(f, argInt(a[0]!), (slot) => {
    const t = timerTable(f.kctx);
    cur = t.lock.with(() => t.remaining(slot));
    return 0;
  });
  return r < 0 ? r : writeSpec(f, argU(a[1]!), cur[1], cur[0]);
}

/** read(2) of a timerfd (see the file comment). */
function timerfdRead(f: FsEnv, _id: number, slot: number, va: number, len: number, nonblock: boolean): number {
  if (len < 8) return -EINVAL;
  const t = timerTable(f.kctx);
  const seqIndex = t.w(slot, TM_SEQ);
  for (;;) {
    const seen = Atomics.load(t.i32, seqIndex);
    const ticks = t.lock.with(() => {
      const n = t.get(slot, TM_TICKS);
      if (n > 0) t.set(slot, TM_TICKS, 0);
      return n;
    });
    if (ticks > 0) {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigUint64(0, BigInt(ticks), true);
      if (copyToUser(f.kctx, f.as, va, out) < 0) {
        t.lock.with(() => t.set(slot, TM_TICKS, t.get(slot, TM_TICKS) + ticks)); // nothing was read
        return -EFAULT;
      }
      return 8;
    }
    if (nonblock) return -EAGAIN;
    const r = f.waiter.wait(t.i32, seqIndex, seen);
    if (r < 0) return r; // PARKED (the read re-runs when woken) or an errno
  }
}

registerSpecialKind(OK_TIMERFD, {
  read: timerfdRead,
  // Readable once an expiry is counted (Linux timerfd_poll: EPOLLIN while ticks > 0); the
  // expiring hart bumps TM_SEQ and announces it (kernel/signal/timers.ts fire).
  poll(kctx: KernelContext, slot: number) {
    const t = timerTable(kctx);
    return { mask: t.get(slot, TM_TICKS) > 0 ? POLLIN | POLLRDNORM : 0, keys: [-1 - t.w(slot, TM_SEQ)] };
  },
  release(kctx: KernelContext, slot: number) {
    const t = timerTable(kctx);
    t.lock.with(() => t.free(slot));
  },
});

registerSyscall(SYS_timerfd_create, 'timerfd_create', fsHandler(timerfdCreate));
registerSyscall(SYS_timerfd_settime, 'timerfd_settime', fsHandler(timerfdSettime));
registerSyscall(SYS_timerfd_gettime, 'timerfd_gettime', fsHandler(timerfdGettime));
