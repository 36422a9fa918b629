/**
 * Shootdown policy `ipi` (DESIGN.md section 6; the default and the safe reference), behind
 * kernel/mm/shootdown.ts's ShootdownPolicy.
 *
 * Initiator (completeShootdown has already edited the PTEs and bumped tlb_generation to G; the
 * machine's ipi policy flushes this hart's TLB itself, ShootdownPolicy.ownsLocalFlush):
 *   - flush this hart's TLB for the range and catch its ASID-table entry up to G (a full local
 *     flush if it was further behind) — with the `concurrent` option after sending, not before;
 *   - send ONE shootdown interrupt {AS slot, G, vpn range or whole} to every other hart in the
 *     space's active mask; ranges above the ceiling (SH_CEILING, default 33 pages) go as whole;
 *   - wait for every acknowledgement while serving this hart's own mailbox (two harts that shoot
 *     each other down at once both make progress), then return true: frames may be freed.
 *     The wait spins first, then blocks (ackWait): a target polls its mailbox every few hundred
 *     nanoseconds of guest code (the scheduler's batch), so when every hart has a host core the
 *     ack arrives well within ACK_SPIN_NS and blocking — an Atomics.wait/notify round trip
 *     through the OS, tens of microseconds — is avoided. When harts outnumber host cores the
 *     target may be waiting for this very core: spin only ACK_SPIN_OVERSUB_NS, then block.
 *   The send path allocates nothing (targets and payload are reused; the active mask is read
 *   word by word), nor does the receiver's range flush.
 * Receiver (runs from the hart's mailbox, between instruction batches or inside any wait):
 *   - space not loaded here, or the hart is idle (no thread: it has switched away from every
 *     space even though satp still holds the last one): leave its active mask (lazily; no flush — the ASID table entry
 *     stays behind, so switching back flushes), ack;
 *   - loaded and already caught up to G: ack without flushing;
 *   - exactly one generation behind, G is the newest generation and the range is known: flush
 *     the range; else flush the whole ASID and record the generation read before the flush.
 *
 * Options (LH_IPI_OPTS, `--shootdown ipi:concurrent,early-ack,consolidate,in-context`; Amit et
 * al., docs/policies.md "ipi options"): concurrent (above), consolidate (requests through
 * cpu/mailbox.ts request lines: request and ack in one cache line), early-ack (a receiver of a
 * REQ_USER_ONLY request acks, then flushes) and in-context (it owes the flush to its return to
 * guest code, beforeUser, and acks at once). LH_IPI_UNSAFE breaks their conditions (negative
 * controls only).
 *
 * Poison mode (SH_POISON, tests): any policy is wrapped so that after its remote step the
 * frames about to be freed are filled with POISON_WORD — a later read through a stale
 * translation then sees poison instead of plausible data.
 */
import { timeNs } from '../cpu/vclock.ts';
import { catchUpLoaded, catchUpLocal, POLL_NONE } from './policy-common.ts';
import { availableParallelism } from 'node:os';
import { MSG_KIND_USER, type MailboxMessage } from '../cpu/mailbox.ts';
import type { Hart } from '../cpu/hart.ts';
import { activeBaton } from '../cpu/baton.ts';
import { PAGE_SIZE } from '../cpu/ram.ts';
import type { KernelContext } from '../kernel/context.ts';
import { localInvalidate, releaseFrames, type ShootdownPolicy } from '../kernel/mm/shootdown.ts';
import type { Stale, StaleRelease } from '../kernel/mm/stale.ts';
import {
  POISON_WORD, SH_CEILING, ST_SD_ACK_LATE, ST_SD_EARLY_ACK, ST_SD_IN_CONTEXT, ST_SD_IN_CONTEXT_FLUSH, ST_SD_IPIS,
  ST_SD_LINES, ST_SD_RECV, ST_SD_RECV_CURRENT, ST_SD_RECV_FULL, ST_SD_RECV_LAZY, ST_SD_RECV_NS, ST_SD_RECV_RANGE, ST_SD_SENT,
} from '../kernel/proc/layout.ts';
import { IPI_OPT_CONCURRENT, IPI_OPT_CONSOLIDATE, IPI_OPT_EARLY_ACK, IPI_OPT_IN_CONTEXT } from '../kernel/lab/layout.ts';
import type { VirtualAddressSpace } from '../kernel/mm/aspace.ts';
import { USER_TOP } from '../kernel/mm/aspace.ts';
import { AS_ACTIVE, AS_ASID, AS_BYTES, AS_GEN } from '../kernel/mm/layout.ts';
import { AsidTable, type HartSchedBlock } from './asid.ts';
import type { HartContext } from './hart-context.ts';
import { flushRange } from './switch.ts';
import {
  CAUSE_LOCAL, CAUSE_SHOOTDOWN, FLUSH_ASID, FLUSH_PAGE, FLUSH_RANGE, traceEmitFlush, traceEmitShootdownAck,
  traceEmitShootdownDone, traceEmitShootdownRecv, traceEmitShootdownStart, type TraceWriter,
} from '../kernel/lab/trace.ts';

