/**
 * Page-table edits in RAM (Sv48, cpu/pte.ts has the bit facts): walk-and-create, install a
 * leaf, clear a range, change permissions over a range, split a 2 MiB leaf into 512 4 KiB
 * PTEs. Every function that changes a mapping adds what became stale to a Stale record
 * (kernel/mm/stale.ts) and returns it; nothing here frees a frame that a TLB may still hold.
 *
 * Concurrency: the MMU of any hart may set A/D in a leaf at any moment with a 64-bit
 * compare-and-swap (cpu/mmu.ts). So the kernel never does read-modify-write with plain
 * stores: it replaces a PTE with Atomics.exchange (and learns the final D bit, like Linux's
 * ptep_get_and_clear) or Atomics.compareExchange in a loop, on `ram.i64`. Table creation
 * races (two harts faulting under the shared mmap lock) are settled by compareExchange of the
 * pointer entry: the loser frees its table, which nobody ever saw.
 * Reads use one Atomics.load of the PTE's low word: the kernel only writes PTEs whose high
 * word is 0 (ppn < 2^22, guaranteed by RAM <= 4 GiB), and the MMU's CAS never changes it.
 *
 * Kernel-private PTE encodings (the hardware ignores every bit of a PTE with V = 0):
 *   V=1, R|X set           leaf (W without R is never made)
 *   V=1, R=W=X=0           pointer to the next table
 *   V=0, PTE_PARKED (X)    resident frame of a PROT_NONE page: ppn, A/D, COW kept; faults
 *   PTE_CHANGING           exactly this word (V=0, X=0, RSW bit 9, ppn 0): a translation being
 *                          replaced — cleared and being flushed, the new PTE not set yet
 *                          (kernel/mm/pte-change.ts). The MMU faults on it; a fault handler
 *                          waits for the change to finish. It exists only while the hart making
 *                          the change holds the mmap lock shared, so code that holds the lock
 *                          exclusive (munmap, mprotect, fork, ...) never sees it
 *   0                      empty
 *   PTE_COW (RSW bit 8)    private page shared with others or with the page cache: copy on write
 *   PTE_DEVICE (RSW bit 9) frame not owned: no reference is held or dropped (device memory)
 */
import {
  PTE_A, PTE_COW, PTE_D, PTE_R, PTE_SW_SPARE, PTE_V, PTE_W, PTE_X, PTES_PER_TABLE,
} from '../../cpu/pte.ts';
import { FRAMES_PER_MEGAPAGE, PAGE_SIZE } from '../../cpu/ram.ts';
import type { KernelContext } from '../context.ts';
import { frameCleanBegin, NO_FRAME } from './frames.ts';
import { Stale } from './stale.ts';
import type { VirtualAddressSpace } from './aspace.ts';

export const PTE_DEVICE = PTE_SW_SPARE;
export const PTE_PARKED = PTE_X;
/** The "change in progress" PTE (see the header): not valid, not empty, never a leaf or a pointer. */
export const PTE_CHANGING = PTE_SW_SPARE;
/** Top level of Sv48 and the first vpn of the kernel half (root entry 256). */
export const ROOT_LEVEL = 3;
export const KERNEL_HALF_VPN = 2 ** 35;
/** walkCreate results besides a PTE address. */
export const PT_NOMEM = -1;
export const PT_BLOCKED = -2; // a leaf at a higher level covers the address (huge page)

const PPN_SHIFT = 10;
const ENTRY_PAGES = [1, 512, 512 * 512, 512 * 512 * 512];

/** True for a valid pointer entry (V=1, R=W=X=0). */
export function isPointer(lo: number): boolean {
  return (lo & (PTE_V | PTE_R | PTE_W | PTE_X)) === PTE_V;
}
/** True for an entry that holds a frame: a valid leaf or a parked PROT_NONE leaf. */
export function isResident(lo: number): boolean {
  return lo !== 0 && lo !== PTE_CHANGING && !isPointer(lo);
}
/** True for the "change in progress" PTE (a translation being replaced: wait, then retry). */
export function isChanging(lo: number): boolean {
  return lo === PTE_CHANGING;
}
/** The ppn of a kernel-made PTE (low word). */
export function loPpn(lo: number): number {
  return lo >>> PPN_SHIFT;
}
/** A kernel-made PTE low word: ppn + flags. Throws naming `makeLo` beyond 4 GiB of RAM. */
export function makeLo(ppn: number, flags: number): number {
  if (!(ppn >= 0 && ppn < 1 << 22)) throw new RangeError(`makeLo: ppn ${ppn} beyond 4 GiB`);
  return ((ppn << PPN_SHIFT) | flags) | 0;
}

