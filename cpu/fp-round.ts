/**
 * Exact IEEE 754 rounding for the FPU's slow path: binary32/binary64 formats, unpacking
 * raw bits into an exact (sign, integer mantissa, exponent) triple, and `roundPack`, the
 * one place that rounds an exact value to a format in any RISC-V rounding mode and
 * raises NX / UF / OF.
 *
 * Values are BigInt so that any exact intermediate (a full product, an aligned sum over
 * the whole exponent range) fits. This is the slow path: the FPU only comes here for
 * non-RNE modes, special operands, and results near the overflow/underflow thresholds.
 *
 * Underflow follows RISC-V (unprivileged spec, "F" chapter: "tininess is detected after
 * rounding"): a result is tiny when rounding it to the format's precision with an
 * unbounded exponent range gives a magnitude below 2^emin; UF is raised when the result
 * is tiny AND inexact.
 */

/** Rounding modes, numbered as the `rm` field / `frm` CSR encode them. */
export const RM_RNE = 0;
export const RM_RTZ = 1;
export const RM_RDN = 2;
export const RM_RUP = 3;
export const RM_RMM = 4;

export const FFLAG_NX = 1;
export const FFLAG_UF = 2;
export const FFLAG_OF = 4;
export const FFLAG_DZ = 8;
export const FFLAG_NV = 16;

/** Where the slow path accumulates exception flags (the Fpu itself). */
export interface FlagSink {
  fflags: number;
}

/** A binary interchange format: precision p (with the hidden bit) and exponent range. */
export interface FpFormat {
  readonly p: number;
  readonly fracBits: number;
  readonly expBits: number;
  readonly emin: number;
  readonly emax: number;
  readonly bias: number;
  readonly signBit: bigint;
  readonly canonicalNaN: bigint;
  readonly infBits: bigint;
}

export const FMT_S: FpFormat = {
  p: 24, fracBits: 23, expBits: 8, emin: -126, emax: 127, bias: 127,
  signBit: 0x80000000n, canonicalNaN: 0x7fc00000n, infBits: 0x7f800000n,
};

export const FMT_D: FpFormat = {
  p: 53, fracBits: 52, expBits: 11, emin: -1022, emax: 1023, bias: 1023,
  signBit: 0x8000000000000000n, canonicalNaN: 0x7ff8000000000000n, infBits: 0x7ff0000000000000n,
};

/** Operand kinds after unpacking. */
export const K_ZERO = 0;
export const K_FINITE = 1;
export const K_INF = 2;
export const K_QNAN = 3;
export const K_SNAN = 4;

/** An unpacked operand; for K_ZERO/K_FINITE its value is (-1)^sign * mant * 2^exp. */
export interface Unpacked {
  kind: number;
  sign: number;
  mant: bigint;
  exp: number;
}

/** unpack: split raw bits of `fmt` into kind, sign and the exact mant * 2^exp. */
export function unpack(fmt: FpFormat, bits: bigint): Unpacked {
  const fb = BigInt(fmt.fracBits);
  const frac = bits & ((1n << fb) - 1n);
  const e = Number((bits >> fb) & ((1n << BigInt(fmt.expBits)) - 1n));
  const sign = (bits & fmt.signBit) !== 0n ? 1 : 0;
  const expAll = (1 << fmt.expBits) - 1;
  const minExp = fmt.emin - fmt.fracBits;
  if (e === expAll) {
    if (frac === 0n) return { kind: K_INF, sign, mant: 0n, exp: 0 };
    const quiet = (frac >> (fb - 1n)) & 1n;
    return { kind: quiet ? K_QNAN : K_SNAN, sign, mant: 0n, exp: 0 };
  }
  if (e === 0) return { kind: frac === 0n ? K_ZERO : K_FINITE, sign, mant: frac, exp: minExp };
  return { kind: K_FINITE, sign, mant: frac | (1n << fb), exp: e - fmt.bias - fmt.fracBits };
}

/** bitLength: number of significant bits of a non-negative BigInt (0 for 0). */
export function bitLength(n: bigint): number {
  if (n === 0n) return 0;
  if (n < 0x100000000n) return 32 - Math.clz32(Number(n));
  const hex = n.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0]!, 16)));
}

