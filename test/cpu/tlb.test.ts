import { beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PhysicalMemory } from '../../cpu/ram.ts';
import { ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE, type AccessKind } from '../../cpu/trap.ts';
import {
  HART_COUNTER_SLOTS, HC_AD_UPDATES, HC_FLUSH_ALL, HC_FLUSH_ASID, HC_FLUSH_PAGE, HC_FLUSH_PAGE_ASID,
  HC_TLB_EVICTIONS, HC_TLB_HIT_FETCH, HC_TLB_HIT_LOAD, HC_TLB_HIT_STORE, HC_TLB_MISS_FETCH,
  HC_TLB_MISS_LOAD, HC_TLB_MISS_STORE, HC_WALKS, HC_WALK_CACHE_HITS, HC_WALK_FAULTS,
} from '../../cpu/counters.ts';
import { PTE_A, PTE_D, PTE_G, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, makePte, pteFlags, vaLoHi } from '../../cpu/pte.ts';
import {
  SATP_MODE_BARE, SATP_MODE_SV48, TLB_DEFAULTS, TRANSLATE_ACCESS_FAULT, TRANSLATE_PAGE_FAULT, Tlb, type TlbConfig,
} from '../../cpu/tlb.ts';
import { PageTableBuilder } from '../helpers/pagetable.ts';

const MiB = 1024 * 1024;
const DATA = 8 * MiB;
const ram = PhysicalMemory.create(16 * MiB);
const URWX = PTE_U | PTE_R | PTE_W | PTE_X;

let counters: Float64Array;
let tlb: Tlb;
let invalidations = 0;

function setup(config: Partial<TlbConfig> = {}): void {
  counters = new Float64Array(HART_COUNTER_SLOTS);
  tlb = new Tlb(ram, counters, config);
  invalidations = 0;
  tlb.onInvalidate = () => { invalidations++; };
}
function tables(first: number): PageTableBuilder {
  return new PageTableBuilder(ram, first, first + 256);
}
function tr(va: bigint | number, kind: AccessKind = ACCESS_LOAD): number {
  const [lo, hi] = vaLoHi(va);
  return tlb.translate(lo, hi, kind);
}
function probe(va: bigint | number, asid?: number): number {
  const [lo, hi] = vaLoHi(va);
  return tlb.probe(lo, hi, asid);
}
function sfence(va: number | null, asid: number | null): void {
  if (va === null) tlb.sfenceVma(null, 0, asid);
  else { const [lo, hi] = vaLoHi(va); tlb.sfenceVma(lo, hi, asid); }
}

beforeEach(() => {
  ram.u8.fill(0, 0, 4 * MiB); // the table frames
  setup();
});

