/**
 * A FIFO open interrupted by a signal leaves no end behind before the thread runs on. The
 * interrupt (scheduler/block.ts cancel) takes the thread off its wait queue and hands the end
 * its open held to the FIFO's cancel hook to drop; before the fix the thread was made runnable
 * first and the drop came after, so the guest's very next open — a writer's, which must block
 * with no reader — could still find its own interrupted reader's end and succeed: fifo's
 * "blocked writer open under alarm: 3" (a CI full run on 4 harts). The injection point
 * sched.before-cancel-drop holds the canceller 20 ms between the two; before the fix fifo
 * failed on 2 and on 4 harts every time.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../lab/guest-runs.ts';

const manifest = JSON.parse(readFileSync(new URL('../../../guests/manifest.json', import.meta.url), 'utf8')) as { guests: { name: string; args: string[]; stdout: string }[] };
const fifo = manifest.guests.find((g) => g.name === 'fifo')!;

describe('an interrupted FIFO open drops its end before the thread runs on', () => {
  for (const cpus of [2, 4]) {
    it(`fifo on ${cpus} harts with sched.before-cancel-drop 20 ms: exact output`, async () => {
      const r = await runGuest({
        policy: 'ipi', guest: 'fifo', args: fifo.args, cpus, inject: { 'sched.before-cancel-drop': 20_000 }, timeoutMs: 90_000,
      });
      expect(r.stdout).toBe(fifo.stdout);
      expect(r.status).toBe(0);
      expect(r.injectHits['sched.before-cancel-drop']).toBeGreaterThan(0);
      expect(r.leaked).toBe(0);
    }, 120_000);
  }
});
