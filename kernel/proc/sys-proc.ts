/**
 * Process and thread syscalls: clone (fork-style and thread-style), exit with
 * CLONE_CHILD_CLEARTID, wait4, getppid, set_tid_address, set_robust_list/get_robust_list,
 * sched_getaffinity/sched_setaffinity, nanosleep/clock_nanosleep, riscv_flush_icache.
 * (futex: kernel/proc/futex.ts; execve: kernel/proc/exec.ts; the process table: kernel/proc/sys-proc-table.ts.)
 *
 * clone(flags, newsp, ptid, tls, ctid) — riscv64's argument order (glibc's __clone passes tls
 * in a3 and ctid in a4):
 *   CLONE_VM    share the address space (else a copy-on-write fork, kernel/mm/cow.ts);
 *   CLONE_FILES share the fd table (else a copy, kernel/fs/fdtable.ts fdTableFork);
 *   CLONE_THREAD a thread of the caller's process (needs CLONE_VM|CLONE_SIGHAND|CLONE_FILES
 *     here), else a new process whose parent is the caller and whose exit signal is the low byte;
 *   CLONE_SETTLS tp := tls; CLONE_PARENT_SETTID *ptid := tid (caller's memory);
 *   CLONE_CHILD_SETTID *ctid := tid (child's memory, before it runs); CLONE_CHILD_CLEARTID:
 *   at the child's exit *ctid := 0 and a futex wake on it (pthread_join).
 *   CLONE_VFORK (vfork, posix_spawn, system, popen): the caller is suspended until the child
 *     execs or exits (below);
 *   CLONE_FS, CLONE_SIGHAND, CLONE_SYSVSEM, CLONE_DETACHED are accepted (one cwd per fd
 *   table, one signal table per process). Namespaces, pidfds, ptrace: -EINVAL.
 *   clone3 is not registered (-ENOSYS, counted): glibc 2.36's __clone_internal tries it and
 *   falls back to clone, with no faster path lost.
 * A new process (not CLONE_THREAD) gets the caller's process group and session, its comm,
 * and — through the signal layer's clone hook — its signal actions (handlers, ignored signals),
 * blocked mask and sigaltstack; a new thread gets the caller's blocked mask. Nothing pending.
 *
 * vfork, as a restartable killable wait (Linux wait_for_vfork_done): the child's P_VFORK is 1
 * before it first runs; the caller records the child in its thread record (T_VFORK, T_VFORK_PID)
 * and blocks on the child's P_VFORK word with TF_KILLABLE (only a fatal signal interrupts it;
 * other signals stay pending until it returns) and pc back on its ecall. The child's execve
 * (past its point of no return) or its exit stores 0 and wakes the word
 * (sys-proc-table.ts releaseVfork); the woken caller re-runs clone, which, finding T_VFORK set,
 * only finishes the wait and returns the child's pid.
 *
 * Limits (as Linux's fork/clone, errno EAGAIN): a full table — address spaces, fd tables,
 * processes, threads, all sized from --memory — and RLIMIT_NPROC: a clone that would make the
 * machine's tasks (threads of live processes plus unreaped zombies; the guest has one user)
 * exceed the caller's soft RLIMIT_NPROC. Linux exempts root (CAP_SYS_RESOURCE/CAP_SYS_ADMIN)
 * from RLIMIT_NPROC; the guest runs as uid 0, but the limit is enforced anyway so that a stress
 * test can bound a fork storm with setrlimit (default 4,096, which the tables exceed at the
 * default --memory). Out of RAM stays ENOMEM.
 *
 * The scheduler half (threads, run queues, the caller's identity) comes through ProcOps,
 * installed by scheduler/hart-loop.ts with setProcOps: kernel/ never imports scheduler/.
 */
