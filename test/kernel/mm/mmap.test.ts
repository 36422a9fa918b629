/**
 * Mapping operations: munmap's five cases, mprotect splitting and PROT_NONE round trips,
 * brk, madvise(DONTNEED), device mappings, scoped mappings, exec's clear, the shared kernel
 * half, user copies, and the Stale discipline (no page-table change escapes its shootdown).
 */
import { describe, expect, it } from 'vitest';
import { bootTestVm, load, store, PAGE, type Vm } from './harness.ts';
import {
  brk, clearUserSpace, initBrk, madvise, mapPhysical, mmap, mprotect, munmap, releaseAddressSpace, residentPages,
  scopedMapping, withMapping,
} from '../../../kernel/mm/mmap.ts';
import { KERNEL_PROBE_VA48 } from '../../../kernel/mm/aspace.ts';
import { copyFromUser, copyToUser, strncpyFromUser } from '../../../kernel/mm/uaccess.ts';
import * as pagetable from '../../../kernel/mm/pagetable.ts';
import { clearRange } from '../../../kernel/mm/pagetable.ts';
import { completeShootdown } from '../../../kernel/mm/shootdown.ts';
import { claimDrainRight, Stale } from '../../../kernel/mm/stale.ts';
import { SEGV_ACCERR, SEGV_MAPERR, ENAMETOOLONG } from '../../../kernel/errno.ts';
import { MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_NONE, PROT_READ, PROT_WRITE } from '../../../kernel/mm/abi.ts';
import { RF_HEAP } from '../../../kernel/mm/layout.ts';
import { vaLoHi } from '../../../cpu/pte.ts';
import type { VirtualAddressSpace } from '../../../kernel/mm/aspace.ts';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function filled(vm: Vm, as: VirtualAddressSpace, pages: number, at = 0): number {
  const a = mmap(vm.ctx, as, at, pages * PAGE, RW, ANON | (at ? MAP_FIXED : 0));
  for (let k = 0; k < pages; k++) expect(store(vm, as, a + k * PAGE, k + 1)).toBeNull();
  return a;
}
const mapped = (vm: Vm, as: VirtualAddressSpace, a: number, pages: number): (number | string)[] =>
  Array.from({ length: pages }, (_, k) => {
    const v = load(vm, as, a + k * PAGE);
    return typeof v === 'number' ? v : 'X';
  });

describe('munmap: the five cases', () => {
  it.each([
    ['exact match', 0, 8, []],
    ['front trim', 0, 3, [4, 5, 6, 7, 8]],
    ['back trim', 5, 3, [1, 2, 3, 4, 5]],
    ['hole punch', 2, 3, [1, 2, 6, 7, 8]],
    ['inside, not at the start, to the end', 6, 2, [1, 2, 3, 4, 5, 6]],
  ] as [string, number, number, number[]][])('%s', (_n, first, count, left) => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const a = filled(vm, as, 8);
    const tlbBefore = vm.tlb.probe(...vaLoHi(a + first * PAGE));
    expect(tlbBefore).toBeGreaterThanOrEqual(0); // cached by the stores above
    expect(munmap(vm.ctx, as, a + first * PAGE, count * PAGE)).toBe(0);
    expect(vm.tlb.probe(...vaLoHi(a + first * PAGE))).toBe(-1); // flushed by the shootdown's local step
    expect(mapped(vm, as, a, 8).filter((v) => v !== 'X')).toEqual(left);
    expect(residentPages(vm.ctx, as)).toBe(left.length);
    expect(as.regions.count).toBe(first > 0 && first + count < 8 ? 2 : left.length ? 1 : 0);
    releaseAddressSpace(vm.ctx, as);
    expect(vm.free()).toBe(before);
  });

  it('a range spanning several regions and gaps', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const base = 0x4000_0000;
    filled(vm, as, 3, base);
    filled(vm, as, 3, base + 5 * PAGE);
    expect(mprotect(vm.ctx, as, base + 6 * PAGE, PAGE, PROT_READ)).toBe(0);
    filled(vm, as, 2, base + 10 * PAGE);
    expect(as.regions.count).toBe(5);
    expect(munmap(vm.ctx, as, base + PAGE, 10 * PAGE)).toBe(0);
    expect(mapped(vm, as, base, 12)).toEqual([1, 'X', 'X', 'X', 'X', 'X', 'X', 'X', 'X', 'X', 'X', 2]);
    expect(as.regions.count).toBe(2);
    releaseAddressSpace(vm.ctx, as);
    expect(vm.free()).toBe(before);
  });
});

