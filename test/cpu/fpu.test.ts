import { describe, expect, it } from 'vitest';
import { FFLAG_DZ, FFLAG_NV, FFLAG_NX, FFLAG_OF, FFLAG_UF, Fpu } from '../../cpu/fpu.ts';
import { boxS, dBits, encode, getF, getX, run, sBits, setF, setX } from './fpu-encode.ts';

// Hand-picked edge cases, one concept per block. Expected values follow the unprivileged
// spec (F/D chapters); the qemu vectors in fpu-vectors.test.ts cover the bulk.

const RNE = 0, RTZ = 1, RDN = 2, RUP = 3, RMM = 4;
const QNAN_D = 0x7ff8000000000000n;
const QNAN_S = boxS(0x7fc00000);
const SNAN_D = 0x7ff0000000000001n;
const SNAN_S = boxS(0x7f800001);
const MAX_D = 0x7fefffffffffffffn;
const d = dBits;
const s = (v: number): bigint => boxS(sBits(v));
const hex = (b: bigint): string => '0x' + b.toString(16);

function expectRun(name: string, rm: number, args: bigint[], result: bigint, flags: number): void {
  const got = run(name, rm, args[0]!, args[1] ?? 0n, args[2] ?? 0n);
  expect({ ok: got.ok, result: hex(got.result), flags: got.flags }).toEqual({ ok: true, result: hex(result), flags });
}

describe('NaN-boxing and canonical NaNs', () => {
  it('an unboxed single operand reads as the canonical NaN', () => {
    const unboxed = 0x000000003f800000n; // 1.0f with a zero high word
    expectRun('fadd.s', RNE, [unboxed, s(1)], QNAN_S, 0);
    expectRun('fclass.s', RNE, [unboxed], 1n << 9n, 0);
    expectRun('feq.s', RNE, [unboxed, unboxed], 0n, 0); // quiet: no NV
    expectRun('flt.s', RNE, [unboxed, s(1)], 0n, FFLAG_NV);
    expectRun('fsgnjn.s', RNE, [unboxed, s(1)], boxS(0xffc00000), 0); // sign of -1.0 onto the canonical NaN
    expectRun('fcvt.d.s', RNE, [unboxed], QNAN_D, 0);
    expectRun('fmax.s', RNE, [unboxed, s(-3)], s(-3), 0);
    // fmv.x.w moves the low word whatever the boxing, sign-extended.
    expectRun('fmv.x.w', RNE, [0x12345678_80000000n], 0xffffffff80000000n, 0);
    expectRun('fmv.w.x', RNE, [0xdeadbeef_3f800000n], s(1), 0);
  });

  it('NaN results are canonical, never a host NaN pattern or a propagated payload', () => {
    expectRun('fadd.d', RNE, [0xfff8000000000123n, d(1)], QNAN_D, 0);
    expectRun('fsub.d', RNE, [d(Infinity), d(Infinity)], QNAN_D, FFLAG_NV); // x86 would give 0xfff8...
    expectRun('fmul.s', RNE, [s(Infinity), s(0)], QNAN_S, FFLAG_NV);
    expectRun('fdiv.d', RNE, [d(0), d(-0)], QNAN_D, FFLAG_NV);
    expectRun('fsqrt.d', RNE, [d(-1)], QNAN_D, FFLAG_NV);
    expectRun('fsqrt.s', RNE, [s(-Infinity)], QNAN_S, FFLAG_NV);
    expectRun('fadd.s', RNE, [SNAN_S, s(1)], QNAN_S, FFLAG_NV);
    expectRun('fcvt.s.d', RNE, [SNAN_D], QNAN_S, FFLAG_NV);
    expectRun('fcvt.d.s', RNE, [boxS(0xffc00001)], QNAN_D, 0);
  });

  it('fsgnj* move bits without canonicalizing', () => {
    expectRun('fsgnj.d', RNE, [SNAN_D, d(-1)], SNAN_D | (1n << 63n), 0);
    expectRun('fsgnjx.d', RNE, [d(-2), d(-1)], d(2), 0);
    expectRun('fsgnjn.s', RNE, [s(3), s(3)], s(-3), 0);
  });
});

