/**
 * mlock, munlock, mlockall, munlockall and mincore over an address space's regions and page
 * tables (Linux semantics and errno; negative return = -errno).
 *
 * A locked range is a region attribute (RF_LOCKED, Linux's VM_LOCKED): mlock marks the
 * regions, then makes every page resident by faulting it in as Linux's populate does (a write
 * fault for private writable memory, so a COW page is broken now, a read fault otherwise;
 * PROT_NONE pages stay absent). Resident pages here never leave while mapped (no swap;
 * mapped page-cache pages are never evicted), so nothing else is needed to keep them.
 * The locked amount is the pages of RF_LOCKED regions; the caller passes the RLIMIT_MEMLOCK
 * soft limit (kernel/fs keeps rlimits) and mlock fails with ENOMEM past it — this kernel's
 * root-like user has no CAP_IPC_LOCK — or EPERM when the limit is 0.
 *
 * mincore reads the page tables: a page is resident when its leaf PTE is valid, or — for a
 * file mapping — when the page cache holds the page (Linux reports page-cache residency).
 */
import { PTE_W } from '../../cpu/pte.ts';
import { ACCESS_LOAD, ACCESS_STORE } from '../../cpu/trap.ts';
import { FRAMES_PER_MEGAPAGE, PAGE_SIZE } from '../../cpu/ram.ts';
import type { VirtualAddressSpace } from './aspace.ts';
import type { KernelContext } from '../context.ts';
import { EAGAIN, EFAULT, EINVAL, ENOMEM, EPERM } from '../errno.ts';
import { handlePageFault } from './fault.ts';
import { exclusive } from './mmap.ts';
import { cachedPage } from './pagecache.ts';
import { found, findLeaf, isResident } from './pagetable.ts';
import { regionEnd } from './regions.ts';
import { copyToUser } from './uaccess.ts';
import { PROT_WRITE } from './abi.ts';
import { RF_DEVICE, RF_FILE, RF_LOCKED, RF_SHARED } from './layout.ts';
import { USER_TOP } from './aspace.ts';

/** mlockall flags. */
export const MCL_CURRENT = 1;
export const MCL_FUTURE = 2;
export const MCL_ONFAULT = 4;
/** mlock2 flag. */
export const MLOCK_ONFAULT = 1;

/** Pages of `as` in RF_LOCKED regions (VmLck). Caller holds the mmap lock. */
function lockedPages(as: VirtualAddressSpace): number {
  let n = 0;
  for (const r of as.regions.all()) if (r.flags & RF_LOCKED) n += r.npages;
  return n;
}

/** Pages of [s, e) not yet locked. Caller holds the mmap lock. */
function unlockedIn(as: VirtualAddressSpace, s: number, e: number): number {
  let n = 0;
  for (const r of as.regions.all()) {
    if (r.start >= e || regionEnd(r) <= s || r.flags & RF_LOCKED) continue;
    n += Math.min(e, regionEnd(r)) - Math.max(s, r.start);
  }
  return n;
}

/** Page range of (addr, len) as Linux rounds it for mlock/munlock: [start page, end page), or -errno. */
function pageRange(addr: number, len: number): [number, number] | number {
  if (!(addr >= 0) || !(len >= 0)) return -EINVAL;
  const s = Math.floor(addr / PAGE_SIZE);
  const end = addr + len;
  if (end > USER_TOP) return -ENOMEM;
  return [s, Math.ceil(end / PAGE_SIZE)];
}

/** Fault in every page of [s, e) that its region's protection allows; -ENOMEM when RAM ran out. Lock not held. */
function populate(ctx: KernelContext, as: VirtualAddressSpace, s: number, e: number): number {
  as.lock.readLock();
  let regions;
  try {
    regions = as.regions.all().filter((r) => r.start < e && regionEnd(r) > s);
  } finally {
    as.lock.readUnlock();
  }
  for (const r of regions) {
    if (r.prot === 0 || r.flags & RF_DEVICE) continue;
    const write = (r.prot & PROT_WRITE) !== 0 && !(r.flags & RF_SHARED);
    for (let v = Math.max(s, r.start), ve = Math.min(e, regionEnd(r)); v < ve; v++) {
      if (findLeaf(ctx, as.rootPpn, v) >= 0 && isResident(found.lo) && (!write || (found.lo & PTE_W) !== 0)) {
        if (found.level === 1) v += FRAMES_PER_MEGAPAGE - 1 - (v % FRAMES_PER_MEGAPAGE);
        continue;
      }
      const sig = handlePageFault(ctx, as, v * PAGE_SIZE, write ? ACCESS_STORE : ACCESS_LOAD);
      if (sig?.oom) return -ENOMEM;
      if (sig) break; // beyond a file's end (SIGBUS on touch): Linux leaves those pages absent too
    }
  }
  return 0;
}

/**
 * mlock(addr, len) / mlock2(addr, len, flags): lock the pages of [addr, addr + len) (addr
 * rounded down, end up) and make them resident (not with MLOCK_ONFAULT). ENOMEM: part of the
 * range unmapped, or the locked total would pass `limitBytes` (RLIMIT_MEMLOCK); EPERM when
 * that limit is 0; EINVAL for unknown flags.
 */
