import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InterruptPort, LINE_ACK, MAILBOX_ALIGN, MB_ACKS, MAILBOX_BYTES, MAILBOX_PAYLOAD_WORDS, MAILBOX_SENDER_HOST, MAILBOX_SLOTS,
  MailboxMessage, Mailboxes, MSG_FLAG_ACK, MSG_KIND_NOP, MSG_KIND_USER,
} from '../../cpu/mailbox.ts';
import { Machine } from '../../scheduler/machine.ts';
import { HART_TEST_COMMANDS } from '../helpers/commands.ts';
import { S_BUSY_READY, S_STOP } from '../helpers/hart-test-commands.ts';

function wire(harts: number, offset = 128): Mailboxes {
  const sab = new SharedArrayBuffer(offset + harts * MAILBOX_BYTES);
  Mailboxes.initialize(sab, offset, harts);
  return new Mailboxes(sab, offset, harts);
}

describe('mailbox wire (one thread)', () => {
  it('has a cache-line multiple size and checks alignment', () => {
    expect(MAILBOX_BYTES % MAILBOX_ALIGN).toBe(0);
    expect(() => new Mailboxes(new SharedArrayBuffer(MAILBOX_BYTES * 2), 4, 1)).toThrow(/aligned/);
  });

  it('delivers in FIFO order with kind, sender, id and payload; PENDING counts', () => {
    const mb = wire(3);
    const msg = new MailboxMessage();
    expect(mb.tryReceive(1, msg)).toBe(false);
    expect(mb.tryPost(1, 0, MSG_KIND_USER, 0, 7, [1, 2, 3, 4, 5, 6])).toBe(true);
    expect(mb.tryPost(1, 2, MSG_KIND_USER + 1, 0, 8, [-1])).toBe(true);
    expect(mb.pending(1)).toBe(2);
    expect(Atomics.load(mb.i32, mb.pendingIndex(1))).toBe(2);
    expect(mb.pending(0)).toBe(0);
    expect(mb.tryReceive(1, msg)).toBe(true);
    expect([msg.kind, msg.sender, msg.id, [...msg.payload]]).toEqual([MSG_KIND_USER, 0, 7, [1, 2, 3, 4, 5, 6, 0, 0]]);
    expect(mb.tryReceive(1, msg)).toBe(true);
    expect([msg.kind, msg.sender, msg.id, msg.payload[0], msg.payload[1]]).toEqual([MSG_KIND_USER + 1, 2, 8, -1, 0]);
    expect(mb.pending(1)).toBe(0);
    expect(mb.tryReceive(1, msg)).toBe(false);
  });

  it('is bounded: a full queue refuses, and it keeps working across many laps', () => {
    const mb = wire(2);
    const msg = new MailboxMessage();
    for (let i = 0; i < MAILBOX_SLOTS; i++) expect(mb.tryPost(0, 1, MSG_KIND_NOP, 0, i)).toBe(true);
    expect(mb.tryPost(0, 1, MSG_KIND_NOP, 0, 99)).toBe(false);
    let expectId = 0;
    for (let lap = 0; lap < 1000; lap++) {
      expect(mb.tryReceive(0, msg)).toBe(true);
      expect(msg.id).toBe(expectId++);
      expect(mb.tryPost(0, 1, MSG_KIND_NOP, 0, expectId + MAILBOX_SLOTS - 1)).toBe(true);
    }
    expect(mb.pending(0)).toBe(MAILBOX_SLOTS);
  });

  it('rejects bad posts', () => {
    const mb = wire(2);
    expect(() => mb.tryPost(2, 0, 0, 0, 0)).toThrow(/no hart 2/);
    expect(() => mb.tryPost(1, 0, 0, 0, 0, new Array(MAILBOX_PAYLOAD_WORDS + 1).fill(0))).toThrow(/payload/);
    expect(() => mb.tryPost(1, MAILBOX_SENDER_HOST, 0, MSG_FLAG_ACK, 0)).toThrow(/host cannot request/);
  });

  it('acknowledgements complete a ticket; the port serves and acks', () => {
    const mb = wire(3);
    const seen: number[][] = [];
    const ports = [0, 1, 2].map((h) => new InterruptPort(mb, h, (m) => seen.push([h, m.kind, m.sender, m.payload[0]!])));
    const ticket = ports[0]!.send([1, 2], MSG_KIND_USER, [42]);
    expect(ports[0]!.acked(ticket)).toBe(false);
    expect(ports[1]!.poll()).toBe(1);
    expect(ports[0]!.acked(ticket)).toBe(false);
    expect(ports[2]!.poll()).toBe(1);
    expect(ports[0]!.acked(ticket)).toBe(true);
    expect(seen).toEqual([[1, MSG_KIND_USER, 0, 42], [2, MSG_KIND_USER, 0, 42]]);
    ports[0]!.waitForAcks(ticket); // returns at once
    expect(() => ports[0]!.send([0], MSG_KIND_NOP)).toThrow(/cannot interrupt itself/);
    // Without ack the ticket does not move.
    const t2 = ports[1]!.send([0], MSG_KIND_NOP, undefined, false);
    expect(ports[1]!.acked(t2)).toBe(true);
  });

  it('a sender facing a full queue serves its own mailbox, backs off, and retries', () => {
    const mb = wire(2);
    const served: number[] = [];
    let checks = 0;
    const p1 = new InterruptPort(mb, 1, () => {});
    const p0 = new InterruptPort(mb, 0, (m) => served.push(m.id), () => {
      // Stands in for hart 1 running meanwhile: it drains its queue after a few back-offs.
      if (++checks === 3) p1.poll();
    });
    for (let i = 0; i < MAILBOX_SLOTS; i++) expect(mb.tryPost(1, MAILBOX_SENDER_HOST, MSG_KIND_NOP, 0, i)).toBe(true);
    expect(mb.tryPost(0, 1, MSG_KIND_NOP, 0, 77)).toBe(true); // an interrupt waiting for hart 0
    const ticket = p0.send([1], MSG_KIND_USER, [5]);
    expect(served).toEqual([77]); // hart 0 served its own mailbox while blocked on the full queue
    expect(checks).toBeGreaterThanOrEqual(3);
    expect(mb.pending(1)).toBe(1);
    p1.poll();
    expect(p0.acked(ticket)).toBe(true);
  });

  it('request lines (cacheline consolidation): request and ack in one line, one request per line at a time', () => {
    const mb = wire(3);
    const seen: number[][] = [];
    const ports = [0, 1, 2].map((h) => new InterruptPort(mb, h, (m) => seen.push([h, m.kind, m.sender, m.payload[0]!, m.payload[7]!])));
    const req = ports[0]!.sendLine([1, 2], MSG_KIND_USER, [42, 0, 0, 0, 0, 0, 0, 9]);
    expect(mb.pending(1)).toBe(1);
    expect(ports[0]!.linesAcked([1, 2], req)).toBe(false);
    // The line is busy until acked: a second request to hart 1 is refused.
    expect(mb.tryPostLine(1, 0, MSG_KIND_USER, req + 1, [1])).toBe(false);
    expect(ports[1]!.poll()).toBe(1);
    expect(ports[0]!.linesAcked([1], req)).toBe(true);
    expect(ports[0]!.linesAcked([1, 2], req)).toBe(false);
    // The ack is in the request's own line (word LINE_ACK), not in the sender's ACKS word.
    expect(mb.i32[mb.lineBase(1, 0) + LINE_ACK]).toBe(req);
    expect(ports[2]!.poll()).toBe(1);
    expect(ports[0]!.linesAcked([1, 2], req)).toBe(true);
    expect(seen).toEqual([[1, MSG_KIND_USER, 0, 42, 9], [2, MSG_KIND_USER, 0, 42, 9]]);
    expect([mb.pending(1), mb.pending(2), ports[1]!.poll()]).toEqual([0, 0, 0]);
    const req2 = ports[0]!.sendLine([1], MSG_KIND_USER, [43]);
    expect(req2).not.toBe(req);
    expect(ports[1]!.poll()).toBe(1);
    expect(ports[0]!.linesAcked([1], req2)).toBe(true);
  });

  it('acknowledgeEarly acks once, from inside the handler, before the handler finishes', () => {
    const mb = wire(2);
    let ackedInHandler: boolean | null = null;
    let p0: InterruptPort;
    const p1: InterruptPort = new InterruptPort(mb, 1, (m) => {
      p1.acknowledgeEarly(m);
      p1.acknowledgeEarly(m); // idempotent
      ackedInHandler = m.line >= 0 ? p0.linesAcked([1], m.id) : p0.acked(ticket);
    });
    p0 = new InterruptPort(mb, 0, () => {});
    const ticket = p0.send([1], MSG_KIND_USER, [1]);
    p1.poll();
    expect(ackedInHandler).toBe(true);
    expect(Atomics.load(mb.i32, mb.word(0, MB_ACKS))).toBe(ticket); // acked exactly once
    ackedInHandler = null;
    const req = p0.sendLine([1], MSG_KIND_USER, [2]);
    p1.poll();
    expect([ackedInHandler, p0.linesAcked([1], req)]).toEqual([true, true]);
  });

  it('negative control: a line acked before it is read can be read torn (the next request lands in the window)', () => {
    const mb = wire(2);
    const got: number[][] = [];
    const p1 = new InterruptPort(mb, 1, (m) => got.push([...m.payload]));
    const p0 = new InterruptPort(mb, 0, () => {});
    const first = p0.sendLine([1], MSG_KIND_USER, [1, 1, 1, 1, 1, 1, 1, 1]);
    let windows = 0;
    p1.setLineAckBeforeRead(() => {
      if (windows++ > 0) return;
      expect(p0.linesAcked([1], first)).toBe(true); // acked before the copy finished
      p0.sendLine([1], MSG_KIND_USER, [2, 2, 2, 2, 2, 2, 2, 2]); // the initiator reuses the line at once
    });
    expect(p1.poll()).toBe(2); // the torn one, then the second request
    expect(got).toEqual([[1, 1, 1, 1, 2, 2, 2, 2], [2, 2, 2, 2, 2, 2, 2, 2]]); // half of each request, then the second
    p1.setLineAckBeforeRead(null);
  });

  it('a waiting sender gives up through its check callback, never hangs', () => {
    const mb = wire(2);
    let checks = 0;
    const p0 = new InterruptPort(mb, 0, () => {}, () => { if (++checks === 3) throw new Error('halted'); });
    const t = p0.send([1], MSG_KIND_NOP);
    expect(() => p0.waitForAcks(t)).toThrow('halted');
  });
});

