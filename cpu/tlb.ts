/**
 * The TLB: private to one hart (worker-local typed arrays, never shared), set-associative
 * for 4 KiB pages, fully associative for superpages (2 MiB, 1 GiB, 512 GiB), ASID-tagged,
 * with global entries. On a miss it walks the Sv48 tables in RAM (cpu/mmu.ts).
 *
 * Contract used by cpu/hart.ts (do not change without updating the hart):
 *  - `setSatp(mode, asid, rootPpn)` loads satp. Like hardware it does NOT flush.
 *  - `translate(vaLo, vaHi, kind)` → physical byte address (>= 0) of that byte, or
 *    TRANSLATE_PAGE_FAULT / TRANSLATE_ACCESS_FAULT (negative). On success `lastWritable`
 *    tells whether the 4 KiB page may be cached for stores (W=1 and D=1 after this call),
 *    `lastPageBase` is the physical address of the 4 KiB page containing va.
 *    It counts hits / misses / walks in the hart's counter block.
 *  - Entries are removed only by `sfenceVma`, `flush*`, eviction, or a refill that
 *    replaces them; `onInvalidate` (if set) is called at least once for each operation
 *    that may have removed entries (`sfenceVma`/`flush*` always call it), so the hart
 *    can drop any faster copies it keeps. When only 4 KiB entries of ONE page were removed
 *    outside an sfence (an eviction by a refill, or a permission miss dropping the page's
 *    entries), `onInvalidatePage(pageLo, pageHi)` is called instead if it is set: the hart
 *    then drops its copies of that page only, not every micro-TLB entry (a page-stride
 *    access pattern evicts on nearly every miss).
 *
 * Semantics (this is the hardware the project studies — keep it honest):
 *  - A cached entry is used WITHOUT re-reading the PTE. A stale entry stays usable until
 *    `sfenceVma`/`flush*` (or eviction) removes it. Nothing here watches RAM.
 *  - Faults are never cached. A cached entry never page-faults either: an access its
 *    permissions do not allow misses (Spike's "write permission is presence in the write
 *    TLB"): the entries for that va in the current address space are dropped and the
 *    MMU walks again; only a walk can page-fault. (A cached superpage reaching beyond RAM
 *    gives an access fault for the part outside RAM, as the access itself would.)
 *  - Store permission is cached only when W=1 and D=1, so the first store to a clean page
 *    walks again and sets D atomically; `lastWritable` = W && D.
 *  - Global entries (G in the leaf or a pointer above it) match every ASID; `sfenceVma`
 *    with a specific ASID leaves them alone.
 *  - Behind the TLB sits a page-walk cache (cpu/walk-cache.ts: the level-0 table of recent
 *    2 MiB regions), so a miss in a cached region reads only the leaf PTE. It is dropped on
 *    every sfenceVma/flush* and setSatp, and not used while an observer is set.
 *  - Replacement: an invalid way if there is one, else a pseudo-random way from a seeded
 *    xorshift32 generator (deterministic for a given seed and access sequence). Random
 *    replacement costs nothing on the hit path, unlike LRU bookkeeping.
 */
import type { PhysicalMemory } from './ram.ts';
import type { AccessKind } from './trap.ts';
import * as trap from './trap.ts';
import * as pte from './pte.ts';
import * as mmu from './mmu.ts';
import { QUICK_LEAF, WalkResult, leafQuick, walkFromTable, walkSv48 } from './mmu.ts';
import { WalkCache } from './walk-cache.ts';
import * as hc from './counters.ts';
import { SATP_MODE_BARE, SATP_MODE_SV48 } from './pte.ts';

export { SATP_MODE_BARE, SATP_MODE_SV48 };

export const TRANSLATE_PAGE_FAULT = mmu.WALK_PAGE_FAULT; // -1
export const TRANSLATE_ACCESS_FAULT = mmu.WALK_ACCESS_FAULT; // -2

