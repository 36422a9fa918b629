/**
 * Run a litmus test on a fresh machine: build its image (image.ts), boot a machine with the
 * sanitizer on, run the bundled guest guests/bin/litmus on it (N runs with seeded start
 * delays, one line of observed values per run), and fold the runs into an outcome histogram
 * with the forbidden outcomes marked.
 *
 *   const t = parseLitmus(text, 'stale.litmus');
 *   const r = await runLitmus(t, { policy: 'ipi', runs: 50, seed: 1, cpus: 4 });
 *   r.forbiddenRuns, r.histogram, r.sanitizerReports; formatResult(t, r)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectConfig } from '../../kernel/lab/inject.ts';
import type { PolicyName } from '../../kernel/lab/layout.ts';
import { holds, locText, type LitmusTest, type Value } from './format.ts';
import { buildImage } from './image.ts';

const GUEST = new URL('../../guests/bin/litmus', import.meta.url).pathname;
const MiB = 2 ** 20;
/** Default runs and maximum start delay (spin iterations) when neither the file nor the caller sets them. */
export const DEFAULT_RUNS = 40;
export const DEFAULT_DELAY = 300;

export interface LitmusRunOptions {
  policy: PolicyName;
  /** Runs (default: the file's `runs`, else DEFAULT_RUNS). */
  runs?: number;
  /** Seed of the start delays and of the machine's random choices (default 1). */
  seed?: number;
  cpus?: number;
  /** Fault injection; default the file's `inject` lines. */
  inject?: InjectConfig;
  /** Maximum start delay in spin iterations (default: the file's `delay`, else DEFAULT_DELAY). */
  delay?: number;
  jit?: boolean;
  /** Deterministic machine (only when machineSupportsDeterministic()). */
  deterministic?: boolean;
  timeoutMs?: number;
}

export interface Outcome {
  /** "P0:t1=1 x=0" — the observed locations in order. */
  key: string;
  count: number;
  forbidden: boolean;
}

export interface LitmusResult {
  name: string;
  policy: PolicyName;
  runs: number;
  /** Outcomes, most frequent first. */
  histogram: Outcome[];
  /** Runs whose outcome satisfied a `forbidden` condition. */
  forbiddenRuns: number;
  sanitizerReports: number;
  /** The guest's exit status (0 when it ran every run) and its last line when it failed. */
  status: number;
  error?: string;
  wallMs: number;
}

/**
 * Whether this machine has a deterministic mode (DESIGN.md section 9). The scheduler announces
 * it by exporting `DETERMINISTIC_SUPPORTED = true` from scheduler/api.ts together with the
 * boot option `deterministic`; until then `--deterministic` is refused.
 */
export async function machineSupportsDeterministic(): Promise<boolean> {
  const api: object = await import('../../scheduler/api.ts');
  return Reflect.get(api, 'DETERMINISTIC_SUPPORTED') === true;
}

function showValue(v: Value): string {
  return v === 'fault' ? 'fault' : v >= 1n << 63n ? `-${(1n << 64n) - v}` : v < 0x10000n ? v.toString() : `0x${v.toString(16)}`;
}

/**
 * Run `t` under `o.policy` and return its histogram. Throws when the machine fails (halts)
 * or the guest does not finish within o.timeoutMs (default 120 s); a guest that fails its own
 * checks gives status != 0 and `error`.
 */
export async function runLitmus(t: LitmusTest, o: LitmusRunOptions): Promise<LitmusResult> {
  const runs = o.runs ?? t.runs ?? DEFAULT_RUNS;
  const seed = o.seed ?? 1;
  const image = buildImage(t, runs, seed, o.delay ?? t.delay ?? DEFAULT_DELAY);
  if (o.deterministic && !(await machineSupportsDeterministic())) {
    throw new Error('--deterministic: this machine has no deterministic mode (scheduler/api.ts does not export DETERMINISTIC_SUPPORTED)');
  }
  const { bootScheduled, spawn, wait } = await import('../../scheduler/api.ts');
  const { labStats } = await import('../../kernel/lab/stats.ts');
  const dir = mkdtempSync(join(tmpdir(), 'coherent-litmus-'));
  writeFileSync(join(dir, 'litmus'), readFileSync(GUEST), { mode: 0o755 });
  writeFileSync(join(dir, 'test.img'), image.bytes);
  const outPath = join(dir, 'stdout');
  const out = openSync(outPath, 'w');
  const nul = openSync('/dev/null', 'r+');
  const boot = {
    cpus: o.cpus ?? 4, memory: 64 * MiB, policy: o.policy, sanitize: 'report' as const, root: dir,
    inject: o.inject ?? t.inject, seed, jit: o.jit, ...(o.deterministic ? { deterministic: true } : {}),
  };
  const m = await bootScheduled(boot);
  const t0 = performance.now();
  let status: number;
  let stats;
  try {
    const { pid } = spawn(m, { elf: new Uint8Array(readFileSync(GUEST)), argv: ['litmus', '/test.img'], envp: [], stdio: [nul, out, nul] });
    status = await wait(m, pid, o.timeoutMs ?? 120_000);
    stats = labStats(m.ctl);
  } finally {
    await m.shutdown();
    closeSync(out);
    closeSync(nul);
  }
  const wallMs = performance.now() - t0;
  const stdout = readFileSync(outPath, 'utf8');
  rmSync(dir, { recursive: true, force: true });
  const names = image.locations.map((l) => locText(t, l));
  const counts = new Map<string, Outcome>();
  let done = 0, forbiddenRuns = 0;
  for (const line of stdout.split('\n')) {
    const f = line.split(' ');
    if (f[0] !== 'R' || f.length !== names.length + 2) continue;
    const values = new Map<string, Value>(names.map((n, i) => [n, f[i + 2] === 'F' ? 'fault' : BigInt(`0x${f[i + 2]}`)]));
    const key = names.map((n) => `${n}=${showValue(values.get(n)!)}`).join(' ');
    const forbidden = t.forbidden.some((c) => holds(c.cond, t, values));
    const o2 = counts.get(key) ?? { key, count: 0, forbidden };
    o2.count++;
    counts.set(key, o2);
    done++;
    if (forbidden) forbiddenRuns++;
  }
  const failLine = stdout.split('\n').find((l) => l.startsWith('litmus: FAIL'));
  const result: LitmusResult = {
    name: t.name, policy: o.policy, runs: done,
    histogram: [...counts.values()].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key)),
    forbiddenRuns, sanitizerReports: stats.sanitizer.violations, status, wallMs,
  };
  if (status !== 0 || failLine || done !== runs) result.error = failLine ?? `guest exit status ${status} after ${done} of ${runs} runs`;
  return result;
}

/** The histogram as text: one line per outcome, forbidden ones marked, then a summary line. */
export function formatResult(t: LitmusTest, r: LitmusResult): string {
  const width = Math.max(...r.histogram.map((h) => String(h.count).length), 1);
  const lines = [`litmus ${r.name} (${t.file}) — policy ${r.policy}, ${r.runs} runs`];
  for (const h of r.histogram) lines.push(`  ${String(h.count).padStart(width)}  ${h.forbidden ? 'FORBIDDEN ' : '          '}${h.key}`);
  const verdict = r.forbiddenRuns > 0 ? `FORBIDDEN outcome seen in ${r.forbiddenRuns} of ${r.runs} runs` : 'no forbidden outcome';
  lines.push(`  ${verdict}; sanitizer reports: ${r.sanitizerReports}; ${(r.wallMs / 1000).toFixed(2)} s${r.error ? `; guest error: ${r.error}` : ''}`);
  return lines.join('\n');
}
