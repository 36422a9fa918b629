/**
 * The coherence lab's policies on the TLB-coherence race (test/lab/workloads.ts raceWorkload,
 * 4 harts, frames poisoned when freed): safe policies give zero sanitizer reports and a
 * clean guest, run after run; unsafe ones are caught by the sanitizer, and whenever the
 * guest's own check fails the sanitizer has reported. Frames balance under every policy.
 */
import { describe, expect, it } from 'vitest';
import { labStats } from '../../kernel/lab/stats.ts';
import { bootScheduled, spawn, wait, type SchedBootOptions } from '../../scheduler/api.ts';
import { raceWorkload, settledLeak } from './workloads.ts';

const MiB = 2 ** 20;

async function race(policy: SchedBootOptions['policy'], iters = 120): Promise<{ status: number; violations: number; leaked: number }> {
  const m = await bootScheduled({ cpus: 4, memory: 32 * MiB, poison: true, policy, sanitize: 'report' });
  try {
    const { pid } = spawn(m, raceWorkload(iters));
    const status = await wait(m, pid, 25_000);
    const leaked = await settledLeak(m);
    return { status, violations: labStats(m.ctl).sanitizer.violations, leaked };
  } finally {
    await m.shutdown();
  }
}

describe('safe policies on the race workload', () => {
  for (const [policy, runs] of [['ipi', 2], ['deferred', 2], ['per-page', 1]] as const) {
    it(`${policy}: no sanitizer report, readers see no stale value, frames balance (${runs} runs)`, async () => {
      for (let r = 0; r < runs; r++) {
        const res = await race(policy, policy === 'per-page' ? 50 : 80);
        expect(res).toEqual({ status: 0, violations: 0, leaked: 0 });
      }
    }, 30_000);
  }
});

describe('unsafe policies on the race workload', () => {
  for (const policy of ['off', 'lazy'] as const) {
    it(`${policy}: the sanitizer reports, agreeing with the guest's own check; frames balance`, async () => {
      const res = await race(policy);
      expect(res.violations).toBeGreaterThan(0);
      expect(res.status).toBeLessThan(128); // a count of stale reads, not a signal
      if (res.status > 0) expect(res.violations).toBeGreaterThan(0); // agreement
      expect(res.leaked).toBe(0);
    }, 30_000);
  }
});