/**
 * An optional watcher of this TLB (the kernel's stale-translation sanitizer implements it;
 * cpu/ knows nothing else of it). While one is set (`setObserver`):
 *  - before every walk that may fill an entry, `onFill()` is called; its result (the stamp)
 *    and `fillChecked` read right after are stored with the entry the walk fills;
 *  - after a walk that succeeded, `fillTag(leafBase)` is called with the physical address of
 *    the leaf's page (a superpage: its first byte); its result (the tag: any 32-bit value the
 *    observer wants kept, e.g. the frame's allocation generation) is stored with the entry;
 *  - on every hit, `onHit(...)` is called with the entry's page base, cached permissions,
 *    stamp, checked value, tag and leaf base; its result becomes the entry's new checked value.
 * With no observer the hit path is the plain one (the observed variant is installed as an
 * own `translate` property only by setObserver): zero cost when off.
 */
export interface TlbObserver {
  onFill(): number;
  readonly fillChecked: number;
  fillTag(leafBase: number): number;
  onHit(
    vaLo: number, vaHi: number, kind: AccessKind, pageBase: number, perm: number, stamp: number, checked: number,
    tag: number, leafBase: number,
  ): number;
}

export interface TlbConfig {
  /** Number of 4 KiB entries (sets × ways); sets must be a power of two. */
  entries: number;
  /** Associativity of the 4 KiB array. */
  ways: number;
  /** Fully associative entries for 2 MiB / 1 GiB (and 512 GiB) superpages; at least 1. */
  superEntries: number;
  /** Seed of the replacement generator (any non-zero 32-bit integer). */
  seed: number;
}

/**
 * Defaults, sized like the second-level TLB of a real core — this TLB is the hart's only
 * translation cache behind its tiny micro-TLB, as an L2 TLB is behind a core's L1:
 *  - 4 KiB: 1024 entries, 8-way (128 sets). Arm Cortex-A72's L2 TLB is 1024 entries, 4-way;
 *    Intel Skylake's STLB 1536 entries, 12-way. We sit between the two.
 *  - superpages: 32 fully associative entries — Skylake's L1 DTLB holds 32 2 MiB entries;
 *    SiFive's U74 (a real Sv39/Sv48 core) has 40-entry fully associative L1 TLBs.
 */
export const TLB_DEFAULTS: TlbConfig = { entries: 1024, ways: 8, superEntries: 32, seed: 0x2545f491 };

// Local copies of the imported constants used here: under tsx's CommonJS interop and
// vitest's module transform an imported binding is a getter call on every access — too
// slow for the hit path (measured: 3x).
const MODE_SV48 = SATP_MODE_SV48;
const W_BIT = pte.PTE_W, PTE_R = pte.PTE_R, PTE_W = pte.PTE_W, PTE_X = pte.PTE_X, PTE_D = pte.PTE_D;
const ASID_MASK = pte.ASID_MASK;
const ACCESS_FAULT = mmu.WALK_ACCESS_FAULT;
const PTE_G = pte.PTE_G;
const QUICK = QUICK_LEAF;
const HC_WALKS = hc.HC_WALKS, HC_WALK_FAULTS = hc.HC_WALK_FAULTS, HC_AD_UPDATES = hc.HC_AD_UPDATES;
const HC_TLB_EVICTIONS = hc.HC_TLB_EVICTIONS, HC_FLUSH_ALL = hc.HC_FLUSH_ALL, HC_FLUSH_ASID = hc.HC_FLUSH_ASID;
const HC_FLUSH_PAGE = hc.HC_FLUSH_PAGE, HC_FLUSH_PAGE_ASID = hc.HC_FLUSH_PAGE_ASID;
const HC_WALK_CACHE_HITS = hc.HC_WALK_CACHE_HITS;

/** Tag value of an entry that matches every ASID, and of an empty entry (matches none). */
const ASID_GLOBAL = -1;
const ASID_INVALID = -2;

const TWO32 = 4294967296;
const PAGE = 4096;

