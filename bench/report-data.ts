/**
 * The data of `coherent report` (bench/report.ts): `bench policies` JSON files (bench/policies.ts
 * PoliciesResult) read, checked and flattened into one row per workload × policy × harts, with
 * the derived figures the plots and tables show, and the deterministic summary table.
 *
 * Older files (one `cpus` number at the top, rows without `cpus` or `changes`) are read too:
 * their rows take the file's hart count, and interrupts per operation is null (not measured).
 * A timed-out run (exit status -1, figures null in the JSON) keeps its row with null figures.
 * When two files hold the same workload × policy × harts × sanitizer setting, the later file
 * given wins (ReportData.replaced counts those).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** One measured run, flattened for the plots. Null: not measured (timeout, older file). */
export interface ReportRow {
  /** The workload's label: `munmap`, or `munmap (sanitizer off)` for the runs without it. */
  workload: string;
  policy: string;
  harts: number;
  sanitize: boolean;
  exitStatus: number;
  /** PTE changes that needed a shootdown (the operations of interrupts per operation). */
  changes: number | null;
  interruptsSent: number | null;
  interruptsPerOp: number | null;
  flushes: number | null;
  latencyP50Us: number | null;
  latencyP99Us: number | null;
  throughputMips: number | null;
  sanitizerReports: number | null;
  leakedFrames: number | null;
  /** More harts than the host had cores when it was measured (host cores unknown: false). */
  pastCores: boolean;
  /** The file it came from (base name). */
  source: string;
}

/** One input file as read. */
export interface ReportSource {
  file: string;
  date: string;
  cpus: number[];
  /** Host cores at measurement time; null when the file predates the field. */
  hostCores: number | null;
  rows: number;
}

export interface ReportData {
  rows: ReportRow[];
  sources: ReportSource[];
  /** Workload labels, policies and hart counts in display order. */
  workloads: string[];
  policies: string[];
  harts: number[];
  /** Rows dropped because a later file measured the same configuration. */
  replaced: number;
}

/** Display order of the policies (bench/policies.ts runs them in this order); unknown ones follow. */
const POLICY_ORDER = ['ipi', 'per-page', 'deferred', 'broadcast', 'lazy', 'off'];
/** Display order of the workloads (bench/policies.ts); unknown ones follow in the order seen. */
const WORKLOAD_ORDER = ['race', 'munmap', 'munmap (sanitizer off)', 'tlbrace', 'mix'];

const orderBy = (order: string[]) => (a: string, b: string): number => {
  const ia = order.indexOf(a), ib = order.indexOf(b);
  return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib);
};

/** A finite number, else null (JSON null, NaN, missing). */
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Read one `bench policies` JSON file (`text` is its contents, `file` its name for messages and
 * the page). Throws an Error naming the file and what is wrong when it is not such a file.
 */
export function parsePoliciesJson(text: string, file: string): { source: ReportSource; rows: ReportRow[] } {
  const name = basename(file);
  const bad = (what: string): never => { throw new Error(`report: ${file}: ${what}`); };
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    return bad(`not JSON (${(e as Error).message})`);
  }
  if (typeof j !== 'object' || j === null || !Array.isArray((j as { rows?: unknown }).rows)) return bad('not a bench policies result (no "rows" array)');
  const top = j as { cpus?: unknown; hostCores?: unknown; date?: unknown; rows: unknown[] };
  const fileCpus = Array.isArray(top.cpus) ? top.cpus.map(num) : [num(top.cpus)];
  const hostCores = num(top.hostCores);
  const rows: ReportRow[] = top.rows.map((r, i) => {
    if (typeof r !== 'object' || r === null) return bad(`row ${i} is not an object`);
    const o = r as Record<string, unknown>;
    if (typeof o.workload !== 'string' || typeof o.policy !== 'string') return bad(`row ${i} has no workload or policy name`);
    const harts = num(o.cpus) ?? (fileCpus.length === 1 ? fileCpus[0] : null);
    if (harts === null || harts === undefined || !Number.isInteger(harts) || harts < 1) return bad(`row ${i} has no hart count`);
    const sanitize = o.sanitize !== false;
    const changes = num(o.changes);
    const sent = num(o.interruptsSent);
    return {
      workload: sanitize ? o.workload : `${o.workload} (sanitizer off)`,
      policy: o.policy, harts, sanitize, exitStatus: num(o.exitStatus) ?? -1,
      changes, interruptsSent: sent,
      interruptsPerOp: changes === null || sent === null ? null : changes === 0 ? 0 : sent / changes,
      flushes: num(o.flushes), latencyP50Us: num(o.latencyP50Us), latencyP99Us: num(o.latencyP99Us),
      throughputMips: num(o.throughputMips), sanitizerReports: sanitize ? num(o.sanitizerReports) : null,
      leakedFrames: num(o.leakedFrames), pastCores: hostCores !== null && harts > hostCores, source: name,
    };
  });
  const cpus = [...new Set(rows.map((r) => r.harts))].sort((a, b) => a - b);
  return { source: { file: name, date: typeof top.date === 'string' ? top.date : '(no date)', cpus, hostCores, rows: rows.length }, rows };
}