describe('Tlb: hits, misses, D bit', () => {
  it('a miss walks and fills; the next access hits without walking; counters per kind', () => {
    const pt = tables(1);
    pt.map(0x1000, DATA, URWX);
    tlb.setSatp(...pt.satp(1));
    expect(tr(0x1234, ACCESS_FETCH)).toBe(DATA + 0x234);
    expect(tr(0x1238, ACCESS_FETCH)).toBe(DATA + 0x238);
    expect(tr(0x1ff8, ACCESS_LOAD)).toBe(DATA + 0xff8);
    expect(tlb.lastPageBase).toBe(DATA);
    expect(counters[HC_TLB_MISS_FETCH]).toBe(1);
    expect(counters[HC_TLB_HIT_FETCH]).toBe(1);
    expect(counters[HC_TLB_HIT_LOAD]).toBe(1);
    expect(counters[HC_WALKS]).toBe(1);
    expect(counters[HC_AD_UPDATES]).toBe(1);
    expect(tlb.entryCount()).toBe(1);
  });

  it('a clean page is cached read-only: the first store walks again and sets D', () => {
    const pt = tables(1);
    const ptePa = pt.map(0x1000, DATA, PTE_U | PTE_R | PTE_W);
    tlb.setSatp(...pt.satp(1));
    expect(tr(0x1010, ACCESS_LOAD)).toBe(DATA + 0x10);
    expect(tlb.lastWritable).toBe(false);
    expect(pteFlags(pt.readPte(ptePa)) & PTE_D).toBe(0);
    expect(tr(0x1010, ACCESS_STORE)).toBe(DATA + 0x10);
    expect(tlb.lastWritable).toBe(true);
    expect(pteFlags(pt.readPte(ptePa)) & PTE_D).toBe(PTE_D);
    expect(counters[HC_TLB_MISS_STORE]).toBe(1);
    expect(counters[HC_WALKS]).toBe(2);
    expect(tr(0x1020, ACCESS_STORE)).toBe(DATA + 0x20);
    expect(counters[HC_TLB_HIT_STORE]).toBe(1);
    expect(tlb.entryCount()).toBe(1);
  });

  it('faults are not cached, and a missing permission walks again', () => {
    const pt = tables(1);
    tlb.setSatp(...pt.satp(1));
    expect(tr(0x5000)).toBe(TRANSLATE_PAGE_FAULT);
    expect(counters[HC_WALK_FAULTS]).toBe(1);
    pt.map(0x5000, DATA, PTE_U | PTE_R | PTE_A);
    expect(tr(0x5000)).toBe(DATA); // no sfence needed: the fault left nothing behind
    expect(tr(0x5000, ACCESS_STORE)).toBe(TRANSLATE_PAGE_FAULT);
    expect(tr(0x5000, ACCESS_FETCH)).toBe(TRANSLATE_PAGE_FAULT);
    expect(counters[HC_WALKS]).toBe(4);
    expect(tr(0x8000_0000_5000n)).toBe(TRANSLATE_PAGE_FAULT); // non-canonical
    expect(tlb.entryCount()).toBe(0);
  });

  it('Bare mode: va = pa, beyond RAM an access fault', () => {
    expect(tlb.mode).toBe(SATP_MODE_BARE);
    expect(tr(0x12345)).toBe(0x12345);
    expect(tr(16 * MiB)).toBe(TRANSLATE_ACCESS_FAULT);
    expect(() => tlb.setSatp(8, 0, 0)).toThrow(/setSatp/);
    expect(() => new Tlb(ram, counters, { entries: 12, ways: 4 })).toThrow(/Tlb: bad config/);
    expect(TLB_DEFAULTS.entries % TLB_DEFAULTS.ways).toBe(0);
  });
});

describe('Tlb: stale entries are used until flushed', () => {
  it('a re-pointed PTE still translates to the old frame until the right sfence.vma', () => {
    const pt = tables(1);
    const ptePa = pt.map(0x7000, DATA, URWX | PTE_A | PTE_D);
    pt.map(0x9000, DATA + 0x9000, URWX | PTE_A | PTE_D);
    tlb.setSatp(...pt.satp(3));
    expect(tr(0x7008)).toBe(DATA + 8);
    expect(tr(0x9000)).toBe(DATA + 0x9000);
    pt.writePte(ptePa, makePte((DATA + 0x4000) / 4096, PTE_V | URWX | PTE_A | PTE_D));
    expect(tr(0x7008)).toBe(DATA + 8); // stale, used
    sfence(0x7000, 4); // another address space
    sfence(null, 4);
    sfence(0x9000, null); // another page
    sfence(0x9000, 3);
    expect(tr(0x7008, ACCESS_STORE)).toBe(DATA + 8);
    expect(counters[HC_WALKS]).toBe(2);
    sfence(0x7abc, 3); // any address inside the page, the right ASID
    expect(tr(0x7008)).toBe(DATA + 0x4008);
  });

  it('a stale writable entry keeps allowing stores after W is removed; unmapped pages keep translating', () => {
    const pt = tables(1);
    const ptePa = pt.map(0x7000, DATA, PTE_U | PTE_R | PTE_W | PTE_A | PTE_D);
    tlb.setSatp(...pt.satp(3));
    expect(tr(0x7000, ACCESS_STORE)).toBe(DATA);
    pt.writePte(ptePa, makePte(DATA / 4096, PTE_V | PTE_U | PTE_R | PTE_A | PTE_D)); // write-protect
    expect(tr(0x7000, ACCESS_STORE)).toBe(DATA);
    expect(tlb.lastWritable).toBe(true);
    pt.writePte(ptePa, 0n); // unmap
    expect(tr(0x7000, ACCESS_LOAD)).toBe(DATA);
    sfence(0x7000, null);
    expect(tr(0x7000, ACCESS_STORE)).toBe(TRANSLATE_PAGE_FAULT);
  });
});

