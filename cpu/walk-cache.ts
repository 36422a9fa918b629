/**
 * The page-walk cache: a hart's small cache of the upper levels of recent Sv48 walks, like
 * the paging-structure caches of real MMUs (Intel's PDE cache, the "non-leaf" entries the
 * RISC-V privileged spec lets an implementation keep in its address-translation cache).
 * Worker-local, owned by the Tlb (cpu/tlb.ts), never shared.
 *
 * One entry per 2 MiB region of va (va bits 21..47): the physical address of the level-0
 * table a successful walk found a 4 KiB leaf in, and whether a pointer above that table had
 * G set. A TLB miss in a cached region reads ONE PTE (the leaf) instead of four: the
 * page-stride loop of `bench cpu`, which touches a new page on every access, is bound by
 * that walk. Direct-mapped, WALK_CACHE_ENTRIES entries (128 MiB of va), indexed by va bits
 * 21..26.
 *
 * What it caches and when that is dropped (the coherence contract — a pointer used after the
 * kernel changed it and completed the invalidation would be a coherence bug the lab would
 * report wrongly, so the cache is dropped MORE often than the spec requires, never less):
 *  - Only valid pointers (R = W = X = 0, V = 1) that led to a valid 4 KiB leaf; nothing of a
 *    walk that faulted, nothing of superpage walks (those end above level 0).
 *  - Leaf PTEs are never cached here: the walk always reads the leaf from RAM (A/D, a
 *    demand-paging fix-up of an invalid leaf needs no sfence and is seen at once).
 *  - `invalidate()` drops everything; the Tlb calls it on EVERY `sfenceVma` (all four forms —
 *    the spec would let a va-specific sfence keep non-leaf entries, but the kernel frees an
 *    empty page-table page after a ranged invalidation of the region it mapped, which the
 *    `per-page` policy does page by page, like Linux before its RISC-V fix for freed tables),
 *    on every `setSatp` (entries are not ASID-tagged), and when the sanitizer's observer is
 *    installed or removed.
 *  - While an observer (the stale-translation sanitizer) is set the Tlb does not use the
 *    cache at all, as the hart does not use its micro-TLBs: every miss walks from the root,
 *    so what the sanitizer sees does not depend on this cache.
 * Invalidation is O(1): entries carry the epoch they were filled in and `invalidate` moves
 * the epoch on.
 */

/** Entries of the page-walk cache (a power of two). */
export const WALK_CACHE_ENTRIES = 64;
const MASK = WALK_CACHE_ENTRIES - 1;

export class WalkCache {
  /** Region key (va bits 21..47) per entry. */
  private readonly key = new Int32Array(WALK_CACHE_ENTRIES);
  /** Epoch the entry was filled in; valid only while it equals `epoch`. 0 = never filled. */
  private readonly filled = new Int32Array(WALK_CACHE_ENTRIES);
  /** Physical address of the level-0 table. */
  private readonly table = new Float64Array(WALK_CACHE_ENTRIES);
  /** 1 when a pointer above the table had G set. */
  private readonly global = new Uint8Array(WALK_CACHE_ENTRIES);
  private epoch = 1;
  /** The G bit of the pointers above the table `lookup` last returned. */
  lastGlobal = false;

  /** The region key of a canonical va (bits 21..47 → 27 bits). */
  private static keyOf(vaLo: number, vaHi: number): number {
    return (vaLo >>> 21) | ((vaHi & 0xffff) << 11);
  }

  /**
   * The level-0 table for va's 2 MiB region, or -1 when not cached. On a hit `lastGlobal`
   * holds the pointers' G bit. The caller checks that va is canonical first (the key ignores
   * bits 48..63).
   */
  lookup(vaLo: number, vaHi: number): number {
    const k = WalkCache.keyOf(vaLo, vaHi);
    const e = k & MASK;
    if (this.filled[e] !== this.epoch || this.key[e] !== k) return -1;
    this.lastGlobal = this.global[e] === 1;
    return this.table[e]!;
  }

  /** Remember that va's 2 MiB region leads to the level-0 table at `tablePa`. */
  fill(vaLo: number, vaHi: number, tablePa: number, pointerGlobal: boolean): void {
    const k = WalkCache.keyOf(vaLo, vaHi);
    const e = k & MASK;
    this.key[e] = k;
    this.filled[e] = this.epoch;
    this.table[e] = tablePa;
    this.global[e] = pointerGlobal ? 1 : 0;
  }

  /** Drop every entry (O(1)). */
  invalidate(): void {
    if (++this.epoch === 0x7fffffff) {
      this.filled.fill(0);
      this.epoch = 1;
    }
  }

  /** Valid entries (for tests). */
  size(): number {
    let n = 0;
    for (let e = 0; e < WALK_CACHE_ENTRIES; e++) if (this.filled[e] === this.epoch) n++;
    return n;
  }
}
