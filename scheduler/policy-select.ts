/**
 * The coherence lab on one hart: pick the shootdown policy the host chose at boot (SH_POLICY,
 * kernel/lab/layout.ts POLICY_CODES), wrap it for poisoning and the sanitizer, install the
 * interrupt handlers and the sanitizer's TLB observer, and give the scheduling loop its hooks:
 *
 *   const lab = installLab({ hctx, hart, table, stats, kctx, running });
 *   lab.poll(as)                       // at every return to the scheduler (step start)
 *   lab.beforeSwitchIn(as)             // just before scheduler/switch.ts switchIn
 *   lab.afterSwitchIn(as, pid, tid)    // just after it
 *   lab.beforeUser(as)                 // just before the hart runs guest code (Hart.run)
 *
 * Policies (DESIGN.md section 6): ipi (scheduler/shootdown-ipi.ts; with its options LH_IPI_OPTS:
 * concurrent, early-ack, consolidate, in-context — docs/policies.md "ipi options"), local (its negative
 * control), per-page (policy-perpage.ts), lazy and off (policy-lazy.ts), deferred
 * (policy-deferred.ts), broadcast (policy-broadcast.ts; needs the machine's broadcast hardware). All sit behind kernel/mm/shootdown.ts's one call site.
 *
 * The sanitizing wrapper (sanitizer on): before the policy's remote step the change takes its
 * seq (its PTE edits are done); when the step returns the change is complete and recorded —
 * except a change `deferred` parked, recorded when its frames are released.
 */
import type { Hart } from '../cpu/hart.ts';
import type { BroadcastUnit } from '../cpu/tlb-broadcast.ts';
import type { VirtualAddressSpace } from '../kernel/mm/aspace.ts';
import type { KernelContext } from '../kernel/context.ts';
import {
  CHANGE_PROTECT, CHANGE_UNMAP, LH_IPI_OPTS, LH_IPI_UNSAFE, LH_POLICY, LS_CHANGES, LS_FAULT_COW_COPY, LS_FAULT_COW_REUSE, LS_FAULT_DEMAND,
  LS_FAULT_FILE, LS_FAULT_HUGE, LS_FAULT_SPURIOUS, LS_LOCAL_FLUSH_ASID, LS_LOCAL_FLUSH_PAGES, LS_PERPAGE_MSGS,
  formatPolicySpec, POLICY_CODES, policyName, SAN_OFF,
} from '../kernel/lab/layout.ts';
import { beginChange, labStatIndex, recordCompletion, SanitizerObserver, sanitizerMode } from '../kernel/lab/sanitizer.ts';
import { SH_POISON, SH_POLICY } from '../kernel/proc/layout.ts';
import type { ShootdownPolicy } from '../kernel/mm/shootdown.ts';
import type { Stale, StaleRelease } from '../kernel/mm/stale.ts';
import type { AsidTable, HartSchedBlock } from './asid.ts';
import type { HartContext } from './hart-context.ts';
import { readLeaf } from './policy-common.ts';
import { BroadcastPolicy, MSG_KIND_GASID_SWITCH, serveGasidSwitch } from './policy-broadcast.ts';
import { DeferredPolicy } from './policy-deferred.ts';
import { lazyPolicy, OFF_POLICY, offBeforeSwitchIn } from './policy-lazy.ts';
import { MSG_KIND_PAGE_SHOOTDOWN, perPagePolicy, servePageShootdown } from './policy-perpage.ts';
import {
  beforeUser, IpiOptionState, ipiPolicy, localOnlyPolicy, MSG_KIND_SHOOTDOWN, poisoning, serveShootdown, type IpiHart,
} from './shootdown-ipi.ts';

/** What installLab needs of the hart's scheduler. */
export interface LabDeps {
  hctx: HartContext;
  hart: Hart;
  table: AsidTable;
  stats: HartSchedBlock;
  kctx: KernelContext;
  /** True while a thread runs on this hart. */
  running: () => boolean;
  /** The hart's broadcast-invalidation unit (cpu/tlb-broadcast.ts), null when the machine has none. */
  bcast: BroadcastUnit | null;
}

/** The scheduling loop's hooks (see the file comment). */
export interface LabHooks {
  readonly policyName: string;
  poll(as: VirtualAddressSpace | null): void;
  beforeSwitchIn(as: VirtualAddressSpace): void;
  afterSwitchIn(as: VirtualAddressSpace, pid: number, tid: number): void;
  /** The hart is about to run guest code of `as` (the return to user mode): owed in-context flushes. */
  beforeUser(as: VirtualAddressSpace): void;
}

/**
 * Build and install this hart's policy (kctx.policy), its interrupt handlers and, when the
 * sanitizer is on, its TLB observer. Throws naming installLab for an unknown policy code.
 */
