/**
 * The sanitizer's dirty-after-clean check (issue 12, the msync gap), on synthetic sequences: a
 * real TLB (cpu/tlb.ts) over real Sv48 tables in RAM, the real SanitizerObserver, and the kernel's
 * own calls for a clean — frameCleanBegin before the D clear, the change's seq after it,
 * recordCompletion and frameCleanEnd once it is invalidated — with the shootdown (a flush of the
 * page) done or, for the stale cases, skipped as `lazy`/`off` skip it on a remote hart.
 *
 * Stale: an entry cached writable+dirty before a completed clean; a store through it skips the
 * clean PTE's D bit (the write-back misses it) → one 'dirty-after-clean' report. Legal: after
 * the clean the entry is flushed, the next store walks (setting D) → no report; and an entry
 * walked after a clean's D clear but before its seq (it dirtied the PTE itself) is not reported
 * while a later clean is still in flight — only once that clean completed without flushing it.
 * Then the whole machine: coh-writeback's mode `a` (stores after msync returned) loses stores
 * under lazy and off, each run with a dirty-after-clean report; none under ipi.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { HART_COUNTER_SLOTS } from '../../cpu/counters.ts';
import { PTE_A, PTE_D, PTE_R, PTE_U, PTE_W, PTE_X, pteFlags, pteToPpn, vaLoHi } from '../../cpu/pte.ts';
import { PhysicalMemory } from '../../cpu/ram.ts';
import { ACCESS_LOAD, ACCESS_STORE, type AccessKind } from '../../cpu/trap.ts';
import { Tlb } from '../../cpu/tlb.ts';
import { createCtl, type Ctl } from '../../kernel/layout.ts';
import { CHANGE_PROTECT, SAN_REPORT } from '../../kernel/lab/layout.ts';
import { beginChange, readReports, recordCompletion, SanitizerObserver, setSanitizerMode } from '../../kernel/lab/sanitizer.ts';
import { frameCleanBegin, frameCleanEnd } from '../../kernel/mm/frames.ts';
import { PageTableBuilder } from '../helpers/pagetable.ts';
import { runGuest } from './guest-runs.ts';

const MiB = 2 ** 20;
const VA = 0x40_0000;
const VPN = VA / 4096;
const DATA = 8 * MiB; // the page's frame
const PPN = DATA / 4096;
const AS_SLOT = 3;

let ctl: Ctl;
let ram: PhysicalMemory;
let pt: PageTableBuilder;
let ptePa: number;
let tlb: Tlb;

beforeEach(() => {
  ctl = createCtl({ cpus: 1, frames: 4096 });
  setSanitizerMode(ctl, SAN_REPORT);
  ram = PhysicalMemory.create(16 * MiB);
  pt = new PageTableBuilder(ram, 1, 256);
  ptePa = pt.map(VA, DATA, PTE_U | PTE_R | PTE_W | PTE_A | PTE_D); // a dirty shared-file page
  tlb = new Tlb(ram, new Float64Array(HART_COUNTER_SLOTS));
  tlb.setSatp(...pt.satp(1));
  // The kernel's leaf reader, for the one page mapped here.
  const readLeaf = (_root: number, vpn: number) => {
    if (vpn !== VPN) return null;
    const pte = pt.readPte(ptePa);
    return { ppn: pteToPpn(pte), flags: pteFlags(pte) & (PTE_R | PTE_W | PTE_X | PTE_D) };
  };
  const obs = new SanitizerObserver(ctl, 0, 'test', readLeaf, () => null);
  obs.setSpace(AS_SLOT, pt.rootPpn, 7, 8);
  tlb.setObserver(obs);
});

function access(kind: AccessKind): number {
  const [lo, hi] = vaLoHi(VA + 8);
  return tlb.translate(lo, hi, kind);
}
function dirty(): boolean {
  return (pteFlags(pt.readPte(ptePa)) & PTE_D) !== 0;
}

/** msync's clean of the page, as kernel/mm/pagetable.ts cleanRange does it: begin, clear D. Returns the change's seq. */
function beginClean(): number {
  frameCleanBegin(ctl, PPN);
  pt.writePte(ptePa, pt.readPte(ptePa) & ~BigInt(PTE_D));
  return beginChange(ctl); // the seq is taken after the PTE edit (scheduler/policy-select.ts)
}
/** The clean is complete: (flushed, unless `skipFlush`: lazy/off on a remote hart) recorded, ended. */
function completeClean(seq: number, skipFlush = false): void {
  if (!skipFlush) tlb.flushPage(...vaLoHi(VA), 1);
  recordCompletion(ctl, 1, AS_SLOT, VPN, 1, CHANGE_PROTECT, seq);
  frameCleanEnd(ctl, PPN); // kernel/mm/shootdown.ts releaseFrames, before the write-back
}
function reports(): { what: string; access: string; va: number; staleFrame: number; tid: number }[] {
  return readReports(ctl, 'test').reports.map((r) => ({ what: r.what, access: r.access, va: r.va, staleFrame: r.staleFrame, tid: r.tid }));
}

