/**
 * mremap(old_addr, old_size, new_size, flags, new_addr) with Linux semantics and errno
 * (negative return = -errno). The three outcomes, as Linux's mm/mremap.c:
 *   - shrink (new <= old, no MREMAP_FIXED): the tail [old_addr + new, old_addr + old) is unmapped;
 *   - grow in place: the range ends where its region ends and the pages after it are free: the
 *     region record is extended (nothing is mapped now: demand paging fills the new pages);
 *   - move (MREMAP_MAYMOVE, or MREMAP_FIXED at new_addr): a new region at a free gap (top-down,
 *     kernel/mm/mmap.ts findGap) or at new_addr (whatever was there is unmapped first), and every
 *     resident PTE of the old range moves to the new range — the frames keep their contents and
 *     references. The old translations go into a Stale and are shot down before mremap
 *     returns; no frame is released by a move (the frames live on at the new address).
 * MREMAP_DONTUNMAP moves the PTEs but keeps the old region: its pages fault in afresh (zero
 * for anonymous memory, the file for file mappings), as Linux.
 * old_size 0 with MREMAP_MAYMOVE duplicates a shared mapping (a second mapping of the same
 * file pages), Linux's special case; for a private mapping it is EINVAL.
 *
 * Errors: EINVAL — unknown flags, MREMAP_FIXED or MREMAP_DONTUNMAP without MREMAP_MAYMOVE,
 * DONTUNMAP with old != new size, unaligned old_addr or new_addr, new size 0, new range
 * beyond user space (FIXED), old and new ranges overlapping, old size 0 of a private mapping.
 * EFAULT — old_addr not mapped, or the old range crosses the end of its region, or a device
 * mapping asked to grow. ENOMEM — cannot grow in place without MREMAP_MAYMOVE, no free gap,
 * the region table or frames (page tables, 2 MiB splits) run out. EPERM: new_addr below
 * mmap_min_addr.
 * Like Linux, the unmapping steps of a FIXED move (destination, old tail) stay done when a
 * later step fails.
 */
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { USER_TOP, type VirtualAddressSpace } from './aspace.ts';
import type { KernelContext } from '../context.ts';
import { EFAULT, EINVAL, ENOMEM, EPERM } from '../errno.ts';
import { MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../linux-flags.ts';
import { exclusive, findGap, guardReuse, unmapLocked } from './mmap.ts';
import { fileRefDelta } from './pagecache.ts';
import {
  clearRange, exchangePte, forEachLeaf, KERNEL_HALF_VPN, PT_BLOCKED, PT_NOMEM, splitHugeLeaf, walkCreate,
} from './pagetable.ts';
import { regionEnd, type Region } from './regions.ts';
import { completeShootdown } from './shootdown.ts';
import { Stale } from './stale.ts';
import { MMAP_MIN_ADDR } from './abi.ts';
import { RF_DEVICE, RF_HEAP, RF_SHARED } from './layout.ts';

const USER_PAGES = KERNEL_HALF_VPN;
const KNOWN = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP;
const pagesUp = (n: number): number => Math.ceil(n / PAGE_SIZE);
const aligned = (n: number): boolean => n % PAGE_SIZE === 0;

/**
 * mremap(oldAddr, oldLen, newLen, flags, newAddr): the (new) address of the mapping, or
 * -errno (see the header). Lengths are rounded up to pages. Takes the mmap lock exclusive;
 * every page-table change is shot down before it returns.
 */
export function mremap(
  ctx: KernelContext, as: VirtualAddressSpace, oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr = 0,
): number {
  if (flags & ~KNOWN) return -EINVAL;
  const mayMove = (flags & MREMAP_MAYMOVE) !== 0, fixed = (flags & MREMAP_FIXED) !== 0, keepOld = (flags & MREMAP_DONTUNMAP) !== 0;
  if ((fixed || keepOld) && !mayMove) return -EINVAL;
  if (keepOld && pagesUp(oldLen) !== pagesUp(newLen)) return -EINVAL;
  if (!aligned(oldAddr) || !(oldAddr >= 0)) return -EINVAL;
  if (!(newLen > 0)) return -EINVAL;
  if (!(oldLen >= 0)) return -EINVAL;
  const oldSize = pagesUp(oldLen) * PAGE_SIZE, newSize = pagesUp(newLen) * PAGE_SIZE;
  if (fixed) {
    if (!aligned(newAddr) || !(newAddr >= 0)) return -EINVAL;
    if (newSize > USER_TOP || newAddr > USER_TOP - newSize) return -EINVAL;
    if (oldAddr < newAddr + newSize && newAddr < oldAddr + oldSize) return -EINVAL;
    if (newAddr < MMAP_MIN_ADDR) return -EPERM;
  }
  if (oldAddr >= USER_TOP) return -EFAULT;
  if (newSize > USER_TOP) return -ENOMEM;
  const s = oldAddr / PAGE_SIZE, ns = newSize / PAGE_SIZE;
  let os = oldSize / PAGE_SIZE;
  // munmap of the old tail [s + ns, s + os): EINVAL when it runs past user space, as munmap.
  const unmapTail = (): number => (s + os > USER_PAGES ? -EINVAL : unmapLocked(ctx, as, s + ns, s + os));
  return exclusive(ctx, as, 'mremap', () => {
    const rl = as.regions;
    if (rl.find(s) < 0) return -EFAULT;
    if (fixed || keepOld) {
      const t = fixed ? newAddr / PAGE_SIZE : -1;
      if (fixed) {
        const r = unmapLocked(ctx, as, t, t + ns);
        if (r < 0) return r;
      }
      if (os > ns) {
        const r = unmapTail();
        if (r < 0) return r;
        os = ns;
      }
      const src = resizable(as, s, os, ns);
      if (typeof src === 'number') return src;
      const to = fixed ? t : findGap(as, ns, 1);
      if (to < 0) return -ENOMEM;
      return moveLocked(ctx, as, src, s, os, ns, to, keepOld);
    }
    if (os >= ns) {
      if (os > ns) {
        const r = unmapTail();
        if (r < 0) return r;
      }
      return oldAddr;
    }
    const src = resizable(as, s, os, ns);
    if (typeof src === 'number') return src;
    if (os > 0 && s + os === regionEnd(src) && s + ns <= USER_PAGES && !rl.overlaps(s + os, s + ns)) {
      // Grow in place: the record covers the new pages; they fault in on first touch.
      guardReuse(ctx, as, s + os, ns - os); // no stale translation of the new pages may survive
      const i = rl.find(s);
      rl.update(i, { ...src, npages: src.npages + ns - os });
      rl.mergeRange(s, s + ns);
      return oldAddr;
    }
    if (!mayMove) return -ENOMEM;
    const to = findGap(as, ns, 1);
    if (to < 0) return -ENOMEM;
    return moveLocked(ctx, as, src, s, os, ns, to, false);
  });
}

/**
 * Linux's vma_to_resize (lock held): the region holding [s, s + os), or -errno — EFAULT when s
 * is unmapped, the range runs past the region's end or a device mapping would change size;
 * EINVAL for old size 0 of a private mapping.
 */
function resizable(as: VirtualAddressSpace, s: number, os: number, ns: number): Region | number {
  const i = as.regions.find(s);
  if (i < 0) return -EFAULT;
  const r = as.regions.get(i);
  if (s + os > regionEnd(r)) return -EFAULT;
  if (os === 0 && !(r.flags & RF_SHARED)) return -EINVAL;
  if (os !== ns && (r.flags & RF_DEVICE)) return -EFAULT;
  return r;
}

/**
 * Move [s, s + os) of region `src` to a new region [t, t + ns) (lock held; t free, not
 * overlapping the old range). Page tables for the destination are made first (ENOMEM before
 * anything changed); 2 MiB leaves of the old range are split to 4 KiB PTEs (the destination
 * need not be 2 MiB aligned). The old region part is removed unless `keepOld`. Returns t's address.
 */
function moveLocked(
  ctx: KernelContext, as: VirtualAddressSpace, src: Region, s: number, os: number, ns: number, t: number, keepOld: boolean,
): number {
  const rl = as.regions;
  const removes = os > 0 && !keepOld;
  if (rl.count + (removes ? rl.splitsNeeded(s, s + os) : 1) > rl.capacity) return -ENOMEM;
  if (!rl.hold()) return -ENOMEM; // RAM for the region records, so that the insert below cannot fail
  const stale = new Stale(ctx, as);
  try {
    const big: { pa: number; vpn: number }[] = [];
    forEachLeaf(ctx, as.rootPpn, s, s + os, (pa, _lo, vpn, level) => { if (level === 1) big.push({ pa, vpn }); });
    for (const b of big) if (!splitHugeLeaf(ctx, b.pa, b.vpn, stale)) return -ENOMEM;
    guardReuse(ctx, as, t, ns); // the destination may still be lazily invalidated (deferred)
    // Destination tables before any PTE moves, so that the move itself cannot fail halfway.
    const moving: { pa: number; vpn: number }[] = [];
    forEachLeaf(ctx, as.rootPpn, s, s + os, (pa, _lo, vpn) => { moving.push({ pa, vpn }); });
    const dst: number[] = [];
    for (const m of moving) {
      const pa = walkCreate(ctx, as.rootPpn, t + m.vpn - s, 0);
      if (pa === PT_NOMEM) return -ENOMEM;
      if (pa === PT_BLOCKED) throw new Error('mremap: a 2 MiB leaf covers the destination');
      dst.push(pa);
    }
    const piece = { ...src, start: s, npages: os, pgoff: src.pgoff + s - src.start };
    if (removes) {
      const removed = rl.removeRange(s, s + os);
      if (typeof removed === 'number') return removed; // checked above: cannot happen
    } else if (piece.file !== 0) {
      fileRefDelta(ctx, piece.file, +1); // a second record of the same file
    }
    // The moved part is an ordinary mapping now: never the brk heap (brk grows its own record).
    const moved: Region = { ...piece, start: t, npages: ns, flags: piece.flags & ~RF_HEAP };
    if (rl.insert(moved) < 0) throw new Error('mremap: region table full after the capacity check');
    // SAFETY: each PTE leaves the old slot by exchange (final A/D learned) and enters the new,
    // empty one with the same frame, reference and bits. Another hart's TLB may still map the
    // old va to the frame until the shootdown below; the frame stays allocated meanwhile.
    for (let k = 0; k < moving.length; k++) {
      const m = moving[k]!;
      const lo = exchangePte(ctx, m.pa, 0);
      if (lo === 0) continue;
      stale.addRange(m.vpn, m.vpn + 1);
      if (exchangePte(ctx, dst[k]!, lo) !== 0) throw new Error('mremap: destination PTE not empty');
    }
    // Page tables the old range no longer needs (every leaf there is gone).
    if (removes) clearRange(ctx, as, s, s + os, stale);
    rl.mergeRange(t, t + ns);
    return t * PAGE_SIZE;
  } finally {
    rl.unhold();
    completeShootdown(ctx, stale);
  }
}
