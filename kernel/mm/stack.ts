/**
 * Stack growth: a grows-down region (RF_GROWSDOWN — the main stack exec maps, or a guest's
 * MAP_GROWSDOWN mapping) is extended downwards when a fault lands below it, as Linux's
 * expand_downwards does (mm/mmap.c):
 *
 *          higher addresses
 *     +--------------------+  regionEnd(stack)
 *     |  stack region      |  RF_GROWSDOWN
 *     +--------------------+  stack.start        a fault at vpn in [new start, stack.start)
 *     |  may grow here     |                     extends the region down to vpn, when
 *     +- - - - - - - - - - +  regionEnd - limit  (1) regionEnd - vpn <= RLIMIT_STACK (AS_STACK_LIMIT),
 *     |  guard gap         |  STACK_GUARD_GAP_PAGES (1 MiB, Linux's stack_guard_gap)
 *     +--------------------+  regionEnd(prev)    (2) vpn - regionEnd(prev) >= the guard gap, unless
 *     |  prev mapping      |                         prev grows down too or is PROT_NONE,
 *     +--------------------+                     (3) vpn >= mmap_min_addr.
 *
 * Otherwise the fault is SIGSEGV (SEGV_MAPERR), like Linux. The growth extends the region's
 * record only (no frame is allocated: the retried access demand-faults the page) and goes
 * through the reuse guard, since the range becomes mapped again. File-backed grows-down regions
 * (a MAP_GROWSDOWN file mapping) are not grown here (Linux can; nothing uses it).
 *
 * Concurrency: the caller (kernel/mm/fault.ts) dropped the mmap lock it held shared; growth
 * takes it exclusive and checks everything again, so two threads faulting below the stack at
 * once grow it once, and a racing munmap/mmap is seen.
 */
import { PAGE_SIZE } from '../../cpu/ram.ts';
import type { KernelContext } from '../context.ts';
import type { VirtualAddressSpace } from './aspace.ts';
import { MMAP_MIN_ADDR, PROT_EXEC, PROT_READ, PROT_WRITE } from './abi.ts';
import { regionEnd } from './regions.ts';
import { RF_GROWSDOWN } from './layout.ts';

/** Linux's stack_guard_gap: 256 pages (1 MiB) kept free below a stack. */
export const STACK_GUARD_GAP_PAGES = 256;

/**
 * True when `vpn` (in no region) lies below a grows-down region — a candidate for growth.
 * Caller holds the mmap lock (shared is enough).
 */
export function belowGrowsDown(as: VirtualAddressSpace, vpn: number): boolean {
  const p = as.regions.lowerBound(vpn);
  if (p < 0) return false;
  const r = as.regions.get(p);
  return r.start > vpn && (r.flags & RF_GROWSDOWN) !== 0 && r.file === 0;
}

/**
 * Grow the grows-down region above `vpn` down to `vpn` (see the file comment for the rules).
 * Takes the mmap lock exclusive. True when `vpn` is mapped afterwards (grown here or by a
 * racing thread: retry the access), false when the access is SIGSEGV.
 */
export function expandStack(ctx: KernelContext, as: VirtualAddressSpace, vpn: number): boolean {
  as.lock.writeLock();
  try {
    const rl = as.regions;
    if (rl.find(vpn) >= 0) return true; // another thread grew it (or mapped there) meanwhile
    if (vpn * PAGE_SIZE < MMAP_MIN_ADDR || !belowGrowsDown(as, vpn)) return false;
    const p = rl.lowerBound(vpn);
    const r = rl.get(p);
    if ((regionEnd(r) - vpn) * PAGE_SIZE > as.stackLimit) return false; // RLIMIT_STACK
    const q = rl.prev(p);
    if (q >= 0) {
      const prev = rl.get(q);
      const accessible = (prev.prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0;
      if (!(prev.flags & RF_GROWSDOWN) && accessible && vpn - regionEnd(prev) < STACK_GUARD_GAP_PAGES) return false;
    }
    ctx.policy.beforeReuse?.(ctx, as, vpn, r.start - vpn); // the reuse guard (kernel/mm/mmap.ts guardReuse)
    rl.update(p, { ...r, start: vpn, npages: r.npages + (r.start - vpn) });
    ctx.counters.stackGrowths++;
    return true;
  } finally {
    as.lock.writeUnlock();
    ctx.assertNoStale('expandStack');
  }
}
