/**
 * Per-hart ASID table, after Linux x86's cpu_tlbstate.ctxs[] (TLB_NR_DYN_ASIDS = 6): each hart
 * remembers, for ASID_SLOTS recently used address spaces, which hardware ASID it gave the
 * space (slot i uses ASID i + 1 in satp) and the tlb_generation its TLB has caught up to for
 * it. The table lives in ctl (kernel/proc/layout.ts HS_*) so statistics can read it; only its
 * hart writes it.
 *
 * ASIDs here are per hart and recycled round-robin: a space not in the table takes the next
 * slot and its ASID must be flushed first — the old owner's translations are still tagged
 * with it (Linux's choose_new_asid with need_flush). An AS slot of kernel/mm/aspace.ts identifies
 * the space: its tlb_generation keeps growing across reuse of the slot (create bumps it with
 * "whole"), so an entry left over from the slot's previous life is simply behind and flushed.
 *
 * Global ASIDs (the `broadcast` policy, after Linux 6.15's INVLPGB support in arch/x86/mm/tlb.c):
 * a space that runs on many harts at once gets ONE hardware ASID on every hart,
 * globalHwAsid(AS slot) = GLOBAL_ASID_BASE + slot (above every per-hart ASID, so the two never
 * collide; unique among live spaces because AS slots are). An ASID-table slot then records that
 * hardware ASID (HS_SLOT_HW) instead of using its own (slot + 1); `hwAsidOf` names whichever is in
 * use. The assignment (scheduler/policy-broadcast.ts assignGlobalAsid) first invalidates the
 * global ASID on every hart by broadcast + tlbsync (entries of an earlier life of the AS slot),
 * then publishes it in the space (AS_GASID); from then on every change of the space is broadcast
 * to every hart, so entries tagged with it are coherent everywhere and switch-in never flushes it.
 *
 * Also here: HartSchedBlock, the statistics counters of the same per-hart block.
 */
import type { Ctl } from '../kernel/layout.ts';
import {
  ASID_SLOTS, HART_SCHED_BYTES, HS_CURRENT, HS_LAT, HS_LOADED, HS_NEXT_SLOT, HS_SLOT_AS, HS_SLOT_GASID, HS_SLOT_GEN, HS_SLOT_HW,
  HS_SLOT_WORDS, HS_SLOTS, HS_STATS, LAT_RING, ST_SD_LAT_N, STAT_NAMES, STAT_SLOTS,
} from '../kernel/proc/layout.ts';

/** First global hardware ASID (per-hart ASIDs are 1..ASID_SLOTS). */
export const GLOBAL_ASID_BASE = 64;
/** Sv48 ASIDs are 16 bits: global ASIDs exist for AS slots below this. */
export const GLOBAL_ASID_LIMIT = 65536 - GLOBAL_ASID_BASE;

/** The global hardware ASID of address-space slot `asSlot` (0 when the slot has none: beyond 16 bits). */
export function globalHwAsid(asSlot: number): number {
  return asSlot < GLOBAL_ASID_LIMIT ? GLOBAL_ASID_BASE + asSlot : 0;
}

/** Generation recorded for a slot just taken: unknown, so anything but a full flush is wrong. */
export const GEN_UNKNOWN = -1;

/** Word index of hart `hartId`'s scheduler block. */
export function hartSchedWord(ctl: Ctl, hartId: number): number {
  return (ctl.layout.hartSched + hartId * HART_SCHED_BYTES) / 4;
}

/** One hart's ASID table (owner writes; anyone may read). */
export class AsidTable {
  private readonly i32: Int32Array;
  private readonly b: number;

  constructor(ctl: Ctl, readonly hartId: number) {
    this.i32 = ctl.i32;
    this.b = hartSchedWord(ctl, hartId);
  }

  private w(slot: number, field: number): number {
    return this.b + HS_SLOTS + slot * HS_SLOT_WORDS + field;
  }

  /** ASID slot holding address-space slot `asSlot`, or -1. */
  find(asSlot: number): number {
    for (let i = 0; i < ASID_SLOTS; i++) if (this.i32[this.w(i, HS_SLOT_AS)] === asSlot + 1) return i;
    return -1;
  }

  /** ASID slot whose space has global ASID `gasid` (kernel/mm/aspace.ts `asid`), or -1. */
  findGlobal(gasid: number): number {
    for (let i = 0; i < ASID_SLOTS; i++) if (this.i32[this.w(i, HS_SLOT_AS)] !== 0 && this.i32[this.w(i, HS_SLOT_GASID)] === gasid) return i;
    return -1;
  }