import type { VirtualAddressSpace } from '../mm/aspace.ts';
import type { KernelContext } from '../context.ts';
import { forkAddressSpace } from '../mm/cow.ts';
import { EAGAIN, EFAULT, EINVAL } from '../errno.ts';
import { fdTableFork, fdTablePut, fdTableRlimit, fdTableShare } from '../fs/fdtable.ts';
import { futexWake, readTimespec } from './futex.ts';
import { H_ICACHE_EPOCH } from '../layout.ts';
import {
  CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_DETACHED, CLONE_FILES, CLONE_FS, CLONE_PARENT_SETTID, CLONE_SETTLS,
  CLONE_SIGHAND, CLONE_SYSVSEM, CLONE_THREAD, CLONE_VFORK, CLONE_VM, RLIMIT_NPROC, WNOHANG,
  WCONTINUED, WEXITED, WNOWAIT, WSTOPPED, __WALL, __WCLONE,
} from '../linux-flags.ts';
import { releaseAddressSpace } from '../mm/mmap.ts';
import {
  COMM_BYTES, P_FDT, P_FLAGS, P_NGROUPS, P_PGID, P_PID, P_SID, P_STATE, P_THREADS, P_VFORK, PF_NO_NEW_PRIVS, PF_NOT_DUMPABLE, PF_PERSONA, PS_FREE, T_CLEAR_TID,
  T_COMM, T_FLAGS, T_IOPRIO, T_NICE, T_ROBUST, T_ROBUST_LEN, T_SLEEP, T_SLEEP_END, T_SLEEP_REM, T_TID, T_VFORK, T_VFORK_PID, TF_KILLABLE,
  TF_SLEEP_INTR, THREAD_BYTES,
} from './layout.ts';
import { clockNs, monotonicMs } from './sys-info.ts';
import { copyProcInfo, nowUs } from '../fs/procinfo.ts';
import {
  childChannel, liveTasks, parentPidOf, procAlloc, procFree, procLock, procWord, reapChild, vforkChannel,
} from './sys-proc-table.ts';
import * as N from '../syscalls-table.ts';
import { argInt, argU, NO_RETURN, registerSyscall, replaceSyscall, type SyscallEnv, type SyscallResult } from '../syscall.ts';
import { copyToUser } from '../mm/uaccess.ts';
import './sys-pgrp.ts'; // setpgid, getpgid, getsid, setsid
import './sys-prctl.ts'; // prctl, personality, getres[ug]id, setres[ug]id, capget
import './sys-vmrw.ts'; // process_vm_readv, process_vm_writev
import './sys-priority.ts'; // getpriority, setpriority, getgroups, setgroups
import { rusageBytes, RUSAGE_BYTES } from './sys-rusage.ts'; // getrusage, times (and wait4's rusage)

const ECHILD = 10;
const ESRCH = 3;
const TIMER_ABSTIME = 1;
const ROBUST_HEAD_BYTES = 24; // sizeof(struct robust_list_head)

/** What the scheduler provides to the process syscalls (scheduler/hart-loop.ts). */
export interface ProcOps {
  /** Thread index (scheduler/threads.ts) of the calling thread. */
  currentThread(): number;
  /** Process slot of the calling thread. */
  currentProc(): number;
  /** Harts of the machine. */
  readonly cpus: number;
  /**
   * A new EMBRYO thread in process slot `proc` and address-space slot `asSlot` whose
   * registers are the caller's live ones (pc after the ecall) with a0 := 0, sp := `sp` and
   * tp := `tp` when not null. Its index, or -EAGAIN when the thread table is full.
   */
  newThread(proc: number, asSlot: number, sp: number | null, tp: number | null): number;
  /** Publish EMBRYO thread `tix` to a run queue. */
  startThread(tix: number): void;
  /** Free EMBRYO thread `tix` (creation failed). */
  dropThread(tix: number): void;
  /**
   * execve's switch: the calling thread and its process move to address space `as` (its one
   * reference is taken over) and the old space's reference is released (freed when last);
   * then `as` is switched in on this hart as at any context switch (generation check, policy
   * hooks, the sanitizer told the new space and its root).
   */
  replaceSpace(as: VirtualAddressSpace): void;
}

