/**
 * The timer syscalls (Linux riscv64 numbers): getitimer, setitimer (glibc's alarm is
 * setitimer(ITIMER_REAL)), timer_create, timer_settime, timer_gettime, timer_getoverrun,
 * timer_delete. The table and how timers fire: kernel/signal/timers.ts.
 *
 * ABI (riscv64, checked against the toolchain's headers):
 *   struct itimerval  { timeval it_interval @0; timeval it_value @16 }   timeval {tv_sec, tv_usec} 16 bytes
 *   struct itimerspec { timespec it_interval @0; timespec it_value @16 } timespec {tv_sec, tv_nsec} 16 bytes
 *   struct sigevent   { sigval sigev_value @0; int sigev_signo @8; int sigev_notify @12; int _tid @16 } 64 bytes
 *
 * Choices, as Linux where it matters:
 * - ITIMER_REAL counts the clock (SIGALRM); ITIMER_VIRTUAL the process's user time (SIGVTALRM)
 *   and ITIMER_PROF its user + system time (SIGPROF), as the harts charge it
 *   (kernel/proc/cputime.ts; checked at every run slice of a thread of the process).
 * - setitimer with a NULL new value disarms (Linux's compatibility behaviour); tv_usec outside
 *   0..999,999 is EINVAL. An armed value rounds up to whole microseconds as Linux reports it.
 * - timer_create: clocks REALTIME, MONOTONIC, BOOTTIME and their _ALARM twins; the CPU-time
 *   clocks are EINVAL (a deviation: use ITIMER_VIRTUAL / ITIMER_PROF). sevp NULL = SIGEV_SIGNAL, SIGALRM, si_value = the timer id.
 *   SIGEV_THREAD_ID needs a thread of the caller's process (EINVAL otherwise); SIGEV_THREAD is
 *   a signal to the process for the kernel, as Linux's good_sigevent has it (glibc builds its
 *   SIGEV_THREAD on SIGEV_THREAD_ID and never passes it down). Ids are per process, the smallest unused from 0.
 *   A full table is EAGAIN.
 * - timer_settime with TIMER_ABSTIME: a REALTIME deadline is converted to the monotonic clock
 *   when armed (clock_settime does not exist here, so the two never drift apart).
 */
import { EAGAIN, EFAULT, EINVAL } from '../errno.ts';
import { copyFromUser, copyToUser } from '../mm/uaccess.ts';
import { argInt, argU, registerSyscall, type SyscallEnv } from '../syscall.ts';
import {
  SYS_getitimer, SYS_setitimer,
} from '../syscalls-table.ts';
import { signalHost } from './send.ts';
import { procOfThread, threadOfTid, tidOf } from './state.ts';
import { NSIG, SIGALRM } from './signals.ts';
import {
  absToMono, DELAYTIMER_MAX, monoNs, SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID, SIGPROF, SIGVTALRM, TK_ITIMER_PROF,
  TK_ITIMER_REAL, TK_ITIMER_VIRTUAL, TK_POSIX, timerClockOk,
  timerTable, type TimerTable,
} from './timers.ts';
import { TM_CLOCK, TM_OVERRUN_LAST, TM_OVERRUN, TM_QUEUED } from './layout.ts';

export const SYS_timer_create = 107;
export const SYS_timer_gettime = 108;
export const SYS_timer_getoverrun = 109;
export const SYS_timer_settime = 110;
export const SYS_timer_delete = 111;
export const ITIMER_REAL = 0;
export const ITIMER_VIRTUAL = 1;
export const ITIMER_PROF = 2;
export const TIMER_ABSTIME = 1;
const NS = 1_000_000_000;

/** The calling thread's slot and its process slot. */
function caller(env: SyscallEnv): { tix: number; p: number } {
  const host = signalHost();
  const ctl = env.kctx.ctl;
  let tix = host && host.current >= 0 && tidOf(ctl, host.current) === env.tid ? host.current : threadOfTid(ctl, env.tid);
  if (tix < 0) throw new Error(`sys-timer: calling thread ${env.tid} not found`);
  return { tix, p: procOfThread(ctl, tix) };
}

/** Run `fn` with the table locked. */
function locked<T>(env: SyscallEnv, fn: (t: TimerTable) => T): T {
  const t = timerTable(env.kctx);
  t.lock.lock();
  try {
    return fn(t);
  } finally {
    t.lock.unlock();
  }
}

