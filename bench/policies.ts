/**
 * `bench policies`: every shootdown policy on the lab's standard workloads with 4 harts
 * (test/lab/workloads.ts): `race` (the unmap/remap race: remapper, scribbler, 2 readers) and
 * `munmap` (16-page mmap/touch/munmap rounds while 3 threads spin on the other harts), and the
 * bundled guests `tlbrace` (guests/bin/tlbrace 3 50 4) and `mix` (guests/bin/mix 1 1) through
 * test/lab/guest-runs.ts, each with the sanitizer on, plus `munmap` with the sanitizer off to
 * measure its overhead. A guest run still going after GUEST_TIMEOUT_MS is a row with exit
 * status -1 ("timeout") and no other figures.
 * Prints a table, each figure as `BENCH policies.<workload>.<policy>.<figure> <value> <unit>`,
 * and writes the JSON to bench/results/policies.json (or `--out PATH`).
 *
 * `--policies a,b` and `--workloads w,x` run a subset (default: every policy but `local`, every
 * workload).
 *
 * `ipi:OPT,...` specs run ipi with its options (docs/policies.md "ipi options"); the default list
 * has each option alone and `ipi:all` beside plain `ipi`.
 *
 * Figures: interrupts sent and received (a received interrupt is kernel code run on a target,
 * i.e. guest time it lost), flush operations (sfence.vma page + ASID + all, every hart),
 * shootdown latency p50/p99 (the initiator's wait — for `deferred` the time to park; for ipi
 * and its options the local flush and the wait), for ipi and its options the mean time a target
 * spent in a shootdown handler (`targetInterruptMean`, "irq us") and the options' counters,
 * wall time, guest throughput (instructions per second of wall time), sanitizer reports,
 * guest exit status; for `broadcast` also the broadcasts issued, the pages and whole ASIDs they
 * named, the tlbsyncs that waited and their mean time, global ASIDs assigned, ipi-fallback
 * changes and transition interrupts. The machine has 2 cores shared by 4 harts: latencies
 * include waiting for a core.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { labStats, type LabStats } from '../kernel/lab/stats.ts';
import { parsePolicySpec, POLICY_NAMES, type PolicySpec } from '../kernel/lab/layout.ts';
import { bootScheduled, spawn, wait } from '../scheduler/api.ts';
import { runGuest } from '../test/lab/guest-runs.ts';
import { munmapWorkload, raceWorkload, settledLeak } from '../test/lab/workloads.ts';

const MiB = 2 ** 20;
/** The ipi options one by one and together (docs/policies.md "ipi options"), beside plain ipi. */
const IPI_VARIANTS: PolicySpec[] = ['ipi:concurrent', 'ipi:early-ack', 'ipi:consolidate', 'ipi:in-context', 'ipi:all'];
const POLICIES: PolicySpec[] = [...POLICY_NAMES.filter((p) => p !== 'local'), ...IPI_VARIANTS];
const GUEST_TIMEOUT_MS = 30_000;
const GUESTS = { tlbrace: ['3', '50', '4'], mix: ['1', '1'] } as const;
type Workload = 'race' | 'munmap' | keyof typeof GUESTS;

