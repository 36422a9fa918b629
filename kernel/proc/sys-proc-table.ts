/**
 * The process table (kernel/proc/layout.ts P_*): slots, the parent/child tree, exit and
 * reaping — the kernel half of processes. scheduler/process.ts (spawn from the host) and
 * kernel/proc/sys-proc.ts (clone, wait4, getppid) build on it; threads live in scheduler/threads.ts.
 *
 * A process is an address space, an fd table (P_FDT) and its threads; pid = tid of its first
 * thread. Life of a slot:
 *   FREE --procAlloc (CAS)--> LIVE --last thread gone--> ZOMBIE --reaped--> FREE
 * Reaped by: the host's wait() (P_PARENT = PARENT_HOST), the parent's wait4, or, for an
 * orphan (PARENT_NONE: its parent exited first — Linux re-parents to init, which reaps), at
 * once when it dies. A dying process re-parents its live children to PARENT_NONE and frees its
 * zombie children. The tree (P_PARENT, ZOMBIE → FREE of a guest's child) changes only under
 * the SH_PROC_LOCK SpinLock, so a parent exiting and a child dying never both miss the child.
 *
 * Exit publication, by the last thread (its address-space reference already dropped):
 *   fd table put (closes every fd, waking pipe peers) → lock → P_EXIT := status; P_STATE :=
 *   ZOMBIE (Atomics.store + notify: the host wait()s on it) → children re-parented →
 *   parent's P_CHILD_SEQ bumped and woken (wait4's channel) → unlock → childExitHook (SIGCHLD).
 */
import type { KernelContext } from '../context.ts';
import type { Ctl } from '../layout.ts';
import { fdTablePut } from '../fs/fdtable.ts';
import { SpinLock } from '../sync/lock.ts';
import type { Waiter } from '../fs/pipe.ts';
import {
  P_CHILD_SEQ, P_CODE, P_EXIT, P_EXIT_SIGNAL, P_EXITING, P_FDT, P_PARENT, P_PID, P_SIGNAL, P_STATE, P_THREADS,
  P_AS, PARENT_HOST, PARENT_NONE, PROC_BYTES, PS_FREE, PS_LIVE, PS_ZOMBIE, SH_PROC_LOCK,
} from './layout.ts';
import type { WaitChannel } from '../syscall.ts';

/** Word index of field `f` of process slot `p`. */
export function procWord(ctl: Ctl, p: number, f: number): number {
  return (ctl.layout.processes + p * PROC_BYTES) / 4 + f;
}

/** Process slot of `pid` (live or zombie), or -1. */
export function procOfPid(ctl: Ctl, pid: number): number {
  for (let p = 0; p < ctl.layout.sched.maxProcesses; p++) {
    if (Atomics.load(ctl.i32, procWord(ctl, p, P_STATE)) !== PS_FREE && ctl.i32[procWord(ctl, p, P_PID)] === pid) return p;
  }
  return -1;
}

/** The process-tree lock (SH_PROC_LOCK) as seen from `kctx`'s worker. */
export function procLock(kctx: KernelContext): SpinLock {
  return new SpinLock(kctx.ctl.i32, kctx.ctl.layout.schedHeader / 4 + SH_PROC_LOCK, kctx.whileWaiting);
}

/**
 * Claim a free slot: LIVE, zeroed, with `parent` (a pid, PARENT_HOST), fd table `fdt`,
 * address-space slot `asSlot` and `exitSignal`; P_PID and P_THREADS are the caller's to set.
 * The slot, or -1 when the table is full.
 */
export function procAlloc(ctl: Ctl, asSlot: number, fdt: number, parent: number, exitSignal: number): number {
  for (let p = 0; p < ctl.layout.sched.maxProcesses; p++) {
    if (Atomics.compareExchange(ctl.i32, procWord(ctl, p, P_STATE), PS_FREE, PS_LIVE) !== PS_FREE) continue; // claims the slot
    const base = procWord(ctl, p, 0);
    ctl.i32.fill(0, base + 1, base + PROC_BYTES / 4);
    ctl.i32[base + P_AS] = asSlot;
    ctl.i32[base + P_FDT] = fdt;
    ctl.i32[base + P_PARENT] = parent;
    ctl.i32[base + P_EXIT_SIGNAL] = exitSignal;
    return p;
  }
  return -1;
}

