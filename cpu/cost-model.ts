/**
 * The cost model of deterministic mode's virtual time (docs/deterministic.md): what each event
 * the machine counts costs, in cycles of a core clocked at CLOCK_HZ. Virtual time is the sum of
 * these costs over the work the harts did, one hart at a time (cpu/baton.ts, cpu/vclock.ts);
 * nothing here reads the host clock.
 *
 * The defaults describe a current server core (3 GHz class: Intel Sapphire Rapids / AMD Zen 4).
 * Sources:
 *  - CPI: the SPEC CPU 2017 integer rate suite averages IPC ≈ 1.5–2.5 on such cores
 *    (Limaye & Adegbija, ISPASS 2018, "A Workload Characterization of the SPEC CPU2017
 *    Benchmark Suite"); one CPI of 0.5 for every retired guest instruction (one class: instret).
 *  - Page-table walk: a radix walk level that misses the paging-structure caches costs an L2/LLC
 *    access, ~15–40 cycles (Bhargava et al., ASPLOS 2008; Intel SDM vol. 3 §4.10.3); 25 per
 *    level, 4 levels for Sv48.
 *  - Trap entry + exit: a null system call on Linux with the usual mitigations is ~100–250 ns
 *    (Soares & Stumm, OSDI 2010 "FlexSC": ~150 cycles of direct cost without mitigations; lmbench
 *    lat_syscall null on recent kernels ~100 ns); 400 cycles.
 *  - Interrupt delivery + handler entry: an IPI's one-way delivery and handler entry is ~1 µs
 *    on x86 servers (Amit et al., "Optimizing the TLB Shootdown Algorithm with Page Access
 *    Tracking", USENIX ATC 2017; Kumar et al., "LATR", ASPLOS 2018 measure 2–5 µs round trips
 *    for a shootdown to one remote core); 2,000 cycles for delivery + entry.
 *  - Flush of one page (INVLPG) ~100–250 cycles, of a whole ASID/PCID or the whole TLB ~500
 *    cycles plus the refills it causes (Intel optimization manual; Amit 2017); 200 / 500.
 *  - Context switch (save/restore, run-queue work, no TLB flush thanks to ASIDs): ~1–2 µs
 *    (lmbench lat_ctx 2p/0k on current Linux); 3,000 cycles.
 *  - A waiting hart's turn (a lock or an acknowledgement not there yet): one pause-loop
 *    iteration, ~140 cycles on Skylake-SP and later (Intel optimization manual, PAUSE latency).
 */

/** Core clock of the model (Hz). */
export const CLOCK_HZ = 3_000_000_000;
/** Nanoseconds per cycle. */
export const NS_PER_CYCLE = 1e9 / CLOCK_HZ;
/** Cycles per retired guest instruction (every class: the harts count instret only). */
export const CPI = 0.5;
/** Cycles of one page-table walk level (Sv48 walks up to WALK_LEVELS). */
export const WALK_LEVEL_CYCLES = 25;
export const WALK_LEVELS = 4;
/** Cycles of one trap's entry and exit (ecall, page fault, other exception). */
export const TRAP_CYCLES = 400;
/** Cycles of one interrupt's delivery and handler entry (an IPI served from the mailbox). */
export const INTERRUPT_CYCLES = 2_000;
/** Cycles of a one-page TLB flush (sfence.vma va). */
export const FLUSH_PAGE_CYCLES = 200;
/** Cycles of a whole-ASID or whole-TLB flush (sfence.vma x0). */
export const FLUSH_ASID_CYCLES = 500;
/** Cycles of a context switch (thread save/restore and run-queue work). */
export const CONTEXT_SWITCH_CYCLES = 3_000;
/** Cycles a waiting hart burns per turn it gets while the thing it waits for is not there. */
export const WAIT_TURN_CYCLES = 140;

/** The counted events of one stretch of a hart's work (deltas of cpu/counters.ts slots). */
export interface WorkCounts {
  instret: number;
  walks: number;
  traps: number;
  flushPages: number;
  flushAsids: number;
}

/** Virtual nanoseconds of the work `w` under this model (a pure function). */
export function workNs(w: WorkCounts): number {
  const cycles = w.instret * CPI + w.walks * WALK_LEVELS * WALK_LEVEL_CYCLES + w.traps * TRAP_CYCLES
    + w.flushPages * FLUSH_PAGE_CYCLES + w.flushAsids * FLUSH_ASID_CYCLES;
  return cycles * NS_PER_CYCLE;
}

/** Virtual nanoseconds of `n` events costing `cycles` each. */
export function cyclesNs(cycles: number, n = 1): number {
  return cycles * n * NS_PER_CYCLE;
}
