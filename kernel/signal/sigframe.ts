/**
 * The riscv64 Linux signal frame (arch/riscv/kernel/signal.c): what the kernel pushes on the
 * user stack to run a handler, and what rt_sigreturn reads back. Pure: these functions lay
 * out and parse bytes; the caller copies them to and from user memory.
 *
 *   struct rt_sigframe {                 offset  size
 *     siginfo_t info;                         0   128
 *     struct ucontext uc {                  128   960
 *       unsigned long uc_flags;               +0     8
 *       struct ucontext *uc_link;             +8     8
 *       stack_t uc_stack;                    +16    24   ss_sp +0, ss_flags +8 (int), ss_size +16
 *       sigset_t uc_sigmask;                 +40     8   (kernel sigset: 64 signals)
 *       __u8 __unused[120];                  +48   120   (pads the mask to 1024 bits)
 *       struct sigcontext uc_mcontext {     +176   784   (16-aligned: the q state is)
 *         user_regs_struct sc_regs;           +0   256   pc, ra(x1), sp(x2), ... t6(x31)
 *         union __riscv_fp_state sc_fpregs; +256   528   d: f[32] (u64) +0, fcsr (u32) +256;
 *       }                                                q.reserved (u32[3]) +516: zero
 *     }
 *   }                                              1088 bytes
 *
 * test/fixtures/linux-abi.json (offsetof/sizeof printed by a C program built against glibc
 * 2.36 and the kernel uapi headers) checks every number above.
 *
 * Delivery (setup_rt_frame): the frame goes 16-aligned below sp, or at the top of the
 * alternate stack when the action has SA_ONSTACK and the thread is not already on it
 * (get_sigframe + sigsp). The handler starts with pc = handler, sp = frame, ra = the sigreturn
 * trampoline (Linux: __vdso_rt_sigreturn in the vDSO, `li a7, 139; ecall`, which
 * SIGRETURN_TRAMPOLINE encodes), a0 = signo, a1 = &frame.info, a2 = &frame.uc.
 */

import { NSIG, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, SA_ONSTACK, UNBLOCKABLE } from './signals.ts';

// --- siginfo_t (128 bytes; the union starts at 16 on 64-bit) ---
export const SIGINFO_SIZE = 128;
export const SI_SIGNO = 0; // i32
export const SI_ERRNO = 4; // i32
export const SI_CODE = 8; // i32
export const SI_PID = 16; // i32: kill, rt, sigchld
export const SI_UID = 20; // u32
export const SI_ADDR = 16; // u64: sigfault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP)
export const SI_TIMERID = 16; // i32: timer
export const SI_OVERRUN = 20; // i32
export const SI_VALUE = 24; // sigval (u64): rt, timer
export const SI_STATUS = 24; // i32: sigchld
export const SI_UTIME = 32; // i64: sigchld (clock ticks)
export const SI_STIME = 40; // i64

// --- ucontext, sigcontext ---
export const UC_FLAGS = 0;
export const UC_LINK = 8;
export const UC_STACK = 16;
export const SS_SP = 0;
export const SS_FLAGS = 8;
export const SS_SIZE = 16;
export const STACK_T_SIZE = 24;
export const UC_SIGMASK = 40;
/** The uapi pads uc_sigmask to 1024 bits (128 bytes); the kernel writes only 8. */
export const UC_SIGMASK_AREA = 128;
export const UC_MCONTEXT = 176;
export const SC_REGS = 0; // pc, then x1..x31: x[i] at 8 * i
export const SC_FPREGS = 256;
export const FP_FCSR = 256; // within sc_fpregs (the d-extension view)
export const FP_Q_RESERVED = 516; // u32[3] that must be zero (q view: f[64] then fcsr at 512)
export const FP_STATE_SIZE = 528;
export const SIGCONTEXT_SIZE = 784;
export const UCONTEXT_SIZE = 960;

// --- rt_sigframe ---
export const FRAME_INFO = 0;
export const FRAME_UC = SIGINFO_SIZE;
export const RT_SIGFRAME_SIZE = FRAME_UC + UCONTEXT_SIZE; // 1088
/** Offsets of the interrupted pc and of x[i] within the frame. */
export const FRAME_PC = FRAME_UC + UC_MCONTEXT + SC_REGS;
export const frameRegOffset = (i: number): number => FRAME_PC + 8 * i;