/**
 * Tasks (threads) that count toward RLIMIT_NPROC, as Linux's per-user count: every thread of a
 * live process, and a zombie until it is reaped. The guest has one user, so this is machine-wide.
 * A scan of the table, racy against concurrent forks (two may both pass the last slot).
 */
export function liveTasks(ctl: Ctl): number {
  let n = 0;
  for (let p = 0; p < ctl.layout.sched.maxProcesses; p++) {
    const st = Atomics.load(ctl.i32, procWord(ctl, p, P_STATE));
    if (st === PS_FREE) continue;
    n += st === PS_ZOMBIE ? 1 : Math.max(1, Atomics.load(ctl.i32, procWord(ctl, p, P_THREADS)));
  }
  return n;
}

/** Return slot `p` (never published, or reaped) to the free pool. */
export function procFree(ctl: Ctl, p: number): void {
  Atomics.store(ctl.i32, procWord(ctl, p, P_STATE), PS_FREE);
}

/** Exit status as the CLI gives it: code & 0xff, or 128 + signal. */
export function exitStatus(code: number, signal: number): number {
  return signal ? 128 + signal : code & 0xff;
}

/** Linux wait status of zombie `p`: (code << 8) when it exited, the signal number when killed. */
export function waitStatus(ctl: Ctl, p: number): number {
  const sig = ctl.i32[procWord(ctl, p, P_SIGNAL)]!;
  return sig ? sig & 0x7f : (ctl.i32[procWord(ctl, p, P_CODE)]! & 0xff) << 8;
}

/**
 * Mark process `p` as exiting with `code` / `signal` (the first caller wins). Returns true for
 * the first caller; the caller then makes the other threads exit (scheduler/hart-loop.ts).
 */
export function markExiting(ctl: Ctl, p: number, code: number, signal: number): boolean {
  if (Atomics.compareExchange(ctl.i32, procWord(ctl, p, P_EXITING), 0, 1) !== 0) return false;
  ctl.i32[procWord(ctl, p, P_CODE)] = code;
  ctl.i32[procWord(ctl, p, P_SIGNAL)] = signal;
  return true;
}

/** True once exit_group or a fatal signal started tearing process `p` down. */
export function isExiting(ctl: Ctl, p: number): boolean {
  return Atomics.load(ctl.i32, procWord(ctl, p, P_EXITING)) !== 0;
}

/** The ctl wait channel of process `p`'s P_CHILD_SEQ (wait4 blocks on it). */
export function childChannel(ctl: Ctl, p: number): WaitChannel {
  const index = procWord(ctl, p, P_CHILD_SEQ);
  return { key: -1 - index, i32: ctl.i32, index };
}

/** Called after a child died (parent pid, child pid, child slot): the signal layer sends SIGCHLD. */
export type ChildExitHook = (kctx: KernelContext, parentPid: number, childPid: number, exitSignal: number) => void;
let childExitHook: ChildExitHook = () => {};
/** Install the SIGCHLD sender (the signal module, at import time on each hart). */
export function setChildExitHook(fn: ChildExitHook): void {
  childExitHook = fn;
}

/**
 * One thread of process `p` is gone (its address-space reference already released). The
 * last one closes the fd table (with `waiter` waking blocked peers) and publishes the exit
 * (see the file comment); `wake(key)` wakes the parent's wait4. Returns true for the last.
 */
