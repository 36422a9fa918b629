/**
 * Interrupt mailboxes: the inter-processor-interrupt wire between harts.
 *
 * Every hart owns one MAILBOX_BYTES block in the control SharedArrayBuffer ("ctl");
 * kernel/layout.ts places the blocks (this module must not import kernel/, so the
 * layout imports the size constants below). Any hart — or the host thread, as sender
 * MAILBOX_SENDER_HOST — posts a message into a hart's bounded queue; the owner
 * consumes it. One block (Int32 word offsets from the block base):
 *
 *   word  0  PENDING   messages posted and not yet consumed. The hart's run loop polls it
 *                      between instruction batches with one `Atomics.load` (nonzero = serve).
 *                      Senders Atomics.add +1 BEFORE publishing; the owner −1 after consuming,
 *                      so PENDING >= published-unconsumed messages and never goes negative.
 *   word  1  WAKE      event sequence: +1 (then Atomics.notify) on every post, ack and kick.
 *                      A blocked hart waits here: read WAKE, re-check, Atomics.wait(WAKE, seen).
 *                      Any event after the read changes WAKE, so no wake-up is ever lost.
 *   word  2  ACKS      acknowledgements this hart has received as a sender (monotonic, wraps).
 *                      Receivers Atomics.add; only the owner compares it against its tickets.
 *   word  3  SENT      next message id of this hart as a sender (owner-only, plain writes).
 *   word  4  LINES     consolidated requests posted to this hart and not yet served (see below):
 *                      Atomics.add +1 by the sender before publishing, −1 by the owner after
 *                      serving; the owner scans its request lines only while it is nonzero.
 *   word 16  TAIL      producers' claim counter (Atomics.compareExchange), own cache line.
 *   word 17  HEAD      consumer position (owner-only writes).
 *   word 32+ slots     MAILBOX_SLOTS slots of MAILBOX_SLOT_WORDS words (64 bytes each):
 *                      SEQ KIND SENDER FLAGS ID PAYLOAD[MAILBOX_PAYLOAD_WORDS] (pad).
 *   word 288+ lines    MAILBOX_LINES request lines of 16 words (64 bytes: one cache line each),
 *                      line s for requests from hart s: REQ ACK KIND PAYLOAD[MAILBOX_PAYLOAD_WORDS].
 *
 * The queue is Vyukov's bounded MPMC ring restricted to one consumer: slot SEQ == pos means
 * free for the producer that claims position pos; the producer fills the slot and stores
 * SEQ = pos+1 (the store that hands the message to the consumer); the consumer reads it and
 * stores SEQ = pos+MAILBOX_SLOTS (the store that hands the slot back). Positions wrap in
 * int32; all comparisons use `(a - b) | 0`.
 *
 * Acknowledgement: a message posted with MSG_FLAG_ACK is acknowledged by the receiver after
 * its handler ran (`acknowledge`): +1 on the sender's ACKS, then a WAKE bump. A sender that
 * posted k acked messages expects its ACKS to reach ticket = ACKS_before + k. Because a hart
 * waits for its own tickets in stack order (a nested send while serving completes before the
 * outer wait resumes), a single monotonic counter is enough. While waiting, the sender keeps
 * serving its own mailbox, so two harts that interrupt each other at once never deadlock.
 *
 * Consolidated requests (cacheline consolidation, Amit et al.: the request and its ack in one
 * line; `InterruptPort.sendLine`, used by the ipi policy's `consolidate` option). Sender s
 * owns line s of every target's block; one request per line at a time. The sender writes KIND
 * and PAYLOAD, Atomics.add +1 on the target's LINES and PENDING, then Atomics.store REQ = its
 * request number (the store that hands the request to the target) and kicks. The target, when
 * its LINES is nonzero, scans its lines: REQ != ACK means a request; it copies KIND and PAYLOAD
 * out of the line, runs the handler and Atomics.store ACK = REQ in the SAME line (the ack; a
 * handler may ack earlier, after the copy: `acknowledgeEarly`), kicks the sender and −1 on
 * LINES and PENDING. The sender waits until every target's line shows ACK == REQ. A ring
 * request touches the slot's line, the target's TAIL line and the sender's ACKS line (shared by
 * every target acking that sender); a line request touches the line and the target's PENDING
 * word, and the acks of different targets land on different lines. The line may be written
 * again as soon as its ACK is stored, so a target reads it before acking, never after.
 */
