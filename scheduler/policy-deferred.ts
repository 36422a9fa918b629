/**
 * Shootdown policy `deferred` — LATR-style (Kumar et al., ASPLOS 2018): no interrupts and no
 * synchronous wait for changes that only REMOVE a range that goes away (munmap of private memory).
 *
 * Initiator (kernel/mm/shootdown.ts has already bumped tlb_generation and flushed locally):
 *   - targets = other harts running a thread of this space now (policy-common runningTargets;
 *     an idle hart, or one running another space, flushes at its next switch-in anyway);
 *     none → done, free the frames now;
 *   - a change the kernel did not declare a pure removal (kernel/mm/stale.ts declareRemoval:
 *     only munmap's body, kernel/mm/mmap.ts unmapLocked, for private memory), or one that
 *     covers the whole space with harts still running it, goes synchronously through the `ipi`
 *     policy. The kind comes from the operation, never from the PTEs: mprotect(PROT_NONE),
 *     madvise(DONTNEED), mremap (moves, MREMAP_DONTUNMAP) and ftruncate leave no valid PTE in
 *     their range, yet the range stays mapped (or its frames live on elsewhere) and the
 *     caller may rely on the new meaning as soon as the call returns — LATR keeps IPIs for
 *     these; deferring them let writes complete after mprotect returned, old data be read
 *     after madvise/ftruncate returned and stores be lost (issue 12, bug 4). A change marked
 *     synchronous (Stale.requireSync: a COW re-point, clear → flush → set) or carrying dirty
 *     shared-file pages to write back (Stale.writesBack) never parks either;
 *   - else PARK the release: {frames, each target's quiescence epoch now}, and return at once.
 *     The parked frames stay allocated (frames in use counts them) until released.
 * Every hart, at each poll point (each return to the scheduler — quantum end, trap, syscall,
 * interrupt — and each switch-in; kernel/lab/layout.ts LHB_EPOCH):
 *   1. ANNOUNCES the flush point: advances its epoch (Atomics.add);
 *   2. then applies what it owes: the switch-time generation check for the space it has loaded
 *      (policy-common catchUpLoaded: the per-address-space generation is the queue), reading
 *      tlb_generation after step 1;
 *   3. releases its own parked changes whose targets have all advanced past their snapshot,
 *      or are idle, or no longer run that space (they flush at switch-in).
 *
 * Why the epoch comes first (issue 12, bug 3). All the words involved — tlb_generation, the
 * epochs, the active mask — are accessed with Atomics, which are sequentially consistent: one
 * total order S of these accesses that agrees with each hart's program order.
 *   Initiator A: (a1) bump tlb_generation to G → (a2) read target B's epoch: snapshot e.
 *   Later A releases only after (a3) reading B's epoch ≠ e.
 *   Target B at a poll point: (b1) epoch += 1 → (b2) read tlb_generation → flush if behind
 *   → run guest code.
 * a3 read a value other than e, so some increment b1 of B's came after a2 in S (a2 read e,
 * and the epoch only grows). The poll that did that b1 reads the generation at b2, after b1,
 * hence after a2 and after a1 in S: it reads G or newer, so B flushes the change (range or
 * ASID) before it runs guest code again. Between b1 and that flush, A may free the frames, but
 * B executes only kernel code there, which never translates through its TLB. In the old order
 * (b2, flush, then b1) a bump landing between b2 and b1 was missed by that poll while b1 still
 * counted as its flush: A freed frames B kept caching and B read them (a freed page-table page
 * likewise could be walked through its cached upper-level entries). The fault-injection points
 * `deferred.before-epoch` and `deferred.after-epoch` sleep before and after b1
 * (test/lab/deferred.test.ts: with the old order the first one made readers read poisoned
 * freed frames; with this order neither does).
 *
 * Unsafe window, by design: between munmap's return and each target's next poll point, a
 * thread on a target hart may still read or write the unmapped pages' OLD frames — never a
 * reused frame, since the frames are parked, and never a frame another mapping can see, since
 * only private memory's removals are deferred. The sanitizer counts a deferred change as
 * complete when its frames are released, so it reports nothing for that window.
 * The reuse guard closes the window before the range can mean something else (LATR: a lazily
 * invalidated virtual range is not reused until its invalidation completed everywhere).
 * beforeReuse(as, vpn, npages), from kernel/mm/mmap.ts guardReuse before a new region is
 * installed (mmap lock held exclusive):
 *   1. this hart catches up on `as` if it runs it and is behind (catchUpLoaded);
 *   2. owing = the other harts running `as` whose ASID-table generation is behind — except
 *      one exactly one generation behind whose missing bump's range is known and disjoint
 *      from [vpn, vpn + npages). None → return (the common case: a few Atomics.loads);
 *   3. one shootdown interrupt (the ipi policy's MSG_KIND_SHOOTDOWN: newest generation and its
 *      bump's range — the receiver flushes that range when exactly one behind, else the ASID)
 *      to `owing`, and wait for their acks serving this hart's mailbox (ackWait);
 *   4. the sanitizer (onReuse) records the range as invalidated NOW: any access through a
 *      translation of it filled before this point is reported from here on — the reuse point
 *      is where deferral stops being within the contract. The parked frames themselves still
 *      wait for quiescence as before.
 * COHERENT_DEFERRED_REUSE_GUARD=off (environment, read at boot; tests' negative control)
 * skips step 3 only: the stale reads after reuse are then reported by the sanitizer.
 */
