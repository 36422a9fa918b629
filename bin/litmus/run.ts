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
import type { InjectConfig, InjectPoint } from '../../kernel/lab/inject.ts';
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
  /** Matches only `forbidden ... except` conditions naming this policy: allowed by its model. */
  relaxed: boolean;
}

export interface LitmusResult {
  name: string;
  policy: PolicyName;
  runs: number;
  /** Outcomes, most frequent first. */
  histogram: Outcome[];
  /** Runs whose outcome satisfied a `forbidden` condition. */
  forbiddenRuns: number;
  /** Runs whose outcome the policy's documented model allows though other policies forbid it. */
  relaxedRuns: number;
  sanitizerReports: number;
  /** Frames the machine still held after the guest exited (the last machine of the batch); 0 when none leaked. */
  leakedFrames: number;
  /** Set when the guest did not complete every run of this test: its FAIL line or how it died. */
  error?: string;
  wallMs: number;
}

/**
 * Whether this machine has a deterministic mode (docs/deterministic.md): scheduler/api.ts exports
 * `DETERMINISTIC_SUPPORTED = true` with the boot option `deterministic`; a build without it
 * refuses `--deterministic`.
 */
export async function machineSupportsDeterministic(): Promise<boolean> {
  const api: object = await import('../../scheduler/api.ts');
  return Reflect.get(api, 'DETERMINISTIC_SUPPORTED') === true;
}

function showValue(v: Value): string {
  return v === 'fault' ? 'fault' : v >= 1n << 63n ? `-${(1n << 64n) - v}` : v < 0x10000n ? v.toString() : `0x${v.toString(16)}`;
}

/**
 * Run `t` under `o.policy` on a fresh machine and return its histogram. Throws when the
 * machine fails (halts) or the guest does not finish within o.timeoutMs (default 120 s); a
 * guest that fails its own checks gives status != 0 and `error`.
 */
export async function runLitmus(t: LitmusTest, o: LitmusRunOptions): Promise<LitmusResult> {
  return (await runLitmusBatch([t], o))[0]!;
}

/**
 * Run several tests one after the other in one guest on one fresh machine (one boot for a
 * suite). Each result is that test's histogram; `sanitizerReports` and `wallMs` are the
 * batch's (the machine's total), equal in every result. Injection: o.inject, else every
 * test's `inject` lines merged (the largest delay per point). Throws like runLitmus.
 */
