/**
 * A timeout belongs to the wait that set it. A hart's timeout scan (scheduler/block.ts
 * expireTimeouts) reads each blocked thread's deadline without the bucket lock; before the fix
 * it then cancelled whatever wait the thread was in by the time it took the lock — after the
 * thread had been woken (by another hart's scan, or a wake), run, and blocked again, maybe with
 * no deadline at all. The new wait then failed with ETIMEDOUT: a pipe read here, and in a full
 * CI run the litmus runner's posix_spawn (its CLONE_VFORK wait): "posix_spawn /litmus:
 * Connection timed out". The injection point sched.before-expire holds the scan 1 ms between
 * the read and the cancel; the guest timedwake alternates a sleep and a blocking read, so the
 * stale cancel lands on the read. Before the fix every run below failed within 130 rounds.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../lab/guest-runs.ts';

describe('a timeout scan never cancels a later wait', () => {
  for (const cpus of [2, 4]) {
    it(`timedwake on ${cpus} harts with sched.before-expire 1 ms: every blocking read gets its byte`, async () => {
      const r = await runGuest({
        policy: 'ipi', guest: 'timedwake', args: ['200'], cpus, inject: { 'sched.before-expire': 1000 }, timeoutMs: 90_000,
      });
      expect(r.stdout).toBe('timedwake: 200 sleeps and 200 blocking reads, every read got its byte\ntimedwake: OK\n');
      expect(r.status).toBe(0);
      expect(r.injectHits['sched.before-expire']).toBeGreaterThan(10);
      expect(r.leaked).toBe(0);
    }, 120_000);
  }
});