describe('sanitizer: dirty-after-clean (stores after msync through a stale writable+dirty entry)', () => {
  it('stale: fill writable+dirty, clean + complete without flushing it, store through it → reported', () => {
    expect(access(ACCESS_STORE)).toBe(DATA + 8);
    expect(tlb.lastWritable).toBe(true); // cached W (the PTE was dirty)
    completeClean(beginClean(), true);
    expect(access(ACCESS_LOAD)).toBe(DATA + 8); // a load reaches the right frame: not decided
    expect(reports()).toEqual([]);
    expect(access(ACCESS_STORE)).toBe(DATA + 8); // the stale hit: D is skipped
    expect(dirty()).toBe(false); // ... the write-back after this msync would miss the store
    expect(reports()).toEqual([{ what: 'dirty-after-clean', access: 'store', va: VA + 8, staleFrame: PPN, tid: 8 }]);
    expect(access(ACCESS_STORE)).toBe(DATA + 8);
    expect(reports()).toHaveLength(1); // once per change it violates
  });

  it('legal: clean, flush, complete; the next store walks again and sets D → no report', () => {
    expect(access(ACCESS_STORE)).toBe(DATA + 8);
    completeClean(beginClean());
    expect(dirty()).toBe(false);
    expect(access(ACCESS_LOAD)).toBe(DATA + 8); // a fresh walk: cached read-only (D clear)
    expect(access(ACCESS_STORE)).toBe(DATA + 8); // walks again, sets D
    expect(dirty()).toBe(true);
    expect(access(ACCESS_STORE)).toBe(DATA + 8);
    expect(reports()).toEqual([]);
  });

  it('a walk between a clean\'s D clear and its seq, then a later clean in flight: no report until that one completed unflushed', () => {
    expect(access(ACCESS_STORE)).toBe(DATA + 8);
    tlb.flushPage(...vaLoHi(VA), 1); // this hart caught up early (e.g. at switch-in) ...
    frameCleanBegin(ctl, PPN);
    pt.writePte(ptePa, pt.readPte(ptePa) & ~BigInt(PTE_D));
    expect(access(ACCESS_STORE)).toBe(DATA + 8); // ... and walked the clean PTE: sets D itself (legal)
    expect(dirty()).toBe(true);
    const seq1 = beginChange(ctl); // its stamp is below seq1: the entry is examined at its next hit
    completeClean(seq1, true); // already flushed here, before the walk
    const seq2 = beginClean(); // a second msync: D cleared, not yet invalidated
    expect(access(ACCESS_STORE)).toBe(DATA + 8); // legal: the second clean is in flight
    expect(reports()).toEqual([]);
    completeClean(seq2, true); // complete without flushing this hart (lazy/off)
    expect(access(ACCESS_STORE)).toBe(DATA + 8);
    expect(reports().map((r) => r.what)).toEqual(['dirty-after-clean']);
  });

  it('the same, flushed by the second clean (a safe policy): no report ever', () => {
    expect(access(ACCESS_STORE)).toBe(DATA + 8);
    tlb.flushPage(...vaLoHi(VA), 1);
    frameCleanBegin(ctl, PPN);
    pt.writePte(ptePa, pt.readPte(ptePa) & ~BigInt(PTE_D));
    expect(access(ACCESS_STORE)).toBe(DATA + 8);
    completeClean(beginChange(ctl), true);
    const seq2 = beginClean();
    expect(access(ACCESS_STORE)).toBe(DATA + 8);
    completeClean(seq2);
    expect(access(ACCESS_STORE)).toBe(DATA + 8);
    expect(access(ACCESS_LOAD)).toBe(DATA + 8);
    expect(reports()).toEqual([]);
  });
});

describe('sanitizer: dirty-after-clean on a guest (coh-writeback a: stores after msync returned)', () => {
  const args = ['1', '1', '2000', 'a'];
  for (const policy of ['lazy', 'off'] as const) {
    it(`${policy}, 2 harts: the guest loses the stores made after msync, and they are reported`, async () => {
      const r = await runGuest({ policy, guest: 'coh-writeback', args, cpus: 2, timeoutMs: 60_000 });
      // Lost: the stores after msync returned, or (when the writer's stale entry is used while
      // msync writes back, before it returns) already one made before it returned.
      expect(r.stdout).toMatch(/FAIL lost store: round 1 msync, then stores, writer 0: the file holds \S+, (the last completed store was|but \S+ was stored before msync, then stores returned)/);
      expect(r.stats.sanitizer.reports.map((x) => `${x.what} ${x.access}`)).toContain('dirty-after-clean store');
      expect(r.leaked).toBe(0);
    }, 90_000);
  }
  it('ipi, 2 harts: every store in the file, no report', async () => {
    const r = await runGuest({ policy: 'ipi', guest: 'coh-writeback', args, cpus: 2, timeoutMs: 60_000 });
    expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked }).toEqual({ status: 0, violations: 0, leaked: 0 });
  }, 90_000);
});
