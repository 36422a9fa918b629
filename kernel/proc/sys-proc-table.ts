/**
 * The process table (kernel/proc/layout.ts P_*): slots, the parent/child tree, process groups
 * and sessions, exit and reaping — the kernel half of processes. scheduler/process.ts (spawn
 * from the host) and kernel/proc/sys-proc.ts (clone, wait4, getppid), sys-pgrp.ts (setpgid,
 * setsid, …) build on it; threads live in scheduler/threads.ts.
 *
 * A process is an address space, an fd table (P_FDT) and its threads; pid = tid of its first
 * thread. Life of a slot:
 *   FREE --procAlloc (CAS)--> LIVE --last thread gone--> ZOMBIE --reaped--> FREE
 *
 * Init. pid 1 (INIT_PID) is the kernel's own init: it has no slot, runs no code and prints
 * nothing. Every process the host spawns is its child (getppid() = 1, pid >= 2, its own process
 * group in init's session 1, like a job a shell started) but is marked PF_HOST_REAP: the host's
 * wait() (scheduler/api.ts) reaps it and so gets its exit status — what `coherent run` returns.
 * Any other child of init (an orphan) is reaped by the kernel the moment it dies: init's
 * wait loop, run inline.
 *
 * Orphans. A dying process's children are re-parented (Linux find_new_reaper) to its nearest
 * living ancestor marked PF_SUBREAPER (prctl PR_SET_CHILD_SUBREAPER), else to init; a zombie
 * child goes along (the subreaper is woken and gets SIGCHLD; init frees it at once). Each
 * re-parented child with a parent-death signal (PR_SET_PDEATHSIG) is sent it.
 *
 * The tree (P_PARENT, P_PGID, P_SID, P_FLAGS, ZOMBIE → FREE of a guest's child) changes only
 * under the SH_PROC_LOCK SpinLock, so a parent exiting and a child dying never both miss the child.
 *
 * Exit publication, by the last thread (its address-space reference already dropped):
 *   vfork parent released (P_VFORK) → fd table put (closes every fd, waking pipe peers) →
 *   lock → P_EXIT := status; P_STATE := ZOMBIE (Atomics.store + notify: the host wait()s on it)
 *   → children re-parented → parent's P_CHILD_SEQ bumped and woken (wait4's channel) → unlock
 *   → childExitHook (SIGCHLD) and the parent-death signals.
 */
import type { KernelContext } from '../context.ts';
import type { Ctl } from '../layout.ts';
import { fdTablePut } from '../fs/fdtable.ts';
import { SpinLock } from '../sync/lock.ts';
import { VirtualAddressSpace } from '../mm/aspace.ts';
import { releaseAddressSpace } from '../mm/mmap.ts';
import { inject, INJ } from '../lab/inject.ts';
import type { Waiter } from '../fs/pipe.ts';
import {
  INIT_PID, P_CHILD_SEQ, P_CMAXRSS, P_CODE, P_CPU_CHILD_S, P_MAXRSS, P_CPU_CHILD_U, P_CPU_DEAD_S, P_CPU_DEAD_U, P_EXIT, P_EXIT_SIGNAL, P_EXITING, P_FDT, P_FLAGS, P_PARENT, P_PGID, P_PID, P_SID,
  P_SIGNAL, P_STATE, P_THREADS, P_AS, P_VFORK, PF_HOST_REAP, PF_PDEATHSIG, PF_SUBREAPER, PROC_BYTES, PS_FREE, PS_LIVE,
  PS_ZOMBIE, SH_PROC_LOCK,
} from './layout.ts';
import type { WaitChannel } from '../syscall.ts';

/** Word index of field `f` of process slot `p`. */
export function procWord(ctl: Ctl, p: number, f: number): number {
  return (ctl.layout.processes + p * PROC_BYTES) / 4 + f;
}

/**
 * The address space of live process slot `p` with one reference taken (release it with
 * releaseAddressSpace), or null for a zombie or a space gone meanwhile. Re-checked after the
 * reference is taken: the slot may have been freed and given to another process in between.
 * `pid` (default: the slot's pid when called) must still be the slot's process then.
 */
