/**
 * The C extension: expand a 16-bit compressed instruction into the 32-bit instruction
 * with the same semantics (unprivileged spec, chapter "C" Standard Extension, RV64 column).
 *
 * Contract: `expandCompressed(h)` takes the 16 bits (low two bits != 0b11) and returns
 * the equivalent 32-bit encoding as an unsigned number, or 0 when the 16-bit encoding is
 * illegal or reserved for RV64 (the hart raises illegal instruction with the 16 bits in
 * tval). The hart knows the instruction was 2 bytes long (links pc+2, advances pc by 2).
 *
 * Reserved (→ 0): the all-zero halfword, C.ADDI4SPN with nzuimm=0, quadrant 0 funct3=100,
 * C.ADDIW/C.LWSP/C.LDSP with rd=0, C.ADDI16SP with nzimm=0, C.LUI with nzimm=0,
 * C.JR with rs1=0, and the quadrant-1 funct3=100 forms 1-11-xxx-10/11 (below C.SUBW/C.ADDW).
 * HINTs (C.NOP with nzimm≠0, C.ADDI with nzimm=0, C.LI/C.LUI/C.MV/C.ADD/C.SLLI with rd=0,
 * C.SLLI/C.SRLI/C.SRAI with shamt=0) expand to their natural 32-bit form, which either
 * writes x0 or shifts by 0 — so they execute as no-ops, as the spec requires.
 * RV64 has no C.JAL (that slot is C.ADDIW) and no C.FLW/C.FSW/C.FLWSP/C.FSWSP (those are
 * C.LD/C.SD/C.LDSP/C.SDSP); shamt[5]=1 is a legal shift amount.
 *
 * Cost: one switch and a few shifts; the decoder calls this once per decoded (cached)
 * instruction, so clarity wins over a lookup table.
 */

// --- 32-bit encoders (fields already in range; the caller masks them) ---
const X0 = 0;
const RA = 1;
const SP = 2;

const OP_LOAD = 0x03;
const OP_LOAD_FP = 0x07;
const OP_IMM = 0x13;
const OP_IMM_32 = 0x1b;
const OP_STORE = 0x23;
const OP_STORE_FP = 0x27;
const OP = 0x33;
const OP_LUI = 0x37;
const OP_32 = 0x3b;
const OP_BRANCH = 0x63;
const OP_JALR = 0x67;
const OP_JAL = 0x6f;
const EBREAK = 0x00100073;

function encI(imm: number, rs1: number, f3: number, rd: number, op: number): number {
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
}

function encR(f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number): number {
  return ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
}

function encS(imm: number, rs2: number, rs1: number, f3: number, op: number): number {
  return (((imm >> 5) & 0x7f) << 25 | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
    ((imm & 0x1f) << 7) | op) >>> 0;
}

function encB(imm: number, rs2: number, rs1: number, f3: number): number {
  return (((imm >> 12) & 1) << 31 | ((imm >> 5) & 0x3f) << 25 | (rs2 << 20) | (rs1 << 15) |
    (f3 << 12) | ((imm >> 1) & 0xf) << 8 | ((imm >> 11) & 1) << 7 | OP_BRANCH) >>> 0;
}

function encJ(imm: number, rd: number): number {
  return (((imm >> 20) & 1) << 31 | ((imm >> 1) & 0x3ff) << 21 | ((imm >> 11) & 1) << 20 |
    ((imm >> 12) & 0xff) << 12 | (rd << 7) | OP_JAL) >>> 0;
}

/** Sign-extend the low `bits` bits of v. */
function sext(v: number, bits: number): number {
  const shift = 32 - bits;
  return (v << shift) >> shift;
}

// --- compressed field extractors (bit positions from the spec's instruction formats) ---
/** rd'/rs1' in bits 9:7, mapped to x8..x15. */
function rs1p(h: number): number { return 8 + ((h >> 7) & 7); }
/** rd'/rs2' in bits 4:2, mapped to x8..x15. */
function rs2p(h: number): number { return 8 + ((h >> 2) & 7); }
/** Full rd/rs1 in bits 11:7. */
function rdFull(h: number): number { return (h >> 7) & 31; }
/** Full rs2 in bits 6:2. */
function rs2Full(h: number): number { return (h >> 2) & 31; }
/** CI-format imm[5] at bit 12, imm[4:0] at 6:2, sign-extended (also shamt when masked). */
function imm6(h: number): number { return sext(((h >> 7) & 0x20) | ((h >> 2) & 0x1f), 6); }
/** CI-format shamt[5] at 12, shamt[4:0] at 6:2 (unsigned). */
function shamt6(h: number): number { return ((h >> 7) & 0x20) | ((h >> 2) & 0x1f); }
/** C.LD/C.SD/C.FLD/C.FSD: uimm[5:3] at 12:10, uimm[7:6] at 6:5. */
function uimmD(h: number): number { return ((h >> 7) & 0x38) | ((h << 1) & 0xc0); }
/** C.LW/C.SW: uimm[5:3] at 12:10, uimm[2] at 6, uimm[6] at 5. */
function uimmW(h: number): number { return ((h >> 7) & 0x38) | ((h >> 4) & 0x4) | ((h << 1) & 0x40); }