describe('Tlb: ASIDs, global entries, sfence.vma forms', () => {
  it('keeps address spaces apart by ASID without flushing on satp writes', () => {
    const a = tables(1), b = tables(300);
    a.map(0x4000, DATA, URWX | PTE_A);
    b.map(0x4000, DATA + 0x1000, URWX | PTE_A);
    tlb.setSatp(...a.satp(1));
    expect(tr(0x4000)).toBe(DATA);
    tlb.setSatp(...b.satp(2));
    expect(tr(0x4000)).toBe(DATA + 0x1000);
    tlb.setSatp(...a.satp(1));
    expect(tr(0x4000)).toBe(DATA);
    expect(counters[HC_WALKS]).toBe(2);
    expect(probe(0x4000, 1)).toBe(DATA);
    expect(probe(0x4000, 2)).toBe(DATA + 0x1000);
    expect(probe(0x4000, 3)).toBe(-1);
    // Same root, new ASID: a different tag, so a fresh walk.
    tlb.setSatp(...a.satp(0x1_0001)); // only 16 bits count: ASID 1
    expect(tr(0x4000)).toBe(DATA);
    expect(counters[HC_WALKS]).toBe(2);
  });

  it('global entries match every ASID and survive ASID-specific flushes', () => {
    const a = tables(1), b = tables(300);
    a.map(0x6000, DATA, URWX | PTE_G | PTE_A);
    tlb.setSatp(...a.satp(1));
    expect(tr(0x6000)).toBe(DATA);
    tlb.setSatp(...b.satp(2)); // b maps nothing: the global entry still answers
    expect(tr(0x6000)).toBe(DATA);
    sfence(null, 1);
    sfence(null, 2);
    sfence(0x6000, 1);
    sfence(0x6000, 2);
    expect(tr(0x6000)).toBe(DATA);
    expect(counters[HC_WALKS]).toBe(1);
    sfence(0x6000, null);
    expect(tr(0x6000)).toBe(TRANSLATE_PAGE_FAULT);
    tlb.setSatp(...a.satp(1));
    expect(tr(0x6000)).toBe(DATA);
    sfence(null, null);
    expect(probe(0x6000)).toBe(-1);
  });

  it.each([
    ['x0, x0', null, null, HC_FLUSH_ALL, [false, false, false, false, false]],
    ['x0, asid 1', null, 1, HC_FLUSH_ASID, [false, false, true, true, true]],
    ['va p1, x0', 'p1', null, HC_FLUSH_PAGE, [false, true, false, true, true]],
    ['va p1, asid 1', 'p1', 1, HC_FLUSH_PAGE_ASID, [false, true, true, true, true]],
    ['va g, asid 1', 'g', 1, HC_FLUSH_PAGE_ASID, [true, true, true, true, true]],
    ['va g, x0', 'g', null, HC_FLUSH_PAGE, [true, true, true, true, false]],
  ] as const)('sfence.vma %s removes exactly what the spec says', (_n, which, asid, slot, keep) => {
    // entries: [p1 asid1, p2 asid1, p1 asid2, p2 asid2, g global]
    const P1 = 0x1_0000, P2 = 0x2_0000, G = 0x3_0000;
    const a = tables(1), b = tables(300);
    a.map(P1, DATA, URWX | PTE_A); a.map(P2, DATA + 0x1000, URWX | PTE_A); a.map(G, DATA + 0x2000, URWX | PTE_A | PTE_G);
    b.map(P1, DATA + 0x3000, URWX | PTE_A); b.map(P2, DATA + 0x4000, URWX | PTE_A);
    tlb.setSatp(...a.satp(1)); tr(P1); tr(P2); tr(G);
    tlb.setSatp(...b.satp(2)); tr(P1); tr(P2);
    expect(tlb.entryCount()).toBe(5);
    const before = invalidations;
    sfence(which === null ? null : which === 'p1' ? P1 + 0x123 : G, asid);
    expect(invalidations).toBeGreaterThan(before);
    expect(counters[slot]).toBe(1);
    const present = [probe(P1, 1) === DATA, probe(P2, 1) === DATA + 0x1000, probe(P1, 2) === DATA + 0x3000,
      probe(P2, 2) === DATA + 0x4000, probe(G, 7) === DATA + 0x2000];
    expect(present).toEqual(keep);
  });
});

