/**
 * Assembler encoding tables: register and CSR names, the RV64GC (uncompressed) instruction
 * table, operand parsing, and the encoder. Pseudo-instructions live in pseudo.ts.
 *
 * Each table row is "mnemonic signature base": `base` holds the fixed bits (opcode, funct3,
 * funct7...), `signature` the operands in source order:
 *   d s t   integer rd (bits 11:7), rs1 (19:15), rs2 (24:20)
 *   D S T R float rd, rs1, rs2, rs3 (31:27)
 *   j       12-bit signed immediate (I-type, 31:20), e.g. 5, -1, %lo(sym), %pcrel_lo(1b)
 *   m M     memory operand off(rs1): I-type offset (loads) / S-type offset (stores)
 *   A       atomic address: (rs1) or 0(rs1)
 *   b J     branch target (13-bit pc-relative) / jal target (21-bit pc-relative)
 *   u       20-bit upper immediate (lui/auipc), e.g. 0x12345, %hi(sym), %pcrel_hi(sym)
 *   > <     shift amount 0..63 / 0..31
 *   c Z     CSR (name or 0..4095) / 5-bit unsigned immediate (bits 19:15)
 *   r e     optional rounding mode (rne rtz rdn rup rmm dyn); default dyn / default rne
 *   p q     fence predecessor / successor sets (letters from "iorw", or a number 0..15)
 */
import { AsmError } from './error.ts';
import { bareName, evalExpr, parseExpr, type EvalCtx, type Expr } from './expr.ts';
import type { Token } from './lexer.ts';

export type Operand =
  | { k: 'x'; n: number }
  | { k: 'f'; n: number }
  | { k: 'mem'; off: Expr; base: number }
  | { k: 'expr'; e: Expr };

/** One real (32-bit) instruction, operands parsed but not yet evaluated. */
export interface MachineInsn { mn: string; ops: Operand[]; }

const ABI_X = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5',
  'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'];
const ABI_F = ['ft0', 'ft1', 'ft2', 'ft3', 'ft4', 'ft5', 'ft6', 'ft7', 'fs0', 'fs1', 'fa0', 'fa1', 'fa2', 'fa3',
  'fa4', 'fa5', 'fa6', 'fa7', 'fs2', 'fs3', 'fs4', 'fs5', 'fs6', 'fs7', 'fs8', 'fs9', 'fs10', 'fs11', 'ft8',
  'ft9', 'ft10', 'ft11'];
const XREG = new Map<string, number>();
const FREG = new Map<string, number>();
for (let n = 0; n < 32; n++) {
  XREG.set(`x${n}`, n); XREG.set(ABI_X[n], n);
  FREG.set(`f${n}`, n); FREG.set(ABI_F[n], n);
}
XREG.set('fp', 8);

/** Integer register number for a name (x0-x31, ABI names, fp), or undefined. */
export function xreg(name: string): number | undefined { return XREG.get(name.toLowerCase()); }
/** Float register number for a name (f0-f31, ft/fs/fa names), or undefined. */
export function freg(name: string): number | undefined { return FREG.get(name.toLowerCase()); }

export const CSR_NAMES = new Map<string, number>([['fflags', 1], ['frm', 2], ['fcsr', 3],
  ['cycle', 0xc00], ['time', 0xc01], ['instret', 0xc02]]);
for (let i = 3; i < 32; i++) CSR_NAMES.set(`hpmcounter${i}`, 0xc00 + i);

const ROUNDING = new Map([['rne', 0], ['rtz', 1], ['rdn', 2], ['rup', 3], ['rmm', 4], ['dyn', 7]]);

