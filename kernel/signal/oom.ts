/**
 * The OOM killer: when a user page fault finds no frame even after the page cache gave back
 * what it could (kernel/mm/frames.ts reclaim → kernel/mm/pagecache.ts evictPages), the machine
 * is truly out of memory. As Linux's out_of_memory, the process with the most resident pages
 * (its "badness"; shared COW frames count for each sharer) gets SIGKILL, whichever process
 * happened to fault; the faulting access retries once memory comes back.
 *
 * One victim at a time (SH_OOM_VICTIM holds its pid, like Linux's oom_lock plus the
 * TIF_MEMDIE check): while it is still alive, a faulter that runs out again does not pick
 * another one, nor while the shared pool has free frames again (the victim died between the
 * faulter's failed allocation and its call here); it yields and retries (bounded by the victim's death — SIGKILL wakes a blocked
 * thread and stops a running one at its next batch). The victim may be the faulter's own
 * process; then its SIGKILL is delivered before it returns to user mode.
 *
 * Walking other processes' address spaces: each is found by its slot, so a reference is taken
 * first (VirtualAddressSpace.tryGet) and only then its mmap lock, shared; a space that died
 * meanwhile is skipped. The caller holds no lock.
 *
 * Not covered: a syscall that cannot fault a user page in for want of frames returns EFAULT
 * (kernel/mm/uaccess.ts) instead of invoking the killer; kernel allocations (page tables,
 * region chunks) fail with ENOMEM/SIGBUS as before.
 */
import type { KernelContext } from '../context.ts';
import { VirtualAddressSpace } from '../mm/aspace.ts';
import { releaseAddressSpace, residentPages } from '../mm/mmap.ts';
import { P_AS, P_PID, P_STATE, PS_LIVE, SH_OOM_VICTIM } from '../proc/layout.ts';
import { isExiting, procWord } from '../proc/sys-proc-table.ts';
import { procOfPidAny, sendSignal } from './send.ts';
import { SIGKILL, SI_KERNEL } from './signals.ts';

/** Resident pages of process slot `p`'s address space, or -1 when it is gone or exiting. */
function badness(kctx: KernelContext, p: number): number {
  const ctl = kctx.ctl;
  if (Atomics.load(ctl.i32, procWord(ctl, p, P_STATE)) !== PS_LIVE || isExiting(ctl, p)) return -1;
  let as: VirtualAddressSpace;
  try {
    as = VirtualAddressSpace.attach(kctx, ctl.i32[procWord(ctl, p, P_AS)]!);
  } catch {
    return -1; // its space is already gone
  }
  if (!as.tryGet()) return -1;
  try {
    as.lock.readLock();
    try {
      return residentPages(kctx, as);
    } finally {
      as.lock.readUnlock();
    }
  } finally {
    releaseAddressSpace(kctx, as);
  }
}

/**
 * A user fault of process slot `callerProc` found memory exhausted. Picks and kills a victim
 * (or sees that one is still dying). True: the fault should be retried later (the caller
 * yields; if its own process was picked, SIGKILL is pending for it). False: no process to kill
 * — deliver the fault's SIGBUS.
 */
export function oomKill(kctx: KernelContext, callerProc: number): boolean {
  const ctl = kctx.ctl;
  const vw = ctl.layout.schedHeader / 4 + SH_OOM_VICTIM;
  const prev = Atomics.load(ctl.i32, vw);
  if (prev !== 0) {
    const p = procOfPidAny(ctl, prev);
    if (p >= 0 && Atomics.load(ctl.i32, procWord(ctl, p, P_STATE)) === PS_LIVE) return true; // still dying: wait for it
  }
  // Last-ditch check, as Linux's __alloc_pages_may_oom retries the free lists under oom_lock:
  // the previous victim may have died (and given its frames back) between this fault's failed
  // allocation and now. Then the fault is retried rather than a second process killed.
  if (kctx.frames.stats().poolFree > 0) return true;
  let best = -1, most = -1;
  for (let p = 0; p < ctl.layout.sched.maxProcesses; p++) {
    const n = badness(kctx, p);
    if (n > most) { most = n; best = p; }
  }
  if (best < 0) return isExiting(ctl, callerProc);
  const pid = ctl.i32[procWord(ctl, best, P_PID)]!;
  if (Atomics.compareExchange(ctl.i32, vw, prev, pid) !== prev) return true; // another hart picked one meanwhile
  sendSignal(kctx, pid, SIGKILL, { signo: SIGKILL, code: SI_KERNEL });
  kctx.counters.oomKills++;
  return true;
}
