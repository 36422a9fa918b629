/**
 * The syscall dispatcher: a table from Linux riscv64 syscall number to handler, the errno
 * convention, and the core syscalls every program needs before the ABI layer lands.
 *
 *   ecall → scheduler/hart-loop.ts advances pc by 4 → dispatchSyscall(env) → table[a7]
 *         → the handler returns a value (a0 := value; -errno for errors, Linux's raw
 *           convention) or NO_RETURN (the handler blocked, exited or set a0 itself).
 * Unknown numbers return -ENOSYS and are counted per number in ctl (SH_ENOSYS), so a run's
 * statistics say which syscalls a guest wanted. Each call is traced (kctx.trace) as a
 * syscall-begin .. syscall-end pair.
 *
 * Adding syscalls (the ABI layer): in a new file, `registerSyscall(SYS_x, handler)` at import
 * time; import that file from scheduler/hart-loop.ts's SYSCALL_MODULES (or from any module
 * the hart imports). Handlers get a SyscallEnv: the kernel context of this hart, the calling
 * thread's address space, ids, its live registers, and SchedOps for everything that needs
 * the scheduler (exit, yield, block/wake, host output). kernel/ never imports scheduler/: the
 * scheduler implements SchedOps.
 */
import type { KernelContext } from './context.ts';
import type { VirtualAddressSpace } from './mm/aspace.ts';
import { EBADF, EFAULT, EINVAL, ENOSYS } from './errno.ts';
import { brk, mmap, mprotect, munmap } from './mm/mmap.ts';
import { SH_ENOSYS, SYSCALL_SLOTS } from './proc/layout.ts';
import { traceEmitSyscallBegin, traceEmitSyscallEnd } from './lab/trace.ts';
import { copyFromUser } from './mm/uaccess.ts';

/** A handler's "no value to write": the thread blocked, exited, or the handler set a0 itself. */
export const NO_RETURN: unique symbol = Symbol('syscall: no return');
export type SyscallResult = number | bigint | typeof NO_RETURN;

/**
 * A word threads can block on (scheduler/block.ts): `key` names the channel (waiters and
 * wakers agree on it; RAM channels use the physical address, ctl channels -1 - word index);
 * i32[index] is compared with the expected value under the channel's bucket lock.
 */
export interface WaitChannel {
  key: number;
  i32: Int32Array;
  index: number;
}

/** How SchedOps.block blocks (scheduler/block.ts). */
export interface BlockOptions {
  /**
   * Restartable (Linux -ERESTARTSYS): a wake re-runs the whole syscall with its original
   * arguments (pc back on the ecall); -EINTR/-ETIMEDOUT are returned from the ecall instead.
   */
  restart?: boolean;
  /** The timeout is the purpose (nanosleep): a0 := 0 when it expires. */
  sleep?: boolean;
  /**
   * With `restart`: the timeout is a poll interval (host I/O that has no wake-up, such as the
   * host's stdin): when it expires the syscall re-runs, as after a wake; a signal still
   * interrupts it (-EINTR).
   */
  poll?: boolean;
  /** Futex bitset: only wakes whose bitset shares a bit with it wake the thread (default: all ones). */
  bitset?: number;
}