/** Two (sec, sub) pairs from user memory: [interval ns, value ns], sub in units of `unit` ns below `limit`; or -errno. */
function readPair(env: SyscallEnv, va: number, unit: number, limit: number): [number, number] | number {
  const b = copyFromUser(env.kctx, env.as, va, 32);
  if (typeof b === 'number') return -EFAULT;
  const dv = new DataView(b.buffer, b.byteOffset, 32);
  const out: number[] = [];
  for (const off of [0, 16]) {
    const sec = dv.getBigInt64(off, true), sub = dv.getBigInt64(off + 8, true);
    if (sec < 0n || sub < 0n || sub >= BigInt(limit)) return -EINVAL;
    out.push(Number(sec) * NS + Number(sub) * unit);
  }
  return [out[0]!, out[1]!];
}

/** Write [interval ns, value ns] as two (sec, sub) pairs; sub rounded UP to `unit` (Linux reports a running timer never as 0). */
function writePair(env: SyscallEnv, va: number, interval: number, value: number, unit: number): number {
  const out = new Uint8Array(32);
  const dv = new DataView(out.buffer);
  [interval, value].forEach((ns, i) => {
    const units = Math.ceil(ns / unit);
    const per = NS / unit;
    dv.setBigInt64(i * 16, BigInt(Math.floor(units / per)), true);
    dv.setBigInt64(i * 16 + 8, BigInt(units % per), true);
  });
  return copyToUser(env.kctx, env.as, va, out) < 0 ? -EFAULT : 0;
}

// ---- itimers ----

/** The timer kind of itimer `which`, or -1. */
const ITIMER_KIND = (which: number): number =>
  which === ITIMER_REAL ? TK_ITIMER_REAL : which === ITIMER_VIRTUAL ? TK_ITIMER_VIRTUAL : which === ITIMER_PROF ? TK_ITIMER_PROF : -1;

/** Lock held: the caller's itimer record of `kind`, allocated (idle) when `create`; -1 none / table full. */
function itimer(t: TimerTable, env: SyscallEnv, p: number, kind: number, create: boolean): number {
  const s = t.find(env.pid, kind, -1);
  if (s >= 0 || !create) return s;
  const signo = kind === TK_ITIMER_REAL ? SIGALRM : kind === TK_ITIMER_VIRTUAL ? SIGVTALRM : SIGPROF;
  return t.alloc(p, env.pid, { kind, id: -1, clock: 1, notify: SIGEV_SIGNAL, signo, tid: -1, value: 0n });
}

/** getitimer(which, curr_value) */
function getitimer(env: SyscallEnv, a: readonly bigint[]): number {
  const kind = ITIMER_KIND(argInt(a[0]!));
  if (kind < 0) return -EINVAL;
  const { p } = caller(env);
  const [value, interval] = locked(env, (t) => {
    const s = itimer(t, env, p, kind, false);
    return s < 0 ? [0, 0] : t.remaining(s);
  });
  return writePair(env, argU(a[1]!), interval, value, 1000);
}

/** setitimer(which, new_value, old_value): a CPU-time itimer's value counts CPU ns, not clock ns. */
function setitimer(env: SyscallEnv, a: readonly bigint[]): number {
  const kind = ITIMER_KIND(argInt(a[0]!));
  if (kind < 0) return -EINVAL;
  const newVa = argU(a[1]!), oldVa = argU(a[2]!);
  let next: [number, number] = [0, 0];
  if (newVa !== 0) {
    const r = readPair(env, newVa, 1000, 1_000_000);
    if (typeof r === 'number') return r;
    next = r;
  }
  const { p } = caller(env);
  const old = locked(env, (t): [number, number] | number => {
    const s = itimer(t, env, p, kind, next[1] > 0);
    if (s < 0) return next[1] > 0 ? -EAGAIN : [0, 0];
    const [value, interval] = t.remaining(s);
    if (next[1] > 0) t.arm(s, kind === TK_ITIMER_REAL ? monoNs() + next[1] : next[1], next[0]);
    else t.free(s);
    return [value, interval];
  });
  if (typeof old === 'number') return old;
  return oldVa !== 0 ? writePair(env, oldVa, old[1], old[0], 1000) : 0;
}

// ---- POSIX timers ----

