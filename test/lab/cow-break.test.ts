/**
 * A copy-on-write break racing readers on other harts (issue 12, bug 2; guests/coh-cow.c).
 *
 * The kernel must replace the translation as Linux's wp_page_copy does: clear the PTE (a
 * "change in progress" state the MMU faults on), complete the shootdown, and only then set the
 * PTE to the new frame. When the new frame is installed first, a second writer stores through
 * it and publishes while a reader's hart still uses the pre-COW translation: the reader reads
 * the old value after the publication. `cow.after-install` (after the new PTE is set) widens
 * that window; `cow.before-install` (the PTE in its change state, the shootdown done) makes
 * concurrent faulters wait on the change, which they must never mistake for a demand fault.
 */
import { describe, expect, it } from 'vitest';
import { SAFE_POLICIES } from './conformance.ts';
import { runGuest } from './guest-runs.ts';

const ARGS = ['16', '3', '2'];
const OK_LINE = /^coh-cow: OK$/m;

describe('COW break: clear → flush → set', () => {
  for (const policy of SAFE_POLICIES) {
    it(`${policy} on 4 harts, the new PTE held 3 ms before returning (cow.after-install): no stale read, no report`, async () => {
      const r = await runGuest({ policy, guest: 'coh-cow', args: ARGS, cpus: 4, inject: { 'cow.after-install': 3000 }, timeoutMs: 90_000 });
      expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked, stdout: r.stdout })
        .toEqual({ status: 0, violations: 0, leaked: 0, stdout: expect.stringMatching(OK_LINE) });
      expect(r.injectHits['cow.after-install']).toBeGreaterThanOrEqual(8); // one COW copy per round at least
    }, 120_000);
  }

  it('ipi on 4 harts, the change-in-progress PTE held 3 ms (cow.before-install): concurrent faulters wait for it', async () => {
    const r = await runGuest({ policy: 'ipi', guest: 'coh-cow', args: ARGS, cpus: 4, inject: { 'cow.before-install': 3000 }, timeoutMs: 90_000 });
    expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked, stdout: r.stdout })
      .toEqual({ status: 0, violations: 0, leaked: 0, stdout: expect.stringMatching(OK_LINE) });
    expect(r.injectHits['cow.before-install']).toBeGreaterThanOrEqual(8);
  }, 120_000);

  it('off on 3 harts: readers see the pre-COW frame, and the sanitizer reports the re-pointed translation', async () => {
    const r = await runGuest({ policy: 'off', guest: 'coh-cow', args: ARGS, cpus: 3, timeoutMs: 90_000 });
    expect(r.stdout).toMatch(/^coh-cow: FAIL \d+ stale/m);
    expect(r.stats.sanitizer.violations).toBeGreaterThan(0);
    expect(r.leaked).toBe(0);
  }, 120_000);
});