/** Read the PTE at physical address `ptePa` (its low word; see the header). */
export function readPte(ctx: KernelContext, ptePa: number): number {
  return Atomics.load(ctx.ram.i32, ptePa >>> 2);
}
/** Replace PTE `ptePa` with `lo` if it still holds `expected`; true on success. */
export function casPte(ctx: KernelContext, ptePa: number, expected: number, lo: number): boolean {
  const e = BigInt(expected >>> 0);
  return Atomics.compareExchange(ctx.ram.i64, ptePa / 8, e, BigInt(lo >>> 0)) === e;
}
/** Replace PTE `ptePa` with `lo`, returning what it held (with the MMU's final A/D). */
export function exchangePte(ctx: KernelContext, ptePa: number, lo: number): number {
  return Number(BigInt.asUintN(32, Atomics.exchange(ctx.ram.i64, ptePa / 8, BigInt(lo >>> 0)))) | 0;
}

/** Physical address of entry `index` of table `ppn`. */
export function entryPa(tablePpn: number, index: number): number {
  return tablePpn * PAGE_SIZE + index * 8;
}

/** Index of `vpn` in its level-`level` table. */
export function vpnIndexAt(vpn: number, level: number): number {
  return Math.floor(vpn / ENTRY_PAGES[level]!) % PTES_PER_TABLE;
}

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);
/**
 * Zero `frames` frames from `ppn`. A copy from a private zero page (memcpy) is several times
 * faster than TypedArray.fill on a shared buffer (V8, measured: ~0.5 µs vs ~6 µs per frame).
 */
export function zeroFrames(ctx: KernelContext, ppn: number, frames = 1): void {
  const u8 = ctx.ram.u8;
  for (let k = 0; k < frames; k++) u8.set(ZERO_PAGE, (ppn + k) * PAGE_SIZE);
}

/** A zeroed frame for a page table, or NO_FRAME. */
export function allocTable(ctx: KernelContext): number {
  const ppn = ctx.frames.alloc();
  if (ppn !== NO_FRAME) zeroFrames(ctx, ppn);
  return ppn;
}

/**
 * Physical address of the level-`level` PTE of `vpn` under root `rootPpn`, creating the
 * tables above it. Returns PT_NOMEM when a table frame cannot be had, PT_BLOCKED when a
 * leaf (huge page) at a higher level covers vpn. Safe against concurrent creators.
 */
export function walkCreate(ctx: KernelContext, rootPpn: number, vpn: number, level: number): number {
  let table = rootPpn;
  for (let l = ROOT_LEVEL; l > level; l--) {
    const pa = entryPa(table, vpnIndexAt(vpn, l));
    let lo = readPte(ctx, pa);
    if (lo === 0) {
      const t = allocTable(ctx);
      if (t === NO_FRAME) return PT_NOMEM;
      const ptr = makeLo(t, PTE_V);
      if (casPte(ctx, pa, 0, ptr)) {
        lo = ptr;
      } else {
        ctx.frames.free(t); // lost the race; nobody saw our table
        lo = readPte(ctx, pa);
      }
    }
    if (!isPointer(lo)) return PT_BLOCKED;
    table = loPpn(lo);
  }
  return entryPa(table, vpnIndexAt(vpn, level));
}

/** Where `findLeaf` found the leaf (reused; read right after the call). */
export const found = { ptePa: 0, level: 0, lo: 0 };

/**
 * Find the resident leaf (valid or parked) covering `vpn`: its PTE address (also in
 * `found`, with level and value), or -1 when none. A PTE in the change state (isChanging) is
 * found too, as a level-0 entry: callers that use the frame check PTE_V. Creates nothing.
 */
export function findLeaf(ctx: KernelContext, rootPpn: number, vpn: number): number {
  let table = rootPpn;
  for (let l = ROOT_LEVEL; l >= 0; l--) {
    const pa = entryPa(table, vpnIndexAt(vpn, l));
    const lo = readPte(ctx, pa);
    if (lo === 0) return -1;
    if (isPointer(lo)) {
      if (l === 0) return -1;
      table = loPpn(lo);
      continue;
    }
    found.ptePa = pa;
    found.level = l;
    found.lo = lo;
    return pa;
  }
  return -1;
}

