/**
 * VirtualAddressSpace: one slot of the address-space table in ctl (kernel/mm/layout.ts AS_*)
 * and the worker-local object that attaches to it. The slot holds everything two harts may
 * both touch: state and reference count (threads share a space), the mmap lock (faults take
 * it shared, mapping changes exclusive), the root table ppn (what goes into satp), the
 * tlb_generation with the range of its latest bump, the ASID, the active-hart mask (64 harts),
 * brk, mmap base and the region list.
 *
 * The kernel half: bootVm allocates, once, a level-2 table for each root entry 256..511 and
 * maps one kernel page (U=0, global) at KERNEL_PROBE_VA; every new root copies entries
 * 256..511, so the kernel half is shared and a user touch of it page-faults (U=0) — SIGSEGV.
 *
 * tlb_generation only grows, also across reuse of a slot: create bumps it with "whole ASID",
 * so a hart that remembers the slot's previous life is behind and flushes the ASID. The
 * generation of that bump is kept (birthGeneration): slot + generation name one life of a slot,
 * as Linux's never-reused ctx_id names one mm.
 */
import { PTE_A, PTE_D, PTE_G, PTE_R, PTE_V, PTE_W, SATP_MODE_SV48, makeSatp } from '../../cpu/pte.ts';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import type { KernelContext } from '../context.ts';
import { EAGAIN, ENOMEM } from '../errno.ts';
import { NO_FRAME } from './frames.ts';
import type { Ctl } from '../layout.ts';
import { SpinLock } from '../sync/lock.ts';
import { RwLock } from '../sync/rwlock.ts';
import { allocTable, zeroFrames, entryPa, KERNEL_HALF_VPN, makeLo, PT_NOMEM, readPte, walkCreate } from './pagetable.ts';
import { RegionList } from './regions.ts';
import { fileRefDelta } from './pagecache.ts';
import {
  AS_ACTIVE, AS_ASID, AS_GASID, AS_RSS, AS_RSS_HWM, AS_BRK, AS_BRK_START, AS_BYTES, AS_FREE, AS_GEN, AS_GEN_LOCK, AS_LAST_GEN, AS_LAST_NPAGES,
  AS_LAST_VPN, AS_LIVE, AS_LOCK, AS_MMAP_BASE, AS_BIRTH_GEN, AS_REFCOUNT, AS_RL, AS_ROOT, AS_STACK_LIMIT, AS_STATE, AS_WHOLE,
  RL_WORDS, VMH_BOOTED, VMH_KPAGE, VMH_KROOT, VMH_KTABLES,
} from './layout.ts';

/** The kernel page every address space maps with U=0 (va bits 63:48 set: kernel half). */
export const KERNEL_PROBE_VA = 0xffff_ffc0_0000_0000n;
/** Its 48-bit form, as the kernel's vpn arithmetic uses it. */
export const KERNEL_PROBE_VA48 = 0xffc0_0000_0000;
/** First byte above user space (Sv48: the lower half). */
export const USER_TOP = KERNEL_HALF_VPN * PAGE_SIZE;
/** Default top of the top-down mmap search (leaves room above for a stack). */
export const DEFAULT_MMAP_BASE = 0x3f_0000_0000;
/** Default RLIMIT_STACK soft limit (8 MiB, Linux's _STK_LIM): how far a grows-down region may grow. */
export const DEFAULT_STACK_LIMIT = 8 * 1024 * 1024;

/**
 * Set up the shared kernel half once per machine (before any address space): 256 level-2
 * tables and the kernel probe page. Idempotent. Throws naming `bootVm` when RAM is too small.
 */
