/**
 * Page-table edits and the region list, unit by unit: walk-and-create, the final D bit learned
 * on clear, A/D kept by protect, table frames unlinked and freed after a covering clear, 2 MiB
 * split, the generation record (RegionList: regions.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { bootTestVm, store, PAGE } from './harness.ts';
import {
  clearRange, findLeaf, found, loPpn, makeLo, protectRange, PT_BLOCKED, splitHugeLeaf, walkCreate, exchangePte, readPte,
} from '../../../kernel/mm/pagetable.ts';
import { completeShootdown } from '../../../kernel/mm/shootdown.ts';
import { Stale, FLUSH_CEILING_PAGES } from '../../../kernel/mm/stale.ts';
import { mmap } from '../../../kernel/mm/mmap.ts';
import { ENOMEM } from '../../../kernel/errno.ts';
import { PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W } from '../../../cpu/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../kernel/mm/abi.ts';
import { FRAME_ALLOCATED } from '../../../kernel/layout.ts';

const URW = PTE_V | PTE_U | PTE_R | PTE_W;

describe('page-table edits', () => {
  it('clear learns the D bit the MMU set; protect keeps A/D; covering clears free their tables', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const free0 = vm.free();
    const a = mmap(vm.ctx, as, 0x4000_0000, 512 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | 0x10);
    expect(store(vm, as, a, 1)).toBeNull(); // the MMU sets A and D
    const vpn = a / PAGE;
    expect(findLeaf(vm.ctx, as.rootPpn, vpn)).toBeGreaterThan(0);
    expect(found.lo & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    const p = protectRange(vm.ctx, as, vpn, vpn + 512, (lo) => lo & ~PTE_W);
    expect(p.npages).toBe(1);
    completeShootdown(vm.ctx, p);
    findLeaf(vm.ctx, as.rootPpn, vpn);
    expect(found.lo & (PTE_A | PTE_D | PTE_W)).toBe(PTE_A | PTE_D);
    const info = { pages: 0, dirty: [] as number[] };
    const s = clearRange(vm.ctx, as, vpn, vpn + 512, undefined, info);
    expect(info).toEqual({ pages: 1, dirty: [vpn] });
    expect(s.pendingCounts).toEqual({ frames: 1, hugeFrames: 0, tables: 1, writeback: 0, fileRefs: 0, cleaned: 0 }); // the level-0 table spanned exactly the range
    completeShootdown(vm.ctx, s);
    // the level-2 and level-1 tables stay (partly covered), and the region list's frames; everything else is back
    expect(as.regions.frames).toBe(2); // one chunk and one directory frame
    expect(vm.free()).toBe(free0 - 2 - as.regions.frames);
  });

  it('walkCreate reports a 2 MiB leaf in the way; splitHugeLeaf keeps frames, flags and A/D', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const huge = vm.ctx.frames.allocHuge();
    const vpn = 0x4000_0000 / PAGE;
    const l1 = walkCreate(vm.ctx, as.rootPpn, vpn, 1);
    exchangePte(vm.ctx, l1, makeLo(huge, URW | PTE_A | PTE_D));
    expect(walkCreate(vm.ctx, as.rootPpn, vpn + 3, 0)).toBe(PT_BLOCKED);
    const st = new Stale(vm.ctx, as);
    expect(splitHugeLeaf(vm.ctx, l1, vpn, st)).toBe(true);
    for (const k of [0, 1, 255, 511]) {
      expect(findLeaf(vm.ctx, as.rootPpn, vpn + k)).toBeGreaterThan(0);
      expect([found.level, loPpn(found.lo), found.lo & 0x3ff]).toEqual([0, huge + k, URW | PTE_A | PTE_D]);
      expect(vm.ctx.frames.refcount(huge + k)).toBe(1);
      expect(vm.ctx.frames.frameState(huge + k)).toBe(FRAME_ALLOCATED);
    }
    expect([st.vpnStart, st.npages]).toEqual([vpn, 512]);
    completeShootdown(vm.ctx, st);
    expect(as.latestBump().npages).toBe(-1); // more than FLUSH_CEILING_PAGES: the whole ASID
    expect(512).toBeGreaterThan(FLUSH_CEILING_PAGES);
    const c = clearRange(vm.ctx, as, vpn, vpn + 512);
    completeShootdown(vm.ctx, c);
    expect(readPte(vm.ctx, l1)).toBe(0);
    expect(vm.ctx.frames.stats().wholeBlocks).toBeGreaterThan(0);
  });
});
