/**
 * Deterministic safety sweep (issue 15, "frame accounting and sanitizer behave as in parallel
 * mode"): successive deterministic seeds of a guest on ONE machine reset between seeds
 * (bin/hunt.ts SeedRunner), the safe policies taken in turn (seed k runs under
 * SAFE_POLICIES[k mod 5]); every seed must pass with 0 sanitizer reports and 0 leaked frames.
 * test/lab/det-sweep.test.ts runs a slice in npm test, test/stress/det-sweep-soak.test.ts the
 * 1,000 seeds of `npm run stress`.
 */
import { SeedRunner, type HuntOutcome } from '../../bin/hunt.ts';
import { RUN_DEFAULTS, resolveRunOptions } from '../../bin/options.ts';
import { policyOptions, SAFE_POLICIES } from './conformance.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/** What a sweep saw: seeds run, the outcomes that were not clean, host seconds. */
export interface SweepResult { seeds: number; bad: Array<HuntOutcome & { policy: string }>; seconds: number }

/**
 * Run seeds first..first+count-1 of `guest args` on `cpus` harts, deterministic, sanitizer on,
 * one reused machine; a seed is bad when it failed (exit, signal, report) or leaked frames.
 */
export async function detSweep(guest: string, args: string[], cpus: number, first: number, count: number): Promise<SweepResult> {
  const t0 = performance.now();
  const base = resolveRunOptions({ ...RUN_DEFAULTS, elf: `${ROOT}guests/bin/${guest}`, args, cpus, sanitize: 'report', deterministic: true });
  const runner = new SeedRunner(base);
  const bad: SweepResult['bad'] = [];
  try {
    for (let seed = first; seed < first + count; seed++) {
      const policy = SAFE_POLICIES[seed % SAFE_POLICIES.length]!;
      const spec = resolveRunOptions({ ...base, shootdown: policy as typeof base.shootdown, tlbBroadcast: policy === 'broadcast' });
      const gmin = policyOptions(policy).globalAsidMinHarts;
      const run = gmin === undefined ? spec : { ...spec, globalAsidMin: gmin };
      const o = await runner.runSeed(seed, run);
      if (o.failed || o.leakedFrames !== 0) bad.push({ ...o, policy });
    }
  } finally {
    await runner.close();
  }
  return { seeds: count, bad, seconds: (performance.now() - t0) / 1000 };
}