const TABLE_SRC = `
lui d,u 37|auipc d,u 17|jal d,J 6f|jalr d,m 67
beq s,t,b 63|bne s,t,b 1063|blt s,t,b 4063|bge s,t,b 5063|bltu s,t,b 6063|bgeu s,t,b 7063
lb d,m 3|lh d,m 1003|lw d,m 2003|ld d,m 3003|lbu d,m 4003|lhu d,m 5003|lwu d,m 6003
sb t,M 23|sh t,M 1023|sw t,M 2023|sd t,M 3023
addi d,s,j 13|slti d,s,j 2013|sltiu d,s,j 3013|xori d,s,j 4013|ori d,s,j 6013|andi d,s,j 7013
slli d,s,> 1013|srli d,s,> 5013|srai d,s,> 40005013
add d,s,t 33|sub d,s,t 40000033|sll d,s,t 1033|slt d,s,t 2033|sltu d,s,t 3033|xor d,s,t 4033
srl d,s,t 5033|sra d,s,t 40005033|or d,s,t 6033|and d,s,t 7033
addiw d,s,j 1b|slliw d,s,< 101b|srliw d,s,< 501b|sraiw d,s,< 4000501b
addw d,s,t 3b|subw d,s,t 4000003b|sllw d,s,t 103b|srlw d,s,t 503b|sraw d,s,t 4000503b
fence p,q f|fence.tso - 8330000f|fence.i - 100f|ecall - 73|ebreak - 100073
csrrw d,c,s 1073|csrrs d,c,s 2073|csrrc d,c,s 3073|csrrwi d,c,Z 5073|csrrsi d,c,Z 6073|csrrci d,c,Z 7073
mul d,s,t 2000033|mulh d,s,t 2001033|mulhsu d,s,t 2002033|mulhu d,s,t 2003033
div d,s,t 2004033|divu d,s,t 2005033|rem d,s,t 2006033|remu d,s,t 2007033
mulw d,s,t 200003b|divw d,s,t 200403b|divuw d,s,t 200503b|remw d,s,t 200603b|remuw d,s,t 200703b
flw D,m 2007|fld D,m 3007|fsw T,M 2027|fsd T,M 3027
fcvt.s.d D,S,r 40100053|fcvt.d.s D,S,e 42000053
fmv.x.w d,S e0000053|fmv.x.s d,S e0000053|fmv.w.x D,s f0000053|fmv.s.x D,s f0000053
fmv.x.d d,S e2000053|fmv.d.x D,s f2000053
fcvt.d.w D,s,e d2000053|fcvt.d.wu D,s,e d2100053
`;

/** Float ops defined once with fmt bit 25 = 0 (.s) / 1 (.d). */
const FLOAT_SRC = `
fmadd D,S,T,R,r 43|fmsub D,S,T,R,r 47|fnmsub D,S,T,R,r 4b|fnmadd D,S,T,R,r 4f
fadd D,S,T,r 53|fsub D,S,T,r 8000053|fmul D,S,T,r 10000053|fdiv D,S,T,r 18000053|fsqrt D,S,r 58000053
fsgnj D,S,T 20000053|fsgnjn D,S,T 20001053|fsgnjx D,S,T 20002053|fmin D,S,T 28000053|fmax D,S,T 28001053
feq d,S,T a0002053|flt d,S,T a0001053|fle d,S,T a0000053|fclass d,S e0001053
fcvt.w d,S,r c0000053|fcvt.wu d,S,r c0100053|fcvt.l d,S,r c0200053|fcvt.lu d,S,r c0300053
`;

interface Spec { sig: string[]; base: number; }
export const TABLE = new Map<string, Spec>();
function addRows(src: string, fn: (mn: string, sig: string, base: number) => void): void {
  for (const row of src.trim().split(/[|\n]/)) {
    const [mn, sig, hex] = row.trim().split(/\s+/);
    fn(mn, sig, parseInt(hex, 16));
  }
}
addRows(TABLE_SRC, (mn, sig, base) => TABLE.set(mn, { sig: sig === '-' ? [] : sig.split(','), base }));
addRows(FLOAT_SRC, (mn, sig, base) => {
  for (const [fmt, bit] of [['s', 0], ['d', 1 << 25]] as const) { // fadd → fadd.s, fcvt.w → fcvt.w.s
    TABLE.set(`${mn}.${fmt}`, { sig: sig.split(','), base: (base | bit) >>> 0 });
  }
});
// fcvt.{s,d}.{w,wu,l,lu}: integer → float.
for (const [fmt, bit] of [['s', 0], ['d', 1 << 25]] as const) {
  ['w', 'wu', 'l', 'lu'].forEach((src, i) => {
    if (!TABLE.has(`fcvt.${fmt}.${src}`)) TABLE.set(`fcvt.${fmt}.${src}`, { sig: ['D', 's', 'r'], base: (0xd0000053 | bit | (i << 20)) >>> 0 });
  });
}
// Atomics: every ordering suffix.
const AMO: [string, number][] = [['lr', 2], ['sc', 3], ['amoswap', 1], ['amoadd', 0], ['amoxor', 4], ['amoand', 0xc],
  ['amoor', 8], ['amomin', 0x10], ['amomax', 0x14], ['amominu', 0x18], ['amomaxu', 0x1c]];
