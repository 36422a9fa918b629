/**
 * The decoder and the per-physical-page decode cache.
 *
 * An instruction is decoded once into three parallel typed-array slots:
 *   op   (Uint8)  a small dense operation number (OP_*) the run loop switches on;
 *   arg  (Int32)  rd2 | rs1_2 << 8 | rs2_2 << 16 | len << 24, where reg2 = 2 × register number
 *                 (the index of the register's low word in the hart's register buffer) and
 *                 rd = x0 is redirected to the sink pair X_SINK so writes to x0 vanish;
 *   imm  (Int32)  the sign-extended immediate; for OP_SYSTEM-like ops (CSR, AMO, FP,
 *                 FP load/store) the whole 32-bit instruction; for OP_ILLEGAL the raw
 *                 instruction bits (16 bits for a compressed one) that become tval.
 * Compressed instructions are expanded by cpu/rvc.ts at decode time and decoded like
 * their 32-bit form with len = 2.
 *
 * A DecodedPage holds the 2048 two-byte slots of one physical 4 KiB frame, decoded lazily
 * (op 0 = not decoded yet). A 32-bit instruction in the last slot crosses into the next
 * page and is marked OP_CROSS: the hart fetches and decodes it uncached every time.
 */
import { expandCompressed } from './rvc.ts';
import { PAGE_SIZE } from './ram.ts';
import type { JitPage } from './jit.ts';

export const SLOTS_PER_PAGE = PAGE_SIZE / 2;
/** Register-buffer index of the write-only sink that stands in for rd = x0. */
export const X_SINK = 64;

// Special ops (op <= OP_LAST_SPECIAL takes the run loop's slow fetch path).
export const OP_UNDECODED = 0;
export const OP_CROSS = 1;
export const OP_LAST_SPECIAL = 1;
// RV64I
export const OP_ILLEGAL = 2;
export const OP_LUI = 3;
export const OP_AUIPC = 4;
export const OP_JAL = 5;
export const OP_JALR = 6;
export const OP_BEQ = 7;
export const OP_BNE = 8;
export const OP_BLT = 9;
export const OP_BGE = 10;
export const OP_BLTU = 11;
export const OP_BGEU = 12;
export const OP_LB = 13;
export const OP_LH = 14;
export const OP_LW = 15;
export const OP_LD = 16;
export const OP_LBU = 17;
export const OP_LHU = 18;
export const OP_LWU = 19;
export const OP_SB = 20;
export const OP_SH = 21;
export const OP_SW = 22;
export const OP_SD = 23;
export const OP_ADDI = 24;
export const OP_SLTI = 25;
export const OP_SLTIU = 26;
export const OP_XORI = 27;
export const OP_ORI = 28;
export const OP_ANDI = 29;
export const OP_SLLI = 30;
export const OP_SRLI = 31;
export const OP_SRAI = 32;
export const OP_ADD = 33;
export const OP_SUB = 34;
export const OP_SLL = 35;
export const OP_SLT = 36;
export const OP_SLTU = 37;
export const OP_XOR = 38;
export const OP_SRL = 39;
export const OP_SRA = 40;
export const OP_OR = 41;
export const OP_AND = 42;
export const OP_ADDIW = 43;
export const OP_SLLIW = 44;
export const OP_SRLIW = 45;
export const OP_SRAIW = 46;
export const OP_ADDW = 47;
export const OP_SUBW = 48;
export const OP_SLLW = 49;
export const OP_SRLW = 50;
export const OP_SRAW = 51;
// M
export const OP_MUL = 52;
export const OP_MULH = 53;
export const OP_MULHSU = 54;
export const OP_MULHU = 55;
export const OP_DIV = 56;
export const OP_DIVU = 57;
export const OP_REM = 58;
export const OP_REMU = 59;
export const OP_MULW = 60;
export const OP_DIVW = 61;
export const OP_DIVUW = 62;
export const OP_REMW = 63;
export const OP_REMUW = 64;
// System, fences, A, CSR, F/D
export const OP_FENCE = 65;
export const OP_FENCE_I = 66;
export const OP_ECALL = 67;
export const OP_EBREAK = 68;
export const OP_CSR = 69; // imm = instruction
export const OP_AMO = 70; // imm = instruction (LR/SC and every AMO, .w and .d)
export const OP_FP = 71; // imm = instruction: fpu.exec
export const OP_FLW = 72;
export const OP_FLD = 73;
export const OP_FSW = 74;
export const OP_FSD = 75;
export const OP_COUNT = 76;