describe('fmin/fmax (minimumNumber/maximumNumber) and compares', () => {
  it('orders -0 below +0 in both operand orders', () => {
    expectRun('fmin.d', RNE, [d(0), d(-0)], d(-0), 0);
    expectRun('fmin.d', RNE, [d(-0), d(0)], d(-0), 0);
    expectRun('fmax.d', RNE, [d(-0), d(0)], d(0), 0);
    expectRun('fmax.s', RNE, [s(0), s(-0)], s(0), 0);
    expectRun('fmin.s', RNE, [s(2), s(-7)], s(-7), 0);
  });

  it('one NaN gives the other operand; sNaN raises NV; two NaNs give the canonical NaN', () => {
    expectRun('fmin.d', RNE, [QNAN_D, d(5)], d(5), 0);
    expectRun('fmax.d', RNE, [d(5), SNAN_D], d(5), FFLAG_NV);
    expectRun('fmax.s', RNE, [SNAN_S, s(-1)], s(-1), FFLAG_NV);
    expectRun('fmin.d', RNE, [0xfff8000000000001n, SNAN_D], QNAN_D, FFLAG_NV);
    expectRun('fmin.s', RNE, [QNAN_S, QNAN_S], QNAN_S, 0);
  });

  it('feq is quiet (NV only on sNaN); flt/fle signal on any NaN', () => {
    expectRun('feq.d', RNE, [QNAN_D, d(1)], 0n, 0);
    expectRun('feq.d', RNE, [SNAN_D, d(1)], 0n, FFLAG_NV);
    expectRun('flt.d', RNE, [QNAN_D, d(1)], 0n, FFLAG_NV);
    expectRun('fle.s', RNE, [s(1), QNAN_S], 0n, FFLAG_NV);
    expectRun('feq.d', RNE, [d(-0), d(0)], 1n, 0);
    expectRun('fle.d', RNE, [d(-0), d(0)], 1n, 0);
    expectRun('flt.d', RNE, [d(-0), d(0)], 0n, 0);
    expectRun('flt.s', RNE, [s(-Infinity), s(-3e38)], 1n, 0);
  });

  it('fclass sets exactly one bit for each of the ten classes', () => {
    const cases: [string, bigint, number][] = [
      ['fclass.d', d(-Infinity), 0], ['fclass.d', d(-1), 1], ['fclass.d', 0x800fffffffffffffn, 2],
      ['fclass.d', d(-0), 3], ['fclass.d', d(0), 4], ['fclass.d', 1n, 5], ['fclass.d', d(1), 6],
      ['fclass.d', d(Infinity), 7], ['fclass.d', SNAN_D, 8], ['fclass.d', QNAN_D, 9],
      ['fclass.s', s(-Infinity), 0], ['fclass.s', boxS(0x807fffff), 2], ['fclass.s', boxS(1), 5],
      ['fclass.s', SNAN_S, 8], ['fclass.s', QNAN_S, 9],
    ];
    for (const [op, v, bit] of cases) expectRun(op, RNE, [v], 1n << BigInt(bit), 0);
  });
});

