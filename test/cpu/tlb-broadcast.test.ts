/**
 * The broadcast-invalidation hardware (cpu/tlb-broadcast.ts) on two harts of one RAM, in one
 * thread: a broadcast is queued, not applied, until the target's run loop reaches a batch
 * boundary; there it is applied by the hardware — the run goes on to the guest's own ecall, no
 * EXIT_INTERRUPT — only entries of the named ASID (and pages) go, and the initiator's
 * completion counter (tlbsync) counts it. The machine-level behaviour (real worker harts,
 * the broadcast policy) is test/lab/broadcast.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Hart } from '../../cpu/hart.ts';
import { MAILBOX_BYTES, Mailboxes } from '../../cpu/mailbox.ts';
import { SATP_MODE_SV48, vaLoHi } from '../../cpu/pte.ts';
import { PhysicalMemory } from '../../cpu/ram.ts';
import { BroadcastUnit } from '../../cpu/tlb-broadcast.ts';
import { ACCESS_LOAD, CAUSE_ECALL_U, EXIT_TRAP } from '../../cpu/trap.ts';
import { bne, ECALL, iType } from '../helpers/encode.ts';
import { PageTableBuilder, PERM_AD, PERM_URW, PERM_URX } from '../helpers/pagetable.ts';

const CODE_VA = 0x10000;
const DATA_VA = 0x40000;
const addi = (rd: number, rs1: number, imm: number) => iType(0x13, 0, rd, rs1, imm);

function machine() {
  const ram = PhysicalMemory.create(16 * 1024 * 1024);
  const sab = new SharedArrayBuffer(4 * MAILBOX_BYTES);
  Mailboxes.initialize(sab, 0, 2);
  Mailboxes.initialize(sab, 2 * MAILBOX_BYTES, 2);
  const irq = new Mailboxes(sab, 0, 2);
  const queues = new Mailboxes(sab, 2 * MAILBOX_BYTES, 2, irq);
  const pt = new PageTableBuilder(ram, 1, 64);
  pt.map(CODE_VA, 0x100000, PERM_URX | PERM_AD);
  pt.map(DATA_VA, 0x200000, PERM_URW | PERM_AD);
  pt.map(DATA_VA + 0x1000, 0x201000, PERM_URW | PERM_AD);
  // Code: a 2000-round loop (6000 instructions: many batches of 64), then ecall.
  const words = [addi(6, 0, 2000), addi(5, 5, 1), addi(6, 6, -1), bne(6, 0, -8), ECALL];
  for (let i = 0; i < words.length; i++) {
    ram.u16[(0x100000 >>> 1) + 2 * i] = words[i]! & 0xffff;
    ram.u16[(0x100000 >>> 1) + 2 * i + 1] = words[i]! >>> 16;
  }
  const harts = [0, 1].map((hartId) => new Hart({ hartId, ram, batch: 64 }));
  const units = harts.map((h, id) => new BroadcastUnit(queues, irq, id, h, () => {}));
  harts[1]!.attachBroadcast(units[1]!);
  return { ram, pt, harts, units, queues };
}

function fill(h: Hart, va: number): void {
  const [lo, hi] = vaLoHi(va);
  expect(h.tlb.translate(lo, hi, ACCESS_LOAD)).toBeGreaterThanOrEqual(0);
}
function cached(h: Hart, va: number, asid: number): boolean {
  const [lo, hi] = vaLoHi(va);
  return h.tlb.probe(lo, hi, asid) >= 0;
}

describe('broadcast invalidation hardware', () => {
  it('a page broadcast is applied by the target between batches, without an interrupt exit, and completes the initiator\'s tlbsync', () => {
    const { pt, harts, units } = machine();
    const [h0, h1] = harts as [Hart, Hart];
    h1.setSatp(SATP_MODE_SV48, 70, pt.rootPpn);
    fill(h1, DATA_VA);
    fill(h1, DATA_VA + 0x1000);
    h1.setSatp(SATP_MODE_SV48, 71, pt.rootPpn); // the same page under another ASID
    fill(h1, DATA_VA);
    h1.setSatp(SATP_MODE_SV48, 70, pt.rootPpn);
    expect(cached(h1, DATA_VA, 70) && cached(h1, DATA_VA, 71)).toBe(true);

    units[0]!.invlpgb(70, DATA_VA / 4096, 1);
    expect(units[0]!.synced()).toBe(false);
    expect(cached(h1, DATA_VA, 70)).toBe(true); // queued, not applied: hardware applies at a batch boundary

    h1.pc = CODE_VA;
    const exit = h1.run(100_000);
    expect({ exit, cause: h1.cause }).toEqual({ exit: EXIT_TRAP, cause: CAUSE_ECALL_U }); // ran to its ecall
    expect(cached(h1, DATA_VA, 70)).toBe(false);
    expect(cached(h1, DATA_VA + 0x1000, 70)).toBe(true); // other page kept
    expect(cached(h1, DATA_VA, 71)).toBe(true); // other ASID kept
    expect(units[1]!.applied).toBe(1);
    expect(units[0]!.synced()).toBe(true);
    expect(units[0]!.tlbsync(1000)).toBe(false); // nothing left to wait for
    expect(h0.tlb.asid).toBe(0); // the initiator's own TLB is not part of the broadcast
  });

  it('an ASID broadcast drops every entry of that ASID and nothing else; entries posted later need a later sync', () => {
    const { pt, harts, units } = machine();
    const h1 = harts[1]!;
    h1.setSatp(SATP_MODE_SV48, 71, pt.rootPpn);
    fill(h1, DATA_VA);
    h1.setSatp(SATP_MODE_SV48, 70, pt.rootPpn);
    fill(h1, DATA_VA);
    fill(h1, DATA_VA + 0x1000);
    units[0]!.invlpgbAsid(70);
    expect(units[1]!.apply()).toBe(1); // a wait of hart 1 (InterruptPort.poll) applies the same way
    expect(cached(h1, DATA_VA, 70) || cached(h1, DATA_VA + 0x1000, 70)).toBe(false);
    expect(cached(h1, DATA_VA, 71)).toBe(true);
    expect(units[0]!.synced()).toBe(true);
    units[0]!.invlpgb(71, DATA_VA / 4096, 1);
    expect(units[0]!.synced()).toBe(false);
    units[1]!.apply();
    expect(units[0]!.synced()).toBe(true);
    expect(cached(h1, DATA_VA, 71)).toBe(false);
  });
});
