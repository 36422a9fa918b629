/**
 * The page-fault handler. Three branches, as in KeOS:
 *   1. demand fault — no PTE yet: zero-fill an anonymous page (a 2 MiB leaf when the region
 *      allows and a block is free), or map a file page through the page cache (shared maps
 *      the cache frame; private maps it read-only, copy-on-write);
 *   2. COW fault — a store to a PTE_COW page: a sole owner (refcount 1) gets the frame made
 *      writable; otherwise the page is copied and the PTE replaced clear → flush → set
 *      (kernel/mm/pte-change.ts);
 *   0. below a grows-down region (a stack) — the region grows down to the page when the
 *      rules of kernel/mm/stack.ts allow (RLIMIT_STACK, guard gap), and the access retries;
 *   3. invalid access — SIGSEGV with SEGV_MAPERR (no region, or the kernel half) or
 *      SEGV_ACCERR (the region's protection forbids it). A file page at or past EOF: SIGBUS.
 * Out of frames (after the page cache gave back what it could): SIGBUS marked `oom`; the hart
 * loop hands that to the OOM killer (kernel/signal/oom.ts), which SIGKILLs the largest process
 * and lets the access retry — as Linux — and delivers the SIGBUS only when nothing can be killed.
 *
 * Concurrency: the handler holds the mmap lock shared, so a racing munmap/mprotect either
 * completes before (the fault sees the new regions: SIGSEGV or the new protection) or waits
 * until the fault is done. Two harts faulting the same page race on the PTE: the install is a
 * compareExchange from empty; the loser frees its frame and retries the access (one frame,
 * one mapping). A PTE that already allows the access is a spurious fault (another hart fixed
 * it, or this TLB held an older entry): a local sfence.vma of the page, and retry. A PTE in
 * the change state (another hart's COW break between clear and set) is waited for, then the
 * access retried — never taken for an empty PTE.
 */
import { PTE_A, PTE_COW, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, vaLoHi } from '../../cpu/pte.ts';
import { FRAMES_PER_MEGAPAGE, PAGE_SIZE } from '../../cpu/ram.ts';
import { ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE, type AccessKind } from '../../cpu/trap.ts';
import type { VirtualAddressSpace } from './aspace.ts';
import { USER_TOP } from './aspace.ts';
import type { KernelContext } from '../context.ts';
import { BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGSEGV } from '../errno.ts';
import { NO_FRAME } from './frames.ts';
import { H_ICACHE_EPOCH } from '../layout.ts';
import { getPage, PAGE_BEYOND_EOF } from './pagecache.ts';
import {
  zeroFrames, casPte, findLeaf, found, isChanging, loPpn, makeLo, PT_BLOCKED, PT_NOMEM, readPte, walkCreate,
} from './pagetable.ts';
import { clearForChange, setAfterChange, waitForChange } from './pte-change.ts';
import { regionEnd, type Region } from './regions.ts';
import { completeShootdown } from './shootdown.ts';
import { belowGrowsDown, expandStack } from './stack.ts';
import { Stale } from './stale.ts';
import { inject, INJ } from '../lab/inject.ts';
import {
  FAULT_COW_COPY, FAULT_COW_REUSE, FAULT_DEMAND_ZERO, FAULT_FILE, FAULT_SIGBUS, FAULT_SIGSEGV, FAULT_SPURIOUS,
  traceEmitFaultBegin, traceEmitFaultEnd,
} from '../lab/trace.ts';
import { PROT_EXEC, PROT_READ, PROT_WRITE } from './abi.ts';
import { RF_FILE, RF_HUGE_OK, RF_SHARED } from './layout.ts';

/** What a fault that cannot be resolved delivers to the process. */
export interface FaultSignal {
  signo: number;
  code: number;
  /** The faulting address (si_addr). */
  addr: number;
  /** True when the cause is frame exhaustion. */
  oom?: boolean;
}

/** PTE flags (low 10 bits) a page of a region with `prot` gets: V U A, R W X; W implies R (RISC-V has no W-only). */
export function protToPte(prot: number): number {
  let f = PTE_V | PTE_U | PTE_A;
  if (prot & (PROT_READ | PROT_WRITE)) f |= PTE_R;
  if (prot & PROT_WRITE) f |= PTE_W;
  if (prot & PROT_EXEC) f |= PTE_X;
  return f;
}

