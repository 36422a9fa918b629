/**
 * `coherent run [options] <elf> [args...]`: parse the run option set (bin/run-options.ts, shared
 * with `trace` and `hunt`) into a RunOptions (bin/options.ts), run the guest through the process
 * API, and exit with the guest's status (128+N when signal N killed it).
 */
import { closeSync, existsSync, fstatSync, openSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import type { RunOptions } from './options.ts';
import { addRunOptions, guestCommand, runOptionsFrom } from './run-options.ts';
import { ElfError, hostElfSource, parseElfFrom } from '../kernel/proc/elf.ts';
import { readTrace } from '../kernel/lab/trace.ts';
import { labStats } from '../kernel/lab/stats.ts';
import { writeChromeTrace } from '../kernel/lab/trace-export.ts';
import type { Machine } from '../scheduler/machine.ts';

/**
 * Run the guest of `options` on a fresh machine and resolve with its exit status (128+N for
 * signal N). THE call into the scheduler's process API (scheduler/api.ts): boot, spawn, wait,
 * then write --stats-json and --trace, shut down. `--root` is the machine's guest root (boot
 * option; host paths of the CLI stay relative to the working directory). The guest gets the
 * host's environment, as a Linux process gets its parent's (`env -i VAR=x coherent run ...`
 * gives it exactly VAR=x). Throws when the machine fails (the CLI exits 1).
 */
export async function runGuest(options: RunOptions): Promise<number> {
  const policy = options.shootdown; // a policy spec, as bootScheduled takes it
  const { bootScheduled, spawn, untilQuiescent, wait } = await import('../scheduler/api.ts');
  const elf = new Uint8Array(await readFile(resolve(options.elf)));
  const statsJson = options.statsJson === null ? null : resolve(options.statsJson);
  const traceFile = options.trace === null ? null : resolve(options.trace);
  const m = await bootScheduled({
    root: options.root,
    cpus: options.cpus, memory: options.memory, quantum: options.quantum, ceilingPages: options.flushCeiling,
    policy, sanitize: options.sanitize, traceEvents: traceFile === null ? 0 : options.traceBuffer,
    tlbEntries: options.tlbEntries, seed: options.seed, inject: options.inject, jit: options.jit === 'on',
    tlbBroadcast: options.tlbBroadcast || policy === 'broadcast', globalAsidMinHarts: options.globalAsidMin,
    deterministic: options.deterministic, schedule: options.schedule, pctDepth: options.pctDepth,
  });
  const t0 = performance.now();
  try {
    const envp = Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`);
    const { pid } = spawn(m, { elf, argv: [basename(options.elf), ...options.args], envp });
    const status = await wait(m, pid, 2 ** 31);
    // Deterministic mode: the statistics are read once the machine is quiescent again (every
    // hart idle), not while the harts still take their last idle turns.
    if (options.deterministic) await untilQuiescent(m, 60_000);
    if (statsJson !== null) {
      const { stats, hostJitCompileUs } = await machineStats(m, options, status);
      // Deterministic mode: every field is a function of the inputs except host time, kept apart under `host`.
      const all = !options.deterministic ? { ...stats, wallMs: performance.now() - t0 }
        : { ...stats, host: { wallMs: performance.now() - t0, jitCompileUs: hostJitCompileUs } };
      await writeFile(statsJson, JSON.stringify(all, null, 2) + '\n');
    }
    if (traceFile !== null) await writeChromeTrace(traceFile, readTrace(m.ctl), { policy: options.shootdown, ...runConfig(options) });
    return status;
  } finally {
    await m.shutdown();
  }
}

/** The `config` section of --stats-json and of the trace's metadata. */
function runConfig(options: RunOptions) {
  return {
    cpus: options.cpus, memory: options.memory, quantum: options.quantum, flushCeiling: options.flushCeiling,
    tlbEntries: options.tlbEntries, seed: options.seed, jit: options.jit, elf: options.elf, args: options.args,
  };
}

/**
 * --stats-json of a finished run of `options` on `m` (exit `status`), without host wall time:
 * kernel/lab/stats.ts labStats (instructions, tlb.*, flushes, shootdowns.latencyNs.p50/p99,
 * faults, sanitizer.*, policy), `config`, `exitStatus`, `scheduler` (the scheduler's raw
 * per-hart counters) and in deterministic mode `deterministic` — then the translator's compile
 * time (host time) is taken out and returned apart, so `stats` is a function of the inputs.
 */
export async function machineStats(m: Machine, options: RunOptions, status: number): Promise<{ stats: Record<string, unknown>; hostJitCompileUs: { total: number; harts: number[] } | null }> {
  const { deterministicStats, schedStats } = await import('../scheduler/api.ts');
  const lab = { ...labStats(m.ctl), config: runConfig(options), exitStatus: status, scheduler: schedStats(m) };
  const det = deterministicStats(m);
  if (det === null) return { stats: lab, hostJitCompileUs: null };
  const hostJitCompileUs = takeHostTimes(lab);
  return { stats: { ...lab, deterministic: det }, hostJitCompileUs };
}

/**
 * Deterministic mode's --stats-json: take the host-time figures (the translator's compile time,
 * total and per hart) out of the lab statistics; returns them for the `host` section.
 */
function takeHostTimes(lab: { jit: { compileUs?: number }; harts: { jit: { compileUs?: number } }[] }): { total: number; harts: number[] } {
  const out = { total: lab.jit.compileUs ?? 0, harts: lab.harts.map((h) => h.jit.compileUs ?? 0) };
  delete lab.jit.compileUs;
  for (const h of lab.harts) delete h.jit.compileUs;
  return out;
}

/**
 * Check that `<elf>` names a file the machine can run: a usage error (exit 2) when it is not
 * a file, or when the ELF loader refuses it (not ELF, not riscv64, dynamic, truncated,
 * inconsistent — the message says which), before any machine boots.
 */
export function checkElf(cmd: Command, elf: string): void {
  const path = resolve(elf);
  if (!existsSync(path) || !statSync(path).isFile()) {
    cmd.error(`error: <elf> '${elf}' is not a file; give the path of a static riscv64 Linux executable (e.g. guests/bin/hello)`,
      { exitCode: 2, code: 'coherent.invalidValue' });
  }
  const fd = openSync(path, 'r');
  try {
    parseElfFrom(hostElfSource(fd, fstatSync(fd).size)); // the headers only, whatever the file's size
  } catch (e) {
    if (!(e instanceof ElfError)) throw e;
    cmd.error(`error: <elf> '${elf}' cannot run: ${e.message}`, { exitCode: 2, code: 'coherent.invalidValue' });
  } finally {
    closeSync(fd);
  }
}

/** Register `run` on `program`; its action stores the guest's status with `setExit`. */
export function registerRun(program: Command, setExit: (status: number) => void): Command {
  const cmd = guestCommand(program, 'run', 'run a static rv64gc Linux executable on the emulated SMP machine; exits with its status');
  addRunOptions(cmd);
  cmd.addHelpText('after', `
Exit status: the guest's (128+N if signal N killed it); 2 for usage errors (also an <elf> the loader
refuses, with the reason); 1 if the machine failed. The guest inherits the host's environment.
Examples:
  coherent run guests/bin/hello
  coherent run --cpus 4 --shootdown off --sanitize guests/bin/tlbrace
  coherent run --memory 1G --stats-json stats.json --trace run.json guests/bin/mix`);
  cmd.action(async (elf: string, args: string[], o: Record<string, unknown>) => {
    checkElf(cmd, elf);
    setExit(await runGuest(runOptionsFrom(elf, args, o)));
  });
  return cmd;
}
