/**
 * The F and D extensions: FP register file, fcsr, and every OP-FP / fused
 * multiply-add instruction. STUB — the FPU work fills it in.
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
 */
export const FFLAG_NX = 1;
export const FFLAG_UF = 2;
export const FFLAG_OF = 4;
export const FFLAG_DZ = 8;
export const FFLAG_NV = 16;

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

  exec(insn: number): boolean {
    void insn;
    return false; // STUB
  }

  readFcsr(): number {
    return (this.frm << 5) | this.fflags;
  }

  writeFcsr(v: number): void {
    this.fflags = v & 0x1f;
    this.frm = (v >>> 5) & 7;
  }
}
