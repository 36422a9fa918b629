/**
 * fork: copy-on-write (forkAddressSpace) and, for comparison, a deep copy (cloneFrom).
 *
 * COW fork, holding the parent's mmap lock exclusive (and the child's): the child gets a copy of the region
 * list and of every resident PTE. Private pages: the PTE loses W and gains PTE_COW in parent
 * AND child (the parent's change is a page-table change: Stale → shootdown before the lock is
 * dropped), and the frame gains a reference per sharer (kernel/mm/frames.ts refcounts: any number
 * of sharers, chains of forks; the last reference frees). Shared mappings stay shared (same
 * frame, writable, one more reference). Device frames are copied without a reference.
 * 2 MiB leaves of the parent are split first, so COW always works on 4 KiB frames (differs from
 * Linux, which can share a huge PMD; a sharer's write would then copy 2 MiB).
 * Regions advised MADV_DONTFORK are left out of the child; MADV_WIPEONFORK ones are copied
 * without their pages (the child reads zero), as Linux's dup_mmap does.
 * Cost grows with the number of resident PTEs (page-table size), not with the data.
 */
import { PTE_COW, PTE_W } from '../../cpu/pte.ts';
import { FRAMES_PER_MEGAPAGE, PAGE_SIZE } from '../../cpu/ram.ts';
import { VirtualAddressSpace } from './aspace.ts';
import type { KernelContext } from '../context.ts';
import { ENOMEM } from '../errno.ts';
import { NO_FRAME } from './frames.ts';
import { releaseAddressSpace } from './mmap.ts';
import { fileRefDelta } from './pagecache.ts';
import {
  casPte, entryPa, forEachLeaf, loPpn, makeLo, PTE_DEVICE, splitHugeLeaf, vpnIndexAt, walkCreate,
} from './pagetable.ts';
import { regionEnd } from './regions.ts';
import { completeShootdown } from './shootdown.ts';
import { Stale } from './stale.ts';
import { RF_DONTFORK, RF_SHARED, RF_WIPEONFORK } from './layout.ts';

/** Fork `parent` with copy-on-write. Returns the child, or -EAGAIN (no address-space slot) / -ENOMEM (nothing leaks). */
export function forkAddressSpace(ctx: KernelContext, parent: VirtualAddressSpace): VirtualAddressSpace | number {
  return copySpace(ctx, parent, false);
}

/** Fork `parent` by deep copy (VeridianOS's clone_from): every private page copied now. */
export function cloneFrom(ctx: KernelContext, parent: VirtualAddressSpace): VirtualAddressSpace | number {
  return copySpace(ctx, parent, true);
}