import { timeNs } from '../cpu/vclock.ts';
import type { KernelContext } from '../kernel/context.ts';
import type { VirtualAddressSpace } from '../kernel/mm/aspace.ts';
import { releaseFrames, type ShootdownPolicy } from '../kernel/mm/shootdown.ts';
import type { Stale, StaleRelease } from '../kernel/mm/stale.ts';
import { LS_DEFERRED, LS_DEFERRED_SYNC, LS_PARKED_NOW, LS_PARKED_TOTAL, LS_POLL_FLUSH_FULL, LS_POLL_FLUSH_RANGE, LHB_EPOCH } from '../kernel/lab/layout.ts';
import { labHartWord, labStatIndex } from '../kernel/lab/sanitizer.ts';
import { POISON_WORD, ST_SD_IPIS, ST_SD_SENT } from '../kernel/proc/layout.ts';
import { PAGE_SIZE } from '../cpu/ram.ts';
import { AsidTable, HartSchedBlock } from './asid.ts';
import { catchUpLocal, catchUpLoaded, POLL_FULL, POLL_RANGE, runningTargets } from './policy-common.ts';
import { ackSpinNs, ackWait, ceilingPages, MSG_KIND_SHOOTDOWN, type IpiHart } from './shootdown-ipi.ts';
import { AS_WHOLE } from '../kernel/mm/layout.ts';
import { inject, INJ } from '../kernel/lab/inject.ts';

const TWO32 = 4294967296;

/** False when the environment switches the reuse guard off (tests' negative control only). */
export function reuseGuardEnabled(): boolean {
  return process.env['COHERENT_DEFERRED_REUSE_GUARD'] !== 'off';
}

/** A release waiting for quiescence. */
interface Parked {
  release: StaleRelease;
  targets: number[];
  epochs: number[];
  asSlot: number;
  vpnStart: number;
  npages: number;
  seq: number;
}

/** Called when a parked change completes (the sanitizer records it then). */
export type DeferredCompletion = (asSlot: number, vpnStart: number, npages: number, frames: number, seq: number) => void;
/** Called when a range with an invalidation possibly pending is about to be reused (the sanitizer records it). */
export type DeferredReuse = (asSlot: number, vpnStart: number, npages: number) => void;

