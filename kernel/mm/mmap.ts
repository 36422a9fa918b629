/**
 * The mapping operations, with Linux semantics and errno (negative return = -errno):
 * mmap, munmap, mprotect, brk, madvise (kernel/mm/madvise.ts, re-exported here), msync, mapping given physical frames
 * (device memory), scoped mappings, clearing user space (exec) and freeing a whole address
 * space (exit).
 *
 * Each takes the mmap lock exclusive, edits regions and PTEs, completes the Stale of the
 * change (kernel/mm/shootdown.ts) before it unlocks, and asserts on the way out that no Stale
 * record is left. What a removal leaves behind — dirty shared-file pages to write back, file
 * references, frames, tables — goes into that Stale and is released only after the
 * shootdown: clear PTEs (collecting D atomically) → invalidate everywhere → write back → free. Nothing is allocated at mmap time (demand paging, kernel/mm/fault.ts), except
 * for mapPhysical, which maps given frames at once.
 */
import { PTE_COW, PTE_D, PTE_V, PTE_W } from '../../cpu/pte.ts';
import { FRAMES_PER_MEGAPAGE, MEGAPAGE_SIZE, PAGE_SIZE } from '../../cpu/ram.ts';
import { DEFAULT_MMAP_BASE, USER_TOP, VirtualAddressSpace } from './aspace.ts';
import type { KernelContext } from '../context.ts';
import { EACCES, EBADF, EEXIST, EINVAL, ENOMEM, EOPNOTSUPP, EOVERFLOW, EPERM } from '../errno.ts';
import { protToPte } from './fault.ts';
import { createFile, fileExists, fileRefDelta } from './pagecache.ts';
import {
  cleanRange, clearRange, exchangePte, found, findLeaf, isResident, KERNEL_HALF_VPN, loPpn, makeLo, protectRange, PTE_DEVICE,
  PTE_PARKED, PT_NOMEM, splitHugeAt, unlinkUserTables, walkCreate, type ClearInfo,
} from './pagetable.ts';
import { regionEnd, type Region } from './regions.ts';
import { completeShootdown } from './shootdown.ts';
import { Stale } from './stale.ts';
import {
  MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_HUGETLB, MAP_KNOWN, MAP_PRIVATE, MAP_SHARED,
  MAP_SHARED_VALIDATE, MAP_TYPE, MMAP_MIN_ADDR, PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_NONE, PROT_READ,
  PROT_SEM, PROT_WRITE, MS_ASYNC, MS_INVALIDATE, MS_SYNC,
} from './abi.ts';
import { RF_DEVICE, RF_FILE, RF_GROWSDOWN, RF_HEAP, RF_HUGE_OK, RF_NO_MAYWRITE, RF_SHARED } from './layout.ts';

export { madvise } from './madvise.ts';

const USER_PAGES = KERNEL_HALF_VPN;
const pageUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
const aligned = (n: number): boolean => n % PAGE_SIZE === 0;

/** Run `fn` holding `as`'s mmap lock exclusive; asserts no Stale is left behind (kernel/mm/mremap.ts too). */
export function exclusive<T>(ctx: KernelContext, as: VirtualAddressSpace, where: string, fn: () => T): T {
  as.lock.writeLock();
  try {
    return fn();
  } finally {
    as.lock.writeUnlock();
    ctx.assertNoStale(where);
  }
}

/**
 * THE reuse guard: call (lock held exclusive) before a new region over [vpn, vpn + npages) is
 * installed — mmap (fixed or not), brk growth, mapPhysical, mremap's move destination and its
 * grow-in-place pages. The shootdown policy completes any invalidation of that range it still
 * has pending on other
 * harts (ShootdownPolicy.beforeReuse: `deferred` turns it into a synchronous shootdown; the
 * other policies have none pending and do nothing). Without it, a lazily invalidated range
 * mapped again at once would let another hart read the OLD frame through its stale entry
 * after the new mapping was published.
 */
export function guardReuse(ctx: KernelContext, as: VirtualAddressSpace, vpn: number, npages: number): void {
  ctx.policy.beforeReuse?.(ctx, as, vpn, npages);
}

