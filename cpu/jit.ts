/**
 * The translator: hot basic blocks of decoded guest code compiled to JavaScript functions.
 *
 * A block is keyed by its physical code page (a DecodedPage of the decode cache) and the
 * 2-byte slot of its first instruction, and hangs off that DecodedPage (`page.jit`), so it
 * is dropped exactly when the interpreter's decoded slots are: a store into the frame
 * (hart-mem.ts noteStore → Hart.dropPage), fence.i, the shared icache epoch, the decode
 * cache's size bound. The block's instructions are the page's decoded slots, the same ones
 * the interpreter executes.
 *
 * A block runs from its first instruction up to and including the first jump (jal, jalr), or
 * up to (excluding) the first instruction the translator leaves to the interpreter —
 * ecall, ebreak, CSR access, LR/SC/AMO, fence.i, an illegal encoding, a 32-bit instruction
 * crossing the page end — or MAX_BLOCK instructions, or the page end, whichever is first.
 * Conditional branches inside a block are side exits (a superblock): taken, the block exits
 * there — except a forward branch to a later instruction of the block over no other control
 * transfer, which becomes an `if` around the instructions it skips. A block whose last instruction (or a side exit) branches back to its own first
 * instruction loops inside the generated function while the caller's budget allows another
 * full pass.
 *
 * Generated code (see `emit*` below; one template per OP_*, written against the run loop in
 * cpu/hart-run.ts, which stays the reference):
 *  - registers are int32 lo/hi locals, loaded from the hart's register buffer on entry and
 *    written back (those the block writes) at every exit, so a trap at instruction k leaves
 *    every earlier register write done and none later;
 *  - loads and stores do the interpreter's micro-TLB compare inline and on a miss call the
 *    same slow paths (hart-mem.ts loadSlow/storeSlow), so the private TLB, the micro-TLBs
 *    and the sanitizer's observer see the same accesses in the same order; aligned 64-bit
 *    accesses are the same single Float64 move;
 *  - the block's page caches: in a block with two or more loads (stores), or a looping block
 *    with one, the tag, high word and add of the load (store) micro-TLB entry the block last
 *    hit are kept in locals (`lcT lcH lcA`, `scT scH scA`) and compared first. A hart's
 *    micro-TLBs change only inside slow-path calls (refills, evictions, a dropped code page)
 *    and between blocks (sfence, satp, broadcast invalidations, observer), and every
 *    slow-path call in the block empties both caches, so a cached entry is still the
 *    micro-TLB's entry for that page: a cached hit happens exactly when the micro-TLB compare
 *    would hit, counts as a micro-TLB hit and moves the same bytes — it only saves the three
 *    array reads. (While the sanitizer observes the TLB the micro-TLBs stay empty, so the
 *    caches never fill.)
 *  - after a slow-path call, if the current code page was dropped (a store into code, a TLB
 *    invalidation) the block exits after that instruction, as the interpreter refills;
 *  - OP_FP calls fpu.exec with the registers written back first and its integer result
 *    reloaded after.
 * The function returns the number of instructions retired; it sets h.pc (the next
 * instruction, or the faulting one with h.jitTrap = true and h.cause/h.tval set).
 *
 * Why JavaScript and `new Function` (the one place this project generates code): the
 * registers are split int32 pairs, which V8 keeps in machine registers once the block is
 * hot; WebAssembly would need RAM to be a WebAssembly.Memory (cpu/ram.ts, boot) and a
 * hand-written encoder. Generated source comes only from the fixed templates here and
 * numbers from the decoder — never from guest-controlled text.
 */
import type { Hart } from './hart.ts';
import type { DecodedPage } from './decode.ts';
import {
  OP_ADD, OP_ADDI, OP_ADDIW, OP_ADDW, OP_AND, OP_ANDI, OP_AUIPC, OP_BEQ, OP_BGE, OP_BGEU, OP_BLT, OP_BLTU, OP_BNE,
  OP_DIV, OP_DIVU, OP_DIVUW, OP_DIVW, OP_FENCE, OP_FLD, OP_FLW, OP_FP, OP_FSD, OP_FSW, OP_JAL, OP_JALR, OP_LB, OP_LBU,
  OP_LD, OP_LH, OP_LHU, OP_LUI, OP_LW, OP_LWU, OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_MULW, OP_OR, OP_ORI, OP_REM,
  OP_REMU, OP_REMUW, OP_REMW, OP_SB, OP_SD, OP_SH, OP_SLL, OP_SLLI, OP_SLLIW, OP_SLLW, OP_SLT, OP_SLTI, OP_SLTIU,
  OP_SLTU, OP_SRA, OP_SRAI, OP_SRAIW, OP_SRAW, OP_SRL, OP_SRLI, OP_SRLIW, OP_SRLW, OP_SUB, OP_SUBW, OP_SW, OP_UNDECODED,
  OP_XOR, OP_XORI, SLOTS_PER_PAGE, X_SINK,
} from './decode.ts';
import { loadSlow, storeSlow } from './hart-mem.ts';
import { div32, div64, mul64, mulh64, mulhsu64, mulhu64 } from './mul.ts';
import { join64 } from './wide.ts';

