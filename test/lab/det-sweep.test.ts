// Issue 15: in deterministic mode the safe policies keep the sanitizer silent and leak no
// frame, seed after seed, on one machine reset between seeds (test/lab/det-sweep.ts). This is
// the npm-test slice; `npm run stress` runs 1,000 seeds of each guest
// (test/stress/det-sweep-soak.test.ts). Deterministic: each seed is the same run every time.
import { describe, expect, it } from 'vitest';
import { detSweep } from './det-sweep.ts';

describe('deterministic safety sweep (slice)', () => {
  it('tlbrace 3 10 4 on 4 harts: seeds 1-20, the safe policies in turn: 0 reports, 0 leaked frames', async () => {
    const r = await detSweep('tlbrace', ['3', '10', '4'], 4, 1, 20);
    expect(r.bad).toEqual([]);
  }, 600_000);

  it('mix 1 1 on 2 harts: seeds 1-5, the safe policies in turn: 0 reports, 0 leaked frames', async () => {
    const r = await detSweep('mix', ['1', '1'], 2, 1, 5);
    expect(r.bad).toEqual([]);
  }, 600_000);
});
