/**
 * A small encoder for F/D instruction words, shared by the FPU tests, and helpers to
 * load/read raw register bits. Not part of the emulator.
 */
import { Fpu } from '../../cpu/fpu.ts';

/** How an op is encoded: major opcode, funct7 (OP-FP) or fmt (R4), fixed rs2/funct3. */
interface OpSpec {
  opcode: number;
  funct7: number; // for R4 ops: the fmt in bits 25-26 (0 S, 1 D)
  rs2?: number; // fixed rs2 field (unary ops)
  funct3?: number; // fixed funct3 (no rounding mode)
  /** operand shape: 'fff' binary, 'ff' unary, 'ffff' fma, 'xff'/'xf' integer result, 'fx' integer source */
  shape: 'fff' | 'ff' | 'ffff' | 'xff' | 'xf' | 'fx';
}

const OPS = new Map<string, OpSpec>();

for (const [sfx, fmt] of [['s', 0], ['d', 1]] as const) {
  const r = (f5: number): number => (f5 << 2) | fmt;
  OPS.set(`fadd.${sfx}`, { opcode: 0x53, funct7: r(0x00), shape: 'fff' });
  OPS.set(`fsub.${sfx}`, { opcode: 0x53, funct7: r(0x01), shape: 'fff' });
  OPS.set(`fmul.${sfx}`, { opcode: 0x53, funct7: r(0x02), shape: 'fff' });
  OPS.set(`fdiv.${sfx}`, { opcode: 0x53, funct7: r(0x03), shape: 'fff' });
  OPS.set(`fsqrt.${sfx}`, { opcode: 0x53, funct7: r(0x0b), rs2: 0, shape: 'ff' });
  OPS.set(`fsgnj.${sfx}`, { opcode: 0x53, funct7: r(0x04), funct3: 0, shape: 'fff' });
  OPS.set(`fsgnjn.${sfx}`, { opcode: 0x53, funct7: r(0x04), funct3: 1, shape: 'fff' });
  OPS.set(`fsgnjx.${sfx}`, { opcode: 0x53, funct7: r(0x04), funct3: 2, shape: 'fff' });
  OPS.set(`fmin.${sfx}`, { opcode: 0x53, funct7: r(0x05), funct3: 0, shape: 'fff' });
  OPS.set(`fmax.${sfx}`, { opcode: 0x53, funct7: r(0x05), funct3: 1, shape: 'fff' });
  OPS.set(`fle.${sfx}`, { opcode: 0x53, funct7: r(0x14), funct3: 0, shape: 'xff' });
  OPS.set(`flt.${sfx}`, { opcode: 0x53, funct7: r(0x14), funct3: 1, shape: 'xff' });
  OPS.set(`feq.${sfx}`, { opcode: 0x53, funct7: r(0x14), funct3: 2, shape: 'xff' });
  OPS.set(`fclass.${sfx}`, { opcode: 0x53, funct7: r(0x1c), rs2: 0, funct3: 1, shape: 'xf' });
  ['w', 'wu', 'l', 'lu'].forEach((k, i) => {
    OPS.set(`fcvt.${k}.${sfx}`, { opcode: 0x53, funct7: r(0x18), rs2: i, shape: 'xf' });
    OPS.set(`fcvt.${sfx}.${k}`, { opcode: 0x53, funct7: r(0x1a), rs2: i, shape: 'fx' });
  });
  OPS.set(`fmadd.${sfx}`, { opcode: 0x43, funct7: fmt, shape: 'ffff' });
  OPS.set(`fmsub.${sfx}`, { opcode: 0x47, funct7: fmt, shape: 'ffff' });
  OPS.set(`fnmsub.${sfx}`, { opcode: 0x4b, funct7: fmt, shape: 'ffff' });
  OPS.set(`fnmadd.${sfx}`, { opcode: 0x4f, funct7: fmt, shape: 'ffff' });
}
OPS.set('fcvt.s.d', { opcode: 0x53, funct7: 0x20, rs2: 1, shape: 'ff' });
OPS.set('fcvt.d.s', { opcode: 0x53, funct7: 0x21, rs2: 0, shape: 'ff' });
OPS.set('fmv.x.w', { opcode: 0x53, funct7: 0x70, rs2: 0, funct3: 0, shape: 'xf' });
OPS.set('fmv.x.d', { opcode: 0x53, funct7: 0x71, rs2: 0, funct3: 0, shape: 'xf' });
OPS.set('fmv.w.x', { opcode: 0x53, funct7: 0x78, rs2: 0, funct3: 0, shape: 'fx' });
OPS.set('fmv.d.x', { opcode: 0x53, funct7: 0x79, rs2: 0, funct3: 0, shape: 'fx' });