/** Counter slot per access kind (kinds are 1 = load, 2 = store, 3 = fetch). */
const HIT_SLOT = new Int32Array(4);
const MISS_SLOT = new Int32Array(4);
HIT_SLOT[trap.ACCESS_LOAD] = hc.HC_TLB_HIT_LOAD; MISS_SLOT[trap.ACCESS_LOAD] = hc.HC_TLB_MISS_LOAD;
HIT_SLOT[trap.ACCESS_STORE] = hc.HC_TLB_HIT_STORE; MISS_SLOT[trap.ACCESS_STORE] = hc.HC_TLB_MISS_STORE;
HIT_SLOT[trap.ACCESS_FETCH] = hc.HC_TLB_HIT_FETCH; MISS_SLOT[trap.ACCESS_FETCH] = hc.HC_TLB_MISS_FETCH;

export class Tlb {
  readonly ram: PhysicalMemory;
  readonly counters: Float64Array;
  readonly config: TlbConfig;
  mode = SATP_MODE_BARE;
  asid = 0;
  rootPpn = 0;
  lastWritable = false;
  lastPageBase = 0;
  onInvalidate: (() => void) | null = null;
  /** Called (if set) instead of onInvalidate when 4 KiB entries of one page only were removed; see the header. */
  onInvalidatePage: ((pageLo: number, pageHi: number) => void) | null = null;
  /** The sanitizer's hook (see TlbObserver); null = off. Set with setObserver. */
  observer: TlbObserver | null = null;

  // 4 KiB array, entry e = set × ways + way. Tag = va bits 12..43 (vpn) and 44..63 (hiTag).
  private readonly ways: number;
  private readonly setMask: number;
  private readonly tVpn: Int32Array;
  private readonly tHi: Int32Array;
  private readonly tAsid: Int32Array; // asid, ASID_GLOBAL or ASID_INVALID
  /** Per set: 1 = no way is ASID_INVALID (a refill evicts without scanning); any removal clears it. */
  private readonly tFull: Uint8Array;
  private readonly tPerm: Uint8Array; // PTE_R | PTE_X | (PTE_W if W and D)
  private readonly tPa: Float64Array; // physical address of the 4 KiB page
  private readonly tStamp: Int32Array; // TlbObserver stamp / checked value / tag of the entry
  private readonly tChecked: Int32Array;
  private readonly tTag: Int32Array;

  // Superpage array: match when (va & mask) === base, in both 32-bit words.
  private readonly sLo: Int32Array;
  private readonly sHi: Int32Array;
  private readonly sMaskLo: Int32Array;
  private readonly sMaskHi: Int32Array;
  private readonly sAsid: Int32Array;
  private readonly sPerm: Uint8Array;
  private readonly sPa: Float64Array; // physical address of the superpage's first byte
  private readonly sStamp: Int32Array;
  private readonly sChecked: Int32Array;
  private readonly sTag: Int32Array;
  private superCount = 0;

  private rng: number;
  private readonly walkOut = new WalkResult();
  /** The page-walk cache (see cpu/walk-cache.ts for what it may keep and when it is dropped). */
  readonly walkCache = new WalkCache();

