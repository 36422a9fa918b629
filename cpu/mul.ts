/**
 * 64-bit multiply and divide on (lo, hi) int32 pairs — the M extension's arithmetic,
 * without BigInt on the common paths.
 *
 * Every function writes its 64-bit result into `out[o]` (low word) and `out[o + 1]`
 * (high word), so the hart passes its register file and the destination index and
 * nothing is allocated. Operands are int32 bit patterns; unsigned functions reinterpret them.
 * RISC-V semantics: division by zero gives quotient all ones and remainder = dividend;
 * signed overflow (MIN / -1) gives quotient MIN and remainder 0.
 */

const TWO32 = 4294967296;

/** High 32 bits of the unsigned 64-bit product of two uint32 bit patterns (int32 result). */
export function mulhu32(a: number, b: number): number {
  a >>>= 0;
  b >>>= 0;
  // a*b = 2^16 * (aH*b + floor(aL*b / 2^16)) + (aL*b mod 2^16); every term is < 2^53 (exact).
  const t = (a & 0xffff) * b;
  const u = (a >>> 16) * b + Math.floor(t / 65536);
  return Math.floor(u / 65536) | 0;
}

/** out ← low 64 bits of a × b (MUL). */
export function mul64(out: Int32Array, o: number, al: number, ah: number, bl: number, bh: number): void {
  const lo = Math.imul(al, bl);
  const hi = (mulhu32(al, bl) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
  out[o] = lo;
  out[o + 1] = hi;
}

/** out ← high 64 bits of the unsigned 128-bit product a × b (MULHU). */
export function mulhu64(out: Int32Array, o: number, al: number, ah: number, bl: number, bh: number): void {
  // Schoolbook on 32-bit limbs; partial sums stay below 2^35, exact in a double.
  const h00 = mulhu32(al, bl) >>> 0;
  const h01 = mulhu32(al, bh) >>> 0;
  const l01 = Math.imul(al, bh) >>> 0;
  const h10 = mulhu32(ah, bl) >>> 0;
  const l10 = Math.imul(ah, bl) >>> 0;
  const h11 = mulhu32(ah, bh) >>> 0;
  const l11 = Math.imul(ah, bh) >>> 0;
  const c1 = Math.floor((h00 + l01 + l10) / TWO32);
  const w2 = h01 + h10 + l11 + c1;
  const w3 = h11 + Math.floor(w2 / TWO32);
  out[o] = w2 | 0;
  out[o + 1] = w3 | 0;
}

/** (out[o], out[o+1]) -= (bl, bh), 64-bit wrapping. */
function sub64InPlace(out: Int32Array, o: number, bl: number, bh: number): void {
  const al = out[o];
  const lo = (al - bl) | 0;
  const borrow = (al >>> 0) < (bl >>> 0) ? 1 : 0;
  out[o] = lo;
  out[o + 1] = (out[o + 1] - bh - borrow) | 0;
}

/** out ← high 64 bits of the signed × signed product (MULH). */
export function mulh64(out: Int32Array, o: number, al: number, ah: number, bl: number, bh: number): void {
  mulhu64(out, o, al, ah, bl, bh);
  // signed(a) = unsigned(a) - 2^64·[a<0]: the high word loses b (resp. a) for each negative operand.
  if (ah < 0) sub64InPlace(out, o, bl, bh);
  if (bh < 0) sub64InPlace(out, o, al, ah);
}

/** out ← high 64 bits of signed a × unsigned b (MULHSU). */
export function mulhsu64(out: Int32Array, o: number, al: number, ah: number, bl: number, bh: number): void {
  mulhu64(out, o, al, ah, bl, bh);
  if (ah < 0) sub64InPlace(out, o, bl, bh);
}

function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo >>> 0);
}

function fromBig(out: Int32Array, o: number, v: bigint): void {
  out[o] = Number(BigInt.asIntN(32, v));
  out[o + 1] = Number(BigInt.asIntN(32, v >> 32n));
}

function fromDouble(out: Int32Array, o: number, v: number): void {
  out[o] = v | 0; // ToInt32 keeps the low 32 bits of any integer below 2^53
  out[o + 1] = Math.floor(v / TWO32) | 0;
}

/**
 * floor(t / d) for integers 0 ≤ t < 2^48 and 0 < d < 2^32, exact: t / d = q + f/d with f ≤ d - 1,
 * so the next integer is at least 1/d away, while the rounding error of the division is at most
 * half an ulp of a value below 2^48/d, i.e. below 2^-5/d — the rounded quotient never reaches q + 1.
 */