/** Longest block, in instructions. */
export const MAX_BLOCK = 64;
/** Executions of a block start before it is compiled (HartOptions.jitThreshold default). */
export const JIT_THRESHOLD = 32;

/** Compiled block: (va of its page, instruction budget ≥ len) → instructions retired. */
export type BlockFn = (base: number, n: number) => number;

/** One block start of a code page: its extent, heat and (once hot) its function. */
export class JitBlock {
  /** Instructions in the block (1 for an interpreter-only instruction). */
  readonly len: number;
  /** False when the block is one interpreter-only instruction. */
  readonly compilable: boolean;
  heat = 0;
  fn: BlockFn | null = null;
  constructor(len: number, compilable: boolean) {
    this.len = len;
    this.compilable = compilable;
  }
}

/** The blocks of one decoded page, by start slot. */
export class JitPage {
  readonly blocks: (JitBlock | undefined)[] = new Array<JitBlock | undefined>(SLOTS_PER_PAGE);
}

/** Ops the translator compiles that end a block (control transfers). */
function isControl(op: number): boolean {
  return op === OP_JAL || op === OP_JALR || (op >= OP_BEQ && op <= OP_BGEU);
}

/** Loads and stores the translator compiles (integer and FP). */
function isLoad(op: number): boolean {
  return op === OP_LB || op === OP_LH || op === OP_LW || op === OP_LD || op === OP_LBU || op === OP_LHU || op === OP_LWU ||
    op === OP_FLW || op === OP_FLD;
}
function isStore(op: number): boolean {
  return op === OP_SB || op === OP_SH || op === OP_SW || op === OP_SD || op === OP_FSW || op === OP_FSD;
}

/** Ops the translator compiles (everything else ends the block before it). */
function isTranslatable(op: number): boolean {
  return (op >= OP_LUI && op <= OP_REMUW) || op === OP_FENCE || (op >= OP_FP && op <= OP_FSD);
}

/**
 * The block starting at `slot` of `page`: decodes its slots (the decode cache's lazy
 * decode, done ahead) and measures it. Never fails.
 */
export function discoverBlock(h: Hart, page: DecodedPage, slot: number): JitBlock {
  let off = slot * 2;
  let len = 0;
  while (len < MAX_BLOCK && off < 4096) {
    const s = off >>> 1;
    if (page.ops[s] === OP_UNDECODED) h.decode(page, s);
    const op = page.ops[s];
    if (!isTranslatable(op)) break;
    len++;
    off += page.args[s] >>> 24;
    if (op === OP_JAL || op === OP_JALR) break; // a conditional branch is a side exit: go on
  }
  return len === 0 ? new JitBlock(1, false) : new JitBlock(len, true);
}

const TWO32 = 4294967296;

/** Code generator state for one block. */
class Gen {
  /** Registers (1..31) the block reads or writes, and those it writes. */
  readonly used = new Set<number>();
  readonly written = new Set<number>();
  /** True while emitting a self-looping block (exits count `done`). */
  loops = false;
  /** Loads (stores) go through the block's page cache first (see PAGE CACHE in emitInsn). */
  loadCache = false;
  storeCache = false;

  /**
   * Instructions retired when `k` instructions of this pass, in block order, are behind: minus
   * those a forward branch inside the block skipped in this pass (`sk`), plus earlier passes.
   */
  retired(k: number): string {
    return this.loops ? `done + ${k} - sk` : `${k} - sk`;
  }

