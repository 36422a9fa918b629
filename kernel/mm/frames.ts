/**
 * Physical frame allocator and per-frame reference counts, usable from every hart at once.
 *
 * Two levels, all state in ctl (kernel/layout.ts):
 * - The shared pool, guarded by one SpinLock (A_LOCK). RAM is B blocks of 512 frames
 *   (2 MiB, naturally aligned). A block is WHOLE (all free; on the whole-free list), PARTIAL
 *   (split for single frames, some free; on the partial list), FULL (split, none free) or
 *   HUGE (handed out as one 2 MiB block). A split block hands out frames from its own free
 *   list, then from a bump index over never-used frames, so splitting is O(1). When the
 *   512th frame of a split block comes back, the block is WHOLE again (merge, O(1)): this is
 *   a two-order buddy allocator. Single frames come from the partial list first, so splits
 *   stay rare and 2 MiB blocks survive.
 * - Per-hart caches (HART_CACHE_CAPACITY frames each): alloc/free touch only the hart's own
 *   cache, in O(1) without a lock; an empty cache refills CACHE_BATCH frames from the pool,
 *   a full one drains CACHE_BATCH back. Frames in caches are free but do not count toward
 *   their block's merge (flushCache returns them). hartId -1 (the host, tests) has no cache.
 *
 * Frame 0 .. RESERVED_FRAMES-1 are reserved at boot and never handed out, so ppn 0 can mean
 * "none". Frames handed out are NOT zeroed: callers zero them (PhysicalMemory.zeroFrame).
 *
 * Generations (frameGen, for the stale-translation sanitizer): each free of a frame — and of
 * each frame of a 2 MiB block — adds one to its generation, before the frame can be handed out
 * again. A TLB entry that remembers the generation its frame had when the entry was filled can
 * tell "my frame was freed (and maybe reused) since" from "same frame, same life" (frameGeneration).
 *
 * Clean epochs (frameClean, for the sanitizer's dirty-after-clean check): two counters per frame,
 * cleans BEGUN and cleans DONE. A clean is a change that clears the D bit of a PTE of the frame
 * and keeps it valid (msync: kernel/mm/pagetable.ts cleanRange). It begins (frameCleanBegin)
 * before the D clear and is done (frameCleanEnd) once the change is invalidated on every hart
 * (kernel/mm/shootdown.ts releaseFrames). A TLB entry that cached the frame writable+dirty and
 * remembers `begun` as it was just after its walk can tell "a clean began after my walk" (begun
 * moved), and "every clean begun is complete" (done caught up): then, on a correct kernel, the
 * entry was flushed — a store through it skips the clean PTE's D bit (kernel/lab/sanitizer.ts).
 *
 * Reference counts: alloc sets a frame's count to 1; incRef/decRef are atomic and return the
 * new count. Copy-on-write sharers incRef; `put` is decRef that frees at 0 — the last sharer
 * frees the frame. `free` requires count <= 1. Double frees fail loudly (the state CAS fails):
 * "frames.free: frame N is not allocated".
 */
import { FRAMES_PER_MEGAPAGE } from '../../cpu/ram.ts';
import { SpinLock, type WhileWaiting } from '../sync/lock.ts';
import {
  A_HUGE_FAILS, A_HUGE_IN_USE, A_LOCK, A_MERGES, A_PARTIAL_HEAD, A_POOL_FREE, A_SPLITS, A_WHOLE_COUNT,
  A_WHOLE_HEAD, BLOCK_FULL, BLOCK_HUGE, BLOCK_PARTIAL, BLOCK_WHOLE, BLOCK_WORDS, B_BUMP, B_FREE, B_FREE_HEAD,
  B_NEXT, B_PREV, B_STATE, FRAME_ALLOCATED, FRAME_CACHED, FRAME_FREE, FRAME_HUGE, FRAME_RESERVED,
  FC_BEGUN, FC_DONE, FRAME_CLEAN_BYTES, HART_CACHE_BYTES, HART_CACHE_CAPACITY, HC_COUNT, HC_ENTRIES, RESERVED_FRAMES,
  type Ctl,
} from '../layout.ts';