  /** A TLB over `ram`, counting into `counters` (the hart's HC_* block). Throws naming `Tlb` on a bad config. */
  constructor(ram: PhysicalMemory, counters: Float64Array, config: Partial<TlbConfig> = {}) {
    this.ram = ram;
    this.counters = counters;
    this.config = { ...TLB_DEFAULTS, ...config };
    const { entries, ways, superEntries, seed } = this.config;
    const sets = entries / ways;
    if (!Number.isInteger(entries) || !Number.isInteger(ways) || ways < 1 || !Number.isInteger(sets) ||
        sets < 1 || (sets & (sets - 1)) !== 0 || !Number.isInteger(superEntries) || superEntries < 1) {
      throw new RangeError(`Tlb: bad config ${JSON.stringify(this.config)} (need sets = entries/ways a power of two, superEntries >= 1)`);
    }
    this.ways = ways;
    this.setMask = sets - 1;
    this.tVpn = new Int32Array(entries);
    this.tHi = new Int32Array(entries);
    this.tAsid = new Int32Array(entries).fill(ASID_INVALID);
    this.tFull = new Uint8Array(sets);
    this.tPerm = new Uint8Array(entries);
    this.tPa = new Float64Array(entries);
    this.tStamp = new Int32Array(entries);
    this.tChecked = new Int32Array(entries);
    this.tTag = new Int32Array(entries);
    this.sLo = new Int32Array(superEntries);
    this.sHi = new Int32Array(superEntries);
    this.sMaskLo = new Int32Array(superEntries);
    this.sMaskHi = new Int32Array(superEntries);
    this.sAsid = new Int32Array(superEntries).fill(ASID_INVALID);
    this.sPerm = new Uint8Array(superEntries);
    this.sPa = new Float64Array(superEntries);
    this.sStamp = new Int32Array(superEntries);
    this.sChecked = new Int32Array(superEntries);
    this.sTag = new Int32Array(superEntries);
    this.rng = seed | 0 || 1;
  }

  /** Load satp (mode Bare or Sv48, 16-bit asid, root table ppn). Does not flush. */
  setSatp(mode: number, asid: number, rootPpn: number): void {
    if (mode !== SATP_MODE_BARE && mode !== SATP_MODE_SV48) throw new Error(`setSatp: unsupported mode ${mode}`);
    this.mode = mode;
    this.asid = asid & ASID_MASK;
    this.rootPpn = rootPpn;
    this.walkCache.invalidate(); // its entries are not ASID-tagged
  }

  /**
   * Translate a U-mode access (see the header contract). The hit path is the loop over one
   * set: four int compares per way, no allocation; everything else is `translateSlow`.
   */
  translate(vaLo: number, vaHi: number, kind: AccessKind): number {
    if (this.mode === MODE_SV48) {
      const vpn = (vaLo >>> 12) | (vaHi << 20);
      const hiTag = vaHi >> 12;
      const asid = this.asid;
      const tVpn = this.tVpn;
      let e = (vpn & this.setMask) * this.ways;
      let tagMatched = false;
      for (const end = e + this.ways; e < end; e++) {
        // A non-canonical va never equals a stored tag (tags keep bits 12..63), so it misses.
        if (tVpn[e] === vpn && this.tHi[e] === hiTag) {
          const tagAsid = this.tAsid[e];
          if (tagAsid === asid || tagAsid === ASID_GLOBAL) {
            if (((this.tPerm[e] >> kind) & 1) !== 0) {
              this.counters[HIT_SLOT[kind]]++;
              const base = this.tPa[e];
              this.lastPageBase = base;
              this.lastWritable = (this.tPerm[e] & W_BIT) !== 0;
              return base + (vaLo & 0xfff);
            }
            tagMatched = true;
          }
        }
      }
      return this.translateSlow(vaLo, vaHi, kind, tagMatched);
    }
    const pa = vaHi * TWO32 + (vaLo >>> 0);
    if (vaHi < 0 || pa >= this.ram.bytes) return ACCESS_FAULT;
    this.lastWritable = true;
    this.lastPageBase = pa - (pa % PAGE);
    return pa;
  }

  /**
   * Install (or, with null, remove) the observer. Entries cached before it was set carry
   * stamp 0 / checked 0 / tag 0 (the observer treats them as old). Installing swaps `translate` for
   * the observed variant on this instance only.
   */
  setObserver(obs: TlbObserver | null): void {
    const had = this.observer !== null;
    this.observer = obs;
    this.walkCache.invalidate();
    // 4 KiB fills made while no observer is set skip the three observer words (insert4k):
    // they are zeroed here instead, which is what "cached before it was set" promises.
    if (obs !== null && !had) {
      this.tStamp.fill(0);
      this.tChecked.fill(0);
      this.tTag.fill(0);
    }
    if (obs === null) delete (this as { translate?: unknown }).translate;
    else this.translate = this.translateObserved;
  }

