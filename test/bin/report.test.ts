/**
 * `coherent report` (bin/cli-report.ts, bench/report*.ts): the page from a fixed `bench policies`
 * result (test/fixtures/report/policies-quick.json: a real quick run, `--workloads munmap,race
 * --policies ipi,broadcast,off --cpus 2,4 --rounds 20`) has one SVG per plot with the expected
 * bars and labels, no external URL and no script, is the same byte for byte from the same input,
 * and renders in headless chromium without a console error; `coherent report` runs the bench end
 * to end and writes the page; bench policies' `--cpus` list and the older JSON form are read.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadReportData, parsePoliciesJson, summarize } from '../../bench/report-data.ts';
import { PLOTS } from '../../bench/report-plots.ts';
import { reportHtml } from '../../bench/report.ts';
import { parseCpusList } from '../../bench/policies.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COHERENT = join(ROOT, 'bin/coherent');
const FIXTURE = join(ROOT, 'test/fixtures/report/policies-quick.json');
const OLD_FORM = join(ROOT, 'test/fixtures/report/policies-old-form.json'); // a result file of the first form (2026-11-21)
const tmp = mkdtempSync(join(tmpdir(), 'coherent-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Debian's chromium (CI installs it: .ci/run); null when absent. */
function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const p = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (p) return p;
    } catch { /* not this one */ }
  }
  return null;
}
const CHROMIUM = findChromium();
const IN_CI = Boolean(process.env.CI);

/** The few DOM members the headless-browser check reads. */
interface DomElement {
  id: string;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
  getBoundingClientRect(): { width: number; height: number };
  getBBox(): { width: number; height: number };
}

/** The SVG of figure `id` in `html` ('' when absent). */
function figureSvg(html: string, id: string): string {
  const at = html.indexOf(`<figure id="${id}">`);
  if (at < 0) return '';
  const end = html.indexOf('</figure>', at);
  const m = /<svg[\s\S]*<\/svg>/.exec(html.slice(at, end));
  return m ? m[0] : '';
}

let pageCache: Promise<string> | null = null;
const fixturePage = (): Promise<string> => (pageCache ??= reportHtml(loadReportData([FIXTURE])));