/** The PTE low word a resident leaf gets under `prot` in a region with `flags` (A/D/COW/ppn kept). */
export function reprotect(lo: number, prot: number, shared: boolean): number {
  const keep = lo & (~0x3ff | PTE_COW | PTE_DEVICE | PTE_D | 0x40 /* A */);
  if (prot === PROT_NONE || (prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) === 0) return (keep | PTE_PARKED) & ~PTE_V;
  let f = protToPte(prot) | keep;
  if (!shared && (lo & PTE_COW)) f &= ~PTE_W;
  return f;
}

/**
 * The file references of removed region records go into `stale`: dropped after the shootdown
 * and the write-back (the last one drops the file's cached pages, which must not happen while
 * another hart may still store into them or before they are written back).
 */
function dropRegionRefs(removed: Region[], stale: Stale): void {
  for (const r of removed) if (r.file !== 0) stale.addFileRef(r.file);
}

/**
 * Clear PTEs of [s, e) into `stale`; the dirty pages of shared file regions among `pieces`
 * (the region records that covered the range before the change) are queued in it for
 * write-back after the shootdown (D read by the same exchange that cleared each PTE).
 */
export function unmapPieces(ctx: KernelContext, as: VirtualAddressSpace, pieces: Region[], stale: Stale): void {
  for (const r of pieces) {
    const info: ClearInfo = { pages: 0, dirty: [] };
    clearRange(ctx, as, r.start, regionEnd(r), stale, info);
    if ((r.flags & RF_SHARED) && r.file !== 0) queueWriteback(ctx, stale, r, info.dirty);
  }
}

/**
 * Queue the pages `vpns` of shared file region `r` (dirty in the PTEs just cleared or cleaned)
 * for write-back after `stale`'s shootdown, with one more reference on the file dropped after
 * it: the write-back must find the file even if another change drops the region's own
 * reference first (a parked or concurrent release).
 */
function queueWriteback(ctx: KernelContext, stale: Stale, r: Region, vpns: number[]): void {
  if (vpns.length === 0) return;
  fileRefDelta(ctx, r.file, +1);
  stale.addFileRef(r.file);
  for (const vpn of vpns) stale.addWriteback(r.file, r.pgoff + vpn - r.start);
}

/**
 * Top-down search for a free gap of `npages` below the mmap base; alignment in pages. -1 when
 * none. Like Linux's vm_unmapped_area(TOPDOWN): the highest gap that fits, wherever the last
 * munmap left it (a freed window at the top is the first candidate).
 */
export function findGap(as: VirtualAddressSpace, npages: number, align: number): number {
  return as.regions.findGapTopDown(Math.floor(as.mmapBase / PAGE_SIZE), MMAP_MIN_ADDR / PAGE_SIZE, npages, align);
}

export interface MmapFile {
  /** File id from kernel/mm/pagecache.ts createFile. */
  file: number;
}

/**
 * mmap(addr, len, prot, flags, file, offset): returns the address or -errno.
 * EINVAL: len 0, no/unknown map type, unaligned offset, unaligned addr with MAP_FIXED.
 * EOPNOTSUPP: unknown flags under MAP_SHARED_VALIDATE. ENOMEM: len beyond user space, a
 * fixed range reaching the kernel half, no gap, region table full. EEXIST: MAP_FIXED_NOREPLACE
 * over a mapping. EPERM: fixed below mmap_min_addr. EBADF: no such file. EOVERFLOW: offset + len overflows.
 * Unknown prot bits are ignored, like Linux's mmap (mprotect rejects them).
 * `limits`: RF_NO_MAYWRITE for a shared mapping of a file the caller may not write (the file
 * layer passes it for a description not open for writing; it then also refuses PROT_WRITE).
 */
