/**
 * Page-table edits and the region list, unit by unit: walk-and-create, the final D bit learned
 * on clear, A/D kept by protect, table frames unlinked and freed after a covering clear, 2 MiB
 * split, the generation record, and RegionList splits/merges/capacity.
 */
import { describe, expect, it } from 'vitest';
import { bootTestVm, store, PAGE } from './harness.ts';
import {
  clearRange, findLeaf, found, loPpn, makeLo, protectRange, PT_BLOCKED, splitHugeLeaf, walkCreate, exchangePte, readPte,
} from '../../../kernel/mm/pagetable.ts';
import { completeShootdown } from '../../../kernel/mm/shootdown.ts';
import { Stale, FLUSH_CEILING_PAGES } from '../../../kernel/mm/stale.ts';
import { RegionList } from '../../../kernel/mm/regions.ts';
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
    expect(s.pendingCounts).toEqual({ frames: 1, hugeFrames: 0, tables: 1, writeback: 0, fileRefs: 0 }); // the level-0 table spanned exactly the range
    completeShootdown(vm.ctx, s);
    // the level-2 and level-1 tables stay (partly covered); everything else is back
    expect(vm.free()).toBe(free0 - 2);
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

describe('RegionList', () => {
  const make = (cap: number): RegionList => {
    const sab = new SharedArrayBuffer(64 + cap * 48);
    return new RegionList(new Int32Array(sab), new Float64Array(sab), 64, 0, cap);
  };
  const r = (start: number, npages: number, prot = 3, file = 0, pgoff = 0) => ({ start, npages, prot, flags: 0, file, pgoff });

  it('splits, removes pieces, merges neighbours with identical attributes, and counts file references', () => {
    const rl = make(8);
    const refs: number[] = [];
    rl.fileRef = (f, d) => refs.push(f * d);
    expect(rl.insert(r(10, 10, 3, 7, 100))).toBe(0);
    expect(rl.insert(r(30, 5))).toBe(0);
    const removed = rl.removeRange(12, 32);
    expect(removed).toEqual([r(12, 8, 3, 7, 102), r(30, 2)]);
    expect(rl.all()).toEqual([r(10, 2, 3, 7, 100), r(32, 3, 3, 0, 2)]); // pgoff follows a split, like vm_pgoff
    expect(refs).toEqual([7]); // the split at 12 duplicated the file reference
    expect(rl.insert(r(12, 3, 3, 7, 102))).toBe(0);
    rl.mergeRange(10, 15);
    expect(rl.all()[0]).toEqual(r(10, 5, 3, 7, 100));
    expect(refs).toEqual([7, -7]);
    expect(rl.insert(r(15, 1, 3, 7, 999))).toBe(0); // pgoff not contiguous: never merged
    rl.mergeRange(10, 16);
    expect(rl.count).toBe(3);
    expect(rl.find(15)).toBe(1);
    expect(rl.find(16)).toBe(-1);
    expect(rl.covers(10, 16)).toBe(true);
    expect(rl.covers(10, 17)).toBe(false);
  });

  it('is ENOMEM when full (max_map_count), and a failed hole punch changes nothing', () => {
    const rl = make(4);
    for (let i = 0; i < 4; i++) expect(rl.insert(r(i * 10, 5, i))).toBe(0);
    expect(rl.insert(r(100, 1))).toBe(-ENOMEM);
    const before = JSON.stringify(rl.all());
    expect(rl.removeRange(1, 2)).toBe(-ENOMEM);
    expect(rl.setProt(1, 2, 1)).toBe(-ENOMEM);
    expect(JSON.stringify(rl.all())).toBe(before);
    expect(rl.removeRange(0, 5)).toEqual([r(0, 5, 0)]);
  });
});
