/**
 * A wait ends with EINTR only for a signal. A signal's sender finds the target thread blocked
 * (kernel/signal/send.ts wakeForSignal) and interrupts its wait without the signal lock;
 * before the fix, when the thread had meanwhile woken, taken that signal and blocked again,
 * the sender ended the new wait: EINTR with no signal (1–2 reads per run of sigwake on 4
 * harts without any delay). The injection point signal.before-interrupt holds the sender
 * 1 ms between the two, so every run hits the window; the fix asks, under the wait queue's
 * lock, whether a signal is still there for the thread. Before the fix each run below failed
 * ("N of M reads ended with EINTR and no signal").
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../lab/guest-runs.ts';

describe('no EINTR without a signal', () => {
  for (const cpus of [2, 4]) {
    it(`sigwake on ${cpus} harts with signal.before-interrupt 1 ms: every EINTR came with a signal`, async () => {
      const r = await runGuest({
        policy: 'ipi', guest: 'sigwake', args: ['150'], cpus, inject: { 'signal.before-interrupt': 1000 }, timeoutMs: 90_000,
      });
      expect(r.stdout).toBe('sigwake: every EINTR came with a signal\nsigwake: OK\n');
      expect(r.status).toBe(0);
      expect(r.injectHits['signal.before-interrupt']).toBeGreaterThan(10);
      expect(r.leaked).toBe(0);
    }, 120_000);
  }
});