export function installLab(d: LabDeps): LabHooks {
  const { hctx, hart, kctx } = d;
  const ctl = hctx.ctl;
  const sh = ctl.layout.schedHeader / 4;
  const code = ctl.i32[sh + SH_POLICY]!;
  // The name reports and statistics show: the policy, with the ipi options in force ('ipi:concurrent').
  const name = code === POLICY_CODES.ipi ? formatPolicySpec('ipi', ctl.i32[ctl.layout.lab / 4 + LH_IPI_OPTS]!) : policyName(code);
  const poison = ctl.i32[sh + SH_POISON] !== 0;
  const ih: IpiHart = { hctx, hart, table: d.table, stats: d.stats, running: d.running };
  const hartId = hctx.hartId;
  const stat = (slot: number, n: number): void => { ctl.f64[labStatIndex(ctl, hartId, slot)] += n; };
  hctx.onInterrupt(MSG_KIND_SHOOTDOWN, (_c, msg) => serveShootdown(ih, kctx, msg));
  hctx.onInterrupt(MSG_KIND_PAGE_SHOOTDOWN, (_c, msg) => servePageShootdown(ih, kctx, msg));
  hctx.onInterrupt(MSG_KIND_GASID_SWITCH, (_c, msg) => serveGasidSwitch(ih, kctx, msg));
  const ipi = ipiPolicy(ih);
  if (code === POLICY_CODES.ipi) {
    // The options (and their negative-control knob) every hart reads from the lab header.
    const lab = ctl.layout.lab / 4;
    ih.ipi = new IpiOptionState(ctl.i32[lab + LH_IPI_OPTS]!, ctl.i32[lab + LH_IPI_UNSAFE]!);
  }
  let deferred: DeferredPolicy | null = null;
  let broadcast: BroadcastPolicy | null = null;
  let base: ShootdownPolicy;
  switch (code) {
    case POLICY_CODES.ipi: base = ipiPolicy(ih, true); break;
    case POLICY_CODES.local: base = localOnlyPolicy(ih); break;
    case POLICY_CODES['per-page']: base = perPagePolicy(ih, (n) => stat(LS_PERPAGE_MSGS, n)); break;
    case POLICY_CODES.lazy: base = lazyPolicy(ih); break;
    case POLICY_CODES.off: base = OFF_POLICY; break;
    case POLICY_CODES.deferred:
      deferred = new DeferredPolicy(ih, kctx, poison ? poisoning(ipi) : ipi, poison);
      base = deferred;
      break;
    case POLICY_CODES.broadcast:
      if (d.bcast === null) throw new Error('installLab: policy broadcast needs the broadcast hardware (--tlb-broadcast)');
      broadcast = new BroadcastPolicy(ih, d.bcast, ipi);
      base = broadcast;
      break;
    default: throw new Error(`installLab: unknown policy code ${code}`);
  }
  let policy = poison && deferred === null ? poisoning(base) : base;
  Atomics.store(ctl.i32, ctl.layout.lab / 4 + LH_POLICY, code);

  const sanitize = sanitizerMode(ctl) !== SAN_OFF;
  let observer: SanitizerObserver | null = null;
  if (sanitize) {
    // Reports go to the hart's one trace writer (a second writer on its ring would corrupt it).
    observer = new SanitizerObserver(ctl, hartId, name, (root, vpn) => readLeaf(kctx, root, vpn), () => hctx.trace);
    policy = sanitizing(policy, kctx, deferred);
    if (deferred !== null) {
      deferred.onComplete = (asSlot, vpnStart, npages, frames, seq) =>
        recordCompletion(ctl, hartId, asSlot, vpnStart, npages, frames > 0 ? CHANGE_UNMAP : CHANGE_PROTECT, seq);
      // The reuse point completes the range for the sanitizer (policy-deferred.ts beforeReuse).
      deferred.onReuse = (asSlot, vpnStart, npages) =>
        recordCompletion(ctl, hartId, asSlot, vpnStart, npages, CHANGE_UNMAP, beginChange(ctl));
    }
    hart.setTlbObserver(observer);
  }
  kctx.policy = policy;

  const publish = (): void => {
    const c = kctx.counters;
    const f = ctl.f64;
    const at = (slot: number) => labStatIndex(ctl, hartId, slot);
    f[at(LS_FAULT_DEMAND)] = c.demandFaults;
    f[at(LS_FAULT_FILE)] = c.fileFaults;
    f[at(LS_FAULT_COW_COPY)] = c.cowCopies;
    f[at(LS_FAULT_COW_REUSE)] = c.cowReuses;
    f[at(LS_FAULT_SPURIOUS)] = c.spuriousFaults;
    f[at(LS_FAULT_HUGE)] = c.hugeMaps;
    f[at(LS_LOCAL_FLUSH_PAGES)] = c.localFlushPages;
    f[at(LS_LOCAL_FLUSH_ASID)] = c.localFlushAsid;
    f[at(LS_CHANGES)] = c.shootdowns;
  };
  return {
    policyName: name,
    poll(as) {
      publish();
      broadcast?.publish();
      deferred?.poll(as);
    },
    beforeSwitchIn(as) {
      if (code === POLICY_CODES.off) offBeforeSwitchIn(ih, as);
    },
    afterSwitchIn(as, pid, tid) {
      observer?.setSpace(as.slot, as.rootPpn, pid, tid);
      deferred?.poll(as);
    },
    beforeUser(as) {
      beforeUser(ih, as);
    },
  };
}

/** Wrap `inner` so each change gets its sanitizer seq and is recorded when complete. */
function sanitizing(inner: ShootdownPolicy, kctx: KernelContext, deferred: DeferredPolicy | null): ShootdownPolicy {
  const ctl = kctx.ctl;
  return {
    name: inner.name,
    ownsLocalFlush: inner.ownsLocalFlush,
    invalidate(k: KernelContext, stale: Stale, release: StaleRelease): boolean {
      const seq = beginChange(ctl); // after the PTE edits (they happened before completeShootdown)
      if (deferred !== null) deferred.pendingSeq = seq;
      const kind = release.frames.length + release.hugeFrames.length + release.tables.length > 0 ? CHANGE_UNMAP : CHANGE_PROTECT;
      const now = inner.invalidate(k, stale, release);
      if (deferred === null || !deferred.lastParked) {
        recordCompletion(ctl, kctx.hartId, stale.as.slot, stale.whole ? 0 : stale.vpnStart, stale.whole ? -1 : stale.npages, kind, seq);
      }
      return now;
    },
    // The reuse guard passes through (kernel/mm/mmap.ts guardReuse); its sanitizer record is deferred.onReuse.
    beforeReuse: inner.beforeReuse?.bind(inner),
  };
}