/**
 * Mailbox kind of a shootdown request. Payload: AS slot, new generation, vpn lo, vpn hi,
 * npages (-1 whole), trace id (TraceWriter.nextShootdownId; 0 when the sender traces nothing),
 * REQ_* flags.
 */
export const MSG_KIND_SHOOTDOWN = MSG_KIND_USER;
/**
 * Request flag: the change touches user pages only and frees no page-table page — the
 * paper's condition for an early acknowledgement and an in-context flush. (Its change may free
 * data frames: the target cannot use them before its flush either way.)
 */
export const REQ_USER_ONLY = 1;
/** Default range ceiling (pages): larger ranges are flushed as the whole ASID. */
export const DEFAULT_CEILING_PAGES = 33;
/**
 * How long (ns) the initiator spins for acknowledgements before it blocks in Atomics.wait, when
 * harts <= host cores. A running target answers within one poll interval plus its flush (1-2 µs
 * measured); this budget also covers a short kernel path or page fault on the target. A target
 * still silent after it is most likely off its core (the host is shared): spinning longer would
 * only keep a core from it, so block and let the ack's notify wake this hart.
 */
export const ACK_SPIN_NS = 20_000;
/** The same when harts > host cores: the target may need this core, so yield it soon. */
export const ACK_SPIN_OVERSUB_NS = 5_000;
/** Rounds InterruptPort.waitForAcks spins before blocking, for callers not using ackWait. */
export const ACK_SPIN = 2000;
/** Spin rounds between two clock reads (a clock read costs as much as ~20 rounds). */
const SPIN_CLOCK_EVERY = 64;

/** What the ipi policy and its receiver need of one hart. */
export interface IpiHart {
  hctx: HartContext;
  hart: Hart;
  table: AsidTable;
  stats: HartSchedBlock;
  /** True while a thread runs on this hart (an idle hart has switched away from every space). */
  running: () => boolean;
  /** The ipi options in force on this machine (absent: plain ipi); see IpiOptionState. */
  ipi?: IpiOptionState;
}

/**
 * The ipi options of the machine (LH_IPI_OPTS, IPI_OPT_*) and, per hart, the receiver's
 * in-context state: a flush it owes the space loaded here, applied by `beforeUser` before the
 * hart next runs guest code. `unsafe` (LH_IPI_UNSAFE): negative controls that break an option's
 * safety condition (docs/policies.md "ipi options"); 0 in every normal run.
 */
export class IpiOptionState {
  /** A shootdown's flush is owed (in-context; or an unsafe early ack). */
  pending = false;
  /** Returns to guest code to let pass before the owed flush (unsafe early-ack only). */
  holdReturns = 0;
  constructor(readonly opts: number, readonly unsafe: number) {}
}

/**
 * In-context flushing, target side: the hart is about to run guest code of `as` (hart-loop.ts,
 * just before Hart.run): apply the flush a shootdown left owed here — the switch-time
 * generation check on the loaded space (one generation behind with a known range: the range;
 * else the ASID). Cheap when nothing is owed (one field read).
 */
export function beforeUser(h: IpiHart, as: VirtualAddressSpace): void {
  const o = h.ipi;
  if (o === undefined || !o.pending) return;
  if (o.holdReturns > 0) { // UNSAFE early-ack control: guest code runs before the flush
    o.holdReturns--;
    return;
  }
  o.pending = false;
  if (o.unsafe & IPI_OPT_IN_CONTEXT) return; // UNSAFE: left to the next switch-in's generation check
  if (catchUpLoaded(h, as) !== POLL_NONE) h.stats.bump(ST_SD_IN_CONTEXT_FLUSH);
}

