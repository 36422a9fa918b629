/**
 * Address-space switch on one hart, following Linux x86's switch_mm_irqs_off():
 *
 *   1. find the space in this hart's ASID table (scheduler/asid.ts), or take the next slot
 *      round-robin (a recycled ASID: must be flushed);
 *   2. mark the slot loaded, THEN publish this hart in the space's active mask, THEN read
 *      tlb_generation (with the range of its latest bump);
 *   3. flush: nothing when caught up; only the latest bump's range when exactly one
 *      generation behind and that range is known; otherwise the whole ASID;
 *   4. record the generation caught up to and load satp (Sv48, the slot's ASID, the root).
 *
 * Why the order in 2: a shootdown initiator bumps tlb_generation and then reads the active
 * mask (both sequentially consistent Atomics). If this hart set its bit before reading the
 * generation, then either the initiator sees the bit (and interrupts this hart), or this hart
 * reads the new generation (and flushes here) — never neither. Read the generation first and
 * a bump between the read and the bit is missed by both sides: this hart would run on stale
 * translations with nobody to tell it.
 * The slot is marked loaded before the bit because a shootdown may be served while this
 * switch waits for the generation lock: the handler must see the space as loaded here (and
 * flush against the slot's generation), not as a space this hart left (which would take it
 * out of the active mask again).
 *
 * A space with a global hardware ASID (the broadcast policy; scheduler/asid.ts) is loaded under
 * it without a flush: broadcasts keep its entries coherent on every hart.
 *
 * Every switch is counted in the hart's statistics: new ASID, range, full, none.
 */
import type { Hart } from '../cpu/hart.ts';
import { SATP_MODE_BARE, SATP_MODE_SV48 } from '../cpu/pte.ts';
import { PAGE_SIZE } from '../cpu/ram.ts';
import type { VirtualAddressSpace } from '../kernel/mm/aspace.ts';
import { ST_SWITCH_FULL, ST_SWITCH_NEW, ST_SWITCH_NONE, ST_SWITCH_RANGE } from '../kernel/proc/layout.ts';
import { CAUSE_SWITCH, FLUSH_ASID, FLUSH_PAGE, FLUSH_RANGE, traceEmitFlush, type TraceWriter } from '../kernel/lab/trace.ts';
import { AsidTable, GEN_UNKNOWN, type HartSchedBlock } from './asid.ts';

/** How a switch-in treated the TLB. */
export const SWITCH_NEW = ST_SWITCH_NEW;
export const SWITCH_RANGE = ST_SWITCH_RANGE;
export const SWITCH_FULL = ST_SWITCH_FULL;
export const SWITCH_NONE = ST_SWITCH_NONE;

const TWO32 = 4294967296;

/**
 * Flush pages [vpnStart, vpnStart + npages) of hardware ASID `hwAsid` on `hart`. Allocation-free
 * (a shootdown receiver runs it between instruction batches): va halves computed inline.
 */
export function flushRange(hart: Hart, hwAsid: number, vpnStart: number, npages: number): void {
  for (let vpn = vpnStart; vpn < vpnStart + npages; vpn++) {
    const va = vpn * PAGE_SIZE; // exact in a double; the same split as cpu/pte.ts vaLoHi
    hart.sfenceVma(va % TWO32 | 0, Math.floor(va / TWO32) | 0, hwAsid);
  }
}

/**
 * Load `as` on `hart` (hart `table.hartId`) with the generation check above; returns
 * SWITCH_NEW / SWITCH_RANGE / SWITCH_FULL / SWITCH_NONE (also counted in `stats`). A flush is
 * traced on `trace` (the hart's writer, null = off) as a flush instant, cause switch.
 */
export function switchIn(
  hart: Hart, table: AsidTable, stats: HartSchedBlock, as: VirtualAddressSpace, trace: TraceWriter | null = null,
): number {
  let i = table.find(as.slot);
  const fresh = i < 0;
  if (fresh) i = table.take(as.slot, as.asid);
  const global = as.globalAsid;
  if (global !== 0) table.setHw(i, global); // before `loaded`: a broadcast initiator reads both
  table.loaded = i;
  as.markActive(table.hartId); // before reading tlb_generation: see the file comment
  const bump = as.latestBump();
  const local = table.gen(i);
  const hw = table.hwAsidOf(i);
  let kind: number;
  if (global !== 0) {
    // A global ASID (scheduler/asid.ts): invalidated everywhere when assigned, and every change
    // since was broadcast to every hart (policy-broadcast.ts): its entries here are current.
    // Linux: choose_new_asid returns the global ASID with need_flush = false.
    kind = SWITCH_NONE;
  } else if (fresh || local === GEN_UNKNOWN) {
    hart.sfenceVma(null, 0, hw);
    kind = SWITCH_NEW;
    traceEmitFlush(trace, FLUSH_ASID, CAUSE_SWITCH, as.asid, 0, 0);
  } else if (local >= bump.generation) {
    kind = SWITCH_NONE;
  } else if (local === bump.generation - 1 && bump.npages >= 0) {
    flushRange(hart, hw, bump.vpnStart, bump.npages);
    kind = SWITCH_RANGE;
    traceEmitFlush(trace, bump.npages === 1 ? FLUSH_PAGE : FLUSH_RANGE, CAUSE_SWITCH, as.asid, bump.vpnStart * PAGE_SIZE, bump.npages);
  } else {
    hart.sfenceVma(null, 0, hw);
    kind = SWITCH_FULL;
    traceEmitFlush(trace, FLUSH_ASID, CAUSE_SWITCH, as.asid, 0, 0);
  }
  if (table.gen(i) < bump.generation) table.setGen(i, bump.generation);
  hart.setSatp(SATP_MODE_SV48, hw, as.rootPpn);
  stats.bump(kind);
  return kind;
}

/**
 * Leave address space `as` for good on this hart because it is being freed: satp Bare, the
 * slot forgotten, this hart out of the active mask.
 */
export function unloadFreed(hart: Hart, table: AsidTable, asSlot: number, clearActive: () => void): void {
  const i = table.find(asSlot);
  if (i >= 0) {
    hart.sfenceVma(null, 0, table.hwAsidOf(i));
    if (table.loaded === i) table.loaded = -1;
    table.clear(i);
  }
  hart.setSatp(SATP_MODE_BARE, 0, 0);
  clearActive();
}
