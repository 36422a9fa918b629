/**
 * madvise(2) with Linux's advice set and errno (re-exported by kernel/mm/mmap.ts, the public
 * entry). What each advice does here:
 *
 *   NORMAL RANDOM SEQUENTIAL WILLNEED   hints: nothing to do (no read-ahead, no swap)
 *   DONTNEED                             drop the pages (clear → shoot down → free); private
 *                                        anonymous pages read back as zero, file pages as the file
 *   FREE                                 private anonymous only (else EINVAL): dropped as DONTNEED
 *                                        (Linux may keep a page until memory is short; reading
 *                                        zero at once is one of the outcomes it allows)
 *   REMOVE                               needs a shared file mapping (else EINVAL); no file here
 *                                        can punch holes: EOPNOTSUPP, as Linux on such a file system
 *   DONTFORK / DOFORK                    RF_DONTFORK: fork leaves the range out of the child
 *   WIPEONFORK / KEEPONFORK              RF_WIPEONFORK, private anonymous only (else EINVAL): the
 *                                        child gets the range with no pages (zero on first touch)
 *   HUGEPAGE / NOHUGEPAGE                RF_HUGE_OK on private anonymous memory (kernel/mm/fault.ts)
 *   DONTDUMP / DODUMP                    no core dumps here: nothing to do
 *   COLD / PAGEOUT                       no reclaim of anonymous memory: nothing to do; EINVAL
 *                                        on mlocked or device ranges (Linux can_madv_lru_vma)
 *   POPULATE_READ / POPULATE_WRITE       fault every page in (a write fault breaks COW now);
 *                                        EINVAL where the protection forbids the access or on
 *                                        device memory, EFAULT past a file's end, ENOMEM when
 *                                        unmapped or out of RAM
 *   MERGEABLE / UNMERGEABLE, other       EINVAL (no KSM, as a kernel built without it)
 *
 * Errors common to all: EINVAL for an unaligned address, a wrapping length or unknown advice;
 * ENOMEM when part of the range is unmapped (the mapped parts are still advised, except for
 * populate, which stops at the hole as Linux does). Advice that can fail per region (EINVAL)
 * checks every region of the range first and changes nothing when one refuses.
 */
import { PTE_W } from '../../cpu/pte.ts';
import { ACCESS_LOAD, ACCESS_STORE } from '../../cpu/trap.ts';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { USER_TOP, type VirtualAddressSpace } from './aspace.ts';
import type { KernelContext } from '../context.ts';
import { EFAULT, EINVAL, ENOMEM, EOPNOTSUPP } from '../errno.ts';
import { handlePageFault } from './fault.ts';
import { exclusive, unmapPieces } from './mmap.ts';
import { found, findLeaf, isResident, splitHugeAt } from './pagetable.ts';
import { regionEnd, type Region } from './regions.ts';
import { completeShootdown } from './shootdown.ts';
import { Stale } from './stale.ts';
import {
  MADV_COLD, MADV_DODUMP, MADV_DOFORK, MADV_DONTDUMP, MADV_DONTFORK, MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE,
  MADV_KEEPONFORK, MADV_NOHUGEPAGE, MADV_NORMAL, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
  MADV_RANDOM, MADV_REMOVE, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_WIPEONFORK, PROT_READ, PROT_WRITE,
} from './abi.ts';
import { RF_DEVICE, RF_DONTFORK, RF_HEAP, RF_HUGE_OK, RF_LOCKED, RF_SHARED, RF_WIPEONFORK } from './layout.ts';

const KNOWN = new Set([
  MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTFORK,
  MADV_DOFORK, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK,
  MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
]);

/** Private anonymous memory (Linux vma_is_anonymous without VM_SHARED): no file, not shared, not a device. */
const privateAnon = (r: Region): boolean => r.file === 0 && (r.flags & (RF_SHARED | RF_DEVICE)) === 0;

/**
 * Whether `advice` refuses region `r`: -errno (Linux's per-VMA checks), or 0. Called for every
 * region of the range before anything changes.
 */
function refuses(r: Region, advice: number): number {
  switch (advice) {
    case MADV_FREE: return privateAnon(r) && !(r.flags & RF_LOCKED) ? 0 : -EINVAL;
    case MADV_REMOVE:
      if (r.flags & RF_LOCKED || r.file === 0) return -EINVAL;
      return r.flags & RF_SHARED ? -EOPNOTSUPP : -EINVAL;
    case MADV_DONTFORK: case MADV_DOFORK: case MADV_DODUMP: return r.flags & RF_DEVICE ? -EINVAL : 0;
    case MADV_WIPEONFORK: return privateAnon(r) ? 0 : -EINVAL;
    case MADV_COLD: case MADV_PAGEOUT: return r.flags & (RF_LOCKED | RF_DEVICE) ? -EINVAL : 0;
    default: return 0;
  }
}