const TWO32 = 4294967296;

/** Word index of field `f` of address-space slot `slot`. */
function asWord(kctx: { ctl: KernelContext['ctl'] }, slot: number, f: number): number {
  return (kctx.ctl.layout.asTable + slot * AS_BYTES) / 4 + f;
}

/** The range ceiling in force (SH_CEILING, 0 = default). */
export function ceilingPages(ctl: KernelContext['ctl']): number {
  return ctl.i32[ctl.layout.schedHeader / 4 + SH_CEILING] || DEFAULT_CEILING_PAGES;
}

/**
 * Wait for acknowledgements up to `ticket` on `h`'s port, serving its mailbox: spin for
 * `spinNs`, then block in MAILBOX_WAIT_SLICE_MS slices (InterruptPort.waitForAcks).
 */
export function ackWait(h: IpiHart, ticket: number, spinNs: number): void {
  const port = h.hctx.port;
  if (port.acked(ticket)) return;
  if (activeBaton() !== null) return port.waitForAcks(ticket, 0); // deterministic mode: no one acks during a spin
  const end = performance.now() + spinNs / 1e6; // a double clock: no BigInt per read
  for (let k = 1; ; k++) {
    if (port.acked(ticket)) return;
    if (port.anyPending()) port.poll();
    if (k % SPIN_CLOCK_EVERY === 0 && performance.now() >= end) break;
  }
  port.waitForAcks(ticket, 0);
}

/** The ack spin budget (ns) for a machine of `harts` harts on this host. */
export function ackSpinNs(harts: number): number {
  return harts <= availableParallelism() ? ACK_SPIN_NS : ACK_SPIN_OVERSUB_NS;
}

/**
 * The `ipi` policy for one hart. `ownsLocalFlush`: the policy flushes this hart's TLB itself
 * (kernel/mm/shootdown.ts ShootdownPolicy.ownsLocalFlush) — the machine's policy does, so its
 * latency covers the local flush too and the concurrent option can overlap it; the ipi inside
 * deferred and broadcast (their synchronous path) does not. Options (h.ipi.opts):
 *   concurrent  — send first, flush locally while the targets flush, then wait;
 *   consolidate — requests go through the targets' request lines (cpu/mailbox.ts): request and
 *                 ack in one cache line;
 *   early-ack / in-context — receiver side (applyShootdown), enabled by REQ_USER_ONLY.
 */
export function ipiPolicy(h: IpiHart, ownsLocalFlush = false): ShootdownPolicy {
  const payload = new Int32Array(7);
  const targets: number[] = [];
  const self = h.hctx.hartId;
  const spinNs = ackSpinNs(h.hctx.cpus);
  const opts = h.ipi?.opts ?? 0;
  const unsafe = h.ipi?.unsafe ?? 0;
  const concurrent = ownsLocalFlush && (opts & IPI_OPT_CONCURRENT) !== 0;
  const lines = (opts & IPI_OPT_CONSOLIDATE) !== 0;
  const port = h.hctx.port;
  let req = 0;
  const linesDone = (): boolean => port.linesAcked(targets, req);
  const flushLocal = (kctx: KernelContext, stale: Stale): void => {
    if (ownsLocalFlush) localInvalidate(kctx, stale);
    catchUpLocal(h, stale);
  };
  return {
    name: 'ipi',
    ownsLocalFlush,
    invalidate(kctx: KernelContext, stale: Stale, release: StaleRelease): boolean {
      const as = stale.as;
      targets.length = 0;
      // The active mask, read after the generation bump (completeShootdown did it): see switch.ts.
      const aw = asWord(kctx, as.slot, AS_ACTIVE);
      for (let k = 0; k * 32 < h.hctx.cpus; k++) {
        const bits = Atomics.load(kctx.ctl.i32, aw + k);
        if (bits === 0) continue;
        for (let b = 0; b < 32; b++) if (bits & (1 << b) && k * 32 + b !== self) targets.push(k * 32 + b);
      }
      if (targets.length === 0) {
        flushLocal(kctx, stale);
        return true;
      }
      const t0 = timeNs(); // virtual ns in deterministic mode (cpu/vclock.ts)
      if (!concurrent) flushLocal(kctx, stale); // plain order: local flush, then the remote step
      const whole = stale.whole || stale.npages > ceilingPages(kctx.ctl);
      payload[0] = as.slot;
      payload[1] = stale.generation;
      payload[2] = whole ? 0 : stale.vpnStart % TWO32 | 0;
      payload[3] = whole ? 0 : Math.floor(stale.vpnStart / TWO32);
      payload[4] = whole ? -1 : stale.npages;
      const w = h.hctx.trace;
      payload[5] = w === null ? 0 : traceShootdownStart(w, targets, whole ? 0 : stale.vpnStart * PAGE_SIZE, whole ? -1 : stale.npages);
      // User pages only (the whole space counts: the kernel half is never changed) and no table freed.
      const userOnly = release.tables.length === 0 && (stale.whole || stale.vpnEnd * PAGE_SIZE <= USER_TOP);
      payload[6] = userOnly ? REQ_USER_ONLY : 0;
      let ticket = 0;
      if (lines) {
        req = port.sendLine(targets, MSG_KIND_SHOOTDOWN, payload);
        h.stats.bump(ST_SD_LINES, targets.length);
      } else {
        ticket = port.send(targets, MSG_KIND_SHOOTDOWN, payload);
      }
      if (concurrent) {
        // The targets flush now; so does this hart. UNSAFE control: it relies on theirs and skips its own.
        if (unsafe & IPI_OPT_CONCURRENT) catchUpLocal(h, stale);
        else flushLocal(kctx, stale);
      }
      if (lines) ackWaitUntil(h, linesDone, spinNs);
      else ackWait(h, ticket, spinNs);
      traceEmitShootdownDone(w, payload[5]!);
      h.stats.recordLatency(timeNs() - t0);
      h.stats.bump(ST_SD_SENT);
      h.stats.bump(ST_SD_IPIS, targets.length);
      return true;
    },
  };
}