export async function runLitmusBatch(tests: LitmusTest[], o: LitmusRunOptions): Promise<LitmusResult[]> {
  const seed = o.seed ?? 1;
  const runsOf = (t: LitmusTest): number => o.runs ?? t.runs ?? DEFAULT_RUNS;
  const images = tests.map((t, k) => buildImage(t, runsOf(t), seed, o.delay ?? t.delay ?? DEFAULT_DELAY, k));
  if (o.deterministic && !(await machineSupportsDeterministic())) {
    throw new Error('--deterministic: this machine has no deterministic mode (scheduler/api.ts does not export DETERMINISTIC_SUPPORTED)');
  }
  const inject: InjectConfig = o.inject ?? {};
  if (!o.inject) {
    for (const t of tests) for (const [k, v] of Object.entries(t.inject) as Array<[InjectPoint, number]>) inject[k] = Math.max(inject[k] ?? 0, v);
  }
  const { bootScheduled, leakedFrames, spawn, wait } = await import('../../scheduler/api.ts');
  const { labStats } = await import('../../kernel/lab/stats.ts');
  const dir = mkdtempSync(join(tmpdir(), 'coherent-litmus-'));
  const elf = new Uint8Array(readFileSync(GUEST));
  writeFileSync(join(dir, 'litmus'), elf, { mode: 0o755 }); // each run is a posix_spawn of /litmus --run ...
  images.forEach((img, i) => writeFileSync(join(dir, `test${i}.img`), img.bytes));
  const nul = openSync('/dev/null', 'r+');
  const boot = {
    cpus: o.cpus ?? 4, memory: 64 * MiB, policy: o.policy, sanitize: 'report' as const, root: dir,
    inject, seed, jit: o.jit, ...(o.deterministic ? { deterministic: true } : {}),
  };
  let reports = 0;
  let leaked = 0;
  const t0 = performance.now();
  // One guest process runs tests[from..]. When it dies (an unsafe policy can corrupt the
  // harness itself), the test it was running is charged with the failure and a new process
  // goes on with the next one on the same machine; when it wedges (no exit within the
  // timeout), the machine is shut down and a fresh one goes on.
  const lines: string[][] = [];
  const failures = new Map<number, string>();
  const timeoutMs = o.timeoutMs ?? 60_000;
  try {
    for (let from = 0; from < tests.length;) {
      const m = await bootScheduled(boot);
      try {
        while (from < tests.length) {
          const outPath = join(dir, `stdout${from}`);
          const out = openSync(outPath, 'w');
          let status: number | 'timeout';
          try {
            const argv = ['/litmus', ...images.slice(from).map((_, i) => `/test${from + i}.img`)];
            const { pid } = spawn(m, { elf, argv, envp: [], stdio: [nul, out, nul] });
            status = await wait(m, pid, timeoutMs).catch((e: unknown) => {
              if (e instanceof Error && /still running/.test(e.message)) return 'timeout' as const;
              throw e;
            });
          } finally {
            closeSync(out);
          }
          const text = readFileSync(outPath, 'utf8').split('\n');
          const mine = text.map((l) => l.split(' ')).filter((f) => f[0] === 'R' || f[0] === 'X').map((f) => [f[0]!, String(Number(f[1]) + from), ...f.slice(2)]);
          lines.push(...mine);
          if (status === 0) {
            from = tests.length;
            break;
          }
          const last = mine.length ? Number(mine[mine.length - 1]![1]) : from;
          const runsDone = mine.filter((f) => Number(f[1]) === last).length;
          const at = Math.min(runsDone >= runsOf(tests[last]!) ? last + 1 : last, tests.length - 1);
          failures.set(at, status === 'timeout' ? `the guest did not finish within ${timeoutMs / 1000} s (machine restarted)`
            : text.find((l) => l.startsWith('litmus: FAIL')) ?? `guest ${status > 128 ? `killed by signal ${status - 128}` : `exit status ${status}`}`);
          from = at + 1;
          if (status === 'timeout') break;
        }
        reports += labStats(m.ctl).sanitizer.violations;
        // Frames still allocated once every guest process is gone (deferred frees settle first).
        const end = Date.now() + 3000;
        while ((leaked = leakedFrames(m)) !== 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      } finally {
        await m.shutdown();
      }
    }
  } finally {
    closeSync(nul);
  }
  const wallMs = performance.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  return tests.map((t, ti) => {
    const names = images[ti]!.locations.map((l) => locText(t, l));
    const counts = new Map<string, Outcome>();
    let done = 0, forbiddenRuns = 0, relaxedRuns = 0;
    for (const f of lines) {
      if (f[0] !== 'R' || f[1] !== String(ti) || f.length !== names.length + 3) continue;
      const values = new Map<string, Value>(names.map((n, i) => [n, f[i + 3] === 'F' ? 'fault' : BigInt(`0x${f[i + 3]}`)]));
      const key = names.map((n) => `${n}=${showValue(values.get(n)!)}`).join(' ');
      const forbidden = t.forbidden.some((c) => !c.except.includes(o.policy) && holds(c.cond, t, values));
      const relaxed = !forbidden && t.forbidden.some((c) => holds(c.cond, t, values));
      const entry = counts.get(key) ?? { key, count: 0, forbidden, relaxed };
      entry.count++;
      counts.set(key, entry);
      done++;
      if (forbidden) forbiddenRuns++;
      if (relaxed) relaxedRuns++;
    }
    const r: LitmusResult = {
      name: t.name, policy: o.policy, runs: done,
      histogram: [...counts.values()].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key)),
      forbiddenRuns, relaxedRuns, sanitizerReports: reports, leakedFrames: leaked, wallMs,
    };
    const lost = lines.filter((f) => f[0] === 'X' && f[1] === String(ti));
    const failure = failures.get(ti) ?? (lost.length ? `run ${lost[0]![2]}: ${lost[0]!.slice(3).join(' ')}` : undefined);
    if (failure || done !== runsOf(t)) r.error = `${failure ?? 'the guest stopped'} (${done} of ${runsOf(t)} runs completed)`;
    return r;
  });
}

/** The histogram as text: one line per outcome, forbidden ones marked, then a summary line. */
export function formatResult(t: LitmusTest, r: LitmusResult): string {
  const width = Math.max(...r.histogram.map((h) => String(h.count).length), 1);
  const lines = [`litmus ${r.name} (${t.file}) — policy ${r.policy}, ${r.runs} runs`];
  for (const h of r.histogram) lines.push(`  ${String(h.count).padStart(width)}  ${h.forbidden ? 'FORBIDDEN ' : h.relaxed ? 'RELAXED   ' : '          '}${h.key}`);
  const verdict = (r.forbiddenRuns > 0 ? `FORBIDDEN outcome seen in ${r.forbiddenRuns} of ${r.runs} runs` : 'no forbidden outcome') +
    (r.relaxedRuns > 0 ? ` (${r.relaxedRuns} runs RELAXED: allowed by ${r.policy}'s model)` : '');
  lines.push(`  ${verdict}; sanitizer reports: ${r.sanitizerReports}; ${(r.wallMs / 1000).toFixed(2)} s${r.error ? `; guest error: ${r.error}` : ''}`);
  return lines.join('\n');
}
