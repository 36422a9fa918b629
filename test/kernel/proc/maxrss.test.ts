// getrusage's ru_maxrss (kernel/proc/sys-rusage.ts) is the peak resident set, kept in O(1) per
// address space (kernel/mm/aspace.ts addResident, AS_RSS / AS_RSS_HWM) and per process for
// spaces it left (P_MAXRSS) and children it reaped (P_CMAXRSS). The maxrss guest touches and
// unmaps pages and reads it (its own, a fork child's, wait4's, RUSAGE_CHILDREN's); before the
// high-water mark it read the resident set now and failed at its first check.
import { describe, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { runGuest } from '../../lab/guest-runs.ts';
import { expectCleanRun } from '../../helpers/guest-expect.ts';

const manifest = JSON.parse(readFileSync(new URL('../../../guests/manifest.json', import.meta.url), 'utf8')) as {
  guests: Array<{ name: string; stdout: string }>;
};
const expected = manifest.guests.find((g) => g.name === 'maxrss')!.stdout;

describe('ru_maxrss is a high-water mark', () => {
  it('maxrss on 2 harts: unmapped pages still counted; a fork child counted in its own, wait4\'s and RUSAGE_CHILDREN\'s, not the parent\'s', async () => {
    const r = await runGuest({ policy: 'ipi', guest: 'maxrss', args: [], cpus: 2 });
    expectCleanRun(r, expected);
  }, 120_000);
});
