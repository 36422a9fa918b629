// The translator (cpu/jit.ts) against the interpreter (cpu/hart-run.ts), the reference: the
// same program from the same state on two harts, one translating, gives the same registers,
// FP registers and fflags, memory, pc, instret, exits and traps after every run() call.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Hart } from '../../cpu/hart.ts';
import { PhysicalMemory } from '../../cpu/ram.ts';
import { PTE_R, PTE_U } from '../../cpu/pte.ts';
import { SATP_MODE_SV48 } from '../../cpu/pte.ts';
import { CAUSE_ECALL_U, EXIT_TRAP } from '../../cpu/trap.ts';
import { HC_INSTRET, HC_JIT_BLOCKS, HC_JIT_INSNS } from '../../cpu/counters.ts';
import * as E from '../helpers/encode.ts';
import { PageTableBuilder, PERM_AD, PERM_URW, PERM_URX } from '../helpers/pagetable.ts';
import { writeWords } from './hart-harness.ts';

const CODE_VA = 0x10000;
const CODE_FRAME = 256;
const DATA_VA = 0x40000000; // two RW pages, then a read-only page, then an unmapped page
const DATA_FRAME = 300;
const RW_BASE = DATA_VA + 4096; // x10: offsets ±2047 stay in the two RW pages
const RO_BASE = DATA_VA + 2 * 4096 + 2048; // x11: loads work, stores fault
const HOLE_BASE = DATA_VA + 3 * 4096 + 2048; // x12: everything faults
const RESERVED = new Set([10, 11, 12, 13, 14]);

interface Machine { ram: PhysicalMemory; hart: Hart }

/** A hart in Sv48 with the code and data pages above; `jit` options or the interpreter. */
function machine(words: number[], regs: bigint[], jit: { on: boolean; threshold?: number }): Machine {
  const ram = PhysicalMemory.create(16 * 1024 * 1024);
  const pt = new PageTableBuilder(ram, 1, CODE_FRAME);
  pt.map(CODE_VA, CODE_FRAME * 4096, PERM_URX | PERM_AD);
  pt.map(CODE_VA + 4096, (CODE_FRAME + 1) * 4096, PERM_URX | PERM_AD);
  pt.map(DATA_VA, DATA_FRAME * 4096, PERM_URW | PERM_AD);
  pt.map(DATA_VA + 4096, (DATA_FRAME + 1) * 4096, PERM_URW | PERM_AD);
  pt.map(DATA_VA + 2 * 4096, (DATA_FRAME + 2) * 4096, PTE_U | PTE_R | PERM_AD);
  for (let i = 0; i < 3 * 4096; i++) ram.u8[DATA_FRAME * 4096 + i] = (i * 131 + 7) & 0xff;
  writeWords(ram, CODE_FRAME * 4096, words);
  const hart = new Hart({ hartId: 0, ram, jit: jit.on, jitThreshold: jit.threshold ?? 1 });
  hart.setSatp(SATP_MODE_SV48, 1, pt.rootPpn);
  for (let r = 1; r < 32; r++) hart.setX(r, regs[r] ?? 0n);
  hart.setX(10, BigInt(RW_BASE));
  hart.setX(11, BigInt(RO_BASE));
  hart.setX(12, BigInt(HOLE_BASE));
  for (let i = 0; i < 64; i++) hart.fpu.fi32[i] = Number(BigInt.asIntN(32, (regs[i % 32] ?? 0n) >> BigInt(i & 32)));
  hart.pc = CODE_VA;
  return { ram, hart };
}

/** Everything guest-visible, as plain data for toEqual. */
function state(m: Machine, exit: number): object {
  const h = m.hart;
  return {
    exit, pc: h.pc, instret: h.instret, cause: exit === EXIT_TRAP ? h.cause : -1, tval: exit === EXIT_TRAP ? h.tval : -1,
    x: [...h.x], f: [...h.fpu.fi32], fflags: h.fpu.fflags,
    data: Buffer.from(m.ram.u8.subarray(DATA_FRAME * 4096, (DATA_FRAME + 3) * 4096)).toString('base64'),
  };
}

/**
 * Run both machines in steps of `budget` instructions, comparing after every step; a fault
 * is skipped (pc += 4) like a handler would, the final ecall ends it. Returns the translating
 * hart's counters.
 */
function compare(words: number[], regs: bigint[], budget: number, threshold: number): Float64Array {
  const a = machine(words, regs, { on: false });
  const b = machine(words, regs, { on: true, threshold });
  for (let step = 0; step < 400; step++) {
    const ea = a.hart.run(budget);
    const eb = b.hart.run(budget);
    expect(state(b, eb)).toEqual(state(a, ea));
    if (ea === EXIT_TRAP) {
      if (a.hart.cause === CAUSE_ECALL_U) return b.hart.counters;
      a.hart.pc += 4;
      b.hart.pc += 4;
    }
  }
  throw new Error('compare: the program did not reach its ecall');
}