import { relaxWait } from './baton.ts';

/** Int32 word offsets inside one mailbox block. */
export const MB_PENDING = 0;
export const MB_WAKE = 1;
export const MB_ACKS = 2;
export const MB_SENT = 3;
export const MB_LINES = 4;
export const MB_TAIL = 16;
export const MB_HEAD = 17;
export const MB_SLOTS_BASE = 32;

/** Slot word offsets (from the slot base). */
export const SLOT_SEQ = 0;
export const SLOT_KIND = 1;
export const SLOT_SENDER = 2;
export const SLOT_FLAGS = 3;
export const SLOT_ID = 4;
export const SLOT_PAYLOAD = 5;

/** Request-line word offsets (from the line base). */
export const LINE_REQ = 0;
export const LINE_ACK = 1;
export const LINE_KIND = 2;
export const LINE_PAYLOAD = 3;

export const MAILBOX_SLOTS = 16; // power of two
export const MAILBOX_PAYLOAD_WORDS = 8;
export const MAILBOX_SLOT_WORDS = 16; // 64 bytes: one slot per cache line
/** Request lines per block: one per possible sender (the machine's hart limit). */
export const MAILBOX_LINES = 64;
export const MAILBOX_LINE_WORDS = 16; // 64 bytes: request and ack in one cache line
export const MB_LINES_BASE = MB_SLOTS_BASE + MAILBOX_SLOTS * MAILBOX_SLOT_WORDS;
/** Bytes of one hart's mailbox block (a multiple of 64). */
export const MAILBOX_BYTES = (MB_LINES_BASE + MAILBOX_LINES * MAILBOX_LINE_WORDS) * 4;
/** Required alignment of a mailbox block in ctl. */
export const MAILBOX_ALIGN = 64;

/** Sender id of messages posted by the host (main) thread; they cannot request an ack. */
export const MAILBOX_SENDER_HOST = -1;
/** Message flag: the receiver acknowledges after handling. */
export const MSG_FLAG_ACK = 1;

/** Message kinds known to the hardware layer. Kernel kinds start at MSG_KIND_USER. */
export const MSG_KIND_NOP = 0; // a plain interrupt: ack only
export const MSG_KIND_COMMAND = 1; // host → hart: a command waits on the hart's command port
export const MSG_KIND_USER = 16;

/** Owner-side wait slice (ms): how long a waiting hart blocks before re-checking halt etc. */
export const MAILBOX_WAIT_SLICE_MS = 1;
/** Back-off (ms) of a sender that found a target queue full, after serving its own mailbox. */
export const MAILBOX_FULL_BACKOFF_MS = 0.05;

/** A received message, filled in place (no allocation on the receive path). */
export class MailboxMessage {
  kind = 0;
  sender = 0;
  flags = 0;
  id = 0;
  readonly payload = new Int32Array(MAILBOX_PAYLOAD_WORDS);
  /** Word index of the request line it came in (-1: the ring); its request number in `id`. */
  line = -1;
  /** Acknowledged already (InterruptPort.acknowledgeEarly): the port does not ack it again. */
  acked = false;
}

/**
 * What InterruptPort needs of a hart's broadcast-invalidation unit (cpu/tlb-broadcast.ts):
 * the word index (in the same ctl Int32Array) of its queue's PENDING word, and `apply`.
 */
export interface BroadcastSink {
  readonly pendingIndex: number;
  /** Apply every queued invalidation to this hart's TLB and acknowledge each; returns how many. */
  apply(): number;
}