/** Frames moved between a hart cache and the pool per refill or drain. */
export const CACHE_BATCH = HART_CACHE_CAPACITY / 2;
/** Frames a reclaim pass is asked for when an allocation finds none free. */
export const RECLAIM_BATCH = 64;
/** Sentinel of the allocator's lists and of failed allocations. */
export const NO_FRAME = -1;

/**
 * The generation of frame `ppn`: how many times it was freed so far (see the file comment).
 * -1 for a ppn outside the frame table. One Atomics.load; usable from any hart.
 */
export function frameGeneration(ctl: Ctl, ppn: number): number {
  if (!(ppn >= 0 && ppn < ctl.layout.frames)) return -1;
  return Atomics.load(ctl.i32, ctl.layout.frameGen / 4 + ppn);
}

/**
 * A clean of a PTE that maps frame `ppn` begins: call it BEFORE the D bit is cleared (the
 * sanitizer reads `begun` after a walk; an entry whose walk read the PTE before the clear then
 * reads the old count — or, in the few instructions between this call and the clear, the new
 * one: a missed report, never a false one). Pair every call with frameCleanEnd once the change
 * is invalidated everywhere (Stale.addCleaned does). Ignores a ppn outside the frame table.
 */
export function frameCleanBegin(ctl: Ctl, ppn: number): void {
  if (ppn >= 0 && ppn < ctl.layout.frames) Atomics.add(ctl.i32, ctl.layout.frameClean / 4 + ppn * 2 + FC_BEGUN, 1);
}

/** A clean of frame `ppn` (frameCleanBegin) is complete: its change was invalidated on every hart. */
export function frameCleanEnd(ctl: Ctl, ppn: number): void {
  if (ppn >= 0 && ppn < ctl.layout.frames) Atomics.add(ctl.i32, ctl.layout.frameClean / 4 + ppn * 2 + FC_DONE, 1);
}

/** Cleans of frame `ppn` begun so far (-1 outside the frame table). One Atomics.load. */
export function frameCleansBegun(ctl: Ctl, ppn: number): number {
  if (!(ppn >= 0 && ppn < ctl.layout.frames)) return -1;
  return Atomics.load(ctl.i32, ctl.layout.frameClean / 4 + ppn * 2 + FC_BEGUN);
}

/**
 * Cleans of frame `ppn` completed so far (-1 outside the frame table). Read it AFTER
 * frameCleansBegun: done >= begun then means every clean begun by that read is complete.
 */
export function frameCleansDone(ctl: Ctl, ppn: number): number {
  if (!(ppn >= 0 && ppn < ctl.layout.frames)) return -1;
  return Atomics.load(ctl.i32, ctl.layout.frameClean / 4 + ppn * 2 + FC_DONE);
}

/**
 * The sanitizer's TLB-entry tag for frame `ppn` (one call per TLB fill): the low 16 bits of its
 * generation (frameGeneration) and, in the high 16 bits, the low 16 bits of its cleans begun
 * (frameCleansBegun). -1 for a ppn outside the frame table (both halves all ones, as the
 * two functions' -1). Two Atomics.load.
 */
export function frameTag(ctl: Ctl, ppn: number): number {
  const l = ctl.layout;
  if (!(ppn >= 0 && ppn < l.frames)) return -1;
  return (Atomics.load(ctl.i32, (l.frameGen >> 2) + ppn) & 0xffff) | (Atomics.load(ctl.i32, (l.frameClean >> 2) + ppn * 2 + FC_BEGUN) << 16);
}

/** Snapshot of the allocator counters (racy while harts run; exact when they are quiet). */
export interface FrameStats {
  total: number;
  reserved: number;
  /** Free frames: pool + every hart cache. */
  free: number;
  /** total - free (includes reserved frames). */
  inUse: number;
  poolFree: number;
  /** Frames in each hart's cache. */
  cached: number[];
  wholeBlocks: number;
  hugeInUse: number;
  hugeFails: number;
  splits: number;
  merges: number;
}

