/**
 * The TLB: private to one hart (worker-local memory), set-associative, ASID-tagged,
 * with global and superpage entries. STUB — the MMU/TLB work fills in Sv48.
 *
 * Contract used by cpu/hart.ts (do not change without updating the hart):
 *  - `setSatp(mode, asid, rootPpn)` loads satp. Like hardware it does NOT flush.
 *  - `translate(vaLo, vaHi, kind)` → physical byte address (>= 0) of that byte, or
 *    TRANSLATE_PAGE_FAULT / TRANSLATE_ACCESS_FAULT (negative). On success `lastWritable`
 *    tells whether the 4 KiB page may be cached for stores (W=1 and D=1 after this call),
 *    `lastPageBase` is the physical address of the 4 KiB page containing va.
 *    It counts hits / misses / walks in the hart's counter block.
 *  - Entries are removed only by `sfenceVma`, `flush*`, or eviction; each removal calls
 *    `onInvalidate` (if set) so the hart can drop any faster copies it keeps.
 */
import { PhysicalMemory } from './ram.ts';
import type { AccessKind } from './trap.ts';

export const SATP_MODE_BARE = 0;
export const SATP_MODE_SV48 = 9;

export const TRANSLATE_PAGE_FAULT = -1;
export const TRANSLATE_ACCESS_FAULT = -2;

export interface TlbConfig {
  /** Number of 4 KiB entries (sets × ways). */
  entries: number;
  /** Associativity of the 4 KiB array. */
  ways: number;
  /** Fully associative entries for 2 MiB / 1 GiB superpages. */
  superEntries: number;
}

export const TLB_DEFAULTS: TlbConfig = { entries: 1024, ways: 8, superEntries: 32 };

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

  constructor(ram: PhysicalMemory, counters: Float64Array, config: Partial<TlbConfig> = {}) {
    this.ram = ram;
    this.counters = counters;
    this.config = { ...TLB_DEFAULTS, ...config };
  }

  setSatp(mode: number, asid: number, rootPpn: number): void {
    this.mode = mode;
    this.asid = asid;
    this.rootPpn = rootPpn;
  }

  translate(vaLo: number, vaHi: number, kind: AccessKind): number {
    void kind;
    if (this.mode === SATP_MODE_BARE) {
      const pa = vaHi * 4294967296 + (vaLo >>> 0);
      if (vaHi < 0 || pa >= this.ram.bytes) return TRANSLATE_ACCESS_FAULT;
      this.lastWritable = true;
      this.lastPageBase = pa - (pa % 4096);
      return pa;
    }
    return TRANSLATE_PAGE_FAULT; // STUB: Sv48 walk not yet implemented
  }

  /** sfence.vma: va null = all addresses; asid null = all ASIDs (rs1/rs2 = x0 forms). */
  sfenceVma(vaLo: number | null, vaHi: number, asid: number | null): void {
    void vaLo; void vaHi; void asid;
    this.onInvalidate?.();
  }
}
