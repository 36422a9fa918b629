/**
 * Replacing a live translation — a copy-on-write break — the way Linux's wp_page_copy does it
 * (ptep_clear_flush, then set_pte_at): clear → flush → set.
 *
 *   clearForChange(ctx, ptePa, expected)   the PTE becomes PTE_CHANGING (one CAS from the value
 *                                          the caller decided on; false = it changed meanwhile)
 *   ... the caller records the old translation in a Stale marked requireSync() and completes
 *       the shootdown: every hart drops the old translation; then the old frame's reference ...
 *   setAfterChange(ctx, ptePa, lo)         the new PTE is set and the waiters woken
 *
 * Why the middle state: if the new PTE were set first, another hart could fill a translation
 * to the new frame and store through it while a third hart still reads the old frame through
 * its TLB: a load after the store was published returns the old value (issue 12, bug 2).
 * While the PTE is PTE_CHANGING no hart can fill any translation for the page (the MMU faults:
 * V = 0), and once the shootdown completed no hart holds the old one.
 *
 * Faults run under the mmap lock held SHARED, so another hart may fault on the page meanwhile.
 * It must not take PTE_CHANGING for "nothing mapped" (a demand-zero page would replace the
 * copy): it calls waitForChange, which waits until the PTE leaves the state — in slices of
 * Atomics.wait on the PTE word itself, serving its own mailbox between them (ctx.whileWaiting:
 * the changing hart's shootdown waits for this hart's acknowledgement) — and then retries the
 * access. The changing hart holds the state only for one shootdown round trip.
 *
 * Per hart (worker thread), `changingHere` is the PTE this hart has in the change state: a
 * fault on that very PTE from the same hart would wait for itself, so it throws instead.
 * Shared state: the PTE word in RAM (kernel/mm/pagetable.ts has the encoding).
 */
import type { KernelContext } from '../context.ts';
import { waitSlice } from '../sync/lock.ts';
import { casPte, exchangePte, isChanging, PTE_CHANGING, readPte } from './pagetable.ts';

/** Slices (at least 1 ms each) a fault waits for one change before it fails loudly (a kernel bug). */
export const CHANGE_WAIT_LIMIT_SLICES = 60_000;

/** The PTE this hart (thread) holds in the change state, -1 none. */
let changingHere = -1;

/**
 * Step 1 (clear): replace the PTE at `ptePa` holding `expected` (a valid leaf) by PTE_CHANGING.
 * Returns false, changing nothing, when it no longer holds `expected` (the MMU set A/D, or
 * another hart changed it): the caller drops its preparations and the access is retried.
 * On true the caller MUST call setAfterChange on every path.
 */
export function clearForChange(ctx: KernelContext, ptePa: number, expected: number): boolean {
  if (changingHere >= 0) throw new Error(`clearForChange: this hart already changes the PTE at 0x${changingHere.toString(16)}`);
  if (isChanging(expected) || !casPte(ctx, ptePa, expected, PTE_CHANGING)) return false;
  changingHere = ptePa;
  return true;
}

/**
 * Step 3 (set): the PTE at `ptePa`, in the change state set by this hart, becomes `lo`; every
 * hart waiting for the change is woken. Throws naming the function if the PTE left the state.
 */
export function setAfterChange(ctx: KernelContext, ptePa: number, lo: number): void {
  if (changingHere !== ptePa) throw new Error(`setAfterChange: the PTE at 0x${ptePa.toString(16)} is not in a change of this hart`);
  changingHere = -1;
  // SAFETY: the old translation is gone from every TLB (the caller completed the shootdown),
  // so the first translation any hart fills now is this one.
  const was = exchangePte(ctx, ptePa, lo);
  Atomics.notify(ctx.ram.i32, ptePa >>> 2);
  if (!isChanging(was)) throw new Error(`setAfterChange: the PTE at 0x${ptePa.toString(16)} held 0x${(was >>> 0).toString(16)}, not the change state`);
}

/**
 * A fault found PTE_CHANGING at `ptePa` (page `vpn`): wait until the hart making the change set
 * the new PTE, serving this hart's mailbox meanwhile; the caller then retries the access. Throws
 * naming the function when this hart itself holds the change (a fault inside the change) or the
 * change outlasts CHANGE_WAIT_LIMIT_SLICES slices.
 */
export function waitForChange(ctx: KernelContext, ptePa: number, vpn: number): void {
  if (changingHere === ptePa) throw new Error(`waitForChange: change in progress at vpn 0x${vpn.toString(16)} is this hart's own (a fault inside the change)`);
  const i32 = ctx.ram.i32, index = ptePa >>> 2;
  for (let slices = 0; readPte(ctx, ptePa) === PTE_CHANGING; slices++) {
    if (slices >= CHANGE_WAIT_LIMIT_SLICES) throw new Error(`waitForChange: change in progress at vpn 0x${vpn.toString(16)} did not finish`);
    waitSlice(i32, index, PTE_CHANGING, ctx.whileWaiting);
  }
}
