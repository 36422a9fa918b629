/**
 * Shootdown policy `deferred` — LATR-style (Kumar et al., ASPLOS 2018): no interrupts and no
 * synchronous wait for changes that only REMOVE translations (munmap, madvise DONTNEED, exit).
 *
 * Initiator (kernel/shootdown.ts has already bumped tlb_generation and flushed locally):
 *   - targets = other harts running a thread of this space now (policy-common runningTargets;
 *     an idle hart, or one running another space, flushes at its next switch-in anyway);
 *     none → done, free the frames now;
 *   - a change that left a valid PTE in its range (re-point: COW break, fixed remap;
 *     write-protect: mprotect, fork) or covers the whole space with harts still running it goes
 *     synchronously through the `ipi` policy — as LATR keeps IPIs for mprotect: a permission
 *     change must hold when the system call returns;
 *   - else PARK the release: {frames, each target's quiescence epoch now}, and return at once.
 *     The parked frames stay allocated (frames in use counts them) until released.
 * Every hart, at each poll point (each return to the scheduler — quantum end, trap, syscall,
 * interrupt — and each switch-in; kernel/lab-layout.ts LHB_EPOCH):
 *   1. applies what it owes: the switch-time generation check for the space it has loaded
 *      (policy-common catchUpLoaded: the per-address-space generation is the queue);
 *   2. advances its epoch (Atomics.add) — after the flush;
 *   3. releases its own parked changes whose targets have all advanced past their snapshot,
 *      or are idle, or no longer run that space (they flush at switch-in).
 * Unsafe window, by design: between munmap's return and each target's next poll point, a
 * thread on a target hart may still read or write the unmapped pages' OLD frames — never a
 * reused frame, since the frames are parked. The sanitizer counts a deferred change as
 * complete when its frames are released, so it reports nothing for that window.
 */
import type { KernelContext } from '../kernel/context.ts';
import type { VirtualAddressSpace } from '../kernel/aspace.ts';
import { releaseFrames, type ShootdownPolicy } from '../kernel/shootdown.ts';
import type { Stale, StaleRelease } from '../kernel/stale.ts';
import { LS_DEFERRED, LS_DEFERRED_SYNC, LS_PARKED_NOW, LS_PARKED_TOTAL, LS_POLL_FLUSH_FULL, LS_POLL_FLUSH_RANGE, LHB_EPOCH } from '../kernel/lab-layout.ts';
import { labHartWord, labStatIndex } from '../kernel/sanitizer.ts';
import { POISON_WORD, ST_SD_SENT } from '../kernel/sched-layout.ts';
import { PAGE_SIZE } from '../cpu/ram.ts';
import { AsidTable, HartSchedBlock } from './asid.ts';
import { catchUpLocal, catchUpLoaded, onlyRemoved, POLL_FULL, POLL_RANGE, runningTargets } from './policy-common.ts';
import type { IpiHart } from './shootdown-ipi.ts';

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
  private readonly epochWord: number;

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
    if (stale.whole || !onlyRemoved(kctx, as, stale.vpnStart, stale.vpnEnd)) {
      this.bumpStat(LS_DEFERRED_SYNC, 1);
      return this.sync.invalidate(kctx, stale, release);
    }
    catchUpLocal(h, stale);
    const t0 = process.hrtime.bigint();
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
    h.stats.recordLatency(Number(process.hrtime.bigint() - t0));
    this.lastParked = true;
    return false;
  }

  private bumpStat(slot: number, n: number): void {
    this.kctx.ctl.f64[labStatIndex(this.kctx.ctl, this.h.hctx.hartId, slot)] += n;
  }

  /** A poll point on this hart: apply owed flushes for `as` (the loaded space, or null), advance the epoch, release. */
  poll(as: VirtualAddressSpace | null): void {
    if (as !== null && this.h.running()) {
      const k = catchUpLoaded(this.h, as);
      if (k === POLL_RANGE) this.bumpStat(LS_POLL_FLUSH_RANGE, 1);
      else if (k === POLL_FULL) this.bumpStat(LS_POLL_FLUSH_FULL, 1);
    }
    Atomics.add(this.kctx.ctl.i32, this.epochWord, 1); // after the flush above
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

