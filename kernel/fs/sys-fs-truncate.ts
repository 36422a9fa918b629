/**
 * Truncation and the page cache: after the host file of an open description changed size
 * (ftruncate), its page-cache file follows — size, zeroed tail of the last page, pages past
 * the end dropped (kernel/mm/pagecache.ts truncateFile) — and, like Linux's
 * unmap_mapping_range(even_cows), every mapping of those pages is removed in every address
 * space, private copies included, so the next touch faults and finds the page past EOF:
 * SIGBUS (kernel/mm/file-unmap.ts unmapFileBeyond walks the address spaces).
 */
import { PAGE_SIZE } from '../../cpu/ram.ts';
import type { KernelContext } from '../context.ts';
import { ofileCachedFile } from './ofile.ts';
import { unmapFileBeyond } from '../mm/file-unmap.ts';
import { fileRefDelta, truncateFile } from '../mm/pagecache.ts';

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
