/**
 * The `deferred` policy (scheduler/policy-deferred.ts), issue 12 bugs 3 and 4, with the
 * conformance guest guests/coh-deferred.c (see its header for each mode's protocol).
 *
 * Bug 3 — epoch order. A hart at a poll point used to read the address space's generation
 * (and flush what it owed) and only then advance its epoch: an unmap landing in between was
 * counted as flushed on that hart, its frames were freed, and the hart read them through its
 * stale entry. The injection point `deferred.before-epoch` sleeps exactly there (the old
 * window); `deferred.after-epoch` sleeps between the announcement and the generation read
 * (the window of the fixed order). With either delay: no read of a freed frame (poisoned when
 * freed), no sanitizer report, frames balance.
 *
 * Bug 4 — only pure removals may be deferred. mprotect(PROT_NONE), madvise(DONTNEED),
 * mremap(MREMAP_DONTUNMAP) and ftruncate of a mapped file leave no valid PTE in their range but
 * change what a still-mapped address means: they must be complete on every hart when the call
 * returns. The kernel says which kind a change is (Stale.declareRemoval), the policy no longer
 * guesses from the PTEs: those four run synchronously (nothing parked but the munmaps
 * the guest makes itself), while munmap of private memory is still deferred.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from './guest-runs.ts';

describe('deferred: the epoch is announced before the generation is read (bug 3)', () => {
  for (const [point, cpus] of [['deferred.before-epoch', 2], ['deferred.before-epoch', 4], ['deferred.after-epoch', 4]] as const) {
    it(`munmap vs readers on ${cpus} harts, ${point} delayed: no freed frame read, no report`, async () => {
      const r = await runGuest({
        // 2 harts: one reader, more rounds (the delay must catch the reader's poll point at the munmap).
        policy: 'deferred', guest: 'coh-deferred', args: cpus === 2 ? ['munmap', '60', '1'] : ['munmap', '24', '2'], cpus,
        inject: { [point]: 3000 }, poison: true, timeoutMs: 60_000,
      });
      expect(r.injectHits[point]).toBeGreaterThan(0);
      expect(r.stats.shootdowns.deferred).toBeGreaterThan(0); // the munmaps were parked, not synchronous
      expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked, stdout: r.stdout })
        .toEqual({ status: 0, violations: 0, leaked: 0, stdout: expect.stringMatching(/^coh-deferred: OK/m) });
    }, 90_000);
  }
});

describe('deferred: changes of a still-mapped range are synchronous (bug 4)', () => {
  for (const mode of ['mprotect', 'dontneed', 'dontunmap', 'ftruncate']) {
    it(`${mode} vs workers on 4 harts: complete when the call returns, nothing parked`, async () => {
      const r = await runGuest({ policy: 'deferred', guest: 'coh-deferred', args: [mode, '8', '3'], cpus: 4, poison: true });
      expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked, stdout: r.stdout })
        .toEqual({ status: 0, violations: 0, leaked: 0, stdout: expect.stringMatching(/^coh-deferred: OK/m) });
      // Parked: nothing but dontunmap's munmap of the moved copy (one per round; private memory).
      expect(r.stats.shootdowns.deferred).toBeLessThanOrEqual(mode === 'dontunmap' ? 8 : 0);
      expect(r.stats.shootdowns.deferredSync).toBeGreaterThan(0);
    }, 90_000);
  }
});
