/**
 * Time slices count instructions across traps: a thread that traps all the time (here a fault
 * storm — it keeps reading an area another thread has unmapped, catching each SIGSEGV) is still
 * preempted in favour of the threads queued on its hart. Before, each trap started a fresh
 * quantum, the faulting thread was never preempted, and the thread that would remap the area
 * never ran again on a 1-hart machine: the guest hung.
 */
import { expect, it } from 'vitest';
import { runGuest } from '../lab/guest-runs.ts';

it('a thread that faults every few instructions is preempted: the remapping thread runs (coh-exec --child, 1 hart)', async () => {
  const r = await runGuest({ policy: 'ipi', guest: 'coh-exec', args: ['--child', '1', '10', '0'], cpus: 1, timeoutMs: 20_000 });
  expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked }).toEqual({ status: 0, violations: 0, leaked: 0 });
}, 40_000);
