/**
 * The run option set of every command that runs a guest (`coherent run`, `trace`, `hunt`):
 * one definition of the flags, their help text, defaults and parsers, so the commands accept
 * exactly the same options; and the reading of a parsed command line into a RunOptions
 * (bin/options.ts holds the parsers and the typed object; this module the commander side).
 */
import { Command, Option } from 'commander';
import {
  OptionError, JIT_MODES, parseJit, parseCpus, parseFlushCeiling, parseMemory, parseOutputFile, parseQuantum, parseRoot, parseSeed, parseInject,
  parseGlobalAsidMin, parsePctDepth, parseSchedule, SCHEDULES, parseShootdownSpec, parseTlbEntries, parseTraceBuffer, resolveRunOptions, RUN_DEFAULTS, SHOOTDOWN_POLICIES,
  type RunOptions, type SanitizeMode,
} from './options.ts';

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

/**
 * Create subcommand `name` of `program` that runs a guest: `<elf>` (host path) then the guest's
 * `[args...]`, every option after <elf> passed to the guest. The caller adds the run option set
 * (addRunOptions) and its own options.
 */
export function guestCommand(program: Command, name: string, description: string): Command {
  return program.command(name)
    .description(description)
    .argument('<elf>', 'guest executable (host path)')
    .argument('[args...]', 'arguments passed to the guest')
    .passThroughOptions();
}

/**
 * The value-taking flags of a command (short and long forms): the argv pre-pass
 * (rewriteSanitize) must skip their values. Read from the command's own option definitions,
 * so a flag added to a command is covered without a second list.
 */
export function valueFlags(cmd: Command): string[] {
  return cmd.options.filter((o) => o.required || o.optional).flatMap((o) => [o.short, o.long]).filter((f): f is string => f !== undefined);
}

/** The value-taking flags of the run option set (with --trace). */
export const RUN_VALUE_FLAGS: readonly string[] = valueFlags(addRunOptions(new Command('run')));

/**
 * Rewrite `--sanitize=MODE` (among the options before the guest's <elf>) into the hidden
 * `--sanitize-mode MODE`: commander's optional values would swallow the <elf> after a bare
 * `--sanitize`, so `--sanitize` is a plain flag and the mode travels separately.
 * `from` is the index of the first token after the subcommand name; `flags` are the subcommand's
 * value-taking flags (valueFlags; default: the run option set's).
 */
export function rewriteSanitize(argv: string[], from: number, flags: readonly string[] = RUN_VALUE_FLAGS): string[] {
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
    if (flags.includes(t) && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out.concat(argv.slice(i));
}
