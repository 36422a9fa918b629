/**
 * `bench policies`: every shootdown policy on the lab's standard workloads, by default with 4
 * harts (`--cpus 2,4,8` runs each at every count given) (test/lab/workloads.ts): `race` (the
 * unmap/remap race: remapper, scribbler, 2 readers; on fewer than 4 harts threads share harts) and
 * `munmap` (16-page mmap/touch/munmap rounds while a thread spins on each other hart), and the
 * bundled guests `tlbrace` (guests/bin/tlbrace 3 50 4) and `mix` (guests/bin/mix 1 1) through
 * test/lab/guest-runs.ts, each with the sanitizer on, plus `munmap` with the sanitizer off to
 * measure its overhead. A guest run still going after GUEST_TIMEOUT_MS is a row with exit
 * status -1 ("timeout") and no other figures.
 * Prints a table, each figure as `BENCH policies.<workload>.<policy>.<figure> <value> <unit>`
 * (at a hart count other than 4 the workload part gets a suffix: `munmap-2harts`,
 * `munmap-nosan-2harts`), and writes the JSON to bench/results/policies.json (or `--out PATH`):
 * `{ cpus: [counts], hostCores, hostLoad: { start, end }, date, rows }`, each row naming its `cpus` (bench/report-data.ts
 * reads it, and the older form with one `cpus` number and rows without it).
 *
 * `--policies a,b` and `--workloads w,x` run a subset (default: every policy but `local`, every
 * workload); `--cpus 2,4` the hart counts (default 4); `--rounds N` the rounds of `race` and
 * `munmap` (default 100 and 60: a quick run for tests and `coherent report` smoke checks).
 *
 * `ipi:OPT,...` specs run ipi with its options (docs/policies.md "ipi options"); the default list
 * has each option alone and `ipi:all` beside plain `ipi`.
 *
 * Figures: PTE changes that needed a shootdown (`changes`, the "operations" of interrupts per
 * operation), interrupts sent and received (a received interrupt is kernel code run on a target,
 * i.e. guest time it lost), flush operations (sfence.vma page + ASID + all, every hart),
 * shootdown latency p50/p99 (the initiator's wait — for `deferred` the time to park; for ipi
 * and its options the local flush and the wait), for ipi and its options the mean time a target
 * spent in a shootdown handler (`targetInterruptMean`, "irq us") and the options' counters,
 * wall time, guest throughput (instructions per second of wall time), sanitizer reports,
 * guest exit status; for `broadcast` also the broadcasts issued, the pages and whole ASIDs they
 * named, the tlbsyncs that waited and their mean time, global ASIDs assigned, ipi-fallback
 * changes and transition interrupts. The machine has 2 cores shared by 4 harts: latencies
 * include waiting for a core.
 *
 * `--deterministic` (docs/deterministic.md): every run in deterministic mode (seed 1), default
 * `--cpus 16`; latencies, `wall` (the run's virtual time) and throughput (instructions per
 * virtual second) come from the cost model, so they are the same on any host and load. Its lines
 * are `BENCH policies-det.<workload>...`, its JSON bench/results/policies-det.json (`deterministic: true`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BenchUsageError } from './usage.ts';
import { labStats, type LabStats } from '../kernel/lab/stats.ts';
import { parsePolicySpec, POLICY_NAMES, type PolicySpec } from '../kernel/lab/layout.ts';
import { bootScheduled, deterministicStats, spawn, untilQuiescent, wait } from '../scheduler/api.ts';
import { runGuest } from '../test/lab/guest-runs.ts';
import { munmapWorkload, raceWorkload, settledLeak } from '../test/lab/workloads.ts';

const MiB = 2 ** 20;
/** The ipi options one by one and together (docs/policies.md "ipi options"), beside plain ipi. */
const IPI_VARIANTS: PolicySpec[] = ['ipi:concurrent', 'ipi:early-ack', 'ipi:consolidate', 'ipi:in-context', 'ipi:all'];
const POLICIES: PolicySpec[] = [...POLICY_NAMES.filter((p) => p !== 'local'), ...IPI_VARIANTS];
const GUEST_TIMEOUT_MS = 30_000;
/** Deterministic mode runs one hart at a time (16 harts on the host's cores): a longer bound. */
const DET_GUEST_TIMEOUT_MS = 900_000;
const GUESTS = { tlbrace: ['3', '50', '4'], mix: ['1', '1'] } as const;
type Workload = 'race' | 'munmap' | keyof typeof GUESTS;

