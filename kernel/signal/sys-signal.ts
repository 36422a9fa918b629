/**
 * The signal syscalls (Linux riscv64 numbers): rt_sigaction, rt_sigprocmask, rt_sigreturn,
 * rt_sigpending, rt_sigsuspend, rt_sigtimedwait, sigaltstack, kill, tkill, tgkill.
 * Registered at import time (kernel/signal/deliver.ts's importer, scheduler/hart-loop.ts,
 * imports this module). Also installs the SIGPIPE hook of kernel/fs/pipe.ts.
 *
 * riscv64 ABI facts checked against the headers (test/fixtures/sigaction-abi.json):
 *   struct sigaction (kernel) { sa_handler @0; unsigned long sa_flags @8; sigset_t sa_mask @16 }
 *   — 24 bytes: riscv defines no SA_RESTORER, so there is no sa_restorer field; handlers
 *   return through the vDSO-style trampoline. sigset_t is 8 bytes; sigsetsize must be 8.
 *   stack_t { ss_sp @0; int ss_flags @8; size_t ss_size @16 } — 24 bytes.
 *
 * No lost wake-up in sigsuspend / sigtimedwait: the thread reads its ST_SEQ word under the
 * signal lock together with the pending check, then blocks on that word expecting the value
 * it read; a sender bumps ST_SEQ under the same lock before it interrupts the thread, so the
 * block either sees the new value (-EAGAIN: look again) or is found and interrupted.
 */
import type { VirtualAddressSpace } from '../mm/aspace.ts';
import { EAGAIN, EFAULT, EINTR, EINVAL, ENOMEM, EPERM } from '../errno.ts';
import { setExecSignalHook } from '../proc/exec.ts';
import { setSigpipeHook } from '../fs/pipe.ts';
import { decodeSigInfo, encodeSigInfo, onSigStack, parseSignalFrame, RT_SIGFRAME_SIZE, type SigInfo } from './sigframe.ts';
import { ensureSignalTrampoline, readUser } from './deliver.ts';
import {
  ESRCH, forceSignal, procOfPidAny, queueSignal, sendSignal, sendSignalToThread, signalHost, signalState,
} from './send.ts';
import {
  ALL_SIGNALS, liveProcOfPid, pidOf, procField, procOfThread, threadOfTid, tidOf, type SignalState,
} from './state.ts';
import {
  CLD_EXITED, CLD_KILLED, KERNEL_SIGSET_BYTES, MINSIGSTKSZ, NSIG, SIG_BLOCK, SIG_DFL, SIG_IGN, SIG_SETMASK, SIG_UNBLOCK, SIGKILL, SIGPIPE,
  SIGSEGV, SIGSTOP, SI_KERNEL, SI_TKILL, SI_USER, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, sigBit,
} from './signals.ts';
import { argInt, argU, NO_RETURN, registerSyscall, type SyscallEnv } from '../syscall.ts';
import { INIT_PID, P_CODE, P_PGID, P_SIGNAL } from '../proc/layout.ts';
import { procsOfGroup, setAutoReapHook, setChildExitHook, setParentDeathHook } from '../proc/sys-proc-table.ts';
import { setCloneSignalHook } from '../proc/sys-proc.ts';
import { copyToUser } from '../mm/uaccess.ts';
import { timersExec } from './timers.ts';
import './sys-timer.ts'; // setitimer, getitimer, timer_create & co.
import './timerfd.ts'; // timerfd_create, timerfd_settime, timerfd_gettime

import {
  SYS_kill, SYS_tkill, SYS_tgkill, SYS_sigaltstack, SYS_rt_sigsuspend, SYS_rt_sigaction,
  SYS_rt_sigprocmask, SYS_rt_sigpending, SYS_rt_sigtimedwait, SYS_rt_sigreturn,
} from '../syscalls-table.ts';

export {
  SYS_kill, SYS_tkill, SYS_tgkill, SYS_sigaltstack, SYS_rt_sigsuspend, SYS_rt_sigaction,
  SYS_rt_sigprocmask, SYS_rt_sigpending, SYS_rt_sigtimedwait, SYS_rt_sigreturn,
};

