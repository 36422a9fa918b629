/**
 * Scheduling and I/O priority and supplementary groups: getpriority/setpriority (what `nice`, `renice`,
 * `top` and GNU make's `-l` use) and getgroups/setgroups (what `id` and every login-ish program
 * call). Before this file both pairs were ENOSYS, and busybox `nice`, `renice` and `id` failed.
 *
 * Linux's rules (kernel/sys.c), followed here:
 * - nice is per THREAD (task): `setpriority(PRIO_PROCESS, tid)` changes that one thread (a
 *   process's pid names its first thread only), who = 0 the caller. PRIO_PGRP: every thread of
 *   every live process of the group (who = 0: the caller's); PRIO_USER: every thread of the
 *   user's processes — the one user is root (uid 0), so uid 0 is every thread and any other uid
 *   matches none. `which` outside 0..2 is EINVAL; no thread matched is ESRCH.
 * - setpriority clamps niceval to [-20, 19]; the caller is root (CAP_SYS_NICE), so lowering nice
 *   is allowed. getpriority returns 20 - nice of the best (lowest nice) thread matched: the raw
 *   syscall's 1..40, which glibc turns back into -20..19.
 * - A clone (thread or fork) inherits its parent thread's nice; execve keeps it.
 * - The scheduler honours it: a thread's run turn lasts CFS's weight for its nice
 *   (sched_prio_to_weight) over nice 0's 1024 base quanta — nice 19 gets 15/1024 of a quantum
 *   before a waiting thread may preempt it, nice -5 about 3 quanta (`sliceQuanta`).
 * - ioprio_get/ioprio_set (block/ioprio.c; what `ionice` uses): a per-thread I/O priority,
 *   class << 13 | level, inherited by clone like nice. IOPRIO_WHO_PROCESS/PGRP/USER name
 *   threads as PRIO_* do (who = 0: the caller, its group, its uid); which outside 1..3 EINVAL,
 *   nobody ESRCH. set: class RT or BE with level >= 8, NONE with a level, or an unknown class
 *   is EINVAL (root may set RT). get: a thread never set reads 0 (IOPRIO_CLASS_NONE, Linux's
 *   IOPRIO_DEFAULT); for several threads the best, Linux's ioprio_best (the smallest value).
 *   Stored and reported only: the page cache here does no queued I/O for it to order.
 * - groups: the guest's one user has no supplementary groups at first (getgroups gives 0, as
 *   for a root process started without initgroups). setgroups may set a list whose gids are all
 *   0 — the one group there is; another gid is EPERM (as setresgid refuses another id,
 *   kernel/proc/sys-prctl.ts); more than NGROUPS_MAX is EINVAL. The list is per process (Linux:
 *   per thread credentials, which glibc's setgroups makes the same in every thread), copied by
 *   fork and kept across execve. getgroups(size < count) is EINVAL, size 0 returns the count.
 */
import { EFAULT, EINVAL, EPERM } from '../errno.ts';
import type { Ctl } from '../layout.ts';
import { P_NGROUPS, P_PGID, P_STATE, PROC_BYTES, PS_LIVE, T_IOPRIO, T_NICE, T_PROC, T_STATE, T_TID, THREAD_BYTES, TS_DEAD, TS_EMBRYO, TS_FREE } from './layout.ts';
import { procLock, procWord } from './sys-proc-table.ts';
import { procOps } from './sys-proc.ts';
import { argInt, argU, registerSyscall, type SyscallEnv } from '../syscall.ts';
import { copyFromUser, copyToUser } from '../mm/uaccess.ts';

const ESRCH = 3;
// riscv64 (asm-generic) numbers
const SYS_setpriority = 140;
const SYS_getpriority = 141;
const SYS_getgroups = 158;
const SYS_ioprio_set = 30;
const SYS_ioprio_get = 31;
// <linux/ioprio.h>
export const IOPRIO_CLASS_NONE = 0;
export const IOPRIO_CLASS_RT = 1;
export const IOPRIO_CLASS_BE = 2;
export const IOPRIO_CLASS_IDLE = 3;
export const IOPRIO_CLASS_SHIFT = 13;
const IOPRIO_NR_LEVELS = 8;
export const IOPRIO_WHO_PROCESS = 1;
export const IOPRIO_WHO_PGRP = 2;
export const IOPRIO_WHO_USER = 3;
const SYS_setgroups = 159;
// <linux/resource.h>
export const PRIO_PROCESS = 0;
export const PRIO_PGRP = 1;
export const PRIO_USER = 2;
export const MIN_NICE = -20;
export const MAX_NICE = 19;
/** <linux/limits.h> NGROUPS_MAX. */
export const NGROUPS_MAX = 65536;

