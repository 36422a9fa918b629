/**
 * Shootdown policy `broadcast` (issue 16): every flush of a space with a global ASID is a
 * hardware broadcast invalidation plus tlbsync (cpu/tlb-broadcast.ts — AMD INVLPGB/TLBSYNC,
 * Arm TLBI IS + DSB ISH); no interrupt, no software on the other harts. Modelled on Linux 6.15
 * (arch/x86/mm/tlb.c: flush_tlb_mm_range → broadcast_tlb_flush; consider_global_asid;
 * finish_asid_transition).
 *
 * Initiator (completeShootdown has edited the PTEs, bumped tlb_generation and flushed this
 * hart's TLB through the space's ASID-table slot):
 *   - the space has NO global ASID: the `ipi` policy does the flush (per-hart ASIDs: only
 *     software on each hart knows what its ASID for the space is); afterwards, if the space runs
 *     on at least `globalAsidMinHarts` harts right now (default 4, Linux's
 *     mm_active_cpus_exceeds(mm, 3)), give it one (assignGlobalAsid);
 *   - the space HAS global ASID G: flush G locally too (this hart may hold G entries from a slot
 *     since recycled), broadcast "pages [vpn, vpn + n) of G" — or "all of G" above the range
 *     ceiling (`--flush-ceiling`, 33 pages: Linux's tlb_single_page_flush_ceiling) — then
 *     tlbsync: every hart applied it. Then the transition (Linux finish_asid_transition): a hart
 *     that still runs the space under a per-hart ASID (it switched in before G was published)
 *     is not reached by a broadcast of G, so it gets one interrupt (MSG_KIND_GASID_SWITCH): it
 *     flushes its per-hart ASID and moves to G in satp; from then on the space costs it no
 *     interrupt. Only then may frames be freed (return true).
 *
 * Safety (the contract of every safe policy: change PTE → complete the shootdown → free):
 *   - every TLB entry tagged G on any hart was filled by a walk of this space's tables: the
 *     assignment broadcast-flushed G on every hart (tlbsync) BEFORE publishing G, so entries of
 *     an earlier life of the AS slot are gone;
 *   - after publication every change of the space reads G after its PTE edits and broadcasts it
 *     to every hart (not just the active mask: an entry may outlive the hart's slot), and
 *     tlbsync returns only once each hart applied it — a hart applies its queue between
 *     instruction batches and in every wait, and a walk that read the old PTE finished its fill
 *     before that (a fill is part of one instruction). So when invalidate returns no hart holds
 *     the old translation under G;
 *   - a hart that runs the space under a per-hart ASID is in the active mask; the initiator reads
 *     the mask after its generation bump (sequentially consistent), so it either sees that hart
 *     (transition interrupt, acknowledged after the flush) or the hart reads the new generation at
 *     its switch-in and flushes there (scheduler/switch.ts: the ipi argument). A change made
 *     while G is being published, still by ipi, reaches the harts already on G through the
 *     active mask: their receivers flush the slot's hardware ASID, which is G.
 * Skipping tlbsync (the LH_TLBSYNC_SKIP lab knob) breaks the second point: frames are freed
 * while other harts still hold the translation (test/lab/broadcast.test.ts shows the reports).
 */