/** Handler that serves one received message (runs on the receiving hart). */
export type InterruptHandler = (msg: MailboxMessage) => void;

/** The mailbox blocks of all harts: the raw wire, usable from any thread. */
export class Mailboxes {
  readonly i32: Int32Array;
  readonly harts: number;
  private readonly base: number; // word index of hart 0's block
  private static readonly strideWords = MAILBOX_BYTES / 4;
  /** Where kicks go: this set's own WAKE words, or another set's (cpu/tlb-broadcast.ts). */
  private readonly wakeVia: Mailboxes | null;

  /**
   * Attach to `harts` mailbox blocks starting at `byteOffset` (64-byte aligned) of `sab`.
   * Does not initialise; the creator calls Mailboxes.initialize once before any use.
   * `wakeVia`: kick that set's WAKE words instead of this one's (a second queue per hart — the
   * broadcast-invalidation queues — whose owner sleeps on its interrupt mailbox's WAKE word).
   */
  constructor(sab: SharedArrayBuffer, byteOffset: number, harts: number, wakeVia: Mailboxes | null = null) {
    this.wakeVia = wakeVia;
    if (byteOffset % MAILBOX_ALIGN !== 0) throw new Error(`Mailboxes: byteOffset ${byteOffset} is not 64-byte aligned`);
    if (byteOffset + harts * MAILBOX_BYTES > sab.byteLength) throw new Error('Mailboxes: blocks exceed the buffer');
    this.i32 = new Int32Array(sab);
    this.harts = harts;
    this.base = byteOffset / 4;
  }

  /** Initialise `harts` empty mailboxes at `byteOffset` (run once, before any hart attaches). */
  static initialize(sab: SharedArrayBuffer, byteOffset: number, harts: number): void {
    const mb = new Mailboxes(sab, byteOffset, harts);
    mb.i32.fill(0, mb.base, mb.base + harts * Mailboxes.strideWords);
    for (let h = 0; h < harts; h++) {
      for (let s = 0; s < MAILBOX_SLOTS; s++) mb.i32[mb.slotBase(h, s) + SLOT_SEQ] = s;
    }
  }

  /** Word index (into i32) of field `field` (MB_*) of hart `hartId`'s block. */
  word(hartId: number, field: number): number {
    return this.base + hartId * Mailboxes.strideWords + field;
  }

  /** Word index of hart `hartId`'s PENDING word: the run loop polls `Atomics.load(i32, idx) !== 0`. */
  pendingIndex(hartId: number): number {
    return this.word(hartId, MB_PENDING);
  }

  private slotBase(hartId: number, slot: number): number {
    return this.word(hartId, MB_SLOTS_BASE + slot * MAILBOX_SLOT_WORDS);
  }

  /**
   * Post one message to hart `to` without blocking. Returns false when its queue is full
   * (the caller serves its own mailbox and retries; see InterruptPort.send).
   */
  tryPost(to: number, sender: number, kind: number, flags: number, id: number, payload?: ArrayLike<number>): boolean {
    if (!(to >= 0 && to < this.harts)) throw new RangeError(`Mailboxes.tryPost: no hart ${to}`);
    if (payload && payload.length > MAILBOX_PAYLOAD_WORDS) {
      throw new RangeError(`Mailboxes.tryPost: payload has ${payload.length} words, at most ${MAILBOX_PAYLOAD_WORDS}`);
    }
    if (sender === MAILBOX_SENDER_HOST && flags & MSG_FLAG_ACK) {
      throw new Error('Mailboxes.tryPost: the host cannot request an acknowledgement');
    }
    const i32 = this.i32;
    const tailIdx = this.word(to, MB_TAIL);
    let pos: number;
    let slot: number;
    for (;;) {
      pos = Atomics.load(i32, tailIdx);
      slot = this.slotBase(to, pos & (MAILBOX_SLOTS - 1));
      const dif = (Atomics.load(i32, slot + SLOT_SEQ) - pos) | 0;
      if (dif === 0) {
        if (Atomics.compareExchange(i32, tailIdx, pos, (pos + 1) | 0) === pos) break;
      } else if (dif < 0) {
        return false; // full: the slot still holds an unconsumed message from a lap ago
      }
      // dif > 0: another producer claimed pos first; reload the tail (lock-free, bounded by harts).
    }
    i32[slot + SLOT_KIND] = kind;
    i32[slot + SLOT_SENDER] = sender;
    i32[slot + SLOT_FLAGS] = flags;
    i32[slot + SLOT_ID] = id;
    const n = payload ? payload.length : 0;
    for (let k = 0; k < MAILBOX_PAYLOAD_WORDS; k++) i32[slot + SLOT_PAYLOAD + k] = k < n ? payload![k]! : 0;
    Atomics.add(i32, this.word(to, MB_PENDING), 1); // before publishing: PENDING never undercounts
    Atomics.store(i32, slot + SLOT_SEQ, (pos + 1) | 0); // hands the message to the consumer
    this.kick(to);
    return true;
  }