export const OP_NAMES = [...OPS.keys()];

export const DYN = 7;

/** spec: the encoding description of a named op (throws on unknown names). */
export function spec(name: string): OpSpec {
  const s = OPS.get(name);
  if (!s) throw new Error(`spec: unknown op ${name}`);
  return s;
}

/** hasRm: whether the op's funct3 is a rounding mode. */
export function hasRm(name: string): boolean {
  return spec(name).funct3 === undefined;
}

/** encode: the instruction word for `name` with registers rd, rs1, rs2, rs3 and rounding mode rm. */
export function encode(name: string, rd: number, rs1: number, rs2 = 0, rs3 = 0, rm = DYN): number {
  const s = spec(name);
  const f3 = s.funct3 ?? rm;
  const r2 = s.rs2 ?? rs2;
  if (s.opcode !== 0x53) {
    return ((rs3 << 27) | (s.funct7 << 25) | (r2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | s.opcode) >>> 0;
  }
  return ((s.funct7 << 25) | (r2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | s.opcode) >>> 0;
}

/** setF / getF: raw 64-bit contents of f[i]. */
export function setF(fpu: Fpu, i: number, bits: bigint): void {
  fpu.fi32[2 * i] = Number(bits & 0xffffffffn) | 0;
  fpu.fi32[2 * i + 1] = Number((bits >> 32n) & 0xffffffffn) | 0;
}
export function getF(fpu: Fpu, i: number): bigint {
  return (BigInt(fpu.fi32[2 * i + 1]! >>> 0) << 32n) | BigInt(fpu.fi32[2 * i]! >>> 0);
}

/** setX / getX: raw 64-bit contents of x[i] in the hart's Int32Array register file. */
export function setX(x: Int32Array, i: number, bits: bigint): void {
  x[2 * i] = Number(bits & 0xffffffffn) | 0;
  x[2 * i + 1] = Number((bits >> 32n) & 0xffffffffn) | 0;
}
export function getX(x: Int32Array, i: number): bigint {
  return (BigInt(x[2 * i + 1]! >>> 0) << 32n) | BigInt(x[2 * i]! >>> 0);
}

/** boxS: a single's bits NaN-boxed in a 64-bit register value. */
export function boxS(bits: number): bigint {
  return 0xffffffff00000000n | BigInt(bits >>> 0);
}

/** dBits / sBits: raw bits of a JS number as binary64 / binary32. */
const scratch = new DataView(new ArrayBuffer(8));
export function dBits(v: number): bigint {
  scratch.setFloat64(0, v);
  return scratch.getBigUint64(0);
}
export function sBits(v: number): number {
  scratch.setFloat32(0, v);
  return scratch.getUint32(0);
}

/**
 * run: execute `name` on a fresh Fpu with operands a, b, c (raw 64-bit; integer source
 * ops read a from x1) and return the raw 64-bit result, the flags, and exec's verdict.
 * Operands live in f1..f3 / x1, the result in f4 / x5.
 */
export function run(name: string, rm: number, a: bigint, b = 0n, c = 0n,
  opts: { frm?: number; staticRm?: boolean } = {}): { result: bigint; flags: number; ok: boolean } {
  const x = new Int32Array(64);
  const fpu = new Fpu(x);
  fpu.frm = opts.frm ?? rm;
  const s = spec(name);
  if (s.shape === 'fx') setX(x, 1, a);
  else { setF(fpu, 1, a); setF(fpu, 2, b); setF(fpu, 3, c); }
  setF(fpu, 4, 0x5555555555555555n);
  setX(x, 5, 0x5555555555555555n);
  const insn = encode(name, s.shape[0] === 'x' ? 5 : 4, 1, 2, 3, opts.staticRm ? rm : DYN);
  const ok = fpu.exec(insn);
  const result = s.shape[0] === 'x' ? getX(x, 5) : getF(fpu, 4);
  return { result, flags: fpu.fflags, ok };
}
