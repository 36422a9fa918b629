/**
 * Shootdown policy `ipi` on real hart workers: mutual shootdowns (no deadlock, bounded time),
 * no read through a translation to a freed frame (poisoned frames, reused frames), and frame
 * accounting after every run. The `local` policy is the negative control: the same remap race
 * must catch it reading freed frames, which proves the check can fail.
 */
import { describe, expect, it } from 'vitest';
import { bootScheduled, leakedFrames, schedStats, spawn, wait } from '../../scheduler/api.ts';
import { mutualShootdown, remapRace } from '../helpers/sched-guests.ts';

const MiB = 2 ** 20;

describe('mutual shootdowns', () => {
  it.each([2, 4])('%i harts, one thread each, munmap at the same moment repeatedly', async (cpus) => {
    const m = await bootScheduled({ cpus, memory: 32 * MiB });
    try {
      const t0 = Date.now();
      const iters = 300;
      const threads = Array.from({ length: cpus - 1 }, (_, k) => ({ entry: 'worker', hart: k + 1 }));
      const { pid } = spawn(m, { image: { asm: mutualShootdown(iters) }, hart: 0, threads });
      expect(await wait(m, pid, 20_000)).toBe(0);
      expect(Date.now() - t0).toBeLessThan(20_000);
      const s = schedStats(m);
      // Every munmap of a resident page bumps the generation; those issued while a sibling ran
      // elsewhere interrupted it, and every interrupt was served (acks are what let them return).
      expect(s.total['shootdown.sent']).toBeGreaterThan(iters);
      expect(s.total['shootdown.recv']).toBe(s.total['shootdown.ipis']);
      for (const h of s.harts) expect(h.counters['shootdown.recv']).toBeGreaterThan(0);
      expect(leakedFrames(m)).toBe(0);
    } finally {
      await m.shutdown();
    }
  });
});

describe('unmap/remap race: no read through a translation to a freed frame', () => {
  const run = async (policy: 'ipi' | 'local'): Promise<{ status: number; stats: ReturnType<typeof schedStats>; leaked: number }> => {
    const m = await bootScheduled({ cpus: 4, memory: 32 * MiB, poison: true, policy });
    try {
      const { pid } = spawn(m, {
        image: { asm: remapRace(150, 2) }, hart: 0,
        threads: [{ entry: 'scribbler', hart: 1 }, { entry: 'reader', hart: 2 }, { entry: 'reader', hart: 3 }],
      });
      const status = await wait(m, pid, 25_000);
      return { status, stats: schedStats(m), leaked: leakedFrames(m) };
    } finally {
      await m.shutdown();
    }
  };

  it('policy ipi: readers only ever see 0 or the magic value; frames balance', async () => {
    const r = await run('ipi');
    expect(r.status).toBe(0); // exit status = violations seen by the readers
    expect(r.stats.total['shootdown.recv.range'] + r.stats.total['shootdown.recv.full']).toBeGreaterThan(0);
    expect(r.leaked).toBe(0);
  });

  it('policy local (negative control): readers catch stale translations to freed frames', async () => {
    const r = await run('local');
    expect(r.status).toBeGreaterThan(0);
    expect(r.status).toBeLessThan(128); // a count, not a signal
    expect(r.leaked).toBe(0);
  });
});
