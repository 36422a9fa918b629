// Loads, stores, misaligned and page-crossing accesses, faults, and Sv48 through the real Tlb.
import { describe, expect, it } from 'vitest';
import * as E from '../helpers/encode.ts';
import { CODE, DATA, makeHart, runToEcall, runWords } from './hart-harness.ts';
import {
  CAUSE_LOAD_ACCESS_FAULT, CAUSE_LOAD_PAGE_FAULT, CAUSE_STORE_ACCESS_FAULT, CAUSE_STORE_PAGE_FAULT,
  CAUSE_INSTRUCTION_PAGE_FAULT, EXIT_TRAP,
} from '../../cpu/trap.ts';
import { SATP_MODE_SV48 } from '../../cpu/pte.ts';
import { PageTableBuilder, PERM_AD, PERM_URW, PERM_URX, PERM_R } from '../helpers/pagetable.ts';
import { HC_TLB_HIT_LOAD, HC_TLB_HIT_STORE } from '../../cpu/counters.ts';

describe('hart loads and stores (Bare)', () => {
  it('every load width sign- or zero-extends', () => {
    const { hart, ram } = makeHart();
    ram.i32[DATA / 4] = 0x80f0ff81 | 0;
    ram.i32[DATA / 4 + 1] = 0xfedcba98 | 0;
    hart.setX(1, BigInt(DATA));
    runToEcall(hart, [E.lb(2, 1, 0), E.lbu(3, 1, 0), E.lh(4, 1, 0), E.lhu(5, 1, 0), E.lw(6, 1, 0), E.lwu(7, 1, 0),
      E.ld(8, 1, 0), E.lb(9, 1, 1), E.lh(10, 1, 2)]);
    expect(hart.getX(2)).toBe(-0x7fn);
    expect(hart.getX(3)).toBe(0x81n);
    expect(hart.getX(4)).toBe(-0x7fn & 0xffffn | -0x10000n);
    expect(hart.getX(5)).toBe(0xff81n);
    expect(hart.getX(6)).toBe(BigInt(0x80f0ff81 | 0));
    expect(hart.getX(7)).toBe(0x80f0ff81n);
    expect(hart.getX(8)).toBe(BigInt.asIntN(64, 0xfedcba9880f0ff81n));
    expect(hart.getX(9)).toBe(-1n);
    expect(hart.getX(10)).toBe(BigInt.asIntN(16, 0x80f0n));
  });

  it('stores write exactly their width, with negative offsets', () => {
    const { hart, ram } = makeHart();
    hart.setX(1, BigInt(DATA + 64));
    hart.setX(2, 0x1122334455667788n);
    runToEcall(hart, [E.sd(2, 1, -64), E.sw(2, 1, -48), E.sh(2, 1, -40), E.sb(2, 1, -32)]);
    expect(ram.i64[DATA / 8]).toBe(0x1122334455667788n);
    expect(ram.i64[DATA / 8 + 2]).toBe(0x55667788n);
    expect(ram.i64[DATA / 8 + 3]).toBe(0x7788n);
    expect(ram.i64[DATA / 8 + 4]).toBe(0x88n);
    // The second run hits the micro-TLBs.
    runToEcall(hart, [E.sd(2, 1, -64), E.ld(3, 1, -64), E.ld(3, 1, -64)]);
    expect(hart.counters[HC_TLB_HIT_STORE]).toBeGreaterThan(0);
    expect(hart.counters[HC_TLB_HIT_LOAD]).toBeGreaterThan(0);
  });

  it('flw NaN-boxes, fsw/fsd/fld move raw bits', () => {
    const { hart, ram } = makeHart();
    ram.i32[DATA / 4] = 0x3f800000;
    ram.i64[DATA / 8 + 1] = -0x123456789abcdefn;
    hart.setX(1, BigInt(DATA));
    runToEcall(hart, [E.flw(0, 1, 0), E.fld(31, 1, 8), E.fsd(0, 1, 16), E.fsw(31, 1, 24), E.fsd(31, 1, 32)]);
    expect(hart.fpu.fi32[0]).toBe(0x3f800000);
    expect(hart.fpu.fi32[1]).toBe(-1);
    expect(ram.i64[DATA / 8 + 2]).toBe(BigInt.asIntN(64, 0xffffffff3f800000n));
    expect(ram.i32[DATA / 4 + 6]).toBe(Number(BigInt.asIntN(32, -0x123456789abcdefn)));
    expect(ram.i64[DATA / 8 + 4]).toBe(-0x123456789abcdefn);
  });

  it('misaligned loads and stores work within a page and across pages', () => {
    const { hart, ram } = makeHart();
    for (const addr of [DATA + 1, DATA + 3, DATA + 4093, DATA + 4095, DATA + 4094]) {
      hart.setX(1, BigInt(addr));
      hart.setX(2, 0x0102030405060708n);
      runToEcall(hart, [E.sd(2, 1, 0), E.ld(3, 1, 0), E.lw(4, 1, 1), E.lhu(5, 1, 1), E.sw(2, 1, 9), E.lwu(6, 1, 9)]);
      expect(hart.getX(3)).toBe(0x0102030405060708n);
      expect(hart.getX(4)).toBe(0x04050607n);
      expect(hart.getX(5)).toBe(0x0607n);
      expect(hart.getX(6)).toBe(0x05060708n);
      for (let i = 0; i < 8; i++) expect(ram.u8[addr + i]).toBe(8 - i);
    }
  });

  it('an access beyond RAM is an access fault with tval = the first faulting byte', () => {
    const { hart, ram } = makeHart();
    const end = ram.bytes;
    hart.setX(1, BigInt(end - 4));
    expect(runWords(hart, [E.ld(2, 1, 0)])).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_LOAD_ACCESS_FAULT);
    expect(hart.tval).toBe(end);
    expect(hart.pc).toBe(CODE);
    ram.u8[end - 4] = 0xaa;
    expect(runWords(hart, [E.sd(0, 1, 0)])).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_STORE_ACCESS_FAULT);
    expect(hart.tval).toBe(end);
    expect(ram.u8[end - 4]).toBe(0xaa); // nothing written
    hart.setX(1, BigInt(end));
    expect(runWords(hart, [E.lw(2, 1, 0)])).toBe(EXIT_TRAP);
    expect(hart.tval).toBe(end);
  });
});

