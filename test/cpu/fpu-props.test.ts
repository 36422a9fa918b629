import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FMT_D, FMT_S } from '../../cpu/fp-round.ts';
import type { FpFormat } from '../../cpu/fp-round.ts';
import { softAdd, softDiv, softFma, softMul, softSqrt } from '../../cpu/fp-soft.ts';
import { boxS, run } from './fpu-encode.ts';

// Property tests: the FPU's fast round-to-nearest paths (plain doubles, TwoSum,
// TwoProduct, emulated fma with round-to-odd) must agree bit for bit, flags included,
// with the exact BigInt implementation (itself checked against qemu in fpu-vectors).

const SEED = 20240611;
const RUNS = 3000;

/** Doubles biased toward interesting bit patterns: any bits, near 1, few mantissa bits. */
const double64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.tuple(fc.boolean(), fc.integer({ min: 1023 - 60, max: 1023 + 60 }), fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }))
    .map(([s, e, m]) => (s ? 1n << 63n : 0n) | (BigInt(e) << 52n) | m),
  fc.tuple(fc.boolean(), fc.integer({ min: 1023 - 10, max: 1023 + 10 }), fc.integer({ min: 0, max: 255 }))
    .map(([s, e, m]) => (s ? 1n << 63n : 0n) | (BigInt(e) << 52n) | (BigInt(m) << 44n)),
);
const single32 = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.tuple(fc.boolean(), fc.integer({ min: 127 - 30, max: 127 + 30 }), fc.integer({ min: 0, max: 0x7fffff }))
    .map(([s, e, m]) => ((s ? 0x80000000 : 0) | (e << 23) | m) >>> 0),
  // Near the underflow boundary and near 1, mantissas near all-zeros or all-ones:
  // products/quotients of these land just around 2^-126, where tininess is decided.
  fc.tuple(fc.boolean(), fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 124, max: 130 })),
    fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0x7ffff0, max: 0x7fffff })))
    .map(([s, e, m]) => ((s ? 0x80000000 : 0) | (e << 23) | m) >>> 0),
).map((b) => BigInt(b));

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
function toNum(b: bigint): number { u64[0] = b; return f64[0]!; }
function toBits(v: number): bigint { f64[0] = v; return u64[0]!; }

function reference(fmt: FpFormat, fn: (st: { fflags: number }) => bigint): { result: bigint; flags: number } {
  const st = { fflags: 0 };
  const r = fn(st);
  return { result: fmt === FMT_S ? boxS(Number(r)) : r, flags: st.fflags };
}

function agree(name: string, fmt: FpFormat, a: bigint, b: bigint, c: bigint,
  ref: (st: { fflags: number }) => bigint): void {
  const box = (v: bigint): bigint => (fmt === FMT_S ? boxS(Number(v)) : v);
  const got = run(name, 0, box(a), box(b), box(c));
  const want = reference(fmt, ref);
  expect({ r: got.result.toString(16), f: got.flags }).toEqual({ r: want.result.toString(16), f: want.flags });
}