interface Row {
  workload: string;
  policy: PolicySpec;
  sanitize: boolean;
  exitStatus: number;
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

/** The ipi-option figures of a row from its statistics. */
function ipiFigures(policy: PolicySpec, s: LabStats): Pick<Row, 'handlerUs' | 'earlyAcks' | 'inContext' | 'lineRequests'> {
  const ipi = parsePolicySpec(policy).policy === 'ipi';
  return {
    handlerUs: ipi && s.interrupts.received > 0 ? s.interrupts.handlerNs / s.interrupts.received / 1000 : NaN,
    earlyAcks: s.shootdowns.earlyAcks, inContext: s.shootdowns.inContext, lineRequests: s.shootdowns.lineRequests,
  };
}

async function runBundled(workload: keyof typeof GUESTS, policy: PolicySpec): Promise<Row> {
  try {
    const r = await runGuest({ policy, guest: workload, args: [...GUESTS[workload]], timeoutMs: GUEST_TIMEOUT_MS });
    const s = r.stats;
    return {
      workload, policy, sanitize: true, exitStatus: r.status, interruptsSent: s.interrupts.sent, interruptsReceived: s.interrupts.received,
      broadcast: policy === 'broadcast' ? s.broadcast : null,
      flushes: s.flushes.page + s.flushes.asid + s.flushes.all,
      latencyP50Us: s.shootdowns.latencyNs.p50 / 1000, latencyP99Us: s.shootdowns.latencyNs.p99 / 1000,
      wallMs: r.wallMs, throughputMips: s.instructions / r.wallMs / 1000, sanitizerReports: s.sanitizer.violations, leakedFrames: r.leaked,
      ...ipiFigures(policy, s),
    };
  } catch (e) {
    if (!(e instanceof Error && /still running/.test(e.message))) throw e;
    return {
      workload, policy, sanitize: true, exitStatus: -1, interruptsSent: NaN, interruptsReceived: NaN, broadcast: null, flushes: NaN, latencyP50Us: NaN, latencyP99Us: NaN,
      wallMs: GUEST_TIMEOUT_MS, throughputMips: NaN, sanitizerReports: NaN, leakedFrames: NaN, handlerUs: NaN, earlyAcks: NaN, inContext: NaN,
      lineRequests: NaN,
    };
  }
}

async function runOne(workload: Workload, policy: PolicySpec, sanitize: boolean): Promise<Row> {
  if (workload === 'tlbrace' || workload === 'mix') return runBundled(workload, policy);
  const m = await bootScheduled({ cpus: 4, memory: 64 * MiB, policy, sanitize: sanitize ? 'report' : 'off', poison: workload === 'race' });
  try {
    const t0 = performance.now();
    const { pid } = spawn(m, workload === 'race' ? raceWorkload(100) : munmapWorkload(60, 16));
    const exitStatus = await wait(m, pid, 120_000);
    const wallMs = performance.now() - t0;
    const leakedFrames = await settledLeak(m);
    const s = labStats(m.ctl);
    return {
      workload, policy, sanitize, exitStatus, interruptsSent: s.interrupts.sent, interruptsReceived: s.interrupts.received,
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

/** Run the benchmark (argv: optional `--out PATH`). */
export async function run(argv: string[] = process.argv.slice(2)): Promise<void> {
  const k = argv.indexOf('--out');
  const out = resolve(k >= 0 && argv[k + 1] ? argv[k + 1]! : new URL('./results/policies.json', import.meta.url).pathname);
  const list = (flag: string): string[] | null => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] ? argv[i + 1]!.split(',') : null;
  };
  const policies = (list('--policies') ?? POLICIES) as PolicySpec[];
  for (const p of policies) {
    try {
      if (parsePolicySpec(p).policy === 'local') throw new Error('local is a negative control');
    } catch (e) {
      throw new Error(`bench policies: ${p}: ${(e as Error).message} (${POLICIES.join(', ')}, or ipi:OPT,...)`);
    }
  }
  const all = ['race', 'munmap', 'tlbrace', 'mix'] as const;
  const workloads = (list('--workloads') ?? all) as Workload[];
  for (const w of workloads) if (!(all as readonly string[]).includes(w)) throw new Error(`bench policies: unknown workload ${w} (${all.join(', ')})`);
  const rows: Row[] = [];
  for (const workload of workloads) {
    for (const policy of policies) rows.push(await runOne(workload, policy, true));
  }
  if (workloads.includes('munmap')) for (const policy of policies) rows.push(await runOne('munmap', policy, false));
  const head = ['workload', 'policy', 'san', 'exit', 'IPIs', 'flushes', 'p50 us', 'p99 us', 'irq us', 'wall ms', 'MIPS', 'reports', 'leak'];
  const pad = (c: unknown, k: number): string => (k === 1 ? String(c).padStart(16) : String(c).padStart(9));
  console.log(head.map(pad).join(''));
  for (const r of rows) {
    console.log([r.workload, r.policy, r.sanitize ? 'on' : 'off', r.exitStatus < 0 ? 'timeout' : r.exitStatus, r.interruptsSent, r.flushes, r.latencyP50Us.toFixed(1),
      r.latencyP99Us.toFixed(1), Number.isNaN(r.handlerUs) ? '-' : r.handlerUs.toFixed(1), r.wallMs.toFixed(0), r.throughputMips.toFixed(2), r.sanitizerReports,
      r.leakedFrames].map(pad).join(''));
  }
  for (const r of rows.filter((x) => x.exitStatus >= 0)) {
    const p = `policies.${r.workload}${r.sanitize ? '' : '-nosan'}.${r.policy}`;
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
  writeFileSync(out, JSON.stringify({ cpus: 4, date: new Date().toISOString(), rows }, null, 2) + '\n');
  console.log(`policies: wrote ${out}`);
}