export function mmap(
  ctx: KernelContext, as: VirtualAddressSpace, addr: number, len: number, prot: number, flags: number, file = 0, offset = 0,
  limits: 0 | typeof RF_NO_MAYWRITE = 0,
): number {
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
  if (type === MAP_SHARED_VALIDATE && (flags & ~MAP_KNOWN) !== 0) return -EOPNOTSUPP;
  if (!(len > 0)) return -EINVAL;
  if (!(offset >= 0) || !aligned(offset)) return -EINVAL;
  const anon = (flags & MAP_ANONYMOUS) !== 0;
  if (!anon && !fileExists(ctx, file)) return -EBADF;
  if (len > USER_TOP) return -ENOMEM;
  const size = pageUp(len);
  const npages = size / PAGE_SIZE;
  if (!anon && offset / PAGE_SIZE + npages > 2 ** 52 / PAGE_SIZE) return -EOVERFLOW;
  const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
  if (fixed) {
    if (!aligned(addr)) return -EINVAL;
    if (!(addr >= 0) || addr > USER_TOP - size) return -ENOMEM;
    if (addr < MMAP_MIN_ADDR) return -EPERM;
  }
  const shared = type !== MAP_PRIVATE;
  const huge = anon && !shared && (flags & MAP_HUGETLB) !== 0;
  const rflags = (shared ? RF_SHARED : 0) | (anon ? 0 : RF_FILE) | (flags & MAP_GROWSDOWN ? RF_GROWSDOWN : 0) | (huge ? RF_HUGE_OK : 0)
    | (shared && !anon ? limits : 0);
  return exclusive(ctx, as, 'mmap', () => {
    const rl = as.regions;
    let start: number;
    if (fixed) {
      start = addr / PAGE_SIZE;
      if (rl.overlaps(start, start + npages)) {
        if (flags & MAP_FIXED_NOREPLACE) return -EEXIST;
        // The replacement must fit before anything is unmapped (splits + the new record).
        const inside = rl.countInside(start, start + npages);
        if (rl.count + rl.splitsNeeded(start, start + npages) - inside + 1 > rl.capacity) return -ENOMEM;
        const r = unmapLocked(ctx, as, start, start + npages);
        if (r < 0) return r;
      }
    } else {
      const hint = Math.floor(addr / PAGE_SIZE);
      const align = huge || (anon && size >= MEGAPAGE_SIZE && size % MEGAPAGE_SIZE === 0) ? FRAMES_PER_MEGAPAGE : 1;
      if (addr >= MMAP_MIN_ADDR && addr <= USER_TOP - size && hint % align === 0 && !rl.overlaps(hint, hint + npages)) start = hint;
      else start = findGap(as, npages, align);
      if (start < 0) return -ENOMEM;
    }
    if (rl.count >= rl.capacity) return -ENOMEM;
    let fid = 0;
    if (!anon) {
      fid = file;
      fileRefDelta(ctx, fid, +1);
    } else if (shared) {
      fid = createFile(ctx, { anon: true, size });
      if (fid < 0) return -ENOMEM;
    }
    const r: Region = { start, npages, prot: prot & (PROT_READ | PROT_WRITE | PROT_EXEC), flags: rflags, file: fid, pgoff: anon ? 0 : offset / PAGE_SIZE };
    if (shared && anon) r.flags |= RF_FILE;
    guardReuse(ctx, as, start, npages);
    if (rl.insert(r) < 0) {
      if (fid !== 0) fileRefDelta(ctx, fid, -1);
      return -ENOMEM;
    }
    rl.mergeRange(start, start + npages);
    return start * PAGE_SIZE;
  });
}

/**
 * munmap body (lock held): regions removed, PTEs cleared, shootdown completed. 0 or -errno.
 * The change is declared a removal (Stale.declareRemoval) when every removed piece is private:
 * the one change a lazy policy may complete after munmap returns.
 */
export function unmapLocked(ctx: KernelContext, as: VirtualAddressSpace, s: number, e: number): number {
  const rl = as.regions;
  if (rl.count + rl.splitsNeeded(s, e) > rl.capacity) return -ENOMEM;
  const stale = new Stale(ctx, as);
  try {
    if (!splitHugeAt(ctx, as, s, stale) || !splitHugeAt(ctx, as, e, stale)) return -ENOMEM;
    const removed = rl.removeRange(s, e);
    if (typeof removed === 'number') return removed;
    unmapPieces(ctx, as, removed, stale);
    dropRegionRefs(removed, stale);
    // The range goes away with its records (reuse goes through guardReuse). Private memory only:
    // a store through a stale entry to a shared or device frame would be seen by other mappers.
    if (removed.every((r) => (r.flags & (RF_SHARED | RF_DEVICE)) === 0)) stale.declareRemoval();
    return 0;
  } finally {
    completeShootdown(ctx, stale);
  }
}

/**
 * munmap(addr, len): 0 or -errno. EINVAL: unaligned addr, len 0, a range that wraps or
 * reaches the kernel half. Unmapped parts are fine (0). ENOMEM: splitting would exceed the
 * region capacity (or no frame to split a 2 MiB page).
 */
