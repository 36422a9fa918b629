// Branches, jumps, CSRs, traps, illegal encodings, self-modifying code, run-loop exits.
import { describe, expect, it } from 'vitest';
import * as E from '../helpers/encode.ts';
import { CODE, EDGES, makeHart, runToEcall, runWords, s64, u64, writeWords } from './hart-harness.ts';
import {
  CAUSE_BREAKPOINT, CAUSE_ECALL_U, CAUSE_ILLEGAL_INSTRUCTION, EXIT_BUDGET, EXIT_INTERRUPT, EXIT_TRAP,
} from '../../cpu/trap.ts';
import { HC_INSTRET, HC_FENCE_I } from '../../cpu/counters.ts';

describe('branches and jumps', () => {
  const BR: [string, (a: number, b: number, o: number) => number, (a: bigint, b: bigint) => boolean][] = [
    ['beq', E.beq, (a, b) => a === b], ['bne', E.bne, (a, b) => a !== b],
    ['blt', E.blt, (a, b) => s64(a) < s64(b)], ['bge', E.bge, (a, b) => s64(a) >= s64(b)],
    ['bltu', E.bltu, (a, b) => u64(a) < u64(b)], ['bgeu', E.bgeu, (a, b) => u64(a) >= u64(b)],
  ];
  for (const [name, enc, ref] of BR) {
    it(`${name} takes the branch exactly when the reference says so`, () => {
      const { hart } = makeHart();
      for (const a of EDGES) {
        for (const b of [0n, -1n, 1n, a, 0x80000000n, -0x8000000000000000n]) {
          hart.setX(1, a); hart.setX(2, b);
          // taken → x3 = 2, not taken → x3 = 1
          runToEcall(hart, [enc(1, 2, 12), E.addi(3, 0, 1), E.jal(0, 8), E.addi(3, 0, 2)]);
          expect(hart.getX(3), `${name} ${a} ${b}`).toBe(ref(s64(a), s64(b)) ? 2n : 1n);
        }
      }
    });
  }

  it('backward branches loop; jal and jalr link pc+4 and jalr clears bit 0', () => {
    const { hart } = makeHart();
    runToEcall(hart, [
      E.addi(1, 0, 10), E.addi(2, 2, 3), E.addi(1, 1, -1), E.bne(1, 0, -8), // x2 = 30
      E.jal(5, 8), E.addi(2, 0, 0), // skipped
      E.auipc(6, 0), E.jalr(7, 6, 13), // target auipc+13 → &~1 = +12
      E.addi(2, 0, 0), E.addi(2, 2, 1), // the first skipped, the second at +12? (see below)
    ]);
    expect(hart.getX(5)).toBe(BigInt(CODE + 20));
    expect(hart.getX(7)).toBe(BigInt(CODE + 32));
    expect(hart.getX(2)).toBe(31n);
  });

  it('a 32-bit instruction straddling a page boundary executes', () => {
    const { hart, ram } = makeHart();
    const at = 0x21ffa; // words at 0x21ffa, 0x21ffe (straddles 0x22000), 0x22002
    writeWords(ram, at, [E.addi(1, 0, 5), E.addi(1, 1, 7), E.ECALL]);
    hart.pc = at;
    expect(hart.run(100)).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_ECALL_U);
    expect(hart.getX(1)).toBe(12n);
  });
});