  /**
   * Owner only: take the oldest published message of hart `hartId` into `out`.
   * Returns false when nothing is published yet.
   */
  tryReceive(hartId: number, out: MailboxMessage): boolean {
    const i32 = this.i32;
    const headIdx = this.word(hartId, MB_HEAD);
    const pos = i32[headIdx]!;
    const slot = this.slotBase(hartId, pos & (MAILBOX_SLOTS - 1));
    if (((Atomics.load(i32, slot + SLOT_SEQ) - (pos + 1)) | 0) < 0) return false;
    out.kind = i32[slot + SLOT_KIND]!;
    out.sender = i32[slot + SLOT_SENDER]!;
    out.flags = i32[slot + SLOT_FLAGS]!;
    out.id = i32[slot + SLOT_ID]!;
    out.line = -1;
    out.acked = false;
    for (let k = 0; k < MAILBOX_PAYLOAD_WORDS; k++) out.payload[k] = i32[slot + SLOT_PAYLOAD + k]!;
    Atomics.store(i32, slot + SLOT_SEQ, (pos + MAILBOX_SLOTS) | 0); // hands the slot back to producers
    i32[headIdx] = (pos + 1) | 0;
    Atomics.sub(i32, this.word(hartId, MB_PENDING), 1);
    return true;
  }

  /** Acknowledge `msg` to its sender if it asked for it (receiver side, after handling). */
  acknowledge(msg: MailboxMessage): void {
    if (msg.line >= 0) {
      Atomics.store(this.i32, msg.line + LINE_ACK, msg.id); // the ack, in the request's own line
      this.kick(msg.sender);
      return;
    }
    if (!(msg.flags & MSG_FLAG_ACK)) return;
    Atomics.add(this.i32, this.word(msg.sender, MB_ACKS), 1);
    this.kick(msg.sender);
  }

  /** Word index of the request line of sender `from` in hart `to`'s block. */
  lineBase(to: number, from: number): number {
    return this.word(to, MB_LINES_BASE + from * MAILBOX_LINE_WORDS);
  }

  /**
   * Post request number `req` (nonzero, never the line's previous one) from hart `sender` into
   * its line of hart `to`'s block. Returns false while the line's previous request is not yet
   * acknowledged (one request per line; the caller serves its own mailbox and retries).
   */
  tryPostLine(to: number, sender: number, kind: number, req: number, payload: ArrayLike<number>): boolean {
    if (!(to >= 0 && to < this.harts) || !(sender >= 0 && sender < MAILBOX_LINES)) throw new RangeError(`Mailboxes.tryPostLine: no line ${sender} at hart ${to}`);
    if (payload.length > MAILBOX_PAYLOAD_WORDS) throw new RangeError(`Mailboxes.tryPostLine: payload has ${payload.length} words, at most ${MAILBOX_PAYLOAD_WORDS}`);
    const i32 = this.i32;
    const line = this.lineBase(to, sender);
    if (Atomics.load(i32, line + LINE_ACK) !== i32[line + LINE_REQ]) return false;
    i32[line + LINE_KIND] = kind;
    for (let k = 0; k < MAILBOX_PAYLOAD_WORDS; k++) i32[line + LINE_PAYLOAD + k] = k < payload.length ? payload[k]! : 0;
    Atomics.add(i32, this.word(to, MB_LINES), 1); // before publishing, as PENDING
    Atomics.add(i32, this.word(to, MB_PENDING), 1);
    Atomics.store(i32, line + LINE_REQ, req); // hands the request to the target
    this.kick(to);
    return true;
  }

