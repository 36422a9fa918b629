/**
 * `coherent report`: one self-contained HTML page from `bench policies` results
 * (bench/report-data.ts reads them, bench/report-plots.ts draws them). The page holds inline CSS,
 * the plots as inline SVG, a summary table and the data table — no script, no external URL, so
 * it opens in any browser without a network. It is a pure function of its input: the same JSON
 * gives the same page byte for byte (no generation time; the files' own dates are shown).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadReportData, summarize, UNSAFE_POLICIES, type ReportData, type ReportRow } from './report-data.ts';
import { renderPlots } from './report-plots.ts';

/** Escape text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.past td { color: #777; } tr.bad td { background: #fff1f0; }
figure { margin: 1.5em 0; overflow-x: auto; } figcaption { color: #555; max-width: 60em; }
.note { background: #fffbe6; border: 1px solid #f0d878; padding: 0.6em 1em; max-width: 60em; }
`;

const cell = (v: number | null, digits: number): string => `<td class="n">${v === null ? '—' : escapeHtml(v.toFixed(digits))}</td>`;
const td = (s: string): string => `<td>${escapeHtml(s)}</td>`;

function dataTable(rows: ReportRow[]): string {
  const head = ['workload', 'harts', 'policy', 'exit', 'PTE changes', 'interrupts', 'interrupts / op', 'flushes',
    'p50 µs', 'p99 µs', 'MIPS', 'sanitizer reports', 'leaked frames', 'file'];
  const body = rows.map((r) => {
    const cls = [r.pastCores ? 'past' : '', r.exitStatus !== 0 || (r.sanitizerReports ?? 0) > 0 ? 'bad' : ''].filter(Boolean).join(' ');
    return `<tr${cls ? ` class="${cls}"` : ''}>${td(r.workload)}<td class="n">${r.harts}${r.pastCores ? ' †' : ''}</td>${td(r.policy)}` +
      `${td(r.exitStatus < 0 ? 'timeout' : String(r.exitStatus))}${cell(r.changes, 0)}${cell(r.interruptsSent, 0)}${cell(r.interruptsPerOp, 2)}` +
      `${cell(r.flushes, 0)}${cell(r.latencyP50Us, 1)}${cell(r.latencyP99Us, 1)}${cell(r.throughputMips, 2)}` +
      `${cell(r.sanitizerReports, 0)}${cell(r.leakedFrames, 0)}${td(r.source)}</tr>`;
  });
  return `<table id="data"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody></table>`;
}

function summaryTable(d: ReportData): string {
  const head = ['workload', 'harts', 'correct (exit 0, no report)', 'failed or reported', 'fewest interrupts / op',
    'lowest p50', 'lowest p99', 'highest throughput'];
  const body = summarize(d).map((s) => `<tr${s.pastCores ? ' class="past"' : ''}>${td(s.workload)}<td class="n">${s.harts}${s.pastCores ? ' †' : ''}</td>` +
    `${td(s.correct.join(', ') || '—')}${td(s.failing.join(', ') || '—')}${td(s.fewestInterruptsPerOp)}${td(s.lowestP50)}` +
    `${td(s.lowestP99)}${td(s.highestThroughput)}</tr>`);
  return `<table id="summary"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody></table>`;
}

function hostNote(d: ReportData): string {
  const cores = [...new Set(d.sources.map((s) => s.hostCores).filter((c): c is number => c !== null))];
  const coreText = cores.length === 0 ? 'an unknown number of cores (the files predate the hostCores field)'
    : `${cores.join(' / ')} core${cores.length === 1 && cores[0] === 1 ? '' : 's'}`;
  return `<p class="note">Each hart is a worker thread; the host that measured these had ${escapeHtml(coreText)}. ` +
    'Figures for more harts than the host has cores (marked †, greyed) measure the host as much as the protocol: ' +
    'harts wait for a core, so latencies include that wait and throughput is shared. Even within the core count, ' +
    'wall-clock figures vary run to run (up to 2× on a shared machine); interrupts, changes, flushes and sanitizer reports are counts. ' +
    'Deterministic mode (docs/deterministic.md: one hart at a time, virtual time) measures without the core limit; bench policies does not run in it yet.</p>';
}

/** The whole page for `d` (see the file comment). */
export async function reportHtml(d: ReportData): Promise<string> {
  const plots = await renderPlots(d);
  const sources = d.sources.map((s) => `<li>${escapeHtml(s.file)}: measured ${escapeHtml(s.date)}, harts ${escapeHtml(s.cpus.join(', '))}, ` +
    `host cores ${s.hostCores === null ? 'unknown' : s.hostCores}, ${s.rows} runs</li>`).join('\n');
  const figures = plots.map(({ def, svg }) => svg === null
    ? `<figure id="${def.id}"><figcaption><b>${escapeHtml(def.title)}</b>: no data (not measured in these files).</figcaption></figure>`
    : `<figure id="${def.id}">\n${svg}\n<figcaption><b>${escapeHtml(def.title)}.</b> ${escapeHtml(def.caption)}</figcaption></figure>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Coherent: shootdown policies compared</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${CSS}</style></head>
<body>
<h1>Coherent: TLB shootdown policies compared</h1>
<p>Workloads: ${escapeHtml(d.workloads.join(', '))}. Policies: ${escapeHtml(d.policies.join(', '))}. Harts: ${escapeHtml(d.harts.join(', '))}.
Produced by <code>coherent report</code> from <code>coherent bench policies</code> results (docs/policies.md, section "The report").
${UNSAFE_POLICIES.filter((p) => d.policies.includes(p)).map((p) => `<code>${escapeHtml(p)}</code>`).join(' and ')}${d.policies.some((p) => UNSAFE_POLICIES.includes(p)) ? ' are unsafe on purpose: their bars show what a missing shootdown costs in correctness.' : ''}</p>
${hostNote(d)}
<h2>Sources</h2>
<ul>
${sources}
</ul>${d.replaced ? `\n<p>${d.replaced} run(s) measured again in a later file were replaced by the later figures.</p>` : ''}
<h2>Summary</h2>
<p>Per workload and hart count: the policies whose run was correct, those that failed (exit status) or were reported by the sanitizer, and the best correct safe policy (not ${UNSAFE_POLICIES.join('/')}) for each figure.</p>
${summaryTable(d)}
<h2>Plots</h2>
<p>One panel per workload (each with its own scale), the policies side by side, one bar per hart count.</p>
${figures}
<h2>Data</h2>
${dataTable(d.rows)}
</body></html>
`;
}

/** Read the `bench policies` JSON `files`, write the page to `out`; resolves with the page's size in bytes. */
export async function writeReport(files: string[], out: string): Promise<number> {
  const html = await reportHtml(loadReportData(files));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, html);
  return Buffer.byteLength(html);
}
