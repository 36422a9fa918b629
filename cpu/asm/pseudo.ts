/**
 * Pseudo-instructions: rewrite one source instruction into real ones (MachineInsn, see isa.ts).
 * Real mnemonics pass through unchanged. Expansions follow the unprivileged spec's
 * "Assembler Pseudoinstructions" table and GNU as (la = lla: auipc+addi, pc-relative; call
 * uses ra, `call rd, sym` and tail use t1; `li` uses gas's lui/addiw/slli/addi algorithm, so sequences match gas).
 */
import { AsmError } from './error.ts';
import type { Expr } from './expr.ts';
import { TABLE, type MachineInsn, type Operand } from './isa.ts';

const X = (n: number): Operand => ({ k: 'x', n });
const ZERO = X(0), RA = X(1);
const num = (v: bigint): Operand => ({ k: 'expr', e: { k: 'num', v } });
const named = (name: string): Operand => ({ k: 'expr', e: { k: 'sym', name } });
const I = (mn: string, ...ops: Operand[]): MachineInsn => ({ mn, ops });

/** `%pcrel_hi(target)` for an auipc at `.`. */
function pcrelHi(target: Expr): Operand { return { k: 'expr', e: { k: 'rel', op: 'pcrel_hi', e: target } }; }
/** The low 12 bits matching the auipc 4 bytes earlier: %lo(target - (. - 4)). */
function pcrelLoExpr(target: Expr): Expr {
  const auipcPc: Expr = { k: 'bin', op: '-', l: { k: 'sym', name: '.' }, r: { k: 'num', v: 4n } };
  return { k: 'rel', op: 'lo', e: { k: 'bin', op: '-', l: target, r: auipcPc } };
}

/** The instructions gas's `li rd, v` emits (v is a signed 64-bit constant). */
export function liSequence(rd: number, v: bigint): MachineInsn[] {
  if (v >= -2048n && v <= 2047n) return [I('addi', X(rd), ZERO, num(v))];
  const out: MachineInsn[] = [];
  loadConst(rd, BigInt.asIntN(64, v), out);
  return out;
}

function loadConst(rd: number, v: bigint, out: MachineInsn[]): void {
  const lower = BigInt.asIntN(12, v);
  let upper = BigInt.asIntN(64, v - lower);
  if (v !== BigInt.asIntN(32, v)) {
    // Reduce to a signed 32-bit constant with slli and addi.
    let shift = 12n;
    while (((upper >> shift) & 1n) === 0n) shift++;
    upper >>= shift;
    loadConst(rd, upper, out);
    out.push(I('slli', X(rd), X(rd), num(shift)));
    if (lower !== 0n) out.push(I('addi', X(rd), X(rd), num(lower)));
    return;
  }
  let hi = 0;
  if (upper !== 0n) {
    out.push(I('lui', X(rd), num((upper >> 12n) & 0xfffffn)));
    hi = rd;
  }
  if (lower !== 0n || hi === 0) out.push(I('addiw', X(rd), X(hi), num(lower)));
}