/** The `deferred` policy of one hart (its `poll` must run at every poll point). */
export class DeferredPolicy implements ShootdownPolicy {
  readonly name = 'deferred';
  private readonly parked: Parked[] = [];
  private readonly targets: number[] = [];
  /** Set by a sanitizing wrapper before each invalidate: the change's seq (0 = sanitizer off). */
  pendingSeq = 0;
  /** True when the last invalidate parked the change (the wrapper records its completion later). */
  lastParked = false;
  onComplete: DeferredCompletion | null = null;
  onReuse: DeferredReuse | null = null;
  private readonly epochWord: number;
  private readonly guard = reuseGuardEnabled();
  private readonly owing: number[] = [];
  private readonly payload = new Int32Array(6);

  constructor(
    private readonly h: IpiHart, private readonly kctx: KernelContext, private readonly sync: ShootdownPolicy,
    private readonly poison: boolean,
  ) {
    this.epochWord = labHartWord(kctx.ctl, h.hctx.hartId, LHB_EPOCH);
  }

  invalidate(kctx: KernelContext, stale: Stale, release: StaleRelease): boolean {
    this.lastParked = false;
    const h = this.h;
    const as = stale.as;
    const targets = runningTargets(kctx.ctl, as, h.hctx.hartId, this.targets);
    if (targets.length === 0) {
      catchUpLocal(h, stale);
      return true;
    }
    // A record carrying dirty shared-file pages to write back (Stale.writesBack) is never a
    // declared removal either: munmap/madvise return with the data in the file.
    if (stale.whole || stale.synchronous || stale.writesBack || !stale.removal) {
      this.bumpStat(LS_DEFERRED_SYNC, 1);
      return this.sync.invalidate(kctx, stale, release);
    }
    catchUpLocal(h, stale);
    const t0 = timeNs(); // virtual ns in deterministic mode (cpu/vclock.ts)
    const i32 = kctx.ctl.i32;
    const epochs = targets.map((t) => Atomics.load(i32, labHartWord(kctx.ctl, t, LHB_EPOCH)));
    this.parked.push({
      release, targets: targets.slice(), epochs, asSlot: as.slot, vpnStart: stale.vpnStart, npages: stale.npages,
      seq: this.pendingSeq,
    });
    const n = release.frames.length + release.tables.length + release.hugeFrames.length * 512;
    this.bumpStat(LS_PARKED_NOW, n);
    this.bumpStat(LS_PARKED_TOTAL, n);
    this.bumpStat(LS_DEFERRED, 1);
    h.stats.bump(ST_SD_SENT);
    h.stats.recordLatency(timeNs() - t0);
    this.lastParked = true;
    return false;
  }

  /** The reuse guard (see the file comment). Lock on `as` held exclusive by the caller. */
  beforeReuse(kctx: KernelContext, as: VirtualAddressSpace, vpn: number, npages: number): void {
    const h = this.h;
    if (h.running()) catchUpLoaded(h, as); // this hart: a no-op unless it runs `as` and is behind
    const owing = this.owingHarts(as, vpn, npages);
    if (owing.length === 0) return;
    if (this.guard) {
      const bump = as.latestBump();
      const range = bump.npages !== AS_WHOLE && bump.npages <= ceilingPages(kctx.ctl);
      const p = this.payload;
      p[0] = as.slot;
      p[1] = bump.generation;
      p[2] = range ? bump.vpnStart % TWO32 | 0 : 0;
      p[3] = range ? Math.floor(bump.vpnStart / TWO32) : 0;
      p[4] = range ? bump.npages : -1;
      p[5] = 0; // untraced
      const ticket = h.hctx.port.send(owing, MSG_KIND_SHOOTDOWN, p);
      ackWait(h, ticket, ackSpinNs(h.hctx.cpus));
      h.stats.bump(ST_SD_SENT); // a synchronous shootdown, counted as the ipi policy counts one
      h.stats.bump(ST_SD_IPIS, owing.length);
    }
    this.onReuse?.(as.slot, vpn, npages);
  }