/** One run: a workload under a policy on `cpus` harts (NaN figures after a timeout, null in the JSON). */
export interface Row {
  workload: string;
  policy: PolicySpec;
  cpus: number;
  sanitize: boolean;
  exitStatus: number;
  /** PTE changes that needed a shootdown (labStats shootdowns.changes). */
  changes: number;
  interruptsSent: number;
  interruptsReceived: number;
  broadcast: LabStats['broadcast'] | null;
  flushes: number;
  latencyP50Us: number;
  latencyP99Us: number;
  wallMs: number;
  throughputMips: number;
  sanitizerReports: number;
  leakedFrames: number;
  /** Mean time (µs) a target spent in a shootdown interrupt handler (ipi and its options only; else NaN). */
  handlerUs: number;
  /** ipi options: requests acked before the flush, flushes owed to the return to guest code, requests sent through lines. */
  earlyAcks: number;
  inContext: number;
  lineRequests: number;
}

/** The whole JSON file. */
export interface PoliciesResult {
  cpus: number[];
  /** The host's cores (os.availableParallelism): harts beyond it wait for a core. */
  hostCores: number;
  /**
   * The host's 1-minute load average (os.loadavg) when the run began and when it ended: every
   * figure here is wall time on a shared host, so a reader needs to know how busy it was.
   */
  hostLoad: { start: number; end: number };
  date: string;
  /** Deterministic mode: wall and latencies are virtual (the cost model's). */
  deterministic?: boolean;
  rows: Row[];
}

/** The ipi-option figures of a row from its statistics. */
function ipiFigures(policy: PolicySpec, s: LabStats): Pick<Row, 'handlerUs' | 'earlyAcks' | 'inContext' | 'lineRequests'> {
  const ipi = parsePolicySpec(policy).policy === 'ipi';
  return {
    handlerUs: ipi && s.interrupts.received > 0 ? s.interrupts.handlerNs / s.interrupts.received / 1000 : NaN,
    earlyAcks: s.shootdowns.earlyAcks, inContext: s.shootdowns.inContext, lineRequests: s.shootdowns.lineRequests,
  };
}

async function runBundled(workload: keyof typeof GUESTS, policy: PolicySpec, cpus: number, deterministic: boolean): Promise<Row> {
  try {
    const r = await runGuest({
      policy, guest: workload, args: [...GUESTS[workload]], cpus, timeoutMs: deterministic ? DET_GUEST_TIMEOUT_MS : GUEST_TIMEOUT_MS,
      ...(deterministic ? { deterministic: true, seed: 1 } : {}),
    });
    const s = r.stats;
    const wallMs = r.deterministic !== null ? r.deterministic.virtualNs / 1e6 : r.wallMs;
    return {
      workload, policy, cpus, sanitize: true, exitStatus: r.status, changes: s.shootdowns.changes, interruptsSent: s.interrupts.sent, interruptsReceived: s.interrupts.received,
      broadcast: policy === 'broadcast' ? s.broadcast : null,
      flushes: s.flushes.page + s.flushes.asid + s.flushes.all,
      latencyP50Us: s.shootdowns.latencyNs.p50 / 1000, latencyP99Us: s.shootdowns.latencyNs.p99 / 1000,
      wallMs, throughputMips: s.instructions / wallMs / 1000, sanitizerReports: s.sanitizer.violations, leakedFrames: r.leaked,
      ...ipiFigures(policy, s),
    };
  } catch (e) {
    if (!(e instanceof Error && /still running/.test(e.message))) throw e;
    return {
      workload, policy, cpus, sanitize: true, exitStatus: -1, changes: NaN, interruptsSent: NaN, interruptsReceived: NaN, broadcast: null, flushes: NaN, latencyP50Us: NaN, latencyP99Us: NaN,
      wallMs: deterministic ? NaN : GUEST_TIMEOUT_MS, throughputMips: NaN, sanitizerReports: NaN, leakedFrames: NaN, handlerUs: NaN, earlyAcks: NaN, inContext: NaN,
      lineRequests: NaN,
    };
  }
}

interface RunConfig { cpus: number; raceRounds: number; munmapRounds: number; deterministic: boolean }

