/**
 * Options of `coherent run` / `coherent trace` as one typed object, with the parsers and
 * validators the CLI and the TypeScript API share. Every parser takes the text a user typed
 * and returns the value or throws an OptionError whose message names the flag, what was given
 * and what is allowed ("--cpus: '0' is not allowed; it must be an integer from 1 to 64").
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { TRACE_EVENTS_DEFAULT, TRACE_EVENTS_MAX } from '../kernel/lab/trace-layout.ts';
import { parseInjection, validateInjection, type InjectConfig } from '../kernel/lab/inject.ts';
import { IPI_OPTION_NAMES, parsePolicySpec, type PolicySpec } from '../kernel/lab/layout.ts';

/** A bad option value; the CLI turns it into a usage error (exit status 2). */
export class OptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

export const SHOOTDOWN_POLICIES = ['ipi', 'per-page', 'lazy', 'deferred', 'off', 'broadcast'] as const;
export type PolicyName = (typeof SHOOTDOWN_POLICIES)[number];
/** What `run --shootdown` takes: a policy, or ipi with options (`ipi:concurrent,early-ack`, `ipi:all`). */
export type ShootdownSpec = PolicyName | `ipi:${string}`;
export type SanitizeMode = 'off' | 'report' | 'fatal';
export const JIT_MODES = ['off', 'on'] as const;
export type JitMode = (typeof JIT_MODES)[number];

export const SCHEDULES = ['pct', 'random'] as const;
export type Schedule = (typeof SCHEDULES)[number];
export const CPUS_MIN = 1;
export const CPUS_MAX = 64;
export const MIB = 1024 * 1024;
export const MEMORY_MIN = 16 * MIB;
export const MEMORY_MAX = 4096 * MIB;
export const MEMORY_ALIGN = 2 * MIB;
export const QUANTUM_MIN = 100;
export const QUANTUM_MAX = 1_000_000_000;
export const FLUSH_CEILING_MAX = 1 << 18; // 1 GiB of 4 KiB pages
export const TRACE_BUFFER_MIN = 16;
export const TLB_ENTRIES_MIN = 8;
export const TLB_ENTRIES_MAX = 1 << 16;

/** Everything `run` needs, validated. */
export interface RunOptions {
  /** Guest executable (host path) and its arguments (argv[1..]). */
  elf: string;
  args: string[];
  cpus: number;
  /** RAM bytes. */
  memory: number;
  /** Absolute host directory the guest's file system is rooted at. */
  root: string;
  /** Instructions per time slice. */
  quantum: number;
  statsJson: string | null;
  /** A policy name, or `ipi:` with ipi options (docs/policies.md "ipi options"). */
  shootdown: ShootdownSpec;
  /** Pages above which a shootdown flushes the whole ASID. */
  flushCeiling: number;
  sanitize: SanitizeMode;
  /** Chrome trace output file, or null for no tracing. */
  trace: string | null;
  /** Trace records per hart ring (used when `trace` is set). */
  traceBuffer: number;
  tlbEntries: number;
  seed: number;
  /** Fault injection: delays (µs) at named protocol points (kernel/lab/inject.ts). */
  inject: InjectConfig;
  /** The translating hart (cpu/jit.ts, docs/jit.md): hot guest blocks run compiled. */
  jit: JitMode;
  /** Broadcast TLB invalidation hardware (cpu/tlb-broadcast.ts); `broadcast` turns it on itself. */
  tlbBroadcast: boolean;
  /** broadcast policy: harts a space must run on to get a global ASID (1-64). */
  globalAsidMin: number;
  /** Deterministic mode (docs/deterministic.md): one hart at a time, seeded schedule, virtual time. */
  deterministic: boolean;
  /** Deterministic mode's schedule. */
  schedule: Schedule;
  /** pct: priority change points + 1. */
  pctDepth: number;
}