/** Read and merge `files` (bench policies JSON) in the order given; see the file comment. */
export function loadReportData(files: string[]): ReportData {
  if (files.length === 0) throw new Error('report: no input files');
  const parsed = files.map((f) => {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new Error(`report: cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return parsePoliciesJson(text, f);
  });
  return mergeReportData(parsed);
}

/** Merge parsed files (later wins on the same configuration) and fix the display orders. */
export function mergeReportData(parsed: { source: ReportSource; rows: ReportRow[] }[]): ReportData {
  const byKey = new Map<string, ReportRow>();
  let replaced = 0;
  for (const p of parsed) {
    for (const r of p.rows) {
      const key = `${r.workload}\u0000${r.policy}\u0000${r.harts}`;
      if (byKey.has(key)) replaced++;
      byKey.set(key, r);
    }
  }
  const all = [...byKey.values()];
  const workloads = [...new Set(all.map((r) => r.workload))].sort(orderBy(WORKLOAD_ORDER));
  const policies = [...new Set(all.map((r) => r.policy))].sort(orderBy(POLICY_ORDER));
  const harts = [...new Set(all.map((r) => r.harts))].sort((a, b) => a - b);
  const rows = all.sort((a, b) => orderBy(workloads)(a.workload, b.workload) || a.harts - b.harts || orderBy(policies)(a.policy, b.policy));
  return { rows, sources: parsed.map((p) => p.source), workloads, policies, harts, replaced };
}

/** Policies unsafe on purpose (docs/policies.md): never named best, however fast. */
export const UNSAFE_POLICIES: readonly string[] = ['lazy', 'off'];

/** A run counts as correct when the workload exited 0 and (sanitizer on) nothing was reported. */
export const isCorrect = (r: ReportRow): boolean => r.exitStatus === 0 && (r.sanitizerReports ?? 0) === 0;

/** One line of the summary table: a workload at a hart count. */
export interface SummaryLine {
  workload: string;
  harts: number;
  pastCores: boolean;
  correct: string[];
  /** Policies whose workload failed or was reported, with why: `off (exit 100, 13 reports)`. */
  failing: string[];
  fewestInterruptsPerOp: string;
  lowestP50: string;
  lowestP99: string;
  highestThroughput: string;
}

const fmt = (v: number, digits: number): string => v.toFixed(digits);

/** The best correct safe policy by `get` (`low`: smallest wins; ties: the earlier policy), formatted. */
function best(rows: ReportRow[], get: (r: ReportRow) => number | null, low: boolean, show: (v: number) => string): string {
  let win: { p: string; v: number } | null = null;
  for (const r of rows) {
    const v = get(r);
    if (!isCorrect(r) || UNSAFE_POLICIES.includes(r.policy) || v === null) continue;
    if (win === null || (low ? v < win.v : v > win.v)) win = { p: r.policy, v };
  }
  return win === null ? '—' : `${win.p} (${show(win.v)})`;
}

/**
 * The summary: per workload and hart count, which policies ran correctly, which failed, and the
 * best correct safe policy (not lazy/off) by interrupts per operation, latency p50/p99 and throughput. A pure
 * function of `d` (same input, same table).
 */
export function summarize(d: ReportData): SummaryLine[] {
  const out: SummaryLine[] = [];
  for (const workload of d.workloads) {
    for (const harts of d.harts) {
      const rows = d.rows.filter((r) => r.workload === workload && r.harts === harts);
      if (rows.length === 0) continue;
      out.push({
        workload, harts, pastCores: rows.some((r) => r.pastCores),
        correct: rows.filter(isCorrect).map((r) => r.policy),
        failing: rows.filter((r) => !isCorrect(r)).map((r) => {
          const why = [r.exitStatus < 0 ? 'timeout' : `exit ${r.exitStatus}`];
          if ((r.sanitizerReports ?? 0) > 0) why.push(`${r.sanitizerReports} reports`);
          return `${r.policy} (${why.join(', ')})`;
        }),
        fewestInterruptsPerOp: best(rows, (r) => r.interruptsPerOp, true, (v) => fmt(v, 2)),
        lowestP50: best(rows, (r) => r.latencyP50Us, true, (v) => `${fmt(v, 1)} µs`),
        lowestP99: best(rows, (r) => r.latencyP99Us, true, (v) => `${fmt(v, 1)} µs`),
        highestThroughput: best(rows, (r) => r.throughputMips, false, (v) => `${fmt(v, 2)} MIPS`),
      });
    }
  }
  return out;
}