  lo(r2: number): string { return r2 === 0 ? '0' : `xl${r2 >> 1}`; }
  hi(r2: number): string { return r2 === 0 ? '0' : `xh${r2 >> 1}`; }
  use(r2: number): void { if (r2 !== 0 && r2 !== X_SINK) this.used.add(r2 >> 1); }
  def(r2: number): void { if (r2 !== X_SINK && r2 !== 0) { this.used.add(r2 >> 1); this.written.add(r2 >> 1); } }

  /**
   * Statements that empty the block's page caches: after any slow-path call, which may have
   * refilled or invalidated any micro-TLB entry (an eviction, a dropped code page).
   */
  dropCaches(): string {
    return (this.loadCache ? 'lcT = -1; ' : '') + (this.storeCache ? 'scT = -1; ' : '');
  }

  /** Statements that write back the block's written registers. */
  writeBack(): string {
    let s = '';
    for (const r of this.written) s += `x[${2 * r}] = xl${r}; x[${2 * r + 1}] = xh${r}; `;
    return s;
  }

  /**
   * An exit: write back, publish hit counts, set pc, return `retired` (expression). The
   * write-back (WRITEBACK_ALL, filled in at the end) covers every register the block writes
   * anywhere: in a looping block a later instruction may have written it in an earlier pass,
   * and a register not written yet still holds its entry value, so writing it is harmless.
   */
  exit(pc: string, retired: string, trap: boolean): string {
    return `{ WRITEBACK_ALL h.hitLoad += hl; h.hitStore += hs; h.pc = ${pc}; ${trap ? 'h.jitTrap = true; ' : ''}return ${retired}; }`;
  }

  /** Assign a 64-bit result (int32 expressions over the OLD register values) to rd. */
  set(rd: number, lo: string, hi: string): string {
    if (rd === X_SINK) return '';
    this.def(rd);
    return `{ const rl = (${lo}) | 0; const rh = (${hi}) | 0; xl${rd >> 1} = rl; xh${rd >> 1} = rh; }`;
  }

  /** Assign a sign-extended 32-bit result. */
  setW(rd: number, v: string): string {
    if (rd === X_SINK) return '';
    this.def(rd);
    return `{ const rw = (${v}) | 0; xl${rd >> 1} = rw; xh${rd >> 1} = rw >> 31; }`;
  }
}

const LOAD_MASK: Record<number, number> = { 1: -4096, 2: -4095, 4: -4093, 8: -4089 };

/** Effective-address statements: consts `lo`, `hi` from register r1 + imm. */
function addr(g: Gen, r1: number, imm: number): string {
  g.use(r1);
  const l1 = g.lo(r1);
  const h1 = g.hi(r1);
  if (imm === 0) return `const lo = ${l1}; const hi = ${h1};`;
  return `const lo = (${l1} + ${imm}) | 0; const hi = (${h1} + ${imm >> 31} + ((lo >>> 0) < (${l1} >>> 0) ? 1 : 0)) | 0;`;
}

/**
 * Emit instruction `k` of the block (at page offset `off`); `k` instructions of this pass
 * retired before it.
 */