/** `li a7, 139; ecall` (addi a7, zero, 139 = 0x08b00893; ecall = 0x00000073): the vDSO's __vdso_rt_sigreturn. */
export const SIGRETURN_TRAMPOLINE = Uint8Array.of(0x93, 0x08, 0xb0, 0x08, 0x73, 0x00, 0x00, 0x00);

const U64 = (1n << 64n) - 1n;

/** Fields of a siginfo; give the ones of the union member that matches signo/code. */
export interface SigInfo {
  signo: number;
  errno?: number;
  code: number;
  /** sigfault: the faulting address. */
  addr?: bigint;
  /** kill / rt / sigchld: sender pid and uid. */
  pid?: number;
  uid?: number;
  /** sigchld: exit status or signal, and user/system time in clock ticks. */
  status?: number;
  utime?: bigint;
  stime?: bigint;
  /** rt / timer: sigval (int or pointer). */
  value?: bigint;
  timerid?: number;
  overrun?: number;
}

/**
 * Encode `info` as a 128-byte siginfo_t into `out` at `offset` (a new buffer by default).
 * Throws if addr is given together with pid/uid/timerid (they share bytes 16..23).
 */
export function encodeSigInfo(info: SigInfo, out = new Uint8Array(SIGINFO_SIZE), offset = 0): Uint8Array {
  if (info.addr !== undefined && (info.pid !== undefined || info.uid !== undefined || info.timerid !== undefined)) {
    throw new Error('encodeSigInfo: si_addr overlaps si_pid/si_uid/si_timerid');
  }
  const dv = new DataView(out.buffer, out.byteOffset + offset, SIGINFO_SIZE);
  out.fill(0, offset, offset + SIGINFO_SIZE);
  dv.setInt32(SI_SIGNO, info.signo, true);
  dv.setInt32(SI_ERRNO, info.errno ?? 0, true);
  dv.setInt32(SI_CODE, info.code, true);
  if (info.addr !== undefined) dv.setBigUint64(SI_ADDR, info.addr & U64, true);
  if (info.pid !== undefined) dv.setInt32(SI_PID, info.pid, true);
  if (info.uid !== undefined) dv.setUint32(SI_UID, info.uid, true);
  if (info.timerid !== undefined) dv.setInt32(SI_TIMERID, info.timerid, true);
  if (info.overrun !== undefined) dv.setInt32(SI_OVERRUN, info.overrun, true);
  if (info.value !== undefined) dv.setBigUint64(SI_VALUE, info.value & U64, true);
  if (info.status !== undefined) dv.setInt32(SI_STATUS, info.status, true);
  if (info.utime !== undefined) dv.setBigInt64(SI_UTIME, info.utime, true);
  if (info.stime !== undefined) dv.setBigInt64(SI_STIME, info.stime, true);
  return out;
}

/** Every reading of a 128-byte siginfo_t (union members overlap; pick by signo and code). */
export function decodeSigInfo(bytes: Uint8Array, offset = 0): Required<SigInfo> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, SIGINFO_SIZE);
  return {
    signo: dv.getInt32(SI_SIGNO, true),
    errno: dv.getInt32(SI_ERRNO, true),
    code: dv.getInt32(SI_CODE, true),
    addr: dv.getBigUint64(SI_ADDR, true),
    pid: dv.getInt32(SI_PID, true),
    uid: dv.getUint32(SI_UID, true),
    status: dv.getInt32(SI_STATUS, true),
    utime: dv.getBigInt64(SI_UTIME, true),
    stime: dv.getBigInt64(SI_STIME, true),
    value: dv.getBigUint64(SI_VALUE, true),
    timerid: dv.getInt32(SI_TIMERID, true),
    overrun: dv.getInt32(SI_OVERRUN, true),
  };
}

/** A thread's alternate signal stack as sigaltstack stored it (flags: SS_DISABLE, SS_AUTODISARM). */
export interface AltStack {
  sp: bigint;
  size: bigint;
  flags: number;
}
/** The state of a thread that never called sigaltstack (Linux's sas_ss_reset). */
export const NO_ALTSTACK: Readonly<AltStack> = Object.freeze({ sp: 0n, size: 0n, flags: SS_DISABLE });

