/**
 * Exact software floating point on raw bits (BigInt): add, multiply, divide, square root,
 * fused multiply-add, float<->float and int->float conversions, in every rounding mode,
 * with every fflags bit. The exact result is formed in BigInt (full product, aligned sum,
 * quotient or root with a sticky remainder) and rounded once by `roundPack`.
 *
 * This is the FPU's reference and slow path: cpu/fpu.ts answers the common
 * round-to-nearest cases with a few double operations and falls back here for other
 * rounding modes, NaN/infinity/zero operands, and results near overflow or underflow.
 *
 * NaN results are always the canonical NaN; any signaling NaN operand raises NV.
 * Operands are raw bits of the format (singles already un-NaN-boxed by the caller).
 */
import {
  FFLAG_DZ, FFLAG_NV, K_INF, K_QNAN, K_SNAN, K_ZERO, RM_RDN,
  bitLength, infinityBits, roundPack, unpack, zeroBits,
} from './fp-round.ts';
import type { FlagSink, FpFormat, Unpacked } from './fp-round.ts';

/** nanResult: the canonical NaN, raising NV when any operand is signaling. */
function nanResult(fmt: FpFormat, st: FlagSink, ...ops: Unpacked[]): bigint {
  for (const o of ops) if (o.kind === K_SNAN) st.fflags |= FFLAG_NV;
  return fmt.canonicalNaN;
}

function isNaNKind(o: Unpacked): boolean {
  return o.kind >= K_QNAN;
}

/**
 * addExact: round (-1)^sa*ma*2^ea + (-1)^sb*mb*2^eb (either mantissa may be 0) once.
 * An exact zero sum is +0, or -0 in RDN, unless both terms are zeros of the same sign.
 */
function addExact(fmt: FpFormat, sa: number, ma: bigint, ea: number, sb: number, mb: bigint, eb: number,
  rm: number, st: FlagSink): bigint {
  if (ma === 0n && mb === 0n) return zeroBits(fmt, sa === sb ? sa : rm === RM_RDN ? 1 : 0);
  if (ma === 0n) return roundPack(fmt, sb, mb, eb, false, rm, st);
  if (mb === 0n) return roundPack(fmt, sa, ma, ea, false, rm, st);
  const e = Math.min(ea, eb);
  const a = ma << BigInt(ea - e);
  const b = mb << BigInt(eb - e);
  const sum = (sa ? -a : a) + (sb ? -b : b);
  if (sum === 0n) return zeroBits(fmt, rm === RM_RDN ? 1 : 0);
  return sum < 0n ? roundPack(fmt, 1, -sum, e, false, rm, st) : roundPack(fmt, 0, sum, e, false, rm, st);
}

/** softAdd: a + b (fsub passes b with its sign bit flipped). */
export function softAdd(fmt: FpFormat, a: bigint, b: bigint, rm: number, st: FlagSink): bigint {
  const x = unpack(fmt, a);
  const y = unpack(fmt, b);
  if (isNaNKind(x) || isNaNKind(y)) return nanResult(fmt, st, x, y);
  if (x.kind === K_INF) {
    if (y.kind === K_INF && x.sign !== y.sign) return nanResult(fmt, invalid(st));
    return infinityBits(fmt, x.sign);
  }
  if (y.kind === K_INF) return infinityBits(fmt, y.sign);
  return addExact(fmt, x.sign, x.mant, x.exp, y.sign, y.mant, y.exp, rm, st);
}

function invalid(st: FlagSink): FlagSink {
  st.fflags |= FFLAG_NV;
  return st;
}

/** softMul: a * b. */
export function softMul(fmt: FpFormat, a: bigint, b: bigint, rm: number, st: FlagSink): bigint {
  const x = unpack(fmt, a);
  const y = unpack(fmt, b);
  if (isNaNKind(x) || isNaNKind(y)) return nanResult(fmt, st, x, y);
  const s = x.sign ^ y.sign;
  if (x.kind === K_INF || y.kind === K_INF) {
    if (x.kind === K_ZERO || y.kind === K_ZERO) return nanResult(fmt, invalid(st));
    return infinityBits(fmt, s);
  }
  if (x.kind === K_ZERO || y.kind === K_ZERO) return zeroBits(fmt, s);
  return roundPack(fmt, s, x.mant * y.mant, x.exp + y.exp, false, rm, st);
}

