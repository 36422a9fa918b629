/**
 * `coherent run [options] <elf> [args...]` (and the option set `coherent trace` shares):
 * parse into a RunOptions (bin/options.ts), run the guest through the process API, and exit
 * with the guest's status (128+N when signal N killed it).
 */
import { closeSync, existsSync, fstatSync, openSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { Command, Option } from 'commander';
import {
  OptionError, JIT_MODES, parseJit, parseCpus, parseFlushCeiling, parseMemory, parseOutputFile, parseQuantum, parseRoot, parseSeed, parseInject,
  parseGlobalAsidMin, parsePctDepth, parseSchedule, SCHEDULES, parseShootdownSpec, parseTlbEntries, parseTraceBuffer, resolveRunOptions, RUN_DEFAULTS, SHOOTDOWN_POLICIES,
  type RunOptions, type SanitizeMode,
} from './options.ts';
import { ElfError, hostElfSource, parseElfFrom } from '../kernel/proc/elf.ts';
import { readTrace } from '../kernel/lab/trace.ts';
import { labStats } from '../kernel/lab/stats.ts';
import { writeChromeTrace } from '../kernel/lab/trace-export.ts';
import type { Machine } from '../scheduler/machine.ts';

/** Flags of the run option set that take a value (the argv pre-pass must skip their values). */
export const RUN_VALUE_FLAGS = [
  '--cpus', '--memory', '--root', '--quantum', '--stats-json', '--shootdown', '--flush-ceiling', '--trace',
  '--trace-buffer', '--tlb-entries', '--seed', '--inject', '--jit', '--sanitize-mode', '-o', '--output', '--global-asid-min',
  '--schedule', '--pct-depth', '--runs', '--seconds', '--shard', '--out', // the last four: hunt's (bin/cli-hunt.ts)
];

/**
 * Rewrite `--sanitize=MODE` (among the options before the guest's <elf>) into the hidden
 * `--sanitize-mode MODE`: commander's optional values would swallow the <elf> after a bare
 * `--sanitize`, so `--sanitize` is a plain flag and the mode travels separately.
 * `from` is the index of the first token after the subcommand name.
 */
export function rewriteSanitize(argv: string[], from: number): string[] {
  const out = argv.slice(0, from);
  let i = from;
  for (; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === '--' || !t.startsWith('-')) break;
    if (t.startsWith('--sanitize=')) {
      out.push('--sanitize', '--sanitize-mode', t.slice('--sanitize='.length));
      continue;
    }
    out.push(t);
    if (RUN_VALUE_FLAGS.includes(t) && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out.concat(argv.slice(i));
}

/**
 * An argParser wrapper for `cmd`: a value the parser refuses (OptionError) ends the command as a
 * usage error (exit 2) whose message names the flag and what is allowed.
 */
export function usageParser(cmd: Command): <T>(parse: (v: string) => T) => (v: string) => T {
  return <T>(parse: (v: string) => T) => (v: string): T => {
    try {
      return parse(v);
    } catch (e) {
      if (e instanceof OptionError) cmd.error(`error: ${e.message}`, { exitCode: 2, code: 'coherent.invalidValue' });
      throw e;
    }
  };
}

/**
 * Add the run option set to `cmd`. Bad values end the command as usage errors (exit 2) whose
 * message names the flag and what is allowed. `withTrace` false leaves out `--trace FILE`
 * (the `trace` subcommand has -o instead).
 */
export function addRunOptions(cmd: Command, withTrace = true): Command {
  const p = usageParser(cmd);
  const d = RUN_DEFAULTS;
  cmd
    .addOption(new Option('--cpus <n>', 'harts (CPUs), 1-64').default(d.cpus).argParser(p(parseCpus)))
    .addOption(new Option('--memory <size>', 'RAM, e.g. 64M, 512MiB, 1G: a multiple of 2 MiB from 16 MiB to 4 GiB')
      .default(d.memory, '256M').argParser(p(parseMemory)))
    .addOption(new Option('--root <dir>', "host directory the guest's files live under (must exist)")
      .default('.', 'the current directory').argParser(p((v) => parseRoot(v))))
    .addOption(new Option('--quantum <n>', 'instructions per time slice, 100-1000000000').default(d.quantum).argParser(p(parseQuantum)))
    .addOption(new Option('--stats-json <file>', 'write machine statistics as JSON to <file>')
      .argParser(p((v) => parseOutputFile('--stats-json', v))))
    .addOption(new Option('--shootdown <policy>', 'TLB shootdown policy; ipi takes options: '
      + 'ipi:concurrent,early-ack,consolidate,in-context (any of them) or ipi:all').choices(SHOOTDOWN_POLICIES).default(d.shootdown)
      .argParser(p(parseShootdownSpec)))
    .addOption(new Option('--flush-ceiling <pages>', 'flush the whole ASID above this many pages, 1-262144')
      .default(d.flushCeiling).argParser(p(parseFlushCeiling)))
    .addOption(new Option('--sanitize', 'report accesses through stale translations; --sanitize=fatal stops at the first'))
    .addOption(new Option('--sanitize-mode <mode>').hideHelp().argParser(p((v) => {
      if (v === 'report' || v === 'fatal') return v;
      throw new OptionError(`--sanitize: '${v}' is not allowed; use --sanitize (report and go on) or --sanitize=fatal (stop at the first report)`);
    })));
  if (withTrace) {
    cmd.addOption(new Option('--trace <file>', 'write a Chrome trace-event JSON timeline (open in ui.perfetto.dev)')
      .argParser(p((v) => parseOutputFile('--trace', v))));
  }
  return cmd
    .addOption(new Option('--trace-buffer <n>', 'trace events kept per hart (ring), 16-1048576').default(d.traceBuffer)
      .argParser(p(parseTraceBuffer)))
    .addOption(new Option('--tlb-entries <n>', 'TLB entries per hart: a power of two, 8-65536').default(d.tlbEntries)
      .argParser(p(parseTlbEntries)))
    .addOption(new Option('--seed <n>', 'seed of every random choice (TLB replacement, AT_RANDOM), 0-4294967295')
      .default(d.seed).argParser(p(parseSeed)))
    .addOption(new Option('--jit <mode>', 'translate hot guest code to JavaScript (docs/jit.md)').choices(JIT_MODES)
      .default(d.jit).argParser(p(parseJit)))
    .addOption(new Option('--inject <point=us,...>', 'fault injection: sleep µs at named protocol points to widen race windows (see docs/coherence.md)')
      .argParser(p(parseInject)))
    .addOption(new Option('--tlb-broadcast', 'broadcast TLB invalidation hardware (INVLPGB/TLBSYNC-style; --shootdown broadcast turns it on)'))
    .addOption(new Option('--global-asid-min <harts>', 'broadcast policy: a space running on this many harts gets a global ASID, 1-64')
      .default(d.globalAsidMin).argParser(p(parseGlobalAsidMin)))
    .addOption(new Option('--deterministic', 'one hart executes at a time: the schedule comes from --seed, time is virtual; the same inputs give the same run (docs/deterministic.md)'))
    .addOption(new Option('--schedule <name>', 'deterministic mode\'s schedule').choices(SCHEDULES).default(d.schedule).argParser(p(parseSchedule)))
    .addOption(new Option('--pct-depth <d>', 'pct schedule: priority change points + 1, 1-64').default(d.pctDepth).argParser(p(parsePctDepth)));
}

/** The typed RunOptions of a parsed run/trace command line (`trace` overrides `--trace`). */
export function runOptionsFrom(elf: string, args: string[], o: Record<string, unknown>, trace?: string): RunOptions {
  const sanitize: SanitizeMode = o.sanitizeMode ? (o.sanitizeMode as SanitizeMode) : o.sanitize ? 'report' : 'off';
  return resolveRunOptions({
    elf, args,
    cpus: o.cpus as number, memory: o.memory as number, root: parseRoot(o.root as string), quantum: o.quantum as number,
    statsJson: (o.statsJson as string | undefined) ?? null, shootdown: o.shootdown as RunOptions['shootdown'],
    flushCeiling: o.flushCeiling as number, sanitize,
    trace: trace ?? (o.trace as string | undefined) ?? null, traceBuffer: o.traceBuffer as number,
    tlbEntries: o.tlbEntries as number, seed: o.seed as number, inject: (o.inject as RunOptions['inject'] | undefined) ?? {},
    jit: (o.jit as RunOptions['jit'] | undefined) ?? RUN_DEFAULTS.jit,
    tlbBroadcast: o.tlbBroadcast === true || o.shootdown === 'broadcast',
    globalAsidMin: (o.globalAsidMin as number | undefined) ?? RUN_DEFAULTS.globalAsidMin,
    deterministic: o.deterministic === true,
    schedule: (o.schedule as RunOptions['schedule'] | undefined) ?? RUN_DEFAULTS.schedule,
    pctDepth: (o.pctDepth as number | undefined) ?? RUN_DEFAULTS.pctDepth,
  });
}

/** Policies the scheduler can boot (scheduler/api.ts SchedBootOptions.policy; scheduler/policy-select.ts), by CLI name. */

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
  const cmd = program.command('run')
    .description('run a static rv64gc Linux executable on the emulated SMP machine; exits with its status')
    .argument('<elf>', 'guest executable (host path)')
    .argument('[args...]', 'arguments passed to the guest')
    .passThroughOptions();
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