describe('Tlb: superpages and eviction', () => {
  it('caches 2 MiB and 1 GiB leaves in the superpage array; sfence of any va inside removes them', () => {
    const pt = tables(1);
    pt.map(0x4000_0000 - 2 * MiB, 4 * MiB, URWX | PTE_A | PTE_D, 1);
    pt.map(0x8000_0000, 0, URWX | PTE_A | PTE_D, 2);
    tlb.setSatp(...pt.satp(1));
    expect(tr(0x4000_0000 - 2 * MiB + 0x1_2345)).toBe(4 * MiB + 0x1_2345);
    expect(tr(0x4000_0000 - 0x10, ACCESS_STORE)).toBe(6 * MiB - 0x10);
    expect(tlb.lastPageBase).toBe(6 * MiB - 0x1000);
    expect(tlb.lastWritable).toBe(true);
    expect(tr(0x8000_0000 + 0xa_bcde, ACCESS_FETCH)).toBe(0xa_bcde);
    expect(tr(0x8000_0000 + 15 * MiB)).toBe(15 * MiB);
    expect(tr(0x8000_0000 + 16 * MiB)).toBe(TRANSLATE_ACCESS_FAULT); // cached 1 GiB leaf, past RAM
    expect(counters[HC_WALKS]).toBe(2);
    expect(tlb.superEntryCount()).toBe(2);
    expect(tlb.entryCount()).toBe(0);
    sfence(0x4000_0000 - 0x5000, 1); // a different 4 KiB page of the same superpage
    expect(tlb.superEntryCount()).toBe(1);
    sfence(0x8000_0000 + 0x3000_0000, null);
    expect(tlb.superEntryCount()).toBe(0);
  });

  it('evicts from a full set with a tiny config, deterministically for a seed', () => {
    const run = (seed: number): number[] => {
      setup({ entries: 4, ways: 2, superEntries: 1, seed });
      const pt = tables(1);
      for (let i = 0; i < 4; i++) pt.map(0x10_0000 + i * 0x2000, DATA + i * 0x1000, URWX | PTE_A); // vpn even: set 0
      pt.map(0x20_0000, 4 * MiB, URWX | PTE_A, 1);
      pt.map(0x40_0000, 6 * MiB, URWX | PTE_A, 1);
      tlb.setSatp(...pt.satp(1));
      for (let i = 0; i < 3; i++) expect(tr(0x10_0000 + i * 0x2000)).toBe(DATA + i * 0x1000);
      expect(counters[HC_TLB_EVICTIONS]).toBe(1);
      expect(invalidations).toBe(1);
      expect(tlb.entryCount()).toBe(2);
      tr(0x20_0000); tr(0x40_0000);
      expect(counters[HC_TLB_EVICTIONS]).toBe(2);
      expect(tlb.superEntryCount()).toBe(1);
      expect(probe(0x20_0000)).toBe(-1);
      return [0, 1, 2].map((i) => probe(0x10_0000 + i * 0x2000));
    };
    const first = run(7);
    expect(first.filter((p) => p === -1)).toHaveLength(1);
    expect(first[2]).toBe(DATA + 0x2000); // the newest one is always present
    expect(run(7)).toEqual(first);
    const victims = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((s) => run(s).indexOf(-1)));
    expect(victims).toEqual(new Set([0, 1])); // both ways get chosen by some seed
  });
});

