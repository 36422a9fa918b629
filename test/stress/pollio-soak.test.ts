/**
 * Soak of the multi-fd waits, fd passing and futex operations (npm run stress): pollio's lost
 * wake-up race (200 single wake-ups, several seeds of window width) with the poll.before-park
 * window widened, and pollio, fdpass and futexops at their stress arguments, on 2 and 4 harts
 * under every safe policy; the sanitizer on, no leaked frame.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../lab/guest-runs.ts';

const SAFE = ['ipi', 'per-page', 'deferred'] as const;

describe('pollio race soak', () => {
  for (const us of [500, 2000, 5000]) {
    it(`200 single wake-ups, a ${us} µs window before every park (4 harts)`, async () => {
      const r = await runGuest({ policy: 'ipi', guest: 'pollio', args: ['race', '200'], cpus: 4, inject: { 'poll.before-park': us }, timeoutMs: 120_000 });
      expect(r.stdout).toBe('pollio: race: 200 single wake-ups, none lost\npollio: OK\n');
      expect(r.leaked).toBe(0);
    }, 180_000);
  }
});

describe('pollio, fdpass, futexops under the safe policies', () => {
  for (const policy of SAFE) {
    for (const cpus of [2, 4]) {
      for (const [guest, args] of [['pollio', ['60']], ['fdpass', []], ['futexops', ['100']]] as const) {
        it(`${guest} ${args.join(' ')} — ${policy}, ${cpus} harts`, async () => {
          const r = await runGuest({ policy, guest, args: [...args], cpus, timeoutMs: 120_000 });
          expect(r.guestFailed, r.stdout).toBe(false);
          expect(r.stdout.trimEnd().endsWith(`${guest}: OK`)).toBe(true);
          expect(r.stats.sanitizer.violations).toBe(0);
          expect(r.leaked).toBe(0);
        }, 180_000);
      }
    }
  }
});
