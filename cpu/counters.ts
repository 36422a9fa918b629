/**
 * Per-hart hardware counters. Each hart owns a block of HART_COUNTER_SLOTS float64
 * slots in the control region (kernel/layout.ts places the blocks). Only the owning
 * hart writes its block (plain stores, published at the end of each run batch);
 * anyone may read it (a racy read sees a slightly old value — fine for statistics).
 * Float64 holds integer counts exactly up to 2^53.
 */
export const HC_INSTRET = 0; // instructions retired
export const HC_CYCLES = 1; // == instret in this model (one instruction per cycle)
export const HC_TLB_HIT_FETCH = 2;
export const HC_TLB_HIT_LOAD = 3;
export const HC_TLB_HIT_STORE = 4;
export const HC_TLB_MISS_FETCH = 5;
export const HC_TLB_MISS_LOAD = 6;
export const HC_TLB_MISS_STORE = 7;
export const HC_WALKS = 8; // page-table walks started
export const HC_WALK_FAULTS = 9; // walks that ended in a page fault
export const HC_AD_UPDATES = 10; // A/D bits set by compare-and-swap
export const HC_TLB_EVICTIONS = 11;
export const HC_FLUSH_ALL = 12; // sfence.vma x0, x0
export const HC_FLUSH_ASID = 13; // sfence.vma x0, asid
export const HC_FLUSH_PAGE = 14; // sfence.vma va, x0
export const HC_FLUSH_PAGE_ASID = 15; // sfence.vma va, asid
export const HC_FENCE_I = 16; // fence.i / icache invalidations
export const HC_DECODED_PAGES = 17; // code pages decoded into the decode cache
export const HC_TRAPS = 18;
export const HC_SC_FAILURES = 19;
export const HC_JIT_BLOCKS = 20; // blocks compiled by the translator (cpu/jit.ts)
export const HC_JIT_COMPILE_US = 21; // their total compile time, µs (host time)
export const HC_JIT_INSNS = 22; // instructions retired in compiled blocks (instret - this = interpreted)
export const HC_WALK_CACHE_HITS = 23; // walks that started at a level-0 table from the page-walk cache (cpu/walk-cache.ts)
export const HART_COUNTER_SLOTS = 32; // room to grow; layout reserves this many per hart

export const HART_COUNTER_NAMES: Readonly<Record<number, string>> = {
  [HC_INSTRET]: 'instret',
  [HC_CYCLES]: 'cycles',
  [HC_TLB_HIT_FETCH]: 'tlb.hits.fetch',
  [HC_TLB_HIT_LOAD]: 'tlb.hits.load',
  [HC_TLB_HIT_STORE]: 'tlb.hits.store',
  [HC_TLB_MISS_FETCH]: 'tlb.misses.fetch',
  [HC_TLB_MISS_LOAD]: 'tlb.misses.load',
  [HC_TLB_MISS_STORE]: 'tlb.misses.store',
  [HC_WALKS]: 'tlb.walks',
  [HC_WALK_FAULTS]: 'tlb.walkFaults',
  [HC_AD_UPDATES]: 'tlb.adUpdates',
  [HC_TLB_EVICTIONS]: 'tlb.evictions',
  [HC_FLUSH_ALL]: 'flush.all',
  [HC_FLUSH_ASID]: 'flush.asid',
  [HC_FLUSH_PAGE]: 'flush.page',
  [HC_FLUSH_PAGE_ASID]: 'flush.pageAsid',
  [HC_FENCE_I]: 'fenceI',
  [HC_DECODED_PAGES]: 'decodedPages',
  [HC_TRAPS]: 'traps',
  [HC_SC_FAILURES]: 'scFailures',
  [HC_JIT_BLOCKS]: 'jit.blocks',
  [HC_JIT_COMPILE_US]: 'jit.compileUs',
  [HC_JIT_INSNS]: 'jit.insns',
  [HC_WALK_CACHE_HITS]: 'tlb.walkCacheHits',
};
