/**
 * Deterministic safety sweep, the long version (`npm run stress`; issue 15): 1,000 seeds of
 * tlbrace and of mix on one machine each (reset between seeds), the safe policies in turn:
 * every seed passes with 0 sanitizer reports and 0 leaked frames. The slice in npm test is
 * test/lab/det-sweep.test.ts. How long it takes is in docs/deterministic.md ("Safety sweep"):
 * about 15 min for tlbrace and 70-100 min for mix on the loaded 2-core development host.
 */
import { describe, expect, it } from 'vitest';
import { detSweep } from '../lab/det-sweep.ts';

const SEEDS = 1000;

describe.skipIf(!process.env.COHERENT_STRESS)('deterministic safety sweep (1,000 seeds)', () => {
  it(`tlbrace 3 10 4 on 4 harts: ${SEEDS} seeds`, async () => {
    const r = await detSweep('tlbrace', ['3', '10', '4'], 4, 1, SEEDS);
    console.log(`det sweep: tlbrace ${r.seeds} seeds in ${r.seconds.toFixed(0)} s`);
    expect(r.bad).toEqual([]);
  }, 4 * 3600_000);

  it(`mix 1 1 on 2 harts: ${SEEDS} seeds`, async () => {
    const r = await detSweep('mix', ['1', '1'], 2, 1, SEEDS);
    console.log(`det sweep: mix ${r.seeds} seeds in ${r.seconds.toFixed(0)} s`);
    expect(r.bad).toEqual([]);
  }, 8 * 3600_000);
});
