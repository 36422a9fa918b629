/**
 * The thread table: one THREAD_BYTES record per thread in ctl (kernel/proc/layout.ts T_*),
 * so that any hart can run any thread — threads migrate between harts by their saved state.
 *
 * A thread is named by its index in the table (`tix`, what run queues and wait buckets hold)
 * and, for the guest, by its tid (unique, never reused while the machine lives).
 *
 * State machine (T_STATE):
 *   FREE --alloc (CAS)--> EMBRYO --publish--> READY --pick--> RUNNING --preempt/yield--> READY
 *   RUNNING --blockCurrent (under a wait-bucket lock)--> BLOCKED --wake/timeout--> READY
 *   RUNNING --exit--> DEAD --release--> FREE
 * Saved registers belong to whoever holds the thread: the creator (EMBRYO), the hart running
 * it (RUNNING). A hart saves them BEFORE the store that hands the thread on (READY into a run
 * queue, BLOCKED onto a bucket), so the next hart that picks it restores the saved state.
 */
import type { Hart } from '../cpu/hart.ts';
import type { Ctl } from '../kernel/layout.ts';
import {
  T_AFFINITY, T_AS, T_DEADLINE, T_EXIT, T_F, T_FCSR, T_FLAGS, T_LAST_HART, T_PC, T_PROC, T_STATE, T_SWITCHES, T_TID,
  T_WAIT_BUCKET, T_WAIT_NEXT, T_WAKE_RESULT, T_X, THREAD_BYTES, TS_EMBRYO, TS_FREE, SH_NEXT_TID, T_RESTART_DONE, T_RESTART_PC,
  T_RESTART_SP,
} from '../kernel/proc/layout.ts';

/** Word index of field `field` of thread `tix`. */
export function threadWord(ctl: Ctl, tix: number, field: number): number {
  return (ctl.layout.threads + tix * THREAD_BYTES) / 4 + field;
}

/** Number of thread slots of this machine. */
export function maxThreads(ctl: Ctl): number {
  return ctl.layout.sched.maxThreads;
}

/** Worker-local view of the thread table (any thread may build one; it holds no state). */
export class ThreadTable {
  readonly ctl: Ctl;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  constructor(ctl: Ctl) {
    this.ctl = ctl;
    this.i32 = ctl.i32;
    this.f64 = ctl.f64;
  }

  /** Word index of field `field` of thread `tix`. */
  w(tix: number, field: number): number {
    return threadWord(this.ctl, tix, field);
  }

  /**
   * Claim a free slot for a new thread of process slot `proc` in address-space slot `asSlot`:
   * state EMBRYO, a fresh tid, registers zero. Returns the index, or -1 when the table is full.
   * The caller fills the registers and then publishes it (runqueue.enqueue).
   */
  alloc(proc: number, asSlot: number): number {
    const n = maxThreads(this.ctl);
    for (let tix = 0; tix < n; tix++) {
      if (Atomics.compareExchange(this.i32, this.w(tix, T_STATE), TS_FREE, TS_EMBRYO) !== TS_FREE) continue;
      const base = this.w(tix, 0);
      this.i32.fill(0, base + 1, base + THREAD_BYTES / 4);
      this.i32[base + T_TID] = Atomics.add(this.i32, (this.ctl.layout.schedHeader / 4) + SH_NEXT_TID, 1) + 1;
      this.i32[base + T_PROC] = proc;
      this.i32[base + T_AS] = asSlot;
      this.i32[base + T_LAST_HART] = -1;
      this.i32[base + T_AFFINITY] = -1;
      this.i32[base + T_WAIT_BUCKET] = -1;
      return tix;
    }
    return -1;
  }

  /** Return slot `tix` to the free pool (state must be DEAD or EMBRYO). */
  free(tix: number): void {
    Atomics.store(this.i32, this.w(tix, T_STATE), TS_FREE);
  }

  state(tix: number): number { return Atomics.load(this.i32, this.w(tix, T_STATE)); }
  setState(tix: number, s: number): void { Atomics.store(this.i32, this.w(tix, T_STATE), s); }
  /** compareExchange of T_STATE; true when it was `from` and is now `to`. */
  casState(tix: number, from: number, to: number): boolean {
    return Atomics.compareExchange(this.i32, this.w(tix, T_STATE), from, to) === from;
  }
  tid(tix: number): number { return this.i32[this.w(tix, T_TID)]!; }
  proc(tix: number): number { return this.i32[this.w(tix, T_PROC)]!; }
  asSlot(tix: number): number { return this.i32[this.w(tix, T_AS)]!; }
  flags(tix: number): number { return Atomics.load(this.i32, this.w(tix, T_FLAGS)); }
  setFlags(tix: number, f: number): void { Atomics.store(this.i32, this.w(tix, T_FLAGS), f); }
  affinity(tix: number): number { return Atomics.load(this.i32, this.w(tix, T_AFFINITY)); }
  setAffinity(tix: number, hartId: number): void { Atomics.store(this.i32, this.w(tix, T_AFFINITY), hartId); }
  lastHart(tix: number): number { return this.i32[this.w(tix, T_LAST_HART)]!; }
  exitCode(tix: number): number { return this.i32[this.w(tix, T_EXIT)]!; }
  setExitCode(tix: number, code: number): void { this.i32[this.w(tix, T_EXIT)] = code; }
  switches(tix: number): number { return this.i32[this.w(tix, T_SWITCHES)]!; }