let ops: ProcOps | null = null;
/** Install this worker's scheduler half. */
export function setProcOps(o: ProcOps): void {
  ops = o;
}
/** This worker's ProcOps (throws when the scheduler is not loaded). */
export function procOps(): ProcOps {
  if (ops === null) throw new Error('sys-proc: no ProcOps installed (import scheduler/hart-loop.ts)');
  return ops;
}

const SUPPORTED = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_SYSVSEM | CLONE_THREAD | CLONE_SETTLS
  | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_VFORK | 0xff;

/**
 * Called by clone for the new thread `childTix` (in process slot `childP`) of thread
 * `parentTix`, before it first runs; `forkProcess` = a new process. The signal layer installs
 * it (kernel/signal/sys-signal.ts: inherit actions, mask, altstack — proc/ never imports signal/).
 */
export type CloneSignalHook = (env: SyscallEnv, parentTix: number, childTix: number, childP: number, forkProcess: boolean) => void;
let cloneSignalHook: CloneSignalHook = () => {};
/** Install the signal layer's clone inheritance (per worker, at import time). */
export function setCloneSignalHook(fn: CloneSignalHook): void {
  cloneSignalHook = fn;
}

/** Word index of field `f` of thread `tix`. */
function tw(env: SyscallEnv, tix: number, f: number): number {
  return (env.kctx.ctl.layout.threads + tix * THREAD_BYTES) / 4 + f;
}

function putU32(env: SyscallEnv, as: VirtualAddressSpace, va: number, v: number): number {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return copyToUser(env.kctx, as, va, b);
}

