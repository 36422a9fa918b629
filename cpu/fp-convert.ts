/**
 * fcvt from floating point to integer (fcvt.{w,wu,l,lu}.{s,d}) in every rounding mode.
 *
 * The operand arrives as a JS number (a single converts to double exactly), so rounding
 * to an integral value is exact with Math.floor/ceil/trunc. Out-of-range and NaN inputs
 * saturate as the unprivileged spec's table ("F" chapter, FCVT.int.fmt) says and raise NV
 * only; an in-range inexact conversion raises NX. 32-bit results are sign-extended to 64
 * bits — FCVT.WU too, as RV64 requires.
 *
 *   | kind | NaN / +inf / too large  | -inf / too small |
 *   | W    | 2^31-1                  | -2^31            |
 *   | WU   | 2^32-1 (sign-extended)  | 0                |
 *   | L    | 2^63-1                  | -2^63            |
 *   | LU   | 2^64-1                  | 0                |
 */
import { FFLAG_NV, FFLAG_NX, RM_RDN, RM_RMM, RM_RNE, RM_RTZ, RM_RUP } from './fp-round.ts';
import type { FlagSink } from './fp-round.ts';

/** Integer kinds, numbered as the rs2 field of fcvt encodes them. */
export const CVT_W = 0;
export const CVT_WU = 1;
export const CVT_L = 2;
export const CVT_LU = 3;

const TWO32 = 4294967296;
const TWO63 = 9223372036854775808;
const TWO64 = 18446744073709551616;

/** roundToIntegral: finite v rounded to an integral value in mode rm (exact). */
export function roundToIntegral(v: number, rm: number): number {
  switch (rm) {
    case RM_RNE: {
      const f = Math.floor(v);
      const d = v - f; // exact: both in [f, f+1), and v integral when |v| >= 2^52
      if (d > 0.5) return f + 1;
      if (d < 0.5) return f;
      return f % 2 === 0 ? f : f + 1;
    }
    case RM_RTZ: return Math.trunc(v);
    case RM_RDN: return Math.floor(v);
    case RM_RUP: return Math.ceil(v);
    case RM_RMM: {
      const a = Math.abs(v);
      const f = Math.floor(a);
      const r = a - f >= 0.5 ? f + 1 : f;
      return v < 0 ? -r : r;
    }
  }
  throw new Error(`roundToIntegral: bad rounding mode ${rm}`);
}

/**
 * floatToInt: convert v to integer kind `kind` (CVT_*) in mode rm and write the 64-bit
 * result into x[2*rd] (low) and x[2*rd+1] (high); rd = 0 writes nothing. Flags go to st.
 */
export function floatToInt(v: number, kind: number, rm: number, st: FlagSink, x: Int32Array, rd: number): void {
  let lo: number;
  let hi: number;
  const r = v === v ? roundToIntegral(v, rm) : Infinity; // NaN saturates like +inf
  const unsigned = (kind & 1) === 1;
  const wide = kind >= CVT_L;
  const max = wide ? (unsigned ? TWO64 : TWO63) : (unsigned ? TWO32 : 2147483648); // exclusive
  const min = unsigned ? 0 : wide ? -TWO63 : -2147483648;
  if (r >= max) {
    st.fflags |= FFLAG_NV;
    if (wide) { lo = -1; hi = unsigned ? -1 : 0x7fffffff; } else { lo = unsigned ? -1 : 0x7fffffff; hi = lo >> 31; }
  } else if (r < min) {
    st.fflags |= FFLAG_NV;
    if (wide) { lo = 0; hi = unsigned ? 0 : -2147483648; } else { lo = unsigned ? 0 : -2147483648; hi = lo >> 31; }
  } else {
    if (r !== v) st.fflags |= FFLAG_NX;
    if (wide) {
      const h = Math.floor(r / TWO32);
      lo = (r - h * TWO32) | 0;
      hi = h | 0;
    } else {
      lo = r | 0;
      hi = lo >> 31;
    }
  }
  if (rd !== 0) {
    x[2 * rd] = lo;
    x[2 * rd + 1] = hi;
  }
}