describe('mprotect, brk, madvise', () => {
  it('mprotect splits a region; PROT_NONE and back keeps the contents', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const a = filled(vm, as, 4);
    expect(mprotect(vm.ctx, as, a + PAGE, 2 * PAGE, PROT_NONE)).toBe(0);
    expect(as.regions.count).toBe(3);
    expect(load(vm, as, a + PAGE)).toMatchObject({ signo: 11, code: SEGV_ACCERR });
    expect(mprotect(vm.ctx, as, a + PAGE, 2 * PAGE, PROT_READ)).toBe(0);
    expect(mapped(vm, as, a, 4)).toEqual([1, 2, 3, 4]);
    expect(store(vm, as, a + PAGE, 9)).toMatchObject({ code: SEGV_ACCERR });
    expect(mprotect(vm.ctx, as, a, 4 * PAGE, RW)).toBe(0);
    expect(as.regions.count).toBe(1); // merged back
    expect(store(vm, as, a + PAGE, 9)).toBeNull();
    releaseAddressSpace(vm.ctx, as);
  });

  it('brk grows and shrinks one heap region; pages above a lowered break are gone', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const start = 0x10_0000;
    initBrk(vm.ctx, as, start);
    expect(brk(vm.ctx, as, 0)).toBe(start);
    for (let k = 1; k <= 5; k++) expect(brk(vm.ctx, as, start + k * PAGE - 100)).toBe(start + k * PAGE - 100);
    expect(as.regions.all().filter((r) => r.flags & RF_HEAP)).toEqual([expect.objectContaining({ start: start / PAGE, npages: 5 })]);
    expect(store(vm, as, start + 4 * PAGE, 7)).toBeNull();
    expect(brk(vm.ctx, as, start + 2 * PAGE)).toBe(start + 2 * PAGE);
    expect(load(vm, as, start + 4 * PAGE)).toMatchObject({ code: SEGV_MAPERR });
    expect(brk(vm.ctx, as, start + 5 * PAGE)).toBe(start + 5 * PAGE);
    expect(load(vm, as, start + 4 * PAGE)).toBe(0); // fresh page
    expect(brk(vm.ctx, as, start - PAGE)).toBe(start + 5 * PAGE); // below the start: unchanged
    mmap(vm.ctx, as, start + 6 * PAGE, PAGE, RW, ANON | MAP_FIXED);
    expect(brk(vm.ctx, as, start + 8 * PAGE)).toBe(start + 5 * PAGE); // collides with a mapping
    releaseAddressSpace(vm.ctx, as);
    expect(vm.free()).toBe(before);
  });

  it('madvise(DONTNEED): private anonymous pages read back as zero; frames are freed', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const a = filled(vm, as, 4);
    const free = vm.free();
    expect(madvise(vm.ctx, as, a + PAGE, 2 * PAGE, MADV_DONTNEED)).toBe(0);
    expect(vm.free()).toBe(free + 2);
    expect(mapped(vm, as, a, 4)).toEqual([1, 0, 0, 4]);
    releaseAddressSpace(vm.ctx, as);
  });
});