/** kernel/sched/core.c sched_prio_to_weight: the CFS load weight of nice -20 .. 19 (nice 0 = 1024). */
const NICE_WEIGHT = [
  88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
  9548, 7620, 6100, 4904, 3906, 3121, 2501, 1991, 1586, 1277,
  1024, 820, 655, 526, 423, 335, 272, 215, 172, 137,
  110, 87, 70, 56, 45, 36, 29, 23, 18, 15,
];

/**
 * How long a thread of nice `nice` runs before a waiting thread may preempt it, in base quanta
 * (the machine's SH_QUANTUM): its CFS weight / 1024 — 1 at nice 0, below 1 for positive nice
 * (never below 1/128 of a quantum), above 1 for negative nice. The scheduler still ends sleeps
 * and fires timers at every base quantum; only the preemption waits for the whole turn.
 */
export function sliceQuanta(nice: number): number {
  const n = Math.min(MAX_NICE, Math.max(MIN_NICE, nice | 0));
  return Math.max(1 / 128, NICE_WEIGHT[n - MIN_NICE]! / 1024);
}

/** Word index of thread `tix`'s field `f`. */
const tw = (ctl: Ctl, tix: number, f: number): number => (ctl.layout.threads + tix * THREAD_BYTES) / 4 + f;

/** The nice value of thread slot `tix` (-20..19; 0 for a thread never reniced). */
export function niceOf(ctl: Ctl, tix: number): number {
  return ctl.i32[tw(ctl, tix, T_NICE)]!;
}

/** Thread slots `which`/`who` name (Linux's rules above; racy snapshot, as Linux's RCU walk); null for a bad `which`. */
function threadsMatching(env: SyscallEnv, which: number, who: number): number[] | null {
  const ctl = env.kctx.ctl;
  const o = procOps();
  const live = (tix: number): boolean => {
    const s = Atomics.load(ctl.i32, tw(ctl, tix, T_STATE));
    return s !== TS_FREE && s !== TS_DEAD && s !== TS_EMBRYO;
  };
  const liveProc = (p: number): boolean => Atomics.load(ctl.i32, (ctl.layout.processes + p * PROC_BYTES) / 4 + P_STATE) === PS_LIVE;
  const out: number[] = [];
  switch (which) {
    case PRIO_PROCESS: {
      if (who === 0) return [o.currentThread()];
      for (let t = 0; t < ctl.layout.sched.maxThreads; t++) if (live(t) && ctl.i32[tw(ctl, t, T_TID)] === who) out.push(t);
      return out;
    }
    case PRIO_PGRP: {
      const pgid = who === 0 ? ctl.i32[procWord(ctl, o.currentProc(), P_PGID)]! : who;
      for (let t = 0; t < ctl.layout.sched.maxThreads; t++) {
        if (!live(t)) continue;
        const p = ctl.i32[tw(ctl, t, T_PROC)]!;
        if (liveProc(p) && ctl.i32[procWord(ctl, p, P_PGID)] === pgid) out.push(t);
      }
      return out;
    }
    case PRIO_USER: {
      if (who !== 0) return out; // no process of any other user
      for (let t = 0; t < ctl.layout.sched.maxThreads; t++) if (live(t) && liveProc(ctl.i32[tw(ctl, t, T_PROC)]!)) out.push(t);
      return out;
    }
    default: return null;
  }
}

/** getpriority(which, who): 20 - the lowest nice of the threads matched; -EINVAL, -ESRCH. */
function sysGetpriority(env: SyscallEnv, a: readonly bigint[]): number {
  const ts = threadsMatching(env, argInt(a[0]!), argInt(a[1]!));
  if (ts === null) return -EINVAL;
  if (ts.length === 0) return -ESRCH;
  let best = MAX_NICE + 1;
  for (const t of ts) best = Math.min(best, niceOf(env.kctx.ctl, t));
  return 20 - best;
}

/** setpriority(which, who, niceval): every thread matched gets niceval clamped to [-20, 19]; 0, -EINVAL, -ESRCH. */
function sysSetpriority(env: SyscallEnv, a: readonly bigint[]): number {
  const ts = threadsMatching(env, argInt(a[0]!), argInt(a[1]!));
  if (ts === null) return -EINVAL;
  if (ts.length === 0) return -ESRCH;
  const nice = Math.min(MAX_NICE, Math.max(MIN_NICE, argInt(a[2]!)));
  const ctl = env.kctx.ctl;
  const lock = procLock(env.kctx);
  lock.lock();
  for (const t of ts) Atomics.store(ctl.i32, tw(ctl, t, T_NICE), nice);
  lock.unlock();
  return 0;
}