/** Defaults of every option but `elf`, `args` and `root` (root defaults to the cwd). */
export const RUN_DEFAULTS = {
  cpus: 4,
  memory: 256 * MIB,
  quantum: 100_000,
  statsJson: null,
  shootdown: 'ipi',
  flushCeiling: 33,
  sanitize: 'off',
  trace: null,
  traceBuffer: TRACE_EVENTS_DEFAULT,
  tlbEntries: 1024,
  seed: 1,
  inject: {},
  jit: 'on',
  tlbBroadcast: false,
  globalAsidMin: 4,
  deterministic: false,
  schedule: 'pct',
  pctDepth: 3,
} as const satisfies Omit<RunOptions, 'elf' | 'args' | 'root'>;

const fail = (flag: string, given: string, allowed: string): never => {
  throw new OptionError(`${flag}: '${given}' is not allowed; ${allowed}`);
};

/** Parse a decimal integer in [min, max] for `flag`. */
export function parseIntIn(flag: string, text: string, min: number, max: number): number {
  const t = text.trim();
  const n = /^[+]?\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) fail(flag, text, `it must be an integer from ${min} to ${max}`);
  return n;
}

export const parseCpus = (text: string): number => parseIntIn('--cpus', text, CPUS_MIN, CPUS_MAX);
export const parseQuantum = (text: string): number => parseIntIn('--quantum', text, QUANTUM_MIN, QUANTUM_MAX);
export const parseFlushCeiling = (text: string): number => parseIntIn('--flush-ceiling', text, 1, FLUSH_CEILING_MAX);
export const parseTraceBuffer = (text: string): number => parseIntIn('--trace-buffer', text, TRACE_BUFFER_MIN, TRACE_EVENTS_MAX);
export const parseSeed = (text: string): number => parseIntIn('--seed', text, 0, 0xffffffff);
export const parsePctDepth = (text: string): number => parseIntIn('--pct-depth', text, 1, 64);
/** Parse `--schedule pct|random`. */
export function parseSchedule(text: string): Schedule {
  if (!(SCHEDULES as readonly string[]).includes(text)) fail('--schedule', text, `it must be one of ${SCHEDULES.join(', ')}`);
  return text as Schedule;
}
export const parseGlobalAsidMin = (text: string): number => parseIntIn('--global-asid-min', text, 1, 64);

const MEMORY_ALLOWED = 'it must be a size such as 64M, 512MiB or 1G (a multiple of 2 MiB from 16 MiB to 4 GiB)';
const UNIT: Readonly<Record<string, number>> = { '': 1, k: 1024, m: MIB, g: 1024 * MIB };

/**
 * Parse a RAM size: a number with an optional binary unit K/M/G (also KB/KiB, ...; case
 * ignored; no unit = bytes), a multiple of 2 MiB from 16 MiB to 4 GiB.
 */
export function parseMemory(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return fail('--memory', text, MEMORY_ALLOWED);
  const bytes = Number(m[1]) * UNIT[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes) || bytes < MEMORY_MIN || bytes > MEMORY_MAX || bytes % MEMORY_ALIGN !== 0) {
    fail('--memory', text, MEMORY_ALLOWED);
  }
  return bytes;
}

/** Parse a shootdown policy name. */
export function parseShootdown(text: string): PolicyName {
  if (!(SHOOTDOWN_POLICIES as readonly string[]).includes(text)) {
    fail('--shootdown', text, `it must be one of ${SHOOTDOWN_POLICIES.join(', ')}`);
  }
  return text as PolicyName;
}

/**
 * Parse `run --shootdown`: a policy name, or `ipi:` and a comma list of ipi options
 * (concurrent, early-ack, consolidate, in-context) or `ipi:all`.
 */
export function parseShootdownSpec(text: string): ShootdownSpec {
  const colon = text.indexOf(':');
  if (colon < 0) return parseShootdown(text);
  try {
    parsePolicySpec(text);
  } catch (e) {
    fail('--shootdown', text, `options go with ipi only: ipi:OPT[,OPT...] with OPT one of ${IPI_OPTION_NAMES.join(', ')}, or ipi:all (${(e as Error).message.replace(/^parsePolicySpec: /, '')})`);
  }
  return text as PolicySpec as ShootdownSpec;
}

