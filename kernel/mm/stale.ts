/**
 * Stale: what a page-table change left behind in TLBs — KeOS's StaleTLBEntry, done so it
 * cannot be skipped.
 *
 * Every function that edits a PTE returns a Stale (or adds to the one it is given): the
 * address space, the vpn range touched (or the whole ASID), the tlb_generation bumped for
 * it, the frames whose references the removed PTEs held, 2 MiB blocks likewise, page-table
 * frames that were unlinked, the dirty shared-file pages to write back (their PTEs' D bits,
 * collected atomically when the PTEs were cleared or cleaned) and the file references of
 * removed regions. Those frames are still reachable through TLBs (and, for tables, through
 * walks in flight) until the change is invalidated everywhere — and another hart may still
 * STORE through a cached writable+dirty entry, so a dirty page's contents are final only
 * then (Linux's tlb_delay_rmap / msync's clean → flush → write). So:
 *  - the lists are private (#fields); the only code that can take them is the holder of the
 *    drain right, claimed once at load time by kernel/mm/shootdown.ts — completeShootdown
 *    invalidates, then releases them in this order: write back the dirty file pages, drop
 *    the file references, drop the frame references, free the tables (releaseFrames);
 *  - every Stale counts in its context's `staleOutstanding` from creation until
 *    completeShootdown; the fault and syscall exit paths assert it is zero;
 *  - with COHERENT_STALE_TRACK=1 in the environment, a Stale garbage-collected unflushed is
 *    reported (console.error + `leakedStaleCount`); off by default because a
 *    FinalizationRegistry entry costs more than the rest of a fault.
 *
 * What KIND of change a record is, is the operation's to say, never the policy's to guess from
 * the PTEs: by default a change may alter what a still-mapped address means (mprotect,
 * madvise(DONTNEED), a move, a truncation, COW, write-protect) and must be complete on every
 * hart before the operation returns; only an operation that removes a range which goes away
 * calls declareRemoval(), which lets a lazy policy (`deferred`) finish the invalidation later.
 *
 * Life: OPEN (PTE edits add to it) → seal() (bumps tlb_generation once when anything changed;
 * idempotent) → DONE (completeShootdown). Empty records (nothing changed) are legal and cheap;
 * an empty record may still carry file references (a region removed with nothing resident).
 */
import type { KernelContext } from '../context.ts';
import type { VirtualAddressSpace } from './aspace.ts';

const OPEN = 0;
const SEALED = 1;
const DONE = 2;

/** Above this many pages a range flush becomes a whole-ASID flush (DESIGN.md section 6). */
export const FLUSH_CEILING_PAGES = 33;

let leaked = 0;
const track = typeof process !== 'undefined' && process.env.COHERENT_STALE_TRACK === '1';
const registry = new FinalizationRegistry<string>((what) => {
  leaked++;
  console.error(`stale: a Stale record was dropped without completeShootdown (${what})`);
});
/** Stale records garbage-collected without completeShootdown in this thread. */
export function leakedStaleCount(): number {
  return leaked;
}

/** What completeShootdown releases (kernel/mm/shootdown.ts releaseFrames, in this order). */
export interface StaleRelease {
  /** Dirty shared-file pages to write back, as pairs: file id, page index, file id, page index, ... */
  writeback: number[];
  /** File references (page-cache files of removed regions) to drop after the write-back. */
  fileRefs: number[];
  /** Frames whose clean (frames.ts frameCleanBegin) this change began: ended first (frameCleanEnd). */
  cleaned: number[];
  frames: number[];
  hugeFrames: number[];
  tables: number[];
}

let drainRight: symbol | null = null;
/**
 * Claim the right to drain Stale records. kernel/mm/shootdown.ts calls it once at load; any
 * later call throws — there is exactly one place that releases stale frames.
 */
export function claimDrainRight(): symbol {
  if (drainRight !== null) throw new Error('stale: the drain right is already claimed (by kernel/mm/shootdown.ts)');
  drainRight = Symbol('stale drain right');
  return drainRight;
}

export class Stale {
  readonly ctx: KernelContext;
  readonly as: VirtualAddressSpace;
  #state = OPEN;
  #vpnStart = Infinity;
  #vpnEnd = -Infinity;
  #whole = false;
  #sync = false;
  #generation = 0;
  #frames: number[] = [];
  #huge: number[] = [];
  #tables: number[] = [];
  #removal = false;
  #writeback: number[] = [];
  #fileRefs: number[] = [];
  #cleaned: number[] = [];
  #writesBack = false;
  private readonly token = {};