const W = fc.integer({ min: 0, max: 31 }).filter((r) => !RESERVED.has(r)); // destinations
const R = fc.integer({ min: 0, max: 31 }); // sources
const I12 = fc.integer({ min: -2048, max: 2047 });
const RR = [E.add, E.sub, E.sll, E.slt, E.sltu, E.xor, E.srl, E.sra, E.or, E.and, E.addw, E.subw, E.sllw, E.srlw,
  E.sraw, E.mul, E.mulh, E.mulhsu, E.mulhu, E.div, E.divu, E.rem, E.remu, E.mulw, E.divw, E.divuw, E.remw, E.remuw];
const RI = [E.addi, E.slti, E.sltiu, E.xori, E.ori, E.andi, E.addiw];
const SH64 = [E.slli, E.srli, E.srai];
const SH32 = [E.slliw, E.srliw, E.sraiw];
const LOADS: [(rd: number, rs1: number, imm: number) => number, number][] = [
  [E.lb, 1], [E.lh, 2], [E.lw, 4], [E.ld, 8], [E.lbu, 1], [E.lhu, 2], [E.lwu, 4], [E.fld, 8], [E.flw, 4],
];
const STORES: [(rs2: number, rs1: number, imm: number) => number, number][] = [
  [E.sb, 1], [E.sh, 2], [E.sw, 4], [E.sd, 8], [E.fsd, 8], [E.fsw, 4],
];
const BRANCHES = [E.beq, E.bne, E.blt, E.bge, E.bltu, E.bgeu];
const FR = fc.integer({ min: 0, max: 31 });
/** OP-FP: fadd.d, fmul.d, fdiv.d (dynamic rounding), fcvt.d.l, fmv.x.d, fmv.d.x, feq.d. */
const FP: fc.Arbitrary<number> = fc.oneof(
  fc.tuple(fc.constantFrom(0x01, 0x09, 0x0d), FR, FR, FR).map(([f7, d, a, b]) => E.rType(0x53, 7, f7, d, a, b)),
  fc.tuple(FR, R).map(([d, a]) => E.rType(0x53, 7, 0x69, d, a, 2)),
  fc.tuple(W, FR).map(([d, a]) => E.rType(0x53, 0, 0x71, d, a, 0)),
  fc.tuple(FR, R).map(([d, a]) => E.rType(0x53, 0, 0x79, d, a, 0)),
  fc.tuple(W, FR, FR).map(([d, a, b]) => E.rType(0x53, 2, 0x51, d, a, b)),
);
/** A memory offset for `size`: usually aligned, sometimes not. */
const offset = (size: number) => fc.tuple(I12, fc.integer({ min: 0, max: 9 })).map(([o, k]) => (k === 0 ? o : o & ~(size - 1)));
const BASE = fc.constantFrom(10, 10, 10, 10, 10, 11, 11, 12);

/** One instruction; a branch is a [kind, skip] placeholder resolved once positions are known. */
type Gen = number | { branch: number; a: number; b: number; skip: number } | { jal: number; skip: number };
const insn: fc.Arbitrary<Gen> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...RR), W, R, R).map(([f, d, a, b]) => f(d, a, b)) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...RI), W, R, I12).map(([f, d, a, i]) => f(d, a, i)) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...SH64), W, R, fc.integer({ min: 0, max: 63 })).map(([f, d, a, s]) => f(d, a, s)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...SH32), W, R, fc.integer({ min: 0, max: 31 })).map(([f, d, a, s]) => f(d, a, s)) },
  { weight: 1, arbitrary: fc.tuple(W, fc.integer({ min: 0, max: 0xfffff })).map(([d, i]) => E.lui(d, i)) },
  { weight: 1, arbitrary: fc.tuple(W, fc.integer({ min: 0, max: 0xfffff })).map(([d, i]) => E.auipc(d, i)) },
  { weight: 5, arbitrary: fc.constantFrom(...LOADS).chain(([f, size]) => fc.tuple(W, BASE, offset(size)).map(([d, b, o]) => f(d, b, o))) },
  { weight: 4, arbitrary: fc.constantFrom(...STORES).chain(([f, size]) => fc.tuple(R, BASE, offset(size)).map(([s, b, o]) => f(s, b, o))) },
  { weight: 2, arbitrary: FP },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 5 }), R, R, fc.integer({ min: 0, max: 4 })).map(([k, a, b, skip]) => ({ branch: k, a, b, skip })) },
  { weight: 1, arbitrary: fc.tuple(W, fc.integer({ min: 0, max: 3 })).map(([d, skip]) => ({ jal: d, skip })) },
);

/** Resolve branches (forward, clamped to the body's end) and wrap the body in a counted loop (x13). */
function program(body: Gen[], loops: number): number[] {
  const n = body.length;
  const words = body.map((g, i) => {
    if (typeof g === 'number') return g;
    const target = Math.min(n, i + 1 + g.skip);
    return 'branch' in g ? BRANCHES[g.branch]!(g.a, g.b, (target - i) * 4) : E.jal(g.jal, (target - i) * 4);
  });
  return [E.addi(13, 0, loops), ...words, E.addi(13, 13, -1), E.bne(13, 0, -4 * (n + 1)), E.ECALL];
}

const REGS = fc.array(fc.oneof(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.bigInt({ min: -3n, max: 3n })), { minLength: 32, maxLength: 32 });

