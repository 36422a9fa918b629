/**
 * `bench policies`: every shootdown policy on the lab's standard workloads with 4 harts
 * (test/lab/workloads.ts): `race` (the unmap/remap race: remapper, scribbler, 2 readers) and
 * `munmap` (16-page mmap/touch/munmap rounds while 3 threads spin on the other harts), each
 * with the sanitizer on, plus `munmap` with the sanitizer off to measure its overhead.
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
import { labStats } from '../kernel/stats.ts';
import { POLICY_NAMES, type PolicyName } from '../kernel/lab-layout.ts';
import { bootScheduled, spawn, wait } from '../scheduler/api.ts';
import { munmapWorkload, raceWorkload, settledLeak } from '../test/lab/workloads.ts';

const MiB = 2 ** 20;
const POLICIES = POLICY_NAMES.filter((p) => p !== 'local');

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

async function runOne(workload: 'race' | 'munmap', policy: PolicyName, sanitize: boolean): Promise<Row> {
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
  for (const workload of ['race', 'munmap'] as const) {
    for (const policy of POLICIES) rows.push(await runOne(workload, policy, true));
  }
  for (const policy of POLICIES) rows.push(await runOne('munmap', policy, false));
  const head = ['workload', 'policy', 'san', 'exit', 'IPIs', 'flushes', 'p50 us', 'p99 us', 'wall ms', 'MIPS', 'reports', 'leak'];
  console.log(head.map((h) => h.padStart(9)).join(''));
  for (const r of rows) {
    console.log([r.workload, r.policy, r.sanitize ? 'on' : 'off', r.exitStatus, r.interruptsSent, r.flushes, r.latencyP50Us.toFixed(1),
      r.latencyP99Us.toFixed(1), r.wallMs.toFixed(0), r.throughputMips.toFixed(2), r.sanitizerReports, r.leakedFrames]
      .map((c) => String(c).padStart(9)).join(''));
  }
  for (const r of rows) {
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
