// Issue 13 item 2: truncation's walk over every address space (kernel/mm/file-unmap.ts) races
// fork and exit. guests/truncrace forks and reaps short-lived children that map a MAP_SHARED
// file while a truncator shrinks and regrows it; the injection points truncate.before-lock and
// truncate.locked hold the walk between picking a space and locking it, and inside the lock, so
// spaces die and slots are re-created meanwhile. Before the walk held a reference on each space
// it locks, every 4-hart run halted ("RwLock.writeUnlock: no writer holds the lock": the slot's
// lock was re-initialized under the locker). On 1 hart the kernel is not preempted, so the
// window cannot open there; the run must pass all the same.
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../lab/guest-runs.ts';
import { expectCleanRun } from '../../helpers/guest-expect.ts';

const INJECT = { 'truncate.before-lock': 3000, 'truncate.locked': 3000 } as const;

describe('ftruncate of a MAP_SHARED file racing fork/exit', () => {
  for (const cpus of [1, 4]) {
    it(`truncrace on ${cpus} hart(s) with the walk's window widened: no halt, no wedge, every child exits 0`, async () => {
      const r = await runGuest({ policy: 'ipi', guest: 'truncrace', args: ['120', '120'], cpus, inject: INJECT, timeoutMs: 60_000 });
      expectCleanRun(r, 'truncrace: 120 children forked and exited during 120 truncation pairs\ntruncrace: OK\n');
      expect(r.injectHits['truncate.locked']).toBeGreaterThan(0);
    }, 90_000);
  }
});
