/**
 * The `broadcast` policy and the broadcast TLB invalidation hardware (issue 16;
 * scheduler/policy-broadcast.ts, cpu/tlb-broadcast.ts), on guests/bin/tlbrace (3 readers racing
 * a writer that unmaps and remaps 4 pages) with real worker-thread harts and the sanitizer on:
 *   - with the hardware and tlbsync: correct, no report, frames balanced; the process gets a
 *     global ASID and its flushes are broadcasts — the only interrupts are the ipi fallback
 *     before the global ASID and the move of each hart to it (at most one per other hart);
 *   - without tlbsync (the LH_TLBSYNC_SKIP lab knob): frames are freed while other harts still
 *     hold the translation — the sanitizer reports and the guest sees stale data;
 *   - below the global-ASID threshold: every flush falls back to ipi (per-hart ASIDs).
 * The coherence conformance suite runs `broadcast` as a safe policy (test/lab/conformance.ts).
 */
import { describe, expect, it } from 'vitest';
import { bootScheduled } from '../../scheduler/api.ts';
import { runGuest } from './guest-runs.ts';

const TLBRACE = ['3', '50', '4'];

describe('broadcast policy', () => {
  it('tlbrace on 4 harts: correct, no report; a global ASID, flushes by broadcast, no interrupt after the move to it', async () => {
    const r = await runGuest({ policy: 'broadcast', guest: 'tlbrace', args: TLBRACE, cpus: 4 });
    expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked, stdout: r.stdout })
      .toEqual({ status: 0, violations: 0, leaked: 0, stdout: expect.stringMatching(/^tlbrace: OK iterations=50$/m) });
    const b = r.stats.broadcast;
    expect(b.globalAsids).toBeGreaterThanOrEqual(1);
    expect(b.issued).toBeGreaterThanOrEqual(50); // the writer's 50 unmap/remap rounds, at least
    expect(b.pages + b.asids).toBeGreaterThanOrEqual(b.issued);
    expect(b.applied).toBeGreaterThan(0); // the other harts' hardware applied them
    // Interrupts: the ipi fallback (at most 3 targets per change before the global ASID) and
    // the move of each other hart to the global ASID (once per hart for this one process; two
    // changes in flight at that moment may both interrupt it).
    expect(b.transitionIpis).toBeLessThanOrEqual(6);
    expect(r.stats.interrupts.sent).toBeLessThanOrEqual(3 * b.fallback + b.transitionIpis);
    expect(r.stats.interrupts.sent).toBeLessThan(b.issued);
  }, 120_000);

  it('without tlbsync (lab knob) the sanitizer reports stale accesses and the guest sees stale data', async () => {
    const r = await runGuest({ policy: 'broadcast', guest: 'tlbrace', args: TLBRACE, cpus: 4, tlbsyncSkip: true });
    expect(r.stats.broadcast.issued).toBeGreaterThan(0);
    expect(r.stats.broadcast.tlbsyncWaits).toBe(0);
    expect(r.stats.sanitizer.violations, r.stdout).toBeGreaterThan(0);
    expect(r.guestFailed, r.stdout).toBe(true);
  }, 120_000);

  it('below the global-ASID threshold every flush is an ipi shootdown (fallback): no broadcast, no report', async () => {
    const r = await runGuest({ policy: 'broadcast', guest: 'tlbrace', args: TLBRACE, cpus: 4, globalAsidMinHarts: 64 });
    expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked }).toEqual({ status: 0, violations: 0, leaked: 0 });
    expect(r.stats.broadcast.issued).toBe(0);
    expect(r.stats.broadcast.globalAsids).toBe(0);
    expect(r.stats.broadcast.fallback).toBeGreaterThanOrEqual(50);
    expect(r.stats.interrupts.sent).toBeGreaterThan(0);
  }, 120_000);

  it('refuses the broadcast policy on a machine without the hardware, and a bad threshold', async () => {
    await expect(bootScheduled({ cpus: 2, policy: 'broadcast', tlbBroadcast: false })).rejects.toThrow(/needs the broadcast hardware/);
    await expect(bootScheduled({ cpus: 2, policy: 'broadcast', globalAsidMinHarts: 0 })).rejects.toThrow(/globalAsidMinHarts 0/);
  });
});