export function bootVm(ctx: KernelContext): void {
  const { i32, layout } = ctx.ctl;
  const h = layout.vmHeader / 4;
  if (Atomics.load(i32, h + VMH_BOOTED) === 1) return;
  let used = 0;
  for (let k = 0; k < 256; k++) {
    const t = allocTable(ctx);
    if (t === NO_FRAME) throw new Error('bootVm: no frame for the kernel half');
    i32[h + VMH_KROOT + k] = t;
    used++;
  }
  const page = ctx.frames.alloc();
  if (page === NO_FRAME) throw new Error('bootVm: no frame for the kernel page');
  zeroFrames(ctx, page);
  ctx.ram.u32[(page * PAGE_SIZE) / 4] = 0x6b65726e; // "kern": a canary user mode must never read
  used++;
  // The kernel page's tables hang below the shared level-2 table of its root entry.
  const vpn = KERNEL_PROBE_VA48 / PAGE_SIZE;
  const l2 = i32[h + VMH_KROOT + (Math.floor(vpn / 512 ** 3) % 512) - 256]!;
  // walk from a scratch root whose entry points at l2
  const scratch = allocTable(ctx);
  if (scratch === NO_FRAME) throw new Error('bootVm: no scratch frame');
  Atomics.store(ctx.ram.i64, entryPa(scratch, Math.floor(vpn / 512 ** 3) % 512) / 8, BigInt(makeLo(l2, PTE_V)));
  const before = ctx.frames.stats().free;
  const pa = walkCreate(ctx, scratch, vpn, 0);
  if (pa === PT_NOMEM || pa < 0) throw new Error('bootVm: no frame for the kernel page tables');
  used += before - ctx.frames.stats().free;
  Atomics.store(ctx.ram.i64, pa / 8, BigInt(makeLo(page, PTE_V | PTE_R | PTE_W | PTE_G | PTE_A | PTE_D)));
  ctx.frames.free(scratch);
  i32[h + VMH_KPAGE] = page;
  i32[h + VMH_KTABLES] = used;
  Atomics.store(i32, h + VMH_BOOTED, 1);
}

/** Frames the kernel half holds (its tables and page), for leak accounting. */
export function kernelFrames(ctl: Ctl): number {
  return ctl.i32[ctl.layout.vmHeader / 4 + VMH_KTABLES]!;
}

const cache = new WeakMap<KernelContext, Map<number, VirtualAddressSpace>>();

export class VirtualAddressSpace {
  readonly slot: number;
  readonly ctx: KernelContext;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  /** Word index of the descriptor. */
  readonly w: number;
  /** The mmap lock: faults shared, mapping changes exclusive. */
  readonly lock: RwLock;
  private readonly genLock: SpinLock;
  readonly regions: RegionList;

  private constructor(ctx: KernelContext, slot: number) {
    const { i32, f64, layout } = ctx.ctl;
    this.ctx = ctx;
    this.slot = slot;
    this.i32 = i32;
    this.f64 = f64;
    this.w = (layout.asTable + slot * AS_BYTES) / 4;
    this.lock = new RwLock(i32, this.w + AS_LOCK, ctx.whileWaiting);
    this.genLock = new SpinLock(i32, this.w + AS_GEN_LOCK, ctx.whileWaiting);
    const frames = ctx.frames, ram = ctx.ram;
    const mem = { i32: ram.i32, f64: ram.f64, alloc: () => frames.alloc(), free: (ppn: number) => frames.free(ppn) };
    this.regions = new RegionList(i32, this.w + AS_RL, mem, layout.vm.regionsPerSpace);
    this.regions.fileRef = (file, delta) => fileRefDelta(ctx, file, delta);
  }

  /** The (cached) object of slot `slot` for this context. Throws when the slot is not live. */
  static attach(ctx: KernelContext, slot: number): VirtualAddressSpace {
    let m = cache.get(ctx);
    if (!m) cache.set(ctx, (m = new Map()));
    let as = m.get(slot);
    if (!as) m.set(slot, (as = new VirtualAddressSpace(ctx, slot)));
    if (Atomics.load(ctx.ctl.i32, as.w + AS_STATE) !== AS_LIVE) throw new Error(`VirtualAddressSpace.attach: slot ${slot} is not live`);
    return as;
  }

  /**
   * Create an empty address space: a free slot, a root table with the kernel half copied in,
   * no regions. Returns it, or -EAGAIN when every slot is taken (fork's "table full", as
   * Linux's fork at its task limits) or -ENOMEM when no frame is free for the root.
   */
  static create(ctx: KernelContext): VirtualAddressSpace | number {
    const { i32, layout } = ctx.ctl;
    const h = layout.vmHeader / 4;
    if (Atomics.load(i32, h + VMH_BOOTED) !== 1) throw new Error('VirtualAddressSpace.create: bootVm has not run');
    for (let s = 0; s < layout.vm.maxSpaces; s++) {
      const w = (layout.asTable + s * AS_BYTES) / 4;
      if (Atomics.compareExchange(i32, w + AS_STATE, AS_FREE, AS_LIVE) !== AS_FREE) continue;
      const root = allocTable(ctx);
      if (root === NO_FRAME) {
        Atomics.store(i32, w + AS_STATE, AS_FREE);
        return -ENOMEM;
      }
      for (let k = 0; k < 256; k++) {
        Atomics.store(ctx.ram.i64, entryPa(root, 256 + k) / 8, BigInt(makeLo(i32[h + VMH_KROOT + k]!, PTE_V | PTE_G)));
      }
      RwLock.initialize(i32, w + AS_LOCK);
      SpinLock.initialize(i32, w + AS_GEN_LOCK);
      i32.fill(0, w + AS_RL, w + AS_RL + RL_WORDS); // an empty region list (the last owner's clear freed its frames)
      Atomics.store(i32, w + AS_ACTIVE, 0);
      Atomics.store(i32, w + AS_ACTIVE + 1, 0);
      Atomics.store(i32, w + AS_ASID, s + 1);
      Atomics.store(i32, w + AS_GASID, 0); // no global hardware ASID yet (scheduler/asid.ts assignGlobalAsid)
      Atomics.store(i32, w + AS_RSS, 0);
      Atomics.store(i32, w + AS_RSS_HWM, 0);
      ctx.ctl.f64[(w + AS_BRK_START) / 2] = 0;
      ctx.ctl.f64[(w + AS_BRK) / 2] = 0;
      ctx.ctl.f64[(w + AS_MMAP_BASE) / 2] = DEFAULT_MMAP_BASE;
      ctx.ctl.f64[(w + AS_STACK_LIMIT) / 2] = DEFAULT_STACK_LIMIT;
      Atomics.store(i32, w + AS_ROOT, root);
      Atomics.store(i32, w + AS_REFCOUNT, 1);
      const as = VirtualAddressSpace.attach(ctx, s);
      Atomics.store(i32, w + AS_BIRTH_GEN, as.bumpGeneration(0, AS_WHOLE));
      return as;
    }
    return -EAGAIN;
  }