const BRANCH_ZERO: Record<string, [string, boolean]> = { // mnemonic → [real, rs is second]
  beqz: ['beq', false], bnez: ['bne', false], bgez: ['bge', false], bltz: ['blt', false],
  blez: ['bge', true], bgtz: ['blt', true],
};
const BRANCH_SWAP: Record<string, string> = { bgt: 'blt', ble: 'bge', bgtu: 'bltu', bleu: 'bgeu' };
const UNARY: Record<string, (d: Operand, s: Operand) => MachineInsn[]> = {
  mv: (d, s) => [I('addi', d, s, num(0n))],
  not: (d, s) => [I('xori', d, s, num(-1n))],
  neg: (d, s) => [I('sub', d, ZERO, s)],
  negw: (d, s) => [I('subw', d, ZERO, s)],
  'sext.w': (d, s) => [I('addiw', d, s, num(0n))],
  seqz: (d, s) => [I('sltiu', d, s, num(1n))],
  snez: (d, s) => [I('sltu', d, ZERO, s)],
  sltz: (d, s) => [I('slt', d, s, ZERO)],
  sgtz: (d, s) => [I('slt', d, ZERO, s)],
  'sext.b': (d, s) => [I('slli', d, s, num(56n)), I('srai', d, d, num(56n))],
  'sext.h': (d, s) => [I('slli', d, s, num(48n)), I('srai', d, d, num(48n))],
  'zext.b': (d, s) => [I('andi', d, s, num(255n))],
  'zext.h': (d, s) => [I('slli', d, s, num(48n)), I('srli', d, d, num(48n))],
  'zext.w': (d, s) => [I('slli', d, s, num(32n)), I('srli', d, d, num(32n))],
  'fmv.s': (d, s) => [I('fsgnj.s', d, s, s)], 'fabs.s': (d, s) => [I('fsgnjx.s', d, s, s)],
  'fneg.s': (d, s) => [I('fsgnjn.s', d, s, s)], 'fmv.d': (d, s) => [I('fsgnj.d', d, s, s)],
  'fabs.d': (d, s) => [I('fsgnjx.d', d, s, s)], 'fneg.d': (d, s) => [I('fsgnjn.d', d, s, s)],
};
/** CSR read/write pseudos: name → [real, csr or null (operand), kind]. */
const CSR_READ: Record<string, string> = { rdcycle: 'cycle', rdtime: 'time', rdinstret: 'instret', frflags: 'fflags', frrm: 'frm', frcsr: 'fcsr' };
const CSR_SWAP: Record<string, [string, string]> = { // fsflags rs / fsflags rd, rs
  fsflags: ['csrrw', 'fflags'], fsrm: ['csrrw', 'frm'], fscsr: ['csrrw', 'fcsr'],
  fsflagsi: ['csrrwi', 'fflags'], fsrmi: ['csrrwi', 'frm'],
};
const CSR_WRITE: Record<string, string> = { csrw: 'csrrw', csrs: 'csrrs', csrc: 'csrrc', csrwi: 'csrrwi', csrsi: 'csrrsi', csrci: 'csrrci' };
const LOADS = new Set(['lb', 'lh', 'lw', 'ld', 'lbu', 'lhu', 'lwu', 'flw', 'fld']);
const STORES = new Set(['sb', 'sh', 'sw', 'sd', 'fsw', 'fsd']);

/**
 * Lower `mn ops` into real instructions. `constant(e)` evaluates an expression that must be
 * known now (li's value). Throws AsmError for an unknown mnemonic or wrong operand count.
 */