export function threadGone(kctx: KernelContext, p: number, code: number, waiter: Waiter | null, wake: (key: number) => void): boolean {
  const ctl = kctx.ctl;
  const i32 = ctl.i32;
  const left = Atomics.sub(i32, procWord(ctl, p, P_THREADS), 1) - 1;
  if (left > 0) return false;
  const fdt = i32[procWord(ctl, p, P_FDT)]!;
  if (fdt >= 0) {
    i32[procWord(ctl, p, P_FDT)] = -1;
    fdTablePut(kctx, fdt, waiter);
  }
  const exiting = isExiting(ctl, p);
  const status = exiting ? exitStatus(i32[procWord(ctl, p, P_CODE)]!, i32[procWord(ctl, p, P_SIGNAL)]!) : code & 0xff;
  if (!exiting) i32[procWord(ctl, p, P_CODE)] = code;
  i32[procWord(ctl, p, P_EXIT)] = status;
  const pid = i32[procWord(ctl, p, P_PID)]!;
  let parentPid = PARENT_NONE;
  const lock = procLock(kctx);
  lock.lock();
  try {
    for (let c = 0; c < ctl.layout.sched.maxProcesses; c++) {
      const s = Atomics.load(i32, procWord(ctl, c, P_STATE));
      if (s === PS_FREE || c === p || i32[procWord(ctl, c, P_PARENT)] !== pid) continue;
      i32[procWord(ctl, c, P_PARENT)] = PARENT_NONE;
      if (s === PS_ZOMBIE) procFree(ctl, c);
    }
    parentPid = i32[procWord(ctl, p, P_PARENT)]!;
    const pp = parentPid > 0 ? procOfPid(ctl, parentPid) : -1;
    if (parentPid === PARENT_NONE || (parentPid > 0 && pp < 0)) {
      procFree(ctl, p); // nobody will wait for it
    } else {
      Atomics.store(i32, procWord(ctl, p, P_STATE), PS_ZOMBIE); // publishes P_EXIT
      Atomics.notify(i32, procWord(ctl, p, P_STATE));
      if (pp >= 0) {
        const ch = childChannel(ctl, pp);
        Atomics.add(i32, ch.index, 1);
        wake(ch.key);
      }
    }
  } finally {
    lock.unlock();
  }
  if (parentPid > 0) childExitHook(kctx, parentPid, pid, i32[procWord(ctl, p, P_EXIT_SIGNAL)]!);
  return true;
}

/** What wait4 found: a reaped child, none yet (0), or -ECHILD. */
export interface Reaped {
  pid: number;
  wstatus: number;
}

/**
 * wait4's scan, for the caller `self` (slot) of pid `selfPid`: reap a zombie child matching
 * `pid` (-1 or 0 or < -1: any child — there are no process groups; > 0: that child).
 * Returns the reaped child, 0 when matching children live on, -1 when there is none.
 * `seq` receives P_CHILD_SEQ as read under the lock (block on it to wait for the next death).
 */
export function reapChild(kctx: KernelContext, self: number, selfPid: number, pid: number, seq: { value: number }): Reaped | 0 | -1 {
  const ctl = kctx.ctl;
  const i32 = ctl.i32;
  const lock = procLock(kctx);
  lock.lock();
  try {
    seq.value = Atomics.load(i32, procWord(ctl, self, P_CHILD_SEQ));
    let any = false;
    for (let c = 0; c < ctl.layout.sched.maxProcesses; c++) {
      const s = Atomics.load(i32, procWord(ctl, c, P_STATE));
      if (s === PS_FREE || i32[procWord(ctl, c, P_PARENT)] !== selfPid) continue;
      const cpid = i32[procWord(ctl, c, P_PID)]!;
      if (pid > 0 && cpid !== pid) continue;
      if (s === PS_ZOMBIE) {
        const wstatus = waitStatus(ctl, c);
        procFree(ctl, c);
        return { pid: cpid, wstatus };
      }
      any = true;
    }
    return any ? 0 : -1;
  } finally {
    lock.unlock();
  }
}

/** Parent pid of process `p` as getppid reports it (0 for the host's processes, 1 for orphans). */
export function parentPidOf(ctl: Ctl, p: number): number {
  const pp = ctl.i32[procWord(ctl, p, P_PARENT)]!;
  return pp === PARENT_HOST ? 0 : pp === PARENT_NONE ? 1 : pp;
}

