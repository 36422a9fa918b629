// cpu/mul.ts division against a BigInt reference, weighted to the long-division path (a 64-bit
// dividend and a divisor that fits in 32 bits, signed or unsigned) and its edges.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { div64 } from '../../cpu/mul.ts';

const MIN64 = -(1n << 63n);
const pair = (v: bigint): [number, number] => [Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n))];
const EDGE32 = [1n, -1n, 2n, -2n, 3n, 7n, 10n, 1000003n, 0x7fffffffn, -0x80000000n, 0xffffn, 0x10000n, 0xffffffffn, 0x80000000n];
const EDGE64 = [0n, 1n, -1n, MIN64, -MIN64 - 1n, 0xffffffffn, 0x100000000n, -0x100000000n, 0xffff_ffff_ffff_fffen];

function reference(a: bigint, b: bigint, signed: boolean, rem: boolean): bigint {
  if (signed) {
    const sa = BigInt.asIntN(64, a); const sb = BigInt.asIntN(64, b);
    if (sb === 0n) return rem ? sa : -1n;
    if (sa === MIN64 && sb === -1n) return rem ? 0n : MIN64;
    return BigInt.asIntN(64, rem ? sa % sb : sa / sb);
  }
  const ua = BigInt.asUintN(64, a); const ub = BigInt.asUintN(64, b);
  if (ub === 0n) return rem ? BigInt.asIntN(64, ua) : -1n;
  return BigInt.asIntN(64, rem ? ua % ub : ua / ub);
}

describe('div64', () => {
  it('64-bit dividends by 32-bit divisors (and any others) match BigInt, signed and unsigned', () => {
    const dividend = fc.oneof(fc.bigInt({ min: MIN64, max: -MIN64 - 1n }), fc.constantFrom(...EDGE64));
    const divisor = fc.oneof(
      fc.bigInt({ min: -(1n << 31n), max: (1n << 32n) - 1n }), fc.constantFrom(...EDGE32, ...EDGE64),
      fc.bigInt({ min: MIN64, max: -MIN64 - 1n }),
    );
    const out = new Int32Array(2);
    fc.assert(fc.property(dividend, divisor, fc.boolean(), fc.boolean(), (a, b, signed, rem) => {
      const [al, ah] = pair(a);
      const [bl, bh] = pair(b);
      div64(out, 0, al, ah, bl, bh, signed, rem);
      expect(BigInt.asIntN(64, (BigInt(out[1]!) << 32n) | BigInt(out[0]! >>> 0))).toBe(reference(a, b, signed, rem));
    }), { numRuns: 20_000, seed: 64 });
  });
});
