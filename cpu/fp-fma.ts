/**
 * Fast fused multiply-add in round-to-nearest-even with JavaScript doubles — one rounding,
 * without BigInt, for the common case. JavaScript has no fma, so:
 *
 *  - double: Boldo & Melquiond's emulated FMA ("Emulation of FMA and correctly rounded
 *    sums: proved algorithms using rounding to odd", IEEE TC 2008):
 *        (uh, ul) = TwoProduct(a, b)      exact: a*b = uh + ul   (Dekker/Veltkamp split)
 *        (th, tl) = TwoSum(c, uh)         exact: c + uh = th + tl
 *        v = RoundToOdd(tl + ul)          emulated with TwoSum and one bit flip
 *        result = RN(th + v)              correctly rounded a*b + c
 *    Valid when nothing overflows or underflows, which the guards below enforce.
 *  - single: a*b is exact in a double (24+24 bits), so result = RN24(RoundToOdd53(a*b + c));
 *    rounding to odd with >= p+2 bits makes the second rounding innocent.
 *
 * Both return NaN when their preconditions fail (NaN/inf operands, results that may be
 * tiny or huge, operands whose splitting could overflow); the caller then uses the exact
 * BigInt path (cpu/fp-soft.ts). Otherwise the result is exact-rounded and NX is raised in
 * `st` when it is inexact (no other flag can arise inside the guards).
 */
import { FFLAG_NX } from './fp-round.ts';
import type { FlagSink } from './fp-round.ts';

const SPLIT = 134217729; // 2^27 + 1, Veltkamp splitting constant for binary64
const LOW = 2 ** -960; // products / results at least this large keep every error term exact
const HIGH = 2 ** 995; // operands below this can be split without overflow
const SINGLE_MIN_NORMAL = 2 ** -126;

const scratch = new Float64Array(1);
const scratchWords = new Int32Array(scratch.buffer); // [0] low word, [1] high word

/**
 * roundToOdd: given z = RN(s) for an exact s = z + w with w != 0, return RO(s): z if its
 * last bit is odd, else the neighbour of z on w's side (which is odd).
 */
function roundToOdd(z: number, w: number): number {
  scratch[0] = z;
  const lo = scratchWords[0]!;
  if (lo & 1) return z;
  if ((w > 0) === (z > 0)) {
    scratchWords[0] = lo | 1; // away from zero: +1 ulp, no carry since lo is even
  } else if (lo === 0) {
    scratchWords[0] = -1; // toward zero: -1 ulp with a borrow from the high word
    scratchWords[1] = scratchWords[1]! - 1;
  } else {
    scratchWords[0] = lo - 1;
  }
  return scratch[0]!;
}

/** fmaFastD: RN(a*b + c) in binary64, or NaN when the exact path must decide. */
export function fmaFastD(a: number, b: number, c: number, st: FlagSink): number {
  const uh = a * b;
  const auh = Math.abs(uh);
  if (!(auh >= LOW && auh < HIGH && Math.abs(a) < HIGH && Math.abs(b) < HIGH && Math.abs(c) < HIGH)) return NaN;
  const ul = productError(a, b, uh); // TwoProduct: a*b = uh + ul exactly
  // TwoSum: th + tl = c + uh exactly.
  const th = c + uh;
  let bb = th - c;
  const tl = (c - (th - bb)) + (uh - bb);
  // v = RO(tl + ul).
  let v = tl + ul;
  bb = v - tl;
  const w = (tl - (v - bb)) + (ul - bb);
  if (w !== 0) v = roundToOdd(v, w);
  const r = th + v;
  const ar = Math.abs(r);
  if (!(ar >= LOW && ar < HIGH)) return NaN;
  if (w !== 0) {
    st.fflags |= FFLAG_NX;
  } else {
    bb = r - th;
    if ((th - (r - bb)) + (v - bb) !== 0) st.fflags |= FFLAG_NX;
  }
  return r;
}

/** fmaFastS: RN24(a*b + c) for single operands given as numbers, or NaN to defer. */
export function fmaFastS(a: number, b: number, c: number, st: FlagSink): number {
  const p = a * b; // exact: 48 significant bits, exponent within double range
  let z = p + c;
  if (!(z - z === 0)) return NaN; // NaN or infinite operand, or overflow
  const bb = z - p;
  const w = (p - (z - bb)) + (c - bb);
  if (w !== 0) z = roundToOdd(z, w);
  const r = Math.fround(z);
  // Tininess (after rounding, RISC-V) is judged on the exact sum: |RO(s)| < 2^-126 iff |s| is.
  if (!(Math.abs(z) >= SINGLE_MIN_NORMAL && r - r === 0)) return NaN;
  if (w !== 0 || r !== z) st.fflags |= FFLAG_NX;
  return r;
}

/** productError: a*b - r exactly, for r = RN(a*b) with |a|,|b| < 2^995 and |r| >= 2^-960. */
export function productError(a: number, b: number, r: number): number {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ((ah * bh - r) + ah * bl + al * bh) + al * bl;
}