async function runOne(workload: Workload, policy: PolicySpec, sanitize: boolean, c: RunConfig): Promise<Row> {
  if (workload === 'tlbrace' || workload === 'mix') return runBundled(workload, policy, c.cpus, c.deterministic);
  const m = await bootScheduled({
    cpus: c.cpus, memory: 64 * MiB, policy, sanitize: sanitize ? 'report' : 'off', poison: workload === 'race', ...(c.deterministic ? { deterministic: true, seed: 1 } : {}),
  });
  try {
    const t0 = performance.now();
    const { pid } = spawn(m, workload === 'race' ? raceWorkload(c.raceRounds, c.cpus) : munmapWorkload(c.munmapRounds, 16, c.cpus));
    const exitStatus = await wait(m, pid, c.deterministic ? DET_GUEST_TIMEOUT_MS : 120_000);
    if (c.deterministic) await untilQuiescent(m, 60_000); // statistics of the finished run
    const det = deterministicStats(m);
    const wallMs = det !== null ? det.virtualNs / 1e6 : performance.now() - t0;
    const leakedFrames = await settledLeak(m);
    const s = labStats(m.ctl);
    return {
      workload, policy, cpus: c.cpus, sanitize, exitStatus, changes: s.shootdowns.changes, interruptsSent: s.interrupts.sent, interruptsReceived: s.interrupts.received,
      broadcast: policy === 'broadcast' ? s.broadcast : null,
      flushes: s.flushes.page + s.flushes.asid + s.flushes.all,
      latencyP50Us: s.shootdowns.latencyNs.p50 / 1000, latencyP99Us: s.shootdowns.latencyNs.p99 / 1000,
      wallMs, throughputMips: s.instructions / wallMs / 1000, sanitizerReports: s.sanitizer.violations, leakedFrames,
      ...ipiFigures(policy, s),
    };
  } finally {
    await m.shutdown();
  }
}

