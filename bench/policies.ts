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
 * Figures: interrupts sent, flush operations (sfence.vma page + ASID + all, every hart),
 * shootdown latency p50/p99 (the initiator's wait — for `deferred` the time to park),
 * wall time, guest throughput (instructions per second of wall time), sanitizer reports,
 * guest exit status. The machine has 2 cores shared by 4 harts: latencies include waiting
 * for a core.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { labStats } from '../kernel/lab/stats.ts';
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
      workload, policy, sanitize: true, exitStatus: r.status, interruptsSent: s.interrupts.sent,
      flushes: s.flushes.page + s.flushes.asid + s.flushes.all,
      latencyP50Us: s.shootdowns.latencyNs.p50 / 1000, latencyP99Us: s.shootdowns.latencyNs.p99 / 1000,
      wallMs: r.wallMs, throughputMips: s.instructions / r.wallMs / 1000, sanitizerReports: s.sanitizer.violations, leakedFrames: r.leaked,
    };
  } catch (e) {
    if (!(e instanceof Error && /still running/.test(e.message))) throw e;
    return {
      workload, policy, sanitize: true, exitStatus: -1, interruptsSent: NaN, flushes: NaN, latencyP50Us: NaN, latencyP99Us: NaN,
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
      workload, policy, sanitize, exitStatus, interruptsSent: s.interrupts.sent,
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
  const rows: Row[] = [];
  for (const workload of ['race', 'munmap', 'tlbrace', 'mix'] as const) {
    for (const policy of POLICIES) rows.push(await runOne(workload, policy, true));
  }
  for (const policy of POLICIES) rows.push(await runOne('munmap', policy, false));
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