const BRANCH_OPS = [OP_BEQ, OP_BNE, 0, 0, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU];
const LOAD_OPS = [OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU];
const OP_OPS = [OP_ADD, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_OR, OP_AND];
const MULDIVW_OPS = [OP_MULW, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL, OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW];

/** One physical frame's decoded slots (see the header). */
export class DecodedPage {
  readonly ppn: number;
  readonly ops = new Uint8Array(SLOTS_PER_PAGE);
  readonly args = new Int32Array(SLOTS_PER_PAGE);
  readonly imms = new Int32Array(SLOTS_PER_PAGE);
  /** The translator's blocks of this page (cpu/jit.ts), created on first use; dropped with the page. */
  jit: JitPage | null = null;
  constructor(ppn: number) {
    this.ppn = ppn;
  }
}

/** Sentinel "no current code page": every slot reads OP_UNDECODED, which makes the hart refill. */
export const REFILL_PAGE = new DecodedPage(-1);

function pack(rd: number, rs1: number, rs2: number, len: number): number {
  return ((rd === 0 ? X_SINK : rd * 2) | (rs1 * 2) << 8 | (rs2 * 2) << 16 | len << 24);
}

/**
 * Decode the 32-bit instruction `insn` (already expanded if it came from a compressed
 * one: len 2, raw = its 16 bits) into slot `slot` of the three arrays.
 * Contract: never throws; an illegal encoding becomes OP_ILLEGAL with imm = raw.
 */
export function decodeInto(
  ops: Uint8Array, args: Int32Array, imms: Int32Array, slot: number, insn: number, len: number, raw: number,
): void {
  const rd = (insn >>> 7) & 31;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const f3 = (insn >>> 12) & 7;
  const f7 = insn >>> 25;
  const immI = insn >> 20;
  let op = OP_ILLEGAL;
  let imm = 0;
  switch (insn & 0x7f) {
    case 0x37: op = OP_LUI; imm = insn & ~0xfff; break;
    case 0x17: op = OP_AUIPC; imm = insn & ~0xfff; break;
    case 0x6f:
      op = OP_JAL;
      imm = ((insn >> 31) << 20) | (insn & 0xff000) | ((insn >>> 9) & 0x800) | ((insn >>> 20) & 0x7fe);
      break;
    case 0x67: if (f3 === 0) { op = OP_JALR; imm = immI; } break;
    case 0x63: {
      const b = BRANCH_OPS[f3];
      if (b !== 0) {
        op = b;
        imm = ((insn >> 31) << 12) | ((insn << 4) & 0x800) | ((insn >>> 20) & 0x7e0) | ((insn >>> 7) & 0x1e);
      }
      break;
    }
    case 0x03: if (f3 !== 7) { op = LOAD_OPS[f3]; imm = immI; } break;
    case 0x23:
      if (f3 < 4) { op = OP_SB + f3; imm = ((insn >> 25) << 5) | ((insn >>> 7) & 31); }
      break;
    case 0x13:
      imm = immI;
      switch (f3) {
        case 0: op = OP_ADDI; break;
        case 2: op = OP_SLTI; break;
        case 3: op = OP_SLTIU; break;
        case 4: op = OP_XORI; break;
        case 6: op = OP_ORI; break;
        case 7: op = OP_ANDI; break;
        case 1: if (insn >>> 26 === 0) { op = OP_SLLI; imm = immI & 63; } break;
        case 5:
          if (insn >>> 26 === 0) { op = OP_SRLI; imm = immI & 63; }
          else if (insn >>> 26 === 0x10) { op = OP_SRAI; imm = immI & 63; }
          break;
      }
      break;
    case 0x1b:
      imm = immI;
      if (f3 === 0) op = OP_ADDIW;
      else if (f3 === 1 && f7 === 0) { op = OP_SLLIW; imm = rs2; }
      else if (f3 === 5 && f7 === 0) { op = OP_SRLIW; imm = rs2; }
      else if (f3 === 5 && f7 === 0x20) { op = OP_SRAIW; imm = rs2; }
      break;
    case 0x33:
      if (f7 === 0) op = OP_OPS[f3];
      else if (f7 === 1) op = OP_MUL + f3;
      else if (f7 === 0x20 && f3 === 0) op = OP_SUB;
      else if (f7 === 0x20 && f3 === 5) op = OP_SRA;
      break;
    case 0x3b:
      if (f7 === 0) op = f3 === 0 ? OP_ADDW : f3 === 1 ? OP_SLLW : f3 === 5 ? OP_SRLW : OP_ILLEGAL;
      else if (f7 === 0x20) op = f3 === 0 ? OP_SUBW : f3 === 5 ? OP_SRAW : OP_ILLEGAL;
      else if (f7 === 1) op = MULDIVW_OPS[f3];
      break;
    case 0x0f:
      if (f3 === 0) op = OP_FENCE;
      else if (f3 === 1) op = OP_FENCE_I;
      break;
    case 0x73:
      if (f3 === 0) {
        if (insn === 0x00000073) op = OP_ECALL;
        else if (insn === 0x00100073) op = OP_EBREAK;
      } else if (f3 !== 4) {
        op = OP_CSR; imm = insn;
      }
      break;
    case 0x2f:
      if (f3 === 2 || f3 === 3) {
        const f5 = insn >>> 27;
        if ((f5 === 2 && rs2 === 0) || f5 === 3 || f5 === 0 || f5 === 1 || f5 === 4 || f5 === 8 || f5 === 12 ||
            f5 === 16 || f5 === 20 || f5 === 24 || f5 === 28) {
          op = OP_AMO; imm = insn;
        }
      }
      break;
    case 0x07: if (f3 === 2) op = OP_FLW; else if (f3 === 3) op = OP_FLD; imm = immI; break;
    case 0x27:
      if (f3 === 2) op = OP_FSW; else if (f3 === 3) op = OP_FSD;
      imm = ((insn >> 25) << 5) | ((insn >>> 7) & 31);
      break;
    case 0x53: case 0x43: case 0x47: case 0x4b: case 0x4f:
      op = OP_FP; imm = insn;
      break;
  }
  if (op === OP_ILLEGAL) imm = raw;
  ops[slot] = op;
  // FP loads/stores keep register numbers too: rd/rs2 there name f registers (packed ×2 the same way,
  // but f0 is a real register, so undo the x0 sink redirect for FLW/FLD).
  args[slot] = (op === OP_FLW || op === OP_FLD) ? (rd * 2 | (rs1 * 2) << 8 | (rs2 * 2) << 16 | len << 24)
    : pack(rd, rs1, rs2, len);
  imms[slot] = imm;
}