  /** `translate` while an observer is set: the same lookup, every hit reported to it. */
  private translateObserved(vaLo: number, vaHi: number, kind: AccessKind): number {
    if (this.mode !== MODE_SV48) return Tlb.prototype.translate.call(this, vaLo, vaHi, kind);
    const vpn = (vaLo >>> 12) | (vaHi << 20);
    const hiTag = vaHi >> 12;
    const asid = this.asid;
    let e = (vpn & this.setMask) * this.ways;
    let tagMatched = false;
    for (const end = e + this.ways; e < end; e++) {
      if (this.tVpn[e] === vpn && this.tHi[e] === hiTag) {
        const tagAsid = this.tAsid[e];
        const perm = this.tPerm[e]!;
        if (tagAsid !== asid && tagAsid !== ASID_GLOBAL) continue;
        if (((perm >> kind) & 1) === 0) tagMatched = true;
        else {
          this.counters[HIT_SLOT[kind]]++;
          const base = this.tPa[e]!;
          this.tChecked[e] = this.observer!.onHit(vaLo, vaHi, kind, base, perm, this.tStamp[e]!, this.tChecked[e]!, this.tTag[e]!, base);
          this.lastPageBase = base;
          this.lastWritable = (perm & W_BIT) !== 0;
          return base + (vaLo & 0xfff);
        }
      }
    }
    return this.translateSlow(vaLo, vaHi, kind, tagMatched);
  }

  /**
   * Superpage lookup, then (on a miss) drop this va's entries, walk, refill. `tagMatched4k`:
   * the caller's set scan found an entry for va in this address space that lacked the
   * permission.
   */
  private translateSlow(vaLo: number, vaHi: number, kind: AccessKind, tagMatched4k: boolean): number {
    const asid = this.asid;
    let tagMatched = false;
    for (let e = 0, n = this.superCount === 0 ? 0 : this.sAsid.length; e < n; e++) {
      if ((vaLo & this.sMaskLo[e]) === this.sLo[e] && (vaHi & this.sMaskHi[e]) === this.sHi[e]) {
        const tagAsid = this.sAsid[e];
        if (tagAsid !== asid && tagAsid !== ASID_GLOBAL) continue;
        tagMatched = true;
        if (((this.sPerm[e] >> kind) & 1) === 0) continue;
        const offLo = (vaLo & ~this.sMaskLo[e]) >>> 0;
        const pageBase = this.sPa[e] + (vaHi & ~this.sMaskHi[e]) * TWO32 + (offLo - (offLo & 0xfff));
        this.counters[HIT_SLOT[kind]]++;
        if (this.observer !== null) {
          this.sChecked[e] = this.observer.onHit(
            vaLo, vaHi, kind, pageBase, this.sPerm[e]!, this.sStamp[e]!, this.sChecked[e]!, this.sTag[e]!, this.sPa[e]!,
          );
        }
        // The part of a cached superpage beyond RAM: the translation hits, the access faults.
        if (pageBase + PAGE > this.ram.bytes) return ACCESS_FAULT;
        this.lastPageBase = pageBase;
        this.lastWritable = (this.sPerm[e] & W_BIT) !== 0;
        return pageBase + (vaLo & 0xfff);
      }
    }
    this.counters[MISS_SLOT[kind]]++;
    // A tag match that lacked the permission (e.g. a store to a clean page): drop every entry
    // for this va in this address space, so the refill below is the only one.
    if (tagMatched || tagMatched4k) this.removeVa(vaLo, vaHi, asid, true);

    this.counters[HC_WALKS]++;
    // The sanitizer's stamp is read BEFORE the walk (kernel/lab/sanitizer.ts says why).
    const obs = this.observer;
    const stamp = obs === null ? 0 : obs.onFill();
    const checked = obs === null ? 0 : obs.fillChecked;
    const out = this.walkOut;
    // The page-walk cache (not while observed): resume at the level-0 table of va's 2 MiB
    // region when a recent walk found one; else walk from the root and remember the table.
    const wc = obs === null ? this.walkCache.lookup(vaLo, vaHi) : -1;
    let pa: number;
    if (wc >= 0) {
      this.counters[HC_WALK_CACHE_HITS]++;
      // The common leaf (valid, allowed, A/D already set) straight into the TLB; anything
      // else (a fault, an A/D update, a non-canonical va) takes the full walk below.
      const top = vaHi >> 15;
      const base = top === 0 || top === -1 ? leafQuick(this.ram.f64, this.ram.bytes, wc, vaLo, kind) : -3;
      if (base >= 0) {
        const flags = QUICK[0]!;
        const perm = (flags & (PTE_R | PTE_X)) | ((flags & PTE_W) !== 0 && (flags & PTE_D) !== 0 ? PTE_W : 0);
        const tagAsid = this.walkCache.lastGlobal || (flags & PTE_G) !== 0 ? ASID_GLOBAL : asid;
        this.insert4k(vaLo, vaHi, tagAsid, perm, base, 0, 0, 0);
        this.lastPageBase = base;
        this.lastWritable = (perm & PTE_W) !== 0;
        return base + (vaLo & 0xfff);
      }
      pa = walkFromTable(this.ram, wc, 0, this.walkCache.lastGlobal, vaLo, vaHi, kind, out);
    } else {
      pa = walkSv48(this.ram, this.rootPpn, vaLo, vaHi, kind, out);
      if (pa >= 0 && out.level === 0 && obs === null) this.walkCache.fill(vaLo, vaHi, out.tablePa, out.pointerGlobal);
    }
    if (out.adSet !== 0 && pa >= 0) this.counters[HC_AD_UPDATES]++;
    if (pa < 0) {
      this.counters[HC_WALK_FAULTS]++;
      return pa;
    }
    const perm = (out.flags & (PTE_R | PTE_X)) | ((out.flags & PTE_W) !== 0 && (out.flags & PTE_D) !== 0 ? PTE_W : 0);
    const tagAsid = out.global ? ASID_GLOBAL : asid;
    const tag = obs === null ? 0 : obs.fillTag(out.level === 0 ? out.pageBase : out.leafBase);
    if (out.level === 0) this.insert4k(vaLo, vaHi, tagAsid, perm, out.pageBase, stamp, checked, tag);
    else this.insertSuper(vaLo, vaHi, out.level, tagAsid, perm, out.leafBase, stamp, checked, tag);
    this.lastPageBase = out.pageBase;
    this.lastWritable = (perm & PTE_W) !== 0;
    return pa;
  }