describe('fast RNE paths agree with the exact BigInt reference', () => {
  for (const [sfx, fmt, arb] of [['d', FMT_D, double64], ['s', FMT_S, single32]] as const) {
    it(`fadd/fsub/fmul/fdiv.${sfx}`, () => {
      fc.assert(fc.property(arb, arb, (a, b) => {
        agree(`fadd.${sfx}`, fmt, a, b, 0n, (st) => softAdd(fmt, a, b, 0, st));
        agree(`fsub.${sfx}`, fmt, a, b, 0n, (st) => softAdd(fmt, a, b ^ fmt.signBit, 0, st));
        agree(`fmul.${sfx}`, fmt, a, b, 0n, (st) => softMul(fmt, a, b, 0, st));
        agree(`fdiv.${sfx}`, fmt, a, b, 0n, (st) => softDiv(fmt, a, b, 0, st));
      }), { seed: SEED, numRuns: RUNS });
    });

    it(`fsqrt.${sfx}`, () => {
      fc.assert(fc.property(arb, (a) => {
        agree(`fsqrt.${sfx}`, fmt, a, 0n, 0n, (st) => softSqrt(fmt, a, 0, st));
      }), { seed: SEED, numRuns: RUNS });
    });

    it(`fmadd/fmsub/fnmsub/fnmadd.${sfx} round once`, () => {
      fc.assert(fc.property(arb, arb, arb, (a, b, c) => {
        agree(`fmadd.${sfx}`, fmt, a, b, c, (st) => softFma(fmt, a, b, c, 0, 0, 0, st));
        agree(`fmsub.${sfx}`, fmt, a, b, c, (st) => softFma(fmt, a, b, c, 0, 1, 0, st));
        agree(`fnmsub.${sfx}`, fmt, a, b, c, (st) => softFma(fmt, a, b, c, 1, 0, 0, st));
        agree(`fnmadd.${sfx}`, fmt, a, b, c, (st) => softFma(fmt, a, b, c, 1, 1, 0, st));
      }), { seed: SEED, numRuns: RUNS });
    });
  }

  it('single results around 2^-126 decide tininess (UF) like the exact reference', () => {
    const nearOne = fc.tuple(fc.boolean(), fc.integer({ min: 126, max: 127 }),
      fc.oneof(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0x7ffff8, max: 0x7fffff })))
      .map(([sg, e, m]) => BigInt(((sg ? 0x80000000 : 0) | (e << 23) | m) >>> 0));
    const nearMin = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.oneof(fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0x7ffff8, max: 0x7fffff }))).map(([e, m]) => BigInt((e << 23) | m));
    fc.assert(fc.property(nearOne, nearMin, nearMin, (a, b, c) => {
      agree('fmul.s', FMT_S, a, b, 0n, (st) => softMul(FMT_S, a, b, 0, st));
      agree('fdiv.s', FMT_S, b, a, 0n, (st) => softDiv(FMT_S, b, a, 0, st));
      agree('fmadd.s', FMT_S, a, b, c, (st) => softFma(FMT_S, a, b, c, 0, 0, 0, st));
      agree('fnmsub.s', FMT_S, a, b, c, (st) => softFma(FMT_S, a, b, c, 1, 0, 0, st));
    }), { seed: SEED, numRuns: RUNS });
  });

  it('fmadd.d with c = -(a*b) ± a few ulps (massive cancellation) matches BigInt-exact', () => {
    fc.assert(fc.property(double64, double64, fc.integer({ min: -3, max: 3 }), (a, b, d) => {
      const p = toNum(a) * toNum(b);
      if (!Number.isFinite(p) || p === 0) return;
      const c = (toBits(-p) + BigInt(d)) & ((1n << 64n) - 1n);
      agree('fmadd.d', FMT_D, a, b, c, (st) => softFma(FMT_D, a, b, c, 0, 0, 0, st));
    }), { seed: SEED, numRuns: RUNS });
  });

  it('fmadd.d equals an independent BigInt evaluation of a*b+c rounded once ', () => {
    // Independent reference: exact rational a*b+c, rounded to nearest-even by comparing
    // with the neighbours of the candidate result (no code shared with cpu/).
    const toExact = (v: number): [bigint, bigint] => { // v = n / 2^1100
      const bits = toBits(v);
      const e = Number((bits >> 52n) & 0x7ffn);
      const m = (bits & ((1n << 52n) - 1n)) | (e ? 1n << 52n : 0n);
      const n = m << BigInt(Math.max(e, 1) - 1075 + 1100);
      return [bits >> 63n ? -n : n, 1100n];
    };
    fc.assert(fc.property(fc.integer({ min: -(2 ** 20), max: 2 ** 20 }), fc.integer({ min: 1, max: 2 ** 26 }),
      fc.integer({ min: -40, max: 40 }), (i, j, k) => {
        const a = 1 + i * 2 ** -52;
        const b = 1 + j * 2 ** -26;
        const c = -(a * b) + k * 2 ** -53;
        const got = toNum(run('fmadd.d', 0, toBits(a), toBits(b), toBits(c)).result);
        const [an] = toExact(a); const [bn] = toExact(b); const [cn] = toExact(c);
        const exact = an * bn + (cn << 1100n); // scaled by 2^2200
        const [gn] = toExact(got);
        const err = (gn << 1100n) - exact;
        const [up] = toExact(got === 0 ? 2 ** -1074 : Math.abs(got) * (1 + 2 ** -52));
        const ulp = (up << 1100n) - ((gn < 0n ? -gn : gn) << 1100n);
        const twice = 2n * (err < 0n ? -err : err);
        expect(twice <= ulp).toBe(true); // within half an ulp
      }), { seed: SEED, numRuns: RUNS });
  });
});