/** ackWait for any condition (consolidated line acks): spin `spinNs`, then block (InterruptPort.waitUntil). */
export function ackWaitUntil(h: IpiHart, done: () => boolean, spinNs: number): void {
  const port = h.hctx.port;
  if (done()) return;
  if (activeBaton() !== null) return port.waitUntil(done); // deterministic mode: no one acks during a spin
  const end = performance.now() + spinNs / 1e6;
  for (let k = 1; ; k++) {
    if (done()) return;
    if (port.anyPending()) port.poll();
    if (k % SPIN_CLOCK_EVERY === 0 && performance.now() >= end) break;
  }
  port.waitUntil(done);
}

/** The local-only policy as a named choice (unsafe with threads on several harts: tests' negative control). */
export function localOnlyPolicy(h: IpiHart): ShootdownPolicy {
  return { name: 'local', invalidate: (_k, stale) => { catchUpLocal(h, stale); return true; } };
}

/**
 * This hart starts traced shootdown toward `targets` (va/pages; pages -1 = the whole ASID):
 * a new id (TraceWriter.nextShootdownId), recorded as shootdown-start; returns the id, which
 * travels in the request so each target's receive and ack pair up with it.
 */
export function traceShootdownStart(w: TraceWriter, targets: readonly number[], va: number, pages: number): number {
  const id = w.nextShootdownId();
  let mask = 0;
  for (const t of targets) mask += 2 ** t;
  traceEmitShootdownStart(w, id, mask, va, pages);
  return id;
}

/** Serve one MSG_KIND_SHOOTDOWN on this hart (install with hctx.onInterrupt); traced receive, flush, ack. */
export function serveShootdown(h: IpiHart, kctx: KernelContext, msg: MailboxMessage): void {
  const w = h.hctx.trace;
  const t0 = h.ipi === undefined ? 0 : timeNs(); // virtual ns in deterministic mode
  if (w === null) {
    applyShootdown(h, kctx, msg, null);
  } else {
    const id = msg.payload[5]!;
    applyShootdown(h, kctx, msg, w);
    traceEmitShootdownAck(w, id, msg.sender); // the mailbox acknowledges as this returns (unless acked early)
  }
  if (h.ipi !== undefined) {
    // Ack here (unless acked early) so the target interrupt time covers the ack for every variant.
    h.hctx.port.acknowledgeEarly(msg);
    h.stats.bump(ST_SD_RECV_NS, timeNs() - t0);
  }
}

