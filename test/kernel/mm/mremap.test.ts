/**
 * mremap (kernel/mm/mremap.ts): shrink in place, grow in place when the pages after are free,
 * else move (MREMAP_MAYMOVE: top-down gap; MREMAP_FIXED: at new_addr, replacing what was
 * there) — a move carries the very frames (contents, references) to the new address and the
 * old translations are shot down (the local TLB forgets them, the old range faults
 * SEGV_MAPERR). MREMAP_DONTUNMAP, the old_size 0 duplicate of a shared mapping, 2 MiB pages,
 * Linux's errno, the syscall registration, and no frame leaked.
 */
import { describe, expect, it } from 'vitest';
import { bootTestVm, load, store, access, PAGE, type Vm } from './harness.ts';
import { mmap, munmap, releaseAddressSpace } from '../../../kernel/mm/mmap.ts';
import { mremap } from '../../../kernel/mm/mremap.ts';
import '../../../kernel/mm/sys-mremap.ts';
import { syscallHandler } from '../../../kernel/syscall.ts';
import { SYS_mremap } from '../../../kernel/syscalls-table.ts';
import { EFAULT, EINVAL, ENOMEM, EPERM, SEGV_MAPERR } from '../../../kernel/errno.ts';
import { MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../../../kernel/linux-flags.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../kernel/mm/abi.ts';
import { ACCESS_LOAD } from '../../../cpu/trap.ts';
import { vaLoHi } from '../../../cpu/pte.ts';
import type { VirtualAddressSpace } from '../../../kernel/mm/aspace.ts';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const MIB2 = 2 * 2 ** 20;

function filled(vm: Vm, as: VirtualAddressSpace, pages: number, at = 0, tag = 0): number {
  const a = mmap(vm.ctx, as, at, pages * PAGE, RW, ANON | (at ? MAP_FIXED : 0));
  expect(a).toBeGreaterThan(0);
  for (let k = 0; k < pages; k++) expect(store(vm, as, a + k * PAGE + 7, tag + k + 1)).toBeNull();
  return a;
}
/** Byte 7 of each page: its value, or 'X' when the access faults. */
const bytes = (vm: Vm, as: VirtualAddressSpace, a: number, pages: number): (number | string)[] =>
  Array.from({ length: pages }, (_, k) => {
    const v = load(vm, as, a + k * PAGE + 7);
    return typeof v === 'number' ? v : 'X';
  });
const paOf = (vm: Vm, as: VirtualAddressSpace, va: number): number => {
  const r = access(vm, as, va, ACCESS_LOAD);
  return 'pa' in r ? r.pa - (va % PAGE) : -1;
};
const cached = (vm: Vm, va: number): boolean => vm.tlb.probe(...vaLoHi(va)) >= 0;
function done(vm: Vm, as: VirtualAddressSpace, before: number): void {
  expect(vm.ctx.staleOutstanding).toBe(0);
  releaseAddressSpace(vm.ctx, as);
  expect(vm.free()).toBe(before);
}

describe('mremap: shrink, grow in place, move', () => {
  it('shrink in place: same address, the tail faults SEGV_MAPERR and its frames return', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const a = filled(vm, as, 8);
    const freeMid = vm.free();
    expect(mremap(vm.ctx, as, a, 8 * PAGE, 3 * PAGE + 1, 0)).toBe(a); // rounded up to 4 pages
    expect(vm.free()).toBe(freeMid + 4);
    expect(bytes(vm, as, a, 8)).toEqual([1, 2, 3, 4, 'X', 'X', 'X', 'X']);
    const f = load(vm, as, a + 5 * PAGE);
    expect(typeof f === 'object' && f.code).toBe(SEGV_MAPERR);
    done(vm, as, before);
  });

  it('grow in place when the pages after are free: same address, same frames, new pages zero-filled', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const a = filled(vm, as, 4, 0x4000_0000);
    const pa0 = paOf(vm, as, a);
    expect(mremap(vm.ctx, as, a, 4 * PAGE, 10 * PAGE, 0)).toBe(a);
    expect(paOf(vm, as, a)).toBe(pa0);
    expect(bytes(vm, as, a, 10)).toEqual([1, 2, 3, 4, 0, 0, 0, 0, 0, 0]);
    expect(as.regions.all().filter((r) => r.start === a / PAGE).map((r) => r.npages)).toEqual([10]);
    done(vm, as, before);
  });

  it('grow blocked: ENOMEM without MREMAP_MAYMOVE (nothing changed); with it the frames move and the old range is shot down', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const a = filled(vm, as, 4, 0x4000_0000);
    filled(vm, as, 1, 0x4000_0000 + 4 * PAGE, 100); // blocks growth
    const pas = [0, 1, 2, 3].map((k) => paOf(vm, as, a + k * PAGE));
    expect(mremap(vm.ctx, as, a, 4 * PAGE, 6 * PAGE, 0)).toBe(-ENOMEM);
    expect(bytes(vm, as, a, 5)).toEqual([1, 2, 3, 4, 101]);
    expect(cached(vm, a)).toBe(true);
    const freeMid = vm.free();
    const b = mremap(vm.ctx, as, a, 4 * PAGE, 6 * PAGE, MREMAP_MAYMOVE);
    expect(b).toBeGreaterThan(0);
    expect(b).not.toBe(a);
    expect(cached(vm, a)).toBe(false); // the local TLB forgot the old translation
    expect([0, 1, 2, 3].map((k) => paOf(vm, as, b + k * PAGE))).toEqual(pas); // the very frames
    expect(bytes(vm, as, b, 6)).toEqual([1, 2, 3, 4, 0, 0]);
    expect(bytes(vm, as, a, 5)).toEqual(['X', 'X', 'X', 'X', 101]);
    expect(vm.free()).toBeLessThanOrEqual(freeMid); // nothing released by a move (2 new zero pages, tables)
    done(vm, as, before);
  });

  it('MREMAP_FIXED: moves onto new_addr, replacing the mapping there; a shrinking FIXED move drops the tail', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const a = filled(vm, as, 6, 0x4000_0000);
    const d = filled(vm, as, 8, 0x5000_0000, 50);
    expect(mremap(vm.ctx, as, a, 6 * PAGE, 4 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, d + 2 * PAGE)).toBe(d + 2 * PAGE);
    expect(bytes(vm, as, d, 8)).toEqual([51, 52, 1, 2, 3, 4, 57, 58]);
    expect(bytes(vm, as, a, 6)).toEqual(['X', 'X', 'X', 'X', 'X', 'X']);
    expect(munmap(vm.ctx, as, d, 8 * PAGE)).toBe(0);
    done(vm, as, before);
  });

  it('MREMAP_DONTUNMAP: the pages move, the old range stays mapped and reads zero', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const a = filled(vm, as, 3);
    const b = mremap(vm.ctx, as, a, 3 * PAGE, 3 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
    expect(b).toBeGreaterThan(0);
    expect(bytes(vm, as, b, 3)).toEqual([1, 2, 3]);
    expect(bytes(vm, as, a, 3)).toEqual([0, 0, 0]);
    done(vm, as, before);
  });

  it('old_size 0 duplicates a shared mapping (writes through one are seen through the other); private: EINVAL', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const s = mmap(vm.ctx, as, 0, 2 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    expect(store(vm, as, s + 7, 42)).toBeNull();
    const dup = mremap(vm.ctx, as, s, 0, 2 * PAGE, MREMAP_MAYMOVE);
    expect(dup).toBeGreaterThan(0);
    expect(load(vm, as, dup + 7)).toBe(42);
    expect(store(vm, as, dup + PAGE + 7, 9)).toBeNull();
    expect(load(vm, as, s + PAGE + 7)).toBe(9);
    const p = filled(vm, as, 1);
    expect(mremap(vm.ctx, as, p, 0, PAGE, MREMAP_MAYMOVE)).toBe(-EINVAL);
    done(vm, as, before);
  });

  it('a 2 MiB page moves to a 4 KiB-aligned address: split, every byte kept', () => {
    const vm = bootTestVm(32);
    const before = vm.free();
    const as = vm.newSpace();
    const h = mmap(vm.ctx, as, 0, MIB2, RW, ANON | MAP_HUGETLB);
    expect(h % MIB2).toBe(0);
    for (let k = 0; k < 512; k += 37) expect(store(vm, as, h + k * PAGE + 7, (k % 250) + 1)).toBeNull();
    const splits = vm.ctx.counters.hugeSplits;
    const dest = 0x6000_3000;
    expect(mremap(vm.ctx, as, h, MIB2, MIB2, MREMAP_MAYMOVE | MREMAP_FIXED, dest)).toBe(dest);
    expect(vm.ctx.counters.hugeSplits).toBe(splits + 1);
    for (let k = 0; k < 512; k += 37) expect(load(vm, as, dest + k * PAGE + 7)).toBe((k % 250) + 1);
    expect(typeof load(vm, as, h)).toBe('object');
    done(vm, as, before);
  });
});

