import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCtl, FRAME_ALLOCATED, FRAME_HUGE, RESERVED_FRAMES, HART_CACHE_CAPACITY } from '../../../kernel/layout.ts';
import { FrameAllocator, NO_FRAME } from '../../../kernel/mm/frames.ts';
import { FRAMES_PER_MEGAPAGE } from '../../../cpu/ram.ts';
import { Machine } from '../../../scheduler/machine.ts';
import { HART_TEST_COMMANDS } from '../../helpers/commands.ts';
import { rng } from '../../helpers/rng.ts';

const FRAMES = 4096; // 16 MiB, 8 blocks

function fresh(hartId = -1, cpus = 2): FrameAllocator {
  const ctl = createCtl({ cpus, frames: FRAMES });
  FrameAllocator.initialize(ctl);
  return new FrameAllocator(ctl, hartId);
}

describe('frame allocator (one thread)', () => {
  it('starts with every frame free except the reserved ones', () => {
    const s = fresh().stats();
    expect(s).toMatchObject({ total: FRAMES, free: FRAMES - RESERVED_FRAMES, inUse: RESERVED_FRAMES, wholeBlocks: 7 });
  });

  it('hands out every frame exactly once, never frame 0, then fails cleanly', () => {
    const fa = fresh();
    const seen = new Set<number>();
    for (;;) {
      const ppn = fa.alloc();
      if (ppn === NO_FRAME) break;
      expect(seen.has(ppn)).toBe(false);
      seen.add(ppn);
    }
    expect(seen.size).toBe(FRAMES - RESERVED_FRAMES);
    expect(seen.has(0)).toBe(false);
    expect(fa.stats().free).toBe(0);
    for (const p of seen) fa.free(p);
    expect(fa.stats()).toMatchObject({ free: FRAMES - RESERVED_FRAMES, wholeBlocks: 7 });
  });

  it('fails loudly on a double free and on freeing a never-allocated frame', () => {
    const fa = fresh(0);
    const p = fa.alloc();
    fa.free(p);
    expect(() => fa.free(p)).toThrow(`frames.free: frame ${p} is not allocated`);
    expect(() => fa.free(0)).toThrow('frames.free: frame 0 is not allocated');
    expect(() => fa.free(FRAMES)).toThrow(/outside RAM/);
  });

  it('counts references: alloc = 1, inc/dec return the new count, put frees at 0', () => {
    const fa = fresh(0);
    const p = fa.alloc();
    expect(fa.refcount(p)).toBe(1);
    expect(fa.incRef(p)).toBe(2);
    expect(fa.incRef(p)).toBe(3);
    expect(() => fa.free(p)).toThrow(/still has refcount 3/);
    expect(fa.decRef(p)).toBe(2);
    expect(fa.put(p)).toBe(false);
    expect(fa.put(p)).toBe(true);
    expect(fa.refcount(p)).toBe(0);
    expect(() => fa.incRef(p)).toThrow(/not allocated/);
    expect(() => fa.decRef(p)).toThrow(/no references/);
    expect(() => fa.free(p)).toThrow(/not allocated/);
  });

  it('per-hart caches count as free and flush back to the pool', () => {
    const fa = fresh(1);
    const start = fa.stats().free;
    const got = Array.from({ length: 10 }, () => fa.alloc());
    let s = fa.stats();
    expect(s.free).toBe(start - 10);
    expect(s.cached[1]).toBeGreaterThan(0);
    for (const p of got) fa.free(p);
    s = fa.stats();
    expect(s.free).toBe(start);
    expect(s.cached[1]! + s.poolFree).toBe(start);
    fa.flushCache();
    expect(fa.stats().cached[1]).toBe(0);
    expect(fa.stats().poolFree).toBe(start);
    // A full cache drains in batches, never beyond capacity.
    const many = Array.from({ length: HART_CACHE_CAPACITY * 3 }, () => fa.alloc());
    for (const p of many) fa.free(p);
    expect(fa.stats().cached[1]).toBeLessThanOrEqual(HART_CACHE_CAPACITY);
    expect(fa.stats().free).toBe(start);
  });
});

