/**
 * CPU time of threads and processes (Linux's utime/stime): what CLOCK_THREAD_CPUTIME_ID,
 * CLOCK_PROCESS_CPUTIME_ID and the CPU-time itimers (kernel/signal/timers.ts ITIMER_VIRTUAL /
 * ITIMER_PROF) count.
 *
 * The hart charges its current thread after every run of guest code (user time: the host time
 * spent in Hart.run) and after every trap the kernel handled for it (system time), in the
 * thread record (T_UTIME / T_STIME, f64 ns, written only by the hart running the thread). A
 * thread that exits adds its times to its process's P_CPU_DEAD_U / _S and zeroes its own, under
 * SH_PROC_LOCK; a process's clock is those plus its live threads', read under the same lock, so
 * it never counts a thread twice or loses one. Time is host time while the worker ran the
 * thread (a host that preempts the worker makes it look longer), at a granularity of one run
 * slice; a blocked or ready thread accumulates nothing.
 */
import type { KernelContext } from '../context.ts';
import type { Ctl } from '../layout.ts';
import { P_CPU_DEAD_S, P_CPU_DEAD_U, T_PROC, T_STATE, T_STIME, T_UTIME, THREAD_BYTES, TS_DEAD, TS_EMBRYO, TS_FREE } from './layout.ts';
import { procLock, procWord } from './sys-proc-table.ts';

const tf = (ctl: Ctl, tix: number, f: number): number => (ctl.layout.threads + tix * THREAD_BYTES) / 8 + f / 2;

/** Charge `userNs` and `sysNs` to thread `tix` (its hart, while it is RUNNING there). */
export function chargeThread(ctl: Ctl, tix: number, userNs: number, sysNs: number): void {
  if (userNs > 0) ctl.f64[tf(ctl, tix, T_UTIME)] += userNs;
  if (sysNs > 0) ctl.f64[tf(ctl, tix, T_STIME)] += sysNs;
}

/** [user ns, system ns] of thread `tix`. */
export function threadCpuNs(ctl: Ctl, tix: number): [number, number] {
  return [ctl.f64[tf(ctl, tix, T_UTIME)]!, ctl.f64[tf(ctl, tix, T_STIME)]!];
}

/** Thread `tix` of process slot `p` is exiting (its hart, before the slot is freed): its time moves to the process. */
export function threadExitCpu(kctx: KernelContext, p: number, tix: number): void {
  const ctl = kctx.ctl;
  procLock(kctx).with(() => {
    const [u, s] = threadCpuNs(ctl, tix);
    ctl.f64[procWord(ctl, p, P_CPU_DEAD_U) / 2] += u;
    ctl.f64[procWord(ctl, p, P_CPU_DEAD_S) / 2] += s;
    ctl.f64[tf(ctl, tix, T_UTIME)] = 0;
    ctl.f64[tf(ctl, tix, T_STIME)] = 0;
  });
}

/** [user ns, system ns] of process slot `p`: its exited threads' and its live ones'. */
export function processCpuNs(kctx: KernelContext, p: number): [number, number] {
  const ctl = kctx.ctl;
  return procLock(kctx).with(() => {
    let u = ctl.f64[procWord(ctl, p, P_CPU_DEAD_U) / 2]!, s = ctl.f64[procWord(ctl, p, P_CPU_DEAD_S) / 2]!;
    for (let tix = 0; tix < ctl.layout.sched.maxThreads; tix++) {
      const st = Atomics.load(ctl.i32, (ctl.layout.threads + tix * THREAD_BYTES) / 4 + T_STATE);
      if (st === TS_FREE || st === TS_DEAD || st === TS_EMBRYO) continue;
      if (ctl.i32[(ctl.layout.threads + tix * THREAD_BYTES) / 4 + T_PROC] !== p) continue;
      const [tu, ts] = threadCpuNs(ctl, tix);
      u += tu;
      s += ts;
    }
    return [u, s];
  });
}