  /**
   * Owner only: take the first unserved request in hart `hartId`'s lines into `out` (its line
   * in out.line, its number in out.id). `afterAck` (negative control only, UNSAFE): acknowledge
   * the request BEFORE copying it and call afterAck halfway through the copy — a line may be
   * rewritten once acked, so the copy can come out torn (half one request, half the next).
   * Returns false when no line holds an unserved request.
   */
  tryReceiveLine(hartId: number, out: MailboxMessage, afterAck: (() => void) | null = null): boolean {
    const i32 = this.i32;
    if (Atomics.load(i32, this.word(hartId, MB_LINES)) === 0) return false;
    for (let s = 0; s < this.harts && s < MAILBOX_LINES; s++) {
      const line = this.lineBase(hartId, s);
      const req = Atomics.load(i32, line + LINE_REQ);
      if (req === Atomics.load(i32, line + LINE_ACK)) continue;
      out.sender = s;
      out.flags = MSG_FLAG_ACK;
      out.id = req;
      out.line = line;
      out.acked = false;
      if (afterAck !== null) { // UNSAFE order: ack, read half the line, window, read the rest
        this.acknowledge(out);
        out.acked = true;
      }
      out.kind = i32[line + LINE_KIND]!;
      for (let k = 0; k < MAILBOX_PAYLOAD_WORDS; k++) {
        if (k === MAILBOX_PAYLOAD_WORDS >> 1 && afterAck !== null) afterAck();
        out.payload[k] = i32[line + LINE_PAYLOAD + k]!;
      }
      Atomics.sub(i32, this.word(hartId, MB_LINES), 1);
      Atomics.sub(i32, this.word(hartId, MB_PENDING), 1);
      return true;
    }
    return false;
  }

  /** True once hart `to` acknowledged request `req` in `from`'s line (sender side). */
  lineAcked(to: number, from: number, req: number): boolean {
    return Atomics.load(this.i32, this.lineBase(to, from) + LINE_ACK) === req;
  }

  /** Wake hart `hartId` if it is blocked, without a message (used for shutdown and acks). */
  kick(hartId: number): void {
    if (this.wakeVia !== null) return this.wakeVia.kick(hartId);
    const w = this.word(hartId, MB_WAKE);
    Atomics.add(this.i32, w, 1);
    Atomics.notify(this.i32, w);
  }

  /** Number of messages posted to `hartId` and not yet consumed (racy snapshot). */
  pending(hartId: number): number {
    return Atomics.load(this.i32, this.word(hartId, MB_PENDING));
  }
}

/**
 * One hart's side of the wire: send with acknowledgements, serve, block until an event.
 * Only hart `hartId` uses its port. `handler` serves each received message; the port
 * acknowledges after the handler returns. `check` (optional) is called between waits and
 * may throw to abandon a wait (e.g. when the machine halts) — waits never hang.
 */