/** Parse `--cpus 2,4,8`: hart counts from 1 to 64, in the order given, without repeats. */
export function parseCpusList(text: string): number[] {
  const out: number[] = [];
  for (const t of text.split(',')) {
    const n = /^\d+$/.test(t.trim()) ? Number(t.trim()) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new BenchUsageError(`bench policies: --cpus '${text}': each count must be an integer from 1 to 64`);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

/** Run the benchmark (argv: `--out PATH --policies a,b --workloads w,x --cpus 2,4 --rounds N`, each optional). */
export async function run(argv: string[] = process.argv.slice(2)): Promise<void> {
  // Strict: an unknown or valueless option is an error before anything runs (and before the
  // committed results file could be overwritten by a run the user did not ask for).
  let values: { out?: string; policies?: string; workloads?: string; cpus?: string; rounds?: string; deterministic?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        out: { type: 'string' }, policies: { type: 'string' }, workloads: { type: 'string' }, cpus: { type: 'string' }, rounds: { type: 'string' },
        deterministic: { type: 'boolean' },
      },
    }));
  } catch (e) {
    throw new BenchUsageError(`bench policies: ${(e as Error).message} (options: --policies a,b --workloads w,x --cpus 2,4 --rounds N --out FILE --deterministic)`);
  }
  const deterministic = values.deterministic === true;
  const out = resolve(values.out ?? new URL(deterministic ? './results/policies-det.json' : './results/policies.json', import.meta.url).pathname);
  const list = (v: string | undefined): string[] | null => (v === undefined ? null : v.split(','));
  const policies = (list(values.policies) ?? POLICIES) as PolicySpec[];
  for (const p of policies) {
    try {
      if (parsePolicySpec(p).policy === 'local') throw new Error('local is a negative control');
    } catch (e) {
      throw new BenchUsageError(`bench policies: ${p}: ${(e as Error).message} (${POLICIES.join(', ')}, or ipi:OPT,...)`);
    }
  }
  const all = ['race', 'munmap', 'tlbrace', 'mix'] as const;
  const workloads = (list(values.workloads) ?? all) as Workload[];
  for (const w of workloads) if (!(all as readonly string[]).includes(w)) throw new BenchUsageError(`bench policies: unknown workload ${w} (${all.join(', ')})`);
  const cpusList = parseCpusList(values.cpus ?? (deterministic ? '16' : '4'));
  const roundsText = values.rounds;
  const rounds = roundsText === undefined ? null : Number(roundsText);
  if (rounds !== null && !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 100_000)) {
    throw new BenchUsageError(`bench policies: --rounds '${roundsText}': it must be an integer from 1 to 100000`);
  }
  const rows: Row[] = [];
  const loadStart = loadavg()[0]!;
  for (const cpus of cpusList) {
    const c: RunConfig = { cpus, raceRounds: rounds ?? 100, munmapRounds: rounds ?? 60, deterministic };
    for (const workload of workloads) {
      for (const policy of policies) rows.push(await runOne(workload, policy, true, c));
    }
    if (workloads.includes('munmap')) for (const policy of policies) rows.push(await runOne('munmap', policy, false, c));
  }
  if (deterministic) console.log('# deterministic mode (seed 1): wall = virtual time, latencies virtual (cpu/cost-model.ts)');
  const head = ['workload', 'policy', 'harts', 'san', 'exit', 'IPIs', 'flushes', 'p50 us', 'p99 us', 'irq us', 'wall ms', 'MIPS', 'reports', 'leak'];
  const pad = (c: unknown, k: number): string => (k === 0 ? String(c).padStart(12) : k === 1 ? String(c).padStart(16) : String(c).padStart(9));
  console.log(head.map(pad).join(''));
  for (const r of rows) {
    console.log([r.workload, r.policy, r.cpus, r.sanitize ? 'on' : 'off', r.exitStatus < 0 ? 'timeout' : r.exitStatus, r.interruptsSent, r.flushes, r.latencyP50Us.toFixed(1),
      r.latencyP99Us.toFixed(1), Number.isNaN(r.handlerUs) ? '-' : r.handlerUs.toFixed(1), r.wallMs.toFixed(0), r.throughputMips.toFixed(2), r.sanitizerReports,
      r.leakedFrames].map(pad).join(''));
  }
  for (const r of rows.filter((x) => x.exitStatus >= 0)) {
    const p = `policies${deterministic ? '-det' : ''}.${r.workload}${r.sanitize ? '' : '-nosan'}${r.cpus === 4 ? '' : `-${r.cpus}harts`}.${r.policy}`;
    console.log(`BENCH ${p}.changes ${r.changes} count`);
    console.log(`BENCH ${p}.interrupts ${r.interruptsSent} count`);
    console.log(`BENCH ${p}.interruptsReceived ${r.interruptsReceived} count`);
    const b = r.broadcast;
    if (b !== null) {
      console.log(`BENCH ${p}.broadcasts ${b.issued} count`);
      console.log(`BENCH ${p}.broadcastPages ${b.pages} count`);
      console.log(`BENCH ${p}.broadcastAsids ${b.asids} count`);
      console.log(`BENCH ${p}.broadcastApplied ${b.applied} count`);
      console.log(`BENCH ${p}.tlbsyncWaits ${b.tlbsyncWaits} count`);
      console.log(`BENCH ${p}.tlbsyncMean ${(b.issued === 0 ? 0 : b.tlbsyncNs / b.issued / 1000).toFixed(1)} us`);
      console.log(`BENCH ${p}.globalAsids ${b.globalAsids} count`);
      console.log(`BENCH ${p}.ipiFallbackChanges ${b.fallback} count`);
      console.log(`BENCH ${p}.transitionInterrupts ${b.transitionIpis} count`);
    }
    console.log(`BENCH ${p}.flushes ${r.flushes} count`);
    console.log(`BENCH ${p}.latencyP50 ${r.latencyP50Us.toFixed(1)} us`);
    console.log(`BENCH ${p}.latencyP99 ${r.latencyP99Us.toFixed(1)} us`);
    console.log(`BENCH ${p}.wall ${r.wallMs.toFixed(0)} ms`);
    console.log(`BENCH ${p}.throughput ${r.throughputMips.toFixed(3)} MIPS`);
    console.log(`BENCH ${p}.sanitizerReports ${r.sanitizerReports} count`);
    if (!Number.isNaN(r.handlerUs)) {
      console.log(`BENCH ${p}.targetInterruptMean ${r.handlerUs.toFixed(2)} us`);
      console.log(`BENCH ${p}.earlyAcks ${r.earlyAcks} count`);
      console.log(`BENCH ${p}.inContextFlushes ${r.inContext} count`);
      console.log(`BENCH ${p}.lineRequests ${r.lineRequests} count`);
    }
  }
  mkdirSync(dirname(out), { recursive: true });
  const result: PoliciesResult = {
    cpus: cpusList, hostCores: availableParallelism(), hostLoad: { start: loadStart, end: loadavg()[0]! }, date: new Date().toISOString(),
    ...(deterministic ? { deterministic } : {}), rows,
  };
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`policies: wrote ${out}`);
}