  /**
   * Give `asSlot` the next ASID slot round-robin (evicting whatever held it), with generation
   * GEN_UNKNOWN. The caller must flush that hardware ASID before running the space.
   */
  take(asSlot: number, gasid: number): number {
    const i = this.i32[this.b + HS_NEXT_SLOT]! % ASID_SLOTS;
    this.i32[this.b + HS_NEXT_SLOT] = (i + 1) % ASID_SLOTS;
    this.i32[this.w(i, HS_SLOT_AS)] = asSlot + 1;
    this.i32[this.w(i, HS_SLOT_GASID)] = gasid;
    this.i32[this.w(i, HS_SLOT_GEN)] = GEN_UNKNOWN;
    this.i32[this.w(i, HS_SLOT_HW)] = 0;
    return i;
  }

  /** Hardware ASID slot i puts in satp: the space's global one if set (setHw), else its own. */
  hwAsidOf(i: number): number {
    const hw = this.i32[this.w(i, HS_SLOT_HW)]!;
    return hw !== 0 ? hw : i + 1;
  }
  /** Make slot i use global hardware ASID `hw` (before it is marked loaded: others read it). */
  setHw(i: number, hw: number): void {
    this.i32[this.w(i, HS_SLOT_HW)] = hw;
  }
  /** True when slot i runs its space under a global hardware ASID. */
  isGlobal(i: number): boolean {
    return this.i32[this.w(i, HS_SLOT_HW)] !== 0;
  }

  /** Forget ASID slot `i` (its space was freed); its ASID is flushed when next taken anyway. */
  clear(i: number): void {
    this.i32[this.w(i, HS_SLOT_AS)] = 0;
  }

  /** Address-space slot held by ASID slot i, or -1. */
  asSlotOf(i: number): number {
    return this.i32[this.w(i, HS_SLOT_AS)]! - 1;
  }

  /** The generation ASID slot i has caught up to (GEN_UNKNOWN right after take). */
  gen(i: number): number {
    return this.i32[this.w(i, HS_SLOT_GEN)]!;
  }
  setGen(i: number, g: number): void {
    this.i32[this.w(i, HS_SLOT_GEN)] = g;
  }

  /** ASID slot loaded in satp, or -1 (none: satp Bare). */
  get loaded(): number {
    return this.i32[this.b + HS_LOADED]! - 1;
  }
  set loaded(i: number) {
    this.i32[this.b + HS_LOADED] = i + 1;
  }

  /** The per-hart hardware ASID of slot i (what hwAsidOf gives unless the slot went global). */
  static hwAsid(i: number): number {
    return i + 1;
  }
}

/** The statistics part of a hart's scheduler block (owner writes, anyone reads). */
export class HartSchedBlock {
  readonly f64: Float64Array;
  private readonly s: number;
  private readonly lat: number;
  private readonly cur: number;
  private readonly i32: Int32Array;

  constructor(ctl: Ctl, readonly hartId: number) {
    const b = hartSchedWord(ctl, hartId);
    this.f64 = ctl.f64;
    this.i32 = ctl.i32;
    this.s = (b + HS_STATS) / 2;
    this.lat = (b + HS_LAT) / 2;
    this.cur = b + HS_CURRENT;
  }

  /** Add `n` to statistic `slot` (ST_*). */
  bump(slot: number, n = 1): void {
    this.f64[this.s + slot] += n;
  }
  get(slot: number): number {
    return this.f64[this.s + slot]!;
  }

  /** Record one shootdown round-trip latency (ns) in the ring. */
  recordLatency(ns: number): void {
    const n = this.f64[this.s + ST_SD_LAT_N]!;
    this.f64[this.lat + (n % LAT_RING)] = ns;
    this.f64[this.s + ST_SD_LAT_N] = n + 1;
  }
  /** The latencies recorded, oldest first (at most LAT_RING). */
  latencies(): number[] {
    const n = this.f64[this.s + ST_SD_LAT_N]!;
    const out: number[] = [];
    for (let k = Math.max(0, n - LAT_RING); k < n; k++) out.push(this.f64[this.lat + (k % LAT_RING)]!);
    return out;
  }

  /** Thread index current on this hart, or -1 (published for statistics and kill). */
  get current(): number {
    return Atomics.load(this.i32, this.cur) - 1;
  }
  set current(tix: number) {
    Atomics.store(this.i32, this.cur, tix + 1);
  }

  /** Every statistic by name (STAT_NAMES). */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let k = 0; k < STAT_SLOTS && k < STAT_NAMES.length; k++) out[STAT_NAMES[k]!] = this.f64[this.s + k]!;
    return out;
  }
}