/** Parse the value of `--sanitize=MODE` (`--sanitize` alone means 'report'). */
export function parseSanitize(text: string): SanitizeMode {
  if (text === 'report' || text === 'fatal') return text;
  return fail('--sanitize', text, "use --sanitize (report and go on) or --sanitize=fatal (stop at the first report)");
}

/** Parse a TLB size: a power of two from 8 to 65536 entries (8-way sets). */
export function parseTlbEntries(text: string): number {
  const n = parseIntIn('--tlb-entries', text, TLB_ENTRIES_MIN, TLB_ENTRIES_MAX);
  if ((n & (n - 1)) !== 0) fail('--tlb-entries', text, `it must be a power of two from ${TLB_ENTRIES_MIN} to ${TLB_ENTRIES_MAX}`);
  return n;
}

/** Parse `--jit off|on`. */
export function parseJit(text: string): JitMode {
  if (!(JIT_MODES as readonly string[]).includes(text)) fail('--jit', text, `it must be one of ${JIT_MODES.join(', ')}`);
  return text as JitMode;
}

/** Parse `--inject point=us[,point=us...]` (kernel/lab/inject.ts INJECT_POINTS). */
export function parseInject(text: string): InjectConfig {
  try {
    return parseInjection(text);
  } catch (e) {
    return fail('--inject', text, (e as Error).message);
  }
}

/** Resolve `--root` against the cwd; it must name an existing directory. */
export function parseRoot(text: string, cwd = process.cwd()): string {
  const dir = resolve(cwd, text);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // missing: reported below
  }
  if (!isDir) fail('--root', text, 'it must name an existing directory');
  return dir;
}

/** Parse a non-empty output file name for `flag`. */
export function parseOutputFile(flag: string, text: string): string {
  if (text.trim() === '') fail(flag, text, 'it must be a file name');
  return text;
}

/**
 * Complete and check a RunOptions from the API: defaults filled in, every field in range
 * (OptionError naming the option otherwise). The CLI's parsed values pass through it too.
 */
export function resolveRunOptions(input: Partial<RunOptions> & { elf: string }): RunOptions {
  const o: RunOptions = { ...RUN_DEFAULTS, args: [], root: process.cwd(), ...input };
  if (typeof o.elf !== 'string' || o.elf === '') throw new OptionError('run: missing <elf>: the guest executable to run');
  if (!Array.isArray(o.args) || !o.args.every((a) => typeof a === 'string')) throw new OptionError('run: args must be strings');
  const int = (flag: string, v: number, min: number, max: number): void => {
    if (!Number.isSafeInteger(v) || v < min || v > max) fail(flag, String(v), `it must be an integer from ${min} to ${max}`);
  };
  int('--cpus', o.cpus, CPUS_MIN, CPUS_MAX);
  parseMemory(String(o.memory));
  int('--quantum', o.quantum, QUANTUM_MIN, QUANTUM_MAX);
  int('--flush-ceiling', o.flushCeiling, 1, FLUSH_CEILING_MAX);
  int('--trace-buffer', o.traceBuffer, TRACE_BUFFER_MIN, TRACE_EVENTS_MAX);
  int('--seed', o.seed, 0, 0xffffffff);
  int('--global-asid-min', o.globalAsidMin, 1, 64);
  parseTlbEntries(String(o.tlbEntries));
  parseShootdownSpec(o.shootdown);
  parseJit(o.jit);
  if (o.sanitize !== 'off') parseSanitize(o.sanitize);
  try {
    validateInjection(o.inject);
  } catch (e) {
    fail('--inject', JSON.stringify(o.inject), (e as Error).message);
  }
  o.root = parseRoot(o.root);
  return o;
}
