// RV64I and M register-register and immediate vectors against a BigInt reference.
import { describe, expect, it } from 'vitest';
import * as E from '../helpers/encode.ts';
import { rng } from '../helpers/rng.ts';
import { EDGES, makeHart, runToEcall, s32, s64, u32, u64 } from './hart-harness.ts';

const MIN64 = -0x8000000000000000n;
const MIN32 = -0x80000000n;

type Ref = (a: bigint, b: bigint) => bigint;
const RR: Record<string, [(rd: number, a: number, b: number) => number, Ref]> = {
  add: [E.add, (a, b) => a + b],
  sub: [E.sub, (a, b) => a - b],
  sll: [E.sll, (a, b) => a << (b & 63n)],
  srl: [E.srl, (a, b) => u64(a) >> (b & 63n)],
  sra: [E.sra, (a, b) => s64(a) >> (b & 63n)],
  slt: [E.slt, (a, b) => (s64(a) < s64(b) ? 1n : 0n)],
  sltu: [E.sltu, (a, b) => (u64(a) < u64(b) ? 1n : 0n)],
  xor: [E.xor, (a, b) => a ^ b],
  or: [E.or, (a, b) => a | b],
  and: [E.and, (a, b) => a & b],
  addw: [E.addw, (a, b) => s32(a + b)],
  subw: [E.subw, (a, b) => s32(a - b)],
  sllw: [E.sllw, (a, b) => s32(a << (b & 31n))],
  srlw: [E.srlw, (a, b) => s32(u32(a) >> (b & 31n))],
  sraw: [E.sraw, (a, b) => s32(s32(a) >> (b & 31n))],
  mul: [E.mul, (a, b) => a * b],
  mulh: [E.mulh, (a, b) => (s64(a) * s64(b)) >> 64n],
  mulhsu: [E.mulhsu, (a, b) => (s64(a) * u64(b)) >> 64n],
  mulhu: [E.mulhu, (a, b) => (u64(a) * u64(b)) >> 64n],
  div: [E.div, (a, b) => {
    a = s64(a); b = s64(b);
    return b === 0n ? -1n : a === MIN64 && b === -1n ? MIN64 : a / b;
  }],
  divu: [E.divu, (a, b) => (u64(b) === 0n ? -1n : u64(a) / u64(b))],
  rem: [E.rem, (a, b) => {
    a = s64(a); b = s64(b);
    return b === 0n ? a : a === MIN64 && b === -1n ? 0n : a % b;
  }],
  remu: [E.remu, (a, b) => (u64(b) === 0n ? a : u64(a) % u64(b))],
  mulw: [E.mulw, (a, b) => s32(a * b)],
  divw: [E.divw, (a, b) => {
    a = s32(a); b = s32(b);
    return b === 0n ? -1n : a === MIN32 && b === -1n ? MIN32 : s32(a / b);
  }],
  divuw: [E.divuw, (a, b) => (u32(b) === 0n ? -1n : s32(u32(a) / u32(b)))],
  remw: [E.remw, (a, b) => {
    a = s32(a); b = s32(b);
    return b === 0n ? a : a === MIN32 && b === -1n ? 0n : s32(a % b);
  }],
  remuw: [E.remuw, (a, b) => (u32(b) === 0n ? s32(a) : s32(u32(a) % u32(b)))],
};

function operands(): [bigint, bigint][] {
  const r = rng(42);
  const rnd = () => s64((BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));
  const out: [bigint, bigint][] = [];
  for (const a of EDGES) for (const b of EDGES) out.push([a, b]);
  for (let i = 0; i < 200; i++) out.push([rnd(), rnd()]);
  for (let i = 0; i < 50; i++) out.push([rnd() >> 33n, rnd() >> 40n]); // small values: fast paths
  return out;
}