function floorDiv(t: number, d: number): number {
  return Math.floor(t / d);
}

/**
 * out ← (uh·2^32 + ul) / ub or % ub for uint32 parts and 0 < ub < 2^32, by long division in
 * 32-, 16- and 16-bit digits: every partial dividend stays below 2^48, exact in a double (the
 * BigInt path took ~300 ns; this one is a few ns).
 */
function udiv64by32(out: Int32Array, o: number, uh: number, ul: number, ub: number, rem: boolean): void {
  const qh = floorDiv(uh, ub);
  let r = uh - qh * ub;
  let t = r * 65536 + (ul >>> 16);
  const q1 = floorDiv(t, ub);
  r = t - q1 * ub;
  t = r * 65536 + (ul & 0xffff);
  const q0 = floorDiv(t, ub);
  r = t - q0 * ub;
  if (rem) { out[o] = r | 0; out[o + 1] = 0; } else { out[o] = (q1 * 65536 + q0) | 0; out[o + 1] = qh | 0; }
}

/**
 * out ← a / b (rem = false) or a % b (rem = true), signed or unsigned, 64-bit,
 * with RISC-V's division-by-zero and overflow results. Values that fit in 32 bits use
 * doubles, divisors that fit in 32 bits long division on doubles (udiv64by32); others BigInt.
 */
export function div64(
  out: Int32Array, o: number, al: number, ah: number, bl: number, bh: number, signed: boolean, rem: boolean,
): void {
  if (bl === 0 && bh === 0) {
    if (rem) { out[o] = al; out[o + 1] = ah; } else { out[o] = -1; out[o + 1] = -1; }
    return;
  }
  if (signed) {
    if (ah === al >> 31 && bh === bl >> 31) {
      // Both fit in int32: the quotient fits in a double exactly (MIN32 / -1 = 2^31 is fine in 64 bits).
      fromDouble(out, o, rem ? (al % bl) + 0 : Math.trunc(al / bl));
      return;
    }
    if (ah === -0x80000000 && al === 0 && bl === -1 && bh === -1) {
      if (rem) { out[o] = 0; out[o + 1] = 0; } else { out[o] = 0; out[o + 1] = -0x80000000; }
      return;
    }
    if (bh === bl >> 31) {
      // |b| < 2^32: unsigned long division on the magnitudes, then the signs (quotient: a's
      // sign xor b's; remainder: a's).
      const negA = ah < 0;
      const negB = bl < 0;
      const ml = negA ? (-al | 0) : al;
      const mh = negA ? ((~ah + (al === 0 ? 1 : 0)) | 0) : ah;
      udiv64by32(out, o, mh >>> 0, ml >>> 0, negB ? -bl : bl >>> 0, rem);
      if (rem ? negA : negA !== negB) {
        const l = out[o];
        out[o + 1] = (~out[o + 1] + (l === 0 ? 1 : 0)) | 0;
        out[o] = -l | 0;
      }
      return;
    }
    const a = BigInt.asIntN(64, toBig(al, ah));
    const b = BigInt.asIntN(64, toBig(bl, bh));
    fromBig(out, o, rem ? a % b : a / b);
    return;
  }
  if (ah === 0 && bh === 0) {
    const ua = al >>> 0;
    const ub = bl >>> 0;
    fromDouble(out, o, rem ? ua % ub : Math.floor(ua / ub));
    return;
  }
  if (bh === 0) {
    udiv64by32(out, o, ah >>> 0, al >>> 0, bl >>> 0, rem);
    return;
  }
  const a = BigInt.asUintN(64, toBig(al, ah));
  const b = BigInt.asUintN(64, toBig(bl, bh));
  fromBig(out, o, rem ? a % b : a / b);
}

/**
 * out ← the 32-bit division of the low words (DIVW/DIVUW/REMW/REMUW), sign-extended to 64.
 */
export function div32(out: Int32Array, o: number, a: number, b: number, signed: boolean, rem: boolean): void {
  let r: number;
  if (b === 0) {
    r = rem ? a : -1;
  } else if (signed) {
    if (a === -0x80000000 && b === -1) r = rem ? 0 : a;
    else r = rem ? (a % b) | 0 : (a / b) | 0;
  } else {
    const ua = a >>> 0;
    const ub = b >>> 0;
    r = rem ? (ua % ub) | 0 : Math.floor(ua / ub) | 0;
  }
  out[o] = r;
  out[o + 1] = r >> 31;
}
