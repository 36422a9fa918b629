/**
 * Huge pages: a 2 MiB-aligned anonymous huge-ok region is backed by one 2 MiB leaf when a
 * block is free (else 4 KiB pages); partial munmap / mprotect / madvise split the leaf into
 * 512 PTEs first with the contents preserved; every frame comes back.
 */
import { describe, expect, it } from 'vitest';
import { bootTestVm, load, store, PAGE } from './harness.ts';
import { madvise, mmap, mprotect, munmap, releaseAddressSpace } from '../../../kernel/mm/mmap.ts';
import { findLeaf, found } from '../../../kernel/mm/pagetable.ts';
import { forkAddressSpace } from '../../../kernel/mm/cow.ts';
import { SEGV_ACCERR, SEGV_MAPERR } from '../../../kernel/errno.ts';
import { MADV_DONTNEED, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MAP_ANONYMOUS, MAP_HUGETLB, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../kernel/mm/abi.ts';
import { NO_FRAME } from '../../../kernel/mm/frames.ts';

const MB2 = 2 * 1024 * 1024;
const RW = PROT_READ | PROT_WRITE;
const HUGE = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;

describe('huge pages', () => {
  it('a first touch maps a 2 MiB leaf; partial munmap and mprotect split it with contents preserved', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const a = mmap(vm.ctx, as, 0, 2 * MB2, RW, HUGE);
    expect(a % MB2).toBe(0);
    for (let k = 0; k < 512; k += 37) expect(store(vm, as, a + k * PAGE, k & 255)).toBeNull();
    expect(findLeaf(vm.ctx, as.rootPpn, a / PAGE)).toBeGreaterThan(0);
    expect(found.level).toBe(1);
    expect(vm.ctx.frames.stats().hugeInUse).toBe(1);
    expect(vm.tlb.superEntryCount()).toBe(1);
    // partial munmap of one page in the middle: split, then that page is gone
    expect(munmap(vm.ctx, as, a + 37 * PAGE, PAGE)).toBe(0);
    expect(vm.tlb.superEntryCount()).toBe(0); // the superpage entry was flushed
    expect(findLeaf(vm.ctx, as.rootPpn, a / PAGE)).toBeGreaterThan(0);
    expect(found.level).toBe(0);
    expect(vm.ctx.frames.stats().hugeInUse).toBe(0);
    expect(load(vm, as, a + 37 * PAGE)).toMatchObject({ code: SEGV_MAPERR });
    for (let k = 0; k < 512; k += 37) if (k !== 37) expect(load(vm, as, a + k * PAGE)).toBe(k & 255);
    // a second huge page, split by mprotect
    expect(store(vm, as, a + MB2 + 5 * PAGE, 77)).toBeNull();
    expect(findLeaf(vm.ctx, as.rootPpn, a / PAGE + 512) > 0 && found.level).toBe(1);
    expect(mprotect(vm.ctx, as, a + MB2 + 4 * PAGE, 4 * PAGE, PROT_READ)).toBe(0);
    expect(store(vm, as, a + MB2 + 5 * PAGE, 1)).toMatchObject({ code: SEGV_ACCERR });
    expect(load(vm, as, a + MB2 + 5 * PAGE)).toBe(77);
    expect(store(vm, as, a + MB2 + 9 * PAGE, 1)).toBeNull();
    expect(madvise(vm.ctx, as, a + MB2 + 5 * PAGE, PAGE, MADV_DONTNEED)).toBe(0);
    expect(load(vm, as, a + MB2 + 5 * PAGE)).toBe(0);
    releaseAddressSpace(vm.ctx, as);
    expect(vm.free()).toBe(before);
  });

  it('whole 2 MiB unmap frees the block as one; no free block falls back to 4 KiB pages', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const a = mmap(vm.ctx, as, 0, MB2, RW, HUGE);
    expect(store(vm, as, a, 1)).toBeNull();
    expect(vm.ctx.frames.stats().hugeInUse).toBe(1);
    expect(munmap(vm.ctx, as, a, MB2)).toBe(0);
    expect(vm.ctx.frames.stats().hugeInUse).toBe(0);
    // take every whole block away: the fault must fall back
    const held: number[] = [];
    for (let h = vm.ctx.frames.allocHuge(); h !== NO_FRAME; h = vm.ctx.frames.allocHuge()) held.push(h);
    const b = mmap(vm.ctx, as, 0, MB2, RW, HUGE);
    expect(store(vm, as, b + 3 * PAGE, 5)).toBeNull();
    expect(findLeaf(vm.ctx, as.rootPpn, b / PAGE + 3) > 0 && found.level).toBe(0);
    expect(load(vm, as, b + 3 * PAGE)).toBe(5);
    for (const h of held) vm.ctx.frames.freeHuge(h);
    releaseAddressSpace(vm.ctx, as);
    expect(vm.free()).toBe(before);
  });

  it('madvise(MADV_HUGEPAGE) makes an anonymous region huge-ok; MADV_NOHUGEPAGE undoes it', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const a = mmap(vm.ctx, as, 0, 2 * MB2, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(a % MB2).toBe(0); // 2 MiB-multiple anonymous mappings are placed 2 MiB-aligned
    expect(madvise(vm.ctx, as, a, MB2, MADV_HUGEPAGE)).toBe(0);
    expect(as.regions.count).toBe(2);
    expect(store(vm, as, a + 7 * PAGE, 1)).toBeNull();
    expect(store(vm, as, a + MB2 + 7 * PAGE, 1)).toBeNull();
    expect(findLeaf(vm.ctx, as.rootPpn, a / PAGE + 7) > 0 && found.level).toBe(1);
    expect(findLeaf(vm.ctx, as.rootPpn, a / PAGE + 512 + 7) > 0 && found.level).toBe(0);
    expect(madvise(vm.ctx, as, a, MB2, MADV_NOHUGEPAGE)).toBe(0);
    expect(as.regions.count).toBe(1);
    releaseAddressSpace(vm.ctx, as);
  });

  it('fork splits the parent huge page and shares its 4 KiB frames copy-on-write', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const p = vm.newSpace();
    const a = mmap(vm.ctx, p, 0, MB2, RW, HUGE);
    expect(store(vm, p, a + 100 * PAGE, 8)).toBeNull();
    const c = forkAddressSpace(vm.ctx, p);
    if (typeof c === 'number') throw new Error('fork');
    expect(store(vm, c, a + 100 * PAGE, 9)).toBeNull();
    expect([load(vm, p, a + 100 * PAGE), load(vm, c, a + 100 * PAGE)]).toEqual([8, 9]);
    releaseAddressSpace(vm.ctx, p);
    releaseAddressSpace(vm.ctx, c);
    expect(vm.free()).toBe(before);
  });
});