/** Linux on_sig_stack(): sp is inside the altstack (never, once SS_AUTODISARM is set). */
export function onSigStack(alt: AltStack, sp: bigint): boolean {
  if (alt.flags & SS_AUTODISARM) return false;
  return sp > alt.sp && sp - alt.sp <= alt.size;
}
/** Linux sas_ss_flags(): SS_DISABLE with no altstack, SS_ONSTACK when sp is on it, else 0. */
export function altStackMode(alt: AltStack, sp: bigint): number {
  if (alt.size === 0n) return SS_DISABLE;
  return onSigStack(alt, sp) ? SS_ONSTACK : 0;
}

/** The user registers a frame saves: x[0..31] (x[0] ignored) as 64-bit values, pc, FP state. */
export interface UserContext {
  /** 32 entries, bigint (any sign; stored mod 2^64), or the hart's Int32Array(64) lo/hi pairs. */
  x: ReadonlyArray<bigint> | Int32Array;
  pc: bigint;
  /** f0..f31 as 256 raw little-endian bytes (the Fpu's buffer); zeros if absent. */
  f?: Uint8Array;
  fcsr?: number;
}

export interface SignalDelivery {
  /** The interrupted state (for a fault, pc is the faulting instruction). */
  context: UserContext;
  info: SigInfo;
  /** The blocked mask to restore on sigreturn (the mask before the handler's was applied). */
  savedMask: bigint;
  altStack: AltStack;
  /** The action's sa_flags (SA_ONSTACK chooses the altstack). */
  saFlags: number;
  handler: bigint;
  /** va of the sigreturn trampoline (`li a7, 139; ecall`), put in ra. */
  trampoline: bigint;
}

export interface HandlerRegisters {
  pc: bigint;
  sp: bigint;
  ra: bigint;
  a0: bigint;
  a1: bigint;
  a2: bigint;
}

export interface SignalFrame {
  /** RT_SIGFRAME_SIZE bytes to copy to user memory at frameVa. */
  bytes: Uint8Array;
  frameVa: bigint;
  infoVa: bigint;
  ucVa: bigint;
  /** Registers the handler starts with; every other register keeps its value. */
  regs: HandlerRegisters;
  /** SS_AUTODISARM was set: the caller resets the thread's altstack to NO_ALTSTACK. */
  disarmAltStack: boolean;
}

/** The 64-bit value of x[i] from either register form. */
function reg(x: ReadonlyArray<bigint> | Int32Array, i: number): bigint {
  if (x instanceof Int32Array) return (BigInt(x[2 * i + 1] >>> 0) << 32n) | BigInt(x[2 * i] >>> 0);
  return x[i] & U64;
}

/**
 * Lay out the rt_sigframe for delivering `d` (Linux setup_rt_frame). Returns null when the
 * thread is on its altstack and the frame would overflow it: Linux then forces SIGSEGV
 * (get_sigframe returns -1). If copying `bytes` to frameVa faults, the caller forces SIGSEGV too.
 */
export function buildSignalFrame(d: SignalDelivery): SignalFrame | null {
  const userSp = reg(d.context.x, 2);
  const size = BigInt(RT_SIGFRAME_SIZE);
  if (onSigStack(d.altStack, userSp) && !onSigStack(d.altStack, (userSp - size) & U64)) return null;
  let sp = userSp;
  if (d.saFlags & SA_ONSTACK && altStackMode(d.altStack, userSp) === 0) sp = (d.altStack.sp + d.altStack.size) & U64;
  const frameVa = ((sp - size) & U64) & ~15n;

  const bytes = new Uint8Array(RT_SIGFRAME_SIZE);
  const dv = new DataView(bytes.buffer);
  encodeSigInfo(d.info, bytes, FRAME_INFO);
  const uc = FRAME_UC;
  dv.setBigUint64(uc + UC_FLAGS, 0n, true);
  dv.setBigUint64(uc + UC_LINK, 0n, true);
  dv.setBigUint64(uc + UC_STACK + SS_SP, d.altStack.sp & U64, true);
  dv.setInt32(uc + UC_STACK + SS_FLAGS, d.altStack.flags, true);
  dv.setBigUint64(uc + UC_STACK + SS_SIZE, d.altStack.size & U64, true);
  dv.setBigUint64(uc + UC_SIGMASK, d.savedMask & U64, true);
  dv.setBigUint64(FRAME_PC, d.context.pc & U64, true);
  for (let i = 1; i < 32; i++) dv.setBigUint64(frameRegOffset(i), reg(d.context.x, i), true);
  const fp = uc + UC_MCONTEXT + SC_FPREGS;
  if (d.context.f) {
    if (d.context.f.length !== 256) throw new Error(`buildSignalFrame: FP state is ${d.context.f.length} bytes, want 256`);
    bytes.set(d.context.f, fp);
  }
  dv.setUint32(fp + FP_FCSR, (d.context.fcsr ?? 0) >>> 0, true);

  return {
    bytes,
    frameVa,
    infoVa: frameVa + BigInt(FRAME_INFO),
    ucVa: frameVa + BigInt(FRAME_UC),
    regs: {
      pc: d.handler & U64,
      sp: frameVa,
      ra: d.trampoline & U64,
      a0: BigInt(d.info.signo),
      a1: frameVa + BigInt(FRAME_INFO),
      a2: frameVa + BigInt(FRAME_UC),
    },
    disarmAltStack: (d.altStack.flags & SS_AUTODISARM) !== 0,
  };
}