export function munmap(ctx: KernelContext, as: VirtualAddressSpace, addr: number, len: number): number {
  if (!aligned(addr) || !(len > 0) || !(addr >= 0) || addr > USER_TOP || len > USER_TOP - addr) return -EINVAL;
  const s = addr / PAGE_SIZE, e = Math.min(USER_PAGES, (addr + pageUp(len)) / PAGE_SIZE);
  return exclusive(ctx, as, 'munmap', () => unmapLocked(ctx, as, s, e));
}

/**
 * mprotect(addr, len, prot): 0 or -errno. EINVAL: unaligned addr, unknown prot bits.
 * ENOMEM: range wraps or reaches the kernel half, or is not fully mapped — as Linux, the
 * pages before the first hole are changed anyway. EACCES: PROT_WRITE on a region that may
 * never be written (RF_NO_MAYWRITE: a shared mapping of a file opened read-only); as Linux,
 * the regions before it are changed, it and those after are not. len 0: 0.
 */
export function mprotect(ctx: KernelContext, as: VirtualAddressSpace, addr: number, len: number, prot: number): number {
  if (!aligned(addr)) return -EINVAL;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM | PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if ((prot & PROT_GROWSDOWN) && (prot & PROT_GROWSUP)) return -EINVAL;
  if (len === 0) return 0;
  if (!(len > 0) || !(addr >= 0) || addr + pageUp(len) > USER_TOP) return -ENOMEM;
  const s = addr / PAGE_SIZE, e = (addr + pageUp(len)) / PAGE_SIZE;
  const p = prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
  return exclusive(ctx, as, 'mprotect', () => {
    const rl = as.regions;
    // The covered prefix [s, pe): Linux changes it even when a hole follows.
    let pe = s;
    let denied = false;
    for (let i = rl.lowerBound(s); i >= 0; i = rl.next(i)) {
      const r = rl.get(i);
      if (r.start > pe || pe >= e) break;
      if (p & PROT_WRITE && r.flags & RF_NO_MAYWRITE) { // Linux: EACCES from this vma on
        denied = true;
        break;
      }
      pe = Math.min(e, regionEnd(r));
    }
    if (pe === s) return denied ? -EACCES : -ENOMEM;
    const stale = new Stale(ctx, as);
    try {
      if (rl.count + rl.splitsNeeded(s, pe) > rl.capacity) return -ENOMEM;
      if (!splitHugeAt(ctx, as, s, stale) || !splitHugeAt(ctx, as, pe, stale)) return -ENOMEM;
      for (let i = rl.lowerBound(s); i >= 0; i = rl.next(i)) {
        const r = rl.get(i);
        if (r.start >= pe) break;
        const shared = (r.flags & RF_SHARED) !== 0;
        protectRange(ctx, as, Math.max(s, r.start), Math.min(pe, regionEnd(r)), (lo) => reprotect(lo, p, shared), stale);
      }
      rl.setProt(s, pe, p);
      return denied ? -EACCES : pe < e ? -ENOMEM : 0;
    } finally {
      completeShootdown(ctx, stale);
    }
  });
}

/** Set where the heap starts (the loader, after the last ELF segment); brk = start. */
export function initBrk(ctx: KernelContext, as: VirtualAddressSpace, start: number): void {
  exclusive(ctx, as, 'initBrk', () => {
    as.brkStart = pageUp(start);
    as.brk = pageUp(start);
  });
}

/**
 * brk(newBrk): the new break, or the current one when the request fails or is 0 / below the
 * start (Linux's raw syscall). The heap is one region (RF_HEAP) grown and shrunk in place;
 * pages above a lowered break are unmapped (inaccessible afterwards).
 */
