/**
 * The trace facility: a bounded ring of fixed-size event records per hart in ctl (the
 * `traceRings` region; record and header fields in kernel/lab/trace-layout.ts), written by that
 * hart alone and read by the host after the run (kernel/lab/trace-export.ts turns a snapshot into
 * Chrome trace-event JSON).
 *
 * Writing: each hart opens one TraceWriter (openTraceWriter, once, in scheduler/hart-context.ts:
 * HartContext.trace, given to the kernel as KernelContext.trace) — null when the machine was
 * booted without tracing (traceEvents = 0). Emitters: the hart loop (switch in/out), the fault
 * handler, the syscall dispatcher, the flushes (local, switch, shootdown receive, poll), the
 * shootdown policies (start/done at the initiator, recv/ack at each target), the sanitizer. Every `traceEmit*` function takes that writer and
 * starts with `if (w === null) return`: disabled tracing costs that one branch. A record is
 * written field by field, then published by Atomics.store of the ring head; when the ring is
 * full the oldest record is overwritten, so a ring keeps the newest E events.
 *
 * The writer remembers which thread runs on its hart (set by traceEmitSwitchIn, cleared by
 * traceEmitSwitchOut) and stamps every record with that tid and pid.
 *
 * Timestamps are ns since the machine's trace epoch (written by initializeTrace on the host),
 * from performance.now() corrected by each worker's time origin; harts are comparable to
 * well under a microsecond.
 */
import type { Ctl } from '../layout.ts';
import { timeNs, virtualTime } from '../../cpu/vclock.ts';
import {
  REC_A0, REC_F0, REC_HART, REC_KIND, REC_PID, REC_TID, REC_TS, TRACE_RECORD_BYTES, TRACE_RING_HEADER_BYTES,
  traceRingBytes, TR_CAPACITY, TR_EPOCH_F64, TR_HART, TR_HEAD, TR_LAPS,
} from './trace-layout.ts';

// Local copies of the record layout: under tsx and vitest an imported binding is a getter call
// on every access (see cpu/tlb.ts) — too slow for a path every fault and syscall takes.
const RECORD_BYTES = TRACE_RECORD_BYTES;
const I_KIND = REC_KIND / 4, I_HART = REC_HART / 4, I_TID = REC_TID / 4, I_PID = REC_PID / 4, I_A0 = REC_A0 / 4;
const D_TS = REC_TS / 8, D_F0 = REC_F0 / 8;

// ---- event kinds (record field `kind`); the arguments each one carries ----
export const TE_SWITCH_IN = 1; // a0 asid
export const TE_SWITCH_OUT = 2; // a0 SWITCH_* reason
export const TE_FAULT_BEGIN = 3; // a0 access (cpu/trap.ts ACCESS_*), f0 va
export const TE_FAULT_END = 4; // a0 FAULT_* outcome
export const TE_SYSCALL_BEGIN = 5; // a0 syscall number, f0..f2 its first three arguments
export const TE_SYSCALL_END = 6; // a0 syscall number, a1 1 = the thread left the hart inside it (no value yet), f0 return value (negative errno on failure)
export const TE_FLUSH = 7; // a0 FLUSH_* kind, a1 CAUSE_* cause, a2 asid (-1 all), f0 va, f1 pages
export const TE_SHOOTDOWN_START = 8; // a0 targets, a1/a2 target mask bits 0-31/32-63, f0 id, f1 va, f2 pages
export const TE_SHOOTDOWN_RECV = 9; // a0 initiator hartId, a1 1 = will flush / 0 = already caught up, f0 id
export const TE_SHOOTDOWN_ACK = 10; // a0 initiator hartId, f0 id
export const TE_SHOOTDOWN_DONE = 11; // at the initiator: every ack in; f0 id
export const TE_SANITIZER = 12; // a0 access, a1 stale ppn, a2 current ppn (-1 none), f0 va, f1 ns since the change
export const TE_KIND_NAMES: Readonly<Record<number, string>> = {
  [TE_SWITCH_IN]: 'switch-in', [TE_SWITCH_OUT]: 'switch-out', [TE_FAULT_BEGIN]: 'fault-begin',
  [TE_FAULT_END]: 'fault-end', [TE_SYSCALL_BEGIN]: 'syscall-begin', [TE_SYSCALL_END]: 'syscall-end',
  [TE_FLUSH]: 'flush', [TE_SHOOTDOWN_START]: 'shootdown-start', [TE_SHOOTDOWN_RECV]: 'shootdown-recv',
  [TE_SHOOTDOWN_ACK]: 'shootdown-ack', [TE_SHOOTDOWN_DONE]: 'shootdown-done', [TE_SANITIZER]: 'sanitizer',
};