  private insert4k(
    vaLo: number, vaHi: number, tagAsid: number, perm: number, pageBase: number, stamp: number, checked: number, tag: number,
  ): void {
    const vpn = (vaLo >>> 12) | (vaHi << 20);
    const set = vpn & this.setMask;
    const first = set * this.ways;
    const end = first + this.ways;
    let e = first;
    if (this.tFull[set] === 0) {
      while (e < end && this.tAsid[e] !== ASID_INVALID) e++;
      if (e === end - 1 || e === end) this.tFull[set] = 1; // this refill takes the last free way, or none was free
    } else {
      e = end;
    }
    if (e === end) {
      e = first + this.nextRandom(this.ways);
      this.counters[HC_TLB_EVICTIONS]++;
      // The victim's page: va bits 12..43 are its vpn, bits 44..63 its hiTag.
      const vVpn = this.tVpn[e]!;
      if (this.onInvalidatePage !== null) this.onInvalidatePage(vVpn << 12, (this.tHi[e]! << 12) | (vVpn >>> 20));
      else this.onInvalidate?.();
    }
    this.tVpn[e] = vpn;
    this.tHi[e] = vaHi >> 12;
    this.tAsid[e] = tagAsid;
    this.tPerm[e] = perm;
    this.tPa[e] = pageBase;
    if (this.observer !== null) { // else they stay unread until setObserver zeroes them
      this.tStamp[e] = stamp;
      this.tChecked[e] = checked;
      this.tTag[e] = tag;
    }
  }