/** Quadrant 0 (op=00): stack-pointer-based addi and register-based loads/stores. */
function quadrant0(h: number): number {
  const rs1 = rs1p(h);
  const rd = rs2p(h); // rd' or rs2' in bits 4:2
  switch ((h >> 13) & 7) {
    case 0: { // C.ADDI4SPN: nzuimm[5:4|9:6|2|3] at 12:5; nzuimm=0 reserved (covers h=0)
      const imm = ((h >> 7) & 0x30) | ((h >> 1) & 0x3c0) | ((h >> 4) & 0x4) | ((h >> 2) & 0x8);
      return imm === 0 ? 0 : encI(imm, SP, 0, rd, OP_IMM);
    }
    case 1: return encI(uimmD(h), rs1, 3, rd, OP_LOAD_FP); // C.FLD
    case 2: return encI(uimmW(h), rs1, 2, rd, OP_LOAD); // C.LW
    case 3: return encI(uimmD(h), rs1, 3, rd, OP_LOAD); // C.LD (RV64; C.FLW in RV32)
    case 4: return 0; // reserved
    case 5: return encS(uimmD(h), rd, rs1, 3, OP_STORE_FP); // C.FSD
    case 6: return encS(uimmW(h), rd, rs1, 2, OP_STORE); // C.SW
    default: return encS(uimmD(h), rd, rs1, 3, OP_STORE); // C.SD (RV64; C.FSW in RV32)
  }
}

/** Quadrant 1 (op=01): immediates, lui, ALU on x8..x15, jumps and branches. */
function quadrant1(h: number): number {
  const rd = rdFull(h);
  switch ((h >> 13) & 7) {
    case 0: return encI(imm6(h), rd, 0, rd, OP_IMM); // C.ADDI / C.NOP (rd=0 or imm=0: HINT)
    case 1: return rd === 0 ? 0 : encI(imm6(h), rd, 0, rd, OP_IMM_32); // C.ADDIW (RV64)
    case 2: return encI(imm6(h), X0, 0, rd, OP_IMM); // C.LI (rd=0: HINT)
    case 3: {
      if (rd === SP) { // C.ADDI16SP: nzimm[9] at 12, nzimm[4|6|8:7|5] at 6:2
        const imm = sext(((h >> 3) & 0x200) | ((h >> 2) & 0x10) | ((h << 1) & 0x40) |
          ((h << 4) & 0x180) | ((h << 3) & 0x20), 10);
        return imm === 0 ? 0 : encI(imm, SP, 0, SP, OP_IMM);
      }
      const imm = imm6(h); // C.LUI: nzimm[17:12]; nzimm=0 reserved; rd=0: HINT
      return imm === 0 ? 0 : ((imm << 12) | (rd << 7) | OP_LUI) >>> 0;
    }
    case 4: return quadrant1Alu(h);
    case 5: { // C.J: offset[11|4|9:8|10|6|7|3:1|5] at 12:2
      const off = sext(((h >> 1) & 0x800) | ((h >> 7) & 0x10) | ((h >> 1) & 0x300) |
        ((h << 2) & 0x400) | ((h >> 1) & 0x40) | ((h << 1) & 0x80) | ((h >> 2) & 0xe) |
        ((h << 3) & 0x20), 12);
      return encJ(off, X0);
    }
    default: { // C.BEQZ (110) / C.BNEZ (111): offset[8|4:3] at 12:10, [7:6|2:1|5] at 6:2
      const off = sext(((h >> 4) & 0x100) | ((h >> 7) & 0x18) | ((h << 1) & 0xc0) |
        ((h >> 2) & 0x6) | ((h << 3) & 0x20), 9);
      return encB(off, X0, rs1p(h), (h >> 13) & 1); // funct3 0 = beq, 1 = bne
    }
  }
}

