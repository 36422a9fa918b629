import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { demoWorkload, RERUN_HINT, runDemo, SAFE_HINT, type DemoOptions } from '../../bin/demo.ts';
import { OptionError } from '../../bin/options.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Run the demo into a non-TTY buffer; resolves with the result and everything it printed. */
async function demo(o: Partial<DemoOptions>): Promise<{ r: Awaited<ReturnType<typeof runDemo>>; text: string }> {
  const out = new PassThrough();
  let text = '';
  out.setEncoding('utf8').on('data', (d: string) => { text += d; });
  const r = await runDemo({ cpus: 2, memory: 64 * 2 ** 20, out, ...o });
  return { r, text };
}

describe('demo', () => {
  it('the bundled workload names tlbrace, fork and mix with arguments that grow with --scale', () => {
    const w1 = demoWorkload(1), w3 = demoWorkload(3);
    expect(w1.map((g) => g.name)).toEqual(['tlbrace', 'fork', 'mix']);
    for (const g of w1) expect(g.binary.startsWith(ROOT)).toBe(true);
    expect(w3.find((g) => g.name === 'mix')!.args).toEqual(['1', '3']);
    expect(Number(w3[0]!.args[1])).toBe(3 * Number(w1[0]!.args[1]));
    expect(() => demoWorkload(0)).toThrow(OptionError);
  });

  it('runs a workload to completion (non-TTY): plain progress lines per hart, the summary table, the hint, status 0', async () => {
    const g = (name: string, args: string[]) => ({ name, binary: `${ROOT}guests/bin/${name}`, args });
    const { r, text } = await demo({ guests: [g('hello', ['x']), g('compute', ['200000'])] });
    expect(r.status).toBe(0);
    expect(r.guests.map((x) => [x.name, x.status, x.ok])).toEqual([['hello', 0, true], ['compute', 0, true]]);
    expect(r.leakedFrames).toBe(0);
    expect(r.sample.totals.instructions).toBeGreaterThan(1_000_000);
    expect(r.sample.totals.syscalls).toBeGreaterThan(0);
    expect(r.guestOutput).toContain('compute: OK');
    // plain mode: no cursor control; one line per hart in every batch
    expect(text).not.toMatch(/\x1b\[/);
    expect(text).toMatch(/^ {2}hart 0: .* MIPS {2}TLB +\d+\.\d\d% shootdowns \d+ sent \/ \d+ recv$/m);
    expect(text).toMatch(/^ {2}hart 1: /m);
    expect(text).toMatch(/^Coherent demo: 2 harts, shootdown policy ipi, sanitizer off, scale 1: /m);
    expect(text).toMatch(/^ {2}hello {5}x +OK +0 /m);
    expect(text).toMatch(/^ {2}compute {3}200000 +OK +0 /m);
    for (const row of ['instructions', 'TLB hit rate', 'shootdowns', 'interrupts', 'faults']) expect(text).toMatch(new RegExp(`^  ${row} +\\S`, 'm'));
    expect(text).toMatch(/^ {2}frames +balanced/m);
    expect(text.trimEnd().endsWith(RERUN_HINT)).toBe(true);
  }, 30_000);

  it('a failing guest is FAIL with its own output under the table, and the status is 1', async () => {
    const { r, text } = await demo({ cpus: 1, guests: [{ name: 'segv', binary: `${ROOT}guests/bin/segv`, args: [] }] });
    expect(r.status).toBe(1);
    expect(r.guests[0]).toMatchObject({ name: 'segv', status: 139, ok: false });
    expect(text).toMatch(/^ {2}segv +FAIL +139 \(signal 11\)/m);
    expect(text).toMatch(/^segv failed; its output:\n {2}segv: storing to 0x10$/m);
    expect(text.trimEnd().endsWith(RERUN_HINT)).toBe(true);
  }, 30_000);

  it('the real workload mix (tlbrace, fork, mix) passes under ipi with the sanitizer on: every guest OK, 0 reports', async () => {
    const { r, text } = await demo({ sanitize: 'report' });
    expect(r.guests.map((x) => [x.name, x.status])).toEqual([['tlbrace', 0], ['fork', 0], ['mix', 0]]);
    expect(r.sanitizer.violations).toBe(0);
    expect(r.status).toBe(0);
    expect(r.guestOutput).toMatch(/^tlbrace: OK iterations=100$/m);
    expect(r.guestOutput).toMatch(/^mix: OK$/m);
    expect(r.sample.totals.shootdowns).toBeGreaterThan(0);
    expect(text).toMatch(/^Coherent demo: 2 harts, shootdown policy ipi, sanitizer report, scale 1: /m);
    expect(text).toMatch(/^ {2}sanitizer +0 reports/m);
    expect(text).not.toMatch(/BROKEN/);
    expect(text.trimEnd().endsWith(RERUN_HINT)).toBe(true);
  }, 60_000);

  it('--shootdown off --sanitize breaks visibly: sanitizer reports listed, tlbrace FAILs, a BROKEN line, status 1', async () => {
    const tlbrace = demoWorkload(1).filter((g) => g.name === 'tlbrace');
    const { r, text } = await demo({ cpus: 4, shootdown: 'off', sanitize: 'report', guests: tlbrace });
    expect(r.status).toBe(1);
    expect(r.sanitizer.violations).toBeGreaterThan(0);
    expect(r.sanitizer.first.length).toBeGreaterThan(0);
    expect(text).toMatch(/^ {2}sanitizer +[\d,]+ reports of accesses through stale translations/m);
    expect(text).toMatch(/^ {4}stale (load|store|fetch) at va 0x[0-9a-f]+ on hart \d .*policy off$/m);
    // the guest's own check agrees when it fails (it can miss a race; the sanitizer cannot)
    if (r.guests[0]!.status !== 0) expect(text).toMatch(/^ {2}tlbrace: FAIL /m);
    expect(text).toMatch(/^BROKEN under shootdown policy off \(unsafe on purpose\): [\d,]+ sanitizer reports/m);
    expect(text.trimEnd().endsWith(SAFE_HINT)).toBe(true);
  }, 60_000);

  it('rejects bad options before booting', async () => {
    await expect(runDemo({ cpus: 0, out: new PassThrough() })).rejects.toThrow(/--cpus/);
    await expect(runDemo({ scale: 1000, out: new PassThrough() })).rejects.toThrow(/--scale.*1 to 100/);
    await expect(runDemo({ shootdown: 'nope' as DemoOptions['shootdown'], out: new PassThrough() })).rejects.toThrow(OptionError);
  });
});