/**
 * Decode the instruction whose first halfword is `h` (and, if it is a 32-bit instruction,
 * whose second halfword is `h2`) into `slot`. Compressed ones go through expandCompressed.
 */
export function decodeHalves(
  ops: Uint8Array, args: Int32Array, imms: Int32Array, slot: number, h: number, h2: number,
): void {
  if ((h & 3) === 3) {
    const insn = (h | (h2 << 16)) | 0;
    // Lengths above 32 bits (bits 4:2 all ones) are not supported: illegal.
    if ((h & 0x1c) === 0x1c) { ops[slot] = OP_ILLEGAL; args[slot] = 4 << 24; imms[slot] = insn; return; }
    decodeInto(ops, args, imms, slot, insn, 4, insn);
    return;
  }
  const full = expandCompressed(h);
  if (full === 0) { ops[slot] = OP_ILLEGAL; args[slot] = 2 << 24; imms[slot] = h; return; }
  decodeInto(ops, args, imms, slot, full, 2, h);
}

/**
 * Decode slot `slot` of `page` from RAM (`u16` view; the frame's first halfword index is
 * page.ppn × 2048). A 32-bit instruction in the last slot becomes OP_CROSS.
 */
export function decodeSlot(page: DecodedPage, u16: Uint16Array, slot: number): void {
  const base = page.ppn * SLOTS_PER_PAGE;
  const h = u16[base + slot];
  if ((h & 3) === 3 && slot === SLOTS_PER_PAGE - 1) {
    page.ops[slot] = OP_CROSS; page.args[slot] = 4 << 24; page.imms[slot] = 0;
    return;
  }
  decodeHalves(page.ops, page.args, page.imms, slot, h, (h & 3) === 3 ? u16[base + slot + 1] : 0);
}