describe('translated and interpreted execution agree', () => {
  it('random integer, memory, FP and branch sequences: same state after every run() step', () => {
    let translated = 0;
    let total = 0;
    fc.assert(fc.property(
      fc.array(insn, { minLength: 1, maxLength: 40, size: 'max' }), REGS, fc.integer({ min: 1, max: 4 }),
      fc.oneof({ weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }) }, { weight: 3, arbitrary: fc.integer({ min: 8, max: 2000 }) }), fc.integer({ min: 1, max: 3 }),
      (body, regs, loops, budget, threshold) => {
        const c = compare(program(body, loops), regs, budget, threshold);
        translated += c[HC_JIT_INSNS]!;
        total += c[HC_INSTRET]!;
      },
    ), { numRuns: 400, seed: 17 });
    console.log(`translated ${translated} of ${total}`);
    expect(translated).toBeGreaterThan(total / 3); // the property exercised the compiled code
  });

  it('straight-line blocks without branches loop inside one compiled function', () => {
    const body = [E.add(6, 6, 5), E.xor(7, 7, 6), E.slli(8, 6, 3), E.sub(7, 7, 8), E.ld(9, 10, 8), E.sd(7, 10, 16)];
    const c = compare(program(body, 50), [], 100_000, 1);
    expect(c[HC_JIT_BLOCKS]).toBeGreaterThan(0);
    expect(c[HC_JIT_INSNS]).toBeGreaterThanOrEqual(50 * 8 - 8);
  });
});

describe('loops inside one block', () => {
  // Side exits that branch back to the block's start start another pass in the generated
  // function; the block ends by falling off its end, by a side exit forward, or by a jal back.
  const programs: [string, number[]][] = [
    ['side exit back, fall off the end', [E.addi(6, 6, 1), E.andi(7, 6, 7), E.bne(7, 0, -8), E.addi(9, 9, 1), E.ECALL]],
    ['side exits back and forward, jal back', [E.addi(6, 6, 1), E.andi(7, 6, 3), E.bne(7, 0, -8), E.addi(8, 8, 1),
      E.addi(13, 13, -1), E.beq(13, 0, 8), E.jal(0, -24), E.ECALL]],
    ['load in the loop, store after it', [E.addi(6, 6, 1), E.lw(8, 10, 4), E.add(9, 9, 8), E.andi(7, 6, 15), E.bne(7, 0, -16),
      E.sd(9, 10, 8), E.ECALL]],
  ];
  for (const [what, words] of programs) {
    it(`${what}: same state for every budget`, () => {
      // x13 = 9: the second program's pass count.
      for (const budget of [1, 2, 3, 5, 7, 11, 100, 100_000]) {
        for (const threshold of [1, 2]) {
          const c = compare(words, [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 9n], budget, threshold);
          if (budget === 100_000) expect(c[HC_JIT_INSNS]).toBeGreaterThan(0);
        }
      }
    });
  }
});

describe('precise traps inside a block', () => {
  // A 12-instruction block of ALU ops, loads and stores; instruction k replaced by a faulting one.
  const block = [E.addi(5, 5, 1), E.ld(6, 10, 0), E.add(7, 6, 5), E.sd(7, 10, 8), E.slli(8, 7, 5), E.lw(9, 10, 12),
    E.xor(15, 8, 9), E.sw(15, 10, 24), E.mul(16, 15, 7), E.lbu(17, 10, 3), E.sub(18, 17, 16), E.sd(18, 10, -8)];
  const faults: [string, number][] = [
    ['load page fault', E.ld(19, 12, 0)], ['store page fault', E.sd(5, 12, 0)], ['store to read-only', E.sw(5, 11, 0)],
    ['misaligned load from read-only across into the hole', E.ld(19, 11, 2044)], ['illegal (ends the block)', 0],
  ];
  for (const [what, bad] of faults) {
    it(`${what} at every position leaves the interpreter's state`, () => {
      for (let k = 0; k < block.length; k++) {
        const words = [...block];
        words[k] = bad;
        for (const threshold of [1, 2]) compare([...words, E.ECALL], [0n, 0n, 0n, 0n, 0n, 3n], 1000, threshold);
      }
    });
  }

  it('a fault in a later pass of a self-looping block writes back registers the earlier passes wrote', () => {
    // x14 walks one page per pass: RW, RW, RO (loads fine), hole (faults in pass 4).
    const body = [E.add(6, 6, 14), E.addi(7, 7, 1), E.ld(8, 14, 0), E.add(9, 9, 8), E.add(14, 14, 15)];
    const words = [E.addi(13, 0, 10), ...body, E.addi(13, 13, -1), E.bne(13, 0, -4 * (body.length + 1)), E.ECALL];
    const regs: bigint[] = [];
    regs[15] = 4096n;
    // x14 is reserved (not randomised): set it through the program's first instruction instead.
    const withBase = [...E.li(14, BigInt(DATA_VA)), ...words];
    const c = compare(withBase, regs, 100_000, 1);
    expect(c[HC_JIT_INSNS]).toBeGreaterThan(0);
  });
});