/** timer_create(clockid, sevp, timerid) */
function timerCreate(env: SyscallEnv, a: readonly bigint[]): number {
  const clock = argInt(a[0]!), sevVa = argU(a[1]!), idVa = argU(a[2]!);
  if (!timerClockOk(clock)) return -EINVAL;
  let notify = SIGEV_SIGNAL, signo = SIGALRM, tid = -1;
  let value: bigint | null = null;
  const { p } = caller(env);
  if (sevVa !== 0) {
    const b = copyFromUser(env.kctx, env.as, sevVa, 20);
    if (typeof b === 'number') return -EFAULT;
    const dv = new DataView(b.buffer, b.byteOffset, 20);
    value = dv.getBigUint64(0, true);
    signo = dv.getInt32(8, true);
    notify = dv.getInt32(12, true);
    if (notify === SIGEV_THREAD_ID || notify === (SIGEV_THREAD_ID | SIGEV_SIGNAL)) {
      tid = dv.getInt32(16, true);
      const ttix = threadOfTid(env.kctx.ctl, tid);
      if (ttix < 0 || procOfThread(env.kctx.ctl, ttix) !== p) return -EINVAL;
    } else if (notify === SIGEV_THREAD) {
      notify = SIGEV_SIGNAL; // the kernel's view of it (Linux good_sigevent); libc runs the thread
    } else if (notify !== SIGEV_SIGNAL && notify !== SIGEV_NONE) {
      return -EINVAL;
    }
    if (notify !== SIGEV_NONE && !(signo >= 1 && signo <= NSIG)) return -EINVAL;
  }
  const r = locked(env, (t) => {
    const id = t.freeId(env.pid);
    const s = t.alloc(p, env.pid, { kind: TK_POSIX, id, clock, notify, signo, tid, value: value ?? BigInt(id) });
    return s < 0 ? -EAGAIN : id;
  });
  if (r < 0) return r;
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, r, true);
  if (copyToUser(env.kctx, env.as, idVa, out) < 0) {
    locked(env, (t) => { const s = t.find(env.pid, TK_POSIX, r); if (s >= 0) t.free(s); });
    return -EFAULT;
  }
  return 0;
}

/** Run `fn` on the caller's POSIX timer `id` with the table locked; -EINVAL when there is none. */
function withTimer(env: SyscallEnv, id: number, fn: (t: TimerTable, s: number) => number | [number, number]): number | [number, number] {
  return locked(env, (t) => {
    const s = id >= 0 ? t.find(env.pid, TK_POSIX, id) : -1;
    return s < 0 ? -EINVAL : fn(t, s);
  });
}

/** timer_settime(timerid, flags, new_value, old_value) */
function timerSettime(env: SyscallEnv, a: readonly bigint[]): number {
  const id = argInt(a[0]!), flags = argInt(a[1]!), newVa = argU(a[2]!), oldVa = argU(a[3]!);
  const next = readPair(env, newVa, 1, NS);
  if (typeof next === 'number') return next;
  const old = withTimer(env, id, (t, s) => {
    const [value, interval] = t.remaining(s);
    if (next[1] > 0) {
      const deadline = flags & TIMER_ABSTIME ? absToMono(t.field(s, TM_CLOCK), next[1]) : monoNs() + next[1];
      t.arm(s, deadline, next[0]);
    } else {
      t.disarm(s);
    }
    t.setField(s, TM_OVERRUN, 0);
    t.setField(s, TM_OVERRUN_LAST, 0);
    return [value, interval];
  });
  if (typeof old === 'number') return old;
  return oldVa !== 0 ? writePair(env, oldVa, old[1], old[0], 1) : 0;
}

/** timer_gettime(timerid, curr_value) */
function timerGettime(env: SyscallEnv, a: readonly bigint[]): number {
  const r = withTimer(env, argInt(a[0]!), (t, s) => t.remaining(s));
  if (typeof r === 'number') return r;
  return writePair(env, argU(a[1]!), r[1], r[0], 1);
}

/** timer_getoverrun(timerid): the overrun count of the last delivered expiry. */
function timerGetoverrun(env: SyscallEnv, a: readonly bigint[]): number {
  const r = withTimer(env, argInt(a[0]!), (t, s) => Math.min(DELAYTIMER_MAX, t.field(s, TM_OVERRUN_LAST)));
  return typeof r === 'number' ? r : -EINVAL;
}

/** timer_delete(timerid): a signal it already queued stays pending (its si_overrun then reads 0). */
function timerDelete(env: SyscallEnv, a: readonly bigint[]): number {
  const r = withTimer(env, argInt(a[0]!), (t, s) => {
    t.setField(s, TM_QUEUED, 0);
    t.free(s);
    return 0;
  });
  return typeof r === 'number' ? r : -EINVAL;
}

registerSyscall(SYS_getitimer, 'getitimer', getitimer);
registerSyscall(SYS_setitimer, 'setitimer', setitimer);
registerSyscall(SYS_timer_create, 'timer_create', timerCreate);
registerSyscall(SYS_timer_settime, 'timer_settime', timerSettime);
registerSyscall(SYS_timer_gettime, 'timer_gettime', timerGettime);
registerSyscall(SYS_timer_getoverrun, 'timer_getoverrun', timerGetoverrun);
registerSyscall(SYS_timer_delete, 'timer_delete', timerDelete);