/** Visitor of `visitRange`. */
interface Visitor {
  /** A resident 4 KiB leaf. */
  leaf(ptePa: number, lo: number, vpn: number): void;
  /** A resident leaf at level >= 1 covering [vpn, vpn + pages); `whole` = the range covers all of it. Return true to descend (after splitting it). */
  bigLeaf(ptePa: number, lo: number, level: number, vpn: number, whole: boolean): boolean;
  /** A table (mapping pages [vpn, vpn + pages)) whose whole span lay inside the range, after its entries were visited. */
  tableCovered?(parentPtePa: number, tablePpn: number, vpn: number, pages: number): void;
}

function visit(ctx: KernelContext, table: number, level: number, base: number, from: number, to: number, v: Visitor): void {
  const span = ENTRY_PAGES[level]!;
  const i0 = Math.floor((from - base) / span);
  const i1 = Math.floor((to - 1 - base) / span);
  const i32 = ctx.ram.i32;
  for (let i = i0; i <= i1; i++) {
    const pa = entryPa(table, i);
    let lo = Atomics.load(i32, pa >>> 2);
    if (lo === 0) continue;
    const eStart = base + i * span;
    const s = Math.max(from, eStart), e = Math.min(to, eStart + span);
    if (level === 0) {
      v.leaf(pa, lo, eStart);
      continue;
    }
    if (corruptEntry(ctx, pa, lo, level)) continue;
    if (!isPointer(lo)) {
      if (!v.bigLeaf(pa, lo, level, eStart, s === eStart && e === eStart + span)) continue;
      lo = Atomics.load(i32, pa >>> 2);
      if (!isPointer(lo)) throw new Error('visitRange: bigLeaf asked to descend without splitting');
    }
    const child = loPpn(lo);
    visit(ctx, child, level - 1, eStart, s, e, v);
    if (s === eStart && e === eStart + span) v.tableCovered?.(pa, child, eStart, span);
  }
}

/**
 * An upper-level entry the kernel never writes — a leaf above level 1, or a pointer to a frame
 * the allocator does not hold as allocated — can only be a guest's store through a stale TLB
 * entry into a frame reused as a page table (under --shootdown off/lazy). It is cleared and
 * counted (counters.corruptPtes) and nothing it names is followed or freed: the machine goes on
 * (the sanitizer has reported the stale store). True when `lo` at `pa` was such an entry.
 */
function corruptEntry(ctx: KernelContext, pa: number, lo: number, level: number): boolean {
  if (isPointer(lo) ? ctx.frames.isAllocated(loPpn(lo)) : level === 1) return false;
  if (casPte(ctx, pa, lo, 0)) ctx.counters.corruptPtes++;
  return true;
}

/** Visit every resident leaf of user pages [vpnStart, vpnEnd) under `rootPpn`. */
function visitRange(ctx: KernelContext, rootPpn: number, vpnStart: number, vpnEnd: number, v: Visitor): void {
  if (!(vpnStart >= 0 && vpnEnd <= KERNEL_HALF_VPN)) throw new Error(`visitRange: [${vpnStart}, ${vpnEnd}) reaches the kernel half`);
  if (vpnEnd > vpnStart) visit(ctx, rootPpn, ROOT_LEVEL, 0, vpnStart, vpnEnd, v);
}

/**
 * Split the 2 MiB leaf at `l1PtePa` (base vpn `vpn`) into a table of 512 4 KiB PTEs with the
 * same flags, preserving contents (same frames) and the MMU's A/D bits. The 2 MiB block
 * becomes 512 separately counted frames. Returns false when no table frame is free.
 * The old superpage translation is recorded in `stale`.
 */
export function splitHugeLeaf(ctx: KernelContext, l1PtePa: number, vpn: number, stale: Stale): boolean {
  const t = allocTable(ctx);
  if (t === NO_FRAME) return false;
  const i32 = ctx.ram.i32;
  for (;;) {
    const lo = Atomics.load(i32, l1PtePa >>> 2);
    if (!isResident(lo)) throw new Error('splitHugeLeaf: no 2 MiB leaf there');
    const ppn = loPpn(lo), flags = lo & 0x3ff;
    for (let k = 0; k < FRAMES_PER_MEGAPAGE; k++) {
      Atomics.store(i32, (t * PAGE_SIZE + k * 8) >>> 2, makeLo(ppn + k, flags));
    }
    // SAFETY: the block's refcounts change only after the pointer replaced the leaf.
    if (casPte(ctx, l1PtePa, lo, makeLo(t, PTE_V))) {
      ctx.frames.splitHuge(ppn);
      stale.addRange(vpn, vpn + FRAMES_PER_MEGAPAGE);
      ctx.counters.hugeSplits++;
      return true;
    }
  }
}