describe('device, scoped and exec mappings; the kernel half; user copies', () => {
  it('mapPhysical maps given frames without owning them', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const dev = vm.ctx.frames.alloc();
    vm.ram.u8[dev * PAGE + 5] = 42;
    const va = 0x5000_0000;
    expect(mapPhysical(vm.ctx, as, va, dev, 1, RW)).toBe(0);
    expect(load(vm, as, va + 5)).toBe(42);
    expect(vm.ctx.frames.refcount(dev)).toBe(1);
    expect(munmap(vm.ctx, as, va, PAGE)).toBe(0);
    expect(vm.ctx.frames.refcount(dev)).toBe(1); // still the device's
    expect(vm.ram.u8[dev * PAGE + 5]).toBe(42);
    releaseAddressSpace(vm.ctx, as);
    vm.ctx.frames.free(dev);
  });

  it('withMapping and ScopedMapping release on every exit path', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    let addr = 0;
    expect(() => withMapping(vm.ctx, as, 2 * PAGE, RW, (a) => {
      addr = a;
      expect(store(vm, as, a, 1)).toBeNull();
      throw new Error('boom');
    })).toThrow('boom');
    expect(load(vm, as, addr)).toMatchObject({ code: SEGV_MAPERR });
    expect(withMapping(vm.ctx, as, PAGE, RW, (a) => (store(vm, as, a, 3), load(vm, as, a)))).toBe(3);
    const m = scopedMapping(vm.ctx, as, PAGE, RW);
    if (typeof m === 'number') throw new Error('scoped');
    m.release();
    m.release(); // idempotent
    expect(as.regions.count).toBe(0);
    releaseAddressSpace(vm.ctx, as);
  });

  it('clearUserSpace (exec) drops every user mapping and table, keeps the kernel half', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const free0 = vm.free();
    const a = filled(vm, as, 5);
    filled(vm, as, 2, 0x7000_0000);
    clearUserSpace(vm.ctx, as);
    expect(vm.free()).toBe(free0);
    expect(as.regions.count).toBe(0);
    expect(load(vm, as, a)).toMatchObject({ code: SEGV_MAPERR });
    expect(as.rootEntry(511)).not.toBe(0);
    releaseAddressSpace(vm.ctx, as);
  });

  it('root entries 256..511 are shared by every space; a user touch of the kernel page is SIGSEGV', () => {
    const vm = bootTestVm(16);
    const a = vm.newSpace(), b = vm.newSpace();
    for (let i = 256; i < 512; i++) expect(a.rootEntry(i)).toBe(b.rootEntry(i));
    for (let i = 0; i < 256; i++) expect(a.rootEntry(i)).toBe(0);
    expect(a.rootPpn).not.toBe(b.rootPpn);
    // sign-extended kernel va: the walk finds the kernel page with U=0 and faults
    expect(load(vm, a, -(2 ** 48) + KERNEL_PROBE_VA48)).toMatchObject({ signo: 11, code: SEGV_MAPERR });
  });

  it('copyToUser / copyFromUser / strncpyFromUser fault pages in and cross page boundaries', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const a = mmap(vm.ctx, as, 0, 3 * PAGE, RW, ANON);
    const msg = new TextEncoder().encode('hello, user space\0');
    expect(copyToUser(vm.ctx, as, a + PAGE - 5, msg)).toBe(0);
    expect(copyFromUser(vm.ctx, as, a + PAGE - 5, msg.length)).toEqual(msg);
    expect(strncpyFromUser(vm.ctx, as, a + PAGE - 5, 64)).toBe('hello, user space');
    expect(strncpyFromUser(vm.ctx, as, a + PAGE - 5, 4)).toBe(-ENAMETOOLONG);
    expect(load(vm, as, a + PAGE + 3)).toBe('s'.charCodeAt(0));
    releaseAddressSpace(vm.ctx, as);
  });
});

