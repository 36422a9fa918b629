/**
 * Unmapping a file's pages from every address space that maps it — truncation's half of
 * Linux's unmap_mapping_range(even_cows): after a file shrank, every translation of its pages
 * past the new end, private copies included, is removed, so the next touch faults, finds the
 * page past EOF and gets SIGBUS.
 *
 * There is no reverse map: the walk visits every slot of the address-space table and scans the
 * region list of each live space, one space at a time under its mmap lock held exclusive (the
 * caller holds none). A space reached this way belongs to some other process that may exit at
 * any moment, so the walk holds a REFERENCE on it (VirtualAddressSpace.tryGet) from before it
 * takes the lock until after it dropped it: without one, the slot could be freed and created
 * again meanwhile, its lock re-initialized under the locker (the machine then halted with
 * "RwLock.writeUnlock: no writer holds the lock", or wedged). Spaces dying or being created
 * (reference count 0) are skipped: a dying one is being cleared anyway, and fork fills a new one
 * under its lock (kernel/mm/cow.ts) from a parent this walk visits.
 * Known gap: a fork whose child takes a slot the walk already passed, copying a parent the walk
 * has not reached yet, keeps translations of the truncated pages in the child (Linux avoids it
 * with the file's i_mmap lock; there is no per-file lock over mappers here).
 */
import type { KernelContext } from '../context.ts';
import { inject, INJ } from '../lab/inject.ts';
import { VirtualAddressSpace } from './aspace.ts';
import { exclusive, releaseAddressSpace } from './mmap.ts';
import { clearRange } from './pagetable.ts';
import { regionEnd } from './regions.ts';
import { completeShootdown } from './shootdown.ts';
import { Stale } from './stale.ts';
import { AS_BYTES, AS_LIVE, AS_STATE } from './layout.ts';

/**
 * Remove every translation of pages >= `keep` (file page numbers) of page-cache file `pc`, in
 * every address space: PTEs cleared, then the shootdown completed, per space, before its lock is
 * dropped. The caller has already truncated the page cache (kernel/mm/pagecache.ts truncateFile)
 * and holds no mmap lock.
 */
export function unmapFileBeyond(ctx: KernelContext, pc: number, keep: number): void {
  const { i32, layout } = ctx.ctl;
  for (let slot = 0; slot < layout.vm.maxSpaces; slot++) {
    if (Atomics.load(i32, (layout.asTable + slot * AS_BYTES) / 4 + AS_STATE) !== AS_LIVE) continue;
    let as: VirtualAddressSpace;
    try {
      as = VirtualAddressSpace.attach(ctx, slot);
    } catch {
      continue; // retired meanwhile: nothing of it is mapped any more
    }
    if (!as.tryGet()) continue; // dying, or not created yet
    try {
      inject(ctx.ctl, INJ['truncate.before-lock']);
      exclusive(ctx, as, 'unmapFileBeyond', () => {
        inject(ctx.ctl, INJ['truncate.locked']);
        const stale = new Stale(ctx, as);
        try {
          const rl = as.regions;
          for (let i = rl.first(); i >= 0; i = rl.next(i)) {
            const r = rl.get(i);
            if (r.file !== pc) continue;
            const from = r.start + Math.max(0, keep - r.pgoff);
            if (from < regionEnd(r)) clearRange(ctx, as, from, regionEnd(r), stale);
          }
        } finally {
          completeShootdown(ctx, stale);
        }
      });
    } finally {
      releaseAddressSpace(ctx, as); // the last reference frees the space (its process exited meanwhile)
    }
  }
}