// ---------------------------------------------------------------------------------------
// Property: random page-table edits, satp switches, translations and sfences against a
// reference model of the PTEs in RAM plus what the TLB may (or, without eviction, must) hold.

const SLOTS_4K = 6;
const SLOT_2M = SLOTS_4K; // slot index of the 2 MiB region
const slotVa = (s: number): number => (s === SLOT_2M ? 0x4000_0000 : 0x40_0000 + s * 0x1000);
const slotSize = (s: number): number => (s === SLOT_2M ? 2 * MiB : 4096);
const GLOBAL = -1;

type Cmd =
  | { t: 'pte'; root: number; slot: number; frame: number; flags: number }
  | { t: 'satp'; root: number }
  | { t: 'tr'; slot: number; off: number; kind: AccessKind }
  | { t: 'sfence'; slot: number | null; off: number; asid: number | null };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ t: fc.constant('pte' as const), root: fc.integer({ min: 0, max: 1 }), slot: fc.integer({ min: 0, max: SLOT_2M }), frame: fc.integer({ min: 0, max: 1 }), flags: fc.integer({ min: 0, max: 0xff }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('satp' as const), root: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('tr' as const), slot: fc.integer({ min: 0, max: SLOT_2M }), off: fc.nat(), kind: fc.constantFrom<AccessKind>(ACCESS_LOAD, ACCESS_STORE, ACCESS_FETCH) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('sfence' as const), slot: fc.option(fc.integer({ min: 0, max: SLOT_2M })), off: fc.nat(), asid: fc.option(fc.integer({ min: 1, max: 3 })) }) },
);

interface Item { tag: number; slot: number; pa: number; perm: number }

