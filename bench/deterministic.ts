/**
 * `bench deterministic` (issue 15): what deterministic mode (docs/deterministic.md) costs
 * against the parallel mode, on the bundled guests:
 *   det.slowdown.1hart    compute (single thread) on 1 hart: det wall time / parallel wall time
 *   det.slowdown.4harts   tlbrace 3 40 4 on 4 harts: the same ratio
 *   det.switches          baton handovers per host second in the 4-hart run
 *   det.decisions         schedule decisions of that run (a function of the seed: the same on any host)
 *   det.virtual.ms        its virtual time (ms, the cost model's: the same on any host)
 *   det.hunt-seed.fresh   host s per seed of `hunt` on tlbrace 3 20 4 (4 harts, sanitizer) when every seed boots
 *                         a fresh machine (what hunt did before it reused its machine)
 *   det.hunt-seed         host s per seed of `hunt` on the same, one machine reset between seeds (seeds 2..N)
 *   det.hunt-reset        host ms of one reset (the per-seed overhead of reuse; the rest is the guest's run)
 *   det.pct-failures-per-100 / det.random-failures-per-100
 *                         failing seeds among 1-100 of guests/checkact (an unlocked check-then-act) on 2 harts,
 *                         envp empty: a function of the seeds only (the same on any host), with the first
 *                         failing seed (det.pct-first-failing-seed / det.random-first-failing-seed, 0: none)
 *   det.mem-64-harts      resident memory (MiB) of this process — host thread, 64 hart workers, RAM and ctl —
 *                         with a 64-hart deterministic machine (64 MiB RAM) that ran guests/bin/threads on it
 * Wall time is the guest's own run (spawn to exit), not the machine's boot; each figure is the
 * best of RUNS runs per mode, as the host is shared. Run: `npx tsx bench/index.ts deterministic`.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { bootScheduled, deterministicStats, spawn, untilQuiescent, wait } from '../scheduler/api.ts';
import type { BatonStats } from '../cpu/baton.ts';
import { hunt, runSeed, SeedRunner } from '../bin/hunt.ts';
import { resolveRunOptions } from '../bin/options.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const RUNS = 2;

interface Timed { ms: number; det: BatonStats | null }

/** One run of `guest` on a fresh machine: the guest's wall time (ms) and, in det mode, the baton's figures. */
async function timeOnce(guest: string, args: string[], cpus: number, deterministic: boolean): Promise<Timed> {
  const m = await bootScheduled({ cpus, memory: 128 * 2 ** 20, deterministic, seed: 1 });
  const nul = openSync('/dev/null', 'r+');
  try {
    const elf = new Uint8Array(readFileSync(`${ROOT}guests/bin/${guest}`));
    const t0 = performance.now();
    const { pid } = spawn(m, { elf, argv: [guest, ...args], envp: [], stdio: [nul, nul, nul] });
    const status = await wait(m, pid, 600_000);
    const ms = performance.now() - t0;
    if (status !== 0) throw new Error(`bench deterministic: ${guest} exited ${status}`);
    if (deterministic) await untilQuiescent(m, 60_000);
    return { ms, det: deterministicStats(m) };
  } finally {
    await m.shutdown();
    closeSync(nul);
  }
}

/** Best (shortest) of RUNS runs. */
async function best(guest: string, args: string[], cpus: number, deterministic: boolean): Promise<Timed> {
  let b: Timed | null = null;
  for (let i = 0; i < RUNS; i++) {
    const t = await timeOnce(guest, args, cpus, deterministic);
    if (b === null || t.ms < b.ms) b = t;
  }
  return b!;
}

