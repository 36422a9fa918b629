/**
 * The plots of `coherent report` (bench/report.ts): one Vega-Lite chart per figure — a panel
 * per workload, the policies side by side on x, one bar per hart count (colour) — compiled by
 * vega-lite and rendered to SVG by vega in Node (`renderer: 'none'`, no canvas, no DOM), so the
 * page needs no script and no network to show them.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { ReportData, ReportRow } from './report-data.ts';

/** One figure: the row field it plots, its axis title and the caption under it. */
export interface PlotDef {
  id: string;
  field: keyof ReportRow;
  title: string;
  axis: string;
  caption: string;
  /** Only the runs with the sanitizer on (the field means nothing without it). */
  sanitizedOnly?: boolean;
  /** A count: integer ticks. */
  count?: boolean;
}

/** The figures, in page order. */
export const PLOTS: readonly PlotDef[] = [
  {
    id: 'interrupts-per-op', field: 'interruptsPerOp', title: 'Interrupts per operation', axis: 'interrupts sent / PTE change',
    caption: 'Shootdown interrupts the initiators sent, divided by the PTE changes that needed a shootdown (each interrupt is kernel code run on a target: guest time it lost).',
  },
  {
    id: 'latency-p50', field: 'latencyP50Us', title: 'Initiator latency, median', axis: 'p50 (µs)',
    caption: 'The initiator\'s wait for its shootdown to complete, median (deferred: the time to park frames; broadcast: broadcast + tlbsync).',
  },
  {
    id: 'latency-p99', field: 'latencyP99Us', title: 'Initiator latency, 99th percentile', axis: 'p99 (µs)',
    caption: 'The same wait, 99th percentile: the tail that a target slow to take its interrupt causes.',
  },
  {
    id: 'throughput', field: 'throughputMips', title: 'Guest throughput', axis: 'MIPS (guest instructions / wall µs)',
    caption: 'Guest instructions retired on all harts per microsecond of wall time.',
  },
  {
    id: 'sanitizer', field: 'sanitizerReports', title: 'Sanitizer reports', axis: 'reports', sanitizedOnly: true, count: true,
    caption: 'Accesses through a translation the kernel had already removed, re-pointed or write-protected. Safe policies must show none.',
  },
  {
    id: 'flushes', field: 'flushes', title: 'TLB flush operations', axis: 'sfence.vma (page + ASID + all), every hart', count: true,
    caption: 'Local flush operations on every hart: page, whole-ASID and whole-TLB forms.',
  },
];

/** The Vega-Lite spec of figure `p` over `d` (exported for tests and for users who want the spec). */
export function plotSpec(p: PlotDef, d: ReportData): vl.TopLevelSpec {
  const values = d.rows
    .filter((r) => !p.sanitizedOnly || r.sanitize)
    .filter((r) => r[p.field] !== null)
    .map((r) => ({ workload: r.workload, policy: r.policy, harts: r.harts, value: r[p.field] as number }));
  const workloads = d.workloads.filter((w) => values.some((v) => v.workload === w));
  return {
    title: { text: p.title, anchor: 'start', fontSize: 14 },
    data: { values },
    background: 'white',
    // Wrapped: three workloads a row, so five fit a page without scrolling sideways.
    facet: { field: 'workload', type: 'nominal', sort: workloads, title: null, header: { labelFontSize: 12, labelFontWeight: 'bold' } },
    columns: 3,
    spec: {
      width: { step: 12 },
      height: 170,
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'policy', type: 'nominal', sort: d.policies, title: null, axis: { labelAngle: -40 } },
        xOffset: { field: 'harts', type: 'ordinal', sort: 'ascending' },
        color: { field: 'harts', type: 'ordinal', sort: 'ascending', title: 'harts', scale: { scheme: 'tableau10' } },
        y: { field: 'value', type: 'quantitative', title: p.axis, ...(p.count ? { axis: { format: 'd', tickMinStep: 1 } } : {}) },
      },
    },
    // Each panel its own y scale (the workloads differ by orders of magnitude) and its own x axis.
    resolve: { scale: { y: 'independent' }, axis: { x: 'independent' } },
    config: { font: 'sans-serif', view: { stroke: '#ccc' } },
  };
}

/** Render a Vega-Lite spec to an SVG string (no DOM, no canvas, no network: inline data only). */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Every figure of PLOTS over `d`, rendered, in page order; `svg` is null for a figure with no data (e.g. interrupts per operation from a file that predates `changes`). */
export async function renderPlots(d: ReportData): Promise<{ def: PlotDef; svg: string | null }[]> {
  const out: { def: PlotDef; svg: string | null }[] = [];
  for (const def of PLOTS) {
    const spec = plotSpec(def, d);
    const empty = (spec.data as { values: unknown[] }).values.length === 0;
    out.push({ def, svg: empty ? null : await renderSvg(spec) });
  }
  return out;
}
