/**
 * The coherence conformance suite (issue 12): guests of our own, each racing one kernel
 * operation against other harts, run under every policy on 2 and 4 harts.
 *
 * A conformance guest (guests/coh-*.c, built into guests/bin/) prints `<name>: OK` and exits 0
 * when every value it observed is one a correct kernel allows; it prints `<name>: FAIL ...`
 * and exits 1 when it saw stale data, a lost update or a write that landed after the operation
 * returned. Expected outcomes (test/lab/conformance.test.ts, soak: test/stress/conformance-soak.test.ts):
 *   - safe policies (ipi, per-page, deferred, broadcast, and ipi with all its options, ipi:all):
 *     exit 0, 0 sanitizer reports, frames balanced;
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
  // guests/coh-deferred.c (issue 12, bugs 3 and 4): each check is an access made after the
  // operation returned (happens-before through the guest's `phase` word).
  { guest: 'coh-deferred', what: 'mprotect(PROT_NONE) vs writers', args: ['mprotect', '6', '3'], stressArgs: ['mprotect', '200', '3'] },
  { guest: 'coh-deferred', what: 'madvise(DONTNEED) vs readers and writers', args: ['dontneed', '6', '3'], stressArgs: ['dontneed', '200', '3'] },
  { guest: 'coh-deferred', what: 'mremap(MREMAP_DONTUNMAP) vs readers and writers', args: ['dontunmap', '6', '3'], stressArgs: ['dontunmap', '200', '3'] },
  { guest: 'coh-deferred', what: 'ftruncate of a mapped file vs readers', args: ['ftruncate', '6', '3'], stressArgs: ['ftruncate', '200', '3'] },
  {
    guest: 'coh-deferred', what: 'munmap vs readers (no freed frame read; deferred epoch order)', args: ['munmap', '10', '2'],
    stressArgs: ['munmap', '200', '2'], inject: { 'deferred.before-epoch': 1000 },
  },
  {
    guest: 'truncrace',
    what: 'ftruncate of a MAP_SHARED file against fork/exit of its mappers (address-space slots freed and reused under the walk)',
    args: ['30', '30'],
    stressArgs: ['400', '400'],
    inject: { 'truncate.before-lock': 2000, 'truncate.locked': 2000 },
  },
  {
    // issue 12 bug 2: the new PTE was set before the old translation was flushed everywhere.
    guest: 'coh-cow',
    what: 'COW break (fork-shared page written by two threads) vs readers on other harts',
    args: ['16', '3', '2'],
    stressArgs: ['200', '3', '3'],
    inject: { 'cow.after-install': 3000, 'cow.before-install': 1000 },
  },
  {
    // Bug 1: dirty shared-file pages written back before the other harts were flushed lost the
    // stores those harts made through their still-valid entries. The delay sits between the
    // local flush and the remote step: before the fix the write-back had already happened.
    guest: 'coh-writeback',
    what: 'shared-file write-back vs stores on other harts: munmap, madvise(DONTNEED), exit',
    args: ['1', '1', '2000', 'udx'],
    stressArgs: ['6', '1', '2000', 'udx'],
    inject: { 'shootdown.before-remote': 20_000 },
  },
  {
    // Mode a: stores after msync returned must set D again (under lazy/off they go through a
    // stale writable+dirty entry, skip the clean PTE's D bit and are lost — reported as
    // dirty-after-clean, test/lab/sanitizer-clean.test.ts). First, so its writer's entry is
    // fresh (under off a previous round's stale entry is reported as removed before it).
    guest: 'coh-writeback',
    what: 'shared-file write-back vs stores on other harts: msync (during it, and after it returned)',
    args: ['1', '1', '2000', 'as'],
    stressArgs: ['6', '1', '2000', 'as'],
    inject: { 'shootdown.before-remote': 20_000 },
  },
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

export const SAFE_POLICIES = ['ipi', 'per-page', 'deferred', 'broadcast', 'ipi:all'] as const;
/**
 * Variants npm test runs on 4 harts only (the soak, `npm run stress`, runs every variant on 2 and
 * 4): all but plain `ipi`, the default. 4 harts have more stale entries about and exercise every
 * variant's mechanism (ipi:all's early ack, in-context flush and consolidated lines; broadcast's
 * global ASIDs, which need --global-asid-min = 4 harts; deferred's epochs; the unsafe policies'
 * reports); 2 harts keep the default policy's check that fewer harts than threads change nothing.
 * This keeps npm test near 10 minutes on a 2-core host.
 */
export const FOUR_HART_ONLY: readonly string[] = ['per-page', 'deferred', 'broadcast', 'ipi:all', 'lazy', 'off'];
export const UNSAFE_POLICIES = ['lazy', 'off'] as const;

/**
 * Extra boot options of a policy in the suite: `broadcast` gives a global ASID to a space running
 * on 2 harts (instead of Linux's 4), so its broadcast path — not only its ipi fallback — is
 * exercised on 2 harts too, with the move to the global ASID in the middle of every case.
 */
export function policyOptions(policy: string): { globalAsidMinHarts?: number } {
  return policy === 'broadcast' ? { globalAsidMinHarts: 2 } : {};
}
