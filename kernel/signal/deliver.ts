/**
 * Delivering signals on the way back to user mode (Linux arch_do_signal_or_restart +
 * get_signal + setup_rt_frame), and turning hardware traps into signals.
 *
 * scheduler/hart-loop.ts calls, for its current thread `tix`:
 *   signalsBeforeRun(host, tix, as) — before every quantum (after a syscall, a trap, a
 *     wake-up, a switch-in). A lock-free look at the pending and blocked words decides
 *     whether there is anything to do; if so, each pending unblocked signal is taken —
 *     thread-directed first, then process-wide; synchronous ones (SIGSEGV, SIGBUS, SIGILL,
 *     SIGTRAP, SIGFPE, SIGSYS) before the rest, then by number — and
 *       ignored (SIG_IGN, or a default of ignore / stop / continue: no job control here) → dropped;
 *       default term/core → the whole process exits, killed by it (status 128 + N);
 *       a handler → an rt_sigframe (kernel/signal/sigframe.ts) on the user stack or the altstack,
 *         pc = handler, sp = frame, a0 = signo, a1 = &info, a2 = &uc, ra = the trampoline;
 *         blocked |= sa_mask | signo (unless SA_NODEFER); SA_RESETHAND resets the action.
 *         A frame that cannot be written (bad stack) forces SIGSEGV (Linux force_sigsegv).
 *     Several pending signals nest: each frame goes below the previous one.
 *     Returns false when the thread is gone (killed).
 *   trapSignal(host, tix, cause, tval) — a trap other than ecall / a resolvable page fault:
 *     the synchronous signal is forced (kernel/signal/send.ts forceSignal) and delivered by
 *     the next signalsBeforeRun.
 *
 * The trampoline (`li a7, 139; ecall`) lives in one read-only executable page at SIGTRAMP_VA
 * in every address space that installs a handler (mapSignalTrampoline; mapped lazily by
 * rt_sigaction and by delivery when exec/spawn did not map it).
 */
