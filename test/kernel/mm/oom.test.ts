/**
 * Frame exhaustion: a touch with no frame left ends in SIGBUS (oom), mmap and brk fail with
 * ENOMEM when the region table is full, fork fails cleanly; structures stay intact, the
 * machine goes on, and every frame comes back.
 */
import { describe, expect, it } from 'vitest';
import { bootTestVm, load, store, PAGE } from './harness.ts';
import { brk, initBrk, mmap, munmap, releaseAddressSpace } from '../../../kernel/mm/mmap.ts';
import { forkAddressSpace } from '../../../kernel/mm/cow.ts';
import { ENOMEM, SIGBUS } from '../../../kernel/errno.ts';
import { NO_FRAME } from '../../../kernel/mm/frames.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../kernel/mm/abi.ts';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('frame exhaustion', () => {
  it('touches past the last frame get SIGBUS (oom); after frames return everything works again', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const n = vm.free() + 64;
    const a = mmap(vm.ctx, as, 0, n * PAGE, RW, ANON); // lazily: no frame is taken by mmap
    expect(a).toBeGreaterThan(0);
    let k = 0;
    let sig: unknown = null;
    for (; k < n; k++) {
      sig = store(vm, as, a + k * PAGE, (k & 0x7f) + 1);
      if (sig) break;
    }
    expect(sig).toMatchObject({ signo: SIGBUS, oom: true });
    expect(vm.free()).toBe(0);
    // the pages that made it are intact
    for (let j = 0; j < k; j += 97) expect(load(vm, as, a + j * PAGE)).toBe((j & 0x7f) + 1);
    // fork cannot complete: clean ENOMEM, the parent is unchanged
    expect(forkAddressSpace(vm.ctx, as)).toBe(-ENOMEM);
    expect(load(vm, as, a)).toBe(1);
    // give back half, and go on
    expect(munmap(vm.ctx, as, a, Math.floor(k / 2) * PAGE)).toBe(0);
    expect(store(vm, as, a + k * PAGE, 9)).toBeNull();
    releaseAddressSpace(vm.ctx, as);
    expect(vm.free()).toBe(before);
    vm.ctx.assertNoStale('oom test');
  });

  it('mmap and brk: ENOMEM when the region table is full (max_map_count), nothing corrupted', () => {
    const vm = bootTestVm(16, { maxSpaces: 2, regionsPerSpace: 8, maxFiles: 4, pageCacheEntries: 64 });
    const as = vm.newSpace();
    initBrk(vm.ctx, as, 0x100000);
    const base = 0x4000_0000;
    for (let i = 0; i < 8; i++) expect(mmap(vm.ctx, as, base + 2 * i * PAGE, PAGE, i % 2 ? PROT_READ : RW, ANON | MAP_FIXED)).toBe(base + 2 * i * PAGE);
    expect(mmap(vm.ctx, as, 0, PAGE, RW, ANON)).toBe(-ENOMEM);
    expect(brk(vm.ctx, as, 0x100000 + PAGE)).toBe(0x100000);
    expect(munmap(vm.ctx, as, base + PAGE * 4, PAGE)).toBe(0); // unmapping a whole region makes room
    expect(mmap(vm.ctx, as, 0, PAGE, RW, ANON)).toBeGreaterThan(0);
    // a hole punch needs one more record: ENOMEM, nothing changed
    expect(mmap(vm.ctx, as, base + 2 * 9 * PAGE, 3 * PAGE, RW, ANON | MAP_FIXED)).toBe(-ENOMEM);
    expect(as.regions.count).toBe(8);
    const regs = as.regions.all();
    for (let i = 0; i + 1 < regs.length; i++) expect(regs[i]!.start + regs[i]!.npages).toBeLessThanOrEqual(regs[i + 1]!.start);
    expect(store(vm, as, base, 3)).toBeNull();
    releaseAddressSpace(vm.ctx, as);
  });

  it('no frame for a page table: the fault is SIGBUS, not a crash', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const a = mmap(vm.ctx, as, 0, PAGE, RW, ANON); // its region record takes a frame (a chunk): map before RAM runs out
    const held: number[] = [];
    for (let f = vm.ctx.frames.alloc(); f !== NO_FRAME; f = vm.ctx.frames.alloc()) held.push(f);
    expect(load(vm, as, a)).toMatchObject({ signo: SIGBUS, oom: true });
    // a new mapping needs a frame for its region record's chunk only when its chunk is full:
    // the first chunk has room, so mmap still works without a free frame ...
    const b = mmap(vm.ctx, as, 0, PAGE, RW, ANON);
    expect(b).toBeGreaterThan(0);
    for (const f of held) vm.ctx.frames.free(f);
    expect(load(vm, as, a)).toBe(0);
    releaseAddressSpace(vm.ctx, as);
  });

  it('no frame for a region chunk: mmap is ENOMEM and changes nothing (Linux: no memory for the VMA)', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const free0 = vm.free();
    const held: number[] = [];
    for (let f = vm.ctx.frames.alloc(); f !== NO_FRAME; f = vm.ctx.frames.alloc()) held.push(f);
    expect(mmap(vm.ctx, as, 0, PAGE, RW, ANON)).toBe(-ENOMEM);
    expect(as.regions.count).toBe(0);
    for (const f of held) vm.ctx.frames.free(f);
    const a = mmap(vm.ctx, as, 0, PAGE, RW, ANON);
    expect(a).toBeGreaterThan(0);
    expect(load(vm, as, a)).toBe(0);
    releaseAddressSpace(vm.ctx, as);
    expect(vm.free()).toBe(free0 + 1); // the root table too: every frame is back
  });
});