/** What the scheduler provides to syscalls (implemented by scheduler/hart-loop.ts). */
export interface SchedOps {
  /** End the calling thread with `code` (the last thread ends the process). */
  exitThread(code: number): typeof NO_RETURN;
  /** End every thread of the process; the process exits with `code` (or 128 + `signal`). */
  exitGroup(code: number, signal?: number): typeof NO_RETURN;
  /** Give up the hart after this syscall returns (sched_yield). */
  yieldAfter(): void;
  /**
   * Block the caller on `chan` unless chan's word no longer equals `expected` (then -EAGAIN).
   * Returns NO_RETURN when blocked: a0 becomes 0 when woken, -ETIMEDOUT after `timeoutNs`,
   * -EINTR when the process is being killed. The check and the block are atomic with
   * respect to wake() on the same key: a wake cannot be lost between them.
   */
  block(chan: WaitChannel, expected: number, timeoutNs?: number, o?: BlockOptions): number | typeof NO_RETURN;
  /** Wake up to `count` threads blocked on channel `key` (whose bitset meets `bitset`); returns how many. */
  wake(key: number, count: number, bitset?: number): number;
  /**
   * FUTEX_(CMP_)REQUEUE: with the buckets of `from.key` and `to` locked, fail with -EAGAIN
   * when `expected` is not null and from's word differs; else wake up to `nrWake` threads
   * blocked on from.key and move up to `nrRequeue` more to key `to` (still blocked). Returns
   * woken + moved.
   */
  requeue(from: WaitChannel, expected: number | null, to: number, nrWake: number, nrRequeue: number): number;
  /** Write to the host's file descriptor 1 or 2. */
  hostWrite(fd: 1 | 2, bytes: Uint8Array): void;
}

/** Everything a handler may use. Registers are the calling thread's, live on this hart. */
export interface SyscallEnv {
  readonly kctx: KernelContext;
  readonly as: VirtualAddressSpace;
  readonly tid: number;
  readonly pid: number;
  readonly sched: SchedOps;
  /** Integer register i (signed) / set it (x0 ignored). a0..a7 are x10..x17. */
  getReg(i: number): bigint;
  setReg(i: number, v: bigint): void;
  /** The pc after the ecall (already advanced by 4); handlers may move it (sigreturn). */
  pc: number;
}

/** args[i] = a_i as a signed 64-bit value; see the arg* helpers. */
export type SyscallHandler = (env: SyscallEnv, args: readonly bigint[]) => SyscallResult;

const table = new Map<number, { name: string; fn: SyscallHandler }>();

/** Register `fn` for syscall `nr` (throws when the number is taken: two modules disagree). */
export function registerSyscall(nr: number, name: string, fn: SyscallHandler): void {
  if (!(Number.isInteger(nr) && nr >= 0)) throw new RangeError(`registerSyscall: bad number ${nr}`);
  const had = table.get(nr);
  if (had) throw new Error(`registerSyscall: ${nr} is already ${had.name}`);
  table.set(nr, { name, fn });
}

/** Replace the handler of `nr` (the ABI layer's full version of a core syscall, e.g. file mmap). */
export function replaceSyscall(nr: number, name: string, fn: SyscallHandler): void {
  if (!table.has(nr)) throw new Error(`replaceSyscall: ${nr} (${name}) has no handler to replace`);
  table.set(nr, { name, fn });
}

/** The handler registered for `nr`, or undefined. */
export function syscallHandler(nr: number): SyscallHandler | undefined {
  return table.get(nr)?.fn;
}

/** Numbers with a handler, sorted. */
export function registeredSyscalls(): number[] {
  return [...table.keys()].sort((a, b) => a - b);
}