/** Quadrant 1, funct3=100: C.SRLI, C.SRAI, C.ANDI and the register-register ALU forms. */
function quadrant1Alu(h: number): number {
  const rd = rs1p(h);
  switch ((h >> 10) & 3) {
    case 0: return encI(shamt6(h), rd, 5, rd, OP_IMM); // C.SRLI (shamt=0: HINT)
    case 1: return encI(0x400 | shamt6(h), rd, 5, rd, OP_IMM); // C.SRAI (shamt=0: HINT)
    case 2: return encI(imm6(h), rd, 7, rd, OP_IMM); // C.ANDI
    default: {
      const rs2 = rs2p(h);
      const f2 = (h >> 5) & 3;
      if ((h & 0x1000) === 0) {
        switch (f2) {
          case 0: return encR(0x20, rs2, rd, 0, rd, OP); // C.SUB
          case 1: return encR(0, rs2, rd, 4, rd, OP); // C.XOR
          case 2: return encR(0, rs2, rd, 6, rd, OP); // C.OR
          default: return encR(0, rs2, rd, 7, rd, OP); // C.AND
        }
      }
      if (f2 === 0) return encR(0x20, rs2, rd, 0, rd, OP_32); // C.SUBW
      if (f2 === 1) return encR(0, rs2, rd, 0, rd, OP_32); // C.ADDW
      return 0; // reserved
    }
  }
}

/** Quadrant 2 (op=10): slli, sp-based loads/stores, jr/jalr/mv/add/ebreak. */
function quadrant2(h: number): number {
  const rd = rdFull(h);
  const rs2 = rs2Full(h);
  switch ((h >> 13) & 7) {
    case 0: return encI(shamt6(h), rd, 1, rd, OP_IMM); // C.SLLI (rd=0 or shamt=0: HINT)
    case 1: // C.FLDSP: uimm[5] at 12, uimm[4:3|8:6] at 6:2
      return encI(((h >> 7) & 0x20) | ((h >> 2) & 0x18) | ((h << 4) & 0x1c0), SP, 3, rd, OP_LOAD_FP);
    case 2: // C.LWSP: uimm[5] at 12, uimm[4:2|7:6] at 6:2; rd=0 reserved
      return rd === 0 ? 0 :
        encI(((h >> 7) & 0x20) | ((h >> 2) & 0x1c) | ((h << 4) & 0xc0), SP, 2, rd, OP_LOAD);
    case 3: // C.LDSP (RV64): as C.FLDSP; rd=0 reserved
      return rd === 0 ? 0 :
        encI(((h >> 7) & 0x20) | ((h >> 2) & 0x18) | ((h << 4) & 0x1c0), SP, 3, rd, OP_LOAD);
    case 4:
      if ((h & 0x1000) === 0) {
        if (rs2 !== 0) return encR(0, rs2, X0, 0, rd, OP); // C.MV (rd=0: HINT)
        return rd === 0 ? 0 : encI(0, rd, 0, X0, OP_JALR); // C.JR; rs1=0 reserved
      }
      if (rs2 !== 0) return encR(0, rs2, rd, 0, rd, OP); // C.ADD (rd=0: HINT)
      return rd === 0 ? EBREAK : encI(0, rd, 0, RA, OP_JALR); // C.EBREAK / C.JALR
    case 5: // C.FSDSP: uimm[5:3|8:6] at 12:7
      return encS(((h >> 7) & 0x38) | ((h >> 1) & 0x1c0), rs2, SP, 3, OP_STORE_FP);
    case 6: // C.SWSP: uimm[5:2|7:6] at 12:7
      return encS(((h >> 7) & 0x3c) | ((h >> 1) & 0xc0), rs2, SP, 2, OP_STORE);
    default: // C.SDSP (RV64): as C.FSDSP
      return encS(((h >> 7) & 0x38) | ((h >> 1) & 0x1c0), rs2, SP, 3, OP_STORE);
  }
}

/**
 * Expand the compressed instruction `h` (16 bits) to its 32-bit equivalent (unsigned),
 * or 0 when `h` is reserved/illegal in RV64 or is not a compressed instruction.
 */
export function expandCompressed(h: number): number {
  h &= 0xffff;
  switch (h & 3) {
    case 0: return quadrant0(h);
    case 1: return quadrant1(h);
    case 2: return quadrant2(h);
    default: return 0; // a 32-bit instruction, not ours
  }
}