describe('placement after a region crosses the mmap base (regression)', () => {
  it('a mapping grown in place past the base, or MAP_FIXED across it: the next mmap lands below, not on it', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const as = vm.newSpace();
    const top = filled(vm, as, 2); // the highest gap ends at the base
    expect(top + 2 * PAGE).toBe(as.mmapBase);
    expect(mremap(vm.ctx, as, top, 2 * PAGE, 10 * PAGE, 0)).toBe(top); // grows past the base
    const next = mmap(vm.ctx, as, 0, 2 * PAGE, RW, ANON); // findGap once threw "regions.insert: overlaps"
    expect(next + 2 * PAGE).toBe(top);
    expect(munmap(vm.ctx, as, top, 10 * PAGE)).toBe(0);
    expect(munmap(vm.ctx, as, next, 2 * PAGE)).toBe(0);
    const across = mmap(vm.ctx, as, as.mmapBase - 4 * PAGE, 8 * PAGE, RW, ANON | MAP_FIXED);
    const below = mmap(vm.ctx, as, 0, 8 * PAGE, RW, ANON);
    expect(below + 8 * PAGE).toBe(across);
    done(vm, as, before);
  });
});

describe('mremap: errno (Linux)', () => {
  it.each([
    ['unknown flags', (a: number) => [a, PAGE, PAGE, 8, 0], -EINVAL],
    ['FIXED without MAYMOVE', (a: number) => [a, PAGE, PAGE, MREMAP_FIXED, 0x7000_0000], -EINVAL],
    ['DONTUNMAP without MAYMOVE', (a: number) => [a, PAGE, PAGE, MREMAP_DONTUNMAP, 0], -EINVAL],
    ['DONTUNMAP changing the size', (a: number) => [a, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0], -EINVAL],
    ['unaligned old_addr', (a: number) => [a + 1, PAGE, PAGE, 0, 0], -EINVAL],
    ['new_size 0', (a: number) => [a, PAGE, 0, 0, 0], -EINVAL],
    ['unaligned new_addr', (a: number) => [a, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, 0x7000_0001], -EINVAL],
    ['overlapping old and new ranges', (a: number) => [a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, a + PAGE], -EINVAL],
    ['new range past user space', (a: number) => [a, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, 2 ** 47 - PAGE], -EINVAL],
    ['new_addr below mmap_min_addr', (a: number) => [a, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, 0], -EPERM],
    ['old_addr unmapped', (a: number) => [a + 16 * PAGE, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0], -EFAULT],
    ['old range past its mapping', (a: number) => [a, 5 * PAGE, 6 * PAGE, MREMAP_MAYMOVE, 0], -EFAULT],
    ['old_addr in the kernel half', () => [2 ** 47, PAGE, PAGE, 0, 0], -EFAULT],
  ] as [string, (a: number) => number[], number][])('%s', (_n, args, errno) => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const a = filled(vm, as, 4, 0x4000_0000);
    const regions = JSON.stringify(as.regions.all());
    const [o, ol, nl, f, na] = args(a) as [number, number, number, number, number];
    expect(mremap(vm.ctx, as, o, ol, nl, f, na)).toBe(errno);
    expect(JSON.stringify(as.regions.all())).toBe(regions);
    expect(bytes(vm, as, a, 4)).toEqual([1, 2, 3, 4]);
  });

  it('is registered as syscall 216 and decodes 64-bit arguments (huge sizes: ENOMEM, huge FIXED target: EINVAL)', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const a = filled(vm, as, 2);
    const fn = syscallHandler(SYS_mremap)!;
    expect(fn).toBeDefined();
    const env = { kctx: vm.ctx, as } as unknown as Parameters<typeof fn>[0];
    const call = (...v: bigint[]): unknown => fn(env, [...v, 0n].slice(0, 6));
    expect(call(BigInt(a), BigInt(2 * PAGE), BigInt(PAGE), 0n, 0n)).toBe(a);
    expect(call(BigInt(a), BigInt(PAGE), 2n ** 63n, BigInt(MREMAP_MAYMOVE), 0n)).toBe(-ENOMEM);
    expect(call(BigInt(a), BigInt(PAGE), BigInt(PAGE), BigInt(MREMAP_MAYMOVE | MREMAP_FIXED), 2n ** 60n)).toBe(-EINVAL);
    expect(call(BigInt(a), BigInt(PAGE), BigInt(PAGE), BigInt(MREMAP_MAYMOVE | MREMAP_FIXED), 2n ** 60n + 1n)).toBe(-EINVAL);
    expect(call(-4096n, BigInt(PAGE), BigInt(PAGE), 0n, 0n)).toBe(-EFAULT);
    expect(bytes(vm, as, a, 2)).toEqual([1, 'X']);
  });
});