/** Bytes of the kernel struct sigaction on riscv64, and its field offsets. */
export const KSIGACTION_BYTES = 24;
export const KSA_HANDLER = 0;
export const KSA_FLAGS = 8;
export const KSA_MASK = 16;

const U64 = (1n << 64n) - 1n;

/** Thread slot of the calling thread (the bound host's current thread, checked by tid). */
function callerTix(env: SyscallEnv): number {
  const host = signalHost();
  const ctl = env.kctx.ctl;
  if (host && host.current >= 0 && tidOf(ctl, host.current) === env.tid) return host.current;
  const t = threadOfTid(ctl, env.tid);
  if (t < 0) throw new Error(`sys-signal: calling thread ${env.tid} not found`);
  return t;
}

const u64 = (v: bigint): bigint => v & U64;
const isNull = (v: bigint): boolean => u64(v) === 0n;

/** Read a 64-bit value from user memory at va, or null. */
function readU64(env: SyscallEnv, va: bigint): bigint | null {
  const b = readUser(env.kctx, env.as, u64(va), 8);
  return b ? new DataView(b.buffer).getBigUint64(0, true) : null;
}
function writeBytes(env: SyscallEnv, va: bigint, bytes: Uint8Array): boolean {
  const a = u64(va);
  return a < 2n ** 53n && copyToUser(env.kctx, env.as, Number(a), bytes) === 0;
}
function u64Bytes(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, u64(v), true);
  return b;
}

/** With the caller's process lock held and its record claimed. */
function withSelf<T>(env: SyscallEnv, fn: (st: SignalState, p: number, tix: number) => T): T {
  const tix = callerTix(env);
  const p = procOfThread(env.kctx.ctl, tix);
  const st = signalState(env.kctx);
  return st.withProc(p, () => {
    st.claimThread(tix);
    return fn(st, p, tix);
  });
}

/** rt_sigaction(sig, act, oact, sigsetsize) */
function rtSigaction(env: SyscallEnv, a: readonly bigint[]): number {
  const sig = argInt(a[0]!);
  if (argU(a[3]!) !== KERNEL_SIGSET_BYTES) return -EINVAL;
  if (!(sig >= 1 && sig <= NSIG)) return -EINVAL;
  let next: { handler: bigint; flags: number; mask: bigint } | null = null;
  if (!isNull(a[1]!)) {
    if (sig === SIGKILL || sig === SIGSTOP) return -EINVAL;
    const b = readUser(env.kctx, env.as, u64(a[1]!), KSIGACTION_BYTES);
    if (!b) return -EFAULT;
    const dv = new DataView(b.buffer);
    next = { handler: dv.getBigUint64(KSA_HANDLER, true), flags: Number(dv.getBigUint64(KSA_FLAGS, true) & 0xffff_ffffn), mask: dv.getBigUint64(KSA_MASK, true) };
  }
  const old = withSelf(env, (st, p) => {
    const o = st.action(p, sig);
    if (next) {
      st.setAction(p, sig, next);
      if (st.ignored(p, sig)) st.discard(p, sig); // Linux: a newly ignored signal is dropped from every queue
    }
    return o;
  });
  if (!isNull(a[2]!)) {
    const out = new Uint8Array(KSIGACTION_BYTES);
    const dv = new DataView(out.buffer);
    dv.setBigUint64(KSA_HANDLER, old.handler, true);
    dv.setBigUint64(KSA_FLAGS, BigInt(old.flags >>> 0), true);
    dv.setBigUint64(KSA_MASK, old.mask, true);
    if (!writeBytes(env, a[2]!, out)) return -EFAULT;
  }
  if (next && next.handler !== SIG_DFL && next.handler !== SIG_IGN) ensureSignalTrampoline(env.kctx, env.as);
  return 0;
}