export class FrameAllocator {
  readonly hartId: number;
  readonly frames: number;
  private readonly i32: Int32Array;
  private readonly lock: SpinLock;
  private readonly ref: number; // word index of frame refcounts
  private readonly next: number;
  private readonly state: number;
  private readonly gen: number; // word index of frame generations
  private readonly blk: number;
  private readonly a: number;
  private readonly cache: number; // word index of this hart's cache block, -1 for the host
  private readonly cpus: number;
  private readonly cachesBase: number;

  /**
   * Initialise the frame table, block table and allocator state of `ctl` (run once, before
   * any hart attaches): every frame free except the reserved ones.
   */
  static initialize(ctl: Ctl): void {
    const { layout: l, i32 } = ctl;
    const ref = l.frameRefcount / 4, next = l.frameNext / 4, st = l.frameState / 4;
    const blk = l.blockTable / 4, a = l.allocator / 4;
    i32.fill(0, ref, ref + l.frames);
    i32.fill(NO_FRAME, next, next + l.frames);
    i32.fill(FRAME_FREE, st, st + l.frames);
    i32.fill(0, l.frameGen / 4, l.frameGen / 4 + l.frames);
    i32.fill(0, l.frameClean / 4, (l.frameClean + l.frames * FRAME_CLEAN_BYTES) / 4);
    i32.fill(0, l.hartCaches / 4, (l.hartCaches + l.cpus * HART_CACHE_BYTES) / 4);
    i32.fill(0, a, a + 32);
    SpinLock.initialize(i32, a + A_LOCK);
    for (let p = 0; p < RESERVED_FRAMES; p++) {
      i32[st + p] = FRAME_RESERVED;
      i32[ref + p] = 1;
    }
    // Block 0 starts split (it holds the reserved frames); the rest are whole, list ascending.
    const b0 = blk;
    i32[b0 + B_STATE] = BLOCK_PARTIAL;
    i32[b0 + B_FREE] = FRAMES_PER_MEGAPAGE - RESERVED_FRAMES;
    i32[b0 + B_BUMP] = RESERVED_FRAMES;
    i32[b0 + B_FREE_HEAD] = NO_FRAME;
    i32[b0 + B_PREV] = NO_FRAME;
    i32[b0 + B_NEXT] = NO_FRAME;
    i32[a + A_PARTIAL_HEAD] = 0;
    for (let b = 1; b < l.blocks; b++) {
      const w = blk + b * BLOCK_WORDS;
      i32[w + B_STATE] = BLOCK_WHOLE;
      i32[w + B_FREE] = FRAMES_PER_MEGAPAGE;
      i32[w + B_BUMP] = 0;
      i32[w + B_FREE_HEAD] = NO_FRAME;
      i32[w + B_PREV] = b === 1 ? NO_FRAME : b - 1;
      i32[w + B_NEXT] = b + 1 < l.blocks ? b + 1 : NO_FRAME;
    }
    i32[a + A_WHOLE_HEAD] = l.blocks > 1 ? 1 : NO_FRAME;
    i32[a + A_WHOLE_COUNT] = l.blocks - 1;
    i32[a + A_POOL_FREE] = l.frames - RESERVED_FRAMES;
  }

  /**
   * Attach to the allocator in `ctl` as hart `hartId` (its cache is used only through this
   * object; -1 = no cache). `whileWaiting` runs while blocked on the pool lock (a hart
   * passes its mailbox service).
   */
  constructor(ctl: Ctl, hartId: number, whileWaiting?: WhileWaiting) {
    const l = ctl.layout;
    if (!(Number.isInteger(hartId) && hartId >= -1 && hartId < l.cpus)) {
      throw new RangeError(`FrameAllocator: hartId ${hartId} is not -1 or a hart below ${l.cpus}`);
    }
    this.hartId = hartId;
    this.frames = l.frames;
    this.i32 = ctl.i32;
    this.ref = l.frameRefcount / 4;
    this.next = l.frameNext / 4;
    this.state = l.frameState / 4;
    this.gen = l.frameGen / 4;
    this.blk = l.blockTable / 4;
    this.a = l.allocator / 4;
    this.cpus = l.cpus;
    this.cachesBase = l.hartCaches / 4;
    this.cache = hartId >= 0 ? this.cachesBase + hartId * (HART_CACHE_BYTES / 4) : -1;
    this.lock = new SpinLock(ctl.i32, this.a + A_LOCK, whileWaiting);
  }

