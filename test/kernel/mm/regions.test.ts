/**
 * RegionList (kernel/mm/regions.ts): sorted chunks of region records in RAM frames. Unit by
 * unit (splits, merges, file references, max_map_count), then a seeded random model test
 * against a plain sorted array, the top-down gap search against a naive one, 65,530 records
 * in one list, and frame accounting (every chunk frame back after clear, ENOMEM without RAM
 * changes nothing).
 */
import { describe, expect, it } from 'vitest';
import { RegionList, regionEnd, mergeable, type ChunkMemory, type Region } from '../../../kernel/mm/regions.ts';
import { MAX_MAP_COUNT, RL_WORDS } from '../../../kernel/mm/layout.ts';
import { ENOMEM } from '../../../kernel/errno.ts';

const PAGE = 4096;

/** A RAM of `frames` frames with a free-list allocator that counts frames in use. */
function memory(frames: number): ChunkMemory & { inUse: () => number; limit: number } {
  const sab = new SharedArrayBuffer(frames * PAGE);
  const free: number[] = [];
  for (let f = frames - 1; f >= 1; f--) free.push(f);
  let used = 0;
  const mem = {
    i32: new Int32Array(sab), f64: new Float64Array(sab), limit: Infinity,
    alloc: (): number => {
      if (used >= mem.limit || free.length === 0) return -1;
      used++;
      return free.pop()!;
    },
    free: (ppn: number): void => {
      if (free.includes(ppn)) throw new Error(`double free of ${ppn}`);
      used--;
      free.push(ppn);
    },
    inUse: (): number => used,
  };
  return mem;
}

function make(cap: number, frames = 256): { rl: RegionList; mem: ReturnType<typeof memory> } {
  const mem = memory(frames);
  const meta = new Int32Array(new SharedArrayBuffer(4 * (8 + RL_WORDS)));
  return { rl: new RegionList(meta, 8, mem, cap), mem };
}
const r = (start: number, npages: number, prot = 3, file = 0, pgoff = 0, flags = 0): Region => ({ start, npages, prot, flags, file, pgoff });