/** rt_sigprocmask(how, set, oset, sigsetsize) */
function rtSigprocmask(env: SyscallEnv, a: readonly bigint[]): number {
  if (argU(a[3]!) !== KERNEL_SIGSET_BYTES) return -EINVAL;
  const how = argInt(a[0]!);
  let set: bigint | null = null;
  if (!isNull(a[1]!)) {
    set = readU64(env, a[1]!);
    if (set === null) return -EFAULT;
    if (how !== SIG_BLOCK && how !== SIG_UNBLOCK && how !== SIG_SETMASK) return -EINVAL;
  }
  const old = withSelf(env, (st, _p, tix) => {
    const o = st.blocked(tix);
    if (set !== null) st.setBlocked(tix, how === SIG_BLOCK ? o | set : how === SIG_UNBLOCK ? o & ~set : set);
    return o;
  });
  if (!isNull(a[2]!) && !writeBytes(env, a[2]!, u64Bytes(old))) return -EFAULT;
  return 0; // a signal just unblocked is delivered before the thread returns to user mode
}

/** rt_sigpending(set, sigsetsize): pending signals that are blocked. */
function rtSigpending(env: SyscallEnv, a: readonly bigint[]): number {
  const size = argU(a[1]!);
  if (size > KERNEL_SIGSET_BYTES) return -EINVAL;
  const pend = withSelf(env, (st, p, tix) => (st.threadPending(tix) | st.procPending(p)) & st.blocked(tix));
  return writeBytes(env, a[0]!, u64Bytes(pend).subarray(0, size)) ? 0 : -EFAULT;
}

/** Block the caller on its ST_SEQ word (value `seq`); the syscall result is whatever wakes it. */
function blockOnSeq(env: SyscallEnv, tix: number, seq: number, timeoutNs?: number): number | typeof NO_RETURN {
  const st = signalState(env.kctx);
  const index = st.seqIndex(tix);
  return env.sched.block({ key: -1 - index, i32: env.kctx.ctl.i32, index }, seq, timeoutNs);
}

/** rt_sigsuspend(mask, sigsetsize): wait for a handler to run with `mask` installed; always -EINTR. */
function rtSigsuspend(env: SyscallEnv, a: readonly bigint[]): number | typeof NO_RETURN {
  if (argU(a[1]!) !== KERNEL_SIGSET_BYTES) return -EINVAL;
  const mask = readU64(env, a[0]!);
  if (mask === null) return -EFAULT;
  const tix = callerTix(env);
  for (let tries = 0; tries < 64; tries++) {
    const seq = withSelf(env, (st, p) => {
      if (st.savedMask(tix) === null) st.setSavedMask(tix, st.blocked(tix));
      st.setBlocked(tix, mask);
      const ready = (st.threadPending(tix) | st.procPending(p)) & ~st.blocked(tix);
      return ready !== 0n ? -1 : Atomics.load(env.kctx.ctl.i32, st.seqIndex(tix));
    });
    if (seq < 0) return -EINTR; // delivered on the way out, with the saved mask in its frame
    const r = blockOnSeq(env, tix, seq);
    if (r !== -EAGAIN) return r === NO_RETURN ? NO_RETURN : -EINTR;
  }
  return -EINTR;
}

