/**
 * Shootdown policy `per-page` — the naive baseline many teaching kernels use: for every page
 * whose PTE changed, one interrupt to every other hart in the active mask and one wait for
 * all their acknowledgements. A change of n pages costs n round trips (ipi: one). A change of
 * the whole space (exit, exec) goes as one whole-ASID message, as there is no page list.
 *
 * The page list is the Stale record's range, and that range is a bounding box, not a list:
 * fork write-protects pages from the program's data up to its stack (tens of millions of
 * pages apart), and a munmap that unlinks a whole page table records the table's entire span.
 * Sent page by page, such a change took hundreds of millions of round trips (guests/bin/mix
 * never finished). So a range above PER_PAGE_MAX_PAGES — one leaf page table, more than any
 * single mmap/munmap/mprotect of a real per-page kernel would walk page by page — also goes as
 * one whole-ASID message; every change that fits in it still costs one round trip per page.
 *
 * Receiver (MSG_KIND_PAGE_SHOOTDOWN, payload: AS slot, generation G, vpn lo, vpn hi, last,
 * trace id — each page message is its own traced shootdown):
 *   - space not loaded here, or the hart idle: leave the active mask lazily (switch-in
 *     flushes, the generation being bumped), ack;
 *   - already caught up to G: ack without flushing;
 *   - else flush that one page; on the LAST page of the change, the whole range is flushed:
 *     an entry exactly one generation behind catches up to G, one further behind flushes the
 *     whole ASID (older changes were not all flushed here).
 * Safe: the initiator returns (and frames are freed) only after every page was acknowledged.
 */
import { timeNs } from '../cpu/vclock.ts';
import { MSG_KIND_USER, type MailboxMessage } from '../cpu/mailbox.ts';
import type { KernelContext } from '../kernel/context.ts';
import type { ShootdownPolicy } from '../kernel/mm/shootdown.ts';
import type { Stale } from '../kernel/mm/stale.ts';
import {
  ST_SD_IPIS, ST_SD_RECV, ST_SD_RECV_CURRENT, ST_SD_RECV_FULL, ST_SD_RECV_LAZY, ST_SD_RECV_RANGE, ST_SD_SENT,
} from '../kernel/proc/layout.ts';
import { AS_ACTIVE, AS_ASID } from '../kernel/mm/layout.ts';
import { PAGE_SIZE } from '../cpu/ram.ts';
import {
  CAUSE_SHOOTDOWN, FLUSH_ASID, FLUSH_PAGE, traceEmitFlush, traceEmitShootdownAck, traceEmitShootdownDone,
  traceEmitShootdownRecv, type TraceWriter,
} from '../kernel/lab/trace.ts';
import { AsidTable } from './asid.ts';
import { asWord, AS_GEN, catchUpLocal } from './policy-common.ts';
import { ackSpinNs, ackWait, MSG_KIND_SHOOTDOWN, traceShootdownStart, type IpiHart } from './shootdown-ipi.ts';
import { flushRange } from './switch.ts';

/** Mailbox kind of one page of a per-page shootdown (clear of the kinds other modules use). */
export const MSG_KIND_PAGE_SHOOTDOWN = MSG_KIND_USER + 8;
/**
 * Largest range (pages) sent page by page: one leaf page table (2 MiB). A larger range is a
 * sparse bounding box (see the file comment) and goes as one whole-ASID message.
 */
export const PER_PAGE_MAX_PAGES = 512;
const TWO32 = 4294967296;