describe('rounding modes', () => {
  it('a tie (1 + 2^-53) goes to even, away in RMM, by direction in RUP/RDN/RTZ', () => {
    const tie = [d(1), d(2 ** -53)];
    expectRun('fadd.d', RNE, tie, d(1), FFLAG_NX);
    expectRun('fadd.d', RTZ, tie, d(1), FFLAG_NX);
    expectRun('fadd.d', RDN, tie, d(1), FFLAG_NX);
    expectRun('fadd.d', RUP, tie, d(1 + 2 ** -52), FFLAG_NX);
    expectRun('fadd.d', RMM, tie, d(1 + 2 ** -52), FFLAG_NX);
    expectRun('fadd.d', RDN, [d(-1), d(-(2 ** -53))], d(-1 - 2 ** -52), FFLAG_NX);
  });

  it('1/3 rounds down in RNE/RTZ/RDN/RMM and up in RUP; -1/3 mirrors', () => {
    const third = 0x3fd5555555555555n;
    for (const rm of [RNE, RTZ, RDN, RMM]) expectRun('fdiv.d', rm, [d(1), d(3)], third, FFLAG_NX);
    expectRun('fdiv.d', RUP, [d(1), d(3)], third + 1n, FFLAG_NX);
    expectRun('fdiv.d', RDN, [d(-1), d(3)], (third + 1n) | (1n << 63n), FFLAG_NX);
    expectRun('fdiv.s', RUP, [s(1), s(3)], boxS(0x3eaaaaab), FFLAG_NX);
    expectRun('fdiv.s', RTZ, [s(1), s(3)], boxS(0x3eaaaaaa), FFLAG_NX);
  });

  it('overflow gives inf or the largest finite value by mode and sign', () => {
    const big = [d(1.5e308), d(1.5e308)];
    expectRun('fadd.d', RNE, big, d(Infinity), FFLAG_OF | FFLAG_NX);
    expectRun('fadd.d', RTZ, big, MAX_D, FFLAG_OF | FFLAG_NX);
    expectRun('fadd.d', RDN, big, MAX_D, FFLAG_OF | FFLAG_NX);
    expectRun('fadd.d', RUP, big, d(Infinity), FFLAG_OF | FFLAG_NX);
    expectRun('fmul.d', RUP, [d(-1e300), d(1e300)], MAX_D | (1n << 63n), FFLAG_OF | FFLAG_NX);
    expectRun('fmul.s', RMM, [s(3e38), s(-2)], s(-Infinity), FFLAG_OF | FFLAG_NX);
  });

  it('an exact zero sum is +0, except -0 in RDN', () => {
    expectRun('fsub.d', RNE, [d(1), d(1)], d(0), 0);
    expectRun('fsub.d', RDN, [d(1), d(1)], d(-0), 0);
    expectRun('fadd.s', RDN, [s(-0), s(0)], s(-0), 0);
    expectRun('fadd.s', RUP, [s(-0), s(-0)], s(-0), 0);
  });

  it('rm 5 and 6 are illegal, and dynamic rm is illegal when frm > 4', () => {
    for (const rm of [5, 6]) expect(run('fadd.d', rm, d(1), d(1), 0n, { staticRm: true }).ok).toBe(false);
    expect(run('fadd.d', 7, d(1), d(1), 0n, { frm: 5 }).ok).toBe(false);
    expect(run('fmadd.s', 7, s(1), s(1), s(1), { frm: 7 }).ok).toBe(false);
    expect(run('fcvt.d.s', 5, s(1), 0n, 0n, { staticRm: true }).ok).toBe(false);
    expect(run('fsgnj.d', 0, d(1), d(1), 0n, { frm: 6 }).ok).toBe(true); // no rm field: frm irrelevant
  });
});