/** rt_sigtimedwait(set, info, timeout, sigsetsize): dequeue a pending signal of `set` without running its handler. */
function rtSigtimedwait(env: SyscallEnv, a: readonly bigint[]): number | typeof NO_RETURN {
  if (argU(a[3]!) !== KERNEL_SIGSET_BYTES) return -EINVAL;
  const set = readU64(env, a[0]!);
  if (set === null) return -EFAULT;
  let timeoutNs: number | undefined;
  if (!isNull(a[2]!)) {
    const ts = readUser(env.kctx, env.as, u64(a[2]!), 16);
    if (!ts) return -EFAULT;
    const dv = new DataView(ts.buffer);
    const sec = dv.getBigInt64(0, true), nsec = dv.getBigInt64(8, true);
    if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) return -EINVAL;
    timeoutNs = Number(sec) * 1e9 + Number(nsec);
  }
  const want = set & ALL_SIGNALS & ~(sigBit(SIGKILL) | sigBit(SIGSTOP));
  const tix = callerTix(env);
  const got = withSelf(env, (st, p) => {
    const pend = (st.threadPending(tix) | st.procPending(p)) & want;
    if (pend === 0n) {
      st.setTimedWaitSet(tix, want); // senders of `want` wake this thread although it blocks them
      return Atomics.load(env.kctx.ctl.i32, st.seqIndex(tix));
    }
    st.setTimedWaitSet(tix, 0n);
    let sig = 1;
    while (((pend >> BigInt(sig - 1)) & 1n) === 0n) sig++;
    return { sig, info: st.takePending(p, tix, sig)! };
  });
  if (typeof got === 'object') {
    if (!isNull(a[1]!) && !writeBytes(env, a[1]!, encodeSigInfo(got.info))) return -EFAULT;
    return got.sig;
  }
  if (timeoutNs === 0) {
    withSelf(env, (st) => st.setTimedWaitSet(tix, 0n));
    return -EAGAIN;
  }
  // A restartable block: a signal of `want` wakes it plainly (kernel/signal/send.ts) and the
  // syscall runs again and dequeues it. Deviation: a timeout returns -ETIMEDOUT, not -EAGAIN,
  // and a re-run starts the timeout afresh.
  const index = signalState(env.kctx).seqIndex(tix);
  const r = env.sched.block({ key: -1 - index, i32: env.kctx.ctl.i32, index }, got, timeoutNs, { restart: true });
  return r === -EAGAIN ? rtSigtimedwait(env, a) : r;
}

/** rt_sigreturn(): restore the context saved in the rt_sigframe at sp. */
function rtSigreturn(env: SyscallEnv): typeof NO_RETURN {
  const kctx = env.kctx;
  const tix = callerTix(env);
  const sp = u64(env.getReg(2));
  const bytes = readUser(kctx, env.as, sp, RT_SIGFRAME_SIZE);
  const ctx = bytes ? parseSignalFrame(bytes) : null;
  if (!ctx) {
    forceSignal(kctx, tix, { signo: SIGSEGV, code: SI_KERNEL });
    return NO_RETURN;
  }
  for (let i = 1; i < 32; i++) env.setReg(i, ctx.x[i]!);
  env.pc = Number(BigInt.asIntN(64, ctx.pc));
  const host = signalHost();
  if (host && host.current === tix) {
    host.hart.fpu.fi32.set(new Int32Array(ctx.f.buffer, ctx.f.byteOffset, 64));
    host.hart.fpu.writeFcsr(ctx.fcsr);
  }
  withSelf(env, (st) => {
    st.setBlocked(tix, ctx.mask);
    // restore_altstack: apply uc_stack as sigaltstack would; errors are ignored.
    applyAltStack(st, tix, u64(env.getReg(2)), ctx.altStack.sp, ctx.altStack.size, ctx.altStack.flags);
  });
  return NO_RETURN;
}

/** do_sigaltstack's update half (lock held): 0 or -errno. `sp` = the caller's stack pointer. */
function applyAltStack(st: SignalState, tix: number, sp: bigint, ssSp: bigint, ssSize: bigint, ssFlags: number): number {
  if (onSigStack(st.altStack(tix), sp)) return -EPERM;
  const mode = ssFlags & ~SS_AUTODISARM;
  if (mode !== SS_DISABLE && mode !== SS_ONSTACK && mode !== 0) return -EINVAL;
  if (mode === SS_DISABLE) {
    st.setAltStack(tix, { sp: 0n, size: 0n, flags: SS_DISABLE });
    return 0;
  }
  if (ssSize < BigInt(MINSIGSTKSZ)) return -ENOMEM;
  st.setAltStack(tix, { sp: ssSp, size: ssSize, flags: ssFlags & SS_AUTODISARM });
  return 0;
}