for (const [op, f5] of AMO) {
  for (const [width, f3] of [['w', 2], ['d', 3]] as const) {
    for (const [suf, bits] of [['', 0], ['.aq', 2], ['.rl', 1], ['.aqrl', 3]] as const) {
      TABLE.set(`${op}.${width}${suf}`, {
        sig: op === 'lr' ? ['d', 'A'] : ['d', 't', 'A'],
        base: ((f5 << 27) | (bits << 25) | (f3 << 12) | 0x2f) >>> 0,
      });
    }
  }
}

/** Split operand tokens at top-level commas. */
export function splitOperands(toks: Token[]): Token[][] {
  if (toks.length === 0) return [];
  const out: Token[][] = [[]];
  let depth = 0;
  for (const t of toks) {
    if (t.t === 'punct' && t.v === '(') depth++;
    if (t.t === 'punct' && t.v === ')') depth--;
    if (t.t === 'punct' && t.v === ',' && depth === 0) out.push([]);
    else out[out.length - 1].push(t);
  }
  return out;
}

/** Parse one operand: a register, `off(reg)`, `(reg)`, or an expression. */
export function parseOperand(toks: Token[], line: number, localRef: (n: string, dir: 'b' | 'f') => string): Operand {
  if (toks.length === 0) throw new AsmError(line, 'missing operand');
  if (toks.length === 1 && toks[0].t === 'id') {
    const x = xreg(toks[0].v);
    if (x !== undefined) return { k: 'x', n: x };
    const f = freg(toks[0].v);
    if (f !== undefined) return { k: 'f', n: f };
  }
  const n = toks.length;
  const last = toks[n - 1], reg = toks[n - 2], open = toks[n - 3];
  if (n >= 3 && last.t === 'punct' && last.v === ')' && open.t === 'punct' && open.v === '(' && reg.t === 'id') {
    const base = xreg(reg.v);
    const before = toks[n - 4];
    if (base === undefined) { // `off(a9)`: a memory operand with a bad base register
      if (before && (before.t === 'num' || (before.t === 'punct' && before.v === ')'))) {
        throw new AsmError(line, `bad register '${reg.v}'`);
      }
    } else {
      const off: Expr = n === 3 ? { k: 'num', v: 0n } : parseExpr(toks.slice(0, n - 3), line, localRef);
      return { k: 'mem', off, base };
    }
  }
  return { k: 'expr', e: parseExpr(toks, line, localRef) };
}

function checkRange(mn: string, v: bigint, lo: bigint, hi: bigint, what: string, line: number): number {
  if (v < lo || v > hi) throw new AsmError(line, `${mn}: ${what} out of range: ${v} (must be ${lo}..${hi})`);
  return Number(v);
}

function describe(op: Operand): string {
  return op.k === 'x' || op.k === 'f' ? 'a register' : op.k === 'mem' ? 'a memory operand' : 'an expression';
}