describe('flags', () => {
  it('DZ on finite/0, none on inf/0 or 0/0 (NV instead)', () => {
    expectRun('fdiv.d', RNE, [d(-3), d(0)], d(-Infinity), FFLAG_DZ);
    expectRun('fdiv.s', RNE, [s(Infinity), s(0)], s(Infinity), 0);
  });

  it('UF uses tininess after rounding', () => {
    // 2^-126 * (1 - 2^-46): rounds to 2^-126 even with an unbounded exponent → not tiny: NX only.
    expectRun('fmul.s', RNE, [boxS(0x3f7ffffe), boxS(0x00800001)], boxS(0x00800000), FFLAG_NX);
    // 2^-126 * (1 - 2^-24): exact at 24 bits with an unbounded exponent → tiny; result is 2^-126.
    expectRun('fmul.s', RNE, [boxS(0x3f7fffff), boxS(0x00800000)], boxS(0x00800000), FFLAG_UF | FFLAG_NX);
    // Exact subnormal results raise nothing.
    expectRun('fmul.d', RNE, [d(2 ** -1070), d(0.5)], d(2 ** -1071), 0);
    expectRun('fmul.d', RNE, [d(2 ** -1074), d(0.5)], d(0), FFLAG_UF | FFLAG_NX);
    expectRun('fmul.d', RUP, [d(2 ** -1074), d(0.5)], d(2 ** -1074), FFLAG_UF | FFLAG_NX);
  });

  it('fflags accumulate and fcsr combines frm and fflags', () => {
    const fpu = new Fpu(new Int32Array(64));
    setF(fpu, 1, d(1)); setF(fpu, 2, d(3)); setF(fpu, 3, d(0));
    expect(fpu.exec(encode('fdiv.d', 4, 1, 2))).toBe(true);
    expect(fpu.exec(encode('fdiv.d', 4, 1, 3))).toBe(true);
    expect(fpu.fflags).toBe(FFLAG_NX | FFLAG_DZ);
    fpu.writeFcsr(0x4a1);
    expect([fpu.frm, fpu.fflags, fpu.readFcsr()]).toEqual([5, 1, 0xa1]);
  });
});

describe('fused multiply-add rounds once', () => {
  it('0.1*10 - 1 is 2^-54, where a*b+c in doubles gives 0', () => {
    expect(0.1 * 10 - 1).toBe(0);
    expectRun('fmadd.d', RNE, [d(0.1), d(10), d(-1)], d(2 ** -54), 0);
    expectRun('fmsub.d', RNE, [d(0.1), d(10), d(1)], d(2 ** -54), 0);
    expectRun('fnmadd.d', RNE, [d(0.1), d(10), d(-1)], d(-(2 ** -54)), 0);
    expectRun('fnmsub.d', RNE, [d(0.1), d(10), d(1)], d(-(2 ** -54)), 0);
  });

  it('single fma avoids double rounding through a double tie', () => {
    // a*b = 2^6 (1 - 2^-30), c = 2^30 + 2^7: exact sum is just below a single tie; rounding
    // to double first lands on the tie and then on the wrong (even) neighbour.
    const a = boxS(0x42800100), b = boxS(0x3f7ffe00), c = boxS(0x4e800001);
    const naive = Math.fround(Math.fround(64 * (1 + 2 ** -15)) * Math.fround(1 - 2 ** -15) + (2 ** 30 + 128));
    expect(sBits(naive)).toBe(0x4e800002);
    expectRun('fmadd.s', RNE, [a, b, c], boxS(0x4e800001), FFLAG_NX);
  });

  it('inf*0 is invalid even with a quiet NaN addend; inf - inf is invalid', () => {
    expectRun('fmadd.d', RNE, [d(Infinity), d(0), QNAN_D], QNAN_D, FFLAG_NV);
    expectRun('fmadd.s', RNE, [s(Infinity), s(2), s(-Infinity)], QNAN_S, FFLAG_NV);
    expectRun('fmsub.d', RNE, [d(Infinity), d(2), d(Infinity)], QNAN_D, FFLAG_NV);
    expectRun('fmadd.d', RNE, [QNAN_D, d(2), SNAN_D], QNAN_D, FFLAG_NV);
  });

  it('exact zero results follow the addition sign rule', () => {
    expectRun('fmadd.d', RNE, [d(2), d(3), d(-6)], d(0), 0);
    expectRun('fmadd.d', RDN, [d(2), d(3), d(-6)], d(-0), 0);
    expectRun('fmadd.d', RNE, [d(-0), d(3), d(-0)], d(-0), 0);
  });
});

