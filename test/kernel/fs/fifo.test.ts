/**
 * FIFOs (named pipes, kernel/fs/fifo.ts) on real worker-thread harts: the fifo guest checks
 * mkfifo, opens that wait for the other end, O_NONBLOCK/O_RDWR, EOF, EPIPE/SIGPIPE, EINTR of a
 * blocked open (no end left behind), poll and unlink while open; its expected stdout is the
 * manifest's, the same as under qemu-riscv64. No frame may leak and, once it exited, no FIFO
 * record, pipe or open file description may stay behind.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../lab/guest-runs.ts';
import { expectCleanRun } from '../../helpers/guest-expect.ts';
import { runOnFreshMachine } from '../../helpers/spawn-capture.ts';
import { KernelContext } from '../../../kernel/context.ts';
import { fifosLive } from '../../../kernel/fs/fifo.ts';
import { ofilesLive } from '../../../kernel/fs/ofile.ts';
import { PIPE_BYTES, PP_STATE, SLOT_LIVE } from '../../../kernel/fs/layout.ts';

const manifest = JSON.parse(readFileSync(new URL('../../../guests/manifest.json', import.meta.url), 'utf8')) as {
  guests: Array<{ name: string; stdout: string }>;
};
const expected = manifest.guests.find((g) => g.name === 'fifo')!.stdout;

describe('fifo guest: named pipes as Linux has them', () => {
  for (const cpus of [1, 4]) {
    it(`passes on ${cpus} hart(s) with the manifest's stdout, no sanitizer report, no leak`, async () => {
      const r = await runGuest({ policy: 'ipi', guest: 'fifo', args: [], cpus });
      expectCleanRun(r, expected);
    }, 120_000);
  }

  it('passes with the check-to-park window of a blocked open widened (fifo.before-park): no lost wake-up', async () => {
    const r = await runGuest({ policy: 'ipi', guest: 'fifo', args: [], cpus: 4, inject: { 'fifo.before-park': 200_000 }, timeoutMs: 30_000 });
    expect(r.stdout).toBe(expected);
    expect(r.status).toBe(0);
    expect(r.injectHits['fifo.before-park']).toBeGreaterThan(0);
    expect(r.leaked).toBe(0);
  }, 120_000);

  it('leaves no FIFO record, pipe or open file description behind once it exited', async () => {
    const elf = new Uint8Array(readFileSync(new URL('../../../guests/bin/fifo', import.meta.url)));
    const r = await runOnFreshMachine({ cpus: 2, memory: 64 * 2 ** 20, seed: 7 }, elf, ['fifo'], {
      inspect: (m, root) => {
        const ctx = KernelContext.forHost(m.ram, m.ctl);
        expect(fifosLive(ctx)).toBe(0);
        let pipes = 0;
        for (let p = 0; p < m.ctl.layout.fs.pipes; p++) {
          if (Atomics.load(m.ctl.i32, (m.ctl.layout.pipes + p * PIPE_BYTES) / 4 + PP_STATE) === SLOT_LIVE) pipes++;
        }
        expect(pipes).toBe(0);
        expect(ofilesLive(ctx)).toBe(0);
        expect(readdirSync(root).sort()).toEqual(['stdout']);
      },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(expected);
  }, 120_000);
});
