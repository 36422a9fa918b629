/**
 * Soak of the coherence conformance suite (`npm run stress`): every case with its long
 * arguments, every policy, 2 and 4 harts, three repetitions. Same outcomes as
 * test/lab/conformance.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CONFORMANCE, policyOptions, SAFE_POLICIES, UNSAFE_POLICIES } from '../lab/conformance.ts';
import { runGuest } from '../lab/guest-runs.ts';

describe.skipIf(!process.env.COHERENT_STRESS)('conformance soak', () => {
  for (const c of CONFORMANCE) {
    for (const cpus of [2, 4]) {
      for (const policy of [...SAFE_POLICIES, ...UNSAFE_POLICIES]) {
        it(`${c.guest} ${c.stressArgs.join(' ')} under ${policy} on ${cpus} harts ×3`, async () => {
          for (let k = 0; k < 3; k++) {
            const r = await runGuest({ policy, guest: c.guest, args: c.stressArgs, cpus, inject: c.inject, timeoutMs: 120_000, ...policyOptions(policy) });
            if ((SAFE_POLICIES as readonly string[]).includes(policy)) {
              expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked }).toEqual({ status: 0, violations: 0, leaked: 0 });
            } else if (r.guestFailed) {
              expect(r.stats.sanitizer.violations, r.stdout).toBeGreaterThan(0);
            }
          }
        }, 400_000);
      }
    }
  }
});