/** zeroBits / infinityBits / maxFiniteBits with a sign. */
export function zeroBits(fmt: FpFormat, sign: number): bigint {
  return sign ? fmt.signBit : 0n;
}
export function infinityBits(fmt: FpFormat, sign: number): bigint {
  return sign ? fmt.infBits | fmt.signBit : fmt.infBits;
}
function maxFiniteBits(fmt: FpFormat, sign: number): bigint {
  return infinityBits(fmt, sign) - 1n;
}

/**
 * roundInc: whether rounding a truncated magnitude `keep` away from zero by one unit is
 * required. `cmp` compares the discarded part with half a unit: -1 below, 0 tie, 1 above;
 * `inexact` says whether anything was discarded at all.
 */
function roundInc(rm: number, sign: number, keep: bigint, cmp: number, inexact: boolean): boolean {
  if (!inexact) return false;
  switch (rm) {
    case RM_RNE: return cmp > 0 || (cmp === 0 && (keep & 1n) === 1n);
    case RM_RTZ: return false;
    case RM_RDN: return sign === 1;
    case RM_RUP: return sign === 0;
    case RM_RMM: return cmp >= 0;
  }
  throw new Error(`roundInc: bad rounding mode ${rm}`);
}

/**
 * roundAt: round mant * 2^exp (plus a sticky amount below every kept bit) to a multiple
 * of 2^q. Returns the rounded multiple count and whether it was inexact.
 */
function roundAt(mant: bigint, exp: number, sticky: boolean, q: number, rm: number, sign: number): [bigint, boolean] {
  const shift = q - exp;
  if (shift <= 0) {
    const keep = mant << BigInt(-shift);
    return [keep + (roundInc(rm, sign, keep, -1, sticky) ? 1n : 0n), sticky];
  }
  const s = BigInt(shift);
  const keep = mant >> s;
  const rem = mant & ((1n << s) - 1n);
  const half = 1n << (s - 1n);
  const cmp = rem > half || (rem === half && sticky) ? 1 : rem === half ? 0 : -1;
  const inexact = rem !== 0n || sticky;
  return [keep + (roundInc(rm, sign, keep, cmp, inexact) ? 1n : 0n), inexact];
}

/**
 * roundPack: round (-1)^sign * (mant + ε) * 2^exp to `fmt` in mode `rm` and return its
 * raw bits, raising NX, UF (tiny after rounding and inexact) and OF in `st`.
 * ε is 0 when `sticky` is false, otherwise some amount strictly between 0 and 1 — callers
 * that pass sticky (division, square root) give mant at least p+2 bits so that ε sits
 * below the rounding position. mant must be > 0.
 */
export function roundPack(fmt: FpFormat, sign: number, mant: bigint, exp: number, sticky: boolean,
  rm: number, st: FlagSink): bigint {
  if (mant <= 0n) throw new Error('roundPack: mantissa must be positive');
  const p = fmt.p;
  const E = exp + bitLength(mant) - 1; // mant * 2^exp lies in [2^E, 2^(E+1))
  let q = Math.max(E, fmt.emin) - p + 1; // exponent of the last kept bit
  let [keep, inexact] = roundAt(mant, exp, sticky, q, rm, sign);
  const one = 1n << BigInt(p);
  if (keep >= one) { keep >>= 1n; q += 1; } // carried out of the top: still exact (keep was 2^p)
  let flags = inexact ? FFLAG_NX : 0;
  if (inexact && E < fmt.emin) {
    // Tininess after rounding: would rounding with unbounded exponent reach 2^emin?
    const [k2] = roundAt(mant, exp, sticky, E - p + 1, rm, sign);
    const reaches = E === fmt.emin - 1 && k2 >= one;
    if (!reaches) flags |= FFLAG_UF;
  }
  if (keep === 0n) { st.fflags |= flags; return zeroBits(fmt, sign); }
  const eres = q + bitLength(keep) - 1;
  if (eres > fmt.emax) {
    st.fflags |= FFLAG_OF | FFLAG_NX;
    const toInf = rm === RM_RNE || rm === RM_RMM || (rm === RM_RUP && sign === 0) || (rm === RM_RDN && sign === 1);
    return toInf ? infinityBits(fmt, sign) : maxFiniteBits(fmt, sign);
  }
  st.fflags |= flags;
  const hidden = 1n << BigInt(fmt.fracBits);
  let bits: bigint;
  if (keep < hidden) bits = keep; // subnormal: biased exponent 0, q === emin - fracBits
  else bits = (BigInt(q + fmt.fracBits + fmt.bias) << BigInt(fmt.fracBits)) | (keep - hidden);
  return sign ? bits | fmt.signBit : bits;
}
