/**
 * The coherence conformance suite (issue 12): guests of our own, each racing one kernel
 * operation against other harts, run under every policy on 2 and 4 harts.
 *
 * A conformance guest (guests/coh-*.c, built into guests/bin/) prints `<name>: OK` and exits 0
 * when every value it observed is one a correct kernel allows; it prints `<name>: FAIL ...`
 * and exits 1 when it saw stale data, a lost update or a write that landed after the operation
 * returned. Expected outcomes (test/lab/conformance.test.ts, soak: test/stress/conformance-soak.test.ts):
 *   - safe policies (ipi, per-page, deferred): exit 0, 0 sanitizer reports, frames balanced;
 *   - unsafe policies (lazy, off): whenever the guest's own check fails, the sanitizer reported.
 * `inject` widens the guest's race window (kernel/lab/inject.ts) so the race is hit on every
 * run, not once in a while: each case must fail under the bug it guards against.
 */
import type { InjectConfig } from '../../kernel/lab/inject.ts';

export interface ConformanceCase {
  /** Bundled guest name (guests/bin/<guest>). */
  guest: string;
  /** What it races (one line, for test names). */
  what: string;
  /** Arguments for npm test (short) and for npm run stress (long). */
  args: string[];
  stressArgs: string[];
  /** Fault-injection delays that widen this case's window. */
  inject?: InjectConfig;
}

/** Every case; each issue-12 fix adds the guest that failed before it. */
export const CONFORMANCE: ConformanceCase[] = [
  {
    guest: 'coh-exec',
    what: 'exec in forked children (the exec\'d program races a remapping writer) vs slot reuse by other processes',
    args: ['1', '2', '0', '10', '0'],
    stressArgs: ['4', '2', '1', '30', '0'],
  },
  {
    guest: 'coh-aba',
    what: 'ABA frame reuse: a stored-to MAP_SHARED file page unmapped and mapped again at the same va (frame freed and reused) vs a store thread',
    args: ['10'],
    stressArgs: ['200'],
  },
  {
    guest: 'coh-aba',
    what: 'ABA frame reuse: the same page-cache frame mapped again under a clean PTE (--keep-open) vs a store thread',
    args: ['--keep-open', '10'],
    stressArgs: ['--keep-open', '200'],
  },
];

export const SAFE_POLICIES = ['ipi', 'per-page', 'deferred'] as const;
export const UNSAFE_POLICIES = ['lazy', 'off'] as const;
