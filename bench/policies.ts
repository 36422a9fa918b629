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
 * Figures: interrupts sent and received (a received interrupt is kernel code run on a target,
 * i.e. guest time it lost), flush operations (sfence.vma page + ASID + all, every hart),
 * shootdown latency p50/p99 (the initiator's wait — for `deferred` the time to park),
 * wall time, guest throughput (instructions per second of wall time), sanitizer reports,
 * guest exit status; for `broadcast` also the broadcasts issued, the pages and whole ASIDs they
 * named, the tlbsyncs that waited and their mean time, global ASIDs assigned, ipi-fallback
 * changes and transition interrupts. The machine has 2 cores shared by 4 harts: latencies
 * include waiting for a core.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { labStats, type LabStats } from '../kernel/lab/stats.ts';
import { POLICY_NAMES, type PolicyName } from '../kernel/lab/layout.ts';
import { bootScheduled, spawn, wait } from '../scheduler/api.ts';
import { runGuest } from '../test/lab/guest-runs.ts';
import { munmapWorkload, raceWorkload, settledLeak } from '../test/lab/workloads.ts';

const MiB = 2 ** 20;
const POLICIES = POLICY_NAMES.filter((p) => p !== 'local');
const GUEST_TIMEOUT_MS = 30_000;
const GUESTS = { tlbrace: ['3', '50', '4'], mix: ['1', '1'] } as const;
type Workload = 'race' | 'munmap' | keyof typeof GUESTS;

interface Row {
  workload: string;
  policy: PolicyName;
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
}

async function runBundled(workload: keyof typeof GUESTS, policy: PolicyName): Promise<Row> {
  try {
    const r = await runGuest({ policy, guest: workload, args: [...GUESTS[workload]], timeoutMs: GUEST_TIMEOUT_MS });
    const s = r.stats;
    return {
      workload, policy, sanitize: true, exitStatus: r.status, interruptsSent: s.interrupts.sent, interruptsReceived: s.interrupts.received,
      broadcast: policy === 'broadcast' ? s.broadcast : null,
      flushes: s.flushes.page + s.flushes.asid + s.flushes.all,
      latencyP50Us: s.shootdowns.latencyNs.p50 / 1000, latencyP99Us: s.shootdowns.latencyNs.p99 / 1000,
      wallMs: r.wallMs, throughputMips: s.instructions / r.wallMs / 1000, sanitizerReports: s.sanitizer.violations, leakedFrames: r.leaked,
    };
  } catch (e) {
    if (!(e instanceof Error && /still running/.test(e.message))) throw e;
    return {
      workload, policy, sanitize: true, exitStatus: -1, interruptsSent: NaN, interruptsReceived: NaN, broadcast: null, flushes: NaN, latencyP50Us: NaN, latencyP99Us: NaN,
      wallMs: GUEST_TIMEOUT_MS, throughputMips: NaN, sanitizerReports: NaN, leakedFrames: NaN,
    };
  }
}

async function runOne(workload: Workload, policy: PolicyName, sanitize: boolean): Promise<Row> {
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
  const policies = (list('--policies') ?? POLICIES) as PolicyName[];
  for (const p of policies) if (!(POLICIES as string[]).includes(p)) throw new Error(`bench policies: unknown policy ${p} (${POLICIES.join(', ')})`);
  const all = ['race', 'munmap', 'tlbrace', 'mix'] as const;
  const workloads = (list('--workloads') ?? all) as Workload[];
  for (const w of workloads) if (!(all as readonly string[]).includes(w)) throw new Error(`bench policies: unknown workload ${w} (${all.join(', ')})`);
  const rows: Row[] = [];
  for (const workload of workloads) {
    for (const policy of policies) rows.push(await runOne(workload, policy, true));
  }
  if (workloads.includes('munmap')) for (const policy of policies) rows.push(await runOne('munmap', policy, false));
  const head = ['workload', 'policy', 'san', 'exit', 'IPIs', 'flushes', 'p50 us', 'p99 us', 'wall ms', 'MIPS', 'reports', 'leak'];
  console.log(head.map((h) => h.padStart(9)).join(''));
  for (const r of rows) {
    console.log([r.workload, r.policy, r.sanitize ? 'on' : 'off', r.exitStatus < 0 ? 'timeout' : r.exitStatus, r.interruptsSent, r.flushes, r.latencyP50Us.toFixed(1),
      r.latencyP99Us.toFixed(1), r.wallMs.toFixed(0), r.throughputMips.toFixed(2), r.sanitizerReports, r.leakedFrames]
      .map((c) => String(c).padStart(9)).join(''));
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
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ cpus: 4, date: new Date().toISOString(), rows }, null, 2) + '\n');
  console.log(`policies: wrote ${out}`);
}