export function lower(mn: string, ops: Operand[], line: number, constant: (e: Expr) => bigint): MachineInsn[] {
  const n = ops.length;
  const want = (...counts: number[]) => {
    if (!counts.includes(n)) throw new AsmError(line, `${mn}: expected ${counts.join(' or ')} operands, got ${n}`);
  };
  const expr = (op: Operand): Expr => {
    if (op.k !== 'expr') throw new AsmError(line, `${mn}: expected a symbol or expression operand`);
    return op.e;
  };
  if (mn in UNARY) { want(2); return UNARY[mn](ops[0], ops[1]); }
  if (mn in BRANCH_ZERO) {
    want(2);
    const [real, second] = BRANCH_ZERO[mn];
    return [second ? I(real, ZERO, ops[0], ops[1]) : I(real, ops[0], ZERO, ops[1])];
  }
  if (mn in BRANCH_SWAP) { want(3); return [I(BRANCH_SWAP[mn], ops[1], ops[0], ops[2])]; }
  if (mn in CSR_READ) { want(1); return [I('csrrs', ops[0], named(CSR_READ[mn]), ZERO)]; }
  if (mn in CSR_SWAP) {
    want(1, 2);
    const [real, csr] = CSR_SWAP[mn];
    return [n === 1 ? I(real, ZERO, named(csr), ops[0]) : I(real, ops[0], named(csr), ops[1])];
  }
  if (mn in CSR_WRITE) { want(2); return [I(CSR_WRITE[mn], ZERO, ops[0], ops[1])]; }
  if (LOADS.has(mn) && n === 2 && ops[1].k === 'expr') { // lw rd, sym → auipc rd; lw rd, lo(rd)
    if (mn[0] === 'f') throw new AsmError(line, `${mn}: a symbol address needs a temporary: ${mn} rd, sym, rt`);
    const t = expr(ops[1]);
    if (ops[0].k !== 'x') throw new AsmError(line, `${mn}: operand 1 must be an integer register`);
    return [I('auipc', ops[0], pcrelHi(t)), I(mn, ops[0], { k: 'mem', off: pcrelLoExpr(t), base: ops[0].n })];
  }
  if ((STORES.has(mn) || mn === 'flw' || mn === 'fld') && n === 3 && ops[1].k === 'expr') { // sw rs, sym, rt
    const t = expr(ops[1]);
    if (ops[2].k !== 'x') throw new AsmError(line, `${mn}: the temporary must be an integer register`);
    return [I('auipc', ops[2], pcrelHi(t)), I(mn, ops[0], { k: 'mem', off: pcrelLoExpr(t), base: ops[2].n })];
  }
  switch (mn) {
    case 'nop': want(0); return [I('addi', ZERO, ZERO, num(0n))];
    case 'unimp': want(0); return [I('csrrw', ZERO, named('cycle'), ZERO)];
    case 'ret': want(0); return [I('jalr', ZERO, { k: 'mem', off: { k: 'num', v: 0n }, base: 1 })];
    case 'fence': if (n === 0) return [I('fence', named('iorw'), named('iorw'))]; break;
    case 'li': {
      want(2);
      if (ops[0].k !== 'x') throw new AsmError(line, 'li: operand 1 must be an integer register');
      return liSequence(ops[0].n, constant(expr(ops[1])));
    }
    case 'la': case 'lla': {
      want(2);
      const t = expr(ops[1]);
      return [I('auipc', ops[0], pcrelHi(t)), I('addi', ops[0], ops[0], { k: 'expr', e: pcrelLoExpr(t) })];
    }
    case 'call': case 'tail': {
      want(1, 2);
      // As gas: `call sym` goes through ra; `call rd, sym` and `tail sym` through t1.
      const link = mn === 'tail' ? ZERO : n === 2 ? ops[0] : RA;
      const tmp = mn === 'call' && n === 1 ? 1 : 6;
      if (link.k !== 'x') throw new AsmError(line, `${mn}: operand 1 must be an integer register`);
      const t = expr(ops[n - 1]);
      return [I('auipc', X(tmp), pcrelHi(t)), I('jalr', link, { k: 'mem', off: pcrelLoExpr(t), base: tmp })];
    }
    case 'j': want(1); return [I('jal', ZERO, ops[0])];
    case 'jal': if (n === 1) return [I('jal', RA, ops[0])]; break;
    case 'jr': want(1, 2); return [I('jalr', ZERO, memOf(ops[0], n === 2 ? ops[1] : undefined, mn, line))];
    case 'jalr':
      if (n === 1) return [I('jalr', RA, memOf(ops[0], undefined, mn, line))];
      if (n === 2 && ops[1].k === 'x') return [I('jalr', ops[0], memOf(ops[1], undefined, mn, line))];
      if (n === 3) return [I('jalr', ops[0], memOf(ops[1], ops[2], mn, line))];
      break;
    case 'csrr': want(2); return [I('csrrs', ops[0], ops[1], ZERO)];
  }
  if (!TABLE.has(mn)) throw new AsmError(line, `unknown mnemonic '${mn}'`);
  return [I(mn, ...ops)];
}

/** `rs` or `rs, imm` → the memory operand imm(rs); a memory operand passes through. */
function memOf(rs: Operand, imm: Operand | undefined, mn: string, line: number): Operand {
  if (rs.k === 'mem' && imm === undefined) return rs;
  if (rs.k !== 'x') throw new AsmError(line, `${mn}: expected an integer register`);
  if (imm !== undefined && imm.k !== 'expr') throw new AsmError(line, `${mn}: expected an immediate offset`);
  return { k: 'mem', off: imm ? imm.e : { k: 'num', v: 0n }, base: rs.n };
}