describe('CSRs', () => {
  it('fflags, frm and fcsr read and write through the FPU', () => {
    const { hart } = makeHart();
    hart.setX(1, 0xffn);
    runToEcall(hart, [E.csrrw(2, 0x003, 1), E.csrrs(3, 0x001, 0), E.csrrs(4, 0x002, 0), E.csrrci(5, 0x001, 3),
      E.csrrwi(6, 0x002, 1), E.csrrs(7, 0x003, 0)]);
    expect(hart.getX(2)).toBe(0n);
    expect(hart.getX(3)).toBe(0x1fn);
    expect(hart.getX(4)).toBe(7n);
    expect(hart.getX(5)).toBe(0x1fn);
    expect(hart.getX(6)).toBe(7n);
    expect(hart.getX(7)).toBe(BigInt((1 << 5) | 0x1c));
  });

  it('instret and cycle count retired instructions; time advances', () => {
    const { hart } = makeHart();
    runToEcall(hart, [E.csrrs(1, 0xc02, 0), E.NOP, E.NOP, E.csrrs(2, 0xc02, 0), E.csrrs(3, 0xc00, 0),
      E.csrrs(4, 0xc01, 0)]);
    expect(hart.getX(2) - hart.getX(1)).toBe(3n);
    expect(hart.getX(3)).toBe(hart.getX(2) + 1n);
    const t1 = hart.getX(4);
    runToEcall(hart, [E.csrrs(4, 0xc01, 0)]);
    expect(hart.getX(4)).toBeGreaterThanOrEqual(t1);
  });

  it('writing a read-only counter or touching an unknown CSR is illegal', () => {
    const { hart } = makeHart();
    for (const w of [E.csrrw(0, 0xc00, 1), E.csrrsi(1, 0xc01, 1), E.csrrs(1, 0x300, 0), E.csrrw(1, 0x004, 0)]) {
      hart.setX(1, 1n);
      expect(runWords(hart, [w])).toBe(EXIT_TRAP);
      expect(hart.cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
      expect(hart.tval).toBe(w);
      expect(hart.pc).toBe(CODE);
    }
  });
});

describe('traps and illegal encodings', () => {
  it('ecall and ebreak stop at the instruction', () => {
    const { hart } = makeHart();
    expect(runWords(hart, [E.NOP, E.EBREAK])).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_BREAKPOINT);
    expect(hart.pc).toBe(CODE + 4);
    expect(hart.instret).toBe(1);
    expect(runWords(hart, [E.NOP])).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_ECALL_U);
    expect(hart.pc).toBe(CODE + 4);
  });

  const ILLEGAL: [string, number][] = [
    ['all ones', 0xffffffff], ['unknown opcode 0x0b', 0x0000000b], ['slli with funct6 set', E.slli(1, 1, 1) | (1 << 31)],
    ['srai with bad funct6', (E.srai(1, 1, 1) | (1 << 27)) >>> 0], ['slliw with shamt[5]', (E.slliw(1, 1, 1) | (1 << 25)) >>> 0],
    ['load funct3 7', 0x00007003], ['store funct3 4', 0x00004023], ['branch funct3 2', 0x00002063],
    ['jalr funct3 1', 0x00001067], ['OP funct7 0x02', E.rType(0x33, 0, 2, 1, 1, 1)], ['sret', 0x10200073],
    ['wfi', 0x10500073], ['mret', 0x30200073], ['sfence.vma', 0x12000073], ['SYSTEM funct3 4', 0x00004073],
    ['AMO funct3 1', E.rType(0x2f, 1, 0, 1, 1, 1)], ['LR with rs2', E.amo(E.AMO.lr, 'w', 1, 1, 2)],
    ['AMO funct5 5', E.rType(0x2f, 2, 5 << 2, 1, 1, 1)], ['FENCE funct3 2', 0x0000200f],
    ['OP-32 funct7 1 funct3 1', E.rType(0x3b, 1, 1, 1, 1, 1)], ['48-bit length', 0x0000001f],
  ];
  for (const [name, w] of ILLEGAL) {
    it(`${name} (0x${(w >>> 0).toString(16)}) traps with its bits in tval`, () => {
      const { hart } = makeHart();
      expect(runWords(hart, [w])).toBe(EXIT_TRAP);
      expect(hart.cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
      expect(hart.tval).toBe(w >>> 0);
      expect(hart.pc).toBe(CODE);
      expect(hart.instret).toBe(0);
    });
  }

  it('the all-zero word is an illegal compressed instruction with tval 0', () => {
    const { hart } = makeHart();
    expect(runWords(hart, [0])).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    expect(hart.tval).toBe(0);
  });
});

describe('decode cache and self-modifying code', () => {
  it('a store into the running code page followed by fence.i executes the new instruction', () => {
    const { hart } = makeHart();
    hart.setX(1, BigInt(CODE + 16));
    hart.setX(2, BigInt(E.addi(3, 0, 99)));
    // Run the target once (decoding it), then overwrite it and run again.
    runToEcall(hart, [E.jal(0, 16), E.sw(2, 1, 0), E.FENCE_I, E.jal(0, 4), E.addi(3, 0, 1), E.ECALL]);
    // first pass: jumps to +16 → x3 = 1
    expect(hart.getX(3)).toBe(1n);
    hart.pc = CODE + 4; // now patch and re-execute
    expect(hart.run(100)).toBe(EXIT_TRAP);
    expect(hart.getX(3)).toBe(99n);
    expect(hart.counters[HC_FENCE_I]).toBeGreaterThan(0);
  });

  it('RAM changed behind the hart is not seen until the icache epoch moves', () => {
    const epoch = new Int32Array(new SharedArrayBuffer(8));
    const { hart, ram } = makeHart({ icacheEpoch: { word: epoch, index: 1 } });
    runToEcall(hart, [E.addi(3, 0, 1)]);
    expect(hart.getX(3)).toBe(1n);
    writeWords(ram, CODE, [E.addi(3, 0, 2)]); // the "kernel" reuses the frame
    hart.pc = CODE;
    hart.run(100);
    expect(hart.getX(3)).toBe(1n); // stale decode, as designed
    Atomics.add(epoch, 1, 1);
    hart.pc = CODE;
    hart.run(100);
    expect(hart.getX(3)).toBe(2n);
  });
});

describe('run-loop exits', () => {
  const LOOP = [E.addi(1, 1, 1), E.jal(0, -4)];

  it('stops after exactly the budget and resumes where it stopped', () => {
    const { hart } = makeHart({ batch: 64 });
    expect(runWords(hart, LOOP, 1001)).toBe(EXIT_BUDGET);
    expect(hart.instret).toBe(1001);
    expect(hart.counters[HC_INSTRET]).toBe(1001);
    expect(hart.getX(1)).toBe(501n);
    expect(hart.pc).toBe(CODE + 4);
    expect(hart.run(1)).toBe(EXIT_BUDGET);
    expect(hart.pc).toBe(CODE);
  });

  it('returns EXIT_INTERRUPT between batches when the pending word is non-zero', () => {
    const word = new Int32Array(new SharedArrayBuffer(4));
    const { hart } = makeHart({ irq: { word, index: 0 }, batch: 100 });
    expect(runWords(hart, LOOP, 250)).toBe(EXIT_BUDGET);
    Atomics.store(word, 0, 1);
    expect(hart.run(1000)).toBe(EXIT_INTERRUPT);
    expect(hart.instret).toBe(250);
    Atomics.store(word, 0, 0);
    expect(hart.run(10)).toBe(EXIT_BUDGET);
    expect(hart.instret).toBe(260);
  });
});