/** Why a thread left its hart (TE_SWITCH_OUT a0). */
export const SWITCH_PREEMPT = 0;
export const SWITCH_YIELD = 1;
export const SWITCH_BLOCK = 2;
export const SWITCH_EXIT = 3;
export const SWITCH_NAMES = ['preempt', 'yield', 'block', 'exit'] as const;

/** How a page fault was resolved (TE_FAULT_END a0). */
export const FAULT_DEMAND_ZERO = 0;
export const FAULT_FILE = 1;
export const FAULT_COW_COPY = 2;
export const FAULT_COW_REUSE = 3;
export const FAULT_SIGSEGV = 4;
export const FAULT_SIGBUS = 5;
export const FAULT_SPURIOUS = 6; // already resolved by another hart (only the TLB was stale)
export const FAULT_NAMES = ['demand-zero', 'file', 'cow-copy', 'cow-reuse', 'sigsegv', 'sigbus', 'spurious'] as const;

/** TLB flush kinds (TE_FLUSH a0) and causes (a1). */
export const FLUSH_PAGE = 0;
export const FLUSH_RANGE = 1;
export const FLUSH_ASID = 2;
export const FLUSH_ALL = 3;
export const FLUSH_NAMES = ['page', 'range', 'asid', 'all'] as const;
export const CAUSE_SHOOTDOWN = 0;
export const CAUSE_SWITCH = 1;
export const CAUSE_LOCAL = 2;
export const CAUSE_POLL = 3; // a poll point's generation check (policy deferred)
export const CAUSE_NAMES = ['shootdown', 'switch', 'local', 'poll'] as const;

/** Access kinds as numbered in cpu/trap.ts (1 load, 2 store, 3 fetch), for names in exports. */
export const ACCESS_NAMES: Readonly<Record<number, string>> = { 1: 'load', 2: 'store', 3: 'fetch' };

/** Host side, once per machine before any worker starts: write every ring's header and the epoch. */
export function initializeTrace(ctl: Ctl): void {
  const { layout, i32, f64 } = ctl;
  const ringBytes = traceRingBytes(layout.traceEvents);
  const epochMs = performance.timeOrigin + performance.now();
  for (let h = 0; h < layout.cpus; h++) {
    const base = layout.traceRings + h * ringBytes;
    i32[base / 4 + TR_CAPACITY] = layout.traceEvents;
    i32[base / 4 + TR_HART] = h;
    f64[base / 8 + TR_EPOCH_F64] = epochMs;
    Atomics.store(i32, base / 4 + TR_LAPS, 0);
    Atomics.store(i32, base / 4 + TR_HEAD, 0);
  }
}

/** One hart's side of its ring: the only writer of it. Build with openTraceWriter. */
export class TraceWriter {
  readonly hartId: number;
  readonly capacity: number;
  /** Thread and process now running on this hart (stamped on every record; 0 = none). */
  tid = 0;
  pid = 0;
  /**
   * Number of the syscall begun and not yet ended on this hart, -1 none. A thread that leaves
   * the hart inside a syscall (blocked, exited) has it ended by traceEmitSwitchOut, so every
   * syscall slice closes inside its thread's run slice.
   */
  syscallNr = -1;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly headIndex: number;
  private readonly lapsIndex: number;
  /** Byte offset of record 0. */
  private readonly records: number;
  /** performance.now() + clockBase = ms since the trace epoch. */
  private readonly clockBase: number;
  private head: number;
  private laps: number;
  private shootdownSeq = 0;

  constructor(ctl: Ctl, hartId: number) {
    const { layout } = ctl;
    if (!(Number.isInteger(hartId) && hartId >= 0 && hartId < layout.cpus)) {
      throw new RangeError(`TraceWriter: no hart ${hartId} (0..${layout.cpus - 1})`);
    }
    if (layout.traceEvents === 0) throw new Error('TraceWriter: tracing is off (traceEvents = 0)');
    const base = layout.traceRings + hartId * traceRingBytes(layout.traceEvents);
    this.hartId = hartId;
    this.capacity = layout.traceEvents;
    this.i32 = ctl.i32;
    this.f64 = ctl.f64;
    this.headIndex = base / 4 + TR_HEAD;
    this.lapsIndex = base / 4 + TR_LAPS;
    this.records = base + TRACE_RING_HEADER_BYTES;
    const epochMs = ctl.f64[base / 8 + TR_EPOCH_F64]!;
    // An uninitialised epoch (0) still gives consistent absolute times; the exporter rebases.
    this.clockBase = performance.timeOrigin - epochMs;
    this.head = Atomics.load(ctl.i32, this.headIndex);
    this.laps = Atomics.load(ctl.i32, this.lapsIndex);
  }