/** ioprio_get(which, who): the I/O priority of the thread matched (several: the best, the smallest); -EINVAL, -ESRCH. */
function sysIoprioGet(env: SyscallEnv, a: readonly bigint[]): number {
  const which = argInt(a[0]!);
  if (which < IOPRIO_WHO_PROCESS || which > IOPRIO_WHO_USER) return -EINVAL;
  const ts = threadsMatching(env, which - 1, argInt(a[1]!)); // IOPRIO_WHO_* = PRIO_* + 1
  if (ts === null) return -EINVAL;
  if (ts.length === 0) return -ESRCH;
  const ctl = env.kctx.ctl;
  return Math.min(...ts.map((t) => ctl.i32[tw(ctl, t, T_IOPRIO)]!));
}

/** ioprio_set(which, who, ioprio): every thread matched gets `ioprio`; 0, -EINVAL (which, class, level), -ESRCH. */
function sysIoprioSet(env: SyscallEnv, a: readonly bigint[]): number {
  const which = argInt(a[0]!);
  const ioprio = argInt(a[2]!);
  const cls = (ioprio >> IOPRIO_CLASS_SHIFT) & 7;
  const level = ioprio & ((1 << IOPRIO_CLASS_SHIFT) - 1);
  switch (cls) {
    case IOPRIO_CLASS_RT: case IOPRIO_CLASS_BE: if (level >= IOPRIO_NR_LEVELS) return -EINVAL; break;
    case IOPRIO_CLASS_IDLE: break;
    case IOPRIO_CLASS_NONE: if (level !== 0) return -EINVAL; break;
    default: return -EINVAL;
  }
  if (which < IOPRIO_WHO_PROCESS || which > IOPRIO_WHO_USER) return -EINVAL;
  const ts = threadsMatching(env, which - 1, argInt(a[1]!));
  if (ts === null) return -EINVAL;
  if (ts.length === 0) return -ESRCH;
  const ctl = env.kctx.ctl;
  const lock = procLock(env.kctx);
  lock.lock();
  for (const t of ts) Atomics.store(ctl.i32, tw(ctl, t, T_IOPRIO), ioprio & 0xffff);
  lock.unlock();
  return 0;
}

/** getgroups(size, list): the caller's supplementary groups (all gid 0): their count; -EINVAL, -EFAULT. */
function sysGetgroups(env: SyscallEnv, a: readonly bigint[]): number {
  const size = argInt(a[0]!);
  if (size < 0) return -EINVAL;
  const n = env.kctx.ctl.i32[procWord(env.kctx.ctl, procOps().currentProc(), P_NGROUPS)]!;
  if (size === 0) return n;
  if (size < n) return -EINVAL;
  if (n > 0 && copyToUser(env.kctx, env.as, argU(a[1]!), new Uint8Array(4 * n)) < 0) return -EFAULT;
  return n;
}

/** setgroups(size, list): set the caller's supplementary groups; 0, -EINVAL (size), -EFAULT, -EPERM (a gid other than 0). */
function sysSetgroups(env: SyscallEnv, a: readonly bigint[]): number {
  const size = argInt(a[0]!);
  if (size < 0 || size > NGROUPS_MAX) return -EINVAL;
  if (size > 0) {
    const list = copyFromUser(env.kctx, env.as, argU(a[1]!), 4 * size);
    if (typeof list === 'number') return -EFAULT;
    if (list.some((b) => b !== 0)) return -EPERM;
  }
  const ctl = env.kctx.ctl;
  const lock = procLock(env.kctx);
  lock.lock();
  ctl.i32[procWord(ctl, procOps().currentProc(), P_NGROUPS)] = size;
  lock.unlock();
  return 0;
}

registerSyscall(SYS_getpriority, 'getpriority', sysGetpriority);
registerSyscall(SYS_setpriority, 'setpriority', sysSetpriority);
registerSyscall(SYS_getgroups, 'getgroups', sysGetgroups);
registerSyscall(SYS_ioprio_get, 'ioprio_get', sysIoprioGet);
registerSyscall(SYS_ioprio_set, 'ioprio_set', sysIoprioSet);
registerSyscall(SYS_setgroups, 'setgroups', sysSetgroups);