/** True when a region with `prot` allows `access` (PROT_WRITE implies read). */
export function protAllows(prot: number, access: AccessKind): boolean {
  if (access === ACCESS_LOAD) return (prot & (PROT_READ | PROT_WRITE)) !== 0;
  if (access === ACCESS_STORE) return (prot & PROT_WRITE) !== 0;
  return (prot & PROT_EXEC) !== 0;
}

/**
 * A frame whose contents the kernel just wrote (zero-fill, copy, page-cache read) is about to
 * be mapped executable: every hart must drop decoded instructions it may hold for that frame
 * from an earlier life (cpu/hart.ts decode cache, keyed by frame). Bump the shared icache
 * epoch BEFORE the PTE is published; harts check it at every batch start.
 */
function codeWritten(ctx: KernelContext, pteFlags: number): void {
  if (pteFlags & PTE_X) Atomics.add(ctx.ctl.i32, H_ICACHE_EPOCH, 1);
}

const segv = (code: number, addr: number): FaultSignal => ({ signo: SIGSEGV, code, addr });
const oom = (addr: number): FaultSignal => ({ signo: SIGBUS, code: BUS_ADRERR, addr, oom: true });

/**
 * Resolve a U-mode page fault at `va` (a number: user addresses below 2^47; anything else is
 * the kernel half or non-canonical) for `access`. Returns null when the access may be retried,
 * or the signal to deliver. Takes the mmap lock shared; every Stale made is completed.
 * Traced (ctx.trace) as a fault-begin .. fault-end pair with the outcome (FAULT_*).
 */
export function handlePageFault(ctx: KernelContext, as: VirtualAddressSpace, va: number, access: AccessKind): FaultSignal | null {
  const w = ctx.trace;
  if (w === null) return resolveOrGrow(ctx, as, va, access); // tracing off: this one branch
  traceEmitFaultBegin(w, va, access);
  const c = ctx.counters;
  const demand = c.demandFaults, file = c.fileFaults, copies = c.cowCopies, reuses = c.cowReuses;
  const sig = resolveOrGrow(ctx, as, va, access);
  // The outcome, from which counter the resolution bumped (a lost race counts as its branch).
  traceEmitFaultEnd(w, sig !== null ? (sig.signo === SIGBUS ? FAULT_SIGBUS : FAULT_SIGSEGV)
    : c.cowCopies !== copies ? FAULT_COW_COPY : c.cowReuses !== reuses ? FAULT_COW_REUSE
      : c.fileFaults !== file ? FAULT_FILE : c.demandFaults !== demand ? FAULT_DEMAND_ZERO : FAULT_SPURIOUS);
  return sig;
}

/** resolveFault's answer for a fault below a grows-down region: grow it (mmap lock not held). */
const BELOW_STACK: FaultSignal = { signo: 0, code: 0, addr: 0 };

function resolveOrGrow(ctx: KernelContext, as: VirtualAddressSpace, va: number, access: AccessKind): FaultSignal | null {
  const sig = resolveFault(ctx, as, va, access);
  if (sig !== BELOW_STACK) return sig;
  return expandStack(ctx, as, Math.floor(va / PAGE_SIZE)) ? null : segv(SEGV_MAPERR, va);
}

