/**
 * The sanitizer's edges and the statistics: a single-threaded process migrating between
 * harts is safe under `lazy` (it flushes at switch); `fatal` halts the
 * machine at the first report; the multi-page munmap workload balances frames under every
 * policy (deferred's parked frames come back) and the statistics carry the documented fields.
 */
import { describe, expect, it } from 'vitest';
import { labStats } from '../../kernel/lab/stats.ts';
import { bootScheduled, spawn, wait, type SchedBootOptions } from '../../scheduler/api.ts';
import { migrateTouch, munmapWorkload, raceWorkload, settledLeak } from './workloads.ts';
import { rng as seeded } from '../helpers/rng.ts';

const MiB = 2 ** 20;

async function migrate(policy: SchedBootOptions['policy'], seed: number): Promise<{ status: number; violations: number }> {
  const rounds = 12 + Math.floor(seeded(seed)() * 12);
  const m = await bootScheduled({ cpus: 4, memory: 32 * MiB, policy, sanitize: 'report' });
  try {
    const { pid } = spawn(m, { image: { asm: migrateTouch(rounds) }, migrate: true, hart: 0 });
    const status = await wait(m, pid, 20_000);
    return { status, violations: labStats(m.ctl).sanitizer.violations };
  } finally {
    await m.shutdown();
  }
}

describe('single-threaded process migrating between harts', () => {
  it('lazy: no reports, correct values (each switch-in flushes what it is behind on), seeds 1-2', async () => {
    for (const seed of [1, 2]) expect(await migrate('lazy', seed)).toEqual({ status: 0, violations: 0 });
  }, 20_000);
});

describe('--sanitize=fatal', () => {
  it('halts the machine at the first report with an error naming it', async () => {
    const m = await bootScheduled({ cpus: 4, memory: 32 * MiB, poison: true, policy: 'off', sanitize: 'fatal' });
    try {
      const { pid } = spawn(m, raceWorkload(80));
      await expect(wait(m, pid, 20_000)).rejects.toThrow(/sanitizer: stale (load|store|fetch) at va 0x[0-9a-f]+ .*policy off/);
    } finally {
      await m.shutdown();
    }
  }, 25_000);
});

describe('multi-page munmap under every policy', () => {
  for (const policy of ['ipi', 'per-page', 'deferred', 'lazy', 'off'] as const) {
    it(`${policy}: guest exits 0, frames balance, statistics have the documented fields`, async () => {
      const m = await bootScheduled({ cpus: 4, memory: 32 * MiB, policy, sanitize: 'report' });
      try {
        const { pid } = spawn(m, munmapWorkload(12, 8));
        expect(await wait(m, pid, 20_000)).toBe(0);
        expect(await settledLeak(m)).toBe(0);
        const s = labStats(m.ctl);
        expect(s.policy).toBe(policy);
        expect(s.instructions).toBeGreaterThan(0);
        expect(s.tlb.hits).toBeGreaterThan(0);
        expect(s.tlb.misses).toBeGreaterThan(0);
        expect(s.faults.demandZero).toBeGreaterThanOrEqual(12 * 8);
        expect(s.frames.parked).toBe(0);
        expect(typeof s.shootdowns.latencyNs.p50).toBe('number');
        expect(s.sanitizer.violations).toBe(0); // the spinners never touch the unmapped pages
        if (policy === 'ipi' || policy === 'per-page') {
          expect(s.shootdowns.initiated).toBeGreaterThan(0);
          expect(s.shootdowns.latencyNs.p99).toBeGreaterThanOrEqual(s.shootdowns.latencyNs.p50);
        }
        if (policy === 'per-page') expect(s.shootdowns.perPageMessages).toBeGreaterThanOrEqual(8 * s.shootdowns.initiated - 8);
        if (policy === 'deferred') expect(s.frames.parkedTotal).toBeGreaterThan(0);
        if (policy === 'lazy' || policy === 'off') expect(s.interrupts.sent).toBe(0);
      } finally {
        await m.shutdown();
      }
    }, 20_000);
  }
});