describe('coherent report: the page from a fixed bench policies result', () => {
  const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { rows: { workload: string; policy: string; sanitize: boolean; cpus: number }[] };

  it('reads the rows by workload × policy × harts, with interrupts per operation', () => {
    const d = loadReportData([FIXTURE]);
    expect(d.rows).toHaveLength(fixture.rows.length);
    expect(d.harts).toEqual([2, 4]);
    expect(d.workloads).toEqual(['race', 'munmap', 'munmap (sanitizer off)']);
    expect(d.policies).toEqual(['ipi', 'broadcast', 'off']);
    const ipi2 = d.rows.find((r) => r.workload === 'munmap' && r.policy === 'ipi' && r.harts === 2)!;
    expect(ipi2.changes).toBeGreaterThan(0);
    expect(ipi2.interruptsPerOp).toBeCloseTo(ipi2.interruptsSent! / ipi2.changes!, 10);
    // hostCores 2 in the fixture: the 4-hart rows are past the core count, the 2-hart rows are not.
    expect(d.rows.filter((r) => r.pastCores).map((r) => r.harts)).toEqual(d.rows.filter((r) => r.harts === 4).map(() => 4));
    expect(d.rows.find((r) => r.workload === 'munmap (sanitizer off)')!.sanitizerReports).toBeNull();
  });

  it('has one SVG per plot, each with one bar per measured run and the expected labels', async () => {
    const html = await fixturePage();
    const d = loadReportData([FIXTURE]);
    expect((html.match(/<svg\b/g) ?? []).length).toBe(PLOTS.length);
    for (const p of PLOTS) {
      const svg = figureSvg(html, p.id);
      expect(svg, p.id).not.toBe('');
      const expected = d.rows.filter((r) => (!p.sanitizedOnly || r.sanitize) && r[p.field] !== null);
      expect((svg.match(/aria-roledescription="bar"/g) ?? []).length, p.id).toBe(expected.length);
      for (const r of expected) expect(svg, `${p.id} ${r.policy} ${r.harts}`).toContain(`policy: ${r.policy}; ${p.axis}: `);
      expect(svg).toContain(`>${p.title}</text>`);
      expect(svg).toContain('>harts</text>'); // the legend
      for (const h of ['2', '4']) expect(svg).toContain(`>${h}</text>`);
      for (const w of new Set(expected.map((r) => r.workload))) expect(svg, `${p.id} panel ${w}`).toContain(`Title text '${w}'`);
    }
    // The sanitizer plot leaves out the runs without the sanitizer.
    expect(figureSvg(html, 'sanitizer')).not.toContain("'munmap (sanitizer off)'");
  });

  it('is self-contained: no script, no external URL in src/href/url(), no link to load', async () => {
    const html = await fixturePage();
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/\b(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/url\(\s*["']?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/@import/i);
  });

  it('has a deterministic, BENCH-free summary table and the data table; same input, same page', async () => {
    const html = await fixturePage();
    expect(html).not.toContain('BENCH');
    const summary = /<table id="summary">[\s\S]*?<\/table>/.exec(html)![0];
    const d = loadReportData([FIXTURE]);
    const lines = summarize(d);
    expect((summary.match(/<tr/g) ?? []).length).toBe(lines.length + 1);
    expect(lines.map((l) => `${l.workload}@${l.harts}`)).toEqual(
      ['race@2', 'race@4', 'munmap@2', 'munmap@4', 'munmap (sanitizer off)@2', 'munmap (sanitizer off)@4']);
    // The fixture's race under off on 4 harts exited 100 with sanitizer reports: listed as failing, never "best".
    const race4 = lines.find((l) => l.workload === 'race' && l.harts === 4)!;
    expect(race4.failing.join()).toMatch(/^off \(exit 100, \d+ reports\)$/);
    for (const l of lines) for (const b of [l.fewestInterruptsPerOp, l.lowestP50, l.lowestP99, l.highestThroughput]) expect(b).not.toMatch(/^(off|lazy) /);
    const data = /<table id="data">[\s\S]*?<\/table>/.exec(html)![0];
    expect((data.match(/<tr/g) ?? []).length).toBe(fixture.rows.length + 1);
    expect(html).toContain('more harts than the host has cores');
    expect(html).toContain('Deterministic mode');
    expect(await reportHtml(loadReportData([FIXTURE]))).toBe(html);
  });

  it('reads the older JSON form (one cpus number, no changes) and merges files, the later winning', () => {
    const old = loadReportData([OLD_FORM]);
    expect(old.harts).toEqual([4]);
    expect(old.rows.every((r) => r.interruptsPerOp === null && r.interruptsSent !== null)).toBe(true);
    const both = loadReportData([OLD_FORM, FIXTURE]);
    // The old file's 4-hart runs of the fixture's workloads and policies are replaced by the fixture's.
    const fixtureRuns = new Set(loadReportData([FIXTURE]).rows.map((r) => `${r.workload}|${r.policy}|${r.harts}`));
    const oldOverlap = old.rows.filter((r) => fixtureRuns.has(`${r.workload}|${r.policy}|${r.harts}`));
    expect(oldOverlap.length).toBeGreaterThan(0);
    expect(both.replaced).toBe(oldOverlap.length);
    expect(both.rows).toHaveLength(old.rows.length + fixture.rows.length - oldOverlap.length);
    const munmapIpi4 = both.rows.find((r) => r.workload === 'munmap' && r.policy === 'ipi' && r.harts === 4)!;
    expect(munmapIpi4.source).toBe('policies-quick.json');
  });

  it('refuses a file that is not a bench policies result, naming it', () => {
    expect(() => parsePoliciesJson('{"x":1}', 'a.json')).toThrow(/report: a\.json: .*rows/);
    expect(() => parsePoliciesJson('nope', 'b.json')).toThrow(/report: b\.json: not JSON/);
    expect(() => parsePoliciesJson('{"rows":[{"workload":"w","policy":"ipi"}]}', 'c.json')).toThrow(/c\.json: row 0 has no hart count/);
    expect(() => parseCpusList('2,0')).toThrow(/--cpus/);
    expect(parseCpusList('2,4,2,8')).toEqual([2, 4, 8]);
  });

  const renderName = CHROMIUM || IN_CI
    ? 'renders in headless chromium: no console error, no request but the page, every SVG and bar drawn'
    : 'renders in headless chromium — SKIPPED: chromium is not installed here (apt-get install chromium; CI installs it and never skips)';
  it.skipIf(!CHROMIUM && !IN_CI)(renderName, async () => {
    expect(CHROMIUM, 'chromium must be installed under CI (.ci/run installs it)').not.toBeNull();
    const file = join(tmp, 'fixture.html');
    writeFileSync(file, await fixturePage());
    const url = pathToFileURL(file).href;
    const { default: puppeteer } = await import('puppeteer-core');
    const browser = await puppeteer.launch({ executablePath: CHROMIUM!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const foreign: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') errors.push(`${m.type()}: ${m.text()}`); });
      page.on('pageerror', (e) => errors.push(`pageerror: ${String(e)}`));
      page.on('requestfailed', (r) => { if (r.url() === url) errors.push(`requestfailed: ${r.url()}`); });
      await page.setRequestInterception(true);
      page.on('request', (r) => {
        if (r.url() === url) void r.continue();
        else { foreign.push(r.url()); void r.abort(); }
      });
      await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
      const seen = await page.evaluate(() => {
        // Runs in the page (the project's tsconfig has no DOM lib: the little it uses, typed here).
        const doc = (globalThis as unknown as { document: DomElement }).document;
        return {
          figures: Array.from(doc.querySelectorAll('figure')).map((f) => {
            const box = f.querySelector('svg')?.getBoundingClientRect();
            const bars = Array.from(f.querySelectorAll('path[aria-roledescription="bar"]')).map((b) => b.getBBox());
            return { id: f.id, w: box?.width ?? 0, h: box?.height ?? 0, bars: bars.length, drawn: bars.filter((b) => b.width > 0 && b.height > 0).length };
          }),
          dataRows: doc.querySelectorAll('#data tbody tr').length,
          summaryRows: doc.querySelectorAll('#summary tbody tr').length,
        };
      });
      expect(errors).toEqual([]);
      expect(foreign).toEqual([]);
      expect(seen.figures.map((f) => f.id)).toEqual(PLOTS.map((p) => p.id));
      for (const f of seen.figures) {
        expect(f.w, f.id).toBeGreaterThan(100);
        expect(f.h, f.id).toBeGreaterThan(100);
        expect(f.bars, f.id).toBeGreaterThan(0);
        expect(f.drawn, f.id).toBeGreaterThan(0);
      }
      expect(seen.dataRows).toBe(JSON.parse(readFileSync(FIXTURE, 'utf8')).rows.length);
      expect(seen.summaryRows).toBe(6);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

interface Result { status: number; stdout: string; stderr: string }
function coherent(args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(COHERENT, args, { cwd, timeout: 120_000, encoding: 'utf8', maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('coherent report end to end', () => {
  it('runs bench policies (munmap, ipi and off, 2 harts) and writes the page and its JSON', async () => {
    const r = await coherent(['report', '--workloads', 'munmap', '--policies', 'ipi,off', '--cpus', '2', '--rounds', '5', '-o', 'out/rep.html'], tmp);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/report: wrote .*rep\.html/);
    expect(existsSync(join(tmp, 'out/rep.json'))).toBe(true);
    const json = JSON.parse(readFileSync(join(tmp, 'out/rep.json'), 'utf8')) as { cpus: number[]; rows: { cpus: number; policy: string; changes: number }[] };
    expect(json.cpus).toEqual([2]);
    expect(json.rows.map((x) => `${x.policy}@${x.cpus}`).sort()).toEqual(['ipi@2', 'ipi@2', 'off@2', 'off@2']);
    expect(json.rows.every((x) => x.changes > 0)).toBe(true);
    const html = readFileSync(join(tmp, 'out/rep.html'), 'utf8');
    expect((html.match(/<svg\b/g) ?? []).length).toBe(PLOTS.length);
    expect(html).toContain('<table id="summary">');
  }, 120_000);

  it('--help lists the options; usage errors exit 2: --from with run options, unknown workload or policy; an unreadable --from exits 1', async () => {
    // Two at a time: the machine has 2 cores.
    const [a, b] = await Promise.all([
      coherent(['report', '--from', FIXTURE, '--cpus', '2'], tmp),
      coherent(['report', '--workloads', 'nope'], tmp),
    ]);
    const [c, e] = await Promise.all([
      coherent(['report', '--policies', 'ipi,bogus'], tmp),
      coherent(['report', '--from', join(tmp, 'missing.json'), '-o', join(tmp, 'x.html')], tmp),
    ]);
    const help = await coherent(['report', '--help'], tmp);
    expect(help.status).toBe(0);
    for (const f of ['--out', '--from', '--policies', '--workloads', '--cpus', '--rounds', '--json']) expect(help.stdout).toContain(f);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/--from.*--cpus/);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--workloads: 'nope'.*race, munmap, tlbrace, mix/);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/--policies: 'bogus'/);
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(/cannot read .*missing\.json/);
    expect(existsSync(join(tmp, 'x.html'))).toBe(false);
  }, 60_000);
});
