/**
 * Context switch with generations on real hart workers: a single-threaded process migrating
 * between harts flushes at switch-in exactly when behind (range when one behind, whole ASID when
 * more, nothing when current — counters compared with a model of the run), and ASID rollover
 * with more address spaces than ASID slots neither leaks translations across spaces nor frames.
 */
import { describe, expect, it } from 'vitest';
import { bootScheduled, leakedFrames, schedStats, spawn, wait } from '../../scheduler/api.ts';
import { asidProgram, migrateProgram } from '../helpers/sched-guests.ts';
import { rng } from '../helpers/rng.ts';

const MiB = 2 ** 20;

/**
 * The expected switch kinds: the thread visits harts 0, 1, ..., cpus-1, 0, ... (visit k on hart
 * k % cpus); during visit j it bumps the generation bumps[j] times, catching its own hart up.
 */
function model(cpus: number, bumps: number[]): Record<string, number> {
  const seen = new Array<number | null>(cpus).fill(null);
  const out = { 'switch.newAsid': 0, 'switch.range': 0, 'switch.full': 0, 'switch.none': 0 };
  let g = 0;
  for (let k = 0; k <= bumps.length; k++) {
    const h = k % cpus;
    const l = seen[h];
    if (l === null) out['switch.newAsid']++;
    else if (l === g) out['switch.none']++;
    else if (l === g - 1) out['switch.range']++;
    else out['switch.full']++;
    g += bumps[k] ?? 0;
    seen[h] = g;
  }
  return out;
}

describe('switch-in generation check', () => {
  it('a migrating single-threaded process flushes exactly when behind (counters match the model)', async () => {
    const cpus = 4;
    const r = rng(0x5eed);
    const bumps = Array.from({ length: 120 }, () => { const x = r(); return x < 0.75 ? 0 : x < 0.93 ? 1 : 2; });
    const expected = model(cpus, bumps);
    expect(expected['switch.range']).toBeGreaterThan(0);
    expect(expected['switch.full']).toBeGreaterThan(0);
    expect(expected['switch.none']).toBeGreaterThan(0);
    const m = await bootScheduled({ cpus, memory: 32 * MiB });
    try {
      const { pid } = spawn(m, { image: { asm: migrateProgram(bumps) }, migrate: true, hart: 0 });
      expect(await wait(m, pid, 20_000)).toBe(0);
      const s = schedStats(m);
      const got = Object.fromEntries(Object.keys(expected).map((k) => [k, s.total[k]]));
      expect(got).toEqual(expected);
      expect(s.total['yield']).toBe(bumps.length);
      expect(leakedFrames(m)).toBe(0);
    } finally {
      await m.shutdown();
    }
  });

  it('ASID rollover: 16 address spaces pinned 8 per hart on 2 harts (6 ASID slots each): no cross-space leakage, frames balance', async () => {
    const m = await bootScheduled({ cpus: 2, memory: 64 * MiB });
    try {
      const pids = Array.from({ length: 16 }, (_, k) => spawn(m, { image: { asm: asidProgram(40) }, hart: k % 2 }).pid);
      const statuses = await Promise.all(pids.map((p) => wait(m, p, 25_000)));
      expect(statuses).toEqual(pids.map(() => 0));
      const s = schedStats(m);
      // More spaces than slots: ASIDs were recycled (each recycle flushed), many times per hart.
      for (const h of s.harts) expect(h.counters['switch.newAsid']).toBeGreaterThan(6);
      expect(leakedFrames(m)).toBe(0);
    } finally {
      await m.shutdown();
    }
  });
});