/** Run the benchmark; prints the BENCH lines. */
export async function run(): Promise<void> {
  const c = ['compute', ['300000']] as const;
  const p1 = await best(c[0], [...c[1]], 1, false);
  const d1 = await best(c[0], [...c[1]], 1, true);
  console.log(`BENCH det.slowdown.1hart ${(d1.ms / p1.ms).toFixed(2)} x`);
  const r = ['tlbrace', ['3', '40', '4']] as const;
  const p4 = await best(r[0], [...r[1]], 4, false);
  const d4 = await best(r[0], [...r[1]], 4, true);
  console.log(`BENCH det.slowdown.4harts ${(d4.ms / p4.ms).toFixed(2)} x`);
  console.log(`BENCH det.switches ${Math.round(d4.det!.handovers / (d4.ms / 1000))} /s`);
  console.log(`BENCH det.decisions ${d4.det!.decisions} decisions`);
  console.log(`BENCH det.virtual.ms ${(d4.det!.virtualNs / 1e6).toFixed(3)} ms`);
  await huntSeeds();
  await pctAgainstRandom();
  await memoryAt(64);
}

/** Resident memory (MiB) with a `cpus`-hart deterministic machine that ran a threaded guest; prints det.mem-<cpus>-harts. */
export async function memoryAt(cpus: number): Promise<number> {
  const before = process.memoryUsage().rss;
  const m = await bootScheduled({ cpus, memory: 64 * 2 ** 20, deterministic: true, seed: 1 });
  const nul = openSync('/dev/null', 'r+');
  try {
    const elf = new Uint8Array(readFileSync(`${ROOT}guests/bin/threads`));
    const { pid } = spawn(m, { elf, argv: ['threads'], envp: [], stdio: [nul, nul, nul] });
    const status = await wait(m, pid, 600_000);
    if (status !== 0) throw new Error(`bench deterministic: threads exited ${status} on ${cpus} harts`);
    await untilQuiescent(m, 60_000);
    const mib = process.memoryUsage().rss / 2 ** 20;
    console.log(`BENCH det.mem-${cpus}-harts ${mib.toFixed(0)} MiB`);
    console.log(`BENCH det.mem-${cpus}-harts.machine ${((process.memoryUsage().rss - before) / 2 ** 20).toFixed(0)} MiB`);
    return mib;
  } finally {
    await m.shutdown();
    closeSync(nul);
  }
}

/** Failing seeds among 1-100 of checkact on 2 harts under each schedule. */
async function pctAgainstRandom(): Promise<void> {
  for (const schedule of ['pct', 'random'] as const) {
    const run = resolveRunOptions({ elf: `${ROOT}guests/bin/checkact`, args: [], cpus: 2, deterministic: true, schedule });
    const r = await hunt({ run, runs: 100, seconds: 0, shard: { i: 1, n: 1 }, all: true, envp: [] });
    console.log(`BENCH det.${schedule}-failures-per-100 ${r.failures.length} seeds`);
    console.log(`BENCH det.${schedule}-first-failing-seed ${r.failures[0]?.seed ?? 0} seed`);
  }
}

/** Per-seed cost of `hunt` on tlbrace: a fresh machine per seed against one machine reset between seeds. */
async function huntSeeds(): Promise<void> {
  const run = resolveRunOptions({
    elf: `${ROOT}guests/bin/tlbrace`, args: ['3', '20', '4'], cpus: 4, sanitize: 'report', deterministic: true,
  });
  const SEEDS = 4;
  let fresh = 0;
  for (let s = 1; s <= 2; s++) fresh += (await runSeed(run, s)).hostMs;
  console.log(`BENCH det.hunt-seed.fresh ${(fresh / 2 / 1000).toFixed(2)} s`);
  const r = new SeedRunner(run);
  try {
    let reused = 0, resets = 0;
    for (let s = 1; s <= SEEDS; s++) {
      const o = await r.runSeed(s);
      if (s === 1) continue; // the boot
      reused += o.hostMs;
      resets += r.lastStartMs;
    }
    console.log(`BENCH det.hunt-seed ${(reused / (SEEDS - 1) / 1000).toFixed(2)} s`);
    console.log(`BENCH det.hunt-reset ${(resets / (SEEDS - 1)).toFixed(0)} ms`);
  } finally {
    await r.close();
  }
}