describe('conversions', () => {
  // The spec's table: NaN and +out-of-range saturate high, -out-of-range low; NV, no NX.
  const W_MAX = 0x7fffffffn, W_MIN = 0xffffffff80000000n, ONES = 0xffffffffffffffffn;
  const L_MAX = 0x7fffffffffffffffn, L_MIN = 0x8000000000000000n;
  const table: [string, bigint, bigint][] = [
    ['fcvt.w.d', QNAN_D, W_MAX], ['fcvt.w.d', d(Infinity), W_MAX], ['fcvt.w.d', d(-Infinity), W_MIN],
    ['fcvt.w.d', d(2 ** 31), W_MAX], ['fcvt.w.d', d(-(2 ** 31) - 1), W_MIN],
    ['fcvt.wu.d', QNAN_D, ONES], ['fcvt.wu.d', d(2 ** 32), ONES], ['fcvt.wu.d', d(-1), 0n],
    ['fcvt.l.d', QNAN_D, L_MAX], ['fcvt.l.d', d(2 ** 63), L_MAX], ['fcvt.l.d', d(-Infinity), L_MIN],
    ['fcvt.lu.d', QNAN_D, ONES], ['fcvt.lu.d', d(2 ** 64), ONES], ['fcvt.lu.d', d(-2), 0n],
    ['fcvt.w.s', SNAN_S, W_MAX], ['fcvt.lu.s', s(-Infinity), 0n], ['fcvt.l.s', s(-(2 ** 64)), L_MIN],
  ];
  it('saturate per the spec table and raise NV only', () => {
    for (const [op, v, want] of table) expectRun(op, RTZ, [v], want, FFLAG_NV);
  });

  it('in range: exact, NX when inexact, boundary values, 32-bit results sign-extended', () => {
    expectRun('fcvt.w.d', RTZ, [d(-(2 ** 31))], W_MIN, 0);
    expectRun('fcvt.w.d', RTZ, [d(2 ** 31 - 0.5)], W_MAX, FFLAG_NX);
    expectRun('fcvt.wu.d', RTZ, [d(3e9)], 0xffffffffb2d05e00n, 0);
    expectRun('fcvt.wu.d', RTZ, [d(-0.9)], 0n, FFLAG_NX); // rounds to 0: in range
    expectRun('fcvt.wu.d', RNE, [d(-0.9)], 0n, FFLAG_NV); // rounds to -1: out of range
    expectRun('fcvt.l.d', RNE, [d(-(2 ** 63))], L_MIN, 0);
    expectRun('fcvt.lu.d', RNE, [0x43efffffffffffffn], 0xfffffffffffff800n, 0);
  });

  it('rounds to integer in every mode (±2.5)', () => {
    const want: [number, bigint, bigint][] = [
      [RNE, 2n, -2n], [RTZ, 2n, -2n], [RDN, 2n, -3n], [RUP, 3n, -2n], [RMM, 3n, -3n],
    ];
    for (const [rm, pos, neg] of want) {
      expectRun('fcvt.w.d', rm, [d(2.5)], pos, FFLAG_NX);
      expectRun('fcvt.l.s', rm, [s(-2.5)], BigInt.asUintN(64, neg), FFLAG_NX);
    }
  });

  it('int to float rounds by mode; float to float narrows with flags', () => {
    expectRun('fcvt.s.w', RNE, [0x1000001n], s(16777216), FFLAG_NX); // 2^24+1: tie to even
    expectRun('fcvt.s.w', RUP, [0x1000001n], s(16777218), FFLAG_NX);
    expectRun('fcvt.d.l', RNE, [0x20000000000001n], d(2 ** 53), FFLAG_NX);
    expectRun('fcvt.d.l', RMM, [0x20000000000001n], d(2 ** 53 + 2), FFLAG_NX);
    expectRun('fcvt.d.lu', RNE, [ONES], d(2 ** 64), FFLAG_NX);
    expectRun('fcvt.d.wu', RNE, [0xffffffff_fffffffen], d(4294967294), 0);
    expectRun('fcvt.d.w', RNE, [0x00000000_fffffffen], d(-2), 0); // reads the low 32 bits, signed
    expectRun('fcvt.s.d', RNE, [d(1e300)], s(Infinity), FFLAG_OF | FFLAG_NX);
    expectRun('fcvt.s.d', RTZ, [d(1e300)], boxS(0x7f7fffff), FFLAG_OF | FFLAG_NX);
    expectRun('fcvt.s.d', RNE, [d(1e-50)], s(0), FFLAG_UF | FFLAG_NX);
    expectRun('fcvt.s.d', RNE, [d(0.1)], s(0.1), FFLAG_NX);
    expectRun('fcvt.d.s', RNE, [s(0.1)], d(Math.fround(0.1)), 0);
  });

  it('moves are raw and 64-bit moves keep every bit', () => {
    expectRun('fmv.x.d', RNE, [0xfff0000000000001n], 0xfff0000000000001n, 0);
    expectRun('fmv.d.x', RNE, [0x7ff0000000000001n], 0x7ff0000000000001n, 0);
    expectRun('fmv.x.w', RNE, [boxS(0x7f800001)], 0x7f800001n, 0);
  });
});

