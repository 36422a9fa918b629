/**
 * Machine statistics for `--stats-json` and the API (DESIGN.md section 6 "the lab"): one
 * snapshot, per hart and in total, read from shared memory only — the hardware counters
 * (cpu/counters.ts), the scheduler's per-hart block (kernel/proc/layout.ts), the lab's
 * per-hart block (kernel/lab/layout.ts; fault counts are published there at every poll
 * point), the frame allocator, the sanitizer's report ring and the ENOSYS counts.
 * Racy while harts run (each counter is read once); exact when the machine is quiet.
 */
import {
  HC_FLUSH_ALL, HC_FLUSH_ASID, HC_FLUSH_PAGE, HC_FLUSH_PAGE_ASID, HC_INSTRET, HC_JIT_BLOCKS, HC_JIT_COMPILE_US, HC_JIT_INSNS,
  HC_TLB_EVICTIONS, HC_TLB_HIT_FETCH,
  HC_TLB_HIT_LOAD, HC_TLB_HIT_STORE, HC_TLB_MISS_FETCH, HC_TLB_MISS_LOAD, HC_TLB_MISS_STORE, HC_WALK_CACHE_HITS, HC_WALKS,
} from '../../cpu/counters.ts';
import { kernelFrames } from '../mm/aspace.ts';
import { FrameAllocator } from '../mm/frames.ts';
import {
  formatPolicySpec, LH_IPI_OPTS, LH_MODE, LH_POLICY, LS_CHANGES, LS_DEFERRED, LS_DEFERRED_SYNC, LS_FAULT_COW_COPY, LS_FAULT_COW_REUSE, LS_FAULT_DEMAND,
  LS_FAULT_FILE, LS_FAULT_HUGE, LS_FAULT_SPURIOUS, LS_LOCAL_FLUSH_ASID, LS_LOCAL_FLUSH_PAGES, LS_PARKED_NOW,
  LS_PARKED_TOTAL, LS_PERPAGE_MSGS, LS_POLL_FLUSH_FULL, LS_POLL_FLUSH_RANGE, LS_REPORTS, LS_SLOW_CHECKS, policyName,
} from './layout.ts';
import { hartCounterIndex, type Ctl } from '../layout.ts';
import { labStatIndex, readReports, type SanitizerReport } from './sanitizer.ts';
import {
  HART_SCHED_BYTES, HS_LAT, HS_STATS, LAT_RING, ST_FAULTS, ST_SD_IPIS, ST_SD_LAT_N, ST_SD_LOCAL_FULL, ST_SD_RECV,
  ST_SD_RECV_FULL, ST_SD_RECV_RANGE, ST_SD_SENT, ST_SWITCH_FULL, ST_SWITCH_NEW, ST_SWITCH_NONE, ST_SWITCH_RANGE,
  ST_SYSCALLS, ST_BC_APPLIED, ST_BC_ASIDS, ST_BC_FALLBACK, ST_BC_GASIDS, ST_BC_ISSUED, ST_BC_PAGES, ST_BC_SYNC_NS,
  ST_BC_SYNCS, ST_BC_TRANSITION, ST_SD_ACK_LATE, ST_SD_EARLY_ACK, ST_SD_IN_CONTEXT, ST_SD_IN_CONTEXT_FLUSH, ST_SD_LINES,
  ST_SD_RECV_NS,
} from '../proc/layout.ts';
import { enosysCounts } from '../syscall.ts';

/** Statistics of one hart (and, summed, of the machine). */
export interface HartLabStats {
  instructions: number;
  /** The translator (cpu/jit.ts): blocks compiled, their compile time, instructions run compiled vs interpreted. */
  jit: { blocks: number; compileUs: number; translated: number; interpreted: number };
  /** walkCacheHits: walks that began at a level-0 table the page-walk cache held (cpu/walk-cache.ts; 0 while the sanitizer observes). */
  tlb: { hits: number; misses: number; walks: number; evictions: number; walkCacheHits: number };
  flushes: {
    /** sfence.vma operations by operand form (a range is several page flushes), and range operations. */
    page: number; asid: number; all: number; rangeOps: number;
    /** Flush operations by cause. */
    byCause: { shootdown: number; switch: number; localChange: number; poll: number };
  };
  contextSwitches: { total: number; withFlush: number; withoutFlush: number };
  /** Interrupts sent and received; handlerNs: time targets spent in shootdown handlers (ipi policy only). */
  interrupts: { sent: number; received: number; handlerNs: number };
  /**
   * Shootdowns; the ipi options' counters (docs/policies.md "ipi options"): requests acknowledged
   * before the flush (earlyAcks) or after it because the change freed page-table pages (lateAcks),
   * flushes owed to the return to guest code (inContext) and applied there (inContextFlushes),
   * requests sent through consolidated request lines (lineRequests).
   */
  shootdowns: {
    initiated: number; changes: number; deferred: number; deferredSync: number; perPageMessages: number;
    earlyAcks: number; lateAcks: number; inContext: number; inContextFlushes: number; lineRequests: number;
  };
  faults: { total: number; demandZero: number; file: number; cowCopy: number; cowReuse: number; spurious: number; huge: number; signal: number };
  syscalls: number;
  sanitizer: { violations: number; slowChecks: number };
  parkedFrames: number;
  /**
   * The broadcast policy (scheduler/policy-broadcast.ts): broadcasts issued, the pages and whole
   * ASIDs they named, tlbsyncs that waited and the ns spent in them, broadcast entries applied by
   * this hart's hardware, changes flushed by ipi (spaces without a global ASID), global ASIDs
   * assigned, and interrupts sent to harts moving a global-ASID space to its global ASID.
   */
  broadcast: {
    issued: number; pages: number; asids: number; tlbsyncWaits: number; tlbsyncNs: number; applied: number;
    fallback: number; globalAsids: number; transitionIpis: number;
  };
}

