/**
 * Copy-on-write fork: three and more sharers, fork chains, exits in every order, exact
 * reference counts, shared mappings staying shared, the sole-owner reuse, deep-copy clone,
 * and every frame back at the end (free frames counted before and after, like xv6 usertests).
 */
import { describe, expect, it } from 'vitest';
import { bootTestVm, load, store, PAGE, type Vm } from './harness.ts';
import { mmap, releaseAddressSpace } from '../../../kernel/mm/mmap.ts';
import { cloneFrom, forkAddressSpace } from '../../../kernel/mm/cow.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../kernel/mm/abi.ts';
import { findLeaf, found, isChanging, loPpn } from '../../../kernel/mm/pagetable.ts';
import { handlePageFault, type FaultSignal } from '../../../kernel/mm/fault.ts';
import { ACCESS_LOAD } from '../../../cpu/trap.ts';
import { PTE_COW, PTE_V, PTE_W } from '../../../cpu/pte.ts';
import type { VirtualAddressSpace } from '../../../kernel/mm/aspace.ts';

const fork = (vm: Vm, as: VirtualAddressSpace): VirtualAddressSpace => {
  const c = forkAddressSpace(vm.ctx, as);
  if (typeof c === 'number') throw new Error(`fork: ${c}`);
  return c;
};
const pte = (vm: Vm, as: VirtualAddressSpace, va: number): number => {
  expect(findLeaf(vm.ctx, as.rootPpn, va / PAGE)).toBeGreaterThanOrEqual(0);
  return found.lo;
};
const RW = PROT_READ | PROT_WRITE;

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