function emitInsn(g: Gen, op: number, a: number, imm: number, off: number, k: number): string {
  const rd = a & 0xff;
  const r1 = (a >>> 8) & 0xff;
  const r2 = (a >>> 16) & 0xff;
  const len = a >>> 24;
  const before = g.retired(k);
  const after = g.retired(k + 1);
  const here = `base + ${off}`;
  const next = `base + ${off + len}`;
  const trap = g.exit(here, before, true);
  const recheck = `if (h.cpPage !== page) ${g.exit(next, after, false)}`;
  // Operands (register reads count as uses).
  const L = (r: number) => { g.use(r); return g.lo(r); };
  const H = (r: number) => { g.use(r); return g.hi(r); };
  switch (op) {
    case OP_LUI: return g.set(rd, `${imm}`, `${imm >> 31}`);
    case OP_AUIPC: return rd === X_SINK ? '' : `{ const v = base + ${off + imm}; ${g.set(rd, 'v | 0', `Math.floor(v / ${TWO32}) | 0`)} }`;
    case OP_ADDI: {
      if (imm === 0) return g.set(rd, L(r1), H(r1));
      return `{ const l = ${L(r1)}; const lo = (l + ${imm}) | 0; ${g.set(rd, 'lo', `${H(r1)} + ${imm >> 31} + ((lo >>> 0) < (l >>> 0) ? 1 : 0)`)} }`;
    }
    case OP_SLTI: return g.set(rd, `(${H(r1)} < ${imm >> 31} || (${H(r1)} === ${imm >> 31} && (${L(r1)} >>> 0) < ${imm >>> 0})) ? 1 : 0`, '0');
    case OP_SLTIU: {
      const h2 = (imm >> 31) >>> 0;
      return g.set(rd, `((${H(r1)} >>> 0) < ${h2} || ((${H(r1)} >>> 0) === ${h2} && (${L(r1)} >>> 0) < ${imm >>> 0})) ? 1 : 0`, '0');
    }
    case OP_XORI: return g.set(rd, `${L(r1)} ^ ${imm}`, `${H(r1)} ^ ${imm >> 31}`);
    case OP_ORI: return g.set(rd, `${L(r1)} | ${imm}`, `${H(r1)} | ${imm >> 31}`);
    case OP_ANDI: return g.set(rd, `${L(r1)} & ${imm}`, `${H(r1)} & ${imm >> 31}`);
    case OP_SLLI: {
      const l = L(r1); const hh = H(r1);
      if (imm === 0) return g.set(rd, l, hh);
      if (imm < 32) return g.set(rd, `${l} << ${imm}`, `(${hh} << ${imm}) | (${l} >>> ${32 - imm})`);
      return g.set(rd, '0', `${l} << ${imm - 32}`);
    }
    case OP_SRLI: {
      const l = L(r1); const hh = H(r1);
      if (imm === 0) return g.set(rd, l, hh);
      if (imm < 32) return g.set(rd, `(${l} >>> ${imm}) | (${hh} << ${32 - imm})`, `${hh} >>> ${imm}`);
      return g.set(rd, `${hh} >>> ${imm - 32}`, '0');
    }
    case OP_SRAI: {
      const l = L(r1); const hh = H(r1);
      if (imm === 0) return g.set(rd, l, hh);
      if (imm < 32) return g.set(rd, `(${l} >>> ${imm}) | (${hh} << ${32 - imm})`, `${hh} >> ${imm}`);
      return g.set(rd, `${hh} >> ${imm - 32}`, `${hh} >> 31`);
    }
    case OP_SLL: case OP_SRL: case OP_SRA: {
      if (rd === X_SINK) return '';
      const l = L(r1); const hh = H(r1);
      const small = op === OP_SLL ? `vh = (${hh} << sh) | (${l} >>> (32 - sh)); vl = ${l} << sh;`
        : op === OP_SRL ? `vl = (${l} >>> sh) | (${hh} << (32 - sh)); vh = ${hh} >>> sh;`
          : `vl = (${l} >>> sh) | (${hh} << (32 - sh)); vh = ${hh} >> sh;`;
      const big = op === OP_SLL ? `vh = ${l} << (sh - 32); vl = 0;`
        : op === OP_SRL ? `vl = ${hh} >>> (sh - 32); vh = 0;`
          : `vl = ${hh} >> (sh - 32); vh = ${hh} >> 31;`;
      return `{ const sh = ${L(r2)} & 63; let vl = ${l}, vh = ${hh}; if (sh !== 0) { if (sh < 32) { ${small} } else { ${big} } } ${g.set(rd, 'vl', 'vh')} }`;
    }
    case OP_ADD: {
      if (rd === X_SINK) return '';
      return `{ const l1 = ${L(r1)}; const lo = (l1 + ${L(r2)}) | 0; ${g.set(rd, 'lo', `${H(r1)} + ${H(r2)} + ((lo >>> 0) < (l1 >>> 0) ? 1 : 0)`)} }`;
    }
    case OP_SUB: {
      if (rd === X_SINK) return '';
      return `{ const l1 = ${L(r1)}; const l2 = ${L(r2)}; ${g.set(rd, 'l1 - l2', `${H(r1)} - ${H(r2)} - ((l1 >>> 0) < (l2 >>> 0) ? 1 : 0)`)} }`;
    }
    case OP_SLT: return g.set(rd, `(${H(r1)} < ${H(r2)} || (${H(r1)} === ${H(r2)} && (${L(r1)} >>> 0) < (${L(r2)} >>> 0))) ? 1 : 0`, '0');
    case OP_SLTU: return g.set(rd, `((${H(r1)} >>> 0) < (${H(r2)} >>> 0) || (${H(r1)} === ${H(r2)} && (${L(r1)} >>> 0) < (${L(r2)} >>> 0))) ? 1 : 0`, '0');
    case OP_XOR: return g.set(rd, `${L(r1)} ^ ${L(r2)}`, `${H(r1)} ^ ${H(r2)}`);
    case OP_OR: return g.set(rd, `${L(r1)} | ${L(r2)}`, `${H(r1)} | ${H(r2)}`);
    case OP_AND: return g.set(rd, `${L(r1)} & ${L(r2)}`, `${H(r1)} & ${H(r2)}`);
    case OP_ADDIW: return g.setW(rd, `${L(r1)} + ${imm}`);
    case OP_SLLIW: return g.setW(rd, `${L(r1)} << ${imm}`);
    case OP_SRLIW: return g.setW(rd, `${L(r1)} >>> ${imm}`);
    case OP_SRAIW: return g.setW(rd, `${L(r1)} >> ${imm}`);
    case OP_ADDW: return g.setW(rd, `${L(r1)} + ${L(r2)}`);
    case OP_SUBW: return g.setW(rd, `${L(r1)} - ${L(r2)}`);
    case OP_SLLW: return g.setW(rd, `${L(r1)} << (${L(r2)} & 31)`);
    case OP_SRLW: return g.setW(rd, `${L(r1)} >>> (${L(r2)} & 31)`);
    case OP_SRAW: return g.setW(rd, `${L(r1)} >> (${L(r2)} & 31)`);
    case OP_MULW: return g.setW(rd, `Math.imul(${L(r1)}, ${L(r2)})`);
    case OP_MUL: case OP_MULH: case OP_MULHSU: case OP_MULHU: case OP_DIV: case OP_DIVU: case OP_REM: case OP_REMU: {
      if (rd === X_SINK) return '';
      const ops = `T, 0, ${L(r1)}, ${H(r1)}, ${L(r2)}, ${H(r2)}`;
      const call = op === OP_MUL ? `mul64(${ops})` : op === OP_MULH ? `mulh64(${ops})` : op === OP_MULHSU ? `mulhsu64(${ops})`
        : op === OP_MULHU ? `mulhu64(${ops})` : op === OP_DIV ? `div64(${ops}, true, false)`
          : op === OP_DIVU ? `div64(${ops}, false, false)` : op === OP_REM ? `div64(${ops}, true, true)` : `div64(${ops}, false, true)`;
      return `${call}; ${g.set(rd, 'T[0]', 'T[1]')}`;
    }
    case OP_DIVW: case OP_DIVUW: case OP_REMW: case OP_REMUW: {
      if (rd === X_SINK) return '';
      const flags = op === OP_DIVW ? 'true, false' : op === OP_DIVUW ? 'false, false' : op === OP_REMW ? 'true, true' : 'false, true';
      return `div32(T, 0, ${L(r1)}, ${L(r2)}, ${flags}); ${g.set(rd, 'T[0]', 'T[1]')}`;
    }
    case OP_FENCE: return '';
    case OP_LB: case OP_LH: case OP_LW: case OP_LD: case OP_LBU: case OP_LHU: case OP_LWU: case OP_FLW: case OP_FLD: {
      const size = op === OP_LB || op === OP_LBU ? 1 : op === OP_LH || op === OP_LHU ? 2 : op === OP_LD || op === OP_FLD ? 8 : 4;
      let hit: string; // sets v (and vh for 64-bit)
      let slow: string;
      switch (op) {
        case OP_LB: hit = 'v = i8[(lAdd[e] + lo) >>> 0];'; slow = 'v = (h.ldLo << 24) >> 24;'; break;
        case OP_LH: hit = 'v = i16[(lAdd[e] + lo) >>> 1];'; slow = 'v = (h.ldLo << 16) >> 16;'; break;
        case OP_LBU: hit = 'v = u8[(lAdd[e] + lo) >>> 0];'; slow = 'v = h.ldLo;'; break;
        case OP_LHU: hit = 'v = u16[(lAdd[e] + lo) >>> 1];'; slow = 'v = h.ldLo;'; break;
        case OP_LD: case OP_FLD: hit = 'wideF[0] = f64[(lAdd[e] + lo) >>> 3]; v = wideI[0]; vh = wideI[1];'; slow = 'v = h.ldLo; vh = h.ldHi;'; break;
        default: hit = 'v = i32[(lAdd[e] + lo) >>> 2];'; slow = 'v = h.ldLo;'; break;
      }
      let dest: string;
      switch (op) {
        case OP_LB: case OP_LH: case OP_LW: dest = g.setW(rd, 'v'); break;
        case OP_LD: dest = g.set(rd, 'v', 'vh'); break;
        case OP_FLW: dest = `fi32[${rd}] = v; fi32[${rd + 1}] = -1;`; break;
        case OP_FLD: dest = `fi32[${rd}] = v; fi32[${rd + 1}] = vh;`; break;
        default: dest = g.set(rd, 'v', '0'); break;
      }
      const mask = LOAD_MASK[size];
      const micro = `const e = (lo >>> 12) & 255; ` +
        `if ((lo & ${mask}) === lTagLo[e] && hi === lTagHi[e]) { ${g.loadCache ? 'lcT = lo & -4096; lcH = hi; lcA = lAdd[e]; ' : ''}` +
        `${hit} hl++; ${dest} } else { ${g.dropCaches()}` +
        `if (!loadSlow(h, lo, hi, ${size})) ${trap} ${slow} ${dest} ${recheck} }`;
      if (!g.loadCache) return `{ ${addr(g, r1, imm)} let v = 0, vh = 0; ${micro} }`;
      return `{ ${addr(g, r1, imm)} let v = 0, vh = 0; ` +
        `if ((lo & ${mask}) === lcT && hi === lcH) { ${hit.replaceAll('lAdd[e]', 'lcA')} hl++; ${dest} } else { ${micro} } }`;
    }
    case OP_SB: case OP_SH: case OP_SW: case OP_SD: case OP_FSW: case OP_FSD: {
      const size = op === OP_SB ? 1 : op === OP_SH ? 2 : op === OP_SD || op === OP_FSD ? 8 : 4;
      const vl = op === OP_FSW || op === OP_FSD ? `fi32[${r2}]` : L(r2);
      const vh = op === OP_FSD ? `fi32[${r2 + 1}]` : op === OP_SD ? H(r2) : '0';
      let hit: string;
      switch (size) {
        case 1: hit = 'u8[(sAdd[e] + lo) >>> 0] = v;'; break;
        case 2: hit = 'u16[(sAdd[e] + lo) >>> 1] = v;'; break;
        case 4: hit = 'i32[(sAdd[e] + lo) >>> 2] = v;'; break;
        default: hit = 'f64[(sAdd[e] + lo) >>> 3] = join64(v, vh);'; break; // one 8-byte move, no scratch (cpu/wide.ts)
      }
      const mask = LOAD_MASK[size];
      const micro = `const e = (lo >>> 12) & 255; ` +
        `if ((lo & ${mask}) === sTagLo[e] && hi === sTagHi[e]) { ${g.storeCache ? 'scT = lo & -4096; scH = hi; scA = sAdd[e]; ' : ''}` +
        `${hit} hs++; } else { ${g.dropCaches()}` +
        `if (!storeSlow(h, lo, hi, ${size}, v, vh)) ${trap} ${recheck} }`;
      if (!g.storeCache) return `{ ${addr(g, r1, imm)} const v = ${vl}; const vh = ${vh}; ${micro} }`;
      return `{ ${addr(g, r1, imm)} const v = ${vl}; const vh = ${vh}; ` +
        `if ((lo & ${mask}) === scT && hi === scH) { ${hit.replaceAll('sAdd[e]', 'scA')} hs++; } else { ${micro} } }`;
    }
    case OP_FP: {
      // fpu.exec reads and writes the register buffer: write back everything the block writes
      // (WRITEBACK_ALL, filled in once the block is generated), then reload its integer rd.
      const fd = (imm >>> 7) & 31;
      if (fd !== 0) g.used.add(fd);
      const reload = fd !== 0 ? `xl${fd} = x[${2 * fd}]; xh${fd} = x[${2 * fd + 1}];` : '';
      return `{ WRITEBACK_ALL if (!fpu.exec(${imm})) { h.illegal(${imm}); ${trap} } ${reload} }`;
    }
    default:
      throw new Error(`jit: op ${op} is not translatable`);
  }
}