describe('hart under Sv48', () => {
  function sv48() {
    const { hart, ram } = makeHart();
    const pt = new PageTableBuilder(ram, 1, 64);
    pt.map(0x400000, CODE, PERM_URX | PERM_AD);
    pt.map(0x500000, DATA, PERM_URW | PERM_AD);
    pt.map(0x501000, DATA + 0x1000, PERM_URW | PERM_AD);
    pt.map(0x502000, DATA + 0x2000, PERM_R | PERM_AD | 16); // U + R only
    hart.setSatp(SATP_MODE_SV48, 1, pt.rootPpn);
    return { hart, ram };
  }
  const run = (h: ReturnType<typeof sv48>['hart'], words: number[]) => {
    const r = runWords(h, words, 100_000, CODE);
    return r;
  };

  it('fetches, loads and stores through the page tables', () => {
    const { hart, ram } = sv48();
    hart.pc = 0x400000;
    hart.setX(1, 0x500ff8n);
    hart.setX(2, 0x1234n);
    // Code lives at pa CODE, va 0x400000.
    runWords(hart, [], 1, CODE); // write the ecall; pc will be reset below
    const words = [E.sd(2, 1, 0), E.ld(3, 1, 0), E.sd(2, 1, 4), E.ld(4, 1, 4), E.ECALL];
    for (let i = 0; i < words.length; i++) ram.u32[CODE / 4 + i] = words[i];
    hart.fenceI();
    hart.pc = 0x400000;
    expect(hart.run(1000)).toBe(EXIT_TRAP);
    expect(hart.pc).toBe(0x400000 + 16);
    expect(hart.getX(3)).toBe(0x1234n);
    expect(hart.getX(4)).toBe(0x1234n); // crossed from DATA+0xffc into DATA+0x1000
    expect(ram.u32[(DATA + 0xffc) / 4]).toBe(0x1234);
    expect(ram.u32[(DATA + 0x1000) / 4]).toBe(0);
    void run;
  });

  it('a misaligned store crossing into a read-only page faults at that page and writes nothing', () => {
    const { hart, ram } = sv48();
    const words = [E.sd(2, 1, 0), E.ECALL];
    for (let i = 0; i < words.length; i++) ram.u32[CODE / 4 + i] = words[i];
    hart.pc = 0x400000;
    hart.setX(1, 0x501ffdn);
    hart.setX(2, -1n);
    expect(hart.run(1000)).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_STORE_PAGE_FAULT);
    expect(hart.tval).toBe(0x502000);
    expect(hart.pc).toBe(0x400000);
    expect(ram.u8[DATA + 0x1ffd]).toBe(0);
  });

  it('a load from an unmapped page and a fetch from a non-executable page fault', () => {
    const { hart, ram } = sv48();
    ram.u32[CODE / 4] = E.ld(2, 1, 0);
    hart.pc = 0x400000;
    hart.setX(1, 0x600008n);
    expect(hart.run(10)).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_LOAD_PAGE_FAULT);
    expect(hart.tval).toBe(0x600008);
    hart.pc = 0x500000;
    expect(hart.run(10)).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_INSTRUCTION_PAGE_FAULT);
    expect(hart.tval).toBe(0x500000);
  });

  it('a misaligned load crossing into an unmapped page reports the first unmapped byte', () => {
    const { hart, ram } = sv48();
    ram.u32[CODE / 4] = E.lw(2, 1, 0);
    hart.pc = 0x400000;
    hart.setX(1, 0x502ffen);
    expect(hart.run(10)).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_LOAD_PAGE_FAULT);
    expect(hart.tval).toBe(0x503000);
  });

  it('a TLB eviction drops the micro-TLB copies of the evicted page only', () => {
    // 4 sets × 1 way: code (vpn 0x400) in set 0, P (0x502) in set 2, Q (0x501) and R (0x505)
    // both in set 1, so R's refill evicts Q. Micro-TLB slots are vpn & 255: P 2, Q 1, R 5.
    const { hart, ram } = makeHart({ tlb: { entries: 4, ways: 1, superEntries: 1 } });
    const pt = new PageTableBuilder(ram, 1, 64);
    pt.map(0x400000, CODE, PERM_URX | PERM_AD);
    pt.map(0x501000, DATA, PERM_URW | PERM_AD);
    pt.map(0x502000, DATA + 0x1000, PERM_URW | PERM_AD);
    pt.map(0x505000, DATA + 0x2000, PERM_URW | PERM_AD);
    hart.setSatp(SATP_MODE_SV48, 1, pt.rootPpn);
    ram.u32[DATA / 4] = 0xa;
    ram.u32[(DATA + 0x3000) / 4] = 0xb;
    const go = (words: number[]) => {
      for (let i = 0; i < words.length; i++) ram.u32[CODE / 4 + i] = words[i];
      ram.u32[CODE / 4 + words.length] = E.ECALL;
      hart.fenceI();
      hart.pc = 0x400000;
      expect(hart.run(1000)).toBe(EXIT_TRAP);
    };
    hart.setX(1, 0x501000n);
    hart.setX(2, 0x505000n);
    hart.setX(6, 0x502000n);
    go([E.lw(3, 1, 0), E.addi(0, 0, 0), E.addi(0, 0, 0)]); // Q: in the TLB and in micro-TLB slot 1
    expect(hart.getX(3)).toBe(0xan);
    // Q re-pointed without sfence: only a walk can see it, and R's refill evicts Q's entry.
    pt.map(0x501000, DATA + 0x3000, PERM_URW | PERM_AD);
    go([E.lw(7, 6, 0), E.lw(4, 2, 0), E.lw(5, 1, 0)]);
    expect(hart.getX(5), 'the micro-TLB must not outlive the evicted TLB entry').toBe(0xbn);
    expect(hart.lTagLo[0x02], "P's micro-TLB entry survives an eviction of another page").toBe(0x502000);
    expect(hart.fTag[0x00], 'so does the code page').toBe(0x400000);
  });
});