/** clone(flags, newsp, ptid, tls, ctid): the child's tid, or -errno. */
export function sysClone(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const o = procOps();
  const flags = argInt(a[0]!);
  const sp = argU(a[1]!), ptid = argU(a[2]!), tls = argU(a[3]!), ctid = argU(a[4]!);
  if (env.kctx.ctl.i32[tw(env, o.currentThread(), T_VFORK)] !== 0) return vforkWait(env); // the re-run of a vfork wait
  if (flags & ~SUPPORTED) return -EINVAL;
  const thread = (flags & CLONE_THREAD) !== 0;
  if (flags & CLONE_SIGHAND && !(flags & CLONE_VM)) return -EINVAL; // Linux's rule
  if (thread && (flags & (CLONE_VM | CLONE_SIGHAND | CLONE_FILES)) !== (CLONE_VM | CLONE_SIGHAND | CLONE_FILES)) return -EINVAL;
  const kctx = env.kctx, ctl = kctx.ctl;
  const self = o.currentProc();
  // RLIMIT_NPROC: the new task must not take the user's tasks past the limit (Linux's
  // copy_process; enforced for the guest's uid 0 too, see the file comment).
  if (liveTasks(ctl) + 1 > fdTableRlimit(kctx, ctl.i32[procWord(ctl, self, P_FDT)]!, RLIMIT_NPROC)[0]) return -EAGAIN;
  // The child's address space and fd table: one reference each, given back on failure.
  let as: VirtualAddressSpace;
  if (flags & CLONE_VM) {
    as = env.as;
    as.get();
  } else {
    const f = forkAddressSpace(kctx, env.as);
    if (typeof f === 'number') return f;
    as = f;
  }
  const parentFdt = ctl.i32[procWord(ctl, self, P_FDT)]!;
  let fdt = parentFdt;
  if (!thread) {
    if (flags & CLONE_FILES) fdTableShare(kctx, parentFdt);
    else fdt = fdTableFork(kctx, parentFdt);
  }
  let proc = self;
  let tix = -1;
  const undo = (err: number): number => {
    if (tix >= 0) o.dropThread(tix);
    if (!thread) {
      if (proc !== self) procFree(ctl, proc);
      if (fdt >= 0) fdTablePut(kctx, fdt);
    }
    releaseAddressSpace(kctx, as);
    return err;
  };
  if (fdt < 0) return undo(-EAGAIN); // every fd-table slot taken: a table limit, EAGAIN like the others
  if (!thread) {
    proc = procAlloc(ctl, as.slot, fdt, env.pid, flags & 0xff);
    if (proc < 0) { proc = self; return undo(-EAGAIN); }
    copyProcInfo(ctl, self, proc, nowUs()); // /proc/<pid>: same program and strings as the parent
  }
  tix = o.newThread(proc, as.slot, sp !== 0 ? sp : null, flags & CLONE_SETTLS ? tls : null);
  if (tix < 0) return undo(tix);
  const tid = ctl.i32[tw(env, tix, T_TID)]!;
  if (flags & CLONE_CHILD_SETTID && putU32(env, as, ctid, tid) < 0) return undo(-EFAULT);
  if (flags & CLONE_PARENT_SETTID && putU32(env, env.as, ptid, tid) < 0) return undo(-EFAULT);
  ctl.f64[tw(env, tix, T_CLEAR_TID) / 2] = flags & CLONE_CHILD_CLEARTID ? ctid : 0;
  const parentTix = o.currentThread();
  const comm = tw(env, parentTix, T_COMM);
  ctl.i32.copyWithin(tw(env, tix, T_COMM), comm, comm + COMM_BYTES / 4);
  ctl.i32[tw(env, tix, T_NICE)] = ctl.i32[tw(env, parentTix, T_NICE)]!; // a clone inherits its parent thread's nice
  ctl.i32[tw(env, tix, T_IOPRIO)] = ctl.i32[tw(env, parentTix, T_IOPRIO)]!; // ... and its I/O priority (Linux copy_io)
  if (thread) {
    Atomics.add(ctl.i32, procWord(ctl, proc, P_THREADS), 1);
  } else {
    const lock = procLock(kctx);
    lock.lock();
    ctl.i32[procWord(ctl, proc, P_PGID)] = ctl.i32[procWord(ctl, self, P_PGID)]!;
    ctl.i32[procWord(ctl, proc, P_SID)] = ctl.i32[procWord(ctl, self, P_SID)]!;
    ctl.i32[procWord(ctl, proc, P_FLAGS)] = ctl.i32[procWord(ctl, self, P_FLAGS)]! & (PF_NOT_DUMPABLE | PF_NO_NEW_PRIVS | PF_PERSONA); // no pdeathsig, subreaper, exec mark
    ctl.i32[procWord(ctl, proc, P_NGROUPS)] = ctl.i32[procWord(ctl, self, P_NGROUPS)]!;
    ctl.i32[procWord(ctl, proc, P_PID)] = tid;
    lock.unlock();
    Atomics.store(ctl.i32, procWord(ctl, proc, P_THREADS), 1);
  }
  cloneSignalHook(env, parentTix, tix, proc, !thread);
  const vfork = (flags & CLONE_VFORK) !== 0 && !thread;
  if (vfork) {
    Atomics.store(ctl.i32, procWord(ctl, proc, P_VFORK), 1); // before the child can run, exec or exit
    ctl.i32[tw(env, parentTix, T_VFORK)] = proc + 1;
    ctl.i32[tw(env, parentTix, T_VFORK_PID)] = tid;
  }
  o.startThread(tix);
  return vfork ? vforkWait(env) : tid;
}

/**
 * The vfork caller's wait (see the file comment): the child's pid once it has exec'd or
 * exited (or its slot is gone), else NO_RETURN (blocked; a wake re-runs clone, which comes
 * back here).
 */
function vforkWait(env: SyscallEnv): SyscallResult {
  const ctl = env.kctx.ctl, i32 = ctl.i32;
  const tix = procOps().currentThread();
  const slot = i32[tw(env, tix, T_VFORK)]! - 1, pid = i32[tw(env, tix, T_VFORK_PID)]!;
  const flags = tw(env, tix, T_FLAGS);
  for (;;) {
    const gone = Atomics.load(i32, procWord(ctl, slot, P_STATE)) === PS_FREE || i32[procWord(ctl, slot, P_PID)] !== pid;
    if (gone || Atomics.load(i32, procWord(ctl, slot, P_VFORK)) === 0) {
      i32[tw(env, tix, T_VFORK)] = 0;
      Atomics.and(i32, flags, ~TF_KILLABLE);
      return pid;
    }
    Atomics.or(i32, flags, TF_KILLABLE); // owner hart: the thread is running; the flag rides along while it is blocked
    const r = env.sched.block(vforkChannel(ctl, slot), 1, undefined, { restart: true });
    if (r !== -EAGAIN) return r; // NO_RETURN: parked until the child lets go (or a fatal signal)
  }
}

