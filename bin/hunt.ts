/**
 * `coherent hunt`: run a guest in deterministic mode (docs/deterministic.md) under successive
 * seeds until it fails — a non-zero exit, death by a signal, or (with --sanitize) a sanitizer
 * report — and give the `coherent run --deterministic --seed S ...` line that replays the
 * failure. Every seed's outcome is one JSON line (HuntOutcome), so shards of one hunt
 * (`--shard i/n`: seeds first+i-1, first+i-1+n, ...) merge by concatenating their files.
 *
 * Each seed boots a fresh machine (per-seed overhead: one machine boot, see docs/deterministic.md);
 * the guest's stdout and stderr go to /dev/null (the replay shows them); it gets the host's
 * environment, as `coherent run` does (an input: replay from the same environment).
 */
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { RunOptions } from './options.ts';
import type { SanitizerReport } from '../kernel/lab/sanitizer.ts';

/** One seed's run. */
export interface HuntOutcome {
  seed: number;
  schedule: string;
  /** Exit status (128+N: killed by signal N). */
  status: number;
  /** Sanitizer reports (0 without --sanitize). */
  reports: number;
  /** The first report (hart, tid, va, sinceNs in virtual ns ...), or null. */
  firstReport: SanitizerReport | null;
  failed: boolean;
  /** How it failed: 'exit N', 'signal N', 'sanitizer: N reports', or '' when it passed. */
  how: string;
  scheduleHash: string;
  decisions: number;
  virtualNs: number;
  /** Host ms of this seed (boot included): not deterministic. */
  hostMs: number;
}

export interface HuntOptions {
  run: RunOptions;
  /** Seeds to try at most (default: until --seconds or forever). */
  runs: number;
  /** Host seconds to hunt at most (0: no limit). */
  seconds: number;
  /** Shard i of n (1-based). */
  shard: { i: number; n: number };
  /** Collect every failing seed within the budget instead of stopping at the first. */
  all: boolean;
  /** Called with every outcome (JSON lines, progress). */
  onOutcome?: (o: HuntOutcome, k: number) => void;
}

/** The seeds of shard i/n starting at `first`: first+i-1, first+i-1+n, ... (the k-th, 0-based). */
export function shardSeed(first: number, shard: { i: number; n: number }, k: number): number {
  return first + shard.i - 1 + k * shard.n;
}

/** Run one seed on a fresh deterministic machine. */
export async function runSeed(run: RunOptions, seed: number): Promise<HuntOutcome> {
  const { bootScheduled, deterministicStats, spawn, untilQuiescent, wait } = await import('../scheduler/api.ts');
  const { labStats } = await import('../kernel/lab/stats.ts');
  const elf = new Uint8Array(await readFile(resolve(run.elf)));
  const t0 = performance.now();
  const m = await bootScheduled({
    root: run.root, cpus: run.cpus, memory: run.memory, quantum: run.quantum, ceilingPages: run.flushCeiling,
    policy: run.shootdown, sanitize: run.sanitize, tlbEntries: run.tlbEntries, seed, inject: run.inject, jit: run.jit === 'on',
    tlbBroadcast: run.tlbBroadcast || run.shootdown === 'broadcast', globalAsidMinHarts: run.globalAsidMin,
    deterministic: true, schedule: run.schedule, pctDepth: run.pctDepth,
  });
  const nul = openSync('/dev/null', 'r+');
  try {
    // The host's environment, as `coherent run` gives it: the replay line then runs the same input.
    const envp = Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`);
    const { pid } = spawn(m, { elf, argv: [basename(run.elf), ...run.args], envp, stdio: [nul, nul, nul] });
    const status = await wait(m, pid, 2 ** 31);
    await untilQuiescent(m, 60_000);
    const lab = labStats(m.ctl);
    const det = deterministicStats(m)!;
    const reports = lab.sanitizer.violations;
    const how = status > 128 ? `signal ${status - 128}` : status !== 0 ? `exit ${status}` : reports > 0 ? `sanitizer: ${reports} reports` : '';
    return {
      seed, schedule: det.schedule, status, reports, firstReport: lab.sanitizer.reports[0] ?? null, failed: how !== '', how,
      scheduleHash: det.scheduleHash, decisions: det.decisions, virtualNs: det.virtualNs, hostMs: performance.now() - t0,
    };
  } finally {
    await m.shutdown();
    closeSync(nul);
  }
}

/** Hunt: successive seeds of the shard until a failure (or every failure with `all`) or the budget ends. */
export async function hunt(o: HuntOptions): Promise<{ tried: number; failures: HuntOutcome[] }> {
  const end = o.seconds > 0 ? performance.now() + o.seconds * 1000 : Infinity;
  const failures: HuntOutcome[] = [];
  let k = 0;
  for (; k < o.runs && performance.now() < end; k++) {
    const r = await runSeed(o.run, shardSeed(o.run.seed, o.shard, k));
    o.onOutcome?.(r, k);
    if (r.failed) {
      failures.push(r);
      if (!o.all) { k++; break; }
    }
  }
  return { tried: k, failures };
}

/** Quote `s` for a POSIX shell when it needs it. */
function sh(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The `coherent run` line that replays seed `seed` of a hunt with options `run`. */
export function replayCommand(run: RunOptions, seed: number, d: RunOptions): string {
  const a = ['coherent', 'run', '--deterministic', '--seed', String(seed)];
  if (run.schedule !== d.schedule) a.push('--schedule', run.schedule);
  if (run.pctDepth !== d.pctDepth) a.push('--pct-depth', String(run.pctDepth));
  if (run.cpus !== d.cpus) a.push('--cpus', String(run.cpus));
  if (run.memory !== d.memory) a.push('--memory', String(run.memory));
  if (run.quantum !== d.quantum) a.push('--quantum', String(run.quantum));
  if (run.shootdown !== d.shootdown) a.push('--shootdown', run.shootdown);
  if (run.flushCeiling !== d.flushCeiling) a.push('--flush-ceiling', String(run.flushCeiling));
  if (run.sanitize !== 'off') a.push(`--sanitize=${run.sanitize}`);
  if (run.tlbEntries !== d.tlbEntries) a.push('--tlb-entries', String(run.tlbEntries));
  if (run.jit !== d.jit) a.push('--jit', run.jit);
  const inj = Object.entries(run.inject);
  if (inj.length) a.push('--inject', inj.map(([k, v]) => `${k}=${v}`).join(','));
  if (run.tlbBroadcast && run.shootdown !== 'broadcast') a.push('--tlb-broadcast');
  if (run.globalAsidMin !== d.globalAsidMin) a.push('--global-asid-min', String(run.globalAsidMin));
  if (run.root !== process.cwd()) a.push('--root', run.root);
  a.push(run.elf, ...run.args);
  return a.map(sh).join(' ');
}
