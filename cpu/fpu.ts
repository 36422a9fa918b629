/**
 * The F and D extensions: FP register file, fcsr, and every OP-FP / fused
 * multiply-add instruction of RV64 (unprivileged spec, chapters "F" and "D").
 *
 * Contract used by cpu/hart.ts:
 *  - The FP register file is one 256-byte buffer seen as `f64` (Float64Array(32)),
 *    `fi32` (Int32Array(64): low word of f[i] at 2i, high word at 2i+1) and `f32`
 *    (Float32Array(64): single value of f[i] at 2i). Singles are NaN-boxed: high word -1.
 *    The hart does FLW/FLD/FSW/FSD itself by moving raw bits through `fi32`.
 *  - `x` is the hart's integer register file (Int32Array(64), lo at 2i, hi at 2i+1);
 *    the FPU reads/writes it for moves, compares, classify and conversions; it never
 *    writes x0.
 *  - `exec(insn)` executes one 32-bit instruction whose major opcode is OP-FP (0x53),
 *    FMADD (0x43), FMSUB (0x47), FNMSUB (0x4b) or FNMADD (0x4f). It returns true when
 *    done, false when the encoding is illegal (reserved rm, bad fmt, unknown funct):
 *    the hart then raises an illegal-instruction trap.
 *  - `fflags`, `frm` hold the CSRs; `readFcsr()` / `writeFcsr(v)` the combined one.
 *
 * Semantics:
 *  - Every result is exactly rounded in all five rounding modes (RNE, RTZ, RDN, RUP, RMM;
 *    static rm or dynamic rm=7 through frm). rm 5/6, or rm=7 with frm > 4, is illegal for
 *    every instruction that has an rm field (fcvt.d.s and fcvt.d.w[u] included, as Spike
 *    and QEMU do). All five fflags are exact, none approximated: UF uses tininess after
 *    rounding.
 *  - NaN results are the canonical NaN (0x7fc00000 / 0x7ff8000000000000); fsgnj*, fmv and
 *    fmin/fmax with one NaN operand move bits unchanged. A single operand whose high word
 *    is not all ones reads as the canonical NaN.
 *  - fmin/fmax are IEEE 754-2019 minimumNumber/maximumNumber (-0 < +0; one NaN gives the
 *    other operand; two give the canonical NaN; a signaling NaN raises NV). feq raises NV
 *    only on a signaling NaN, flt/fle on any NaN.
 *
 * Speed: in round-to-nearest-even, add/sub/mul/div/sqrt/fma of finite operands whose
 * result is comfortably normal take a fast path of plain double operations, with NX found
 * from an exact error term (TwoSum, Dekker's TwoProduct, or multiplying back). Everything
 * else (other modes, NaN/inf/zero results, near-overflow, subnormal results) takes the
 * exact BigInt path in cpu/fp-soft.ts. Single ops compute in double and round with
 * Math.fround, which is exact for + - * / sqrt (53 >= 2*24+2); single fma rounds to odd
 * first (cpu/fp-fma.ts).
 */
import { CVT_L, CVT_LU, CVT_WU, floatToInt } from './fp-convert.ts';
import { fclass } from './fp-class.ts';
import { fmaFastD, fmaFastS, productError } from './fp-fma.ts';
import { FFLAG_NV, FFLAG_NX, FMT_D, FMT_S, RM_RNE } from './fp-round.ts';
import type { FpFormat } from './fp-round.ts';
import { softAdd, softConvertFloat, softDiv, softFma, softFromInt, softMul, softSqrt } from './fp-soft.ts';

export { FFLAG_DZ, FFLAG_NV, FFLAG_NX, FFLAG_OF, FFLAG_UF } from './fp-round.ts';

const OP_FP = 0x53;
const OP_FMADD = 0x43;
const OP_FMSUB = 0x47;
const OP_FNMSUB = 0x4b;
const OP_FNMADD = 0x4f;