  // ---- single frames ----

  /**
   * Called when no frame is free, to free up to `want` frames (kernel/context.ts installs the
   * page cache's evictPages); returns how many it freed. Runs on this allocator's hart with no
   * allocator lock held; never re-entered (an allocation inside it just fails).
   */
  reclaim: ((want: number) => number) | null = null;
  private reclaiming = false;

  /**
   * Allocate one frame (not zeroed; refcount 1). Returns its ppn, or NO_FRAME when none is
   * free even after `reclaim` (true exhaustion).
   */
  alloc(): number {
    const ppn = this.allocFree();
    if (ppn !== NO_FRAME || this.reclaim === null || this.reclaiming) return ppn;
    this.reclaiming = true;
    try {
      if (this.reclaim(RECLAIM_BATCH) === 0) return NO_FRAME;
    } finally {
      this.reclaiming = false;
    }
    return this.allocFree();
  }

  /** alloc without reclaim: a free frame or NO_FRAME. */
  private allocFree(): number {
    const i32 = this.i32;
    if (this.cache < 0) {
      this.lock.lock();
      const ppn = this.poolTake();
      this.lock.unlock();
      if (ppn !== NO_FRAME) this.handOut(ppn, FRAME_FREE);
      return ppn;
    }
    const c = this.cache;
    if (i32[c + HC_COUNT] === 0 && !this.refill()) return NO_FRAME;
    const n = i32[c + HC_COUNT]! - 1;
    const ppn = i32[c + HC_ENTRIES + n]!;
    i32[c + HC_COUNT] = n;
    this.handOut(ppn, FRAME_CACHED);
    return ppn;
  }

  private handOut(ppn: number, from: number): void {
    if (Atomics.compareExchange(this.i32, this.state + ppn, from, FRAME_ALLOCATED) !== from) {
      throw new Error(`frames.alloc: frame ${ppn} was not free (corrupt free list)`);
    }
    Atomics.store(this.i32, this.ref + ppn, 1);
  }

  /** Free one allocated frame (refcount must be <= 1). Throws on a double free. */
  free(ppn: number): void {
    this.checkPpn(ppn, 'free');
    const rc = Atomics.load(this.i32, this.ref + ppn);
    if (rc > 1) throw new Error(`frames.free: frame ${ppn} still has refcount ${rc}`);
    this.release(ppn);
  }

  private release(ppn: number): void {
    const i32 = this.i32;
    const to = this.cache < 0 ? FRAME_FREE : FRAME_CACHED;
    if (Atomics.compareExchange(i32, this.state + ppn, FRAME_ALLOCATED, to) !== FRAME_ALLOCATED) {
      throw new Error(`frames.free: frame ${ppn} is not allocated`);
    }
    Atomics.store(i32, this.ref + ppn, 0);
    Atomics.add(i32, this.gen + ppn, 1); // a new life begins: before the frame can be handed out again
    if (this.cache < 0) {
      this.lock.lock();
      this.poolPut(ppn);
      this.lock.unlock();
      return;
    }
    const c = this.cache;
    if (i32[c + HC_COUNT] === HART_CACHE_CAPACITY) this.drain(CACHE_BATCH);
    const n = i32[c + HC_COUNT]!;
    i32[c + HC_ENTRIES + n] = ppn;
    i32[c + HC_COUNT] = n + 1;
  }

  /** Return every frame of this hart's cache to the pool (lets split blocks merge). */
  flushCache(): void {
    if (this.cache >= 0) this.drain(this.i32[this.cache + HC_COUNT]!);
  }