/** Names the generated factory receives, in order (see compileBlock). */
const FACTORY_PARAMS = [
  'h', 'page', 'x', 'u8', 'i8', 'u16', 'i16', 'i32', 'f64', 'wideF', 'wideI', 'fi32', 'fpu',
  'lTagLo', 'lTagHi', 'lAdd', 'sTagLo', 'sTagHi', 'sAdd', 'T',
  'loadSlow', 'storeSlow', 'mul64', 'mulh64', 'mulhsu64', 'mulhu64', 'div64', 'div32', 'join64',
];

/** Scratch for the multiply/divide helpers' (lo, hi) results. */
const MUL_SCRATCH = new Int32Array(2);

/**
 * The JavaScript source of the block starting at `slot` of `page` (`len` instructions, as
 * measured by discoverBlock). Exposed for tests and the docs.
 */
export function blockSource(page: DecodedPage, slot: number, len: number): string {
  const g = new Gen();
  const startOff = slot * 2;
  // Is it a self loop? (last instruction a branch/jal back to startOff)
  let off = startOff;
  const offs: number[] = [];
  for (let k = 0; k < len; k++) { offs.push(off); off += page.args[off >>> 1] >>> 24; }
  const endOff = off;
  const lastOff = offs[len - 1]!;
  g.loops = false;
  let loads = 0;
  let stores = 0;
  for (const o of offs) {
    const op = page.ops[o >>> 1];
    if ((op === OP_JAL || (op >= OP_BEQ && op <= OP_BGEU)) && o + page.imms[o >>> 1] === startOff) g.loops = true;
    if (isLoad(op)) loads++;
    if (isStore(op)) stores++;
  }
  // The page cache pays when a page is used again: a second access in the block or a next pass.
  g.loadCache = loads >= 2 || (g.loops && loads >= 1);
  g.storeCache = stores >= 2 || (g.loops && stores >= 1);
  const body: string[] = [];
  const skipEnds = new Map<number, number>(); // instruction index → how many skip regions close before it
  for (let k = 0; k < len; k++) {
    for (let c = skipEnds.get(k) ?? 0; c > 0; c--) body.push('}');
    const o = offs[k]!;
    const s = o >>> 1;
    const op = page.ops[s];
    const a = page.args[s];
    const imm = page.imms[s];
    const t = isControl(op) && op !== OP_JAL && op !== OP_JALR ? offs.indexOf(o + imm) : -1;
    if (k === len - 1 && isControl(op)) body.push(emitControl(g, op, a, imm, o, startOff, len));
    else if (t > k + 1 && t < len && !offs.slice(k + 1, t).some((q) => isControl(page.ops[q >>> 1]))) {
      // A forward branch to a later instruction of this block, over no other control transfer:
      // the instructions it skips run under `if (!taken)`; taken, they count as not retired.
      body.push(`if (${branchCondition(g, op, (a >>> 8) & 0xff, (a >>> 16) & 0xff)}) { sk += ${t - k - 1}; } else {`);
      skipEnds.set(t, (skipEnds.get(t) ?? 0) + 1);
    } else if (isControl(op)) body.push(emitSideExit(g, op, a, imm, o, k, startOff, len));
    else body.push(emitInsn(g, op, a, imm, o, k));
  }
  const last = page.ops[lastOff >>> 1];
  if (!isControl(last)) body.push(g.exit(`base + ${endOff}`, g.retired(len), false));
  const regs = [...g.used].sort((p, q) => p - q);
  const entry = regs.map((r) => `let xl${r} = x[${2 * r}] | 0, xh${r} = x[${2 * r + 1}] | 0;`).join(' ');
  const wbAll = g.writeBack();
  let code = body.join('\n').replaceAll('WRITEBACK_ALL', wbAll);
  if (g.loops) code = `let done = 0;\nfor (;;) {\n${code}\n}`;
  const caches = (g.loadCache ? 'let lcT = -1, lcH = 0, lcA = 0; ' : '') + (g.storeCache ? 'let scT = -1, scH = 0, scA = 0;' : '');
  return `"use strict";\nreturn function block(base, n) {\n${entry}\nlet hl = 0, hs = 0, sk = 0; ${caches}\n${code}\n};`;
}