/** sigaltstack(ss, oss) */
function sigaltstack(env: SyscallEnv, a: readonly bigint[]): number {
  let next: { sp: bigint; flags: number; size: bigint } | null = null;
  if (!isNull(a[0]!)) {
    const b = readUser(env.kctx, env.as, u64(a[0]!), 24);
    if (!b) return -EFAULT;
    const dv = new DataView(b.buffer);
    next = { sp: dv.getBigUint64(0, true), flags: dv.getInt32(8, true), size: dv.getBigUint64(16, true) };
  }
  const sp = u64(env.getReg(2));
  const r = withSelf(env, (st, _p, tix) => {
    const cur = st.altStack(tix);
    const mode = cur.size === 0n ? SS_DISABLE : onSigStack(cur, sp) ? SS_ONSTACK : 0;
    const old = { sp: cur.sp, size: cur.size, flags: mode | (cur.flags & SS_AUTODISARM) };
    const err = next ? applyAltStack(st, tix, sp, next.sp, next.size, next.flags) : 0;
    return { old, err };
  });
  if (!isNull(a[1]!)) {
    const out = new Uint8Array(24);
    const dv = new DataView(out.buffer);
    dv.setBigUint64(0, r.old.sp, true);
    dv.setInt32(8, r.old.flags, true);
    dv.setBigUint64(16, r.old.size, true);
    if (!writeBytes(env, a[1]!, out)) return -EFAULT;
  }
  return r.err;
}

/**
 * kill(pid, sig): pid > 0 that process (init, pid 1, takes nothing: it has no handlers — Linux
 * drops such signals to init, and kill returns 0); 0 every process of the caller's process
 * group; < -1 every process of group -pid; -1 every process but init and the caller.
 * -ESRCH when nothing was found, -EINVAL for a bad signal.
 */
function kill(env: SyscallEnv, a: readonly bigint[]): number {
  const pid = argInt(a[0]!), sig = argInt(a[1]!);
  if (!(sig >= 0 && sig <= NSIG)) return -EINVAL;
  const info: SigInfo = { signo: sig, code: SI_USER, pid: env.pid, uid: 0 };
  const self = callerTix(env);
  const ctl = env.kctx.ctl;
  if (pid === INIT_PID) return 0;
  if (pid > 0) return sendSignal(env.kctx, pid, sig, info, self);
  if (pid === -1) {
    let sent = 0;
    for (let p = 0; p < ctl.layout.sched.maxProcesses; p++) {
      const other = pidOf(ctl, p);
      if (other === env.pid || other <= INIT_PID || liveProcOfPid(ctl, other) !== p) continue;
      if (queueSignal(env.kctx, p, -1, sig, info) === 0) sent++;
    }
    return sent > 0 ? 0 : -ESRCH;
  }
  const pgid = pid === 0 ? ctl.i32[procField(ctl, procOfThread(ctl, self), P_PGID)]! : -pid;
  const members = pgid === INIT_PID ? [] : procsOfGroup(ctl, pgid);
  if (members.length === 0) return pgid === INIT_PID ? 0 : -ESRCH;
  // The caller last, so a signal that ends it cannot stop the others from getting theirs.
  const mine = procOfThread(ctl, self);
  for (const p of members) if (p !== mine) queueSignal(env.kctx, p, -1, sig, info);
  if (members.includes(mine)) queueSignal(env.kctx, mine, -1, sig, info, self);
  return 0;
}

/** tgkill(tgid, tid, sig) / tkill(tid, sig) (tgid -1: any). */
function tgkill(env: SyscallEnv, tgid: number, tid: number, sig: number): number {
  if (tid <= 0 || (tgid !== -1 && tgid <= 0)) return -EINVAL;
  if (!(sig >= 0 && sig <= NSIG)) return -EINVAL;
  const ctl = env.kctx.ctl;
  const t = threadOfTid(ctl, tid);
  if (t < 0 || (tgid !== -1 && pidOf(ctl, procOfThread(ctl, t)) !== tgid)) return -ESRCH;
  return sendSignalToThread(env.kctx, tid, sig, { signo: sig, code: SI_TKILL, pid: env.pid, uid: 0 });
}