/** Argument as an unsigned number (addresses, sizes; exact below 2^53). */
export function argU(v: bigint): number {
  return Number(BigInt.asUintN(64, v));
}
/** Argument as a C int (low 32 bits, signed). */
export function argInt(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

/**
 * Run the syscall in a7 with a0..a5 for the calling thread; writes a0 unless the handler
 * returned NO_RETURN. Unknown numbers: -ENOSYS. Every -ENOSYS (unknown number or a handler's
 * answer) is counted in ctl by number. Returns the result.
 */
export function dispatchSyscall(env: SyscallEnv): SyscallResult {
  const nr = Number(env.getReg(17));
  const args = [env.getReg(10), env.getReg(11), env.getReg(12), env.getReg(13), env.getReg(14), env.getReg(15)];
  const entry = table.get(nr);
  const w = env.kctx.trace;
  if (w !== null) traceEmitSyscallBegin(w, nr, Number(args[0]), Number(args[1]), Number(args[2]));
  let r: SyscallResult;
  r = entry === undefined ? -ENOSYS : entry.fn(env, args);
  // Every ENOSYS is counted, also one from a handler that exists (clone with an unsupported
  // flag, a futex command that is absent): what a guest asked for and did not get.
  if (r === -ENOSYS) {
    const ctl = env.kctx.ctl;
    const slot = nr >= 0 && nr < SYSCALL_SLOTS ? nr : SYSCALL_SLOTS - 1;
    Atomics.add(ctl.i32, ctl.layout.schedHeader / 4 + SH_ENOSYS + slot, 1);
  }
  if (r !== NO_RETURN) env.setReg(10, typeof r === 'bigint' ? r : BigInt(r));
  // Still open unless the thread left the hart inside the handler (its switch-out ended it).
  // NO_RETURN with the thread still here (sigreturn, execve): the a0 it resumes with.
  if (w !== null && w.syscallNr === nr) traceEmitSyscallEnd(w, nr, Number(r === NO_RETURN ? env.getReg(10) : r));
  env.kctx.assertNoStale(`syscall ${nr}`);
  return r;
}

/** ENOSYS counts by syscall number (non-zero only), read from ctl (any thread). */
export function enosysCounts(ctl: KernelContext['ctl']): Record<number, number> {
  const out: Record<number, number> = {};
  const b = ctl.layout.schedHeader / 4 + SH_ENOSYS;
  for (let nr = 0; nr < SYSCALL_SLOTS; nr++) {
    const n = Atomics.load(ctl.i32, b + nr);
    if (n) out[nr] = n;
  }
  return out;
}

// ---- the core syscalls (numbers: kernel/syscalls-table.ts) ----

const SYS_write = 64;
const SYS_exit = 93;
const SYS_exit_group = 94;
const SYS_sched_yield = 124;
const SYS_getpid = 172;
const SYS_gettid = 178;
const SYS_brk = 214;
const SYS_munmap = 215;
const SYS_mmap = 222;
const SYS_mprotect = 226;
/** Largest single write passed to the host (longer writes are short writes, as on a pipe). */
const WRITE_CHUNK = 1 << 20;

registerSyscall(SYS_exit, 'exit', (env, a) => env.sched.exitThread(argInt(a[0]!) & 0xff));
registerSyscall(SYS_exit_group, 'exit_group', (env, a) => env.sched.exitGroup(argInt(a[0]!) & 0xff));
registerSyscall(SYS_sched_yield, 'sched_yield', (env) => {
  env.sched.yieldAfter();
  return 0;
});
registerSyscall(SYS_getpid, 'getpid', (env) => env.pid);
registerSyscall(SYS_gettid, 'gettid', (env) => env.tid);

/** write(fd, buf, count): fds 1 and 2 go to the host's stdout/stderr; others EBADF for now. */
registerSyscall(SYS_write, 'write', (env, a) => {
  const fd = argInt(a[0]!);
  if (fd !== 1 && fd !== 2) return -EBADF;
  const count = Math.min(argU(a[2]!), WRITE_CHUNK);
  if (count === 0) return 0;
  const bytes = copyFromUser(env.kctx, env.as, argU(a[1]!), count);
  if (typeof bytes === 'number') return bytes < 0 ? bytes : -EFAULT;
  env.sched.hostWrite(fd, bytes);
  return count;
});

/** mmap: anonymous mappings only until the ABI layer maps fds to files (replaceSyscall); a file mapping is EBADF. */
registerSyscall(SYS_mmap, 'mmap', (env, a) => {
  if (argU(a[1]!) >= 2 ** 53) return -EINVAL;
  return mmap(env.kctx, env.as, argU(a[0]!), argU(a[1]!), argInt(a[2]!), argInt(a[3]!), 0, argU(a[5]!));
});
registerSyscall(SYS_munmap, 'munmap', (env, a) => munmap(env.kctx, env.as, argU(a[0]!), argU(a[1]!)));
registerSyscall(SYS_mprotect, 'mprotect', (env, a) => mprotect(env.kctx, env.as, argU(a[0]!), argU(a[1]!), argInt(a[2]!)));
registerSyscall(SYS_brk, 'brk', (env, a) => brk(env.kctx, env.as, argU(a[0]!)));