describe('decoding', () => {
  it('rejects reserved encodings without changing state', () => {
    const fpu = new Fpu(new Int32Array(64));
    setF(fpu, 1, d(1)); setF(fpu, 4, d(9));
    const bad = [
      encode('fadd.d', 4, 1, 1) | (2 << 25), // fmt H
      encode('fadd.d', 4, 1, 1) | (3 << 25), // fmt Q
      encode('fmadd.d', 4, 1, 1, 1) | (2 << 25),
      encode('fsqrt.d', 4, 1) | (1 << 20), // rs2 != 0
      (encode('fsgnj.d', 4, 1, 1) & ~0x7000) | (3 << 12), // funct3 3
      (encode('fmin.d', 4, 1, 1) & ~0x7000) | (2 << 12),
      (encode('feq.d', 4, 1, 1) & ~0x7000) | (3 << 12),
      encode('fcvt.w.d', 4, 1) | (4 << 20), // rs2 4
      encode('fcvt.d.w', 4, 1) | (5 << 20),
      encode('fcvt.s.d', 4, 1) & ~(1 << 20), // fcvt.s.s
      (encode('fmv.x.d', 4, 1) & ~0x7000) | (2 << 12),
      encode('fmv.d.x', 4, 1) | (1 << 12),
      (0x1f << 27) | 0x53, // funct5 0x1f
      (0x06 << 27) | 0x53,
      0x00000013, // not an FP opcode
    ];
    for (const insn of bad) expect(fpu.exec(insn >>> 0), `insn ${(insn >>> 0).toString(16)}`).toBe(false);
    expect(getF(fpu, 4)).toBe(d(9));
    expect(fpu.fflags).toBe(0);
  });

  it('never writes x0', () => {
    const x = new Int32Array(64);
    const fpu = new Fpu(x);
    setF(fpu, 1, d(-7.5));
    for (const op of ['fcvt.w.d', 'fcvt.lu.d', 'fclass.d', 'fmv.x.d', 'feq.d', 'flt.d']) {
      expect(fpu.exec(encode(op, 0, 1, 1, 0, RTZ))).toBe(true);
    }
    expect(getX(x, 0)).toBe(0n);
    expect(fpu.fflags).toBe(FFLAG_NX | FFLAG_NV); // the conversions still raise their flags
  });

  it('reads integer sources from the hart register file', () => {
    const x = new Int32Array(64);
    const fpu = new Fpu(x);
    setX(x, 7, -5n & 0xffffffffffffffffn);
    expect(fpu.exec(encode('fcvt.d.l', 3, 7))).toBe(true);
    expect(fpu.f64[3]).toBe(-5);
  });
});
