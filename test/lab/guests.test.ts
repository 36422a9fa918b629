/**
 * The coherence lab's expected outcomes (issue 7) on the REAL bundled guests, 4 harts, the
 * sanitizer on: guests/bin/tlbrace (3 readers racing a writer that unmaps/remaps 4 pages) and
 * guests/bin/mix (a smaller tlbrace + mmap/munmap/mprotect churn + fork/COW children; seeded).
 *
 *   ipi, per-page        zero sanitizer reports, the guest's own check passes, frames balance;
 *   deferred             zero sanitizer reports, frames balance — but see the KNOWN GAP below;
 *   off                  sanitizer reports on every run;
 *   lazy                 reports when threads of one process run on several harts (tlbrace),
 *                        none for single-threaded guests (compute, heap);
 *   agreement            whenever the guest's own check fails, the sanitizer has reported.
 *
 * Reliability of the unsafe outcomes: with 4 harts on 2 cores, tlbrace's writer waits until
 * every reader has read since the last generation, so each reader holds a TLB entry for A when
 * A is replaced; under `off`/`lazy` the first read after the change goes through that entry
 * (50 iterations give hundreds of reports; a run with 0 would need every reader to have been
 * switched out and back with a flush at each of 50 generations).
 * Heavier soaks (every policy × guest × seed): test/stress/lab-soak.test.ts (`npm run stress`).
 */
import { describe, expect, it } from 'vitest';
import { runGuest, type GuestRun, type GuestRunOptions } from './guest-runs.ts';

const TLBRACE = ['3', '50', '4'];
const mixArgs = (seed: number): string[] => [String(seed), '1'];

/** Run and check the agreement every run must show (the guest's failure implies a report). */
async function run(o: GuestRunOptions): Promise<GuestRun> {
  const r = await runGuest(o);
  if (r.guestFailed) expect(r.stats.sanitizer.violations, `${o.guest} under ${o.policy} failed its own check unreported`).toBeGreaterThan(0);
  return r;
}

/** A safe outcome: exit 0 with the guest's OK line, no report, frames balanced. */
function expectSafe(r: GuestRun, okLine: RegExp): void {
  expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked }).toEqual({ status: 0, violations: 0, leaked: 0 });
  expect(r.stdout).toMatch(okLine);
}

describe('safe policies on the bundled guests (4 harts)', () => {
  it('ipi: tlbrace twice, no report, every read legal', async () => {
    for (let k = 0; k < 2; k++) expectSafe(await run({ policy: 'ipi', guest: 'tlbrace', args: TLBRACE }), /^tlbrace: OK iterations=50$/m);
  }, 40_000);

  it('ipi: mix seeds 1 and 2, no report, mix: OK', async () => {
    for (const seed of [1, 2]) {
      const r = await run({ policy: 'ipi', guest: 'mix', args: mixArgs(seed) });
      expectSafe(r, /^mix: OK$/m);
      expect(r.stats.shootdowns.initiated).toBeGreaterThan(0);
    }
  }, 40_000);

  it('per-page: tlbrace, no report, every read legal; more interrupts per shootdown than pages changed', async () => {
    const r = await run({ policy: 'per-page', guest: 'tlbrace', args: ['3', '20', '4'] });
    expectSafe(r, /^tlbrace: OK iterations=20$/m);
    expect(r.stats.shootdowns.perPageMessages).toBeGreaterThan(0);
  }, 40_000);

  it('deferred: tlbrace and mix seed 1, no report (frames are parked, never reused early), frames balance', async () => {
    for (const o of [{ guest: 'tlbrace', args: TLBRACE }, { guest: 'mix', args: mixArgs(1) }]) {
      const r = await runGuest({ policy: 'deferred', ...o });
      expect({ violations: r.stats.sanitizer.violations, leaked: r.leaked, parked: r.stats.frames.parked }).toEqual({ violations: 0, leaked: 0, parked: 0 });
      expect(r.stats.frames.parkedTotal).toBeGreaterThan(0);
    }
  }, 40_000);

  // KNOWN GAP (reported): munmap under `deferred` returns before the other harts flush (LATR's
  // window), and tlbrace maps the same va again at once (MAP_FIXED); a reader whose entry
  // still points at the old, parked frame reads the previous generation after the new one was
  // published — the guest's check fails ("stale reads"), and the sanitizer, which counts a
  // deferred change complete only when its frames are released, reports nothing. LATR avoids
  // this by not reusing an unmapped va range before its lazy shootdown completed; the mmap path
  // does not do that yet. When it does, this test fails: make it a plain `it`.
  it.fails('deferred: tlbrace\'s own check passes (KNOWN GAP: va reused inside the deferral window)', async () => {
    const r = await runGuest({ policy: 'deferred', guest: 'tlbrace', args: TLBRACE });
    expect(r.guestFailed).toBe(false);
  }, 40_000);
});

describe('unsafe policies on the bundled guests (4 harts)', () => {
  it('off: the sanitizer reports on every run (tlbrace twice, mix seeds 1 and 2)', async () => {
    const runs = [
      await run({ policy: 'off', guest: 'tlbrace', args: TLBRACE }), await run({ policy: 'off', guest: 'tlbrace', args: TLBRACE }),
      await run({ policy: 'off', guest: 'mix', args: mixArgs(1), timeoutMs: 30_000 }),
      await run({ policy: 'off', guest: 'mix', args: mixArgs(2), timeoutMs: 30_000 }),
    ];
    for (const r of runs) {
      expect(r.stats.sanitizer.violations).toBeGreaterThan(0);
      expect(r.stats.sanitizer.reports[0]).toMatchObject({ policy: 'off' });
      expect(r.stats.interrupts.sent).toBe(0);
    }
    // the agreement check in run() is not vacuous: the guest's own check caught it at least once
    expect(runs.some((r) => r.guestFailed)).toBe(true);
  }, 60_000);

  it('lazy: tlbrace (threads of one process on several harts at once) is reported', async () => {
    const r = await run({ policy: 'lazy', guest: 'tlbrace', args: TLBRACE });
    expect(r.stats.sanitizer.violations).toBeGreaterThan(0);
    expect(r.stats.interrupts.sent).toBe(0);
    expect(r.leaked).toBe(0);
  }, 40_000);

  it('lazy: single-threaded guests (compute, heap) are safe: no report, exit 0', async () => {
    expectSafe(await run({ policy: 'lazy', guest: 'compute', args: ['200000'] }), /^compute: OK$/m);
    expectSafe(await run({ policy: 'lazy', guest: 'heap', args: [] }), /^heap: OK$/m);
  }, 40_000);
});