/** The `per-page` policy for one hart; `onMessages(n)` counts the page messages sent. */
export function perPagePolicy(h: IpiHart, onMessages: (n: number) => void): ShootdownPolicy {
  const payload = new Int32Array(6);
  const targets: number[] = [];
  const spinNs = ackSpinNs(h.hctx.cpus);
  return {
    name: 'per-page',
    invalidate(_kctx: KernelContext, stale: Stale): boolean {
      const w = h.hctx.trace;
      catchUpLocal(h, stale);
      const as = stale.as;
      targets.length = 0;
      for (const t of as.activeHarts()) if (t !== h.hctx.hartId) targets.push(t);
      if (targets.length === 0) return true;
      const t0 = timeNs(); // virtual ns in deterministic mode (cpu/vclock.ts)
      payload[0] = as.slot;
      payload[1] = stale.generation;
      let messages = 0;
      if (stale.whole || stale.npages > PER_PAGE_MAX_PAGES) {
        payload[2] = 0;
        payload[3] = 0;
        payload[4] = -1;
        payload[5] = w === null ? 0 : traceShootdownStart(w, targets, 0, -1);
        ackWait(h, h.hctx.port.send(targets, MSG_KIND_SHOOTDOWN, payload), spinNs);
        traceEmitShootdownDone(w, payload[5]!);
        messages = 1;
      } else {
        for (let vpn = stale.vpnStart; vpn < stale.vpnEnd; vpn++) {
          payload[2] = vpn % TWO32 | 0;
          payload[3] = Math.floor(vpn / TWO32);
          payload[4] = vpn === stale.vpnEnd - 1 ? 1 : 0;
          payload[5] = w === null ? 0 : traceShootdownStart(w, targets, vpn * PAGE_SIZE, 1);
          ackWait(h, h.hctx.port.send(targets, MSG_KIND_PAGE_SHOOTDOWN, payload), spinNs);
          traceEmitShootdownDone(w, payload[5]!);
          messages++;
        }
      }
      h.stats.recordLatency(timeNs() - t0);
      h.stats.bump(ST_SD_SENT);
      h.stats.bump(ST_SD_IPIS, targets.length * messages);
      onMessages(messages);
      return true;
    },
  };
}

/** Serve one MSG_KIND_PAGE_SHOOTDOWN on this hart (install with hctx.onInterrupt); traced receive, flushes, ack. */
export function servePageShootdown(h: IpiHart, kctx: KernelContext, msg: MailboxMessage): void {
  const w = h.hctx.trace;
  if (w === null) {
    applyPageShootdown(h, kctx, msg, null);
    return;
  }
  applyPageShootdown(h, kctx, msg, w);
  traceEmitShootdownAck(w, msg.payload[5]!, msg.sender); // the mailbox acknowledges as this returns
}

function applyPageShootdown(h: IpiHart, kctx: KernelContext, msg: MailboxMessage, w: TraceWriter | null): void {
  const id = msg.payload[5]!;
  const slot = msg.payload[0]!;
  const newGen = msg.payload[1]!;
  const last = msg.payload[4] === 1;
  h.stats.bump(ST_SD_RECV);
  const i = h.table.find(slot);
  const i32 = kctx.ctl.i32;
  if (i < 0 || h.table.loaded !== i || !h.running()) {
    traceEmitShootdownRecv(w, id, msg.sender, false);
    const hid = h.hctx.hartId;
    Atomics.and(i32, asWord(kctx.ctl, slot, AS_ACTIVE) + (hid >> 5), ~(1 << (hid & 31)));
    h.stats.bump(ST_SD_RECV_LAZY);
    return;
  }
  const local = h.table.gen(i);
  if (local >= newGen) {
    traceEmitShootdownRecv(w, id, msg.sender, false);
    h.stats.bump(ST_SD_RECV_CURRENT);
    return;
  }
  traceEmitShootdownRecv(w, id, msg.sender, true);
  const hw = h.table.hwAsidOf(i);
  const vpn = (msg.payload[2]! >>> 0) + msg.payload[3]! * TWO32;
  const asid = w === null ? 0 : i32[asWord(kctx.ctl, slot, AS_ASID)]!; // the global ASID, as kernel flushes name it
  flushRange(h.hart, hw, vpn, 1);
  traceEmitFlush(w, FLUSH_PAGE, CAUSE_SHOOTDOWN, asid, vpn * PAGE_SIZE, 1);
  h.stats.bump(ST_SD_RECV_RANGE);
  if (!last) return;
  if (local === newGen - 1) {
    h.table.setGen(i, newGen);
    return;
  }
  const mmGen = Atomics.load(i32, asWord(kctx.ctl, slot, AS_GEN));
  h.hart.sfenceVma(null, 0, hw);
  h.table.setGen(i, mmGen);
  h.stats.bump(ST_SD_RECV_FULL);
  traceEmitFlush(w, FLUSH_ASID, CAUSE_SHOOTDOWN, asid, 0, 0);
}