  /** Saved pc (a double holding the sign-extended 64-bit pc). */
  pc(tix: number): number { return this.f64[this.w(tix, T_PC) / 2]!; }
  setPc(tix: number, pc: number): void { this.f64[this.w(tix, T_PC) / 2] = pc; }

  /** Saved integer register `i` as a signed BigInt. */
  reg(tix: number, i: number): bigint {
    const b = this.w(tix, T_X) + 2 * i;
    return BigInt.asIntN(64, (BigInt(this.i32[b + 1]!) << 32n) | BigInt(this.i32[b]! >>> 0));
  }
  /** Set saved integer register `i` (x0 ignored). */
  setReg(tix: number, i: number, v: bigint): void {
    if (i === 0) return;
    const b = this.w(tix, T_X) + 2 * i;
    this.i32[b] = Number(BigInt.asIntN(32, v));
    this.i32[b + 1] = Number(BigInt.asIntN(32, v >> 32n));
  }

  /** What a blocked thread's syscall returns when woken (written by the waker before READY). */
  setWakeResult(tix: number, a0: number): void { this.i32[this.w(tix, T_WAKE_RESULT)] = a0; }
  wakeResult(tix: number): number { return this.i32[this.w(tix, T_WAKE_RESULT)]!; }
  deadline(tix: number): number { return this.f64[this.w(tix, T_DEADLINE) / 2]!; }
  /**
   * Record that the syscall at (`pc` after its ecall, `sp`) moved `done` bytes before it parks
   * (0 clears). The pair names the call: every libc write() shares one ecall, but a signal
   * handler's call runs on a lower stack.
   */
  setRestartDone(tix: number, done: number, pc: number, sp: number): void {
    this.i32[this.w(tix, T_RESTART_DONE)] = done;
    this.f64[this.w(tix, T_RESTART_PC) / 2] = pc;
    this.f64[this.w(tix, T_RESTART_SP) / 2] = sp;
  }
  /** Bytes recorded for the syscall at (`pc`, `sp`) (0 for any other), cleared: its re-run takes them once. */
  takeRestartDone(tix: number, pc: number, sp: number): number {
    const w = this.w(tix, T_RESTART_DONE);
    const done = this.i32[w]!;
    if (done === 0 || this.f64[this.w(tix, T_RESTART_PC) / 2] !== pc || this.f64[this.w(tix, T_RESTART_SP) / 2] !== sp) return 0;
    this.i32[w] = 0;
    return done;
  }
  /** Bytes recorded for whatever syscall `tix` parked in, cleared (an interruption returns them). */
  takeAnyRestartDone(tix: number): number {
    const w = this.w(tix, T_RESTART_DONE);
    const done = this.i32[w]!;
    this.i32[w] = 0;
    return done;
  }
  setDeadline(tix: number, ms: number): void { this.f64[this.w(tix, T_DEADLINE) / 2] = ms; }
  waitNext(tix: number): number { return this.i32[this.w(tix, T_WAIT_NEXT)]!; }
  setWaitNext(tix: number, v: number): void { this.i32[this.w(tix, T_WAIT_NEXT)] = v; }
  waitBucket(tix: number): number { return this.i32[this.w(tix, T_WAIT_BUCKET)]!; }
  setWaitBucket(tix: number, b: number): void { this.i32[this.w(tix, T_WAIT_BUCKET)] = b; }

  /** Copy hart's registers, FP registers, fcsr and pc into thread `tix` (switch-out). */
  save(tix: number, hart: Hart): void {
    const x = this.w(tix, T_X);
    this.i32.set(hart.x, x);
    this.i32[x] = 0;
    this.i32[x + 1] = 0;
    this.i32.set(hart.fpu.fi32, this.w(tix, T_F));
    this.i32[this.w(tix, T_FCSR)] = hart.fpu.readFcsr();
    this.f64[this.w(tix, T_PC) / 2] = hart.pc;
  }

  /** Load thread `tix`'s saved state into `hart` (switch-in on hart `hartId`). */
  restore(tix: number, hart: Hart, hartId: number): void {
    const x = this.w(tix, T_X);
    hart.x.set(this.i32.subarray(x, x + 64));
    hart.fpu.fi32.set(this.i32.subarray(this.w(tix, T_F), this.w(tix, T_F) + 64));
    hart.fpu.writeFcsr(this.i32[this.w(tix, T_FCSR)]!);
    hart.pc = this.f64[this.w(tix, T_PC) / 2]!;
    this.i32[this.w(tix, T_LAST_HART)] = hartId;
    this.i32[this.w(tix, T_SWITCHES)]!++;
  }
}