describe('Stale discipline', () => {
  it('an uncompleted Stale is caught at the exit path; completing it releases the frames', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const a = filled(vm, as, 2);
    const free = vm.free();
    const gen = as.generation;
    const stale = clearRange(vm.ctx, as, a / PAGE, a / PAGE + 2);
    expect(stale.generation).toBe(gen + 1);
    expect(as.latestBump()).toEqual({ generation: gen + 1, vpnStart: a / PAGE, npages: 2 });
    expect(vm.free()).toBe(free); // nothing released before invalidation
    expect(() => vm.ctx.assertNoStale('test syscall exit')).toThrow('stale: 1 unflushed Stale records');
    completeShootdown(vm.ctx, stale);
    expect(vm.free()).toBe(free + 2);
    vm.ctx.assertNoStale('test');
    expect(() => completeShootdown(vm.ctx, stale)).toThrow('already completed');
  });

  it('only kernel/mm/shootdown.ts holds the right to release stale frames', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    expect(() => claimDrainRight()).toThrow('already claimed');
    const s = new Stale(vm.ctx, as);
    expect(() => s.drain(Symbol('forged'))).toThrow('only completeShootdown');
    completeShootdown(vm.ctx, s);
  });
});

describe('teardown of a page table a guest overwrote (unsafe policies)', () => {
  // Under --shootdown off/lazy a stale TLB entry can name a frame the kernel reused as a page
  // table, so a guest store writes garbage PTEs. Teardown must skip (and count) a PTE naming a
  // frame the allocator does not hold, instead of halting the machine on the allocator's check.
  it('a leaf naming a free frame and one naming frame 0 are skipped and counted; the rest is freed', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const a = filled(vm, as, 3);
    const vpn = Math.floor(a / PAGE);
    const { exchangePte, findLeaf, loPpn, makeLo, readPte } = pagetable;
    const spare = vm.ctx.frames.alloc();
    vm.ctx.frames.free(spare); // a free frame
    const pte1 = findLeaf(vm.ctx, as.rootPpn, vpn), pte2 = findLeaf(vm.ctx, as.rootPpn, vpn + 1);
    const orphan1 = loPpn(readPte(vm.ctx, pte1)), orphan2 = loPpn(readPte(vm.ctx, pte2));
    const flags = readPte(vm.ctx, pte1) & 0x3ff;
    exchangePte(vm.ctx, pte1, makeLo(spare, flags)); // as a guest store would: no shootdown, no A/D
    exchangePte(vm.ctx, pte2, makeLo(0, flags));
    expect(vm.ctx.counters.corruptPtes).toBe(0);
    expect(() => releaseAddressSpace(vm.ctx, as)).not.toThrow();
    expect(vm.ctx.counters.corruptPtes).toBe(2);
    expect(vm.ctx.frames.isAllocated(spare)).toBe(false);
    // The two frames the overwritten PTEs named are lost to this space (as on real hardware); every
    // other frame, the tables included, went back.
    expect(vm.ctx.frames.isAllocated(orphan1) && vm.ctx.frames.isAllocated(orphan2)).toBe(true);
    expect(vm.free()).toBe(before - 2);
  });

  it('an upper-level entry overwritten with a leaf or a pointer to a free frame is cleared and counted; munmap and teardown go on', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const { entryPa, exchangePte, loPpn, makeLo, readPte, vpnIndexAt } = pagetable;
    const a = filled(vm, as, 2, 0x4000_0000); // 1 GiB: its own level-2 entry
    const b = filled(vm, as, 2, 0x8000_0000);
    const l3 = (va: number): number => entryPa(as.rootPpn, vpnIndexAt(va / PAGE, 3));
    const l2 = (va: number): number => entryPa(loPpn(readPte(vm.ctx, l3(va))), vpnIndexAt(va / PAGE, 2));
    const spare = vm.ctx.frames.alloc();
    vm.ctx.frames.free(spare);
    exchangePte(vm.ctx, l2(a), makeLo(spare, 0x1 | 0x2 | 0x4 | 0x10)); // a 1 GiB leaf the kernel never makes
    exchangePte(vm.ctx, l2(b), makeLo(spare, 0x1)); // a pointer to a free frame
    expect(munmap(vm.ctx, as, a, 2 * PAGE)).toBe(0);
    expect(vm.ctx.counters.corruptPtes).toBe(1);
    expect(() => releaseAddressSpace(vm.ctx, as)).not.toThrow();
    expect(vm.ctx.counters.corruptPtes).toBe(2);
    expect(vm.ctx.frames.isAllocated(spare)).toBe(false);
  });
});