export function mlock(ctx: KernelContext, as: VirtualAddressSpace, addr: number, len: number, flags: number, limitBytes: number): number {
  if (flags & ~MLOCK_ONFAULT) return -EINVAL;
  const range = pageRange(addr, len);
  if (typeof range === 'number') return range;
  const [s, e] = range;
  if (s === e) return 0;
  if (limitBytes === 0) return -EPERM;
  const r = exclusive(ctx, as, 'mlock', () => {
    const rl = as.regions;
    if (!rl.covers(s, e)) return -ENOMEM;
    if ((lockedPages(as) + unlockedIn(as, s, e)) * PAGE_SIZE > limitBytes) return -ENOMEM;
    return rl.setAttrs(s, e, (x) => ({ prot: x.prot, flags: x.flags | RF_LOCKED }));
  });
  if (r < 0 || flags & MLOCK_ONFAULT) return r;
  return populate(ctx, as, s, e) < 0 ? -EAGAIN : 0;
}

/** munlock(addr, len): the range is no longer locked. ENOMEM when part of it is unmapped (the mapped parts are unlocked). */
export function munlock(ctx: KernelContext, as: VirtualAddressSpace, addr: number, len: number): number {
  const range = pageRange(addr, len);
  if (typeof range === 'number') return range;
  const [s, e] = range;
  if (s === e) return 0;
  return exclusive(ctx, as, 'munlock', () => {
    const rl = as.regions;
    const full = rl.covers(s, e);
    const r = rl.setAttrs(s, e, (x) => ({ prot: x.prot, flags: x.flags & ~RF_LOCKED }));
    return r < 0 ? r : full ? 0 : -ENOMEM;
  });
}

/**
 * mlockall(flags): MCL_CURRENT locks every mapping now (ENOMEM past `limitBytes`, EPERM at 0).
 * MCL_FUTURE is accepted and not applied to later mappings (known gap: they are not locked).
 * EINVAL: no flags, unknown flags, MCL_ONFAULT alone.
 */
export function mlockall(ctx: KernelContext, as: VirtualAddressSpace, flags: number, limitBytes: number): number {
  if (flags === 0 || flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) || flags === MCL_ONFAULT) return -EINVAL;
  if (!(flags & MCL_CURRENT)) return 0;
  if (limitBytes === 0) return -EPERM;
  let lo = 0, hi = 0;
  const r = exclusive(ctx, as, 'mlockall', () => {
    const all = as.regions.all();
    if (all.length === 0) return 0;
    const total = all.reduce((n, x) => n + x.npages, 0);
    if (total * PAGE_SIZE > limitBytes) return -ENOMEM;
    lo = all[0]!.start;
    hi = regionEnd(all[all.length - 1]!);
    return as.regions.setAttrs(lo, hi, (x) => ({ prot: x.prot, flags: x.flags | RF_LOCKED }));
  });
  if (r < 0 || flags & MCL_ONFAULT || hi === lo) return r;
  return populate(ctx, as, lo, hi) < 0 ? -EAGAIN : 0;
}

/** munlockall(): every mapping unlocked. */
export function munlockall(ctx: KernelContext, as: VirtualAddressSpace): number {
  return exclusive(ctx, as, 'munlockall', () => {
    const all = as.regions.all();
    if (all.length === 0) return 0;
    return as.regions.setAttrs(all[0]!.start, regionEnd(all[all.length - 1]!), (x) => ({ prot: x.prot, flags: x.flags & ~RF_LOCKED }));
  });
}

/** Locked bytes of `as` (VmLck; tests and /proc). */
export function lockedBytes(ctx: KernelContext, as: VirtualAddressSpace): number {
  as.lock.readLock();
  try {
    return lockedPages(as) * PAGE_SIZE;
  } finally {
    as.lock.readUnlock();
  }
}

/**
 * mincore(addr, len, vec): one byte per page of [addr, addr + len) into vec, 1 when resident
 * (see the file comment). EINVAL: addr unaligned; ENOMEM: the range reaches past user space
 * or holds an unmapped page; EFAULT: vec not writable.
 */
export function mincore(ctx: KernelContext, as: VirtualAddressSpace, addr: number, len: number, vec: number): number {
  if (!(addr >= 0) || addr % PAGE_SIZE !== 0) return -EINVAL;
  if (!(len >= 0) || addr + len > USER_TOP) return -ENOMEM;
  const s = addr / PAGE_SIZE, e = Math.ceil((addr + len) / PAGE_SIZE);
  if (s === e) return 0;
  const out = new Uint8Array(e - s);
  as.lock.readLock();
  try {
    if (!as.regions.covers(s, e)) return -ENOMEM;
    for (const r of as.regions.all()) {
      if (r.start >= e || regionEnd(r) <= s) continue;
      for (let v = Math.max(s, r.start), ve = Math.min(e, regionEnd(r)); v < ve; v++) {
        let on = findLeaf(ctx, as.rootPpn, v) >= 0 && isResident(found.lo);
        if (!on && r.flags & RF_FILE && !(r.flags & RF_DEVICE) && r.file !== 0) on = cachedPage(ctx, r.file, r.pgoff + v - r.start) >= 0;
        out[v - s] = on ? 1 : 0;
      }
    }
  } finally {
    as.lock.readUnlock();
  }
  return copyToUser(ctx, as, vec, out) < 0 ? -EFAULT : 0;
}
