/**
 * getrusage(2) and times(2): the CPU time kernel/proc/cputime.ts counts, as Linux reports it.
 *
 * - getrusage(RUSAGE_SELF): the process's threads, live and exited; RUSAGE_THREAD: the calling
 *   thread; RUSAGE_CHILDREN: the children it reaped with wait4/waitid, and theirs (added at the
 *   reap, P_CPU_CHILD_*: kernel/proc/sys-proc-table.ts reapChild, as Linux's wait_task_zombie;
 *   children auto-reaped under SIGCHLD SIG_IGN are not counted, as on Linux). Other `who`: EINVAL.
 *   ru_maxrss (KiB) is the process's resident set now (a lower bound of its peak: the kernel
 *   keeps no high-water mark); the fault and switch counters are 0.
 * - times(buf): user/system time of the process and of its reaped children in clock ticks
 *   (USER_HZ = 100, what sysconf(_SC_CLK_TCK) says: AT_CLKTCK); returns the ticks since boot.
 *   A NULL buf is allowed (Linux); a bad one is EFAULT.
 * wait4's and waitid's rusage argument gets the reaped child's times the same way.
 */
import { EFAULT, EINVAL } from '../errno.ts';
import { residentPages } from '../mm/mmap.ts';
import { copyToUser } from '../mm/uaccess.ts';
import { argInt, argU, registerSyscall, type SyscallEnv } from '../syscall.ts';
import * as N from '../syscalls-table.ts';
import { processCpuNs, threadCpuNs } from './cputime.ts';
import { P_CPU_CHILD_S, P_CPU_CHILD_U } from './layout.ts';
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

/** getrusage(who, usage) */
function sysGetrusage(env: SyscallEnv, a: readonly bigint[]): number {
  const who = argInt(a[0]!), va = argU(a[1]!);
  let out: Uint8Array;
  if (who === RUSAGE_SELF) {
    const [u, s] = processCpuNs(env.kctx, procOps().currentProc());
    out = rusageBytes(u, s, residentPages(env.kctx, env.as) * 4);
  } else if (who === RUSAGE_THREAD) {
    const [u, s] = threadCpuNs(env.kctx.ctl, procOps().currentThread());
    out = rusageBytes(u, s, residentPages(env.kctx, env.as) * 4);
  } else if (who === RUSAGE_CHILDREN) {
    const [u, s] = childrenCpuNs(env, procOps().currentProc());
    out = rusageBytes(u, s);
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