  get rootPpn(): number {
    return Atomics.load(this.i32, this.w + AS_ROOT);
  }
  get asid(): number {
    return Atomics.load(this.i32, this.w + AS_ASID);
  }
  /**
   * The space's global hardware ASID (the same on every hart; the broadcast policy assigns it,
   * scheduler/asid.ts), 0 = none: each hart tags the space with an ASID of its own.
   */
  get globalAsid(): number {
    return Atomics.load(this.i32, this.w + AS_GASID);
  }
  /** Publish the global hardware ASID (scheduler/policy-broadcast.ts, after it was invalidated on every hart). */
  setGlobalAsid(hw: number): void {
    Atomics.store(this.i32, this.w + AS_GASID, hw);
  }
  /** satp value for this space (Sv48, its ASID and root). */
  satp(): bigint {
    return makeSatp(SATP_MODE_SV48, this.asid, this.rootPpn);
  }
  get generation(): number {
    return Atomics.load(this.i32, this.w + AS_GEN);
  }
  /**
   * The generation this life of the slot began at (create's whole bump). A hart whose ASID-table
   * entry for the slot is below it remembers an earlier life: another process's translations.
   */
  get birthGeneration(): number {
    return Atomics.load(this.i32, this.w + AS_BIRTH_GEN);
  }
  /**
   * Account `pages` (4 KiB units, negative when leaves were cleared) to the resident set, and
   * raise the high-water mark to the new size. Called where a user leaf becomes resident or
   * stops being so (fault installs, populate, fork's copy, clearRange); O(1).
   */
  addResident(pages: number): void {
    if (pages === 0) return;
    const now = Atomics.add(this.i32, this.w + AS_RSS, pages) + pages;
    if (pages < 0) return;
    // SAFETY: a CAS max: each retry means another hart raised the mark meanwhile, so it ends.
    for (let hwm = Atomics.load(this.i32, this.w + AS_RSS_HWM); now > hwm;) {
      const seen = Atomics.compareExchange(this.i32, this.w + AS_RSS_HWM, hwm, now);
      if (seen === hwm) break;
      hwm = seen;
    }
  }
  /** Resident user pages now (4 KiB units). */
  get residentPages(): number {
    return Atomics.load(this.i32, this.w + AS_RSS);
  }
  /** The most pages that were resident at once in this space's life (ru_maxrss / 4 KiB). */
  get residentPeak(): number {
    return Atomics.load(this.i32, this.w + AS_RSS_HWM);
  }
  get refcount(): number {
    return Atomics.load(this.i32, this.w + AS_REFCOUNT);
  }
  get live(): boolean {
    return Atomics.load(this.i32, this.w + AS_STATE) === AS_LIVE;
  }

  /**
   * Bump tlb_generation by one and record this bump's range (first vpn and page count, or
   * npages AS_WHOLE = the whole ASID), atomically with respect to `latestBump`. Returns the new generation.
   */
  bumpGeneration(vpnStart: number, npages: number): number {
    this.genLock.lock();
    const g = Atomics.add(this.i32, this.w + AS_GEN, 1) + 1;
    this.f64[(this.w + AS_LAST_VPN) / 2] = vpnStart;
    this.i32[this.w + AS_LAST_NPAGES] = npages;
    Atomics.store(this.i32, this.w + AS_LAST_GEN, g);
    this.genLock.unlock();
    return g;
  }

