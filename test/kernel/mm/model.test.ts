/**
 * Model-based tests: random sequences of mmap (fixed, anonymous, private or shared) / munmap /
 * mprotect / brk / madvise(DONTNEED) / stores over a 64-page window, against a per-page model.
 * After every step: the region list (expanded per page, and maximally merged) and a probe of
 * every page — load, store and fetch through the real TLB and page tables, faulting as the
 * hart does — match the model. At the end every frame is back.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bootTestVm, fetch, load, store, PAGE, type Vm } from './harness.ts';
import { brk, initBrk, madvise, mmap, mprotect, munmap, releaseAddressSpace } from '../../../kernel/mm/mmap.ts';
import { mergeable, regionEnd } from '../../../kernel/mm/regions.ts';
import {
  MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE,
} from '../../../kernel/mm/abi.ts';
import { RF_HEAP, RF_SHARED } from '../../../kernel/mm/layout.ts';
import { SEGV_ACCERR, SEGV_MAPERR } from '../../../kernel/errno.ts';
import type { VirtualAddressSpace } from '../../../kernel/mm/aspace.ts';

const WINDOW = 64;
const BASE = 0x1000_0000;
const BRK_START_PAGE = 40;
const OFF = 8; // byte offset probed in each page

interface PageModel { prot: number; shared: number; heap: boolean; value: number }
type Op =
  | { k: 'mmap'; p: number; n: number; prot: number; shared: boolean }
  | { k: 'munmap'; p: number; n: number }
  | { k: 'mprotect'; p: number; n: number; prot: number }
  | { k: 'madvise'; p: number; n: number }
  | { k: 'brk'; pages: number }
  | { k: 'store'; p: number; v: number };

const prot = fc.constantFrom(0, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC, PROT_WRITE);
const range = (min = 1) => fc.integer({ min: 0, max: WINDOW - 1 }).chain((p) => fc.record({ p: fc.constant(p), n: fc.integer({ min, max: WINDOW - p }) }));
const op: fc.Arbitrary<Op> = fc.oneof(
  range().chain((r) => fc.record({ k: fc.constant('mmap' as const), p: fc.constant(r.p), n: fc.constant(r.n), prot, shared: fc.boolean() })),
  range().map((r) => ({ k: 'munmap' as const, ...r })),
  range().chain((r) => fc.record({ k: fc.constant('mprotect' as const), p: fc.constant(r.p), n: fc.constant(r.n), prot })),
  range().map((r) => ({ k: 'madvise' as const, ...r })),
  fc.integer({ min: 0, max: WINDOW - BRK_START_PAGE }).map((pages) => ({ k: 'brk' as const, pages })),
  fc.record({ k: fc.constant('store' as const), p: fc.integer({ min: 0, max: WINDOW - 1 }), v: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ k: fc.constant('store' as const), p: fc.integer({ min: 0, max: WINDOW - 1 }), v: fc.integer({ min: 1, max: 255 }) }),
);

let sharedIds = 0;

function apply(vm: Vm, as: VirtualAddressSpace, m: (PageModel | null)[], st: { brkPages: number }, o: Op): void {
  const va = (p: number): number => BASE + p * PAGE;
  const readable = (pr: number) => (pr & (PROT_READ | PROT_WRITE)) !== 0;
  switch (o.k) {
    case 'mmap': {
      const r = mmap(vm.ctx, as, va(o.p), o.n * PAGE, o.prot, (o.shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_FIXED);
      expect(r).toBe(va(o.p));
      const id = o.shared ? ++sharedIds : 0;
      for (let p = o.p; p < o.p + o.n; p++) m[p] = { prot: o.prot, shared: id, heap: false, value: 0 };
      break;
    }
    case 'munmap':
      expect(munmap(vm.ctx, as, va(o.p), o.n * PAGE)).toBe(0);
      for (let p = o.p; p < o.p + o.n; p++) m[p] = null;
      break;
    case 'mprotect': {
      // Linux: the mapped prefix is changed; ENOMEM when a hole is hit (or nothing is mapped at the start).
      let p = o.p;
      while (p < o.p + o.n && m[p]) m[p++]!.prot = o.prot;
      expect(mprotect(vm.ctx, as, va(o.p), o.n * PAGE, o.prot)).toBe(p === o.p + o.n ? 0 : -12);
      break;
    }
    case 'madvise': {
      let any = false, all = true;
      for (let p = o.p; p < o.p + o.n; p++) {
        const pm = m[p];
        if (!pm) { all = false; continue; }
        any = true;
        if (!pm.shared) pm.value = 0;
      }
      expect(madvise(vm.ctx, as, va(o.p), o.n * PAGE, MADV_DONTNEED)).toBe(any && all ? 0 : -12);
      break;
    }
    case 'brk': {
      const want = BRK_START_PAGE + o.pages;
      const cur = BRK_START_PAGE + st.brkPages;
      let ok = true;
      if (want > cur) for (let p = cur; p < want; p++) if (m[p]) ok = false;
      const r = brk(vm.ctx, as, va(want));
      if (!ok) {
        expect(r).toBe(va(cur));
        break;
      }
      expect(r).toBe(va(want));
      if (want > cur) for (let p = cur; p < want; p++) m[p] = { prot: PROT_READ | PROT_WRITE, shared: 0, heap: true, value: 0 };
      else for (let p = want; p < cur; p++) m[p] = null;
      st.brkPages = o.pages;
      break;
    }
    case 'store': {
      const pm = m[o.p];
      const r = store(vm, as, va(o.p) + OFF, o.v);
      if (!pm) expect(r).toMatchObject({ code: SEGV_MAPERR });
      else if (!(pm.prot & PROT_WRITE)) expect(r).toMatchObject({ code: SEGV_ACCERR });
      else {
        expect(r).toBeNull();
        pm.value = o.v;
        if (pm.shared) for (const q of m) if (q && q.shared === pm.shared) q.value = q === pm ? o.v : q.value;
      }
      break;
    }
  }
  // probe every page
  for (let p = 0; p < WINDOW; p++) {
    const pm = m[p];
    const a = va(p) + OFF;
    const l = load(vm, as, a);
    if (!pm) {
      expect(l, `page ${p} load`).toMatchObject({ code: SEGV_MAPERR });
      continue;
    }
    if (readable(pm.prot)) expect(l, `page ${p} value`).toBe(pm.value);
    else expect(l, `page ${p} load`).toMatchObject({ code: SEGV_ACCERR });
    const s = store(vm, as, a, pm.value);
    if (pm.prot & PROT_WRITE) expect(s, `page ${p} store`).toBeNull();
    else expect(s, `page ${p} store`).toMatchObject({ code: SEGV_ACCERR });
    const f = fetch(vm, as, a);
    if (pm.prot & PROT_EXEC) expect(f, `page ${p} fetch`).toBeNull();
    else expect(f, `page ${p} fetch`).toMatchObject({ code: SEGV_ACCERR });
  }
  // regions: per-page attributes agree, and no two neighbours could have been merged
  const regs = as.regions.all();
  for (let i = 0; i + 1 < regs.length; i++) expect(mergeable(regs[i]!, regs[i + 1]!), `regions ${i},${i + 1} not merged`).toBe(false);
  const seen: (string | null)[] = new Array(WINDOW).fill(null);
  for (const r of regs) {
    for (let v = r.start; v < regionEnd(r); v++) {
      const p = v - BASE / PAGE;
      expect(p >= 0 && p < WINDOW, `region page ${v} outside the window`).toBe(true);
      seen[p] = `${r.prot}/${r.flags & RF_SHARED ? 's' : 'p'}/${r.flags & RF_HEAP ? 'h' : ''}`;
    }
  }
  for (let p = 0; p < WINDOW; p++) {
    const pm = m[p];
    expect(seen[p], `region of page ${p}`).toBe(pm ? `${pm.prot}/${pm.shared ? 's' : 'p'}/${pm.heap ? 'h' : ''}` : null);
  }
}

describe('vm model', () => {
  it('random mmap/munmap/mprotect/brk/madvise/store sequences match the model, and every frame comes back', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), (ops) => {
        const vm = bootTestVm(16, { maxSpaces: 2, regionsPerSpace: 256, maxFiles: 64, pageCacheEntries: 1024 });
        const before = vm.free();
        const as = vm.newSpace();
        try {
          initBrk(vm.ctx, as, BASE + BRK_START_PAGE * PAGE);
          const m: (PageModel | null)[] = new Array(WINDOW).fill(null);
          const st = { brkPages: 0 };
          for (const o of ops) apply(vm, as, m, st, o);
        } finally {
          releaseAddressSpace(vm.ctx, as);
        }
        expect(vm.free()).toBe(before);
        vm.ctx.assertNoStale('model test');
      }),
      { numRuns: 100 },
    );
  });
});