  /**
   * Other harts running `as` that may still translate [vpn, vpn + npages) through an entry an
   * earlier change made stale: behind on `as`'s generation, unless exactly one behind with the
   * missing bump's range known and disjoint from it.
   */
  private owingHarts(as: VirtualAddressSpace, vpn: number, npages: number): number[] {
    const ctl = this.kctx.ctl;
    const running = runningTargets(ctl, as, this.h.hctx.hartId, this.targets);
    const owing = this.owing;
    owing.length = 0;
    if (running.length === 0) return owing;
    const gen = as.generation;
    let bump: { generation: number; vpnStart: number; npages: number } | null = null;
    for (const t of running) {
      const table = new AsidTable(ctl, t);
      const i = table.find(as.slot);
      const local = i < 0 ? -1 : table.gen(i);
      if (local >= gen) continue;
      if (local === gen - 1) {
        bump ??= as.latestBump();
        const disjoint = bump.generation === gen && bump.npages !== AS_WHOLE &&
          (bump.vpnStart + bump.npages <= vpn || vpn + npages <= bump.vpnStart);
        if (disjoint) continue;
      }
      owing.push(t);
    }
    return owing;
  }

  private bumpStat(slot: number, n: number): void {
    this.kctx.ctl.f64[labStatIndex(this.kctx.ctl, this.h.hctx.hartId, slot)] += n;
  }

  /**
   * A poll point on this hart: announce the flush point (advance the epoch), THEN apply the
   * flushes owed for `as` (the loaded space, or null), then release what became quiescent.
   * The order is the proof that a parked change is never released while this hart still
   * caches it — see "Why the epoch comes first" in the file comment.
   */
  poll(as: VirtualAddressSpace | null): void {
    const ctl = this.kctx.ctl;
    inject(ctl, INJ['deferred.before-epoch']);
    // Announce: every translation this hart uses from here on is checked against a generation
    // read AFTER this increment (sequentially consistent Atomics on both sides).
    Atomics.add(ctl.i32, this.epochWord, 1);
    inject(ctl, INJ['deferred.after-epoch']);
    if (as !== null && this.h.running()) {
      const k = catchUpLoaded(this.h, as); // reads tlb_generation after the announcement
      if (k === POLL_RANGE) this.bumpStat(LS_POLL_FLUSH_RANGE, 1);
      else if (k === POLL_FULL) this.bumpStat(LS_POLL_FLUSH_FULL, 1);
    }
    if (this.parked.length !== 0) this.releaseQuiescent();
  }

  /** Parked frames not yet released (this hart). */
  get parkedCount(): number {
    return this.parked.length;
  }

  private releaseQuiescent(): void {
    const ctl = this.kctx.ctl;
    let keep = 0;
    for (let k = 0; k < this.parked.length; k++) {
      const p = this.parked[k]!;
      if (!this.quiescent(p)) {
        this.parked[keep++] = p;
        continue;
      }
      const n = p.release.frames.length + p.release.tables.length + p.release.hugeFrames.length * 512;
      if (this.poison) {
        for (const ppn of p.release.frames) {
          if (this.kctx.frames.refcount(ppn) === 1) this.kctx.ram.i32.fill(POISON_WORD, (ppn * PAGE_SIZE) / 4, ((ppn + 1) * PAGE_SIZE) / 4);
        }
      }
      releaseFrames(this.kctx, p.release);
      this.bumpStat(LS_PARKED_NOW, -n);
      this.onComplete?.(p.asSlot, p.vpnStart, p.npages, n, p.seq);
    }
    this.parked.length = keep;
  }

  /** Every target advanced past its snapshot, is idle, or runs another space now. */
  private quiescent(p: Parked): boolean {
    const ctl = this.kctx.ctl;
    for (let j = 0; j < p.targets.length; j++) {
      const t = p.targets[j]!;
      if (Atomics.load(ctl.i32, labHartWord(ctl, t, LHB_EPOCH)) !== p.epochs[j]) continue;
      if (new HartSchedBlock(ctl, t).current < 0) continue;
      const table = new AsidTable(ctl, t);
      if (table.loaded < 0 || table.asSlotOf(table.loaded) !== p.asSlot) continue;
      return false;
    }
    return true;
  }
}