  private insertSuper(
    vaLo: number, vaHi: number, level: number, tagAsid: number, perm: number, leafBase: number, stamp: number, checked: number,
    tag: number,
  ): void {
    const n = this.sAsid.length;
    let e = 0;
    while (e < n && this.sAsid[e] !== ASID_INVALID) e++;
    if (e === n) {
      e = this.nextRandom(n);
      this.counters[HC_TLB_EVICTIONS]++;
      this.onInvalidate?.();
    } else {
      this.superCount++;
    }
    // level 1: offset bits 0..20, level 2: 0..29, level 3: 0..38 (7 of them in the high word)
    const maskLo = level === 1 ? ~0x1fffff : level === 2 ? ~0x3fffffff : 0;
    const maskHi = level === 3 ? ~0x7f : -1;
    this.sLo[e] = vaLo & maskLo;
    this.sHi[e] = vaHi & maskHi;
    this.sMaskLo[e] = maskLo;
    this.sMaskHi[e] = maskHi;
    this.sAsid[e] = tagAsid;
    this.sPerm[e] = perm;
    this.sPa[e] = leafBase;
    this.sStamp[e] = stamp;
    this.sChecked[e] = checked;
    this.sTag[e] = tag;
  }

  /** xorshift32: a deterministic victim in [0, n). */
  private nextRandom(n: number): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    // For a power of two the mask is the same number as the remainder, without the division
    // (a uint32 remainder is a floating-point one in V8: it was a sixth of a TLB miss).
    return (n & (n - 1)) === 0 ? x & (n - 1) : (x >>> 0) % n;
  }

  /**
   * Remove the entries that translate va: asid null = every entry (globals included),
   * else the entries tagged with that asid, plus the global ones if `withGlobal`.
   * Returns how many were removed.
   */
  private removeVa(vaLo: number, vaHi: number, asid: number | null, withGlobal: boolean): number {
    let removed = 0;
    let superRemoved = false;
    const vpn = (vaLo >>> 12) | (vaHi << 20);
    const hiTag = vaHi >> 12;
    for (let e = (vpn & this.setMask) * this.ways, end = e + this.ways; e < end; e++) {
      const a = this.tAsid[e];
      if (a === ASID_INVALID || this.tVpn[e] !== vpn || this.tHi[e] !== hiTag) continue;
      if (asid === null || a === asid || (withGlobal && a === ASID_GLOBAL)) {
        this.tAsid[e] = ASID_INVALID;
        this.tFull[vpn & this.setMask] = 0;
        removed++;
      }
    }
    for (let e = 0, n = this.sAsid.length; e < n; e++) {
      const a = this.sAsid[e];
      if (a === ASID_INVALID || (vaLo & this.sMaskLo[e]) !== this.sLo[e] || (vaHi & this.sMaskHi[e]) !== this.sHi[e]) continue;
      if (asid === null || a === asid || (withGlobal && a === ASID_GLOBAL)) {
        this.sAsid[e] = ASID_INVALID;
        this.superCount--;
        removed++;
        superRemoved = true;
      }
    }
    if (removed !== 0) {
      if (!superRemoved && this.onInvalidatePage !== null) this.onInvalidatePage(vaLo & ~0xfff, vaHi);
      else this.onInvalidate?.();
    }
    return removed;
  }

  /**
   * sfence.vma — the four operand forms (privileged spec, "Supervisor Memory-Management Fence"):
   *  - va null, asid null (rs1=x0, rs2=x0): every entry of every address space, globals too.
   *  - va null, asid a   (rs1=x0, rs2≠x0): every entry of address space a, EXCEPT global ones.
   *  - va v,    asid null (rs1≠x0, rs2=x0): the leaf entries for v in every address space, globals too.
   *  - va v,    asid a   (rs1≠x0, rs2≠x0): the leaf entries for v in address space a, EXCEPT global ones.
   * `vaLo`/`vaHi` are the va's 32-bit words; only the asid's low 16 bits count.
   * Counts HC_FLUSH_* and always calls `onInvalidate`.
   */
  sfenceVma(vaLo: number | null, vaHi: number, asid: number | null): void {
    const a = asid === null ? null : asid & ASID_MASK;
    if (vaLo === null) {
      if (a === null) {
        this.tAsid.fill(ASID_INVALID);
        this.tFull.fill(0);
        this.sAsid.fill(ASID_INVALID);
        this.superCount = 0;
        this.counters[HC_FLUSH_ALL]++;
      } else {
        for (let e = 0; e < this.tAsid.length; e++) if (this.tAsid[e] === a) this.tAsid[e] = ASID_INVALID;
        this.tFull.fill(0);
        for (let e = 0; e < this.sAsid.length; e++) {
          if (this.sAsid[e] === a) { this.sAsid[e] = ASID_INVALID; this.superCount--; }
        }
        this.counters[HC_FLUSH_ASID]++;
      }
    } else {
      this.removeVa(vaLo | 0, vaHi | 0, a, false);
      this.counters[a === null ? HC_FLUSH_PAGE : HC_FLUSH_PAGE_ASID]++;
    }
    this.walkCache.invalidate();
    this.onInvalidate?.();
  }

  /** sfence.vma x0, x0. */
  flushAll(): void { this.sfenceVma(null, 0, null); }
  /** sfence.vma x0, asid: the asid's non-global entries. */
  flushAsid(asid: number): void { this.sfenceVma(null, 0, asid); }
  /** sfence.vma va, asid (asid null = every address space, globals included). */
  flushPage(vaLo: number, vaHi: number, asid: number | null): void { this.sfenceVma(vaLo, vaHi, asid); }

  /**
   * For tests and tools: the physical address an entry would give for va under `asid`
   * (default: the current one), ignoring permissions; -1 when nothing is cached. Counts nothing.
   * `probePerm` returns that entry's cached permissions (PTE_R | PTE_W | PTE_X bits) or -1.
   */
  probe(vaLo: number, vaHi: number, asid: number = this.asid): number {
    const e = this.find(vaLo, vaHi, asid);
    if (e === -1) return -1;
    if (e >= 0) return this.tPa[e] + (vaLo & 0xfff);
    const s = -2 - e;
    return this.sPa[s] + (vaHi & ~this.sMaskHi[s]) * TWO32 + ((vaLo & ~this.sMaskLo[s]) >>> 0);
  }
  probePerm(vaLo: number, vaHi: number, asid: number = this.asid): number {
    const e = this.find(vaLo, vaHi, asid);
    return e === -1 ? -1 : e >= 0 ? this.tPerm[e] : this.sPerm[-2 - e];
  }
  /** Entry index: >= 0 in the 4 KiB array, -2 - i for superpage entry i, -1 for none. */
  private find(vaLo: number, vaHi: number, asid: number): number {
    const vpn = (vaLo >>> 12) | (vaHi << 20);
    for (let e = (vpn & this.setMask) * this.ways, end = e + this.ways; e < end; e++) {
      const a = this.tAsid[e];
      if (this.tVpn[e] === vpn && this.tHi[e] === vaHi >> 12 && (a === asid || a === ASID_GLOBAL)) return e;
    }
    for (let s = 0; s < this.sAsid.length; s++) {
      const a = this.sAsid[s];
      if (a !== ASID_INVALID && (vaLo & this.sMaskLo[s]) === this.sLo[s] && (vaHi & this.sMaskHi[s]) === this.sHi[s] &&
          (a === asid || a === ASID_GLOBAL)) return -2 - s;
    }
    return -1;
  }

  /** Valid entries in the 4 KiB array. */
  entryCount(): number {
    let n = 0;
    for (let e = 0; e < this.tAsid.length; e++) if (this.tAsid[e] !== ASID_INVALID) n++;
    return n;
  }
  /** Valid superpage entries. */
  superEntryCount(): number {
    return this.superCount;
  }
}
