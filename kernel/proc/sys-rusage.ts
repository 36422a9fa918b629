/**
 * getrusage(2) and times(2): the CPU time kernel/proc/cputime.ts counts, as Linux reports it.
 *
 * - getrusage(RUSAGE_SELF): the process's threads, live and exited; RUSAGE_THREAD: the calling
 *   thread; RUSAGE_CHILDREN: the children it reaped with wait4/waitid, and theirs (added at the
 *   reap, P_CPU_CHILD_*: kernel/proc/sys-proc-table.ts reapChild, as Linux's wait_task_zombie;
 *   children auto-reaped under SIGCHLD SIG_IGN are not counted, as on Linux). Other `who`: EINVAL.
 *   ru_maxrss (KiB) is the peak resident set, as Linux keeps it: each address space counts its
 *   resident pages and their high-water mark where leaves are installed and cleared
 *   (kernel/mm/aspace.ts addResident; O(1) here); a space the process left (a thread's exit, an
 *   exec) is folded into P_MAXRSS (signal->maxrss), so SELF and THREAD report the larger of that
 *   and the current space's mark; a fork child's starts at what fork copied into it (dup_mm sets
 *   hiwater_rss to the child's rss).
 *   RUSAGE_CHILDREN's is the largest of the reaped children's (P_CMAXRSS, set at the reap as
 *   wait_task_zombie's cmaxrss). The fault and switch counters are 0.
 * - times(buf): user/system time of the process and of its reaped children in clock ticks
 *   (USER_HZ = 100, what sysconf(_SC_CLK_TCK) says: AT_CLKTCK); returns the ticks since boot.
 *   A NULL buf is allowed (Linux); a bad one is EFAULT.
 * wait4's and waitid's rusage argument gets the reaped child's times the same way.
 */
import { EFAULT, EINVAL } from '../errno.ts';
import type { VirtualAddressSpace } from '../mm/aspace.ts';
import { copyToUser } from '../mm/uaccess.ts';
import { argInt, argU, registerSyscall, type SyscallEnv } from '../syscall.ts';
import * as N from '../syscalls-table.ts';
import { processCpuNs, threadCpuNs } from './cputime.ts';
import { P_CMAXRSS, P_CPU_CHILD_S, P_CPU_CHILD_U, P_MAXRSS } from './layout.ts';
import type { Ctl } from '../layout.ts';
import { monotonicMs } from './sys-info.ts';
import { procLock, procWord } from './sys-proc-table.ts';
import { procOps } from './sys-proc.ts';

export const RUSAGE_SELF = 0;
export const RUSAGE_CHILDREN = -1;
export const RUSAGE_THREAD = 1;
/** sizeof(struct rusage) on rv64. */
export const RUSAGE_BYTES = 144;
/** Clock ticks per second of times(2) (Linux USER_HZ). */
export const USER_HZ = 100;

/**
 * A struct rusage with `userNs`/`sysNs` as ru_utime/ru_stime (timevals, µs rounded down) and
 * `maxrssKib` as ru_maxrss; every other field 0.
 */
export function rusageBytes(userNs: number, sysNs: number, maxrssKib = 0): Uint8Array {
  const out = new Uint8Array(RUSAGE_BYTES);
  const dv = new DataView(out.buffer);
  [userNs, sysNs].forEach((ns, k) => {
    const us = Math.max(0, Math.floor(ns / 1000));
    dv.setBigInt64(k * 16, BigInt(Math.floor(us / 1_000_000)), true);
    dv.setBigInt64(k * 16 + 8, BigInt(us % 1_000_000), true);
  });
  dv.setBigInt64(32, BigInt(maxrssKib), true);
  return out;
}

/** [user ns, system ns] of the children process slot `p` reaped (and of theirs). */
export function childrenCpuNs(env: SyscallEnv, p: number): [number, number] {
  const ctl = env.kctx.ctl;
  return procLock(env.kctx).with(() => [ctl.f64[procWord(ctl, p, P_CPU_CHILD_U) / 2]!, ctl.f64[procWord(ctl, p, P_CPU_CHILD_S) / 2]!]);
}

/**
 * Fold `peakPages` (the high-water mark of a space process slot `p` is leaving: a thread's exit,
 * exec's replacement) into its P_MAXRSS, as Linux's setmax_mm_hiwater_rss(&sig->maxrss, mm).
 */
export function foldMaxRss(ctl: Ctl, p: number, peakPages: number): void {
  const w = procWord(ctl, p, P_MAXRSS);
  // SAFETY: a CAS max: each retry means another thread raised it meanwhile, so it ends.
  for (let cur = Atomics.load(ctl.i32, w); peakPages > cur;) {
    const seen = Atomics.compareExchange(ctl.i32, w, cur, peakPages);
    if (seen === cur) break;
    cur = seen;
  }
}

/** ru_maxrss of RUSAGE_SELF/THREAD in pages: the larger of P_MAXRSS and `as`'s high-water mark. */
export function selfMaxRssPages(ctl: Ctl, p: number, as: VirtualAddressSpace): number {
  return Math.max(Atomics.load(ctl.i32, procWord(ctl, p, P_MAXRSS)), as.residentPeak);
}

/** ru_maxrss of a process slot `p` whose threads all exited (a zombie being reaped), in pages: its own peak and its children's. */
export function zombieMaxRssPages(ctl: Ctl, p: number): number {
  return Math.max(Atomics.load(ctl.i32, procWord(ctl, p, P_MAXRSS)), Atomics.load(ctl.i32, procWord(ctl, p, P_CMAXRSS)));
}

/** getrusage(who, usage) */
function sysGetrusage(env: SyscallEnv, a: readonly bigint[]): number {
  const who = argInt(a[0]!), va = argU(a[1]!);
  let out: Uint8Array;
  const ctl = env.kctx.ctl, p = procOps().currentProc();
  if (who === RUSAGE_SELF) {
    const [u, s] = processCpuNs(env.kctx, p);
    out = rusageBytes(u, s, selfMaxRssPages(ctl, p, env.as) * 4);
  } else if (who === RUSAGE_THREAD) {
    const [u, s] = threadCpuNs(ctl, procOps().currentThread());
    out = rusageBytes(u, s, selfMaxRssPages(ctl, p, env.as) * 4);
  } else if (who === RUSAGE_CHILDREN) {
    const [u, s] = childrenCpuNs(env, p);
    out = rusageBytes(u, s, Atomics.load(ctl.i32, procWord(ctl, p, P_CMAXRSS)) * 4);
  } else {
    return -EINVAL;
  }
  return copyToUser(env.kctx, env.as, va, out) < 0 ? -EFAULT : 0;
}

/** times(buf) */
function sysTimes(env: SyscallEnv, a: readonly bigint[]): number {
  const va = argU(a[0]!);
  if (va !== 0) {
    const p = procOps().currentProc();
    const [u, s] = processCpuNs(env.kctx, p);
    const [cu, cs] = childrenCpuNs(env, p);
    const out = new Uint8Array(32);
    const dv = new DataView(out.buffer);
    [u, s, cu, cs].forEach((ns, k) => dv.setBigInt64(k * 8, BigInt(Math.floor((ns * USER_HZ) / 1e9)), true));
    if (copyToUser(env.kctx, env.as, va, out) < 0) return -EFAULT;
  }
  return Math.floor((monotonicMs() * USER_HZ) / 1000);
}

registerSyscall(N.SYS_getrusage, 'getrusage', sysGetrusage);
registerSyscall(N.SYS_times, 'times', sysTimes);