const TWO32 = 4294967296;
const LOW = 2 ** -960; // error terms of results above this are exact doubles
const HIGH = 2 ** 995; // operands below this split without overflow
const SINGLE_MIN_NORMAL = 2 ** -126;
const CANONICAL_NAN_S = 0x7fc00000;
const CANONICAL_NAN_D_HI = 0x7ff80000;

// funct5 values of OP-FP (funct7 >> 2); funct7 & 3 is the format (0 = S, 1 = D).
const F_ADD = 0x00;
const F_SUB = 0x01;
const F_MUL = 0x02;
const F_DIV = 0x03;
const F_SGNJ = 0x04;
const F_MINMAX = 0x05;
const F_CVT_FF = 0x08;
const F_SQRT = 0x0b;
const F_CMP = 0x14;
const F_CVT_IF = 0x18; // float -> int
const F_CVT_FI = 0x1a; // int -> float
const F_MV_X_CLASS = 0x1c;
const F_MV_F = 0x1e;

const OP_ADD = 0;
const OP_MUL = 1;
const OP_DIV = 2;

export class Fpu {
  readonly buf = new ArrayBuffer(256);
  readonly f64 = new Float64Array(this.buf);
  readonly f32 = new Float32Array(this.buf);
  readonly fi32 = new Int32Array(this.buf);
  readonly x: Int32Array;
  fflags = 0;
  frm = 0;

  constructor(x: Int32Array) {
    this.x = x;
  }

  /** exec: execute one OP-FP or fused multiply-add instruction; false = illegal encoding. */
  exec(insn: number): boolean {
    const op = insn & 0x7f;
    const rd = (insn >>> 7) & 31;
    const rs1 = (insn >>> 15) & 31;
    const rs2 = (insn >>> 20) & 31;
    let rm = (insn >>> 12) & 7;
    if (op !== OP_FP) {
      const fmt = (insn >>> 25) & 3;
      if (fmt > 1 || (op !== OP_FMADD && op !== OP_FMSUB && op !== OP_FNMSUB && op !== OP_FNMADD)) return false;
      if (rm === 7) rm = this.frm;
      if (rm > 4) return false;
      const negProd = op === OP_FNMSUB || op === OP_FNMADD ? 1 : 0;
      const negAddend = op === OP_FMSUB || op === OP_FNMADD ? 1 : 0;
      this.fma(fmt, rd, rs1, rs2, insn >>> 27, negProd, negAddend, rm);
      return true;
    }
    const funct7 = insn >>> 25;
    const fmt = funct7 & 3;
    if (fmt > 1) return false;
    const funct5 = funct7 >>> 2;
    switch (funct5) {
      case F_ADD: case F_SUB: case F_MUL: case F_DIV:
        if (rm === 7) rm = this.frm;
        if (rm > 4) return false;
        if (fmt === 1) this.arithD(funct5, rd, rs1, rs2, rm);
        else this.arithS(funct5, rd, rs1, rs2, rm);
        return true;
      case F_SQRT:
        if (rs2 !== 0) return false;
        if (rm === 7) rm = this.frm;
        if (rm > 4) return false;
        this.sqrt(fmt, rd, rs1, rm);
        return true;
      case F_SGNJ:
        if (rm > 2) return false;
        this.sgnj(fmt, rd, rs1, rs2, rm);
        return true;
      case F_MINMAX:
        if (rm > 1) return false;
        this.minMax(fmt, rd, rs1, rs2, rm === 1);
        return true;
      case F_CMP:
        if (rm > 2) return false;
        this.compare(fmt, rd, rs1, rs2, rm);
        return true;
      case F_CVT_FF:
        // fcvt.s.d: fmt S, rs2 = 1 (D); fcvt.d.s: fmt D, rs2 = 0 (S).
        if (rs2 !== (fmt ^ 1)) return false;
        if (rm === 7) rm = this.frm;
        if (rm > 4) return false;
        this.convertFloat(fmt, rd, rs1, rm);
        return true;
      case F_CVT_IF:
        if (rs2 > 3) return false;
        if (rm === 7) rm = this.frm;
        if (rm > 4) return false;
        floatToInt(fmt === 1 ? this.readD(rs1) : this.readS(rs1), rs2, rm, this, this.x, rd);
        return true;
      case F_CVT_FI:
        if (rs2 > 3) return false;
        if (rm === 7) rm = this.frm;
        if (rm > 4) return false;
        this.fromInt(fmt, rd, rs1, rs2, rm);
        return true;
      case F_MV_X_CLASS:
        if (rs2 !== 0 || rm > 1) return false;
        if (rm === 1) this.writeX(rd, fclass(fmt, this.fi32[2 * rs1]!, this.fi32[2 * rs1 + 1]!), 0);
        else if (fmt === 1) this.writeX(rd, this.fi32[2 * rs1]!, this.fi32[2 * rs1 + 1]!);
        else { const w = this.fi32[2 * rs1]!; this.writeX(rd, w, w >> 31); }
        return true;
      case F_MV_F:
        if (rs2 !== 0 || rm !== 0) return false;
        this.fi32[2 * rd] = this.x[2 * rs1]!;
        this.fi32[2 * rd + 1] = fmt === 1 ? this.x[2 * rs1 + 1]! : -1;
        return true;
    }
    return false;
  }

