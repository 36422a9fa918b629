/**
 * The coherence conformance suite (test/lab/conformance.ts): every case under every policy on
 * 4 harts and the default policy on 2 (FOUR_HART_ONLY: 4 only; the soak runs all on both), the sanitizer on. Safe policies: correct result, 0 reports, frames balanced
 * (every case in turn on one machine per policy and hart count).
 * Unsafe policies: a guest-visible failure always comes with a report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFORMANCE, FOUR_HART_ONLY, policyOptions, SAFE_POLICIES, UNSAFE_POLICIES } from './conformance.ts';
import { openGuestMachine, runGuest, type GuestMachine } from './guest-runs.ts';

describe('coherence conformance', () => {
  it('covers the operations of issue 12', () => {
    const all = CONFORMANCE.map((c) => c.what).join(' | ');
    for (const op of ['munmap', 'msync', 'madvise', 'exit', 'COW', 'mprotect', 'DONTNEED', 'mremap', 'ftruncate', 'exec', 'ABA']) {
      expect(all, `a conformance case for ${op}`).toContain(op);
    }
  });

  // Safe policies: one machine per policy and hart count runs every case in turn (a boot per
  // case cost most of this file's time on a loaded host); each case's result, reports and leak
  // are its own (GuestMachine.run). The soak (npm run stress) boots a fresh machine per run.
  for (const cpus of [2, 4]) {
    for (const policy of SAFE_POLICIES.filter((p) => cpus === 4 || !FOUR_HART_ONLY.includes(p))) {
      describe(`${policy} on ${cpus} harts`, () => {
        let m: GuestMachine | undefined;
        beforeAll(async () => {
          m = await openGuestMachine({ policy, cpus, guests: [...new Set(CONFORMANCE.map((c) => c.guest))], ...policyOptions(policy) });
        }, 120_000);
        afterAll(async () => { await m?.shutdown(); });
        for (const c of CONFORMANCE) {
          it(`${c.guest} (${c.what}) under ${policy} on ${cpus} harts: correct, no report, frames balanced`, async () => {
            const r = await m!.run(c.guest, c.args, { inject: c.inject, timeoutMs: 60_000 });
            expect({ status: r.status, violations: r.violations, leaked: r.leaked, stdout: r.stdout })
              .toEqual({ status: 0, violations: 0, leaked: 0, stdout: expect.stringMatching(new RegExp(`^${c.guest}: OK`, 'm')) });
          }, 90_000);
        }
      });
    }
  }
  // Unsafe policies: a fresh machine per case (a run's corruption must not reach the next).
  for (const c of CONFORMANCE) {
    for (const cpus of [2, 4]) {
      for (const policy of UNSAFE_POLICIES.filter((p) => cpus === 4 || !FOUR_HART_ONLY.includes(p))) {
        it(`${c.guest} (${c.what}) under ${policy} on ${cpus} harts: every failure the guest sees is reported`, async () => {
          const r = await runGuest({ policy, guest: c.guest, args: c.args, cpus, inject: c.inject, timeoutMs: 60_000 });
          if (r.guestFailed) expect(r.stats.sanitizer.violations, r.stdout).toBeGreaterThan(0);
          expect(r.leaked).toBe(0);
        }, 90_000);
      }
    }
  }
});