registerSyscall(SYS_rt_sigaction, 'rt_sigaction', rtSigaction);
registerSyscall(SYS_rt_sigprocmask, 'rt_sigprocmask', rtSigprocmask);
registerSyscall(SYS_rt_sigpending, 'rt_sigpending', rtSigpending);
registerSyscall(SYS_rt_sigsuspend, 'rt_sigsuspend', rtSigsuspend);
registerSyscall(SYS_rt_sigtimedwait, 'rt_sigtimedwait', rtSigtimedwait);
registerSyscall(SYS_rt_sigreturn, 'rt_sigreturn', rtSigreturn);
registerSyscall(SYS_sigaltstack, 'sigaltstack', sigaltstack);
registerSyscall(SYS_kill, 'kill', kill);
registerSyscall(SYS_tkill, 'tkill', (env, a) => tgkill(env, -1, argInt(a[0]!), argInt(a[1]!)));
registerSyscall(SYS_tgkill, 'tgkill', (env, a) => tgkill(env, argInt(a[0]!), argInt(a[1]!), argInt(a[2]!)));

// SIGPIPE to the thread whose write found no reader (kernel/fs/pipe.ts calls this before -EPIPE).
setSigpipeHook(() => {
  const host = signalHost();
  if (!host || host.current < 0) return;
  const ctl = host.kctx.ctl;
  const tix = host.current;
  queueSignal(host.kctx, procOfThread(ctl, tix), tix, SIGPIPE, { signo: SIGPIPE, code: SI_USER, pid: pidOf(ctl, procOfThread(ctl, tix)), uid: 0 });
});

// SIGCHLD (or the child's exit signal) to the parent of a process that died
// (kernel/proc/sys-proc-table.ts threadGone). No core files are written, so a core-dumping
// default action reports CLD_KILLED (Linux with RLIMIT_CORE 0), like the wait status.
setChildExitHook((kctx, parentPid, childPid, exitSignal, ended) => {
  if (!(exitSignal >= 1 && exitSignal <= NSIG)) return;
  const ctl = kctx.ctl;
  const c = ended ? -1 : procOfPidAny(ctl, childPid); // still a zombie unless the parent reaped it already
  const killedBy = ended ? ended.signal : c >= 0 ? ctl.i32[procField(ctl, c, P_SIGNAL)]! : 0;
  const status = ended ? killedBy || ended.code : c < 0 ? 0 : killedBy || ctl.i32[procField(ctl, c, P_CODE)]! & 0xff;
  const host = signalHost();
  sendSignal(kctx, parentPid, exitSignal, {
    signo: exitSignal, code: killedBy ? CLD_KILLED : CLD_EXITED, pid: childPid, uid: 0, status,
  }, host && host.kctx.ctl === ctl ? host.current : -1);
});

// A dying child of a parent whose SIGCHLD is SIG_IGN or has SA_NOCLDWAIT is freed at once, and
// under SIG_IGN no SIGCHLD is sent (kernel/proc/sys-proc-table.ts threadGone). A racy read of the action, as the exit path of
// Linux reads it under siglock only to serialize with a concurrent sigaction.
setAutoReapHook((kctx, pp) => signalState(kctx).childDisposition(pp));

// clone/fork (kernel/proc/sys-proc.ts): a new process copies the actions (handlers and ignored
// signals), the blocked mask and the sigaltstack; a new thread the blocked mask. Nothing pending.
setCloneSignalHook((env, parentTix, childTix, childP, forkProcess) => {
  signalState(env.kctx).inheritSignals(parentTix, childTix, childP, forkProcess);
});

// prctl(PR_SET_PDEATHSIG) (kernel/proc/sys-proc-table.ts threadGone): the orphan gets its signal
// from the parent that died (Linux: SEND_SIG_NOINFO, si_code SI_USER, the sender's pid).
setParentDeathHook((kctx, childPid, sig, deadPid) => {
  sendSignal(kctx, childPid, sig, { signo: sig, code: SI_USER, pid: deadPid, uid: 0 });
});

// execve (kernel/proc/exec.ts, past its point of no return): caught handlers back to SIG_DFL,
// ignored ones kept, the blocked mask and pending signals kept, the altstack dropped; POSIX
// timers deleted (kernel/signal/timers.ts).
setExecSignalHook((env) => {
  const tix = callerTix(env);
  signalState(env.kctx).execSignals(procOfThread(env.kctx.ctl, tix), tix);
  timersExec(env.kctx, env.pid); // POSIX timers are deleted; ITIMER_REAL (alarm) survives
});

export { decodeSigInfo };
