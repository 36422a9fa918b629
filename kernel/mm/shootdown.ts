/**
 * The shootdown hook: the one way a Stale record (kernel/mm/stale.ts) is completed.
 *
 *   completeShootdown(ctx, stale):
 *     1. seal            — tlb_generation bumped once for the change (if not already)
 *     2. local           — sfence.vma on this hart: per page for a range of at most
 *                          FLUSH_CEILING_PAGES pages, else the whole ASID (left to step 3
 *                          when the policy says ownsLocalFlush: ipi, to overlap it)
 *     3. remote          — ctx.policy.invalidate(ctx, stale): THE call site of the remote step.
 *                          The scheduler issue plugs in ipi / per-page / lazy / deferred / off;
 *                          the default policy here is LOCAL_ONLY (nothing remote: correct only
 *                          while no other hart runs the address space).
 *     4. release         — releaseFrames, in this order: cleans of frames ended (frames.ts
 *                          frameCleanEnd: the sanitizer may now call a store through an entry
 *                          cached before the clean stale), dirty shared-file pages written back
 *                          (their contents are final only now: until step 3 another hart could
 *                          still store through a cached writable+dirty entry), file references
 *                          of removed regions dropped, frame references dropped (frames.put:
 *                          freed at zero), 2 MiB blocks likewise (freeHuge at zero), unlinked
 *                          page-table frames freed.
 * A policy that defers invalidation (LATR-style) must not return before the frames may be
 * released — or return `false` from `invalidate`, keep the `release` it was handed, and pass
 * it to releaseFrames once every hart is past the change (the write-back then waits too).
 * `deferred` does not defer a change that writes back (Stale.writesBack): munmap, madvise and
 * msync return with the data in the file.
 */
import { vaLoHi } from '../../cpu/pte.ts';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import type { VirtualAddressSpace } from './aspace.ts';
import type { KernelContext } from '../context.ts';
import { CAUSE_LOCAL, FLUSH_ASID, FLUSH_PAGE, FLUSH_RANGE, traceEmitFlush } from '../lab/trace.ts';
import { inject, INJ } from '../lab/inject.ts';
import { fileRefDelta, writeBackPage } from './pagecache.ts';
import { frameCleanEnd } from './frames.ts';
import { claimDrainRight, FLUSH_CEILING_PAGES, type Stale, type StaleRelease } from './stale.ts';

const right = claimDrainRight();

/** The remote step of a shootdown. */
export interface ShootdownPolicy {
  readonly name: string;
  /**
   * Invalidate `stale` (already sealed: its generation is bumped) on every other hart that
   * may cache the address space, and wait until they have (serving this hart's mailbox).
   * Return true when the frames may be released now; false when the policy took them with
   * `release` handed to it and frees them later itself.
   */
  invalidate(ctx: KernelContext, stale: Stale, release: StaleRelease): boolean;
  /**
   * The reuse guard (optional; absent = nothing to do, as for every policy that completes its
   * invalidations before `invalidate` returns). Called with `as`'s mmap lock held exclusive,
   * BEFORE a new region over [vpn, vpn + npages) is installed (kernel/mm/mmap.ts guardReuse, its
   * one call site): a policy that may still have an invalidation of that range pending on
   * another hart (`deferred`) completes it synchronously here, so no hart can reach the new
   * mapping's va through the old translation — LATR's rule that a virtual range is not reused
   * before its lazy shootdown has completed everywhere.
   */
  beforeReuse?(ctx: KernelContext, as: VirtualAddressSpace, vpn: number, npages: number): void;
  /**
   * True when `invalidate` itself flushes this hart's TLB for the change (localInvalidate,
   * before it returns; absent = completeShootdown does it first, step 2). The ipi policy does,
   * so that it can flush locally while its targets flush (concurrent flushing) and time the
   * whole operation.
   */
  readonly ownsLocalFlush?: boolean;
}