/** A tiny seeded generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('RegionList', () => {
  it('splits, removes pieces, merges neighbours with identical attributes, and counts file references', () => {
    const { rl } = make(8);
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
    expect(rl.get(rl.find(15))).toEqual(r(15, 1, 3, 7, 999));
    expect(rl.find(16)).toBe(-1);
    expect(rl.covers(10, 16)).toBe(true);
    expect(rl.covers(10, 17)).toBe(false);
  });

  it('is ENOMEM when full (max_map_count), and a failed hole punch changes nothing', () => {
    const { rl } = make(4);
    for (let i = 0; i < 4; i++) expect(rl.insert(r(i * 10, 5, i))).toBe(0);
    expect(rl.insert(r(100, 1))).toBe(-ENOMEM);
    const before = JSON.stringify(rl.all());
    expect(rl.removeRange(1, 2)).toBe(-ENOMEM);
    expect(rl.setProt(1, 2, 1)).toBe(-ENOMEM);
    expect(JSON.stringify(rl.all())).toBe(before);
    expect(rl.removeRange(0, 5)).toEqual([r(0, 5, 0)]);
  });

  it('keeps flags, files and page offsets up to 2^40 exactly', () => {
    const { rl } = make(16);
    const x = r(2 ** 35 - 7, 3, 7, 65535, 2 ** 40 + 3, 0x3f);
    expect(rl.insert(x)).toBe(0);
    expect(rl.get(rl.find(2 ** 35 - 5))).toEqual(x);
  });

  it('follows a plain sorted array through random inserts, unmaps, protects and merges (seeded)', () => {
    for (const seed of [1, 2, 3]) {
      const rand = rng(seed);
      const { rl, mem } = make(MAX_MAP_COUNT, 1024);
      let model: Region[] = [];
      const SPACE = 20_000;
      for (let step = 0; step < 4000; step++) {
        const s = Math.floor(rand() * SPACE), n = 1 + Math.floor(rand() * 40), e = s + n;
        const op = rand();
        if (op < 0.5) {
          if (model.some((x) => x.start < e && regionEnd(x) > s)) continue;
          const x = r(s, n, 1 + Math.floor(rand() * 3));
          expect(rl.insert(x)).toBe(0);
          model.push(x);
          model.sort((a, b) => a.start - b.start);
          if (rand() < 0.5) {
            rl.mergeRange(s, e);
            model = mergeLocal(model, s, e);
          }
        } else if (op < 0.8) {
          const got = rl.removeRange(s, e);
          expect(typeof got).not.toBe('number');
          model = cut(model, s, e).rest;
        } else {
          const prot = 1 + Math.floor(rand() * 3);
          expect(rl.setProt(s, e, prot)).toBe(0);
          const c = cut(model, s, e);
          model = mergeLocal([...c.rest, ...c.inside.map((x) => ({ ...x, prot }))].sort((a, b) => a.start - b.start), s, e);
        }
        if (step % 97 === 0 || step === 3999) {
          expect(rl.all()).toEqual(model);
          expect(rl.count).toBe(model.length);
          for (let k = 0; k < 20; k++) {
            const v = Math.floor(rand() * SPACE);
            const want = model.findIndex((x) => x.start <= v && v < regionEnd(x));
            const p = rl.find(v);
            expect(p >= 0).toBe(want >= 0);
            if (want >= 0) expect(rl.get(p)).toEqual(model[want]);
            const lb = rl.lowerBound(v), wantLb = model.findIndex((x) => regionEnd(x) > v);
            expect(lb >= 0 ? rl.get(lb) : null).toEqual(wantLb >= 0 ? model[wantLb] : null);
          }
        }
      }
      expect(mem.inUse()).toBe(rl.frames);
      rl.clear();
      expect(mem.inUse()).toBe(0);
    }
  });

  it('finds the highest gap that fits, like a walk over every record', () => {
    const rand = rng(7);
    const { rl } = make(MAX_MAP_COUNT, 1024);
    for (let i = 0; i < 3000; i++) {
      const s = Math.floor(rand() * 1_000_000), n = 1 + Math.floor(rand() * 300);
      if (!rl.overlaps(s, s + n)) rl.insert(r(s, n));
    }
    const all = rl.all();
    const naive = (top: number, floor: number, npages: number, align: number): number => {
      let t = top;
      const above = all.findIndex((x) => regionEnd(x) > t);
      if (above >= 0) t = Math.min(t, all[above]!.start);
      for (let i = (above >= 0 ? above : all.length) - 1; ; i--) {
        const below = i >= 0 ? regionEnd(all[i]!) : floor;
        if (below < t) {
          let st = t - npages;
          st -= ((st % align) + align) % align;
          if (st >= Math.max(below, floor)) return st;
        }
        if (i < 0) return -1;
        t = Math.min(t, all[i]!.start);
      }
    };
    for (let k = 0; k < 300; k++) {
      const top = Math.floor(rand() * 1_100_000), npages = 1 + Math.floor(rand() * 400), align = rand() < 0.3 ? 512 : 1;
      expect(rl.findGapTopDown(top, 16, npages, align), `top ${top} npages ${npages} align ${align}`).toBe(naive(top, 16, npages, align));
    }
  });

  it('holds 65,530 one-page mappings inserted top-down (max_map_count), the next is ENOMEM, and clear frees every frame', () => {
    const { rl, mem } = make(MAX_MAP_COUNT, 4096);
    const top = 10_000_000;
    let misplaced = 0, failed = 0;
    for (let i = 0; i < MAX_MAP_COUNT; i++) {
      // alternate protections so neighbours never merge; each below the previous, as mmap places them
      const at = rl.findGapTopDown(top, 16, 1, 1);
      if (at !== top - 1 - i) misplaced++;
      if (rl.insert(r(at, 1, 1 + (i % 2))) !== 0) failed++;
      rl.mergeRange(at, at + 1);
    }
    expect({ misplaced, failed }).toEqual({ misplaced: 0, failed: 0 });
    expect(rl.count).toBe(MAX_MAP_COUNT);
    expect(rl.insert(r(1000, 1))).toBe(-ENOMEM);
    expect(rl.get(rl.find(top - 1))).toEqual(r(top - 1, 1, 1));
    expect(rl.frames).toBeLessThan(MAX_MAP_COUNT / 64 + 8); // chunks stay well filled
    // punch every other one out, then check order and accounting
    let wrong = 0;
    for (let i = 0; i < MAX_MAP_COUNT; i += 2) if ((rl.removeRange(top - 1 - i, top - i) as Region[]).length !== 1) wrong++;
    expect(wrong).toBe(0);
    expect(rl.count).toBe(MAX_MAP_COUNT / 2);
    const all = rl.all();
    for (let i = 1; i < all.length; i++) expect(all[i]!.start).toBeGreaterThan(all[i - 1]!.start);
    expect(mem.inUse()).toBe(rl.frames);
    expect(rl.frames).toBeLessThan(MAX_MAP_COUNT / 2 / 32 + 8); // emptied chunks were merged
    rl.clear();
    expect(mem.inUse()).toBe(0);
  });

  it('without RAM for a new chunk, insert and a splitting unmap are ENOMEM and change nothing', () => {
    const { rl, mem } = make(MAX_MAP_COUNT, 64);
    for (let i = 0; i < 128; i++) expect(rl.insert(r(i * 4, 2, 1))).toBe(0); // one full chunk
    mem.limit = mem.inUse();
    const before = JSON.stringify(rl.all());
    expect(rl.insert(r(1000, 1))).toBe(-ENOMEM);
    expect(rl.removeRange(1, 2)).toBe(-ENOMEM);
    expect(rl.setProt(4 * 5 + 1, 4 * 9 + 1, 2)).toBe(-ENOMEM);
    expect(JSON.stringify(rl.all())).toBe(before);
    expect(mem.inUse()).toBe(mem.limit);
    mem.limit = Infinity;
    expect(rl.insert(r(1000, 1))).toBe(0);
    rl.clear();
    expect(mem.inUse()).toBe(0);
  });
});

/** Remove [s, e) from a model list: the records wholly or partly inside, cut at s and e. */
function cut(model: Region[], s: number, e: number): { rest: Region[]; inside: Region[] } {
  const rest: Region[] = [], inside: Region[] = [];
  for (const x of model) {
    const xe = regionEnd(x);
    if (xe <= s || x.start >= e) { rest.push(x); continue; }
    if (x.start < s) rest.push({ ...x, npages: s - x.start });
    const is = Math.max(s, x.start), ie = Math.min(e, xe);
    inside.push({ ...x, start: is, npages: ie - is, pgoff: x.pgoff + is - x.start });
    if (xe > e) rest.push({ ...x, start: e, npages: xe - e, pgoff: x.pgoff + e - x.start });
  }
  return { rest, inside };
}

/** What mergeRange(s, e) does, on a plain array: merge neighbours among the records touching [s, e]. */
function mergeLocal(model: Region[], s: number, e: number): Region[] {
  const out = [...model];
  const lb = out.findIndex((x) => regionEnd(x) > s);
  let i = lb < 0 ? out.length - 1 : Math.max(0, lb - 1);
  while (i >= 0 && i + 1 < out.length && out[i]!.start <= e) {
    if (mergeable(out[i]!, out[i + 1]!)) out.splice(i, 2, { ...out[i]!, npages: out[i]!.npages + out[i + 1]!.npages });
    else i++;
  }
  return out;
}