function copySpace(ctx: KernelContext, parent: VirtualAddressSpace, deep: boolean): VirtualAddressSpace | number {
  const made = VirtualAddressSpace.create(ctx);
  if (typeof made === 'number') return made;
  const child = made; // (narrowed for the closures below)
  let failed = false;
  let childSlot: (vpn: number) => number = () => -1;
  // The child is live (and referenced) from create on: a walk over every space
  // (kernel/mm/file-unmap.ts) may lock it meanwhile, so it is filled under its own lock too.
  // Order: child, then parent; nobody else can wait for the child's lock while holding another.
  child.lock.writeLock();
  parent.lock.writeLock();
  const stale = new Stale(ctx, parent);
  try {
    for (const r of parent.regions.all()) {
      if (r.flags & RF_DONTFORK) continue; // MADV_DONTFORK: not in the child at all
      if (child.regions.insert(r) < 0) { failed = true; break; } // out of RAM for the child's region chunks
      if (r.file !== 0) fileRefDelta(ctx, r.file, +1);
    }
    child.brkStart = parent.brkStart;
    child.brk = parent.brk;
    child.mmapBase = parent.mmapBase;
    child.stackLimit = parent.stackLimit;
    const croot = child.rootPpn;
    let cachedKey = -1, cachedTable = 0;
    childSlot = (vpn: number): number => {
      const key = Math.floor(vpn / FRAMES_PER_MEGAPAGE);
      if (key !== cachedKey) {
        const pa = walkCreate(ctx, croot, vpn, 0);
        if (pa < 0) return -1;
        cachedKey = key;
        cachedTable = Math.floor(pa / PAGE_SIZE);
      }
      return entryPa(cachedTable, vpnIndexAt(vpn, 0));
    };
    for (const r of parent.regions.all()) {
      if (failed) break;
      // MADV_DONTFORK: no region; MADV_WIPEONFORK: the region without pages (zero on first touch).
      if (r.flags & (RF_DONTFORK | RF_WIPEONFORK)) continue;
      const shared = (r.flags & RF_SHARED) !== 0;
      if (!deep) {
        const huge: [number, number][] = [];
        forEachLeaf(ctx, parent.rootPpn, r.start, regionEnd(r), (pa, _lo, vpn, level) => { if (level > 0) huge.push([pa, vpn]); });
        for (const [pa, vpn] of huge) if (!splitHugeLeaf(ctx, pa, vpn, stale)) { failed = true; break; }
        if (failed) break;
      }
      forEachLeaf(ctx, parent.rootPpn, r.start, regionEnd(r), (pa, lo, vpn, level) => {
        if (failed) return;
        if (level > 0) {
          // deep copy of a 2 MiB leaf: 512 private 4 KiB copies; the parent keeps its leaf.
          for (let k = 0; k < FRAMES_PER_MEGAPAGE && !failed; k++) copyPage(loPpn(lo) + k, lo, vpn + k);
          return;
        }
        if (lo & PTE_DEVICE) { place(vpn, lo); return; }
        if (shared) {
          ctx.frames.incRef(loPpn(lo));
          if (!place(vpn, lo)) ctx.frames.put(loPpn(lo));
          return;
        }
        if (deep) { copyPage(loPpn(lo), lo, vpn); return; }
        let cur = lo;
        if (cur & PTE_W) {
          // SAFETY: CAS loop — the MMU may be setting A/D on this PTE right now.
          while (!casPte(ctx, pa, cur, (cur & ~PTE_W) | PTE_COW)) cur = Atomics.load(ctx.ram.i32, pa >>> 2);
          stale.addRange(vpn, vpn + 1);
          cur = (cur & ~PTE_W) | PTE_COW;
        } else if (!(cur & PTE_COW)) {
          while (!casPte(ctx, pa, cur, cur | PTE_COW)) cur = Atomics.load(ctx.ram.i32, pa >>> 2);
          cur |= PTE_COW;
        }
        ctx.frames.incRef(loPpn(cur));
        if (!place(vpn, cur)) ctx.frames.put(loPpn(cur));
      });
    }
  } finally {
    completeShootdown(ctx, stale);
    parent.lock.writeUnlock();
    child.lock.writeUnlock();
  }
  if (failed) {
    releaseAddressSpace(ctx, child);
    ctx.assertNoStale('fork');
    return -ENOMEM;
  }
  ctx.assertNoStale('fork');
  return child;

  function place(vpn: number, lo: number): boolean {
    const pa = childSlot(vpn);
    if (pa < 0) { failed = true; return false; }
    // SAFETY: no hart walks the child's tables yet (its root is in no satp until fork returns
    // and the child is scheduled, which synchronises), so a plain store of the low word suffices.
    ctx.ram.i32[pa >>> 2] = lo;
    if ((lo & PTE_DEVICE) === 0) child.addResident(1); // device frames are not resident memory (Linux VM_PFNMAP)
    return true;
  }
  function copyPage(src: number, lo: number, vpn: number): void {
    const n = ctx.frames.alloc();
    if (n === NO_FRAME) { failed = true; return; }
    ctx.ram.u8.copyWithin(n * PAGE_SIZE, src * PAGE_SIZE, (src + 1) * PAGE_SIZE);
    if (!place(vpn, makeLo(n, lo & 0x3ff & ~PTE_COW | (lo & PTE_COW ? PTE_W : 0)))) ctx.frames.free(n);
  }
}