  readFcsr(): number {
    return (this.frm << 5) | this.fflags;
  }

  writeFcsr(v: number): void {
    this.fflags = v & 0x1f;
    this.frm = (v >>> 5) & 7;
  }

  // --- register access -------------------------------------------------------------

  /** readS: the single in f[i] as a number; NaN when not NaN-boxed (canonical NaN). */
  private readS(i: number): number {
    return this.fi32[2 * i + 1] === -1 ? this.f32[2 * i]! : NaN;
  }

  private readD(i: number): number {
    return this.f64[i]!;
  }

  /** writeS: a non-NaN single value, NaN-boxed. */
  private writeS(i: number, v: number): void {
    this.f32[2 * i] = v;
    this.fi32[2 * i + 1] = -1;
  }

  /** bitsS / bitsD: raw operand bits for the exact path (unboxed singles → canonical NaN). */
  private bitsS(i: number): bigint {
    return BigInt(this.fi32[2 * i + 1] === -1 ? this.fi32[2 * i]! >>> 0 : CANONICAL_NAN_S);
  }

  private bitsD(i: number): bigint {
    return (BigInt(this.fi32[2 * i + 1]! >>> 0) << 32n) | BigInt(this.fi32[2 * i]! >>> 0);
  }

  private bits(fmt: number, i: number): bigint {
    return fmt === 1 ? this.bitsD(i) : this.bitsS(i);
  }

  /** writeBits: store raw result bits of the format (singles NaN-boxed). */
  private writeBits(fmt: number, i: number, b: bigint): void {
    if (fmt === 1) {
      this.fi32[2 * i] = Number(b & 0xffffffffn) | 0;
      this.fi32[2 * i + 1] = Number(b >> 32n) | 0;
    } else {
      this.fi32[2 * i] = Number(b) | 0;
      this.fi32[2 * i + 1] = -1;
    }
  }

  private writeX(rd: number, lo: number, hi: number): void {
    if (rd === 0) return;
    this.x[2 * rd] = lo;
    this.x[2 * rd + 1] = hi;
  }

  // --- arithmetic --------------------------------------------------------------------