export class InterruptPort {
  readonly hartId: number;
  readonly mailboxes: Mailboxes;
  readonly i32: Int32Array;
  /** Word index of this hart's PENDING word (poll with Atomics.load between batches). */
  readonly pendingIndex: number;
  private readonly wakeIndex: number;
  private readonly acksIndex: number;
  private readonly sentIndex: number;
  private readonly msg = new MailboxMessage();
  private expectedAcks: number;
  /** The hart's broadcast-invalidation unit (cpu/tlb-broadcast.ts), drained by every poll; null = none. */
  private bcast: BroadcastSink | null = null;
  private bcastPending = -1;
  /** Number of this hart's last line request (sendLine); the next one is +1 (never 0). */
  private lineReq = 0;
  /** Negative control (UNSAFE): tryReceiveLine's afterAck — lines acknowledged before they are read. */
  private lineAckFirst: (() => void) | null = null;

  constructor(
    mailboxes: Mailboxes,
    hartId: number,
    private readonly handler: InterruptHandler,
    private readonly check: () => void = () => {},
  ) {
    this.hartId = hartId;
    this.mailboxes = mailboxes;
    this.i32 = mailboxes.i32;
    this.pendingIndex = mailboxes.word(hartId, MB_PENDING);
    this.wakeIndex = mailboxes.word(hartId, MB_WAKE);
    this.acksIndex = mailboxes.word(hartId, MB_ACKS);
    this.sentIndex = mailboxes.word(hartId, MB_SENT);
    this.expectedAcks = Atomics.load(this.i32, this.acksIndex);
  }

  /**
   * Attach the hart's broadcast-invalidation unit: from now on every poll first lets it apply
   * the queued invalidations (hardware work, no handler runs), and idle returns when some wait.
   * So a hart that waits anywhere (ack wait, lock, idle) keeps applying broadcasts, and a tlbsync
   * on another hart never waits for this one's software.
   */
  attachBroadcast(sink: BroadcastSink): void {
    this.bcast = sink;
    this.bcastPending = sink.pendingIndex;
  }

  /** True when an interrupt or a broadcast invalidation waits for this hart (one or two Atomics.load). */
  anyPending(): boolean {
    return Atomics.load(this.i32, this.pendingIndex) !== 0 || (this.bcastPending >= 0 && Atomics.load(this.i32, this.bcastPending) !== 0);
  }

  /** Serve every message published to this hart now (ring and request lines); returns how many were served. */
  poll(): number {
    if (this.bcastPending >= 0 && Atomics.load(this.i32, this.bcastPending) !== 0) this.bcast!.apply();
    let served = 0;
    const msg = this.msg;
    while (this.mailboxes.tryReceive(this.hartId, msg) || this.mailboxes.tryReceiveLine(this.hartId, msg, this.lineAckFirst)) {
      this.handler(msg);
      if (!msg.acked) this.mailboxes.acknowledge(msg);
      served++;
    }
    return served;
  }

  /**
   * Acknowledge `msg` now, from inside its handler, before the handler's remaining work (early
   * acknowledgement); the port then does not acknowledge it again. The handler must have taken
   * all it needs from the message first (its payload is a copy: the ring slot or request line
   * it came from may be reused once acknowledged).
   */
  acknowledgeEarly(msg: MailboxMessage): void {
    if (msg.acked) return;
    this.mailboxes.acknowledge(msg);
    msg.acked = true;
  }

  /**
   * Negative control only (UNSAFE): request lines are acknowledged before they are read, with
   * `between` called in the window (null: off, the correct order).
   */
  setLineAckBeforeRead(between: (() => void) | null): void {
    this.lineAckFirst = between;
  }

  /**
   * Post `kind`/`payload` into this hart's request line of every hart in `targets` (cacheline
   * consolidation: see the file comment); returns the request number for linesAcked. A line
   * whose previous request is unacknowledged makes this hart serve its mailbox and retry.
   */
  sendLine(targets: ArrayLike<number>, kind: number, payload: ArrayLike<number>): number {
    const req = this.lineReq = (this.lineReq + 1) | 0 || 1;
    for (let t = 0; t < targets.length; t++) {
      const to = targets[t]!;
      if (to === this.hartId) throw new Error(`InterruptPort.sendLine: hart ${to} cannot interrupt itself`);
      while (!this.mailboxes.tryPostLine(to, this.hartId, kind, req, payload)) {
        const seen = Atomics.load(this.i32, this.wakeIndex);
        if (this.poll() === 0) {
          this.check();
          relaxWait(this.i32, this.wakeIndex, seen, MAILBOX_FULL_BACKOFF_MS);
        }
      }
    }
    return req;
  }