/** What rt_sigreturn restores. */
export interface RestoredContext {
  /** x[0..31] as unsigned 64-bit values, x[0] = 0. a0 is the restored a0, not a syscall result. */
  x: bigint[];
  pc: bigint;
  f: Uint8Array;
  fcsr: number;
  /** The blocked mask to install (SIGKILL and SIGSTOP already removed). */
  mask: bigint;
  /** uc_stack: the caller applies it as sigaltstack would (Linux restore_altstack). */
  altStack: AltStack;
}

/**
 * Parse the frame at the user's sp (rt_sigreturn, Linux sys_rt_sigreturn). `bytes` holds
 * RT_SIGFRAME_SIZE bytes read from sp. Returns null for a bad frame — the reserved FP words
 * are not zero — on which Linux forces SIGSEGV. The caller must not write a return value to
 * a0 (Linux also sets regs->cause = -1 so no syscall restart happens).
 */
export function parseSignalFrame(bytes: Uint8Array): RestoredContext | null {
  if (bytes.length < RT_SIGFRAME_SIZE) throw new Error(`parseSignalFrame: ${bytes.length} bytes, want ${RT_SIGFRAME_SIZE}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, RT_SIGFRAME_SIZE);
  const uc = FRAME_UC;
  const fp = uc + UC_MCONTEXT + SC_FPREGS;
  for (let o = FP_Q_RESERVED; o < FP_STATE_SIZE; o += 4) if (dv.getUint32(fp + o, true) !== 0) return null;
  const x = [0n];
  for (let i = 1; i < 32; i++) x.push(dv.getBigUint64(frameRegOffset(i), true));
  return {
    x,
    pc: dv.getBigUint64(FRAME_PC, true),
    f: bytes.slice(fp, fp + 256),
    fcsr: dv.getUint32(fp + FP_FCSR, true),
    mask: dv.getBigUint64(uc + UC_SIGMASK, true) & ~UNBLOCKABLE & ((1n << BigInt(NSIG)) - 1n),
    altStack: {
      sp: dv.getBigUint64(uc + UC_STACK + SS_SP, true),
      size: dv.getBigUint64(uc + UC_STACK + SS_SIZE, true),
      flags: dv.getInt32(uc + UC_STACK + SS_FLAGS, true),
    },
  };
}

/** Registers as the hart holds them: x[2i] low and x[2i+1] high 32 bits of x_i (x0 left 0). */
export function regsToPairs(x: ReadonlyArray<bigint>, out = new Int32Array(64)): Int32Array {
  for (let i = 1; i < 32; i++) {
    out[2 * i] = Number(BigInt.asIntN(32, x[i]));
    out[2 * i + 1] = Number(BigInt.asIntN(32, x[i] >> 32n));
  }
  return out;
}

/** x0..x31 as unsigned 64-bit bigints from the hart's lo/hi Int32Array pairs. */
export function regsFromPairs(x: Int32Array): bigint[] {
  return Array.from({ length: 32 }, (_, i) => reg(x, i));
}