export function brk(ctx: KernelContext, as: VirtualAddressSpace, newBrk: number): number {
  return exclusive(ctx, as, 'brk', () => {
    const cur = as.brk, start = as.brkStart;
    if (!(newBrk >= start) || start === 0 || newBrk > USER_TOP) return cur;
    const oldEnd = pageUp(cur) / PAGE_SIZE, newEnd = pageUp(newBrk) / PAGE_SIZE;
    const s0 = start / PAGE_SIZE;
    const rl = as.regions;
    if (newEnd > oldEnd) {
      const from = Math.max(s0, oldEnd);
      if (rl.overlaps(from, newEnd)) return cur;
      guardReuse(ctx, as, from, newEnd - from);
      const i = from > s0 ? rl.find(from - 1) : -1;
      const below = i >= 0 ? rl.get(i) : null;
      if (below && (below.flags & RF_HEAP) && regionEnd(below) === from && below.prot === (PROT_READ | PROT_WRITE)) {
        rl.update(i, { ...below, npages: newEnd - below.start });
      } else if (rl.insert({ start: from, npages: newEnd - from, prot: PROT_READ | PROT_WRITE, flags: RF_HEAP, file: 0, pgoff: 0 }) < 0) {
        return cur;
      }
    } else if (newEnd < oldEnd) {
      if (unmapLocked(ctx, as, newEnd, oldEnd) < 0) return cur;
    }
    as.brk = newBrk;
    return newBrk;
  });
}

/**
 * msync(addr, len, flags): write back dirty pages of shared file mappings in the range. Order:
 * clean the PTEs (D cleared by CAS, learning which were dirty) → shoot down (a hart with a
 * cached dirty entry stores without touching the PTE until it is flushed; afterwards its next
 * store walks and sets D again) → write the pages (completeShootdown's release). 0 or -errno
 * (EINVAL: unaligned, bad flags; ENOMEM: unmapped parts).
 */
export function msync(ctx: KernelContext, as: VirtualAddressSpace, addr: number, len: number, flags: number): number {
  if (!aligned(addr) || (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) || ((flags & MS_ASYNC) && (flags & MS_SYNC))) return -EINVAL;
  if (len === 0) return 0;
  if (!(len > 0) || addr + pageUp(len) > USER_TOP) return -ENOMEM;
  const s = addr / PAGE_SIZE, e = (addr + pageUp(len)) / PAGE_SIZE;
  return exclusive(ctx, as, 'msync', () => {
    const rl = as.regions;
    const stale = new Stale(ctx, as);
    try {
      for (let i = rl.lowerBound(s); i >= 0; i = rl.next(i)) {
        const r = rl.get(i);
        if (r.start >= e) break;
        if (!(r.flags & RF_SHARED) || r.file === 0) continue;
        queueWriteback(ctx, stale, r, cleanRange(ctx, as, Math.max(s, r.start), Math.min(e, regionEnd(r)), stale));
      }
      return rl.covers(s, e) ? 0 : -ENOMEM;
    } finally {
      completeShootdown(ctx, stale);
    }
  });
}

/**
 * fsync's part in the VM: write back the dirty pages of every shared mapping of page-cache
 * file `file` in `as`, as msync(MS_SYNC) over those regions would (clean the PTEs → shoot
 * down → write back). Mappings of the file in other address spaces are not visited (no
 * reverse map): their dirty pages reach the file at their msync, munmap or exit.
 */
export function msyncFile(ctx: KernelContext, as: VirtualAddressSpace, file: number): void {
  exclusive(ctx, as, 'msyncFile', () => {
    const stale = new Stale(ctx, as);
    try {
      for (const r of as.regions.all()) {
        if (!(r.flags & RF_SHARED) || r.file !== file) continue;
        queueWriteback(ctx, stale, r, cleanRange(ctx, as, r.start, regionEnd(r), stale));
      }
    } finally {
      completeShootdown(ctx, stale);
    }
  });
}

/**
 * Map `npages` given physical frames starting at `ppn` at fixed `va` (device memory: the
 * frames are not reference-counted by the mapping; PTE_DEVICE). PTEs are installed at once.
 * 0 or -errno (EINVAL unaligned/empty, ENOMEM kernel half or no table frame, EEXIST overlap).
 */
export function mapPhysical(ctx: KernelContext, as: VirtualAddressSpace, va: number, ppn: number, npages: number, prot: number): number {
  if (!aligned(va) || !(npages > 0) || !Number.isInteger(ppn) || ppn < 0) return -EINVAL;
  if (!(va >= MMAP_MIN_ADDR) || va + npages * PAGE_SIZE > USER_TOP) return -ENOMEM;
  const s = va / PAGE_SIZE;
  return exclusive(ctx, as, 'mapPhysical', () => {
    const rl = as.regions;
    if (rl.overlaps(s, s + npages)) return -EEXIST;
    guardReuse(ctx, as, s, npages);
    if (rl.insert({ start: s, npages, prot: prot & 7, flags: RF_DEVICE | RF_SHARED, file: 0, pgoff: ppn }) < 0) return -ENOMEM;
    const flags = reprotect(0x40 | PTE_DEVICE | 0x80, prot & 7, true);
    for (let k = 0; k < npages; k++) {
      const pa = walkCreate(ctx, as.rootPpn, s + k, 0);
      if (pa === PT_NOMEM || pa < 0) {
        unmapLocked(ctx, as, s, s + npages);
        return -ENOMEM;
      }
      exchangePte(ctx, pa, makeLo(ppn + k, flags));
    }
    return 0;
  });
}