/** serveShootdown's work: decide, record the receive (w non-null), flush. */
function applyShootdown(h: IpiHart, kctx: KernelContext, msg: MailboxMessage, w: TraceWriter | null): void {
  const slot = msg.payload[0]!;
  const newGen = msg.payload[1]!;
  const npages = msg.payload[4]!;
  const id = msg.payload[5]!;
  h.stats.bump(ST_SD_RECV);
  const i = h.table.find(slot);
  if (i < 0 || h.table.loaded !== i || !h.running()) {
    // Not running that space: leave its mask lazily; the stale entry (if any) flushes at switch-in.
    traceEmitShootdownRecv(w, id, msg.sender, false);
    const hid = h.hctx.hartId;
    Atomics.and(kctx.ctl.i32, asWord(kctx, slot, AS_ACTIVE) + (hid >> 5), ~(1 << (hid & 31)));
    h.stats.bump(ST_SD_RECV_LAZY);
    return;
  }
  const local = h.table.gen(i);
  const mmGen = Atomics.load(kctx.ctl.i32, asWord(kctx, slot, AS_GEN));
  if (local >= newGen || local >= mmGen) {
    traceEmitShootdownRecv(w, id, msg.sender, false);
    h.stats.bump(ST_SD_RECV_CURRENT);
    return;
  }
  traceEmitShootdownRecv(w, id, msg.sender, true);
  const o = h.ipi;
  if (o !== undefined && o.opts & (IPI_OPT_EARLY_ACK | IPI_OPT_IN_CONTEXT)) {
    const userOnly = (msg.payload[6]! & REQ_USER_ONLY) !== 0;
    if (userOnly && o.opts & IPI_OPT_IN_CONTEXT) {
      // In-context: owe the flush to the return to guest code (beforeUser); the port acks now.
      o.pending = true;
      h.stats.bump(ST_SD_IN_CONTEXT);
      return;
    }
    if (o.opts & IPI_OPT_EARLY_ACK) {
      if (userOnly) {
        // Early ack: the request is copied (msg) and no guest code runs here before the flush below.
        h.hctx.port.acknowledgeEarly(msg);
        h.stats.bump(ST_SD_EARLY_ACK);
        if (o.unsafe & IPI_OPT_EARLY_ACK) { // UNSAFE control: guest code runs before the flush
          o.pending = true;
          o.holdReturns = 1;
          return;
        }
      } else {
        h.stats.bump(ST_SD_ACK_LATE); // page-table pages freed: flush, then ack
      }
    }
  }
  const hw = h.table.hwAsidOf(i);
  const asid = w === null ? 0 : kctx.ctl.i32[asWord(kctx, slot, AS_ASID)]!; // the global ASID, as kernel flushes name it
  if (npages >= 0 && local === newGen - 1 && newGen === mmGen) {
    const vpn = (msg.payload[2]! >>> 0) + msg.payload[3]! * TWO32;
    flushRange(h.hart, hw, vpn, npages);
    h.table.setGen(i, newGen);
    h.stats.bump(ST_SD_RECV_RANGE);
    traceEmitFlush(w, npages === 1 ? FLUSH_PAGE : FLUSH_RANGE, CAUSE_SHOOTDOWN, asid, vpn * PAGE_SIZE, npages);
    return;
  }
  h.hart.sfenceVma(null, 0, hw);
  h.table.setGen(i, mmGen);
  h.stats.bump(ST_SD_RECV_FULL);
  traceEmitFlush(w, FLUSH_ASID, CAUSE_SHOOTDOWN, asid, 0, 0);
}

/**
 * Wrap `inner` so the frames a shootdown frees are poisoned first (POISON_WORD in every word):
 * the remote step runs, then frames whose last reference goes are filled, then released.
 */
export function poisoning(inner: ShootdownPolicy): ShootdownPolicy {
  return {
    name: `${inner.name}+poison`,
    ownsLocalFlush: inner.ownsLocalFlush,
    invalidate(kctx: KernelContext, stale: Stale, release: StaleRelease): boolean {
      if (!inner.invalidate(kctx, stale, release)) return false;
      const u32 = kctx.ram.i32;
      for (const ppn of release.frames) {
        if (kctx.frames.refcount(ppn) === 1) u32.fill(POISON_WORD, (ppn * PAGE_SIZE) / 4, ((ppn + 1) * PAGE_SIZE) / 4);
      }
      releaseFrames(kctx, release);
      return false;
    },
  };
}
