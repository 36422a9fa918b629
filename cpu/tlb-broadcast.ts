/**
 * Broadcast TLB invalidation — hardware (DESIGN.md 9), modelled on AMD's INVLPGB/TLBSYNC and
 * Arm's TLBI ...IS + DSB ISH: one hart invalidates a page range or a whole ASID in EVERY other
 * hart's TLB without interrupting their software, then waits until all of them have done it.
 *
 * The "instructions" are kernel calls into cpu/ (the kernel is TypeScript; it reaches the
 * hardware through calls like `Hart.sfenceVma`, never by executing RISC-V words), named after
 * the x86 ones:
 *
 *   invlpgb(asid, vpn, npages)  queue "invalidate pages [vpn, vpn + npages) tagged asid" on every
 *   invlpgbAsid(asid)           other hart / "invalidate every entry tagged asid"; returns at once
 *                               (INVLPGB is asynchronous: the "nosync" flavour Linux uses)
 *   tlbsync()                   wait until every hart has applied every broadcast THIS hart issued
 *                               before (TLBSYNC; Arm: DSB ISH after TLBI IS)
 *
 * The initiator's own TLB is not in the broadcast: the kernel flushes it with its ordinary
 * sfence.vma (kernel/mm/shootdown.ts localInvalidate), as Linux does for its own CPU.
 *
 * Model in shared memory: each hart has an invalidation queue — a Mailboxes block (cpu/mailbox.ts:
 * a bounded lock-free ring) in ctl region `tlbBroadcast` (kernel/layout.ts) — and a completion
 * counter, the ACKS word of its own block. invlpgb posts one entry per other hart with the ack
 * flag; the target's hardware applies it to its TLB and adds one to the initiator's counter;
 * tlbsync waits until the counter reached the number of entries posted. Because a hart applies
 * its queue in order and acknowledges after each flush, "counter reached my ticket" means every
 * entry I posted before is applied everywhere.
 *
 * Where the target applies (no kernel code runs there, no interrupt is taken):
 *   - between instruction batches, the point where the run loop polls its interrupt word
 *     (cpu/hart-run.ts): a nonzero queue PENDING word makes it call `apply` and continue the
 *     guest's batch — the guest is not descheduled and the kernel's handlers do not run;
 *   - inside any wait of the hart (ack wait, lock, futex, idle): InterruptPort.poll applies the
 *     queue first (attachBroadcast), and posting kicks the target's interrupt WAKE word so a
 *     blocked hart wakes, applies and sleeps again. In the emulator the worker thread must do the
 *     TLB work itself (the TLB is its private memory); it does it in cpu/ code, like hardware.
 *
 * Waiting is bounded and live: tlbsync (and a post to a full queue) keeps applying this hart's
 * own queue and calls `serve` (the kernel's mailbox service, which throws when the machine
 * stops), so two harts that broadcast at each other while both wait in tlbsync both progress.
 */
import type { Hart } from './hart.ts';
import { MB_ACKS, MB_PENDING, MB_WAKE, MAILBOX_FULL_BACKOFF_MS, MAILBOX_WAIT_SLICE_MS, MailboxMessage, Mailboxes, MSG_FLAG_ACK, type BroadcastSink } from './mailbox.ts';
import { PAGE_SIZE } from './ram.ts';
import { activeBaton, relaxWait } from './baton.ts';

/** Queue entry kinds. Payload: asid, vpn low 32 bits, vpn high bits, npages. */
export const BC_KIND_PAGES = 1;
export const BC_KIND_ASID = 2;

const TWO32 = 4294967296;
/** Spin rounds between two clock reads in tlbsync's spin phase. */
const SPIN_CLOCK_EVERY = 64;

/** One hart's broadcast-invalidation unit. Only hart `hartId` calls its methods. */
export class BroadcastUnit implements BroadcastSink {
  readonly pendingIndex: number;
  /** The Int32Array `pendingIndex` indexes (ctl). */
  readonly queuesWord: Int32Array;
  private readonly i32: Int32Array;
  private readonly acksIndex: number;
  private readonly wakeIndex: number;
  private readonly msg = new MailboxMessage();
  private readonly payload = new Int32Array(4);
  private expected: number;
  /** Entries this hart's hardware applied (targets' side), ever. */
  applied = 0;

