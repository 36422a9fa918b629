/**
 * fclass.s / fclass.d: the ten-class bit mask of the unprivileged spec ("F" chapter,
 * FCLASS): bit 0 -inf, 1 -normal, 2 -subnormal, 3 -0, 4 +0, 5 +subnormal, 6 +normal,
 * 7 +inf, 8 signaling NaN, 9 quiet NaN. Exactly one bit is set.
 */

const CANONICAL_NAN_S = 0x7fc00000;

/**
 * fclass: classify f-register words lo/hi as format fmt (0 = S, 1 = D). A single whose
 * high word is not all ones is not NaN-boxed and classifies as the canonical quiet NaN.
 */
export function fclass(fmt: number, lo: number, hi: number): number {
  let sign: boolean;
  let expAll: boolean;
  let expZero: boolean;
  let fracZero: boolean;
  let quiet: boolean;
  if (fmt === 1) {
    const e = (hi >>> 20) & 0x7ff;
    sign = hi < 0; expAll = e === 0x7ff; expZero = e === 0;
    fracZero = ((hi & 0xfffff) | lo) === 0; quiet = (hi & 0x80000) !== 0;
  } else {
    const w = hi === -1 ? lo : CANONICAL_NAN_S;
    const e = (w >>> 23) & 0xff;
    sign = w < 0; expAll = e === 0xff; expZero = e === 0;
    fracZero = (w & 0x7fffff) === 0; quiet = (w & 0x400000) !== 0;
  }
  if (expAll) {
    if (!fracZero) return quiet ? 1 << 9 : 1 << 8;
    return sign ? 1 << 0 : 1 << 7;
  }
  if (expZero) {
    if (fracZero) return sign ? 1 << 3 : 1 << 4;
    return sign ? 1 << 2 : 1 << 5;
  }
  return sign ? 1 << 1 : 1 << 6;
}
