/**
 * KernelContext: what kernel code on one hart works with — the hart id, RAM, the ctl views,
 * the frame allocator (with this hart's cache), the local TLB to fence (the Hart itself, or
 * any object with its `sfenceVma`), the shootdown policy, the hart's trace writer, and the count of Stale records
 * this context created and has not completed (kernel/mm/stale.ts).
 *
 * On a hart worker one context lives for the worker's life (scheduler/vm-commands.ts builds
 * it from the HartContext). Tests build one in the main thread with `KernelContext.forHost`
 * (hartId -1: no frame cache, no mailbox), single-hart, without workers.
 */
import type { PhysicalMemory } from '../cpu/ram.ts';
import { FrameAllocator } from './mm/frames.ts';
import { evictPages } from './mm/pagecache.ts';
import type { Ctl } from './layout.ts';
import { LOCAL_ONLY, type ShootdownPolicy } from './mm/shootdown.ts';
import type { WhileWaiting } from './sync/lock.ts';
import type { TraceWriter } from './lab/trace.ts';

/** The one thing the kernel needs from its own hart's TLB: sfence.vma (cpu/hart.ts, cpu/tlb.ts). */
export interface LocalTlb {
  /** va null = all addresses; asid null = all address spaces (the four sfence.vma forms). */
  sfenceVma(vaLo: number | null, vaHi: number, asid: number | null): void;
}

export interface KernelContextOptions {
  hartId: number;
  ram: PhysicalMemory;
  ctl: Ctl;
  /** Defaults to a new allocator attached as `hartId`. */
  frames?: FrameAllocator;
  /** The hart's TLB to fence locally; null when this thread runs no hart. */
  tlb?: LocalTlb | null;
  /** Run while blocked on a lock (serve the mailbox); default: nothing. */
  whileWaiting?: WhileWaiting;
  policy?: ShootdownPolicy;
  /** This hart's trace writer (scheduler/hart-context.ts opens it once per hart); default null: not traced. */
  trace?: TraceWriter | null;
}

/** Per-context counters (worker-local; racy reads are fine). */
export interface VmCounters {
  demandFaults: number;
  /** Of demandFaults: file-backed pages (the rest are anonymous demand-zero). */
  fileFaults: number;
  cowCopies: number;
  cowReuses: number;
  spuriousFaults: number;
  /** Faults below a grows-down region that extended it (kernel/mm/stack.ts). */
  stackGrowths: number;
  /** Clean, unmapped page-cache pages this context evicted to free frames (kernel/mm/pagecache.ts). */
  pagesEvicted: number;
  /** Processes this context's OOM killer sent SIGKILL (kernel/signal/oom.ts). */
  oomKills: number;
  /**
   * Frames a teardown found named by a PTE or table pointer but not allocated, skipped instead
   * of freed (kernel/mm/shootdown.ts releaseFrames). Only an unsafe policy (off, lazy) lets it
   * happen: a guest store through a stale entry into a frame reused as a page table.
   */
  corruptPtes: number;
  hugeMaps: number;
  hugeSplits: number;
  shootdowns: number;
  localFlushPages: number;
  localFlushAsid: number;
}

export class KernelContext {
  readonly hartId: number;
  readonly ram: PhysicalMemory;
  readonly ctl: Ctl;
  readonly frames: FrameAllocator;
  tlb: LocalTlb | null;
  readonly whileWaiting: WhileWaiting;
  /** The shootdown policy's remote step (kernel/mm/shootdown.ts); the scheduler replaces it. */
  policy: ShootdownPolicy;
  /** Where fault, syscall and flush events of this hart go (kernel/lab/trace.ts); null = tracing off. */
  readonly trace: TraceWriter | null;
  /** Stale records created by this context and not yet passed to completeShootdown. */
  staleOutstanding = 0;
  readonly counters: VmCounters = {
    demandFaults: 0, fileFaults: 0, cowCopies: 0, cowReuses: 0, spuriousFaults: 0, stackGrowths: 0, pagesEvicted: 0, oomKills: 0, corruptPtes: 0, hugeMaps: 0, hugeSplits: 0,
    shootdowns: 0, localFlushPages: 0, localFlushAsid: 0,
  };

  constructor(o: KernelContextOptions) {
    this.hartId = o.hartId;
    this.ram = o.ram;
    this.ctl = o.ctl;
    this.whileWaiting = o.whileWaiting ?? (() => {});
    this.frames = o.frames ?? new FrameAllocator(o.ctl, o.hartId, this.whileWaiting);
    // Out of frames: evict clean, unmapped page-cache pages before failing (kernel/mm/pagecache.ts).
    this.frames.reclaim ??= (want) => evictPages(this, want);
    this.tlb = o.tlb ?? null;
    this.policy = o.policy ?? LOCAL_ONLY;
    this.trace = o.trace ?? null;
  }

  /** A main-thread context (hartId -1, no frame cache) for tests and tools. */
  static forHost(ram: PhysicalMemory, ctl: Ctl, tlb: LocalTlb | null = null): KernelContext {
    return new KernelContext({ hartId: -1, ram, ctl, tlb });
  }

  /**
   * The fault and syscall exit paths call this: every Stale record made on the way must have
   * been completed. Throws "stale: N unflushed Stale records (at <where>)" otherwise.
   */
  assertNoStale(where: string): void {
    if (this.staleOutstanding !== 0) {
      throw new Error(`stale: ${this.staleOutstanding} unflushed Stale records (at ${where})`);
    }
  }
}