/** The whole snapshot (`--stats-json`; dotted names in the docs are these nested fields). */
export interface LabStats extends HartLabStats {
  policy: string;
  sanitizerMode: 'off' | 'report' | 'fatal';
  shootdowns: HartLabStats['shootdowns'] & {
    targetsPerShootdown: number;
    latencyNs: { count: number; p50: number; p99: number; mean: number; max: number };
  };
  frames: { total: number; free: number; inUse: number; kernel: number; parked: number; parkedTotal: number };
  sanitizer: HartLabStats['sanitizer'] & { reports: SanitizerReport[] };
  enosys: Record<number, number>;
  harts: HartLabStats[];
}

function hartStats(ctl: Ctl, h: number): { s: HartLabStats; latencies: number[]; parkedTotal: number } {
  const f = ctl.f64;
  const hc = (slot: number) => f[hartCounterIndex(ctl.layout, h, slot)]!;
  const sb = (ctl.layout.hartSched + h * HART_SCHED_BYTES) / 4;
  const st = (slot: number) => f[(sb + HS_STATS) / 2 + slot]!;
  const ls = (slot: number) => f[labStatIndex(ctl, h, slot)]!;
  const n = st(ST_SD_LAT_N);
  const latencies: number[] = [];
  for (let k = Math.max(0, n - LAT_RING); k < n; k++) latencies.push(f[(sb + HS_LAT) / 2 + (k % LAT_RING)]!);
  const switchFlush = st(ST_SWITCH_NEW) + st(ST_SWITCH_RANGE) + st(ST_SWITCH_FULL);
  const faults = st(ST_FAULTS);
  const resolved = ls(LS_FAULT_DEMAND) + ls(LS_FAULT_COW_COPY) + ls(LS_FAULT_COW_REUSE) + ls(LS_FAULT_SPURIOUS);
  const s: HartLabStats = {
    instructions: hc(HC_INSTRET),
    jit: {
      blocks: hc(HC_JIT_BLOCKS), compileUs: hc(HC_JIT_COMPILE_US), translated: hc(HC_JIT_INSNS),
      interpreted: hc(HC_INSTRET) - hc(HC_JIT_INSNS),
    },
    tlb: {
      hits: hc(HC_TLB_HIT_FETCH) + hc(HC_TLB_HIT_LOAD) + hc(HC_TLB_HIT_STORE),
      misses: hc(HC_TLB_MISS_FETCH) + hc(HC_TLB_MISS_LOAD) + hc(HC_TLB_MISS_STORE),
      walks: hc(HC_WALKS), evictions: hc(HC_TLB_EVICTIONS), walkCacheHits: hc(HC_WALK_CACHE_HITS),
    },
    flushes: {
      page: hc(HC_FLUSH_PAGE) + hc(HC_FLUSH_PAGE_ASID), asid: hc(HC_FLUSH_ASID), all: hc(HC_FLUSH_ALL),
      rangeOps: st(ST_SWITCH_RANGE) + st(ST_SD_RECV_RANGE) + ls(LS_POLL_FLUSH_RANGE),
      byCause: {
        shootdown: st(ST_SD_RECV_RANGE) + st(ST_SD_RECV_FULL) + st(ST_SD_LOCAL_FULL),
        switch: switchFlush,
        localChange: ls(LS_CHANGES), // kernel/mm/shootdown.ts flushes locally once per change
        poll: ls(LS_POLL_FLUSH_RANGE) + ls(LS_POLL_FLUSH_FULL),
      },
    },
    contextSwitches: { total: switchFlush + st(ST_SWITCH_NONE), withFlush: switchFlush, withoutFlush: st(ST_SWITCH_NONE) },
    interrupts: { sent: st(ST_SD_IPIS), received: st(ST_SD_RECV), handlerNs: st(ST_SD_RECV_NS) },
    shootdowns: {
      initiated: st(ST_SD_SENT), changes: ls(LS_CHANGES), deferred: ls(LS_DEFERRED), deferredSync: ls(LS_DEFERRED_SYNC),
      perPageMessages: ls(LS_PERPAGE_MSGS), earlyAcks: st(ST_SD_EARLY_ACK), lateAcks: st(ST_SD_ACK_LATE),
      inContext: st(ST_SD_IN_CONTEXT), inContextFlushes: st(ST_SD_IN_CONTEXT_FLUSH), lineRequests: st(ST_SD_LINES),
    },
    faults: {
      total: faults, demandZero: ls(LS_FAULT_DEMAND) - ls(LS_FAULT_FILE), file: ls(LS_FAULT_FILE),
      cowCopy: ls(LS_FAULT_COW_COPY), cowReuse: ls(LS_FAULT_COW_REUSE), spurious: ls(LS_FAULT_SPURIOUS),
      huge: ls(LS_FAULT_HUGE), signal: Math.max(0, faults - resolved),
    },
    syscalls: st(ST_SYSCALLS),
    sanitizer: { violations: ls(LS_REPORTS), slowChecks: ls(LS_SLOW_CHECKS) },
    parkedFrames: ls(LS_PARKED_NOW),
    broadcast: {
      issued: st(ST_BC_ISSUED), pages: st(ST_BC_PAGES), asids: st(ST_BC_ASIDS), tlbsyncWaits: st(ST_BC_SYNCS),
      tlbsyncNs: st(ST_BC_SYNC_NS), applied: st(ST_BC_APPLIED), fallback: st(ST_BC_FALLBACK), globalAsids: st(ST_BC_GASIDS),
      transitionIpis: st(ST_BC_TRANSITION),
    },
  };
  return { s, latencies, parkedTotal: ls(LS_PARKED_TOTAL) };
}