/**
 * What a thread does before it ends by exit(2) (not exit_group): CLONE_CHILD_CLEARTID /
 * set_tid_address — store 0 at the address and wake one futex waiter there (pthread_join).
 */
export function clearChildTid(env: SyscallEnv): void {
  const tix = procOps().currentThread();
  const f = tw(env, tix, T_CLEAR_TID) / 2;
  const va = env.kctx.ctl.f64[f]!;
  if (va === 0) return;
  env.kctx.ctl.f64[f] = 0;
  if (putU32(env, env.as, va, 0) === 0) futexWake(env, va, 1);
}

/** wait4(pid, wstatus, options, rusage). */
export function sysWait4(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const pid = argInt(a[0]!), statusVa = argU(a[1]!), options = argInt(a[2]!), rusageVa = argU(a[3]!);
  if (options & ~(WNOHANG | 0x2 /* WUNTRACED */ | 0x8 /* WCONTINUED */ | 0x40000000 /* __WALL */ | 0x80000000 | 0x20000000)) return -EINVAL;
  const self = procOps().currentProc();
  const seq = { value: 0 };
  for (;;) {
    const r = reapChild(env.kctx, self, env.pid, pid, seq);
    if (r === -1) return -ECHILD;
    if (r !== 0) {
      if (statusVa !== 0 && putU32(env, env.as, statusVa, r.wstatus) < 0) return -EFAULT;
      if (rusageVa !== 0 && copyToUser(env.kctx, env.as, rusageVa, rusageBytes(r.userNs, r.sysNs, r.maxRssPages * 4)) < 0) return -EFAULT;
      return r.pid;
    }
    if (options & WNOHANG) return 0;
    // Sleep until a child dies, then run wait4 again (its scan finds the new zombie).
    const b = env.sched.block(childChannel(env.kctx.ctl, self), seq.value, undefined, { restart: true });
    if (b !== -EAGAIN) return b; // NO_RETURN (parked), or an errno; -EAGAIN: a child died meanwhile, scan again
  }
}

/**
 * waitid(idtype, id, infop, options, rusage): P_ALL, P_PID, P_PGID (id 0: the caller's group);
 * WEXITED is required (stops and continues are never reported: job-control stops are absent);
 * WNOHANG; WNOWAIT leaves the child waitable. infop gets a siginfo_t as Linux fills it: SIGCHLD,
 * CLD_EXITED / CLD_KILLED, the child's pid, uid 0 and its exit code or signal; all zeros when
 * WNOHANG finds no waitable child (Linux's kernel_waitid writes the zeroed info too).
 */