/** Encode one machine instruction at ctx.pc; throws AsmError on a bad operand. */
export function encode(mi: MachineInsn, ctx: EvalCtx): number {
  const line = ctx.line;
  const spec = TABLE.get(mi.mn);
  if (!spec) throw new AsmError(line, `unknown mnemonic '${mi.mn}'`);
  const { sig } = spec;
  const optional = sig.length > 0 && (sig[sig.length - 1] === 'r' || sig[sig.length - 1] === 'e');
  if (mi.ops.length !== sig.length && !(optional && mi.ops.length === sig.length - 1)) {
    throw new AsmError(line, `${mi.mn}: expected ${optional ? `${sig.length - 1} or ` : ''}${sig.length} operands, got ${mi.ops.length}`);
  }
  let w = spec.base;
  const reg = (op: Operand, kind: 'x' | 'f', i: number): number => {
    if (op.k === kind) return op.n;
    if (op.k === 'expr' && bareName(op.e) !== undefined) {
      throw new AsmError(line, `${mi.mn}: bad register '${bareName(op.e)}' (operand ${i + 1} must be ${kind === 'x' ? 'an integer' : 'a float'} register)`);
    }
    throw new AsmError(line, `${mi.mn}: operand ${i + 1} must be ${kind === 'x' ? 'an integer' : 'a float'} register, not ${describe(op)}`);
  };
  const value = (op: Operand, i: number): bigint => {
    if (op.k !== 'expr') throw new AsmError(line, `${mi.mn}: operand ${i + 1} must be an immediate, not ${describe(op)}`);
    return evalExpr(op.e, ctx);
  };
  const mem = (op: Operand, i: number): [bigint, number] => {
    if (op.k !== 'mem') throw new AsmError(line, `${mi.mn}: operand ${i + 1} must be a memory operand off(reg)`);
    return [evalExpr(op.off, ctx), op.base];
  };
  const named = (op: Operand, table: Map<string, number>): number | undefined => {
    const name = op.k === 'expr' ? bareName(op.e) : undefined;
    return name === undefined ? undefined : table.get(name.toLowerCase());
  };
  const fenceSet = (op: Operand, i: number): number => {
    const name = op.k === 'expr' ? bareName(op.e) : undefined;
    if (name !== undefined && /^[iorw]+$/.test(name)) {
      let bits = 0;
      for (const c of name) bits |= { i: 8, o: 4, r: 2, w: 1 }[c as 'i']!;
      return bits;
    }
    return checkRange(mi.mn, value(op, i), 0n, 15n, 'fence set', line);
  };
  for (let i = 0; i < sig.length; i++) {
    const op = mi.ops[i];
    switch (sig[i]) {
      case 'd': w |= reg(op, 'x', i) << 7; break;
      case 's': w |= reg(op, 'x', i) << 15; break;
      case 't': w |= reg(op, 'x', i) << 20; break;
      case 'D': w |= reg(op, 'f', i) << 7; break;
      case 'S': w |= reg(op, 'f', i) << 15; break;
      case 'T': w |= reg(op, 'f', i) << 20; break;
      case 'R': w |= reg(op, 'f', i) << 27; break;
      case 'j': w |= (checkRange(mi.mn, value(op, i), -2048n, 2047n, 'immediate', line) & 0xfff) << 20; break;
      case 'm': {
        const [off, base] = mem(op, i);
        w |= ((checkRange(mi.mn, off, -2048n, 2047n, 'offset', line) & 0xfff) << 20) | (base << 15);
        break;
      }
      case 'M': {
        const [off, base] = mem(op, i);
        const v = checkRange(mi.mn, off, -2048n, 2047n, 'offset', line);
        w |= ((v >> 5) & 0x7f) << 25 | (v & 0x1f) << 7 | (base << 15);
        break;
      }
      case 'A': {
        const [off, base] = mem(op, i);
        if (off !== 0n) throw new AsmError(line, `${mi.mn}: address offset must be 0`);
        w |= base << 15;
        break;
      }
      case 'b': {
        const off = value(op, i) - ctx.pc;
        if (off & 1n) throw new AsmError(line, `${mi.mn}: branch target is not 2-byte aligned`);
        const v = checkRange(mi.mn, off, -4096n, 4094n, 'branch offset', line);
        w |= ((v >> 12) & 1) << 31 | ((v >> 5) & 0x3f) << 25 | ((v >> 1) & 0xf) << 8 | ((v >> 11) & 1) << 7;
        break;
      }
      case 'J': {
        const off = value(op, i) - ctx.pc;
        if (off & 1n) throw new AsmError(line, `${mi.mn}: jump target is not 2-byte aligned`);
        const v = checkRange(mi.mn, off, -(1n << 20n), (1n << 20n) - 2n, 'jump offset', line);
        w |= ((v >> 20) & 1) << 31 | ((v >> 1) & 0x3ff) << 21 | ((v >> 11) & 1) << 20 | ((v >> 12) & 0xff) << 12;
        break;
      }
      case 'u': w |= (checkRange(mi.mn, value(op, i), -0x80000n, 0xfffffn, 'immediate', line) & 0xfffff) << 12; break;
      case '>': w |= checkRange(mi.mn, value(op, i), 0n, 63n, 'shift amount', line) << 20; break;
      case '<': w |= checkRange(mi.mn, value(op, i), 0n, 31n, 'shift amount', line) << 20; break;
      case 'c': {
        const csr = named(op, CSR_NAMES) ?? checkRange(mi.mn, value(op, i), 0n, 4095n, 'CSR number', line);
        w |= csr << 20;
        break;
      }
      case 'Z': w |= checkRange(mi.mn, value(op, i), 0n, 31n, 'immediate', line) << 15; break;
      case 'r': case 'e': {
        let rm = sig[i] === 'r' ? 7 : 0;
        if (op !== undefined) {
          const m = named(op, ROUNDING);
          if (m === undefined) throw new AsmError(line, `${mi.mn}: bad rounding mode (expected rne, rtz, rdn, rup, rmm or dyn)`);
          rm = m;
        }
        w |= rm << 12;
        break;
      }
      case 'p': w |= fenceSet(op, i) << 24; break;
      case 'q': w |= fenceSet(op, i) << 20; break;
    }
  }
  return w >>> 0;
}