/** Result of clearRange beyond the Stale. */
export interface ClearInfo {
  /** Pages (4 KiB units) whose PTE was removed. */
  pages: number;
  /** vpns whose removed PTE had D set (a shared file page to write back). */
  dirty: number[];
}

/**
 * Remove every user translation in [vpnStart, vpnEnd): PTEs cleared by exchange (learning
 * their final D bit), frame references queued in the Stale (not for PTE_DEVICE), 2 MiB
 * leaves partly in the range split first, tables whose whole span is in the range unlinked
 * and queued. Returns the Stale (`into`, or a new sealed one) — pass it to completeShootdown.
 * Throws on a split that finds no frame (callers split huge leaves up front when they must
 * not fail: `splitHugeAt`).
 */
export function clearRange(
  ctx: KernelContext, as: VirtualAddressSpace, vpnStart: number, vpnEnd: number, into?: Stale, info?: ClearInfo,
): Stale {
  const stale = into ?? new Stale(ctx, as);
  visitRange(ctx, as.rootPpn, vpnStart, vpnEnd, {
    leaf(pa, _lo, vpn) {
      const old = exchangePte(ctx, pa, 0);
      if (old === 0) return;
      if ((old & PTE_DEVICE) === 0) {
        stale.addFrame(loPpn(old));
        if (isResident(old)) as.addResident(-1);
      }
      stale.addRange(vpn, vpn + 1);
      if (info) {
        info.pages++;
        if (old & PTE_D) info.dirty.push(vpn);
      }
    },
    bigLeaf(pa, _lo, level, vpn, whole) {
      if (level !== 1) throw new Error(`clearRange: level-${level} leaf not supported`);
      if (!whole) {
        if (!splitHugeLeaf(ctx, pa, vpn, stale)) throw new Error('clearRange: no frame to split a 2 MiB page');
        return true;
      }
      const old = exchangePte(ctx, pa, 0);
      stale.addHugeFrame(loPpn(old));
      as.addResident(-FRAMES_PER_MEGAPAGE);
      stale.addRange(vpn, vpn + FRAMES_PER_MEGAPAGE);
      if (info) info.pages += FRAMES_PER_MEGAPAGE;
      return false;
    },
    tableCovered(parentPa, tablePpn, vpn, pages) {
      exchangePte(ctx, parentPa, 0);
      stale.addTable(tablePpn);
      // Even an empty table may be in use by a walk in flight on another hart: its frame is
      // freed only after the range is invalidated everywhere (Linux's tlb_remove_table).
      stale.addRange(vpn, vpn + pages);
    },
  });
  return into ? stale : stale.seal();
}

/**
 * Split every 2 MiB leaf that straddles vpn `at` (a boundary of a coming partial operation).
 * Returns false when a table frame is missing (ENOMEM for the caller, nothing changed).
 */
export function splitHugeAt(ctx: KernelContext, as: VirtualAddressSpace, at: number, stale: Stale): boolean {
  if (at % FRAMES_PER_MEGAPAGE === 0) return true;
  if (findLeaf(ctx, as.rootPpn, at) < 0 || found.level !== 1) return true;
  return splitHugeLeaf(ctx, found.ptePa, at - (at % FRAMES_PER_MEGAPAGE), stale);
}

/**
 * Rewrite every resident leaf in [vpnStart, vpnEnd) to `newLo(lo)` (same ppn; flags may
 * change, A/D are carried over by the CAS loop). PTEs that change are recorded in the
 * Stale. 2 MiB leaves partly in range must be split first (splitHugeAt). Returns the Stale.
 */