/** The condition (a JS expression over register locals) under which branch `op` is taken. */
function branchCondition(g: Gen, op: number, r1: number, r2: number): string {
  g.use(r1); g.use(r2);
  const a1 = g.lo(r1); const b1 = g.hi(r1); const a2 = g.lo(r2); const b2 = g.hi(r2);
  switch (op) {
    case OP_BEQ: return `${a1} === ${a2} && ${b1} === ${b2}`;
    case OP_BNE: return `${a1} !== ${a2} || ${b1} !== ${b2}`;
    case OP_BLT: return `${b1} < ${b2} || (${b1} === ${b2} && (${a1} >>> 0) < (${a2} >>> 0))`;
    case OP_BGE: return `!(${b1} < ${b2} || (${b1} === ${b2} && (${a1} >>> 0) < (${a2} >>> 0)))`;
    case OP_BLTU: return `(${b1} >>> 0) < (${b2} >>> 0) || (${b1} === ${b2} && (${a1} >>> 0) < (${a2} >>> 0))`;
    default: return `!((${b1} >>> 0) < (${b2} >>> 0) || (${b1} === ${b2} && (${a1} >>> 0) < (${a2} >>> 0)))`;
  }
}

/**
 * A conditional branch inside a block (instruction k, not the last): taken, the block exits
 * with k + 1 retired — or, in a looping block whose start it targets, starts another pass
 * while the budget allows; not taken, execution falls through to the next instruction.
 */