  /** ns since the trace epoch, as stamped on records. */
  now(): number {
    if (virtualTime()) return timeNs(); // deterministic mode: virtual ns (cpu/vclock.ts)
    return (performance.now() + this.clockBase) * 1e6;
  }

  /** A machine-unique shootdown id for flow pairing: (this hart's sequence) * 64 + hartId. */
  nextShootdownId(): number {
    return ++this.shootdownSeq * 64 + this.hartId;
  }

  /** Append one record (overwriting the oldest when full) and publish it. */
  record(kind: number, a0: number, a1: number, a2: number, a3: number, f0: number, f1: number, f2: number): void {
    const at = this.records + this.head * RECORD_BYTES;
    const i = at >> 2, d = at >> 3, i32 = this.i32, f64 = this.f64;
    f64[d + D_TS] = virtualTime() ? timeNs() : (performance.now() + this.clockBase) * 1e6;
    i32[i + I_KIND] = kind;
    i32[i + I_HART] = this.hartId;
    i32[i + I_TID] = this.tid;
    i32[i + I_PID] = this.pid;
    i32[i + I_A0] = a0;
    i32[i + I_A0 + 1] = a1;
    i32[i + I_A0 + 2] = a2;
    i32[i + I_A0 + 3] = a3;
    f64[d + D_F0] = f0;
    f64[d + D_F0 + 1] = f1;
    f64[d + D_F0 + 2] = f2;
    let next = this.head + 1;
    if (next === this.capacity) {
      next = 0;
      Atomics.store(i32, this.lapsIndex, ++this.laps);
    }
    this.head = next;
    // The store that hands the record to readers: everything above is visible before it.
    Atomics.store(i32, this.headIndex, next);
  }
}

/** This hart's writer, or null when the machine traces nothing (then every emit is one branch). */
export function openTraceWriter(ctl: Ctl, hartId: number): TraceWriter | null {
  return ctl.layout.traceEvents === 0 ? null : new TraceWriter(ctl, hartId);
}

// ---- emit functions: the calls the hart loop, fault handler, syscalls and policies make ----

/** Thread `tid` of process `pid` (address space `asid`) starts running on this hart. */
export function traceEmitSwitchIn(w: TraceWriter | null, tid: number, pid: number, asid: number): void {
  if (w === null) return;
  w.tid = tid;
  w.pid = pid;
  w.record(TE_SWITCH_IN, asid, 0, 0, 0, 0, 0, 0);
}

/**
 * The running thread leaves this hart for `reason` (SWITCH_*). A syscall still open (it
 * blocked or exited the thread) is ended first, marked as left (TE_SYSCALL_END a1 = 1).
 */
export function traceEmitSwitchOut(w: TraceWriter | null, reason: number): void {
  if (w === null) return;
  if (w.syscallNr >= 0) {
    w.record(TE_SYSCALL_END, w.syscallNr, 1, 0, 0, 0, 0, 0);
    w.syscallNr = -1;
  }
  w.record(TE_SWITCH_OUT, reason, 0, 0, 0, 0, 0, 0);
  w.tid = 0;
  w.pid = 0;
}

/** A page fault at `va` for `access` (ACCESS_LOAD/STORE/FETCH) enters the kernel. */
export function traceEmitFaultBegin(w: TraceWriter | null, va: number, access: number): void {
  if (w === null) return;
  w.record(TE_FAULT_BEGIN, access, 0, 0, 0, va, 0, 0);
}

/** The page fault begun last is resolved as `outcome` (FAULT_*). */
export function traceEmitFaultEnd(w: TraceWriter | null, outcome: number): void {
  if (w === null) return;
  w.record(TE_FAULT_END, outcome, 0, 0, 0, 0, 0, 0);
}

/** Syscall `nr` enters the kernel with its first three arguments (as numbers). */
export function traceEmitSyscallBegin(w: TraceWriter | null, nr: number, arg0: number, arg1: number, arg2: number): void {
  if (w === null) return;
  w.syscallNr = nr;
  w.record(TE_SYSCALL_BEGIN, nr, 0, 0, 0, arg0, arg1, arg2);
}

/** Syscall `nr` returns `ret` (negative errno on failure). */
export function traceEmitSyscallEnd(w: TraceWriter | null, nr: number, ret: number): void {
  if (w === null) return;
  w.syscallNr = -1;
  w.record(TE_SYSCALL_END, nr, 0, 0, 0, ret, 0, 0);
}