export function sysWaitid(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const idtype = argInt(a[0]!), id = argInt(a[1]!), infoVa = argU(a[2]!), options = argInt(a[3]!), rusageVa = argU(a[4]!);
  if (options & ~(WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | __WALL | __WCLONE | 0x20000000)) return -EINVAL;
  if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) return -EINVAL;
  let pid: number, group = 0;
  if (idtype === N.P_ALL) pid = -1;
  else if (idtype === N.P_PID) { if (id <= 0) return -EINVAL; pid = id; }
  else if (idtype === N.P_PGID) { if (id < 0) return -EINVAL; pid = id === 0 ? 0 : -1; group = id; }
  else return -EINVAL; // P_PIDFD: no pidfds (pidfd_open is ENOSYS)
  const self = procOps().currentProc();
  const seq = { value: 0 };
  const info = new Uint8Array(SIGINFO_BYTES);
  for (;;) {
    const r = options & WEXITED ? reapChild(env.kctx, self, env.pid, pid, seq, (options & WNOWAIT) !== 0, group) : 0;
    if (r === -1) return -ECHILD;
    if (r !== 0) {
      const dv = new DataView(info.buffer);
      const sig = r.wstatus & 0x7f;
      dv.setInt32(0, SIGCHLD_NR, true);
      dv.setInt32(8, sig ? (r.wstatus & 0x80 ? CLD_DUMPED : CLD_KILLED) : CLD_EXITED, true);
      dv.setInt32(16, r.pid, true);
      dv.setInt32(20, 0, true);
      dv.setInt32(24, sig ? sig : (r.wstatus >> 8) & 0xff, true);
    } else if (!(options & WNOHANG)) {
      const b = env.sched.block(childChannel(env.kctx.ctl, self), seq.value, undefined, { restart: true });
      if (b !== -EAGAIN) return b;
      continue;
    }
    if (infoVa !== 0 && copyToUser(env.kctx, env.as, infoVa, info) < 0) return -EFAULT;
    if (rusageVa !== 0 && copyToUser(env.kctx, env.as, rusageVa, r !== 0 ? rusageBytes(r.userNs, r.sysNs, r.maxRssPages * 4) : new Uint8Array(RUSAGE_BYTES)) < 0) return -EFAULT;
    return 0;
  }
}
const SIGINFO_BYTES = 128;
const SIGCHLD_NR = 17;
const CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3;

/** nanosleep(req, rem). */
export function sysNanosleep(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const t = readTimespec(env, argU(a[0]!));
  if (typeof t === 'number') return t;
  return sleepNs(env, Number(t), argU(a[1]!));
}

/** clock_nanosleep(clockid, flags, req, rem): relative, or TIMER_ABSTIME (flags bit 0). */
export function sysClockNanosleep(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const clock = argInt(a[0]!), flags = argInt(a[1]!);
  const now = clockNs(clock);
  if (now === null || clock === 2 || clock === 3) return -EINVAL; // unknown, or a CPU-time clock
  const t = readTimespec(env, argU(a[2]!));
  if (typeof t === 'number') return t;
  return flags & TIMER_ABSTIME ? sleepNs(env, Math.max(0, Number(t - now))) : sleepNs(env, Number(t), argU(a[3]!));
}
/**
 * Park the caller for `ns` (a channel on its own thread record that nobody wakes). A signal
 * that interrupts the sleep returns -EINTR (never restarted, SA_RESTART or not: signal(7)) and,
 * for a relative sleep, stores the time left at `remVa` (0: none) — see finishInterruptedSleep.
 */
function sleepNs(env: SyscallEnv, ns: number, remVa = 0): SyscallResult {
  if (ns <= 0) {
    env.sched.yieldAfter();
    return 0;
  }
  const ctl = env.kctx.ctl;
  const tix = procOps().currentThread();
  const index = tw(env, tix, T_SLEEP);
  ctl.f64[tw(env, tix, T_SLEEP_END) / 2] = monotonicMs() + ns / 1e6; // the clock of block deadlines
  ctl.f64[tw(env, tix, T_SLEEP_REM) / 2] = remVa;
  return env.sched.block({ key: -1 - index, i32: ctl.i32, index }, ctl.i32[index]!, ns, { sleep: true });
}

/**
 * Thread `tix`, just switched in on this hart with `as`, had its nanosleep ended by a signal
 * (TF_SLEEP_INTR, set by the scheduler's wait queue with the milliseconds left in T_SLEEP_END):
 * write the time left to the sleep's rem pointer, as Linux's nanosleep does before it returns
 * -EINTR, before any handler runs. Returns -EFAULT when rem cannot be written (the syscall's
 * result then), else 0.
 */