describe('2 MiB blocks', () => {
  it('are aligned, exhaust cleanly, and freeHuge makes them whole', () => {
    const fa = fresh();
    const blocks: number[] = [];
    for (let b; (b = fa.allocHuge()) !== NO_FRAME;) blocks.push(b);
    expect(blocks.length).toBe(7); // block 0 holds the reserved frame
    for (const b of blocks) {
      expect(b % FRAMES_PER_MEGAPAGE).toBe(0);
      expect(fa.frameState(b + 511)).toBe(FRAME_HUGE);
      expect(fa.refcount(b)).toBe(1);
    }
    expect(fa.stats()).toMatchObject({ hugeInUse: 7, hugeFails: 1, free: FRAMES_PER_MEGAPAGE - RESERVED_FRAMES });
    expect(() => fa.freeHuge(blocks[0]! + 1)).toThrow(/not the first frame of an allocated 2 MiB block/);
    for (const b of blocks) fa.freeHuge(b);
    expect(() => fa.freeHuge(blocks[0]!)).toThrow(/freeHuge/);
    expect(fa.stats()).toMatchObject({ hugeInUse: 0, wholeBlocks: 7, free: FRAMES - RESERVED_FRAMES });
  });

  it('split into single frames, then merge back when the last frame returns', () => {
    const fa = fresh();
    const b = fa.allocHuge();
    fa.splitHuge(b);
    expect(fa.frameState(b + 7)).toBe(FRAME_ALLOCATED);
    expect(fa.stats().wholeBlocks).toBe(6);
    for (let k = 0; k < FRAMES_PER_MEGAPAGE - 1; k++) fa.free(b + k);
    expect(fa.stats().wholeBlocks).toBe(6); // one frame still out
    fa.free(b + FRAMES_PER_MEGAPAGE - 1);
    expect(fa.stats().wholeBlocks).toBe(7);
    expect(fa.stats().merges).toBeGreaterThanOrEqual(1);
  });

  it('fragmentation makes allocHuge fail cleanly; falling back to single frames works', () => {
    const fa = fresh();
    const all: number[] = [];
    for (let p; (p = fa.alloc()) !== NO_FRAME;) all.push(p);
    // Keep one frame in every block, free the rest: every block is split, none whole.
    const keep = new Set<number>();
    const r = rng(7);
    for (let b = 0; b < FRAMES / FRAMES_PER_MEGAPAGE; b++) keep.add(b * FRAMES_PER_MEGAPAGE + 1 + Math.floor(r() * 511));
    for (const p of all) if (!keep.has(p)) fa.free(p);
    expect(fa.stats().free).toBeGreaterThan(7 * FRAMES_PER_MEGAPAGE - 100);
    expect(fa.allocHuge()).toBe(NO_FRAME);
    // Fallback: 512 single frames are still there.
    const singles = Array.from({ length: FRAMES_PER_MEGAPAGE }, () => fa.alloc());
    expect(singles.every((p) => p > 0)).toBe(true);
    expect(new Set(singles).size).toBe(FRAMES_PER_MEGAPAGE);
    for (const p of [...singles, ...keep]) fa.free(p);
    expect(fa.allocHuge()).not.toBe(NO_FRAME);
    expect(fa.stats().free).toBe(FRAMES - RESERVED_FRAMES - FRAMES_PER_MEGAPAGE);
  });

  it('single frames come from split blocks before whole blocks are split', () => {
    const fa = fresh();
    const a = fa.alloc();
    const b = fa.alloc();
    expect(Math.floor(a / 512)).toBe(0);
    expect(Math.floor(b / 512)).toBe(0);
    expect(fa.stats().splits).toBe(0);
  });
});

describe('frame allocator on 4 harts (real workers)', () => {
  let m: Machine;
  beforeAll(async () => {
    m = await Machine.boot({ cpus: 4, memory: 16 * 2 ** 20, commandModules: [HART_TEST_COMMANDS] });
  });
  afterAll(() => m?.shutdown());

  it('100,000+ concurrent random allocs/frees: no frame handed out twice, free count returns exactly', async () => {
    const start = m.frameStats().free;
    const res = await m.runOnAllHarts<{ allocs: number; frees: number; violations: number; failures: number }>(
      'test.allocStress', (h) => ({ seed: 1000 + h, ops: 60_000, maxHeld: 400 }),
    );
    const allocs = res.reduce((s, r) => s + r.allocs, 0);
    expect(allocs).toBeGreaterThanOrEqual(100_000);
    expect(res.map((r) => r.violations)).toEqual([0, 0, 0, 0]);
    expect(res.map((r) => r.failures)).toEqual([0, 0, 0, 0]);
    for (const r of res) expect(r.frees).toBe(r.allocs);
    expect(m.frameStats().free).toBe(start);
    await m.runOnAllHarts('frames.flushCache');
    const s = m.frameStats();
    expect(s.poolFree).toBe(start);
    expect(s.wholeBlocks).toBe(7); // everything merged back
  });

  it('concurrent refcount increments/decrements end exact', async () => {
    const fa = new FrameAllocator(m.ctl, -1);
    const ppn = fa.alloc();
    const res = await m.runOnAllHarts<{ incs: number; decs: number }>(
      'test.refcount', (h) => ({ ppn, seed: 50 + h, incs: 20_000, keep: h }),
    );
    const net = res.reduce((s, r) => s + r.incs - r.decs, 0);
    expect(net).toBe(0 + 1 + 2 + 3);
    expect(fa.refcount(ppn)).toBe(1 + net);
    for (let k = 0; k < net; k++) fa.decRef(ppn);
    expect(fa.put(ppn)).toBe(true);
  });
});
