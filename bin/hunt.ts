/**
 * `coherent hunt`: run a guest in deterministic mode (docs/deterministic.md) under successive
 * seeds until it fails — a non-zero exit, death by a signal, or (with --sanitize) a sanitizer
 * report — and give the `coherent run --deterministic --seed S ...` line that replays the
 * failure. Every seed's outcome is one JSON line (HuntOutcome), so shards of one hunt
 * (`--shard i/n`: seeds first+i-1, first+i-1+n, ...) merge by concatenating their files.
 *
 * The machine boots once and is reset between seeds (SeedRunner; per-seed overhead: one reset,
 * see docs/deterministic.md); the guest's stdout and stderr go to /dev/null (the replay shows them); it gets the host's
 * environment, as `coherent run` does (an input: replay from the same environment).
 */
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { RunOptions } from './options.ts';
import type { SanitizerReport } from '../kernel/lab/sanitizer.ts';
import type { SchedStartOptions } from '../scheduler/api.ts';
import type { Machine } from '../scheduler/machine.ts';

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
  /** Frames still in use after the guest exited, beyond the kernel's (scheduler/api.ts leakedFrames): 0 unless the kernel leaks. */
  leakedFrames: number;
  /** Host ms of this seed (its boot or reset included): not deterministic. */
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
  /** The guest's environment (default: the host's, as `coherent run` gives it). */
  envp?: string[];
  /** Called with every outcome (JSON lines, progress). */
  onOutcome?: (o: HuntOutcome, k: number) => void;
}

/** The seeds of shard i/n starting at `first`: first+i-1, first+i-1+n, ... (the k-th, 0-based). */
export function shardSeed(first: number, shard: { i: number; n: number }, k: number): number {
  return first + shard.i - 1 + k * shard.n;
}

/**
 * Runs seeds of one hunt on one machine: the first seed boots it (`reusable`), every later seed
 * resets it (scheduler/api.ts resetScheduled: every shared region back to its boot state, the
 * harts' worker-local state rebuilt), so a seed costs the guest's own run plus the reset, not a
 * boot. A run that throws (the machine halted, a timeout) drops the machine: the next seed boots
 * a fresh one. close() shuts it down.
 */
export class SeedRunner {
  private m: Machine | null = null;
  private readonly nul = openSync('/dev/null', 'r+');
  private elf: Uint8Array | null = null;
  /** Machines booted so far (1 unless a run failed the machine). */
  boots = 0;
  /** Host ms of the last seed's start: its boot (first seed) or its reset (later seeds). */
  lastStartMs = 0;

  /**
   * `envp`: the guest's environment (default: the host's, as `coherent run` gives it). It is an
   * input: its size moves the guest's stack, hence its instruction counts, hence the schedule.
   */
  constructor(private readonly run: RunOptions, private readonly envp: string[] = hostEnvp()) {}

  /**
   * Run seed `seed`: the guest's stdio goes to /dev/null. `run` may change the guest, its
   * arguments and every scheduler option (policy, sanitizer, schedule ...) from seed to seed, not
   * the machine's (cpus, memory, root: Error).
   */
  async runSeed(seed: number, run: RunOptions = this.run): Promise<HuntOutcome> {
    const { deterministicStats, leakedFrames, spawn, untilQuiescent, wait } = await import('../scheduler/api.ts');
    const { labStats } = await import('../kernel/lab/stats.ts');
    if (run.cpus !== this.run.cpus || run.memory !== this.run.memory || run.root !== this.run.root) {
      throw new Error('SeedRunner.runSeed: cpus, memory and root are the machine\'s: they cannot change between seeds');
    }
    const elf = run.elf === this.run.elf ? (this.elf ??= new Uint8Array(await readFile(resolve(run.elf)))) : new Uint8Array(await readFile(resolve(run.elf)));
    const t0 = performance.now();
    const m = await this.machine(seed, run);
    try {
      const { pid } = spawn(m, { elf, argv: [basename(run.elf), ...run.args], envp: this.envp, stdio: [this.nul, this.nul, this.nul] });
      const status = await wait(m, pid, 2 ** 31);
      await untilQuiescent(m, 60_000);
      const lab = labStats(m.ctl);
      const det = deterministicStats(m)!;
      const reports = lab.sanitizer.violations;
      const how = status > 128 ? `signal ${status - 128}` : status !== 0 ? `exit ${status}` : reports > 0 ? `sanitizer: ${reports} reports` : '';
      return {
        seed, schedule: det.schedule, status, reports, firstReport: lab.sanitizer.reports[0] ?? null, failed: how !== '', how,
        scheduleHash: det.scheduleHash, decisions: det.decisions, virtualNs: det.virtualNs, leakedFrames: leakedFrames(m),
        hostMs: performance.now() - t0,
      };
    } catch (e) {
      await this.drop();
      throw e;
    }
  }

