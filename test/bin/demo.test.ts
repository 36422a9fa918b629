import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { demoWorkload, RERUN_HINT, runDemo, type DemoOptions } from '../../bin/demo.ts';
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
    expect(text).toMatch(/^ {2}hart 0: .* MIPS {2}TLB +\d+\.\d\d% {2}shootdowns \d+ sent \/ \d+ recv$/m);
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

  it('rejects bad options before booting', async () => {
    await expect(runDemo({ cpus: 0, out: new PassThrough() })).rejects.toThrow(/--cpus/);
    await expect(runDemo({ scale: 1000, out: new PassThrough() })).rejects.toThrow(/--scale.*1 to 100/);
  });
});