export function protectRange(
  ctx: KernelContext, as: VirtualAddressSpace, vpnStart: number, vpnEnd: number, newLo: (lo: number) => number, into?: Stale,
): Stale {
  const stale = into ?? new Stale(ctx, as);
  const update = (pa: number, vpn: number, pages: number): void => {
    const i32 = ctx.ram.i32;
    for (;;) {
      const lo = Atomics.load(i32, pa >>> 2);
      const nl = newLo(lo);
      if (nl === lo) return;
      if (casPte(ctx, pa, lo, nl)) {
        stale.addRange(vpn, vpn + pages);
        return;
      }
    }
  };
  visitRange(ctx, as.rootPpn, vpnStart, vpnEnd, {
    leaf(pa, _lo, vpn) { update(pa, vpn, 1); },
    bigLeaf(pa, _lo, level, vpn, whole) {
      if (!whole || level !== 1) throw new Error('protectRange: a 2 MiB leaf straddles the range (split it first)');
      update(pa, vpn, FRAMES_PER_MEGAPAGE);
      return false;
    },
  });
  return into ? stale : stale.seal();
}

/** Call `fn` for every resident leaf in [vpnStart, vpnEnd): (ptePa, lo, vpn, level). Edits nothing itself. */
export function forEachLeaf(
  ctx: KernelContext, rootPpn: number, vpnStart: number, vpnEnd: number, fn: (ptePa: number, lo: number, vpn: number, level: number) => void,
): void {
  visitRange(ctx, rootPpn, vpnStart, vpnEnd, {
    leaf(pa, lo, vpn) { fn(pa, lo, vpn, 0); },
    bigLeaf(pa, lo, level, vpn) { fn(pa, lo, vpn, level); return false; },
  });
}

/**
 * Free every user page-table frame under root `rootPpn` (entries 0..255), assuming no leaf
 * is left (clearRange ran over the whole user half). Pointers are cleared; the frames go to
 * `stale` so they are freed after invalidation.
 */
export function unlinkUserTables(ctx: KernelContext, rootPpn: number, stale: Stale): void {
  const drop = (table: number, level: number): void => {
    for (let i = 0; i < PTES_PER_TABLE; i++) {
      const pa = entryPa(table, i);
      const lo = readPte(ctx, pa);
      if (lo === 0) continue;
      if (!isPointer(lo) || corruptEntry(ctx, pa, lo, level)) { // a leaf here, or a pointer to a frame not allocated: a guest-corrupted table
        if (readPte(ctx, pa) !== 0 && casPte(ctx, pa, readPte(ctx, pa), 0)) ctx.counters.corruptPtes++;
        continue;
      }
      if (level > 1) drop(loPpn(lo), level - 1);
      exchangePte(ctx, pa, 0);
      stale.addTable(loPpn(lo));
    }
  };
  for (let i = 0; i < PTES_PER_TABLE / 2; i++) {
    const pa = entryPa(rootPpn, i);
    const lo = readPte(ctx, pa);
    if (lo === 0) continue;
    if (corruptEntry(ctx, pa, lo, ROOT_LEVEL)) continue;
    drop(loPpn(lo), ROOT_LEVEL - 1);
    exchangePte(ctx, pa, 0);
    stale.addTable(loPpn(lo));
  }
  stale.addWhole();
}

export { PTE_A, PTE_D, PTE_COW };

/**
 * Clear D in every resident 4 KiB leaf of [vpnStart, vpnEnd) (msync): returns the vpns that
 * were dirty; each cleared PTE is recorded in the Stale (a TLB may cache D=1 and would skip
 * setting it again), and so is the clean of its frame (frameCleanBegin before the clear,
 * Stale.addCleaned: ended after the invalidation — the sanitizer's dirty-after-clean check).
 */
export function cleanRange(ctx: KernelContext, as: VirtualAddressSpace, vpnStart: number, vpnEnd: number, stale: Stale): number[] {
  const dirty: number[] = [];
  const i32 = ctx.ram.i32;
  visitRange(ctx, as.rootPpn, vpnStart, vpnEnd, {
    leaf(pa, _lo, vpn) {
      let lo = Atomics.load(i32, pa >>> 2);
      if ((lo & PTE_D) === 0) return;
      // The clean begins before the D clear (frames.ts frameCleanBegin says why); the frame
      // stays mapped (msync holds the mmap lock exclusive), so loPpn(lo) is its frame throughout.
      frameCleanBegin(ctx.ctl, loPpn(lo));
      stale.addCleaned(loPpn(lo));
      for (;;) {
        if (casPte(ctx, pa, lo, lo & ~PTE_D)) {
          dirty.push(vpn);
          stale.addRange(vpn, vpn + 1);
          return;
        }
        lo = Atomics.load(i32, pa >>> 2); // the MMU set A meanwhile
        if ((lo & PTE_D) === 0) return;
      }
    },
    bigLeaf() { return false; }, // only anonymous memory is huge: nothing to write back
  });
  return dirty;
}