  /** The machine, started with seed `seed`: booted the first time, reset after. */
  private async machine(seed: number, run: RunOptions): Promise<Machine> {
    const { bootScheduled, resetScheduled } = await import('../scheduler/api.ts');
    const o = schedOptions(run, seed);
    const t0 = performance.now();
    if (this.m !== null) {
      try {
        await resetScheduled(this.m, o);
        this.lastStartMs = performance.now() - t0;
        return this.m;
      } catch (e) {
        await this.drop();
        throw e;
      }
    }
    this.m = await bootScheduled({ root: this.run.root, cpus: this.run.cpus, memory: this.run.memory, reusable: true, ...o });
    this.boots++;
    this.lastStartMs = performance.now() - t0;
    return this.m;
  }

  private async drop(): Promise<void> {
    const m = this.m;
    this.m = null;
    if (m !== null) await m.shutdown();
  }

  /** Shut the machine down. */
  async close(): Promise<void> {
    await this.drop();
    closeSync(this.nul);
  }
}

/** The host's environment as `coherent run` passes it to the guest (the replay line then runs the same input). */
export function hostEnvp(): string[] {
  return Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`);
}

/** The scheduler options of seed `seed` of a hunt with `run` (deterministic mode). */
export function schedOptions(run: RunOptions, seed: number): SchedStartOptions {
  return {
    quantum: run.quantum, ceilingPages: run.flushCeiling, policy: run.shootdown, sanitize: run.sanitize, tlbEntries: run.tlbEntries,
    seed, inject: run.inject, jit: run.jit === 'on', tlbBroadcast: run.tlbBroadcast || run.shootdown === 'broadcast',
    globalAsidMinHarts: run.globalAsidMin, deterministic: true, schedule: run.schedule, pctDepth: run.pctDepth,
  };
}

/** Run one seed on a fresh deterministic machine (boot, run, shut down); `envp` as SeedRunner's. */
export async function runSeed(run: RunOptions, seed: number, envp?: string[]): Promise<HuntOutcome> {
  const r = new SeedRunner(run, envp);
  try {
    return await r.runSeed(seed);
  } finally {
    await r.close();
  }
}

/** Hunt: successive seeds of the shard, on one reused machine, until a failure (or every failure with `all`) or the budget ends. */
export async function hunt(o: HuntOptions): Promise<{ tried: number; failures: HuntOutcome[] }> {
  const end = o.seconds > 0 ? performance.now() + o.seconds * 1000 : Infinity;
  const failures: HuntOutcome[] = [];
  const runner = new SeedRunner(o.run, o.envp);
  let k = 0;
  try {
    for (; k < o.runs && performance.now() < end; k++) {
      const r = await runner.runSeed(shardSeed(o.run.seed, o.shard, k));
      o.onOutcome?.(r, k);
      if (r.failed) {
        failures.push(r);
        if (!o.all) { k++; break; }
      }
    }
  } finally {
    await runner.close();
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
