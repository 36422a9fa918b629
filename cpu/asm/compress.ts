/**
 * `compress: true` support: the 16-bit form of a 32-bit instruction word, if one exists.
 * The table is the inverse of cpu/rvc.ts's expandCompressed over all 65536 halfwords, so
 * the assembler and the hart can never disagree on what a compressed instruction means.
 * HINT encodings (those that expand to an instruction with no effect other than a no-op,
 * e.g. c.addi a0,0 or c.slli a0,0) are left out; c.nop itself is kept.
 */
import { expandCompressed } from '../rvc.ts';

let inverse: Map<number, number> | undefined;

function isHint(w: number): boolean {
  const op = w & 0x7f, rd = (w >> 7) & 31, f3 = (w >> 12) & 7, rs1 = (w >> 15) & 31;
  if (w === 0x13) return false; // c.nop
  if ((op === 0x13 || op === 0x33 || op === 0x37) && rd === 0) return true; // writes x0
  if (op === 0x13 && (f3 === 1 || f3 === 5) && ((w >> 20) & 0x3f) === 0) return true; // shift by 0
  if (op === 0x13 && f3 === 0 && (w >>> 20) === 0 && rd === rs1) return true; // c.addi rd, 0
  return false;
}

/** The compressed halfword equivalent to the 32-bit word `w`, or undefined. */
export function compressWord(w: number): number | undefined {
  if (!inverse) {
    inverse = new Map();
    for (let h = 0; h < 0x10000; h++) {
      const full = expandCompressed(h);
      if (full !== 0 && !isHint(full) && !inverse.has(full)) inverse.set(full, h);
    }
  }
  w >>>= 0;
  const h = inverse.get(w);
  if (h !== undefined) return h;
  // mv rd, rs is `addi rd, rs, 0`; c.mv expands to the equivalent `add rd, x0, rs`.
  if ((w & 0xfff0707f) === 0x13) return inverse.get((((w >> 15) & 31) << 20 | (w & 0xf80) | 0x33) >>> 0);
  return undefined;
}