import { PAGE_SIZE } from '../../cpu/ram.ts';
import {
  CAUSE_BREAKPOINT, CAUSE_ILLEGAL_INSTRUCTION, CAUSE_INSTRUCTION_ACCESS_FAULT, CAUSE_INSTRUCTION_MISALIGNED,
  CAUSE_LOAD_ACCESS_FAULT, CAUSE_LOAD_MISALIGNED, CAUSE_STORE_ACCESS_FAULT, CAUSE_STORE_MISALIGNED,
} from '../../cpu/trap.ts';
import type { VirtualAddressSpace } from '../mm/aspace.ts';
import type { KernelContext } from '../context.ts';
import { EEXIST } from '../errno.ts';
import type { FaultSignal } from '../mm/fault.ts';
import { mmap, mprotect } from '../mm/mmap.ts';
import { buildSignalFrame, SIGRETURN_TRAMPOLINE, altStackMode, type AltStack, type SigInfo } from './sigframe.ts';
import { SIGTRAMP_VA } from './layout.ts';
import { forceSignal, forceSigsegv, signalState, type SignalHost } from './send.ts';
import { DEFAULT_ACTION, procOfThread, type SigAction } from './state.ts';
import {
  BUS_ADRALN, BUS_ADRERR, ILL_ILLOPC, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SIG_DFL, SIG_IGN, SIGBUS, SIGFPE, SIGILL,
  SIGSEGV, SIGSYS, SIGTRAP, SEGV_ACCERR, SS_AUTODISARM, SS_DISABLE, TRAP_BRKPT, defaultAction, sigBit,
} from './signals.ts';
import { copyFromUser, copyToUser } from '../mm/uaccess.ts';
import { MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from '../mm/abi.ts';

const U64 = (1n << 64n) - 1n;
const SYNCHRONOUS = sigBit(SIGSEGV) | sigBit(SIGBUS) | sigBit(SIGILL) | sigBit(SIGTRAP) | sigBit(SIGFPE) | sigBit(SIGSYS);

/**
 * Map the signal trampoline page at SIGTRAMP_VA in `as` (read + execute, private). 0 when it
 * is mapped (now or already: an existing mapping there is left alone), else -errno.
 * spawn/exec may call it; delivery and rt_sigaction call ensureSignalTrampoline.
 */
export function mapSignalTrampoline(kctx: KernelContext, as: VirtualAddressSpace): number {
  const r = mmap(kctx, as, SIGTRAMP_VA, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
  if (r === -EEXIST) return 0;
  if (r < 0) return r;
  const c = copyToUser(kctx, as, SIGTRAMP_VA, SIGRETURN_TRAMPOLINE);
  if (c < 0) return c;
  return mprotect(kctx, as, SIGTRAMP_VA, PAGE_SIZE, PROT_READ | PROT_EXEC);
}

/** True when `as` has a mapping at SIGTRAMP_VA. */
function trampolineMapped(as: VirtualAddressSpace): boolean {
  as.lock.readLock();
  try {
    return as.regions.find(SIGTRAMP_VA / PAGE_SIZE) >= 0;
  } finally {
    as.lock.readUnlock();
  }
}

/** mapSignalTrampoline unless already mapped; 0 or -errno. */
export function ensureSignalTrampoline(kctx: KernelContext, as: VirtualAddressSpace): number {
  return trampolineMapped(as) ? 0 : mapSignalTrampoline(kctx, as);
}

/** The signal of `set` taken first: synchronous ones first, then the lowest number. */
export function pickSignal(set: bigint): number {
  const s = set & SYNCHRONOUS ? set & SYNCHRONOUS : set;
  let sig = 1;
  for (let b = s; (b & 1n) === 0n; b >>= 1n) sig++;
  return sig;
}

/** What to do with the signal taken from the pending sets. */
type Decision =
  | { kind: 'none' }
  | { kind: 'skip' }
  | { kind: 'kill'; sig: number }
  | { kind: 'handle'; sig: number; info: SigInfo; act: SigAction; blocked: bigint; saved: bigint; alt: AltStack };

/** Take one deliverable signal of thread tix (lock held inside); restores sigsuspend's mask when none. */
function takeOne(kctx: KernelContext, p: number, tix: number): Decision {
  const st = signalState(kctx);
  return st.withProc(p, (): Decision => {
    st.claimThread(tix);
    const blocked = st.blocked(tix);
    const mine = st.threadPending(tix) & ~blocked;
    const set = mine !== 0n ? mine : st.procPending(p) & ~blocked;
    if (set === 0n) {
      const saved = st.savedMask(tix);
      if (saved !== null) {
        st.setBlocked(tix, saved);
        st.setSavedMask(tix, null);
      }
      return { kind: 'none' };
    }
    const sig = pickSignal(set);
    const info = st.takePending(p, tix, sig) ?? { signo: sig, code: 0 };
    const act = st.action(p, sig);
    if (act.handler === SIG_IGN) return { kind: 'skip' };
    if (act.handler === SIG_DFL) {
      const d = defaultAction(sig);
      // stop / continue: no job control in this kernel, treated as ignore.
      return d === 'term' || d === 'core' ? { kind: 'kill', sig } : { kind: 'skip' };
    }
    return { kind: 'handle', sig, info, act, blocked, saved: st.savedMask(tix) ?? blocked, alt: st.altStack(tix) };
  });
}

/**
 * Deliver every pending unblocked signal of the current thread `tix` (see the file comment).
 * Cheap when nothing is pending. False when the thread was killed (it must not run).
 */
export function signalsBeforeRun(host: SignalHost, tix: number, as: VirtualAddressSpace): boolean {
  const kctx = host.kctx;
  const p = procOfThread(kctx.ctl, tix);
  const st = signalState(kctx);
  if (!st.mayHaveWork(p, tix)) return true;
  for (let n = 0; n < 130; n++) { // each round consumes a pending signal; bounded for safety
    const d = takeOne(kctx, p, tix);
    if (d.kind === 'none') return true;
    if (d.kind === 'skip') continue;
    if (d.kind === 'kill') {
      host.exitGroup(0, d.sig);
      return false;
    }
    if (!setupFrame(host, as, d)) {
      forceSigsegv(kctx, tix, d.sig);
      continue;
    }
    st.withProc(p, () => {
      let nb = d.blocked | d.act.mask;
      if (!(d.act.flags & SA_NODEFER)) nb |= sigBit(d.sig);
      st.setBlocked(tix, nb);
      st.setSavedMask(tix, null);
      if (d.act.flags & SA_RESETHAND) st.setAction(p, d.sig, DEFAULT_ACTION);
    });
  }
  return true;
}

/** Build and copy the frame and point the hart at the handler; false when the frame cannot be written. */
function setupFrame(host: SignalHost, as: VirtualAddressSpace, d: Extract<Decision, { kind: 'handle' }>): boolean {
  const kctx = host.kctx;
  const h = host.hart;
  if (ensureSignalTrampoline(kctx, as) < 0) return false;
  const sp = (BigInt(h.x[5]! >>> 0) << 32n) | BigInt(h.x[4]! >>> 0);
  const alt = { ...d.alt, flags: altStackMode(d.alt, sp) | (d.alt.flags & SS_AUTODISARM) };
  const fpu = h.fpu.fi32;
  const frame = buildSignalFrame({
    context: { x: h.x, pc: BigInt(h.pc) & U64, f: new Uint8Array(fpu.buffer, fpu.byteOffset, 256), fcsr: h.fpu.readFcsr() },
    info: d.info, savedMask: d.saved, altStack: alt, saFlags: d.act.flags, handler: d.act.handler, trampoline: BigInt(SIGTRAMP_VA),
  });
  if (!frame) return false;
  if (frame.frameVa >= 2n ** 53n || copyToUser(kctx, as, Number(frame.frameVa), frame.bytes) < 0) return false;
  const r = frame.regs;
  const set = (i: number, v: bigint): void => {
    h.x[2 * i] = Number(BigInt.asIntN(32, v));
    h.x[2 * i + 1] = Number(BigInt.asIntN(32, v >> 32n));
  };
  set(1, r.ra);
  set(2, r.sp);
  set(10, r.a0);
  set(11, r.a1);
  set(12, r.a2);
  h.pc = Number(BigInt.asIntN(64, r.pc));
  if (frame.disarmAltStack) {
    const st = signalState(kctx);
    const tix = host.current;
    st.withProc(procOfThread(kctx.ctl, tix), () => st.setAltStack(tix, { sp: 0n, size: 0n, flags: SS_DISABLE }));
  }
  return true;
}

/**
 * The synchronous signal for a trap of `cause` at `tval` (not an ecall, not a page fault):
 * illegal instruction → SIGILL ILL_ILLOPC (si_addr = pc); ebreak → SIGTRAP TRAP_BRKPT;
 * misaligned AMO / LR / SC → SIGBUS BUS_ADRALN; access faults → SIGBUS BUS_ADRERR;
 * anything else SIGSEGV. `pc` is the trapping instruction's.
 */
export function trapInfo(cause: number, tval: number, pc: number): SigInfo {
  const addr = (v: number): bigint => BigInt.asUintN(64, BigInt(Math.trunc(v)));
  switch (cause) {
    case CAUSE_ILLEGAL_INSTRUCTION: return { signo: SIGILL, code: ILL_ILLOPC, addr: addr(pc) };
    case CAUSE_BREAKPOINT: return { signo: SIGTRAP, code: TRAP_BRKPT, addr: addr(pc) };
    case CAUSE_LOAD_MISALIGNED: case CAUSE_STORE_MISALIGNED: case CAUSE_INSTRUCTION_MISALIGNED:
      return { signo: SIGBUS, code: BUS_ADRALN, addr: addr(tval) };
    case CAUSE_LOAD_ACCESS_FAULT: case CAUSE_STORE_ACCESS_FAULT: case CAUSE_INSTRUCTION_ACCESS_FAULT:
      return { signo: SIGBUS, code: BUS_ADRERR, addr: addr(tval) };
    default: return { signo: SIGSEGV, code: SEGV_ACCERR, addr: addr(tval) };
  }
}

/** Force the signal for trap `cause` on thread `tix` (delivered by the next signalsBeforeRun). */
export function trapSignal(kctx: KernelContext, tix: number, cause: number, tval: number, pc: number): void {
  forceSignal(kctx, tix, trapInfo(cause, tval, pc));
}

/** Force the signal a page fault could not resolve (kernel/mm/fault.ts) on thread `tix`. */
export function faultSignal(kctx: KernelContext, tix: number, f: FaultSignal): void {
  forceSignal(kctx, tix, { signo: f.signo, code: f.code, addr: BigInt.asUintN(64, BigInt(Math.trunc(f.addr))) });
}

/** Read `len` bytes of user memory, or null (a tiny wrapper the syscalls share). */
export function readUser(kctx: KernelContext, as: VirtualAddressSpace, va: bigint, len: number): Uint8Array | null {
  if (va < 0n || va >= 2n ** 53n) return null;
  const r = copyFromUser(kctx, as, Number(va), len);
  return typeof r === 'number' ? null : r;
}