  private refill(): boolean {
    const i32 = this.i32;
    const c = this.cache;
    let n = 0;
    this.lock.lock();
    for (; n < CACHE_BATCH; n++) {
      const ppn = this.poolTake();
      if (ppn === NO_FRAME) break;
      i32[this.state + ppn] = FRAME_CACHED; // under the pool lock; the frame is ours from here
      i32[c + HC_ENTRIES + n] = ppn;
    }
    this.lock.unlock();
    i32[c + HC_COUNT] = n;
    return n > 0;
  }

  private drain(count: number): void {
    const i32 = this.i32;
    const c = this.cache;
    let n = i32[c + HC_COUNT]!;
    this.lock.lock();
    for (let k = 0; k < count && n > 0; k++) {
      const ppn = i32[c + HC_ENTRIES + --n]!;
      i32[this.state + ppn] = FRAME_FREE;
      this.poolPut(ppn);
    }
    this.lock.unlock();
    i32[c + HC_COUNT] = n;
  }

  // ---- the pool (caller holds the lock) ----

  private bw(b: number): number {
    return this.blk + b * BLOCK_WORDS;
  }

  private listPush(head: number, b: number): void {
    const i32 = this.i32;
    const h = i32[this.a + head]!;
    i32[this.bw(b) + B_PREV] = NO_FRAME;
    i32[this.bw(b) + B_NEXT] = h;
    if (h !== NO_FRAME) i32[this.bw(h) + B_PREV] = b;
    i32[this.a + head] = b;
  }

  private listRemove(head: number, b: number): void {
    const i32 = this.i32;
    const p = i32[this.bw(b) + B_PREV]!, n = i32[this.bw(b) + B_NEXT]!;
    if (p === NO_FRAME) i32[this.a + head] = n;
    else i32[this.bw(p) + B_NEXT] = n;
    if (n !== NO_FRAME) i32[this.bw(n) + B_PREV] = p;
  }

  private poolTake(): number {
    const i32 = this.i32, a = this.a;
    let b = i32[a + A_PARTIAL_HEAD]!;
    if (b === NO_FRAME) {
      b = i32[a + A_WHOLE_HEAD]!;
      if (b === NO_FRAME) return NO_FRAME;
      this.listRemove(A_WHOLE_HEAD, b);
      i32[a + A_WHOLE_COUNT]!--;
      i32[a + A_SPLITS]!++;
      const w = this.bw(b);
      i32[w + B_STATE] = BLOCK_PARTIAL;
      i32[w + B_BUMP] = 0;
      i32[w + B_FREE_HEAD] = NO_FRAME;
      this.listPush(A_PARTIAL_HEAD, b);
    }
    const w = this.bw(b);
    let ppn = i32[w + B_FREE_HEAD]!;
    if (ppn !== NO_FRAME) {
      i32[w + B_FREE_HEAD] = i32[this.next + ppn]!;
    } else {
      ppn = b * FRAMES_PER_MEGAPAGE + i32[w + B_BUMP]!;
      i32[w + B_BUMP]!++;
    }
    i32[a + A_POOL_FREE]!--;
    if (--i32[w + B_FREE]! === 0) {
      this.listRemove(A_PARTIAL_HEAD, b);
      i32[w + B_STATE] = BLOCK_FULL;
    }
    return ppn;
  }

  private poolPut(ppn: number): void {
    const i32 = this.i32, a = this.a;
    const b = Math.floor(ppn / FRAMES_PER_MEGAPAGE);
    const w = this.bw(b);
    i32[this.next + ppn] = i32[w + B_FREE_HEAD]!;
    i32[w + B_FREE_HEAD] = ppn;
    i32[a + A_POOL_FREE]!++;
    const free = ++i32[w + B_FREE]!;
    if (i32[w + B_STATE] === BLOCK_FULL) {
      i32[w + B_STATE] = BLOCK_PARTIAL;
      this.listPush(A_PARTIAL_HEAD, b);
    }
    if (free === FRAMES_PER_MEGAPAGE) {
      this.listRemove(A_PARTIAL_HEAD, b);
      i32[w + B_STATE] = BLOCK_WHOLE;
      this.listPush(A_WHOLE_HEAD, b);
      i32[a + A_WHOLE_COUNT]!++;
      i32[a + A_MERGES]!++;
    }
  }