  /**
   * `queues`: every hart's invalidation queue (a Mailboxes set whose kicks go to the interrupt
   * mailboxes); `irq`: the interrupt mailboxes (this hart sleeps on its WAKE word); `hart`: the
   * TLB the queue applies to; `serve`: serve this hart's interrupt mailbox and throw when the
   * machine stopped (called between bounded waits).
   */
  constructor(
    private readonly queues: Mailboxes,
    irq: Mailboxes,
    readonly hartId: number,
    private readonly hart: Hart,
    private readonly serve: () => void,
  ) {
    this.i32 = queues.i32;
    this.queuesWord = queues.i32;
    this.pendingIndex = queues.word(hartId, MB_PENDING);
    this.acksIndex = queues.word(hartId, MB_ACKS);
    this.wakeIndex = irq.word(hartId, MB_WAKE);
    this.expected = Atomics.load(this.i32, this.acksIndex);
  }

  /** INVLPGB: invalidate pages [vpn, vpn + npages) of `asid` on every other hart (asynchronous). */
  invlpgb(asid: number, vpn: number, npages: number): void {
    const p = this.payload;
    p[0] = asid;
    p[1] = vpn % TWO32 | 0;
    p[2] = Math.floor(vpn / TWO32);
    p[3] = npages;
    this.post(BC_KIND_PAGES);
  }

  /** INVLPGB with the "all addresses of this ASID" form (asynchronous). */
  invlpgbAsid(asid: number): void {
    const p = this.payload;
    p[0] = asid;
    p[1] = p[2] = p[3] = 0;
    this.post(BC_KIND_ASID);
  }

  /** True once every hart applied every broadcast this hart issued so far. */
  synced(): boolean {
    return ((Atomics.load(this.i32, this.acksIndex) - this.expected) | 0) >= 0;
  }

  /**
   * TLBSYNC: wait until every broadcast this hart issued is applied on every hart. Spins about
   * `spinNs` (applying its own queue, serving its mailbox), then blocks in slices of
   * MAILBOX_WAIT_SLICE_MS, calling `serve` between them. Returns true when it had to wait.
   */
  tlbsync(spinNs: number): boolean {
    if (this.synced()) return false;
    const end = performance.now() + spinNs / 1e6;
    for (let k = 1; activeBaton() === null; k++) { // no spin in deterministic mode: nobody else runs meanwhile
      if (this.synced()) return true;
      if (Atomics.load(this.i32, this.pendingIndex) !== 0) this.apply();
      if (k % SPIN_CLOCK_EVERY === 0) {
        this.serve();
        if (performance.now() >= end) break;
      }
    }
    for (;;) {
      const seen = Atomics.load(this.i32, this.wakeIndex);
      if (this.synced()) return true;
      this.apply();
      this.serve();
      if (this.synced()) return true;
      relaxWait(this.i32, this.wakeIndex, seen, MAILBOX_WAIT_SLICE_MS);
    }
  }

  /** Apply every queued invalidation to this hart's TLB, acknowledging each; returns how many. */
  apply(): number {
    let n = 0;
    const m = this.msg;
    while (this.queues.tryReceive(this.hartId, m)) {
      const asid = m.payload[0]!;
      if (m.kind === BC_KIND_ASID) {
        this.hart.sfenceVma(null, 0, asid);
      } else {
        const vpn = (m.payload[1]! >>> 0) + m.payload[2]! * TWO32;
        const end = vpn + m.payload[3]!;
        for (let v = vpn; v < end; v++) {
          const va = v * PAGE_SIZE; // exact in a double; the split of cpu/pte.ts vaLoHi
          this.hart.sfenceVma(va % TWO32 | 0, Math.floor(va / TWO32) | 0, asid);
        }
      }
      this.queues.acknowledge(m); // after the flush: the initiator's tlbsync counts it
      n++;
    }
    this.applied += n;
    return n;
  }

  /** Post the payload as `kind` to every other hart, waiting (live) while a queue is full. */
  private post(kind: number): void {
    const harts = this.queues.harts;
    for (let to = 0; to < harts; to++) {
      if (to === this.hartId) continue;
      this.expected = (this.expected + 1) | 0;
      while (!this.queues.tryPost(to, this.hartId, kind, MSG_FLAG_ACK, 0, this.payload)) {
        const seen = Atomics.load(this.i32, this.wakeIndex);
        this.apply();
        this.serve();
        relaxWait(this.i32, this.wakeIndex, seen, MAILBOX_FULL_BACKOFF_MS);
      }
    }
  }
}