  /**
   * arithD: fadd/fsub/fmul/fdiv.d. Fast path (RNE, finite, result safely normal): one
   * double operation plus an exact error term for NX. Else the BigInt path.
   */
  private arithD(funct5: number, rd: number, rs1: number, rs2: number, rm: number): void {
    const f64 = this.f64;
    if (rm === RM_RNE) {
      const a = f64[rs1]!;
      const b = funct5 === F_SUB ? -f64[rs2]! : f64[rs2]!;
      if (funct5 <= F_SUB) {
        const r = a + b;
        if (r - r === 0) { // finite; sums that land in the subnormal range are exact
          const bb = r - a;
          const err = (a - (r - bb)) + (b - bb); // TwoSum: exact, no overflow for finite r
          if (err !== 0) this.fflags |= FFLAG_NX;
          f64[rd] = r;
          return;
        }
      } else if (funct5 === F_MUL) {
        const r = a * b;
        const ar = Math.abs(r);
        if (ar >= LOW && ar < Infinity && Math.abs(a) < HIGH && Math.abs(b) < HIGH) {
          if (productError(a, b, r) !== 0) this.fflags |= FFLAG_NX;
          f64[rd] = r;
          return;
        }
      } else {
        const r = a / b;
        const ar = Math.abs(r);
        if (ar >= LOW && ar < HIGH && Math.abs(b) < HIGH && Math.abs(a) >= LOW) {
          // Exact iff r*b == a; a - RN(r*b) is exact (Sterbenz), the product error too.
          const p = r * b;
          if (a - p !== productError(r, b, p)) this.fflags |= FFLAG_NX;
          f64[rd] = r;
          return;
        }
      }
    }
    this.writeBits(1, rd, this.softArith(FMT_D, funct5, this.bitsD(rs1), this.bitsD(rs2), rm));
  }

  /** arithS: the single versions; computing in double then Math.fround is exact-rounded. */
  private arithS(funct5: number, rd: number, rs1: number, rs2: number, rm: number): void {
    if (rm === RM_RNE) {
      const a = this.readS(rs1);
      const b = funct5 === F_SUB ? -this.readS(rs2) : this.readS(rs2);
      if (funct5 <= F_SUB) {
        const d = a + b;
        const r = Math.fround(d);
        if (r - r === 0) { // finite; subnormal single sums are exact
          const bb = d - a;
          if (r !== d || (a - (d - bb)) + (b - bb) !== 0) this.fflags |= FFLAG_NX;
          this.writeS(rd, r);
          return;
        }
      } else if (funct5 === F_MUL) {
        const d = a * b; // exact in double
        const r = Math.fround(d);
        // Tininess is judged on the exact value (after rounding, RISC-V): |d| not |r|.
        if (Math.abs(d) >= SINGLE_MIN_NORMAL && r - r === 0) {
          if (r !== d) this.fflags |= FFLAG_NX;
          this.writeS(rd, r);
          return;
        }
      } else {
        const d = a / b;
        const r = Math.fround(d);
        // d > 2^-126 (strictly) implies the exact quotient is not tiny.
        if (Math.abs(d) > SINGLE_MIN_NORMAL && r - r === 0) {
          if (r * b !== a) this.fflags |= FFLAG_NX; // r*b is exact in double
          this.writeS(rd, r);
          return;
        }
      }
    }
    this.writeBits(0, rd, this.softArith(FMT_S, funct5, this.bitsS(rs1), this.bitsS(rs2), rm));
  }

  private softArith(fmt: FpFormat, funct5: number, a: bigint, b: bigint, rm: number): bigint {
    switch (funct5) {
      case F_ADD: return softAdd(fmt, a, b, rm, this);
      case F_SUB: return softAdd(fmt, a, b ^ fmt.signBit, rm, this);
      case F_MUL: return softMul(fmt, a, b, rm, this);
      default: return softDiv(fmt, a, b, rm, this);
    }
  }

  private sqrt(fmt: number, rd: number, rs1: number, rm: number): void {
    if (rm === RM_RNE) {
      if (fmt === 1) {
        const a = this.f64[rs1]!;
        if (a >= LOW && a < Infinity) {
          const r = Math.sqrt(a);
          const p = r * r;
          if (a - p !== productError(r, r, p)) this.fflags |= FFLAG_NX;
          this.f64[rd] = r;
          return;
        }
      } else {
        const a = this.readS(rs1);
        if (a > 0 && a < Infinity) {
          const r = Math.fround(Math.sqrt(a));
          if (r * r !== a) this.fflags |= FFLAG_NX; // r*r is exact in double
          this.writeS(rd, r);
          return;
        }
      }
    }
    const f = fmt === 1 ? FMT_D : FMT_S;
    this.writeBits(fmt, rd, softSqrt(f, this.bits(fmt, rs1), rm, this));
  }