export function finishInterruptedSleep(kctx: KernelContext, as: VirtualAddressSpace, tix: number): number {
  const ctl = kctx.ctl;
  const w = (f: number): number => (ctl.layout.threads + tix * THREAD_BYTES) / 4 + f;
  Atomics.and(ctl.i32, w(T_FLAGS), ~TF_SLEEP_INTR);
  const va = ctl.f64[w(T_SLEEP_REM) / 2]!;
  if (va === 0) return 0;
  const ns = BigInt(Math.max(0, Math.round(ctl.f64[w(T_SLEEP_END) / 2]! * 1e6)));
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  dv.setBigInt64(0, ns / 1_000_000_000n, true);
  dv.setBigInt64(8, ns % 1_000_000_000n, true);
  return copyToUser(kctx, as, va, out) < 0 ? -EFAULT : 0;
}

/** sched_getaffinity(pid, len, mask): every hart of the machine. */
export function sysSchedGetaffinity(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const len = argU(a[1]!);
  const cpus = procOps().cpus;
  const bytes = Math.ceil(cpus / 64) * 8;
  if (len < bytes || len % 8 !== 0) return -EINVAL;
  const m = new Uint8Array(bytes);
  for (let c = 0; c < cpus; c++) m[c >> 3]! |= 1 << (c & 7);
  return copyToUser(env.kctx, env.as, argU(a[2]!), m) < 0 ? -EFAULT : bytes;
}

registerSyscall(N.SYS_clone, 'clone', sysClone);
registerSyscall(N.SYS_wait4, 'wait4', sysWait4);
registerSyscall(N.SYS_waitid, 'waitid', sysWaitid);
replaceSyscall(N.SYS_exit, 'exit', (env, a) => {
  clearChildTid(env);
  return env.sched.exitThread(argInt(a[0]!) & 0xff);
});
registerSyscall(N.SYS_getppid, 'getppid', (env) => parentPidOf(env.kctx.ctl, procOps().currentProc()));
registerSyscall(N.SYS_set_tid_address, 'set_tid_address', (env, a) => {
  env.kctx.ctl.f64[tw(env, procOps().currentThread(), T_CLEAR_TID) / 2] = argU(a[0]!);
  return env.tid;
});
registerSyscall(N.SYS_set_robust_list, 'set_robust_list', (env, a) => {
  if (argU(a[1]!) !== ROBUST_HEAD_BYTES) return -EINVAL;
  const tix = procOps().currentThread();
  env.kctx.ctl.f64[tw(env, tix, T_ROBUST) / 2] = argU(a[0]!);
  env.kctx.ctl.i32[tw(env, tix, T_ROBUST_LEN)] = ROBUST_HEAD_BYTES;
  return 0;
});
registerSyscall(N.SYS_get_robust_list, 'get_robust_list', (env, a) => {
  if (argInt(a[0]!) !== 0 && argInt(a[0]!) !== env.tid) return -ESRCH;
  const tix = procOps().currentThread();
  const head = new Uint8Array(8), len = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(env.kctx.ctl.f64[tw(env, tix, T_ROBUST) / 2]!), true);
  new DataView(len.buffer).setBigUint64(0, BigInt(env.kctx.ctl.i32[tw(env, tix, T_ROBUST_LEN)]!), true);
  if (copyToUser(env.kctx, env.as, argU(a[1]!), head) < 0 || copyToUser(env.kctx, env.as, argU(a[2]!), len) < 0) return -EFAULT;
  return 0;
});
registerSyscall(N.SYS_sched_getaffinity, 'sched_getaffinity', sysSchedGetaffinity);
registerSyscall(N.SYS_sched_setaffinity, 'sched_setaffinity', () => 0);
registerSyscall(N.SYS_nanosleep, 'nanosleep', sysNanosleep);
registerSyscall(N.SYS_clock_nanosleep, 'clock_nanosleep', sysClockNanosleep);
registerSyscall(N.SYS_riscv_flush_icache, 'riscv_flush_icache', (env) => {
  Atomics.add(env.kctx.ctl.i32, H_ICACHE_EPOCH, 1); // every hart drops its decode cache at its next batch
  return 0;
});