function emitSideExit(g: Gen, op: number, a: number, imm: number, off: number, k: number, startOff: number, len: number): string {
  const cond = branchCondition(g, op, (a >>> 8) & 0xff, (a >>> 16) & 0xff);
  const target = `base + ${off + imm}`;
  if (g.loops && off + imm === startOff) {
    return `if (${cond}) { done += ${k + 1} - sk; sk = 0; if (n - done >= ${len}) continue; ${g.exit(target, 'done', false)} }`;
  }
  return `if (${cond}) ${g.exit(target, g.retired(k + 1), false)}`;
}

/** The block's final control transfer (branch, jal, jalr) and its exits. */
function emitControl(g: Gen, op: number, a: number, imm: number, off: number, startOff: number, len: number): string {
  const rd = a & 0xff;
  const r1 = (a >>> 8) & 0xff;
  const r2 = (a >>> 16) & 0xff;
  const ilen = a >>> 24;
  const retired = g.retired(len);
  const fall = `base + ${off + ilen}`;
  const L = (r: number) => { g.use(r); return g.lo(r); };
  const H = (r: number) => { g.use(r); return g.hi(r); };
  const taken = g.loops && off + imm === startOff
    ? `{ done += ${len} - sk; sk = 0; if (n - done >= ${len}) continue; ${g.exit(`base + ${off + imm}`, 'done', false)} }`
    : g.exit(`base + ${off + imm}`, retired, false);
  switch (op) {
    case OP_JAL: {
      const link = g.set(rd, `base + ${off + ilen}`, `Math.floor((base + ${off + ilen}) / ${TWO32})`);
      return `${link} ${taken}`;
    }
    case OP_JALR: {
      const l1 = L(r1); const h1 = H(r1);
      const link = g.set(rd, `base + ${off + ilen}`, `Math.floor((base + ${off + ilen}) / ${TWO32})`);
      return `{ const l = ${l1}; const lo = (l + ${imm}) | 0; const hi = (${h1} + ${imm >> 31} + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0; ` +
        `const t = hi * ${TWO32} + ((lo & ~1) >>> 0); ${link} ${g.exit('t', retired, false)} }`;
    }
    default:
      return `if (${branchCondition(g, op, r1, r2)}) ${taken}\n${g.exit(fall, retired, false)}`;
  }
}

/**
 * Compile block `b` (starting at `slot` of `page`) for hart `h`: sets b.fn. Returns the
 * compile time in µs.
 */
export function compileBlock(h: Hart, page: DecodedPage, slot: number, b: JitBlock): number {
  const t0 = performance.now();
  const src = blockSource(page, slot, b.len);
  const ram = h.ram;
  // The one place the project generates code (see the file header): fixed templates, numbers from the decoder.
  const factory = new Function(...FACTORY_PARAMS, src) as (...args: unknown[]) => BlockFn;
  b.fn = factory(
    h, page, h.xbuf, ram.u8, ram.i8, ram.u16, ram.i16, ram.i32, ram.f64, h.wideF, h.wideI, h.fpu.fi32, h.fpu,
    h.lTagLo, h.lTagHi, h.lAdd, h.sTagLo, h.sTagHi, h.sAdd, MUL_SCRATCH,
    loadSlow, storeSlow, mul64, mulh64, mulhsu64, mulhu64, div64, div32, join64,
  );
  return (performance.now() - t0) * 1000;
}