  /**
   * The generation now and the range of its latest bump — what a switching hart exactly one
   * generation behind flushes (npages AS_WHOLE = flush the ASID).
   */
  latestBump(): { generation: number; vpnStart: number; npages: number } {
    this.genLock.lock();
    const r = {
      generation: Atomics.load(this.i32, this.w + AS_LAST_GEN),
      vpnStart: this.f64[(this.w + AS_LAST_VPN) / 2]!,
      npages: this.i32[this.w + AS_LAST_NPAGES]!,
    };
    this.genLock.unlock();
    return r;
  }

  /** Publish that hart `hartId` may now cache this space's translations. */
  markActive(hartId: number): void {
    Atomics.or(this.i32, this.w + AS_ACTIVE + (hartId >> 5), 1 << (hartId & 31));
  }
  /** Withdraw hart `hartId` from the active mask. */
  clearActive(hartId: number): void {
    Atomics.and(this.i32, this.w + AS_ACTIVE + (hartId >> 5), ~(1 << (hartId & 31)));
  }
  /** Harts in the active mask. */
  activeHarts(): number[] {
    const out: number[] = [];
    for (let k = 0; k < 2; k++) {
      const m = Atomics.load(this.i32, this.w + AS_ACTIVE + k);
      for (let b = 0; b < 32; b++) if (m & (1 << b)) out.push(k * 32 + b);
    }
    return out;
  }

  /** Add a reference (a thread sharing the space). */
  get(): void {
    if (Atomics.add(this.i32, this.w + AS_REFCOUNT, 1) <= 0) throw new Error(`VirtualAddressSpace.get: slot ${this.slot} is dead`);
  }
  /**
   * Take a reference unless the space is dying or not yet created (reference count 0, or the
   * slot not live): true when taken. For code that reaches spaces it does not own — a walk over
   * every slot — and must lock one across harts: with the reference held the slot cannot be
   * freed and re-created (its mmap lock re-initialized) under the locker. The CAS may land on a
   * later life of the slot; that is a live, fully created space too. Drop it with
   * kernel/mm/mmap.ts releaseAddressSpace (which frees the space if this was the last one).
   */
  tryGet(): boolean {
    for (;;) {
      const n = Atomics.load(this.i32, this.w + AS_REFCOUNT);
      if (n <= 0 || Atomics.load(this.i32, this.w + AS_STATE) !== AS_LIVE) return false;
      if (Atomics.compareExchange(this.i32, this.w + AS_REFCOUNT, n, n + 1) === n) return true;
    }
  }
  /** Drop a reference; returns the new count (0: the caller frees the space, kernel/mm/mmap.ts freeAddressSpace). */
  dropRef(): number {
    const n = Atomics.sub(this.i32, this.w + AS_REFCOUNT, 1) - 1;
    if (n < 0) throw new Error(`VirtualAddressSpace.dropRef: slot ${this.slot} has no references`);
    return n;
  }
  /** Mark the slot free (after its frames are gone; kernel/mm/mmap.ts freeAddressSpace). */
  retire(): void {
    Atomics.store(this.i32, this.w + AS_ROOT, 0);
    if (Atomics.compareExchange(this.i32, this.w + AS_STATE, AS_LIVE, AS_FREE) !== AS_LIVE) {
      throw new Error(`VirtualAddressSpace.retire: slot ${this.slot} is not live`);
    }
  }

  // ---- fields guarded by the mmap lock ----
  get brkStart(): number { return this.f64[(this.w + AS_BRK_START) / 2]!; }
  set brkStart(v: number) { this.f64[(this.w + AS_BRK_START) / 2] = v; }
  get brk(): number { return this.f64[(this.w + AS_BRK) / 2]!; }
  set brk(v: number) { this.f64[(this.w + AS_BRK) / 2] = v; }
  get mmapBase(): number { return this.f64[(this.w + AS_MMAP_BASE) / 2]!; }
  set mmapBase(v: number) { this.f64[(this.w + AS_MMAP_BASE) / 2] = v; }
  /** RLIMIT_STACK (bytes, Infinity = unlimited) the stack-growth path checks (exec, fork, prlimit64 set it). */
  get stackLimit(): number { return this.f64[(this.w + AS_STACK_LIMIT) / 2]!; }
  set stackLimit(v: number) { this.f64[(this.w + AS_STACK_LIMIT) / 2] = v; }

  /** The root entry `i` (tests: kernel half shared). */
  rootEntry(i: number): number {
    return readPte(this.ctx, entryPa(this.rootPpn, i));
  }
}
