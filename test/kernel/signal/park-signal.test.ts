/**
 * A signal sent while a thread is between its blocking syscall's last look and its park must
 * still end the wait. Before the fix the sender found the thread running (it only kicked its
 * hart), the thread parked with the signal pending, and a second signal of the same number was
 * not queued again, so nothing woke it: fscalls' F_SETLKW went on waiting through 20,000
 * SIGUSR1s (2 of 60 runs under load, and every run here). The injection point
 * sched.before-park (scheduler/hart-loop.ts block) widens that window to 3 ms, so the parent's
 * signal, sent every millisecond, lands in it; kernel/signal/send.ts signalsAfterPark looks at
 * the pending signals again once the thread is parked.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../lab/guest-runs.ts';

describe('a signal between the check and the park', () => {
  for (let run = 1; run <= 3; run++) {
    it(`interrupts F_SETLKW (fscalls locks, 2 harts, sched.before-park 3 ms), run ${run}`, async () => {
      const r = await runGuest({
        policy: 'ipi', guest: 'fscalls', args: ['locks'], cpus: 2, inject: { 'sched.before-park': 3000 }, timeoutMs: 90_000,
      });
      expect(r.stdout).toMatch(/^fscalls: locks: .*\nfscalls: OK\n$/);
      expect(r.status).toBe(0);
      expect(r.injectHits['sched.before-park']).toBeGreaterThan(0);
      expect(r.leaked).toBe(0);
    }, 120_000);
  }
});