  private fma(fmt: number, rd: number, rs1: number, rs2: number, rs3: number, negProd: number, negAddend: number,
    rm: number): void {
    if (rm === RM_RNE) {
      if (fmt === 1) {
        const a = this.f64[rs1]!;
        const b = negProd ? -this.f64[rs2]! : this.f64[rs2]!;
        const c = negAddend ? -this.f64[rs3]! : this.f64[rs3]!;
        const r = fmaFastD(a, b, c, this);
        if (r === r) { this.f64[rd] = r; return; }
      } else {
        const a = this.readS(rs1);
        const b = negProd ? -this.readS(rs2) : this.readS(rs2);
        const c = negAddend ? -this.readS(rs3) : this.readS(rs3);
        const r = fmaFastS(a, b, c, this);
        if (r === r) { this.writeS(rd, r); return; }
      }
    }
    const f = fmt === 1 ? FMT_D : FMT_S;
    const res = softFma(f, this.bits(fmt, rs1), this.bits(fmt, rs2), this.bits(fmt, rs3), negProd, negAddend, rm, this);
    this.writeBits(fmt, rd, res);
  }

  // --- conversions -------------------------------------------------------------------

  /** convertFloat: fmt 0 = fcvt.s.d, fmt 1 = fcvt.d.s. */
  private convertFloat(fmt: number, rd: number, rs1: number, rm: number): void {
    if (fmt === 1) {
      const v = this.readS(rs1);
      if (v === v) { this.f64[rd] = v; return; } // exact
      this.writeBits(1, rd, softConvertFloat(FMT_S, FMT_D, this.bitsS(rs1), rm, this));
      return;
    }
    if (rm === RM_RNE) {
      const d = this.f64[rs1]!;
      const r = Math.fround(d);
      if (Math.abs(d) >= SINGLE_MIN_NORMAL && r - r === 0) { // d is exact: judge tininess on it
        if (r !== d) this.fflags |= FFLAG_NX;
        this.writeS(rd, r);
        return;
      }
    }
    this.writeBits(0, rd, softConvertFloat(FMT_D, FMT_S, this.bitsD(rs1), rm, this));
  }

  /** fromInt: fcvt.{s,d}.{w,wu,l,lu}; kind is the rs2 field. */
  private fromInt(fmt: number, rd: number, rs1: number, kind: number, rm: number): void {
    const lo = this.x[2 * rs1]!;
    const hi = this.x[2 * rs1 + 1]!;
    let v: number;
    if (kind < CVT_L) v = kind === CVT_WU ? lo >>> 0 : lo;
    else v = (kind === CVT_LU ? hi >>> 0 : hi) * TWO32 + (lo >>> 0);
    const exactInDouble = Math.abs(v) < 2 ** 53; // then the sum above was exact
    if (exactInDouble) {
      if (fmt === 1) { this.f64[rd] = v; return; }
      const r = Math.fround(v);
      if (r === v) { this.writeS(rd, r); return; }
      if (rm === RM_RNE) { this.fflags |= FFLAG_NX; this.writeS(rd, r); return; }
    }
    let big: bigint;
    if (kind < CVT_L) big = BigInt(v);
    else {
      const u = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      big = kind === CVT_LU ? u : BigInt.asIntN(64, u);
    }
    this.writeBits(fmt, rd, softFromInt(fmt === 1 ? FMT_D : FMT_S, big, rm, this));
  }

  // --- sign injection, min/max, compare, classify ------------------------------------

