/**
 * Issue 12 bug 6: the sanitizer must report an access through a stale TLB entry whose frame is
 * the current one again. coh-aba (guests/coh-aba.c): a store thread's hart caches a MAP_SHARED
 * file page as writable+dirty; main unmaps it and maps the file again at the same address (a
 * clean PTE over the same frame: page-cache reuse with --keep-open, or the frame freed and
 * allocated again — LIFO — without). Under lazy and off the store thread's next store goes
 * through its stale entry, skips the new PTE's D bit, and never reaches the file: the guest sees
 * lost stores. Before the fix the sanitizer compared only frame and permission with the current
 * PTE and stayed silent; now each such store is reported ("frame-reused": the frame was freed
 * since the fill, by its allocation generation; "dirty-bit-skipped": a store through an entry
 * cached writable+dirty whose PTE is clean after a removal).
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from './guest-runs.ts';

describe('sanitizer: ABA frame reuse', () => {
  for (const [mode, args, what] of [
    ['frame freed and reused', ['10'], 'frame-reused'],
    ['page-cache frame kept', ['--keep-open', '10'], 'dirty-bit-skipped'],
  ] as const) {
    for (const policy of ['lazy', 'off'] as const) {
      it(`${mode}, ${policy}, 2 harts: every lost store comes with a '${what}' report`, async () => {
        const r = await runGuest({ policy, guest: 'coh-aba', args: [...args], cpus: 2, timeoutMs: 30_000 });
        // The guest sees the loss (it is there to be reported) ...
        expect(r.stdout).toMatch(/coh-aba: FAIL lost stores: (\d+)/);
        const lost = Number(/lost stores: (\d+)/.exec(r.stdout)![1]);
        // ... and every lost store went through a reported stale entry.
        expect(r.stats.sanitizer.violations).toBeGreaterThanOrEqual(lost);
        expect(r.stats.sanitizer.reports.map((x) => x.what)).toContain(what);
        expect(r.leaked).toBe(0);
      }, 60_000);
    }
  }

  for (const cpus of [2, 4]) {
    it(`ipi on ${cpus} harts: no lost store, no report`, async () => {
      for (const args of [['10'], ['--keep-open', '10']]) {
        const r = await runGuest({ policy: 'ipi', guest: 'coh-aba', args, cpus, timeoutMs: 30_000 });
        expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked }).toEqual({ status: 0, violations: 0, leaked: 0 });
      }
    }, 60_000);
  }
});