  // ---- 2 MiB blocks ----

  /**
   * Allocate 512 contiguous, 2 MiB-aligned frames (not zeroed). Returns the first ppn, or
   * NO_FRAME when no whole block is free (fragmentation): the caller falls back to single frames.
   * The first frame's refcount is 1; the block is freed with freeHuge or split with splitHuge.
   */
  allocHuge(): number {
    const i32 = this.i32, a = this.a;
    this.lock.lock();
    const b = i32[a + A_WHOLE_HEAD]!;
    if (b === NO_FRAME) {
      i32[a + A_HUGE_FAILS]!++;
      this.lock.unlock();
      return NO_FRAME;
    }
    this.listRemove(A_WHOLE_HEAD, b);
    i32[a + A_WHOLE_COUNT]!--;
    i32[this.bw(b) + B_STATE] = BLOCK_HUGE;
    i32[this.bw(b) + B_FREE] = 0;
    i32[a + A_HUGE_IN_USE]!++;
    i32[a + A_POOL_FREE]! -= FRAMES_PER_MEGAPAGE;
    const first = b * FRAMES_PER_MEGAPAGE;
    i32.fill(FRAME_HUGE, this.state + first, this.state + first + FRAMES_PER_MEGAPAGE);
    this.lock.unlock();
    Atomics.store(i32, this.ref + first, 1);
    return first;
  }

  private takeHuge(ppn: number, fn: string): number {
    this.checkPpn(ppn, fn);
    const b = ppn / FRAMES_PER_MEGAPAGE;
    if (!Number.isInteger(b) || this.i32[this.bw(b) + B_STATE] !== BLOCK_HUGE) {
      throw new Error(`frames.${fn}: frame ${ppn} is not the first frame of an allocated 2 MiB block`);
    }
    return b;
  }

  /** Free a 2 MiB block from allocHuge (whole again at once). */
  freeHuge(ppn: number): void {
    const i32 = this.i32, a = this.a;
    this.lock.lock();
    try {
      const b = this.takeHuge(ppn, 'freeHuge');
      const w = this.bw(b);
      i32.fill(FRAME_FREE, this.state + ppn, this.state + ppn + FRAMES_PER_MEGAPAGE);
      i32.fill(0, this.ref + ppn, this.ref + ppn + FRAMES_PER_MEGAPAGE);
      for (let k = 0; k < FRAMES_PER_MEGAPAGE; k++) Atomics.add(i32, this.gen + ppn + k, 1);
      i32[w + B_STATE] = BLOCK_WHOLE;
      i32[w + B_FREE] = FRAMES_PER_MEGAPAGE;
      this.listPush(A_WHOLE_HEAD, b);
      i32[a + A_WHOLE_COUNT]!++;
      i32[a + A_HUGE_IN_USE]!--;
      i32[a + A_POOL_FREE]! += FRAMES_PER_MEGAPAGE;
    } finally {
      this.lock.unlock();
    }
  }

  /**
   * Turn an allocated 2 MiB block into 512 separately allocated frames (refcount 1 each),
   * e.g. when a huge mapping is partly unmapped. Each is then freed on its own; when the
   * last comes back the block merges and is whole again.
   */
  splitHuge(ppn: number): void {
    const i32 = this.i32;
    this.lock.lock();
    try {
      const b = this.takeHuge(ppn, 'splitHuge');
      const w = this.bw(b);
      i32[w + B_STATE] = BLOCK_FULL;
      i32[w + B_FREE] = 0;
      i32[w + B_BUMP] = FRAMES_PER_MEGAPAGE;
      i32[w + B_FREE_HEAD] = NO_FRAME;
      i32[this.a + A_HUGE_IN_USE]!--;
      i32.fill(FRAME_ALLOCATED, this.state + ppn, this.state + ppn + FRAMES_PER_MEGAPAGE);
      for (let k = 0; k < FRAMES_PER_MEGAPAGE; k++) Atomics.store(i32, this.ref + ppn + k, 1);
    } finally {
      this.lock.unlock();
    }
  }