/** softDiv: a / b; finite nonzero / 0 raises DZ. */
export function softDiv(fmt: FpFormat, a: bigint, b: bigint, rm: number, st: FlagSink): bigint {
  const x = unpack(fmt, a);
  const y = unpack(fmt, b);
  if (isNaNKind(x) || isNaNKind(y)) return nanResult(fmt, st, x, y);
  const s = x.sign ^ y.sign;
  if (x.kind === K_INF) return y.kind === K_INF ? nanResult(fmt, invalid(st)) : infinityBits(fmt, s);
  if (y.kind === K_INF) return zeroBits(fmt, s);
  if (y.kind === K_ZERO) {
    if (x.kind === K_ZERO) return nanResult(fmt, invalid(st));
    st.fflags |= FFLAG_DZ;
    return infinityBits(fmt, s);
  }
  if (x.kind === K_ZERO) return zeroBits(fmt, s);
  // Scale so the integer quotient has at least p+2 bits; the remainder is the sticky bit.
  const k = Math.max(0, fmt.p + 2 + bitLength(y.mant) - bitLength(x.mant));
  const num = x.mant << BigInt(k);
  const q = num / y.mant;
  return roundPack(fmt, s, q, x.exp - y.exp - k, num % y.mant !== 0n, rm, st);
}

/** isqrt: floor(sqrt(n)) for n >= 0 (Newton's iteration from above). */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLength(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** softSqrt: sqrt(a); -0 gives -0, any other negative operand is invalid. */
export function softSqrt(fmt: FpFormat, a: bigint, rm: number, st: FlagSink): bigint {
  const x = unpack(fmt, a);
  if (isNaNKind(x)) return nanResult(fmt, st, x);
  if (x.kind === K_ZERO) return a;
  if (x.sign) return nanResult(fmt, invalid(st));
  if (x.kind === K_INF) return a;
  // Shift so the root has at least p+2 bits and the exponent is even.
  let s = Math.max(0, 2 * fmt.p + 4 - bitLength(x.mant));
  if ((x.exp - s) & 1) s++;
  const m = x.mant << BigInt(s);
  const r = isqrt(m);
  return roundPack(fmt, 0, r, (x.exp - s) / 2, r * r !== m, rm, st);
}

/**
 * softFma: (-1)^negProd * a*b + (-1)^negAddend * c, rounded once. fmadd is (0,0),
 * fmsub (0,1), fnmsub (1,0), fnmadd (1,1). inf*0 is invalid even when c is a quiet NaN.
 */
export function softFma(fmt: FpFormat, a: bigint, b: bigint, c: bigint, negProd: number, negAddend: number,
  rm: number, st: FlagSink): bigint {
  const x = unpack(fmt, a);
  const y = unpack(fmt, b);
  const z = unpack(fmt, c);
  const infTimesZero = (x.kind === K_INF && y.kind === K_ZERO) || (x.kind === K_ZERO && y.kind === K_INF);
  if (infTimesZero) invalid(st);
  if (isNaNKind(x) || isNaNKind(y) || isNaNKind(z)) return nanResult(fmt, st, x, y, z);
  if (infTimesZero) return fmt.canonicalNaN;
  const ps = x.sign ^ y.sign ^ negProd;
  const zs = z.sign ^ negAddend;
  if (x.kind === K_INF || y.kind === K_INF) {
    if (z.kind === K_INF && zs !== ps) return nanResult(fmt, invalid(st));
    return infinityBits(fmt, ps);
  }
  if (z.kind === K_INF) return infinityBits(fmt, zs);
  return addExact(fmt, ps, x.mant * y.mant, x.exp + y.exp, zs, z.mant, z.exp, rm, st);
}

/** softConvertFloat: fcvt.s.d / fcvt.d.s — re-round `a` of format `from` into `to`. */
export function softConvertFloat(from: FpFormat, to: FpFormat, a: bigint, rm: number, st: FlagSink): bigint {
  const x = unpack(from, a);
  if (isNaNKind(x)) return nanResult(to, st, x);
  if (x.kind === K_INF) return infinityBits(to, x.sign);
  if (x.kind === K_ZERO) return zeroBits(to, x.sign);
  return roundPack(to, x.sign, x.mant, x.exp, false, rm, st);
}

/** softFromInt: fcvt.{s,d}.{w,wu,l,lu} — round the exact integer v into `fmt`. */
export function softFromInt(fmt: FpFormat, v: bigint, rm: number, st: FlagSink): bigint {
  if (v === 0n) return 0n;
  return v < 0n ? roundPack(fmt, 1, -v, 0, false, rm, st) : roundPack(fmt, 0, v, 0, false, rm, st);
}