describe('copy-on-write fork', () => {
  it('parent + 3 children share each frame with an exact refcount; writes stay private; the last writer reuses', () => {
    const vm = bootTestVm();
    const before = vm.free();
    const p = vm.newSpace();
    const a = mmap(vm.ctx, p, 0, 4 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    for (let k = 0; k < 4; k++) expect(store(vm, p, a + k * PAGE, 10 + k)).toBeNull();
    const ppn0 = loPpn(pte(vm, p, a));
    const kids = [fork(vm, p), fork(vm, p), fork(vm, p)];
    expect(vm.ctx.frames.refcount(ppn0)).toBe(4);
    for (const s of [p, ...kids]) {
      const lo = pte(vm, s, a);
      expect(lo & PTE_W).toBe(0);
      expect(lo & PTE_COW).toBe(PTE_COW);
      expect(loPpn(lo)).toBe(ppn0);
    }
    // each child writes page 0: copies, the shared frame loses one reference each time
    kids.forEach((c, i) => {
      expect(store(vm, c, a, 100 + i)).toBeNull();
      expect(vm.ctx.frames.refcount(ppn0)).toBe(3 - i);
    });
    // the parent is now the sole owner: the write fault reuses the frame
    const reuses = vm.ctx.counters.cowReuses;
    expect(store(vm, p, a, 99)).toBeNull();
    expect(loPpn(pte(vm, p, a))).toBe(ppn0);
    expect(vm.ctx.counters.cowReuses).toBe(reuses + 1);
    expect([p, ...kids].map((s) => load(vm, s, a))).toEqual([99, 100, 101, 102]);
    expect([p, ...kids].map((s) => load(vm, s, a + 3 * PAGE))).toEqual([13, 13, 13, 13]);
    for (const s of [...kids, p]) releaseAddressSpace(vm.ctx, s);
    expect(vm.free()).toBe(before);
  });

  it('fork chains (child, grandchild, great-grandchild) with exits in every order return every frame', () => {
    for (const order of permutations([0, 1, 2, 3])) {
      const vm = bootTestVm(16);
      const before = vm.free();
      const g0 = vm.newSpace();
      const a = mmap(vm.ctx, g0, 0, 3 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
      expect(store(vm, g0, a, 1)).toBeNull();
      expect(store(vm, g0, a + PAGE, 2)).toBeNull();
      const g1 = fork(vm, g0);
      expect(store(vm, g1, a + PAGE, 3)).toBeNull(); // g1's private copy
      const g2 = fork(vm, g1);
      const g3 = fork(vm, g2);
      expect(store(vm, g3, a + 2 * PAGE, 4)).toBeNull(); // demand-zero page of g3 only
      const ppn = loPpn(pte(vm, g0, a));
      expect(vm.ctx.frames.refcount(ppn)).toBe(4);
      expect([g0, g1, g2, g3].map((s) => load(vm, s, a + PAGE))).toEqual([2, 3, 3, 3]);
      expect([g0, g1, g2, g3].map((s) => load(vm, s, a + 2 * PAGE))).toEqual([0, 0, 0, 4]);
      const all = [g0, g1, g2, g3];
      let alive = 4;
      for (const i of order) {
        releaseAddressSpace(vm.ctx, all[i]!);
        alive--;
        for (const j of order.slice(order.indexOf(i) + 1)) expect(load(vm, all[j]!, a)).toBe(1);
        if (alive > 0) expect(vm.ctx.frames.refcount(ppn)).toBe(alive);
      }
      expect(vm.free(), `exit order ${order}`).toBe(before);
    }
  });

  it('shared mappings stay shared across fork; private ones do not leak writes (invariant 4)', () => {
    const vm = bootTestVm();
    const before = vm.free();
    const p = vm.newSpace();
    const sh = mmap(vm.ctx, p, 0, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    const pr = mmap(vm.ctx, p, 0, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(store(vm, p, sh, 5)).toBeNull();
    expect(store(vm, p, pr, 6)).toBeNull();
    const c = fork(vm, p);
    const d = fork(vm, c);
    expect(store(vm, d, sh, 7)).toBeNull();
    expect(store(vm, d, pr, 8)).toBeNull();
    expect([p, c, d].map((s) => load(vm, s, sh))).toEqual([7, 7, 7]);
    expect([p, c, d].map((s) => load(vm, s, pr))).toEqual([6, 6, 8]);
    expect(pte(vm, c, sh) & PTE_W).toBe(PTE_W);
    for (const s of [p, d, c]) releaseAddressSpace(vm.ctx, s);
    expect(vm.free()).toBe(before);
  });

  it('the parent write-protect is a page-table change: its stale TLB entry is flushed before fork returns', () => {
    const vm = bootTestVm();
    const p = vm.newSpace();
    const a = mmap(vm.ctx, p, 0, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(store(vm, p, a, 1)).toBeNull(); // the TLB now caches a writable entry
    const gen = p.generation;
    const c = fork(vm, p);
    expect(p.generation).toBeGreaterThan(gen);
    expect(store(vm, p, a, 2)).toBeNull(); // must fault and copy, not write through the old entry
    expect(load(vm, c, a)).toBe(1);
    releaseAddressSpace(vm.ctx, c);
    releaseAddressSpace(vm.ctx, p);
  });

  it('cloneFrom deep-copies private pages (no sharing) and shares shared ones', () => {
    const vm = bootTestVm();
    const before = vm.free();
    const p = vm.newSpace();
    const a = mmap(vm.ctx, p, 0, 2 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    const sh = mmap(vm.ctx, p, 0, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    expect(store(vm, p, a, 3)).toBeNull();
    expect(store(vm, p, sh, 4)).toBeNull();
    const c = cloneFrom(vm.ctx, p);
    if (typeof c === 'number') throw new Error('clone');
    expect(loPpn(pte(vm, c, a))).not.toBe(loPpn(pte(vm, p, a)));
    expect(pte(vm, c, a) & PTE_W).toBe(PTE_W);
    expect(vm.ctx.frames.refcount(loPpn(pte(vm, p, a)))).toBe(1);
    expect(store(vm, c, a, 9)).toBeNull();
    expect(store(vm, c, sh, 8)).toBeNull();
    expect([load(vm, p, a), load(vm, c, a), load(vm, p, sh)]).toEqual([3, 9, 8]);
    releaseAddressSpace(vm.ctx, p);
    releaseAddressSpace(vm.ctx, c);
    expect(vm.free()).toBe(before);
  });

  it('a COW break is clear → flush → set: during the remote step the PTE is neither valid nor empty, and the old frame is still held', () => {
    const vm = bootTestVm();
    const before = vm.free();
    const p = vm.newSpace();
    const a = mmap(vm.ctx, p, 0, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(store(vm, p, a, 1)).toBeNull();
    const c = fork(vm, p);
    const old = loPpn(pte(vm, p, a));
    const seen: { lo: number; refs: number; synchronous: boolean }[] = [];
    const saved = vm.ctx.policy;
    vm.ctx.policy = {
      name: 'spy',
      invalidate(ctx, stale) {
        expect(findLeaf(ctx, p.rootPpn, a / PAGE)).toBeGreaterThanOrEqual(0);
        seen.push({ lo: found.lo, refs: ctx.frames.refcount(old), synchronous: stale.synchronous });
        return true;
      },
    };
    try {
      expect(store(vm, p, a, 2)).toBeNull(); // the COW copy
    } finally {
      vm.ctx.policy = saved;
    }
    expect(seen).toHaveLength(1);
    const s = seen[0]!;
    // Not valid: no hart can fill a translation to the new frame before every hart dropped the old one.
    expect(s.lo & PTE_V).toBe(0);
    // Not empty: a concurrent faulter must wait for the change, not take a demand-zero page.
    expect(s.lo).not.toBe(0);
    expect(isChanging(s.lo)).toBe(true);
    expect(s.refs).toBe(2); // the old frame is released only after the invalidation
    expect(s.synchronous).toBe(true); // a lazy policy must not defer it (the new PTE follows at once)
    const now = pte(vm, p, a);
    expect(loPpn(now)).not.toBe(old);
    expect(now & (PTE_V | PTE_W)).toBe(PTE_V | PTE_W);
    expect(vm.ctx.frames.refcount(old)).toBe(1);
    expect([load(vm, p, a), load(vm, c, a)]).toEqual([2, 1]);
    releaseAddressSpace(vm.ctx, c);
    releaseAddressSpace(vm.ctx, p);
    expect(vm.free()).toBe(before);
  });

  it('a fault on a PTE whose change is in progress waits for it and never maps a demand-zero page', () => {
    const vm = bootTestVm();
    const p = vm.newSpace();
    const a = mmap(vm.ctx, p, 0, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(store(vm, p, a, 7)).toBeNull();
    const c = fork(vm, p);
    const demand = vm.ctx.counters.demandFaults;
    let inner: number | FaultSignal | null = -1;
    const saved = vm.ctx.policy;
    vm.ctx.policy = {
      name: 'spy',
      invalidate(ctx) {
        // A second fault on the page while its PTE is in the change state (here on the same
        // thread: the wait is bounded and ends in an error instead of a demand-zero page).
        ctx.policy = saved;
        try {
          inner = handlePageFault(ctx, p, a, ACCESS_LOAD);
        } catch (e) {
          inner = String(e) as never;
        }
        return true;
      },
    };
    try {
      expect(store(vm, p, a, 8)).toBeNull();
    } finally {
      vm.ctx.policy = saved;
    }
    expect(String(inner)).toMatch(/change in progress/);
    expect(vm.ctx.counters.demandFaults).toBe(demand);
    expect([load(vm, p, a), load(vm, c, a)]).toEqual([8, 7]);
    releaseAddressSpace(vm.ctx, c);
    releaseAddressSpace(vm.ctx, p);
  });
});