export function holdProcSpace(kctx: KernelContext, p: number, pid = kctx.ctl.i32[procWord(kctx.ctl, p, P_PID)]!): VirtualAddressSpace | null {
  const ctl = kctx.ctl;
  const live = (): boolean => Atomics.load(ctl.i32, procWord(ctl, p, P_STATE)) === PS_LIVE;
  const slot = ctl.i32[procWord(ctl, p, P_AS)]!;
  if (!live() || ctl.i32[procWord(ctl, p, P_PID)] !== pid) return null;
  let as: VirtualAddressSpace;
  try { as = VirtualAddressSpace.attach(kctx, slot); } catch { return null; }
  if (!as.tryGet()) return null;
  if (!live() || ctl.i32[procWord(ctl, p, P_AS)] !== slot || ctl.i32[procWord(ctl, p, P_PID)] !== pid) {
    releaseAddressSpace(kctx, as);
    return null;
  }
  return as;
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
 * Claim a free slot: LIVE, zeroed, with `parent` (a pid; INIT_PID for the host's), fd table
 * `fdt`, address-space slot `asSlot` and `exitSignal`; P_PID, P_THREADS, P_PGID, P_SID and
 * P_FLAGS are the caller's to set (the slot is not yet visible as anyone's child: its P_PID is 0).
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

/**
 * Called after a child died (parent pid, child pid, its exit signal): the signal layer sends
 * SIGCHLD. `ended` carries the child's end (killing signal or exit code) when its slot is
 * already gone (auto-reaped); otherwise the hook reads the zombie.
 */
export type ChildExitHook = (kctx: KernelContext, parentPid: number, childPid: number, exitSignal: number,
  ended?: { signal: number; code: number }) => void;
let childExitHook: ChildExitHook = () => {};
/** Install the SIGCHLD sender (the signal module, at import time on each hart). */
export function setChildExitHook(fn: ChildExitHook): void {
  childExitHook = fn;
}

/**
 * What process slot `pp` does with a child that dies, read under the process lock at the
 * death (Linux's do_notify_parent decides both under the parent's siglock):
 * - 'zombie': the child stays waitable and SIGCHLD is sent;
 * - 'reap': SA_NOCLDWAIT with a handler: the child is freed at once, SIGCHLD is still sent;
 * - 'reap-silent': SIGCHLD is SIG_IGN: freed at once and no SIGCHLD at all — even if the parent
 *   installs a handler before the (later, lock-free) send would have reached it.
 * Installed by the signal module.
 */
export type ChildDisposition = 'zombie' | 'reap' | 'reap-silent';
export type AutoReapHook = (kctx: KernelContext, pp: number) => ChildDisposition;
let autoReapHook: AutoReapHook = () => 'zombie';
/** Install the SIGCHLD-disposition reader (the signal module, at import time on each hart). */
export function setAutoReapHook(fn: AutoReapHook): void {
  autoReapHook = fn;
}

/** Called for each orphan given a parent-death signal (pid of the orphan, the signal, the dead parent's pid). */
export type ParentDeathHook = (kctx: KernelContext, childPid: number, sig: number, deadPid: number) => void;
let parentDeathHook: ParentDeathHook = () => {};
/** Install the parent-death signal sender (the signal module, at import time on each hart). */
export function setParentDeathHook(fn: ParentDeathHook): void {
  parentDeathHook = fn;
}

/**
 * Let a vfork parent waiting on process `p` go (the child execs or exits): P_VFORK := 0, then
 * wake its channel. No-op when nobody waits.
 */
export function releaseVfork(ctl: Ctl, p: number, wake: (key: number) => void): void {
  const w = procWord(ctl, p, P_VFORK);
  if (Atomics.load(ctl.i32, w) === 0) return;
  Atomics.store(ctl.i32, w, 0);
  wake(vforkChannel(ctl, p).key);
}

/** The ctl wait channel a vfork parent blocks on (child slot `p`'s P_VFORK, expected 1). */
export function vforkChannel(ctl: Ctl, p: number): WaitChannel {
  const index = procWord(ctl, p, P_VFORK);
  return { key: -1 - index, i32: ctl.i32, index };
}

/**
 * Lock held: the pid orphans of dying process `p` go to — its nearest living ancestor marked
 * PF_SUBREAPER, else INIT_PID (Linux find_new_reaper).
 */
function newReaper(ctl: Ctl, p: number): number {
  let pid = ctl.i32[procWord(ctl, p, P_PARENT)]!;
  for (let hops = 0; pid !== INIT_PID && hops < ctl.layout.sched.maxProcesses; hops++) {
    const a = procOfPid(ctl, pid);
    if (a < 0) break;
    const live = Atomics.load(ctl.i32, procWord(ctl, a, P_STATE)) === PS_LIVE && !isExiting(ctl, a);
    if (live && (ctl.i32[procWord(ctl, a, P_FLAGS)]! & PF_SUBREAPER)) return pid;
    pid = ctl.i32[procWord(ctl, a, P_PARENT)]!;
  }
  return INIT_PID;
}

/** Lock held: zombie `c`'s parent is `parentPid`; true when nobody will wait for it (init's, not the host's) — then free it. */
function initReaps(ctl: Ctl, c: number, parentPid: number): boolean {
  if (parentPid !== INIT_PID || ctl.i32[procWord(ctl, c, P_FLAGS)]! & PF_HOST_REAP) return false;
  procFree(ctl, c);
  return true;
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
  releaseVfork(ctl, p, wake);
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
  let parentPid = INIT_PID;
  let ended: { signal: number; code: number } | undefined;
  let silent = false; // the parent ignored SIGCHLD at the death: nothing to send
  const exitSignal = i32[procWord(ctl, p, P_EXIT_SIGNAL)]!; // read before the slot may be freed
  const notify: { parent: number; child: number; sig: number }[] = []; // zombies handed to a subreaper
  const deathSignals: { child: number; sig: number }[] = [];
  const lock = procLock(kctx);
  lock.lock();
  try {
    const reaper = newReaper(ctl, p);
    const rp = reaper !== INIT_PID ? procOfPid(ctl, reaper) : -1;
    for (let c = 0; c < ctl.layout.sched.maxProcesses; c++) {
      const s = Atomics.load(i32, procWord(ctl, c, P_STATE));
      if (s === PS_FREE || c === p || i32[procWord(ctl, c, P_PARENT)] !== pid) continue;
      i32[procWord(ctl, c, P_PARENT)] = reaper;
      const cpid = i32[procWord(ctl, c, P_PID)]!;
      const sig = i32[procWord(ctl, c, P_FLAGS)]! & PF_PDEATHSIG;
      if (s === PS_LIVE && sig) deathSignals.push({ child: cpid, sig });
      if (s === PS_ZOMBIE && !initReaps(ctl, c, reaper) && rp >= 0) {
        const csig = i32[procWord(ctl, c, P_EXIT_SIGNAL)]!;
        const d = autoReapHook(kctx, rp);
        if (d !== 'zombie') procFree(ctl, c); // the new reaper discards its children's status
        Atomics.add(i32, childChannel(ctl, rp).index, 1);
        if (d !== 'reap-silent') notify.push({ parent: reaper, child: cpid, sig: csig });
      }
    }
    if (rp >= 0 && notify.length) wake(childChannel(ctl, rp).key);
    parentPid = i32[procWord(ctl, p, P_PARENT)]!;
    const pp = parentPid !== INIT_PID ? procOfPid(ctl, parentPid) : -1;
    Atomics.store(i32, procWord(ctl, p, P_STATE), PS_ZOMBIE); // publishes P_EXIT
    Atomics.notify(i32, procWord(ctl, p, P_STATE));
    if (parentPid !== INIT_PID && pp < 0) procFree(ctl, p); // parent gone un-re-parented: cannot happen, but never leak the slot
    else if (!initReaps(ctl, p, parentPid) && pp >= 0) {
      // SIGCHLD ignored or SA_NOCLDWAIT: no zombie; the parent's wait4 still wakes (and finds
      // ECHILD once no child is left), as Linux's.
      const d = autoReapHook(kctx, pp);
      if (d !== 'zombie') {
        ended = { signal: i32[procWord(ctl, p, P_SIGNAL)]!, code: i32[procWord(ctl, p, P_CODE)]! & 0xff };
        procFree(ctl, p);
      }
      silent = d === 'reap-silent';
      const ch = childChannel(ctl, pp);
      Atomics.add(i32, ch.index, 1);
      wake(ch.key);
    }
  } finally {
    lock.unlock();
  }
  inject(ctl, INJ['exit.before-notify']);
  if (parentPid !== INIT_PID && !silent) childExitHook(kctx, parentPid, pid, exitSignal, ended);
  for (const n of notify) childExitHook(kctx, n.parent, n.child, n.sig);
  for (const d of deathSignals) parentDeathHook(kctx, d.child, d.sig, pid);
  return true;
}

/** What wait4 found: a reaped child, none yet (0), or -ECHILD. */
export interface Reaped {
  pid: number;
  wstatus: number;
  /** The child's CPU time with its own reaped children's, ns: what wait4's rusage reports. */
  userNs: number;
  sysNs: number;
  /** Its ru_maxrss in pages: the larger of its own peak and its reaped children's. */
  maxRssPages: number;
}

/**
 * wait4's scan, for the caller `self` (slot) of pid `selfPid`: reap a zombie child matching
 * `pid` (> 0: that child; -1: any child; 0: any child in the caller's process group; < -1: any
 * child in process group -pid — the group it had when it died).
 * Returns the reaped child, 0 when matching children live on, -1 when there is none. With
 * `keep` (waitid's WNOWAIT) the zombie stays, to be waited for again. `group` (> 0) restricts
 * to that process group whatever `pid` says (waitid's P_PGID, which can name group 1).
 * `seq` receives P_CHILD_SEQ as read under the lock (block on it to wait for the next death).
 */
export function reapChild(kctx: KernelContext, self: number, selfPid: number, pid: number, seq: { value: number }, keep = false, group = 0): Reaped | 0 | -1 {
  const ctl = kctx.ctl;
  const i32 = ctl.i32;
  const lock = procLock(kctx);
  lock.lock();
  try {
    seq.value = Atomics.load(i32, procWord(ctl, self, P_CHILD_SEQ));
    const pgid = group !== 0 ? group : pid === 0 ? i32[procWord(ctl, self, P_PGID)]! : pid < -1 ? -pid : 0;
    let any = false;
    for (let c = 0; c < ctl.layout.sched.maxProcesses; c++) {
      const s = Atomics.load(i32, procWord(ctl, c, P_STATE));
      if (s === PS_FREE || i32[procWord(ctl, c, P_PARENT)] !== selfPid) continue;
      const cpid = i32[procWord(ctl, c, P_PID)]!;
      if (pid > 0 && cpid !== pid) continue;
      if (pgid !== 0 && i32[procWord(ctl, c, P_PGID)] !== pgid) continue;
      if (s === PS_ZOMBIE) {
        const wstatus = waitStatus(ctl, c);
        // A zombie's threads have all moved their time to P_CPU_DEAD_*. Reaping adds it (and its
        // own children's) to this process's children's time, as Linux's wait_task_zombie.
        const f = ctl.f64, w = (slot: number, field: number): number => procWord(ctl, slot, field) / 2;
        const userNs = f[w(c, P_CPU_DEAD_U)]! + f[w(c, P_CPU_CHILD_U)]!, sysNs = f[w(c, P_CPU_DEAD_S)]! + f[w(c, P_CPU_CHILD_S)]!;
        // Its peak resident set, and its children's: wait_task_zombie's cmaxrss.
        const maxRssPages = Math.max(i32[procWord(ctl, c, P_MAXRSS)]!, i32[procWord(ctl, c, P_CMAXRSS)]!);
        if (!keep) {
          f[w(self, P_CPU_CHILD_U)] += userNs;
          f[w(self, P_CPU_CHILD_S)] += sysNs;
          const cw = procWord(ctl, self, P_CMAXRSS);
          i32[cw] = Math.max(i32[cw]!, maxRssPages);
          procFree(ctl, c);
        }
        return { pid: cpid, wstatus, userNs, sysNs, maxRssPages };
      }
      any = true;
    }
    return any ? 0 : -1;
  } finally {
    lock.unlock();
  }
}

/** Parent pid of process `p` as getppid reports it (INIT_PID for the host's processes and orphans). */
export function parentPidOf(ctl: Ctl, p: number): number {
  return ctl.i32[procWord(ctl, p, P_PARENT)]!;
}

/** Live (not zombie) processes of process group `pgid`: their slots, in slot order (racy snapshot, as kill reads it). */
export function procsOfGroup(ctl: Ctl, pgid: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < ctl.layout.sched.maxProcesses; p++) {
    if (Atomics.load(ctl.i32, procWord(ctl, p, P_STATE)) !== PS_LIVE) continue;
    if (ctl.i32[procWord(ctl, p, P_PID)] !== 0 && ctl.i32[procWord(ctl, p, P_PGID)] === pgid) out.push(p);
  }
  return out;
}