describe('hart RV64I/M register-register', () => {
  const ops = operands();
  for (const [name, [enc, ref]] of Object.entries(RR)) {
    it(`${name} matches the reference on ${ops.length} operand pairs`, () => {
      const { hart } = makeHart();
      for (const [a, b] of ops) {
        hart.setX(1, a);
        hart.setX(2, b);
        runToEcall(hart, [enc(3, 1, 2)]);
        expect(hart.getX(3), `${name} ${a} ${b}`).toBe(s64(ref(a, b)));
      }
    });
  }

  it('rd = rs1 = rs2 aliasing works (add x5, x5, x5; mulhu x6, x6, x6)', () => {
    const { hart } = makeHart();
    hart.setX(5, 0x8000000080000000n);
    hart.setX(6, -1n);
    runToEcall(hart, [E.add(5, 5, 5), E.mulhu(6, 6, 6)]);
    expect(hart.getX(5)).toBe(0x100000000n);
    expect(hart.getX(6)).toBe(-2n);
  });

  it('writes to x0 are discarded', () => {
    const { hart } = makeHart();
    hart.setX(1, 5n);
    runToEcall(hart, [E.addi(0, 1, 7), E.add(0, 1, 1), E.lui(0, 0x12345), E.add(2, 0, 0)]);
    expect(hart.getX(0)).toBe(0n);
    expect(hart.getX(2)).toBe(0n);
  });
});

const IMMS = [0, 1, -1, 2, 2047, -2048, 0x555, -0x556];
const RI: Record<string, [(rd: number, a: number, i: number) => number, Ref, number[]]> = {
  addi: [E.addi, (a, i) => a + i, IMMS],
  slti: [E.slti, (a, i) => (s64(a) < i ? 1n : 0n), IMMS],
  sltiu: [E.sltiu, (a, i) => (u64(a) < u64(i) ? 1n : 0n), IMMS],
  xori: [E.xori, (a, i) => a ^ i, IMMS],
  ori: [E.ori, (a, i) => a | i, IMMS],
  andi: [E.andi, (a, i) => a & i, IMMS],
  slli: [E.slli, (a, i) => a << i, [0, 1, 12, 31, 32, 33, 63]],
  srli: [E.srli, (a, i) => u64(a) >> i, [0, 1, 12, 31, 32, 33, 63]],
  srai: [E.srai, (a, i) => s64(a) >> i, [0, 1, 12, 31, 32, 33, 63]],
  addiw: [E.addiw, (a, i) => s32(a + i), IMMS],
  slliw: [E.slliw, (a, i) => s32(a << i), [0, 1, 16, 31]],
  srliw: [E.srliw, (a, i) => s32(u32(a) >> i), [0, 1, 16, 31]],
  sraiw: [E.sraiw, (a, i) => s32(s32(a) >> i), [0, 1, 16, 31]],
};

describe('hart RV64I register-immediate', () => {
  for (const [name, [enc, ref, imms]] of Object.entries(RI)) {
    it(`${name} matches the reference`, () => {
      const { hart } = makeHart();
      for (const a of EDGES) {
        for (const i of imms) {
          hart.setX(1, a);
          runToEcall(hart, [enc(3, 1, i)]);
          expect(hart.getX(3), `${name} ${a} ${i}`).toBe(s64(ref(a, BigInt(i))));
        }
      }
    });
  }

  it('lui and auipc sign-extend their 32-bit result', () => {
    const { hart } = makeHart();
    runToEcall(hart, [E.lui(1, 0x80000), E.lui(2, 0x7ffff), E.auipc(3, 0), E.auipc(4, 0xfffff)]);
    expect(hart.getX(1)).toBe(-0x80000000n);
    expect(hart.getX(2)).toBe(0x7ffff000n);
    expect(hart.getX(3)).toBe(0x10008n); // CODE + 8
    expect(hart.getX(4)).toBe(0x1000cn - 0x1000n);
  });

  it('li sequences build arbitrary 64-bit constants', () => {
    const { hart } = makeHart();
    for (const v of EDGES) {
      runToEcall(hart, E.li(7, v));
      expect(hart.getX(7)).toBe(s64(v));
    }
  });
});
