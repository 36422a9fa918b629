/**
 * Truncation and the page cache: after the host file of an open description changed size
 * (ftruncate), its page-cache file follows — size, zeroed tail of the last page, pages past
 * the end dropped (kernel/mm/pagecache.ts truncateFile) — and, like Linux's
 * unmap_mapping_range(even_cows), every mapping of those pages is removed in every address
 * space, private copies included, so the next touch faults and finds the page past EOF:
 * SIGBUS. There is no reverse map: the address spaces' region lists are scanned, one space at
 * a time under its mmap lock held exclusive (the caller holds none).
 */
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { VirtualAddressSpace } from '../mm/aspace.ts';
import type { KernelContext } from '../context.ts';
import { exclusive } from '../mm/mmap.ts';
import { ofileCachedFile } from './ofile.ts';
import { fileRefDelta, truncateFile } from '../mm/pagecache.ts';
import { clearRange } from '../mm/pagetable.ts';
import { regionEnd } from '../mm/regions.ts';
import { completeShootdown } from '../mm/shootdown.ts';
import { Stale } from '../mm/stale.ts';
import { AS_BYTES, AS_LIVE, AS_STATE } from '../mm/layout.ts';

/**
 * The host file of description `id` is now `len` bytes: update its cached pages, if its
 * inode has a page-cache file, and unmap every page of it past the new end of file.
 */
export function truncateCached(ctx: KernelContext, id: number, len: number): void {
  const pc = ofileCachedFile(ctx, id);
  if (pc === 0) return;
  try {
    truncateFile(ctx, pc, len);
    unmapFileBeyond(ctx, pc, Math.ceil(len / PAGE_SIZE));
  } finally {
    fileRefDelta(ctx, pc, -1);
  }
}

/** Remove every translation of pages >= `keep` of page-cache file `pc`, in every address space. */
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
    exclusive(ctx, as, 'unmapFileBeyond', () => {
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
  }
}