  // ---- reference counts ----

  /** Atomically add one reference to allocated frame `ppn`; returns the new count. */
  incRef(ppn: number): number {
    this.checkPpn(ppn, 'incRef');
    const old = Atomics.add(this.i32, this.ref + ppn, 1);
    if (old <= 0) {
      Atomics.sub(this.i32, this.ref + ppn, 1);
      throw new Error(`frames.incRef: frame ${ppn} is not allocated (refcount ${old})`);
    }
    return old + 1;
  }

  /** Atomically drop one reference; returns the new count (0 = the caller must free it). */
  decRef(ppn: number): number {
    this.checkPpn(ppn, 'decRef');
    const now = Atomics.sub(this.i32, this.ref + ppn, 1) - 1;
    if (now < 0) {
      Atomics.add(this.i32, this.ref + ppn, 1);
      throw new Error(`frames.decRef: frame ${ppn} has no references`);
    }
    return now;
  }

  /** Drop one reference and free the frame if it was the last. Returns true when freed. */
  put(ppn: number): boolean {
    if (this.decRef(ppn) !== 0) return false;
    this.release(ppn);
    return true;
  }

  /**
   * Whether `ppn` is an allocated frame (not reserved, free, or in a hart's cache): what a PTE
   * or a page-table pointer must name before the kernel drops a reference to it.
   */
  isAllocated(ppn: number): boolean {
    return ppn >= RESERVED_FRAMES && ppn < this.frames && Atomics.load(this.i32, this.state + ppn) === FRAME_ALLOCATED;
  }

  /** Whether `ppn` is the first frame of an allocated 2 MiB block (what a 2 MiB leaf must name). */
  isHugeHead(ppn: number): boolean {
    if (!(Number.isInteger(ppn) && ppn >= 0 && ppn < this.frames) || ppn % FRAMES_PER_MEGAPAGE !== 0) return false;
    return Atomics.load(this.i32, this.bw(ppn / FRAMES_PER_MEGAPAGE) + B_STATE) === BLOCK_HUGE;
  }

  /** Current reference count of `ppn` (racy snapshot). */
  refcount(ppn: number): number {
    this.checkPpn(ppn, 'refcount');
    return Atomics.load(this.i32, this.ref + ppn);
  }

  /** FRAME_* state of `ppn` (racy snapshot). */
  frameState(ppn: number): number {
    this.checkPpn(ppn, 'frameState');
    return Atomics.load(this.i32, this.state + ppn);
  }

  private checkPpn(ppn: number, fn: string): void {
    if (!(Number.isInteger(ppn) && ppn >= 0 && ppn < this.frames)) {
      throw new RangeError(`frames.${fn}: frame ${ppn} is outside RAM (0..${this.frames - 1})`);
    }
  }

  // ---- counters ----

  /** Counter snapshot: exact when no hart is allocating. */
  stats(): FrameStats {
    const i32 = this.i32, a = this.a;
    const cached: number[] = [];
    for (let h = 0; h < this.cpus; h++) cached.push(Atomics.load(i32, this.cachesBase + h * (HART_CACHE_BYTES / 4) + HC_COUNT));
    const poolFree = Atomics.load(i32, a + A_POOL_FREE);
    const free = poolFree + cached.reduce((s, n) => s + n, 0);
    return {
      total: this.frames,
      reserved: RESERVED_FRAMES,
      free,
      inUse: this.frames - free,
      poolFree,
      cached,
      wholeBlocks: Atomics.load(i32, a + A_WHOLE_COUNT),
      hugeInUse: Atomics.load(i32, a + A_HUGE_IN_USE),
      hugeFails: Atomics.load(i32, a + A_HUGE_FAILS),
      splits: Atomics.load(i32, a + A_SPLITS),
      merges: Atomics.load(i32, a + A_MERGES),
    };
  }
}
