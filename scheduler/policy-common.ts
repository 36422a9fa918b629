/**
 * Pieces the lab's shootdown policies share (scheduler/policy-*.ts): the initiator's catch-up
 * of its own ASID-table entry, the generation check a hart runs at a poll point, the harts
 * that are running an address space right now, and the PTE lookup the sanitizer uses.
 */
import { PTE_D, PTE_R, PTE_V, PTE_W, PTE_X } from '../cpu/pte.ts';
import type { KernelContext } from '../kernel/context.ts';
import type { Ctl } from '../kernel/layout.ts';
import { findLeaf, found, loPpn } from '../kernel/mm/pagetable.ts';
import type { Stale } from '../kernel/mm/stale.ts';
import type { VirtualAddressSpace } from '../kernel/mm/aspace.ts';
import { ST_SD_LOCAL_FULL } from '../kernel/proc/layout.ts';
import { AS_BYTES, AS_GEN } from '../kernel/mm/layout.ts';
import { AsidTable, HartSchedBlock } from './asid.ts';
import type { IpiHart } from './shootdown-ipi.ts';
import { flushRange } from './switch.ts';
import { PAGE_SIZE } from '../cpu/ram.ts';
import { CAUSE_LOCAL, CAUSE_POLL, FLUSH_ASID, FLUSH_PAGE, FLUSH_RANGE, traceEmitFlush } from '../kernel/lab/trace.ts';

/** Word index of address-space slot `slot`'s field `f`. */
export function asWord(ctl: Ctl, slot: number, f: number): number {
  return (ctl.layout.asTable + slot * AS_BYTES) / 4 + f;
}

/**
 * After kernel/mm/shootdown.ts flushed this hart's TLB for `stale`'s range: bring this hart's
 * ASID-table entry for the space up to the stale record's generation (exactly one behind →
 * caught up; further behind → flush the whole ASID now). Same rule as the ipi policy.
 */
export function catchUpLocal(h: IpiHart, stale: Stale): void {
  const i = h.table.find(stale.as.slot);
  if (i < 0) return;
  const g = stale.generation;
  const local = h.table.gen(i);
  if (local >= g) return;
  if (local === g - 1) {
    h.table.setGen(i, g);
    return;
  }
  const now = stale.as.generation;
  h.hart.sfenceVma(null, 0, h.table.hwAsidOf(i));
  h.table.setGen(i, now);
  h.stats.bump(ST_SD_LOCAL_FULL);
  traceEmitFlush(h.hctx.trace, FLUSH_ASID, CAUSE_LOCAL, stale.as.asid, 0, 0);
}

/** What a poll-point generation check did. */
export const POLL_NONE = 0;
export const POLL_RANGE = 1;
export const POLL_FULL = 2;

/**
 * The switch-time generation check (scheduler/switch.ts) run for the space loaded on this
 * hart, without switching: behind by exactly one with a known range → flush the range; behind
 * by more → flush the ASID. Returns POLL_*.
 */
export function catchUpLoaded(h: IpiHart, as: VirtualAddressSpace): number {
  const i = h.table.find(as.slot);
  if (i < 0 || h.table.loaded !== i) return POLL_NONE;
  const local = h.table.gen(i);
  if (local >= as.generation) return POLL_NONE; // the cheap check (one Atomics.load)
  const bump = as.latestBump();
  const hw = h.table.hwAsidOf(i);
  let kind = POLL_FULL;
  if (local === bump.generation - 1 && bump.npages >= 0) {
    flushRange(h.hart, hw, bump.vpnStart, bump.npages);
    kind = POLL_RANGE;
    traceEmitFlush(h.hctx.trace, bump.npages === 1 ? FLUSH_PAGE : FLUSH_RANGE, CAUSE_POLL, as.asid, bump.vpnStart * PAGE_SIZE, bump.npages);
  } else {
    h.hart.sfenceVma(null, 0, hw);
    traceEmitFlush(h.hctx.trace, FLUSH_ASID, CAUSE_POLL, as.asid, 0, 0);
  }
  if (h.table.gen(i) < bump.generation) h.table.setGen(i, bump.generation);
  return kind;
}

/**
 * Harts other than `self` that may be using `as`'s translations right now: in its active
 * mask, running a thread (an idle hart has switched away from every space; it flushes at its
 * next switch-in because tlb_generation is already bumped), with the space loaded.
 */
export function runningTargets(ctl: Ctl, as: VirtualAddressSpace, self: number, out: number[]): number[] {
  out.length = 0;
  for (const t of as.activeHarts()) {
    if (t === self) continue;
    if (new HartSchedBlock(ctl, t).current < 0) continue;
    const table = new AsidTable(ctl, t);
    const i = table.loaded;
    if (i >= 0 && table.asSlotOf(i) === as.slot) out.push(t);
  }
  return out;
}

/**
 * The leaf mapping `vpn` under root `rootPpn`: the 4 KiB page's frame and the PTE's R/W/X/D
 * bits (in PTE bit positions), or null when no valid leaf maps it.
 */
export function readLeaf(kctx: KernelContext, rootPpn: number, vpn: number): { ppn: number; flags: number } | null {
  if (findLeaf(kctx, rootPpn, vpn) < 0) return null;
  const lo = found.lo;
  if ((lo & PTE_V) === 0) return null;
  const span = found.level === 0 ? 1 : 512 ** found.level;
  return { ppn: loPpn(lo) + (vpn % span), flags: lo & (PTE_R | PTE_W | PTE_X | PTE_D) };
}

export { AS_GEN };