  /** sgnj: fsgnj (mode 0), fsgnjn (1), fsgnjx (2) on raw bits. */
  private sgnj(fmt: number, rd: number, rs1: number, rs2: number, mode: number): void {
    const fi32 = this.fi32;
    if (fmt === 1) {
      const hi1 = fi32[2 * rs1 + 1]!;
      const hi2 = fi32[2 * rs2 + 1]!;
      const sign = mode === 0 ? hi2 : mode === 1 ? ~hi2 : hi1 ^ hi2;
      fi32[2 * rd] = fi32[2 * rs1]!;
      fi32[2 * rd + 1] = (hi1 & 0x7fffffff) | (sign & 0x80000000);
      return;
    }
    const a = fi32[2 * rs1 + 1] === -1 ? fi32[2 * rs1]! : CANONICAL_NAN_S;
    const b = fi32[2 * rs2 + 1] === -1 ? fi32[2 * rs2]! : CANONICAL_NAN_S;
    const sign = mode === 0 ? b : mode === 1 ? ~b : a ^ b;
    fi32[2 * rd] = (a & 0x7fffffff) | (sign & 0x80000000);
    fi32[2 * rd + 1] = -1;
  }

  /** isSignaling: f[i] holds a signaling NaN of the format (an unboxed single does not). */
  private isSignaling(fmt: number, i: number): boolean {
    const fi32 = this.fi32;
    if (fmt === 1) {
      const hi = fi32[2 * i + 1]!;
      return (hi & 0x7ff80000) === 0x7ff00000 && ((hi & 0x7ffff) | fi32[2 * i]!) !== 0;
    }
    if (fi32[2 * i + 1] !== -1) return false;
    const w = fi32[2 * i]!;
    return (w & 0x7fc00000) === 0x7f800000 && (w & 0x3fffff) !== 0;
  }

  private minMax(fmt: number, rd: number, rs1: number, rs2: number, isMax: boolean): void {
    const a = fmt === 1 ? this.f64[rs1]! : this.readS(rs1);
    const b = fmt === 1 ? this.f64[rs2]! : this.readS(rs2);
    if (this.isSignaling(fmt, rs1) || this.isSignaling(fmt, rs2)) this.fflags |= FFLAG_NV;
    let src: number; // which register's bits become the result
    if (a !== a) {
      if (b !== b) {
        if (fmt === 1) { this.fi32[2 * rd] = 0; this.fi32[2 * rd + 1] = CANONICAL_NAN_D_HI; } else {
          this.fi32[2 * rd] = CANONICAL_NAN_S; this.fi32[2 * rd + 1] = -1;
        }
        return;
      }
      src = rs2;
    } else if (b !== b) {
      src = rs1;
    } else if (a === b) { // equal, or zeros of either sign: min takes the negative one
      const aNeg = fmt === 1 ? this.fi32[2 * rs1 + 1]! < 0 : this.fi32[2 * rs1]! < 0;
      src = aNeg !== isMax ? rs1 : rs2;
    } else {
      src = (a < b) !== isMax ? rs1 : rs2;
    }
    this.fi32[2 * rd] = this.fi32[2 * src]!;
    this.fi32[2 * rd + 1] = fmt === 1 ? this.fi32[2 * src + 1]! : -1;
  }

  /** compare: fle (0), flt (1), feq (2) into x[rd]. */
  private compare(fmt: number, rd: number, rs1: number, rs2: number, kind: number): void {
    const a = fmt === 1 ? this.f64[rs1]! : this.readS(rs1);
    const b = fmt === 1 ? this.f64[rs2]! : this.readS(rs2);
    if (a !== a || b !== b) {
      if (kind !== 2 || this.isSignaling(fmt, rs1) || this.isSignaling(fmt, rs2)) this.fflags |= FFLAG_NV;
      this.writeX(rd, 0, 0);
      return;
    }
    const r = kind === 2 ? a === b : kind === 1 ? a < b : a <= b;
    this.writeX(rd, r ? 1 : 0, 0);
  }
}