/** The region flags `advice` sets or clears on region `r` (unchanged for the others). */
function adviseFlags(r: Region, advice: number): number {
  switch (advice) {
    case MADV_HUGEPAGE: return privateAnon(r) && !(r.flags & RF_HEAP) ? r.flags | RF_HUGE_OK : r.flags;
    case MADV_NOHUGEPAGE: return privateAnon(r) && !(r.flags & RF_HEAP) ? r.flags & ~RF_HUGE_OK : r.flags;
    case MADV_DONTFORK: return r.flags | RF_DONTFORK;
    case MADV_DOFORK: return r.flags & ~RF_DONTFORK;
    case MADV_WIPEONFORK: return r.flags | RF_WIPEONFORK;
    case MADV_KEEPONFORK: return r.flags & ~RF_WIPEONFORK;
    default: return r.flags;
  }
}

/**
 * madvise(addr, len, advice): 0 or -errno; the advice table and the errors are in the file
 * comment. Takes the mmap lock exclusive (populate: per fault, through handlePageFault).
 */
export function madvise(ctx: KernelContext, as: VirtualAddressSpace, addr: number, len: number, advice: number): number {
  if (addr % PAGE_SIZE !== 0 || !(addr >= 0)) return -EINVAL;
  if (!KNOWN.has(advice)) return -EINVAL;
  if (len === 0) return 0;
  if (!(len > 0) || len > USER_TOP - addr) return -EINVAL;
  const s = addr / PAGE_SIZE, e = Math.ceil((addr + len) / PAGE_SIZE);
  if (advice === MADV_POPULATE_READ || advice === MADV_POPULATE_WRITE) return populate(ctx, as, s, e, advice === MADV_POPULATE_WRITE);
  return exclusive(ctx, as, 'madvise', () => {
    const rl = as.regions;
    const full = rl.covers(s, e);
    if (!rl.overlaps(s, e)) return -ENOMEM;
    const pieces: Region[] = [];
    for (let i = rl.lowerBound(s); i >= 0; i = rl.next(i)) {
      const r = rl.get(i);
      if (r.start >= e) break;
      const err = refuses(r, advice);
      if (err < 0) return err;
      const ps = Math.max(s, r.start), pe = Math.min(e, regionEnd(r));
      pieces.push({ ...r, start: ps, npages: pe - ps, pgoff: r.pgoff + ps - r.start });
    }
    if (pieces.some((r) => adviseFlags(r, advice) !== r.flags)) {
      const res = rl.setAttrs(s, e, (x) => ({ prot: x.prot, flags: adviseFlags(x, advice) }));
      if (res < 0) return res; // out of RAM for a split's region chunk
    }
    if (advice === MADV_DONTNEED || advice === MADV_FREE) {
      const stale = new Stale(ctx, as);
      try {
        if (!splitHugeAt(ctx, as, s, stale) || !splitHugeAt(ctx, as, e, stale)) return -ENOMEM;
        unmapPieces(ctx, as, pieces.filter((r) => !(r.flags & RF_DEVICE)), stale);
      } finally {
        completeShootdown(ctx, stale);
      }
    }
    return full ? 0 : -ENOMEM;
  });
}

/**
 * MADV_POPULATE_READ/WRITE over pages [s, e): fault each page in as a read (or a write: COW
 * broken, D set) unless it is already resident (and writable, for a write). Stops at the first
 * failure: ENOMEM (a hole, or out of RAM), EINVAL (protection or device memory), EFAULT (the
 * fault would signal: past the end of a mapped file). The mmap lock is taken per region lookup
 * and by each fault, as Linux drops it between faults.
 */
function populate(ctx: KernelContext, as: VirtualAddressSpace, s: number, e: number, write: boolean): number {
  for (let v = s; v < e;) {
    as.lock.readLock();
    let r: Region | null;
    try {
      const i = as.regions.find(v);
      r = i >= 0 ? as.regions.get(i) : null;
    } finally {
      as.lock.readUnlock();
    }
    if (r === null) return -ENOMEM;
    if (r.flags & RF_DEVICE) return -EINVAL;
    if (!(r.prot & (PROT_READ | PROT_WRITE)) || (write && !(r.prot & PROT_WRITE))) return -EINVAL;
    for (const ve = Math.min(e, regionEnd(r)); v < ve; v++) {
      if (findLeaf(ctx, as.rootPpn, v) >= 0 && isResident(found.lo) && (!write || (found.lo & PTE_W) !== 0)) continue;
      const sig = handlePageFault(ctx, as, v * PAGE_SIZE, write ? ACCESS_STORE : ACCESS_LOAD);
      if (sig?.oom) return -ENOMEM;
      if (sig) return -EFAULT;
    }
  }
  return 0;
}