/** Sum numeric leaves of `b` into `a` (same shape). */
function addInto(a: Record<string, unknown>, b: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(b)) {
    if (typeof v === 'number') a[k] = ((a[k] as number) ?? 0) + v;
    else if (v && typeof v === 'object') addInto(a[k] as Record<string, unknown>, v as Record<string, unknown>);
  }
}

/** Percentile `p` (0-100) of sorted `xs` (nearest rank; 0 when empty). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  return xs[Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1))]!;
}

/** The statistics snapshot of the machine whose ctl is `ctl` (any thread). */
export function labStats(ctl: Ctl): LabStats {
  const harts: HartLabStats[] = [];
  const lat: number[] = [];
  let parkedTotal = 0;
  for (let h = 0; h < ctl.layout.cpus; h++) {
    const r = hartStats(ctl, h);
    harts.push(r.s);
    lat.push(...r.latencies);
    parkedTotal += r.parkedTotal;
  }
  const total = structuredClone(harts[0]!);
  for (let h = 1; h < harts.length; h++) addInto(total as unknown as Record<string, unknown>, harts[h] as unknown as Record<string, unknown>);
  lat.sort((a, b) => a - b);
  const code = policyName(Atomics.load(ctl.i32, ctl.layout.lab / 4 + LH_POLICY));
  const policy = code === 'ipi' ? formatPolicySpec(code, Atomics.load(ctl.i32, ctl.layout.lab / 4 + LH_IPI_OPTS)) : code;
  const mode = Atomics.load(ctl.i32, ctl.layout.lab / 4 + LH_MODE);
  const f = new FrameAllocator(ctl, -1).stats();
  const { reports } = readReports(ctl, policy);
  return {
    ...total,
    policy,
    sanitizerMode: mode === 2 ? 'fatal' : mode === 1 ? 'report' : 'off',
    shootdowns: {
      ...total.shootdowns,
      targetsPerShootdown: total.shootdowns.initiated === 0 ? 0 : total.interrupts.sent / total.shootdowns.initiated,
      latencyNs: {
        count: lat.length, p50: percentile(lat, 50), p99: percentile(lat, 99),
        mean: lat.length ? lat.reduce((s, x) => s + x, 0) / lat.length : 0, max: lat.length ? lat[lat.length - 1]! : 0,
      },
    },
    frames: { total: f.total, free: f.free, inUse: f.inUse, kernel: kernelFrames(ctl), parked: total.parkedFrames, parkedTotal },
    sanitizer: { ...total.sanitizer, reports: reports.slice(0, 50) },
    enosys: enosysCounts(ctl),
    harts,
  };
}