  /** A new, empty, open record for `as`, counted in ctx.staleOutstanding. */
  constructor(ctx: KernelContext, as: VirtualAddressSpace) {
    this.ctx = ctx;
    this.as = as;
    ctx.staleOutstanding++;
    if (track) registry.register(this, `address space ${as.slot}`, this.token);
  }

  private checkOpen(fn: string): void {
    if (this.#state !== OPEN) throw new Error(`Stale.${fn}: record is ${this.#state === SEALED ? 'sealed' : 'completed'}`);
  }

  /** Record that translations of pages [vpnStart, vpnEnd) changed. */
  addRange(vpnStart: number, vpnEnd: number): void {
    this.checkOpen('addRange');
    if (vpnStart < this.#vpnStart) this.#vpnStart = vpnStart;
    if (vpnEnd > this.#vpnEnd) this.#vpnEnd = vpnEnd;
  }
  /** Record that every translation of the address space may have changed. */
  addWhole(): void {
    this.checkOpen('addWhole');
    this.#whole = true;
  }
  /**
   * The caller sets a new translation in the range as soon as completeShootdown returns (a
   * re-point: clear → flush → set, kernel/mm/pte-change.ts), so the invalidation must be
   * complete on every hart by then: a policy may not defer it (`deferred` goes synchronous).
   */
  requireSync(): void {
    this.checkOpen('requireSync');
    this.#sync = true;
  }
  /** A reference on frame `ppn` to drop after invalidation (frames.put). */
  addFrame(ppn: number): void {
    this.checkOpen('addFrame');
    this.#frames.push(ppn);
  }
  /** A 2 MiB block (first ppn) whose reference to drop after invalidation. */
  addHugeFrame(ppn: number): void {
    this.checkOpen('addHugeFrame');
    this.#huge.push(ppn);
  }
  /** A page-table frame unlinked from the tree, to free after invalidation. */
  addTable(ppn: number): void {
    this.checkOpen('addTable');
    this.#tables.push(ppn);
  }
  /**
   * The operation declares this change a pure REMOVAL of a range that goes away: every
   * translation in the range is removed together with the range's region records (so the range
   * can be mapped again only through kernel/mm/mmap.ts guardReuse, which completes a pending
   * invalidation first), and every frame it drops belonged to private memory (no other mapping
   * sees a store made through a stale entry; a shared or device mapping's removal is not one).
   * Only such a change may be invalidated lazily (ShootdownPolicy `deferred`); without this
   * call — the default — the change must be complete on every hart when the operation returns.
   * Call once every edit is in the record (absorbing a non-removal afterwards cancels it).
   */
  declareRemoval(): void {
    this.checkOpen('declareRemoval');
    this.#removal = true;
  }
  /** True when the operation declared the change a pure removal (declareRemoval). */
  get removal(): boolean {
    return this.#removal;
  }
  /**
   * Page `page` of page-cache file `file` was dirty in a PTE this change cleared or cleaned (D
   * read by the same atomic exchange / CAS): write it back once the change is invalidated
   * everywhere — not before, a hart with a cached dirty entry may still be storing to it.
   * The caller queues a reference on `file` in this same record (addFileRef), so the file
   * outlives the write-back whichever record completes first (kernel/mm/mmap.ts queueWriteback).
   */
  addWriteback(file: number, page: number): void {
    this.checkOpen('addWriteback');
    this.#writeback.push(file, page);
    this.#writesBack = true;
  }
  /**
   * The caller began a clean of frame `ppn` (kernel/mm/frames.ts frameCleanBegin, before clearing
   * a D bit of a PTE that stays valid): completeShootdown ends it (frameCleanEnd) once the change
   * is invalidated everywhere, before the write-back. Every begun clean must be added here.
   */
  addCleaned(ppn: number): void {
    this.checkOpen('addCleaned');
    this.#cleaned.push(ppn);
  }
  /** A region's reference on page-cache file `file`, to drop after the write-back (the file may go with it). */
  addFileRef(file: number): void {
    this.checkOpen('addFileRef');
    this.#fileRefs.push(file);
  }
  /** Move everything of `other` (same address space, still open or sealed) into this one; `other` is done. */
  absorb(other: Stale): this {
    this.checkOpen('absorb');
    if (other === this) return this;
    if (other.as !== this.as) throw new Error('Stale.absorb: records of different address spaces');
    if (other.#state === DONE) throw new Error('Stale.absorb: record already completed');
    if (other.#sync) this.#sync = true;
    if (!other.empty) {
      if (!other.#removal) this.#removal = false; // a record is a removal only if all of it is
      if (other.#whole) this.#whole = true;
      else this.addRange(other.#vpnStart, other.#vpnEnd);
    }
    this.#frames.push(...other.#frames);
    this.#huge.push(...other.#huge);
    this.#tables.push(...other.#tables);
    this.#writeback.push(...other.#writeback);
    this.#fileRefs.push(...other.#fileRefs);
    this.#cleaned.push(...other.#cleaned);
    if (other.#writesBack) this.#writesBack = true;
    if (other.#generation > this.#generation) this.#generation = other.#generation;
    other.finish();
    return this;
  }

  /** True when no translation changed (no flush needed). */
  get empty(): boolean {
    return !this.#whole && this.#vpnEnd <= this.#vpnStart;
  }
  /** True when the invalidation must be complete when completeShootdown returns (requireSync). */
  get synchronous(): boolean {
    return this.#sync;
  }
  /** True when the whole ASID must be flushed. */
  get whole(): boolean {
    return this.#whole;
  }
  get vpnStart(): number {
    return this.#vpnStart;
  }
  get vpnEnd(): number {
    return this.#vpnEnd;
  }
  /** Pages in the range (0 when empty; meaningless when whole). */
  get npages(): number {
    return this.empty ? 0 : this.#vpnEnd - this.#vpnStart;
  }
  /** tlb_generation after this record's bump (0 until sealed with a change). */
  get generation(): number {
    return this.#generation;
  }
  get sealed(): boolean {
    return this.#state !== OPEN;
  }
  get done(): boolean {
    return this.#state === DONE;
  }
  /** Counts of what waits for release (tests, statistics). */
  get pendingCounts(): { frames: number; hugeFrames: number; tables: number; writeback: number; fileRefs: number; cleaned: number } {
    return {
      frames: this.#frames.length, hugeFrames: this.#huge.length, tables: this.#tables.length,
      writeback: this.#writeback.length / 2, fileRefs: this.#fileRefs.length, cleaned: this.#cleaned.length,
    };
  }
  /**
   * True when the change has dirty shared-file pages to write back (still true after drain:
   * completeShootdown drains the record before the policy's remote step). A policy that would defer the
   * invalidation (`deferred`) completes such a change synchronously instead: the data must be
   * in the file when munmap/madvise/msync returns, not whenever the harts next pass a poll point.
   */
  get writesBack(): boolean {
    return this.#writeback.length !== 0;
  }

  /**
   * Close the record: when anything changed, bump the address space's tlb_generation once
   * (recording this range, or the whole ASID, as the latest bump). Idempotent.
   */
  seal(): this {
    if (this.#state !== OPEN) return this;
    if (this.empty && (this.#frames.length || this.#huge.length || this.#tables.length || this.#writeback.length)) {
      throw new Error('Stale.seal: frames to release but no translation recorded as stale');
    }
    this.#state = SEALED;
    if (!this.empty) {
      const whole = this.#whole || this.#vpnEnd - this.#vpnStart > FLUSH_CEILING_PAGES;
      this.#generation = this.as.bumpGeneration(whole ? 0 : this.#vpnStart, whole ? -1 : this.#vpnEnd - this.#vpnStart);
    }
    return this;
  }

  /** For kernel/mm/shootdown.ts only (the drain right): take the lists and mark the record done. */
  drain(right: symbol): StaleRelease {
    if (right !== drainRight || drainRight === null) throw new Error('Stale.drain: only completeShootdown may release stale frames');
    if (this.#state === DONE) throw new Error('Stale.drain: record already completed');
    this.seal();
    const out = {
      writeback: this.#writeback, fileRefs: this.#fileRefs, cleaned: this.#cleaned, frames: this.#frames, hugeFrames: this.#huge,
      tables: this.#tables,
    };
    this.#cleaned = [];
    this.#frames = [];
    this.#huge = [];
    this.#tables = [];
    this.#writeback = [];
    this.#fileRefs = [];
    this.finish();
    return out;
  }

  private finish(): void {
    this.#state = DONE;
    this.ctx.staleOutstanding--;
    if (track) registry.unregister(this.token);
  }
}