import { timeNs } from '../cpu/vclock.ts';
import { MSG_KIND_USER, type MailboxMessage } from '../cpu/mailbox.ts';
import { SATP_MODE_SV48 } from '../cpu/pte.ts';
import type { BroadcastUnit } from '../cpu/tlb-broadcast.ts';
import type { KernelContext } from '../kernel/context.ts';
import type { VirtualAddressSpace } from '../kernel/mm/aspace.ts';
import type { ShootdownPolicy } from '../kernel/mm/shootdown.ts';
import type { Stale, StaleRelease } from '../kernel/mm/stale.ts';
import { AS_ACTIVE, AS_ROOT } from '../kernel/mm/layout.ts';
import { LH_GASID_MIN, LH_TLBSYNC_SKIP } from '../kernel/lab/layout.ts';
import { inject, INJ } from '../kernel/lab/inject.ts';
import {
  ST_BC_APPLIED, ST_BC_ASIDS, ST_BC_FALLBACK, ST_BC_GASIDS, ST_BC_ISSUED, ST_BC_PAGES, ST_BC_SYNC_NS, ST_BC_SYNCS,
  ST_BC_TRANSITION, ST_SD_IPIS, ST_SD_RECV, ST_SD_SENT,
} from '../kernel/proc/layout.ts';
import { AsidTable, globalHwAsid } from './asid.ts';
import { asWord, catchUpLocal, runningTargets } from './policy-common.ts';
import { ackSpinNs, ackWait, ceilingPages, type IpiHart } from './shootdown-ipi.ts';
import { flushRange } from './switch.ts';

/** Harts a space must run on at once before it gets a global ASID (Linux: more than 3 CPUs). */
export const DEFAULT_GASID_MIN_HARTS = 4;
/** Interrupt to a hart still running a global-ASID space under its per-hart ASID. Payload: AS slot, G. */
export const MSG_KIND_GASID_SWITCH = MSG_KIND_USER + 9;

/** The `broadcast` policy for one hart: `unit` is its broadcast hardware, `ipi` the fallback. */
export class BroadcastPolicy implements ShootdownPolicy {
  readonly name = 'broadcast';
  private readonly minHarts: number;
  private readonly skipSync: boolean;
  private readonly spinNs: number;
  private readonly targets: number[] = [];
  private readonly payload = new Int32Array(2);
  private appliedSeen = 0;

  constructor(private readonly h: IpiHart, private readonly unit: BroadcastUnit, private readonly ipi: ShootdownPolicy) {
    const ctl = h.hctx.ctl;
    const lab = ctl.layout.lab / 4;
    this.minHarts = ctl.i32[lab + LH_GASID_MIN] || DEFAULT_GASID_MIN_HARTS;
    this.skipSync = ctl.i32[lab + LH_TLBSYNC_SKIP] !== 0;
    this.spinNs = ackSpinNs(h.hctx.cpus);
  }

  /** The remote step (see the file comment). */
  invalidate(kctx: KernelContext, stale: Stale, release: StaleRelease): boolean {
    const h = this.h;
    const as = stale.as;
    const g = as.globalAsid;
    if (g === 0) {
      h.stats.bump(ST_BC_FALLBACK);
      const now = this.ipi.invalidate(kctx, stale, release);
      this.considerGlobalAsid(as);
      return now;
    }
    catchUpLocal(h, stale);
    const t0 = timeNs(); // virtual ns in deterministic mode (cpu/vclock.ts)
    const whole = stale.whole || stale.npages > ceilingPages(kctx.ctl);
    // INVLPGB also invalidates the issuing CPU: this hart may hold G entries without a slot for them.
    if (whole) {
      h.hart.sfenceVma(null, 0, g);
      this.unit.invlpgbAsid(g);
      h.stats.bump(ST_BC_ASIDS);
    } else {
      flushRange(h.hart, g, stale.vpnStart, stale.npages);
      this.unit.invlpgb(g, stale.vpnStart, stale.npages);
      h.stats.bump(ST_BC_PAGES, stale.npages);
    }
    h.stats.bump(ST_BC_ISSUED);
    inject(kctx.ctl, INJ['broadcast.before-tlbsync']);
    if (!this.skipSync && this.unit.tlbsync(this.spinNs)) h.stats.bump(ST_BC_SYNCS);
    this.finishTransition(kctx, as, g);
    const ns = timeNs() - t0;
    h.stats.bump(ST_BC_SYNC_NS, ns);
    h.stats.recordLatency(ns);
    h.stats.bump(ST_SD_SENT);
    return true;
  }