  /** True once every hart in `targets` acknowledged line request `req`. */
  linesAcked(targets: ArrayLike<number>, req: number): boolean {
    for (let t = 0; t < targets.length; t++) if (!this.mailboxes.lineAcked(targets[t]!, this.hartId, req)) return false;
    return true;
  }

  /**
   * Block until `done()` holds, serving this hart's mailbox meanwhile; blocks in slices of
   * MAILBOX_WAIT_SLICE_MS, calling `check` between them (waitForAcks for any condition that
   * an event on this hart's WAKE word announces: acks, line acks).
   */
  waitUntil(done: () => boolean): void {
    for (;;) {
      const seen = Atomics.load(this.i32, this.wakeIndex);
      if (done()) return;
      if (this.poll() !== 0) continue;
      this.check();
      relaxWait(this.i32, this.wakeIndex, seen, MAILBOX_WAIT_SLICE_MS);
    }
  }

  /**
   * Send message `kind` with `payload` to every hart in `targets` (never to itself).
   * With `ack`, returns a ticket for waitForAcks; without, returns the current ticket.
   * A full target queue makes this hart serve its own mailbox and back off, then retry.
   */
  send(targets: ArrayLike<number>, kind: number, payload?: ArrayLike<number>, ack = true): number {
    const flags = ack ? MSG_FLAG_ACK : 0;
    for (let t = 0; t < targets.length; t++) {
      const to = targets[t]!;
      if (to === this.hartId) throw new Error(`InterruptPort.send: hart ${to} cannot interrupt itself`);
      const id = this.i32[this.sentIndex]!;
      this.i32[this.sentIndex] = (id + 1) | 0;
      if (ack) this.expectedAcks = (this.expectedAcks + 1) | 0;
      while (!this.mailboxes.tryPost(to, this.hartId, kind, flags, id, payload)) {
        const seen = Atomics.load(this.i32, this.wakeIndex);
        if (this.poll() === 0) {
          this.check();
          relaxWait(this.i32, this.wakeIndex, seen, MAILBOX_FULL_BACKOFF_MS);
        }
      }
    }
    return this.expectedAcks;
  }

  /** True once every acknowledgement up to `ticket` has arrived. */
  acked(ticket: number): boolean {
    return ((Atomics.load(this.i32, this.acksIndex) - ticket) | 0) >= 0;
  }

  /**
   * Block until acknowledgements up to `ticket` arrived, serving this hart's own mailbox
   * meanwhile (no deadlock when harts interrupt each other). Spins `spin` rounds first
   * (useful when harts <= host cores), then blocks in slices of MAILBOX_WAIT_SLICE_MS,
   * calling `check` between slices.
   */
  waitForAcks(ticket: number, spin = 0): void {
    for (let i = 0; i < spin; i++) {
      if (this.acked(ticket)) return;
      if (this.anyPending()) this.poll();
    }
    for (;;) {
      const seen = Atomics.load(this.i32, this.wakeIndex);
      if (this.acked(ticket)) return;
      if (this.poll() !== 0) continue;
      this.check();
      relaxWait(this.i32, this.wakeIndex, seen, MAILBOX_WAIT_SLICE_MS);
    }
  }

  /**
   * Block until something happens to this hart (a message, an ack, a kick) or `timeoutMs`
   * passes. Consumes nothing: the caller polls afterwards. Returns at once if messages wait.
   */
  idle(timeoutMs: number): void {
    const seen = Atomics.load(this.i32, this.wakeIndex);
    if (this.anyPending()) return;
    Atomics.wait(this.i32, this.wakeIndex, seen, timeoutMs);
  }
}
