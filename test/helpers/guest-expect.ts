/**
 * The check every "guest passes" test makes of a runGuest result (test/lab/guest-runs.ts).
 */
import { expect } from 'vitest';
import type { GuestRun } from '../lab/guest-runs.ts';

/**
 * Assert that `r` printed exactly `stdout` (a string) or matched it (a RegExp), exited 0, drew no
 * sanitizer report and leaked no frame; each failure names what differed.
 */
export function expectCleanRun(r: GuestRun, stdout: string | RegExp): void {
  if (typeof stdout === 'string') expect(r.stdout).toBe(stdout);
  else expect(r.stdout).toMatch(stdout);
  expect(r.status, 'exit status').toBe(0);
  expect(r.stats.sanitizer.violations, 'sanitizer reports').toBe(0);
  expect(r.leaked, 'leaked frames').toBe(0);
}
