/**
 * A minimal RV64 instruction encoder for tests and benchmarks (no assembler needed).
 * Registers are numbers 0..31; immediates are plain numbers; every function returns the
 * 32-bit instruction word as an unsigned number.
 */

export function rType(opcode: number, f3: number, f7: number, rd: number, rs1: number, rs2: number): number {
  return ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opcode) >>> 0;
}

export function iType(opcode: number, f3: number, rd: number, rs1: number, imm: number): number {
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opcode) >>> 0;
}

export function sType(opcode: number, f3: number, rs1: number, rs2: number, imm: number): number {
  return ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | opcode) >>> 0;
}

export function bType(f3: number, rs1: number, rs2: number, off: number): number {
  const b12 = (off >> 12) & 1, b11 = (off >> 11) & 1, b10_5 = (off >> 5) & 0x3f, b4_1 = (off >> 1) & 0xf;
  return ((b12 << 31) | (b10_5 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (b4_1 << 8) | (b11 << 7) | 0x63) >>> 0;
}

export function uType(opcode: number, rd: number, imm20: number): number {
  return (((imm20 & 0xfffff) << 12) | (rd << 7) | opcode) >>> 0;
}

export function jal(rd: number, off: number): number {
  const b20 = (off >> 20) & 1, b10_1 = (off >> 1) & 0x3ff, b11 = (off >> 11) & 1, b19_12 = (off >> 12) & 0xff;
  return ((b20 << 31) | (b10_1 << 21) | (b11 << 20) | (b19_12 << 12) | (rd << 7) | 0x6f) >>> 0;
}

// RV64I
export const lui = (rd: number, imm20: number) => uType(0x37, rd, imm20);
export const auipc = (rd: number, imm20: number) => uType(0x17, rd, imm20);
export const jalr = (rd: number, rs1: number, imm: number) => iType(0x67, 0, rd, rs1, imm);
export const beq = (a: number, b: number, off: number) => bType(0, a, b, off);
export const bne = (a: number, b: number, off: number) => bType(1, a, b, off);
export const blt = (a: number, b: number, off: number) => bType(4, a, b, off);
export const bge = (a: number, b: number, off: number) => bType(5, a, b, off);
export const bltu = (a: number, b: number, off: number) => bType(6, a, b, off);
export const bgeu = (a: number, b: number, off: number) => bType(7, a, b, off);
export const lb = (rd: number, rs1: number, imm: number) => iType(0x03, 0, rd, rs1, imm);
export const lh = (rd: number, rs1: number, imm: number) => iType(0x03, 1, rd, rs1, imm);
export const lw = (rd: number, rs1: number, imm: number) => iType(0x03, 2, rd, rs1, imm);
export const ld = (rd: number, rs1: number, imm: number) => iType(0x03, 3, rd, rs1, imm);
export const lbu = (rd: number, rs1: number, imm: number) => iType(0x03, 4, rd, rs1, imm);
export const lhu = (rd: number, rs1: number, imm: number) => iType(0x03, 5, rd, rs1, imm);
export const lwu = (rd: number, rs1: number, imm: number) => iType(0x03, 6, rd, rs1, imm);
export const sb = (rs2: number, rs1: number, imm: number) => sType(0x23, 0, rs1, rs2, imm);
export const sh = (rs2: number, rs1: number, imm: number) => sType(0x23, 1, rs1, rs2, imm);
export const sw = (rs2: number, rs1: number, imm: number) => sType(0x23, 2, rs1, rs2, imm);
export const sd = (rs2: number, rs1: number, imm: number) => sType(0x23, 3, rs1, rs2, imm);
export const addi = (rd: number, rs1: number, imm: number) => iType(0x13, 0, rd, rs1, imm);
export const slti = (rd: number, rs1: number, imm: number) => iType(0x13, 2, rd, rs1, imm);
export const sltiu = (rd: number, rs1: number, imm: number) => iType(0x13, 3, rd, rs1, imm);
export const xori = (rd: number, rs1: number, imm: number) => iType(0x13, 4, rd, rs1, imm);
export const ori = (rd: number, rs1: number, imm: number) => iType(0x13, 6, rd, rs1, imm);
export const andi = (rd: number, rs1: number, imm: number) => iType(0x13, 7, rd, rs1, imm);
export const slli = (rd: number, rs1: number, sh: number) => iType(0x13, 1, rd, rs1, sh & 63);
export const srli = (rd: number, rs1: number, sh: number) => iType(0x13, 5, rd, rs1, sh & 63);
export const srai = (rd: number, rs1: number, sh: number) => iType(0x13, 5, rd, rs1, 0x400 | (sh & 63));
export const addiw = (rd: number, rs1: number, imm: number) => iType(0x1b, 0, rd, rs1, imm);
export const slliw = (rd: number, rs1: number, sh: number) => iType(0x1b, 1, rd, rs1, sh & 31);
export const srliw = (rd: number, rs1: number, sh: number) => iType(0x1b, 5, rd, rs1, sh & 31);
export const sraiw = (rd: number, rs1: number, sh: number) => iType(0x1b, 5, rd, rs1, 0x400 | (sh & 31));
const op = (f3: number, f7: number) => (rd: number, a: number, b: number) => rType(0x33, f3, f7, rd, a, b);
const op32 = (f3: number, f7: number) => (rd: number, a: number, b: number) => rType(0x3b, f3, f7, rd, a, b);
export const add = op(0, 0), sub = op(0, 0x20), sll = op(1, 0), slt = op(2, 0), sltu = op(3, 0);
export const xor = op(4, 0), srl = op(5, 0), sra = op(5, 0x20), or = op(6, 0), and = op(7, 0);
export const addw = op32(0, 0), subw = op32(0, 0x20), sllw = op32(1, 0), srlw = op32(5, 0), sraw = op32(5, 0x20);
// M
export const mul = op(0, 1), mulh = op(1, 1), mulhsu = op(2, 1), mulhu = op(3, 1);
export const div = op(4, 1), divu = op(5, 1), rem = op(6, 1), remu = op(7, 1);
export const mulw = op32(0, 1), divw = op32(4, 1), divuw = op32(5, 1), remw = op32(6, 1), remuw = op32(7, 1);
// A: funct5 values
export const AMO = { add: 0, swap: 1, lr: 2, sc: 3, xor: 4, or: 8, and: 12, min: 16, max: 20, minu: 24, maxu: 28 } as const;
/** An A-extension instruction: width 'w' or 'd', funct5 from AMO, aq/rl bits clear. */
export function amo(f5: number, width: 'w' | 'd', rd: number, rs1: number, rs2: number): number {
  return rType(0x2f, width === 'w' ? 2 : 3, f5 << 2, rd, rs1, rs2);
}
// System
export const ECALL = 0x00000073;
export const EBREAK = 0x00100073;
export const FENCE = 0x0ff0000f;
export const FENCE_I = 0x0000100f;
export const NOP = 0x00000013;
export const csrrw = (rd: number, csr: number, rs1: number) => iType(0x73, 1, rd, rs1, csr);
export const csrrs = (rd: number, csr: number, rs1: number) => iType(0x73, 2, rd, rs1, csr);
export const csrrc = (rd: number, csr: number, rs1: number) => iType(0x73, 3, rd, rs1, csr);
export const csrrwi = (rd: number, csr: number, uimm: number) => iType(0x73, 5, rd, uimm, csr);
export const csrrsi = (rd: number, csr: number, uimm: number) => iType(0x73, 6, rd, uimm, csr);
export const csrrci = (rd: number, csr: number, uimm: number) => iType(0x73, 7, rd, uimm, csr);
// F/D loads and stores (f registers are numbers too)
export const flw = (fd: number, rs1: number, imm: number) => iType(0x07, 2, fd, rs1, imm);
export const fld = (fd: number, rs1: number, imm: number) => iType(0x07, 3, fd, rs1, imm);
export const fsw = (fs2: number, rs1: number, imm: number) => sType(0x27, 2, rs1, fs2, imm);
export const fsd = (fs2: number, rs1: number, imm: number) => sType(0x27, 3, rs1, fs2, imm);

/**
 * Instructions that load the 64-bit constant v into rd (lui/addiw/slli/addi sequence, at
 * most 8 instructions; uses only rd).
 */
export function li(rd: number, v: bigint): number[] {
  v = BigInt.asIntN(64, v);
  if (v >= -2048n && v < 2048n) return [addi(rd, 0, Number(v))];
  if (v >= -(1n << 31n) && v < (1n << 31n)) {
    const n = Number(v);
    const lo = (n << 20) >> 20;
    const hi = ((n - lo) >>> 12) & 0xfffff;
    const out = [lui(rd, hi)];
    if (lo !== 0) out.push(addiw(rd, rd, lo));
    return out;
  }
  // v = (upper << 12) + lo12, recursively.
  const lo12 = Number(BigInt.asIntN(12, v));
  const upper = (v - BigInt(lo12)) >> 12n;
  const out = li(rd, upper);
  out.push(slli(rd, rd, 12));
  if (lo12 !== 0) out.push(addi(rd, rd, lo12));
  return out;
}