/** This hart's TLB flushed `pages` pages at `va` (FLUSH_PAGE/RANGE) or an ASID or everything, for `cause`. */
export function traceEmitFlush(
  w: TraceWriter | null, kind: number, cause: number, asid: number, va: number, pages: number,
): void {
  if (w === null) return;
  w.record(TE_FLUSH, kind, cause, asid, 0, va, pages, 0);
}

/**
 * This hart initiates shootdown `id` (TraceWriter.nextShootdownId) of `pages` pages at `va`
 * toward the harts in `targetMask` (bit h = hart h; a number, exact up to 53 harts, or bigint).
 */
export function traceEmitShootdownStart(
  w: TraceWriter | null, id: number, targetMask: number | bigint, va: number, pages: number,
): void {
  if (w === null) return;
  const m = BigInt(targetMask);
  const lo = Number(m & 0xffffffffn) | 0, hi = Number((m >> 32n) & 0xffffffffn) | 0;
  let targets = 0;
  for (let x = m; x !== 0n; x &= x - 1n) targets++;
  w.record(TE_SHOOTDOWN_START, targets, lo, hi, 0, id, va, pages);
}

/** This hart received shootdown `id` from `initiator`; `willFlush` false when already caught up. */
export function traceEmitShootdownRecv(w: TraceWriter | null, id: number, initiator: number, willFlush: boolean): void {
  if (w === null) return;
  w.record(TE_SHOOTDOWN_RECV, initiator, willFlush ? 1 : 0, 0, 0, id, 0, 0);
}

/** This hart acknowledged shootdown `id` to `initiator`. */
export function traceEmitShootdownAck(w: TraceWriter | null, id: number, initiator: number): void {
  if (w === null) return;
  w.record(TE_SHOOTDOWN_ACK, initiator, 0, 0, 0, id, 0, 0);
}

/** The initiator has every acknowledgement of shootdown `id`. */
export function traceEmitShootdownDone(w: TraceWriter | null, id: number): void {
  if (w === null) return;
  w.record(TE_SHOOTDOWN_DONE, 0, 0, 0, 0, id, 0, 0);
}

/**
 * The sanitizer saw an `access` at `va` through a stale translation to frame `stalePpn`
 * (`currentPpn` now, -1 none), `sinceChangeNs` after the kernel completed the change.
 */
export function traceEmitSanitizer(
  w: TraceWriter | null, va: number, access: number, stalePpn: number, currentPpn: number, sinceChangeNs: number,
): void {
  if (w === null) return;
  w.record(TE_SANITIZER, access, stalePpn, currentPpn, 0, va, sinceChangeNs, 0);
}

// ---- reading (host, after the run) ----

/** One decoded record. */
export interface TraceEvent {
  ts: number;
  kind: number;
  hart: number;
  tid: number;
  pid: number;
  a: [number, number, number, number];
  f: [number, number, number];
}

export interface HartTrace {
  hartId: number;
  /** Records ever written by this hart; `emitted - events.length` were overwritten. */
  emitted: number;
  /** Surviving records, oldest first. */
  events: TraceEvent[];
}

/** Decode every ring of `ctl`, oldest record first per hart. Racy if harts still write. */
export function readTrace(ctl: Ctl): HartTrace[] {
  const { layout, i32, f64 } = ctl;
  const cap = layout.traceEvents;
  const ringBytes = traceRingBytes(cap);
  const harts: HartTrace[] = [];
  for (let h = 0; h < layout.cpus; h++) {
    const base = layout.traceRings + h * ringBytes;
    const head = Atomics.load(i32, base / 4 + TR_HEAD);
    const laps = Atomics.load(i32, base / 4 + TR_LAPS);
    const count = laps === 0 ? head : cap;
    const first = laps === 0 ? 0 : head;
    const events: TraceEvent[] = [];
    for (let k = 0; k < count; k++) {
      const at = base + TRACE_RING_HEADER_BYTES + ((first + k) % cap) * TRACE_RECORD_BYTES;
      const i = at >> 2, d = at >> 3;
      events.push({
        ts: f64[d + REC_TS / 8]!, kind: i32[i + REC_KIND / 4]!, hart: i32[i + REC_HART / 4]!,
        tid: i32[i + REC_TID / 4]!, pid: i32[i + REC_PID / 4]!,
        a: [i32[i + REC_A0 / 4]!, i32[i + REC_A0 / 4 + 1]!, i32[i + REC_A0 / 4 + 2]!, i32[i + REC_A0 / 4 + 3]!],
        f: [f64[d + REC_F0 / 8]!, f64[d + REC_F0 / 8 + 1]!, f64[d + REC_F0 / 8 + 2]!],
      });
    }
    harts.push({ hartId: h, emitted: laps * cap + head, events });
  }
  return harts;
}