function resolveFault(ctx: KernelContext, as: VirtualAddressSpace, va: number, access: AccessKind): FaultSignal | null {
  if (!(va >= 0 && va < USER_TOP)) return segv(SEGV_MAPERR, va);
  const vpn = Math.floor(va / PAGE_SIZE);
  as.lock.readLock();
  try {
    const i = as.regions.find(vpn);
    if (i < 0) return belowGrowsDown(as, vpn) ? BELOW_STACK : segv(SEGV_MAPERR, va);
    const r = as.regions.get(i);
    if (!protAllows(r.prot, access)) return segv(SEGV_ACCERR, va);
    const pa = findLeaf(ctx, as.rootPpn, vpn);
    if (pa < 0) return demandFault(ctx, as, r, vpn, va, access);
    const lo = found.lo;
    if (isChanging(lo)) {
      // Another hart replaces this translation: wait, then retry. Counted as spurious (another
      // hart resolves it), as the trace's outcome is.
      waitForChange(ctx, pa, vpn);
      ctx.counters.spuriousFaults++;
      return null;
    }
    if ((lo & PTE_V) === 0) throw new Error(`handlePageFault: PROT_NONE page at vpn ${vpn} in a region with prot ${r.prot}`);
    const bit = access === ACCESS_LOAD ? PTE_R : access === ACCESS_STORE ? PTE_W : PTE_X;
    if (lo & bit) return spurious(ctx, as, vpn);
    if (access === ACCESS_STORE) return found.level === 0 ? writeFault(ctx, as, pa, lo, vpn, va) : segv(SEGV_ACCERR, va);
    // A load/fetch the region allows but the PTE does not: a PTE made for an older protection.
    throw new Error(`handlePageFault: PTE 0x${(lo >>> 0).toString(16)} at vpn ${vpn} disagrees with region prot ${r.prot}`);
  } finally {
    as.lock.readUnlock();
    ctx.assertNoStale('page fault exit');
  }
}

function spurious(ctx: KernelContext, as: VirtualAddressSpace, vpn: number): null {
  ctx.counters.spuriousFaults++;
  const [lo, hi] = vaLoHi(vpn * PAGE_SIZE);
  ctx.tlb?.sfenceVma(lo, hi, as.asid);
  return null;
}

/** Branch 1: nothing mapped yet. */
function demandFault(ctx: KernelContext, as: VirtualAddressSpace, r: Region, vpn: number, va: number, access: AccessKind): FaultSignal | null {
  ctx.counters.demandFaults++;
  const flags = protToPte(r.prot) | (access === ACCESS_STORE ? PTE_D : 0);
  if (r.file === 0) {
    if ((r.flags & RF_HUGE_OK) && tryHuge(ctx, as, r, vpn, flags)) return null;
    return installNew(ctx, as, vpn, va, flags, null);
  }
  ctx.counters.fileFaults++;
  const page = r.pgoff + (vpn - r.start);
  const cache = getPage(ctx, r.file, page);
  if (cache === PAGE_BEYOND_EOF) return { signo: SIGBUS, code: BUS_ADRERR, addr: va };
  if (cache < 0) return oom(va);
  if (r.flags & RF_SHARED) return installFrame(ctx, as, vpn, va, cache, flags);
  if (access === ACCESS_STORE) {
    const res = installNew(ctx, as, vpn, va, flags, cache); // private copy of the file page
    ctx.frames.put(cache);
    return res;
  }
  // Private, not a store: map the cache frame read-only, copy on the first write.
  return installFrame(ctx, as, vpn, va, cache, (flags & ~(PTE_W | PTE_D)) | PTE_COW);
}

/** Install a new frame (zeroed, or a copy of `from`) at vpn; the loser of a race frees it. */
function installNew(ctx: KernelContext, as: VirtualAddressSpace, vpn: number, va: number, flags: number, from: number | null): FaultSignal | null {
  const pa = walkCreate(ctx, as.rootPpn, vpn, 0);
  if (pa === PT_NOMEM) return oom(va);
  if (pa === PT_BLOCKED) return null; // a 2 MiB leaf appeared meanwhile: retry
  if (readPte(ctx, pa) !== 0) return null; // another hart won already
  const ppn = ctx.frames.alloc();
  if (ppn === NO_FRAME) return oom(va);
  if (from === null) zeroFrames(ctx, ppn);
  else ctx.ram.u8.copyWithin(ppn * PAGE_SIZE, from * PAGE_SIZE, (from + 1) * PAGE_SIZE);
  codeWritten(ctx, flags);
  // SAFETY: the frame's contents are complete before the PTE that publishes it.
  if (!casPte(ctx, pa, 0, makeLo(ppn, flags))) ctx.frames.free(ppn); // lost the race: never visible
  else as.addResident(1);
  return null;
}