/** Default policy until the scheduler's: no remote step (one hart, or harts not running the space). */
export const LOCAL_ONLY: ShootdownPolicy = {
  name: 'local',
  invalidate: () => true,
};

/** sfence.vma on this hart for the stale range (or ASID); traced as a flush instant, cause local. */
export function localInvalidate(ctx: KernelContext, stale: Stale): void {
  const tlb = ctx.tlb;
  if (tlb === null || stale.empty) return;
  const asid = stale.as.asid;
  if (stale.whole || stale.npages > FLUSH_CEILING_PAGES) {
    tlb.sfenceVma(null, 0, asid);
    ctx.counters.localFlushAsid++;
    traceEmitFlush(ctx.trace, FLUSH_ASID, CAUSE_LOCAL, asid, 0, 0);
    return;
  }
  for (let vpn = stale.vpnStart; vpn < stale.vpnEnd; vpn++) {
    const [lo, hi] = vaLoHi(vpn * PAGE_SIZE);
    tlb.sfenceVma(lo, hi, asid);
  }
  ctx.counters.localFlushPages += stale.npages;
  traceEmitFlush(ctx.trace, stale.npages === 1 ? FLUSH_PAGE : FLUSH_RANGE, CAUSE_LOCAL, asid, stale.vpnStart * PAGE_SIZE, stale.npages);
}

/**
 * Release what a completed invalidation left: end the cleans it began, write back the dirty shared-file pages, drop
 * the file references, drop the frame references and free the frames and tables. Call only
 * once the change is invalidated on every hart that may cache it (completeShootdown, or a
 * policy that kept the release until then).
 */
export function releaseFrames(ctx: KernelContext, r: StaleRelease): void {
  for (const ppn of r.cleaned) frameCleanEnd(ctx.ctl, ppn);
  const wb = r.writeback;
  if (wb.length !== 0) {
    inject(ctx.ctl, INJ['writeback.before']);
    for (let k = 0; k < wb.length; k += 2) writeBackPage(ctx, wb[k]!, wb[k + 1]!);
  }
  for (const file of r.fileRefs) fileRefDelta(ctx, file, -1);
  const frames = ctx.frames;
  // A frame that is not allocated can only come from a page table a guest overwrote through a
  // stale entry (an unsafe policy reused the frame as a table): skip and count it rather than
  // halt the machine on the allocator's check (the sanitizer has reported the stale access).
  const ok = (ppn: number): boolean => frames.isAllocated(ppn) || (ctx.counters.corruptPtes++, false);
  for (const ppn of r.frames) if (ok(ppn)) frames.put(ppn);
  for (const ppn of r.hugeFrames) if (frames.isHugeHead(ppn) ? frames.decRef(ppn) === 0 : (ctx.counters.corruptPtes++, false)) frames.freeHuge(ppn);
  for (const ppn of r.tables) if (ok(ppn)) frames.free(ppn);
}

/**
 * Complete `stale`: seal, invalidate locally, run the policy's remote step, release frames.
 * The only way to release what a page-table change unmapped. Throws if `stale` belongs to
 * another context or was already completed.
 */
export function completeShootdown(ctx: KernelContext, stale: Stale): void {
  if (stale.ctx !== ctx) throw new Error('completeShootdown: Stale record of another context');
  stale.seal();
  const release = stale.drain(right);
  if (!stale.empty) {
    ctx.counters.shootdowns++;
    if (ctx.policy.ownsLocalFlush !== true) localInvalidate(ctx, stale);
  }
  if (stale.empty) {
    releaseFrames(ctx, release);
    return;
  }
  inject(ctx.ctl, INJ['shootdown.before-remote']);
  // THE remote step (scheduler issue: IPIs to the active-hart mask, per-page, lazy, deferred, off).
  const now = ctx.policy.invalidate(ctx, stale, release);
  if (now) {
    inject(ctx.ctl, INJ['shootdown.before-release']);
    releaseFrames(ctx, release);
  }
}