  /** At a poll point: publish how many broadcast entries this hart's hardware applied. */
  publish(): void {
    const n = this.unit.applied;
    if (n !== this.appliedSeen) {
      this.h.stats.bump(ST_BC_APPLIED, n - this.appliedSeen);
      this.appliedSeen = n;
    }
  }

  /**
   * Linux consider_global_asid: after an ipi flush of `as`, give it a global ASID when it runs
   * on at least minHarts harts now (this one included). The ASID is invalidated on every hart
   * (broadcast + tlbsync) before it is published, so no entry of an earlier life survives.
   */
  private considerGlobalAsid(as: VirtualAddressSpace): void {
    const h = this.h;
    const self = h.hctx.hartId;
    const here = h.running() && h.table.loaded >= 0 && h.table.asSlotOf(h.table.loaded) === as.slot ? 1 : 0;
    if (here + runningTargets(h.hctx.ctl, as, self, this.targets).length < this.minHarts) return;
    if (as.globalAsid !== 0) return;
    const g = globalHwAsid(as.slot);
    if (g === 0) return;
    h.hart.sfenceVma(null, 0, g);
    this.unit.invlpgbAsid(g);
    this.unit.tlbsync(this.spinNs); // always, also under the skip knob: the assignment must be clean
    as.setGlobalAsid(g);
    h.stats.bump(ST_BC_GASIDS);
  }

  /**
   * Linux finish_asid_transition: interrupt the harts that run `as` under a per-hart ASID (they
   * switched in before G was published) and wait until they moved to G (serveGasidSwitch).
   */
  private finishTransition(kctx: KernelContext, as: VirtualAddressSpace, g: number): void {
    const h = this.h;
    const ctl = kctx.ctl;
    const self = h.hctx.hartId;
    const t = this.targets;
    t.length = 0;
    const aw = asWord(ctl, as.slot, AS_ACTIVE);
    for (let k = 0; k * 32 < h.hctx.cpus; k++) {
      const bits = Atomics.load(ctl.i32, aw + k); // after the generation bump: see the file comment
      if (bits === 0) continue;
      for (let b = 0; b < 32; b++) {
        const hid = k * 32 + b;
        if (!(bits & (1 << b)) || hid === self || hid >= h.hctx.cpus) continue;
        const table = new AsidTable(ctl, hid);
        const i = table.loaded;
        if (i >= 0 && table.asSlotOf(i) === as.slot && table.hwAsidOf(i) !== g) t.push(hid);
      }
    }
    if (t.length === 0) return;
    this.payload[0] = as.slot;
    this.payload[1] = g;
    const ticket = h.hctx.port.send(t, MSG_KIND_GASID_SWITCH, this.payload);
    ackWait(h, ticket, this.spinNs);
    h.stats.bump(ST_BC_TRANSITION, t.length);
    h.stats.bump(ST_SD_IPIS, t.length);
  }
}

/**
 * Serve MSG_KIND_GASID_SWITCH on this hart: if it runs space `slot` under its per-hart ASID,
 * flush that ASID (it may have missed broadcasts of G), tag the slot with G and reload satp
 * under G (no flush of G: its entries here are current, see the file comment). Else nothing.
 */
export function serveGasidSwitch(h: IpiHart, kctx: KernelContext, msg: MailboxMessage): void {
  const slot = msg.payload[0]!;
  const g = msg.payload[1]!;
  h.stats.bump(ST_SD_RECV); // an interrupt served: kernel code ran here
  const i = h.table.find(slot);
  if (i < 0 || h.table.loaded !== i || h.table.isGlobal(i)) return;
  h.hart.sfenceVma(null, 0, h.table.hwAsidOf(i));
  h.table.setHw(i, g);
  const root = Atomics.load(kctx.ctl.i32, asWord(kctx.ctl, slot, AS_ROOT));
  h.hart.setSatp(SATP_MODE_SV48, g, root);
}