/** A mapping released exactly once, on every exit path (`release` is idempotent). */
export class ScopedMapping {
  private released = false;
  constructor(private readonly ctx: KernelContext, private readonly as: VirtualAddressSpace, readonly addr: number, readonly len: number) {}
  /** munmap the range (once). */
  release(): void {
    if (this.released) return;
    this.released = true;
    const r = munmap(this.ctx, this.as, this.addr, this.len);
    if (r < 0) throw new Error(`ScopedMapping.release: munmap failed (${r})`);
  }
}

/** mmap an anonymous private range and return a ScopedMapping, or -errno. */
export function scopedMapping(ctx: KernelContext, as: VirtualAddressSpace, len: number, prot: number): ScopedMapping | number {
  const addr = mmap(ctx, as, 0, len, prot, MAP_PRIVATE | MAP_ANONYMOUS);
  return addr < 0 ? addr : new ScopedMapping(ctx, as, addr, len);
}

/** Run `fn(addr)` with an anonymous private mapping of `len` bytes, unmapped on every exit path. */
export function withMapping<T>(ctx: KernelContext, as: VirtualAddressSpace, len: number, prot: number, fn: (addr: number) => T): T {
  const m = scopedMapping(ctx, as, len, prot);
  if (typeof m === 'number') throw new Error(`withMapping: mmap failed (${m})`);
  try {
    return fn(m.addr);
  } finally {
    m.release();
  }
}

/** Clear body (lock held): every user PTE and table, every region; the kernel half stays. */
function clearLocked(ctx: KernelContext, as: VirtualAddressSpace, stale: Stale): void {
  const removed = as.regions.clear();
  unmapPieces(ctx, as, removed, stale);
  clearRange(ctx, as, 0, USER_PAGES, stale); // anything outside regions (none expected)
  unlinkUserTables(ctx, as.rootPpn, stale);
  dropRegionRefs(removed, stale);
  as.brk = 0;
  as.brkStart = 0;
  as.mmapBase = DEFAULT_MMAP_BASE;
}

/** Remove every user mapping (exec): frames and user tables return after the shootdown. */
export function clearUserSpace(ctx: KernelContext, as: VirtualAddressSpace): void {
  exclusive(ctx, as, 'clearUserSpace', () => {
    const stale = new Stale(ctx, as);
    try {
      clearLocked(ctx, as, stale);
    } finally {
      completeShootdown(ctx, stale);
    }
  });
}

/**
 * Drop one reference to `as` (exit of a thread/process); the last one frees the whole space:
 * every frame, every table, the root, the slot. Returns the references left.
 */
export function releaseAddressSpace(ctx: KernelContext, as: VirtualAddressSpace): number {
  const left = as.dropRef();
  if (left > 0) return left;
  exclusive(ctx, as, 'freeAddressSpace', () => {
    const stale = new Stale(ctx, as);
    try {
      clearLocked(ctx, as, stale);
      stale.addTable(as.rootPpn);
    } finally {
      completeShootdown(ctx, stale);
    }
  });
  as.retire();
  return 0;
}

/** Resident user pages (4 KiB units) of `as` (walks the tables; tests and statistics). */
export function residentPages(ctx: KernelContext, as: VirtualAddressSpace): number {
  let n = 0;
  for (const r of as.regions.all()) {
    for (let v = r.start; v < regionEnd(r);) {
      if (findLeaf(ctx, as.rootPpn, v) >= 0 && isResident(found.lo)) {
        const pages = found.level === 1 ? FRAMES_PER_MEGAPAGE - (v % FRAMES_PER_MEGAPAGE) : 1;
        n += Math.min(pages, regionEnd(r) - v);
        v += pages;
      } else v++;
    }
  }
  return n;
}

export { loPpn };