/** Install an existing frame on which the caller holds a reference (given to the PTE, or dropped on a lost race). */
function installFrame(ctx: KernelContext, as: VirtualAddressSpace, vpn: number, va: number, ppn: number, flags: number): FaultSignal | null {
  const pa = walkCreate(ctx, as.rootPpn, vpn, 0);
  if (pa >= 0) codeWritten(ctx, flags);
  if (pa === PT_NOMEM || pa === PT_BLOCKED || !casPte(ctx, pa, 0, makeLo(ppn, flags))) {
    ctx.frames.put(ppn);
    return pa === PT_NOMEM ? oom(va) : null;
  }
  as.addResident(1);
  return null;
}

/** A 2 MiB leaf for the aligned block around vpn, when it lies inside the region and a block is free. */
function tryHuge(ctx: KernelContext, as: VirtualAddressSpace, r: Region, vpn: number, flags: number): boolean {
  const base = vpn - (vpn % FRAMES_PER_MEGAPAGE);
  if (base < r.start || base + FRAMES_PER_MEGAPAGE > regionEnd(r) || (r.flags & RF_FILE)) return false;
  const pa = walkCreate(ctx, as.rootPpn, vpn, 1);
  if (pa < 0 || readPte(ctx, pa) !== 0) return false;
  const ppn = ctx.frames.allocHuge();
  if (ppn === NO_FRAME) return false;
  zeroFrames(ctx, ppn, FRAMES_PER_MEGAPAGE);
  codeWritten(ctx, flags);
  if (!casPte(ctx, pa, 0, makeLo(ppn, flags))) {
    ctx.frames.freeHuge(ppn);
    return true; // someone else mapped here meanwhile: retry the access
  }
  as.addResident(FRAMES_PER_MEGAPAGE);
  ctx.counters.hugeMaps++;
  return true;
}

/**
 * Branch 2: a store to a present page that is not writable, in a writable region.
 *   - sole owner (refcount 1) or a plain write-protected page: the PTE gains W in place (same
 *     frame: other harts' read-only entries stay correct); the change is still shot down
 *     before the store is retried (Linux relies on spurious faults here instead);
 *   - shared: copy, then clear → flush → set (kernel/mm/pte-change.ts): the PTE is in the
 *     change state while every hart drops the old translation, and only then points to the
 *     copy. The old frame's reference is dropped after the flush.
 */
function writeFault(ctx: KernelContext, as: VirtualAddressSpace, pa: number, lo: number, vpn: number, va: number): FaultSignal | null {
  const ppn = loPpn(lo);
  if ((lo & PTE_COW) === 0 || ctx.frames.refcount(ppn) === 1) {
    const stale = new Stale(ctx, as);
    try {
      if (casPte(ctx, pa, lo, (lo | PTE_W | PTE_D | PTE_A) & ~PTE_COW)) {
        stale.addRange(vpn, vpn + 1);
        ctx.counters.cowReuses++;
      }
    } finally {
      completeShootdown(ctx, stale);
    }
    return null;
  }
  const n = ctx.frames.alloc();
  if (n === NO_FRAME) return oom(va);
  // SAFETY: every mapping of the old frame through a COW PTE is read-only (fork write-protected
  // and flushed them), so no store through such a PTE changes it while it is copied. (A
  // page-cache frame may still change by write() or a MAP_SHARED mapping of the file, as it may
  // during Linux's wp_page_copy.)
  ctx.ram.u8.copyWithin(n * PAGE_SIZE, ppn * PAGE_SIZE, (ppn + 1) * PAGE_SIZE);
  const nl = makeLo(n, ((lo & 0x3ff) | PTE_W | PTE_D | PTE_A) & ~PTE_COW);
  codeWritten(ctx, nl);
  // 1. clear
  if (!clearForChange(ctx, pa, lo)) {
    ctx.frames.free(n); // the PTE changed under us (A/D or another fault): retry, never visible
    return null;
  }
  try {
    // 2. flush: every hart drops the old translation, then our reference to the old frame goes.
    const stale = new Stale(ctx, as);
    stale.addRange(vpn, vpn + 1);
    stale.addFrame(ppn);
    stale.requireSync();
    completeShootdown(ctx, stale);
    inject(ctx.ctl, INJ['cow.before-install']);
  } finally {
    // 3. set (on an exception too: no PTE may stay in the change state)
    setAfterChange(ctx, pa, nl);
  }
  ctx.counters.cowCopies++;
  inject(ctx.ctl, INJ['cow.after-install']);
  return null;
}

export { ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE };
