/**
 * What the demo shows, read from a running machine's shared memory: per hart the thread it
 * runs, its retired instructions, TLB hits and misses, shootdowns sent and received, and
 * interrupts served; and the machine totals. Every read is a racy snapshot of counters only
 * their owner writes (cpu/counters.ts HC_*, kernel/proc/layout.ts ST_*, the mailbox HEAD, the
 * sanitizer's report count) — good enough for a display, exact once the harts are quiet.
 *
 * Plain data only (no Machine inside), so a snapshot crosses the demo's IPC channel as is.
 */
import {
  HC_INSTRET, HC_TLB_HIT_FETCH, HC_TLB_HIT_LOAD, HC_TLB_HIT_STORE, HC_TLB_MISS_FETCH, HC_TLB_MISS_LOAD, HC_TLB_MISS_STORE,
} from '../cpu/counters.ts';
import { MB_HEAD } from '../cpu/mailbox.ts';
import { LH_REPORTS } from '../kernel/lab/layout.ts';
import { hartCounterIndex } from '../kernel/layout.ts';
import { P_PID } from '../kernel/proc/layout.ts';
import { HartSchedBlock } from '../scheduler/asid.ts';
import { schedStats, type SchedStats } from '../scheduler/api.ts';
import type { Machine } from '../scheduler/machine.ts';
import { procWord } from '../scheduler/process.ts';
import { ThreadTable } from '../scheduler/threads.ts';

/** One hart at one moment. */
export interface HartSample {
  hartId: number;
  /** Thread id running on it and its process id, or -1 when idle. */
  tid: number;
  pid: number;
  instret: number;
  tlbHits: number;
  tlbMisses: number;
  /** Shootdowns this hart initiated (with at least one target) / shootdown interrupts it received. */
  shootdownsSent: number;
  shootdownsRecv: number;
  /** Mailbox messages (interrupts) this hart has served. */
  interrupts: number;
}

/** Machine totals at one moment (sums over harts; frames from the allocator). */
export interface MachineTotals {
  instructions: number;
  tlbHits: number;
  tlbMisses: number;
  /** Shootdowns initiated, interrupts they sent, and shootdown interrupts received. */
  shootdowns: number;
  shootdownIpis: number;
  shootdownsRecv: number;
  /** Mailbox messages served by all harts (shootdown requests, reschedules, host commands). */
  interrupts: number;
  faults: number;
  syscalls: number;
  contextSwitches: number;
  /** Stale-translation sanitizer reports so far (0 when the sanitizer is off). */
  sanitizerReports: number;
  frames: SchedStats['frames'];
}

export interface MachineSample {
  /** ms since the demo started. */
  elapsedMs: number;
  harts: HartSample[];
  totals: MachineTotals;
}

const sum = (c: Float64Array, i: number, slots: readonly number[]): number => slots.reduce((s, k) => s + c[i + k]!, 0);
const HITS = [HC_TLB_HIT_FETCH, HC_TLB_HIT_LOAD, HC_TLB_HIT_STORE] as const;
const MISSES = [HC_TLB_MISS_FETCH, HC_TLB_MISS_LOAD, HC_TLB_MISS_STORE] as const;

/** Snapshot every hart of `m` and the totals; `elapsedMs` is stamped by the caller's clock. */
export function sampleMachine(m: Machine, elapsedMs: number): MachineSample {
  const { ctl } = m;
  const threads = new ThreadTable(ctl);
  const stats = schedStats(m);
  const harts: HartSample[] = [];
  let interrupts = 0;
  for (let h = 0; h < m.cpus; h++) {
    const base = hartCounterIndex(ctl.layout, h, 0);
    const c = stats.harts[h]!.counters;
    const tix = new HartSchedBlock(ctl, h).current;
    const tid = tix >= 0 ? threads.tid(tix) : -1;
    const pid = tix >= 0 ? ctl.i32[procWord(ctl, threads.proc(tix), P_PID)]! : -1;
    const served = Atomics.load(ctl.i32, m.mailboxes.word(h, MB_HEAD)) >>> 0; // consumer position = messages served
    interrupts += served;
    harts.push({
      hartId: h, tid, pid,
      instret: ctl.f64[base + HC_INSTRET]!,
      tlbHits: sum(ctl.f64, base, HITS), tlbMisses: sum(ctl.f64, base, MISSES),
      shootdownsSent: c['shootdown.sent'] ?? 0, shootdownsRecv: c['shootdown.recv'] ?? 0, interrupts: served,
    });
  }
  const t = stats.total;
  const add = (k: keyof HartSample): number => harts.reduce((s, x) => s + (x[k] as number), 0);
  return {
    elapsedMs, harts,
    totals: {
      instructions: add('instret'), tlbHits: add('tlbHits'), tlbMisses: add('tlbMisses'),
      shootdowns: t['shootdown.sent'] ?? 0, shootdownIpis: t['shootdown.ipis'] ?? 0, shootdownsRecv: t['shootdown.recv'] ?? 0,
      interrupts, faults: t.faults ?? 0, syscalls: t.syscalls ?? 0,
      contextSwitches: (t['switch.newAsid'] ?? 0) + (t['switch.range'] ?? 0) + (t['switch.full'] ?? 0) + (t['switch.none'] ?? 0),
      sanitizerReports: Atomics.load(ctl.i32, ctl.layout.lab / 4 + LH_REPORTS), // kernel/lab/sanitizer.ts: reports ever
      frames: stats.frames,
    },
  };
}

/** Hit rate in percent of `hits` among `hits + misses` (100 when there were no lookups). */
export function hitRate(hits: number, misses: number): number {
  return hits + misses === 0 ? 100 : (100 * hits) / (hits + misses);
}

/**
 * The display line of hart `now.harts[h]`, with MIPS over the interval since `prev` (null: since
 * the start): "hart 0: tid 3 (mix)      41.2 MIPS  TLB  99.10% shootdowns 2 sent / 5 recv".
 */
export function hartLine(now: MachineSample, prev: MachineSample | null, h: number, names: ReadonlyMap<number, string>): string {
  const x = now.harts[h]!;
  const p = prev?.harts[h];
  const dt = now.elapsedMs - (prev?.elapsedMs ?? 0);
  const mips = dt > 0 ? (x.instret - (p?.instret ?? 0)) / (dt * 1000) : 0;
  const who = x.tid < 0 ? 'idle' : `tid ${x.tid}${names.has(x.pid) ? ` (${names.get(x.pid)})` : ` (pid ${x.pid})`}`;
  // Fits 80 columns with the display's 2-space indent for counts up to 5 digits.
  return `hart ${h}: ${who.padEnd(15)} ${mips.toFixed(1).padStart(5)} MIPS  TLB ${hitRate(x.tlbHits, x.tlbMisses).toFixed(2).padStart(6)}% ` +
    `shootdowns ${x.shootdownsSent} sent / ${x.shootdownsRecv} recv`;
}