describe('interrupts between real harts', () => {
  let m: Machine;
  beforeAll(async () => {
    m = await Machine.boot({ cpus: 4, memory: 16 * 2 ** 20, commandModules: [HART_TEST_COMMANDS] });
  });
  afterAll(() => m?.shutdown());

  it('round trip to 1 blocked hart and to N-1 blocked harts', async () => {
    const one = await m.runOnHart<{ ns: number[] }>(0, 'ipi', { targets: [3], rounds: 50 });
    const all = await m.runOnHart<{ ns: number[] }>(1, 'ipi', { targets: [0, 2, 3], rounds: 50 });
    expect(one.ns.length).toBe(50);
    expect(all.ns.length).toBe(50);
    for (const ns of [...one.ns, ...all.ns]) expect(ns).toBeGreaterThan(0);
  });

  it('round trip to a busy-polling hart', async () => {
    const s = m.ctl.layout.scratch / 4;
    Atomics.store(m.ctl.i32, s + S_STOP, 0);
    const busy = m.runOnHart<{ polls: number }>(2, 'test.busy');
    while (Atomics.load(m.ctl.i32, s + S_BUSY_READY + 2) === 0) await new Promise((r) => setTimeout(r, 2));
    const r = await m.runOnHart<{ ns: number[] }>(0, 'ipi', { targets: [2], rounds: 100 });
    Atomics.store(m.ctl.i32, s + S_STOP, 1);
    expect(r.ns.length).toBe(100);
    expect((await busy).polls).toBe(100);
  });

  it('harts interrupting each other at the same time do not deadlock', async () => {
    const res = await m.runOnAllHarts<{ ns: number[] }>('ipi', (h) => ({
      targets: [0, 1, 2, 3].filter((t) => t !== h), rounds: 200,
    }));
    expect(res.map((r) => r.ns.length)).toEqual([200, 200, 200, 200]);
  });
});