function runModel(cmds: Cmd[], config: Partial<TlbConfig>, exact: boolean): void {
  ram.u8.fill(0, 0, 4 * MiB);
  setup(config);
  const roots = [tables(1), tables(300)];
  const asids = [1, 2];
  const leafPa = roots.map((pt) => Array.from({ length: SLOT_2M + 1 }, (_, s) => pt.slot(slotVa(s), s === SLOT_2M ? 1 : 0)));
  for (let r = 0; r < 2; r++) { // start with every slot mapped (user RWX), root 1 half global
    for (let s = 0; s <= SLOT_2M; s++) {
      const frame = s === SLOT_2M ? 4 * MiB : DATA + s * 2 * 4096;
      roots[r].writePte(leafPa[r][s], makePte(frame / 4096, PTE_V | URWX | (r === 1 && s % 2 ? PTE_G : 0)));
    }
  }
  let cur = 0;
  tlb.setSatp(...roots[0].satp(asids[0]));
  let items: Item[] = [];
  let translations = 0;

  for (const c of cmds) {
    if (c.t === 'pte') {
      let flags = c.flags | PTE_V;
      if (c.slot === SLOT_2M && (flags & (PTE_R | PTE_X)) === 0) flags &= ~PTE_V; // no pointer in the 2 MiB slot
      const frame = c.slot === SLOT_2M ? (4 + 2 * c.frame) * MiB : DATA + (c.slot * 2 + c.frame) * 4096;
      roots[c.root].writePte(leafPa[c.root][c.slot], makePte(frame / 4096, flags));
    } else if (c.t === 'satp') {
      cur = c.root;
      tlb.setSatp(...roots[cur].satp(asids[cur]));
    } else if (c.t === 'sfence') {
      const off = c.off % slotSize(c.slot ?? 0);
      sfence(c.slot === null ? null : slotVa(c.slot) + off, c.asid);
      items = items.filter((it) => !((c.slot === null || it.slot === c.slot) && (c.asid === null || it.tag === c.asid)));
    } else {
      translations++;
      const off = c.off % slotSize(c.slot);
      const asid = asids[cur];
      const ptePa = leafPa[cur][c.slot];
      // Reference walk of the PTE as it is now (Svadu: A/D never decide success).
      const pte = roots[cur].readPte(ptePa);
      const f = pteFlags(pte);
      const leafOk = (f & PTE_V) !== 0 && (f & (PTE_R | PTE_W)) !== PTE_W && (f & (PTE_R | PTE_X)) !== 0 &&
        (f & PTE_U) !== 0 && ((f >> c.kind) & 1) !== 0;
      const walkResult = leafOk ? Number(pte >> 10n) * 4096 + off : TRANSLATE_PAGE_FAULT;
      const allowing = items.filter((it) => it.slot === c.slot && (it.tag === asid || it.tag === GLOBAL) && ((it.perm >> c.kind) & 1));
      const misses = counters[HC_TLB_MISS_LOAD] + counters[HC_TLB_MISS_STORE] + counters[HC_TLB_MISS_FETCH];
      const got = tr(slotVa(c.slot) + off, c.kind);
      const missed = counters[HC_TLB_MISS_LOAD] + counters[HC_TLB_MISS_STORE] + counters[HC_TLB_MISS_FETCH] > misses;
      if (exact) expect(missed, 'must hit exactly when a cached entry allows the access').toBe(allowing.length === 0);
      if (!missed) {
        expect(allowing.map((it) => it.pa + off), 'a hit comes from something cached').toContain(got);
      } else {
        expect(got, 'a miss walks the current tables').toBe(walkResult);
        items = items.filter((it) => !(it.slot === c.slot && (it.tag === asid || it.tag === GLOBAL)));
        if (got >= 0) {
          const fAfter = pteFlags(roots[cur].readPte(ptePa));
          const perm = (fAfter & (PTE_R | PTE_X)) | ((fAfter & PTE_W) && (fAfter & PTE_D) ? PTE_W : 0);
          items.push({ tag: fAfter & PTE_G ? GLOBAL : asid, slot: c.slot, pa: got - off, perm });
        }
      }
    }
  }
  const hits = counters[HC_TLB_HIT_LOAD] + counters[HC_TLB_HIT_STORE] + counters[HC_TLB_HIT_FETCH];
  const misses = counters[HC_TLB_MISS_LOAD] + counters[HC_TLB_MISS_STORE] + counters[HC_TLB_MISS_FETCH];
  expect(hits + misses).toBe(translations);
  if (exact) expect(counters[HC_TLB_EVICTIONS]).toBe(0);
}

describe('Tlb: page-walk cache (cpu/walk-cache.ts)', () => {
  // Region R (2 MiB at 0x20_0000) maps pages P0..P2 through level-0 table T1. The test then
  // re-points R's level-1 pointer at a second table T2 whose pages map elsewhere, as a kernel
  // would only do followed by an sfence: until an invalidation the cache may keep following T1
  // (what hardware paging-structure caches do); after any sfence form or a satp write, T2.
  const R = 0x20_0000;
  function twoTables(pointerFlags = 0): { pt: PageTableBuilder; pointerPa: number; t2: number } {
    const pt = tables(1);
    for (let i = 0; i < 3; i++) pt.map(R + i * 0x1000, DATA + i * 0x1000, URWX | PTE_A, 0, pointerFlags);
    const pointerPa = pt.slot(R, 1);
    const t2 = pt.allocFrame();
    for (let i = 0; i < 3; i++) pt.writePte(t2 * 4096 + i * 8, makePte(DATA / 4096 + 16 + i, PTE_V | URWX | PTE_A));
    return { pt, pointerPa, t2 };
  }

  it('a miss in a recently walked 2 MiB region reads only the leaf, from the remembered table', () => {
    const { pt, pointerPa, t2 } = twoTables();
    const t1Leaf2 = pt.slot(R + 0x2000, 0);
    tlb.setSatp(...pt.satp(1));
    expect(tr(R)).toBe(DATA);
    expect(counters[HC_WALK_CACHE_HITS]).toBe(0);
    pt.writePte(pointerPa, makePte(t2, PTE_V)); // no sfence
    expect(tr(R + 0x1000)).toBe(DATA + 0x1000); // still through T1
    expect(counters[HC_WALK_CACHE_HITS]).toBe(1);
    expect(counters[HC_WALKS]).toBe(2);
    // A leaf change is seen at once: leaves are never cached here (the walk reads the leaf).
    pt.writePte(t1Leaf2, makePte(DATA / 4096 + 9, PTE_V | URWX | PTE_A));
    expect(tr(R + 0x2000)).toBe(DATA + 9 * 0x1000);
    expect(tlb.walkCache.size()).toBe(1);
  });

  const drops: [string, () => void][] = [
    ['sfence.vma x0, x0', () => sfence(null, null)],
    ['sfence.vma x0, asid', () => sfence(null, 1)],
    ['sfence.vma va, x0 (another region)', () => sfence(0x4000_0000, null)],
    ['sfence.vma va, asid (another region)', () => sfence(0x4000_0000, 1)],
    ['a satp write (even the same value)', () => tlb.setSatp(SATP_MODE_SV48, 1, tlb.rootPpn)],
    ['installing an observer', () => tlb.setObserver({ onFill: () => 0, fillChecked: 0, fillTag: () => 0, onHit: () => 0 })],
  ];
  for (const [what, drop] of drops) {
    it(`is dropped by ${what}: the next miss walks from the root and follows the new pointer`, () => {
      const { pt, pointerPa, t2 } = twoTables();
      tlb.setSatp(...pt.satp(1));
      expect(tr(R)).toBe(DATA);
      pt.writePte(pointerPa, makePte(t2, PTE_V));
      drop();
      expect(tlb.walkCache.size()).toBe(0);
      expect(tr(R + 0x1000)).toBe(DATA + 17 * 0x1000);
      expect(counters[HC_WALK_CACHE_HITS]).toBe(0);
    });
  }

  it('is not used while an observer is set, and keeps the pointers\' G bit for global entries', () => {
    const { pt } = twoTables(PTE_G);
    tlb.setSatp(...pt.satp(1));
    tlb.setObserver({ onFill: () => 0, fillChecked: 0, fillTag: () => 0, onHit: () => 0 });
    expect(tr(R)).toBe(DATA);
    expect(tr(R + 0x1000)).toBe(DATA + 0x1000);
    expect(counters[HC_WALK_CACHE_HITS]).toBe(0);
    expect(tlb.walkCache.size()).toBe(0);
    tlb.setObserver(null);
    expect(tr(R + 0x2000)).toBe(DATA + 0x2000); // fills the cache (pointer G set)
    expect(tr(R + 0x3000)).toBe(TRANSLATE_PAGE_FAULT); // through the cache; an invalid leaf faults
    pt.map(R + 0x4000, DATA + 0x4000, URWX | PTE_A);
    expect(tr(R + 0x4000)).toBe(DATA + 0x4000);
    expect(counters[HC_WALK_CACHE_HITS]).toBe(2);
    // Global through the cached pointer: it matches under another ASID and survives an ASID flush.
    sfence(null, 7);
    tlb.setSatp(SATP_MODE_SV48, 2, pt.rootPpn);
    expect(probe(R + 0x4000, 2)).toBe(DATA + 0x4000);
    tr(R + 0x4000);
    expect(counters[HC_WALKS]).toBe(5);
  });
});

describe('Tlb: model-based property', () => {
  it('large TLB (no eviction): exactly the model — stale hits where cached, walks otherwise', () => {
    fc.assert(fc.property(fc.array(cmdArb, { minLength: 20, maxLength: 100, size: 'max' }), (cmds) => runModel(cmds, { entries: 64, ways: 64, superEntries: 4 }, true)),
      { numRuns: 250, seed: 0x5eed });
  });
  it('tiny TLB (evictions): every hit is something the model says may be cached', () => {
    fc.assert(fc.property(fc.array(cmdArb, { minLength: 20, maxLength: 100, size: 'max' }), fc.integer({ min: 1, max: 1000 }),
      (cmds, seed) => runModel(cmds, { entries: 4, ways: 2, superEntries: 1, seed }, false)),
      { numRuns: 250, seed: 0xca11 });
  });
});
