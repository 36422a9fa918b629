/**
 * A two-pass RV64GC assembler for tests and for small litmus/stress programs.
 *
 *   import { assemble } from '../cpu/asm/assembler.ts';
 *   const r = assemble(`
 *       .text
 *   _start: la   a0, msg          # auipc+addi, pc-relative
 *           li   a1, 0x123456789  # any 64-bit constant (gas's sequence)
 *   1:      addi a1, a1, -1
 *           bnez a1, 1b           # numeric local labels: 1b / 1f
 *           lr.d.aq t0, (a0)
 *           fadd.d fa0, fa1, fa2, rtz
 *           csrr t1, fcsr
 *           ecall
 *       .data
 *   msg:    .asciz "hi"
 *           .dword msg + 4
 *   `, { textBase: 0x10000n });
 *   // r.text, r.data: bytes; r.symbols.get('msg'); r.entry === address of _start
 *
 * Addresses are absolute: `.text` goes at textBase (default 0x10000), `.data` at dataBase
 * (default: the first 4 KiB boundary after the text), so %hi/%lo/%pcrel_* resolve here and
 * there are no relocations. Every RV64IMAFD + Zicsr + Zifencei instruction (isa.ts), the
 * usual pseudo-instructions (pseudo.ts) and data directives (directives.ts) are supported.
 * With `compress: true` (or `.option rvc`) an instruction whose operands do not involve a
 * label is emitted in its 16-bit form when one exists; branches, jumps and pc-relative pairs
 * stay 32-bit so that sizes never depend on addresses.
 * Errors throw AsmError (message "line N: ...") for unknown mnemonics and directives, bad
 * registers, out-of-range immediates, undefined and duplicate labels.
 */
import { compressWord } from './compress.ts';
import { directive, type DirectiveHost, type SectionKind } from './directives.ts';
import { AsmError } from './error.ts';
import { evalExpr, localName, NotYetKnown, parseExpr, type EvalCtx, type Expr } from './expr.ts';
import { encode, parseOperand, splitOperands, type MachineInsn } from './isa.ts';
import { tokenize, type Token } from './lexer.ts';
import { lower } from './pseudo.ts';

export { AsmError } from './error.ts';

export interface AsmOptions {
  textBase?: number | bigint;
  dataBase?: number | bigint;
  /** Emit 16-bit forms where possible (default false). */
  compress?: boolean;
}

export interface AsmResult {
  text: Uint8Array;
  data: Uint8Array;
  textBase: bigint;
  dataBase: bigint;
  /** Labels and .equ/.set symbols (numeric local labels excluded). */
  symbols: Map<string, bigint>;
  /** `_start` if defined, else textBase. */
  entry: bigint;
}

interface Stmt { line: number; labels: string[]; op?: string; args: Token[][]; plan?: Planned[]; }
/** One machine instruction as sized in pass 1: `half` is set when it is emitted compressed. */
interface Planned { insn: MachineInsn; half?: number; }
type Sym =
  | { kind: 'label'; section: SectionKind; offset: number; line: number }
  | { kind: 'equ'; e: Expr; section: SectionKind; offset: number; line: number; busy?: boolean };

/** Parse source lines into statements; numeric local labels become unique symbol names. */
function parse(source: string): Stmt[] {
  const stmts: Stmt[] = [];
  const localCount = new Map<string, number>();
  source.split('\n').forEach((text, idx) => {
    const line = idx + 1;
    const all = tokenize(text, line);
    let pieces: Token[][] = [[]];
    for (const t of all) {
      if (t.t === 'punct' && t.v === ';') pieces.push([]);
      else pieces[pieces.length - 1].push(t);
    }
    pieces = pieces.filter((p) => p.length > 0);
    for (const toks of pieces) {
      const labels: string[] = [];
      let i = 0;
      while (i + 1 < toks.length && toks[i + 1].t === 'punct' && (toks[i + 1] as { v: string }).v === ':') {
        const t = toks[i];
        if (t.t === 'id') labels.push(t.v);
        else if (t.t === 'num') {
          const n = t.v.toString();
          const k = localCount.get(n) ?? 0;
          localCount.set(n, k + 1);
          labels.push(localName(n, k));
        } else throw new AsmError(line, 'bad label');
        i += 2;
      }
      // Local references: 1b = latest definition so far, 1f = the next one.
      const rest = toks.slice(i).map((t): Token => {
        if (t.t !== 'local') return t;
        const k = localCount.get(t.n) ?? 0;
        if (t.dir === 'b' && k === 0) throw new AsmError(line, `undefined local label '${t.n}b'`);
        return { t: 'id', v: localName(t.n, t.dir === 'b' ? k - 1 : k) };
      });
      if (rest.length === 0) { stmts.push({ line, labels, args: [] }); continue; }
      const head = rest[0];
      if (head.t !== 'id') throw new AsmError(line, 'expected a mnemonic or directive');
      if (rest.length >= 2 && rest[1].t === 'punct' && rest[1].v === '=') { // sym = expr
        stmts.push({ line, labels, op: '.set', args: [[head], rest.slice(2)] });
        continue;
      }
      stmts.push({ line, labels, op: head.v.toLowerCase(), args: splitOperands(rest.slice(1)) });
    }
  });
  return stmts;
}

function displayName(name: string): string {
  const i = name.indexOf('\u0002');
  return i < 0 ? name : `local label ${name.slice(0, i)}`;
}

/** Assemble `source`; see the file header for the language and options. */
export function assemble(source: string, options: AsmOptions = {}): AsmResult {
  const stmts = parse(source);
  const symbols = new Map<string, Sym>();
  const textBase = BigInt(options.textBase ?? 0x10000);
  let dataBase = options.dataBase === undefined ? undefined : BigInt(options.dataBase);
  let pass: 1 | 2 = 1;
  let section: SectionKind = 'text';
  const offsets = { text: 0, data: 0 };
  const out: Record<SectionKind, number[]> = { text: [], data: [] };
  let compress = options.compress ?? false;
  const compressStack: boolean[] = [];
  let line = 0;
  let textSize = 0; // from pass 1, for the default dataBase
  const auipcTargets = new Map<string, { e: Expr; section: SectionKind; offset: number }>();

  const base = (s: SectionKind): bigint => {
    if (pass === 1) throw new NotYetKnown('.');
    return s === 'text' ? textBase : dataBase!;
  };
  const makeCtx = (s: SectionKind, offset: number, ln: number): EvalCtx => ({
    get pc() { return base(s) + BigInt(offset); },
    line: ln,
    symbol: (name) => symbolValue(name, ln),
    pcrelHiTarget: (addr) => {
      for (const [, a] of auipcTargets) {
        if (base(a.section) + BigInt(a.offset) === addr) return evalExpr(a.e, makeCtx(a.section, a.offset, ln));
      }
      throw new AsmError(ln, `%pcrel_lo: no auipc with %pcrel_hi at ${addr.toString(16)}`);
    },
  });
  const symbolValue = (name: string, ln: number): bigint => {
    const s = symbols.get(name);
    if (!s) {
      if (pass === 1) throw new NotYetKnown(name);
      throw new AsmError(ln, `undefined symbol '${displayName(name)}'`);
    }
    if (s.kind === 'label') return base(s.section) + BigInt(s.offset);
    if (s.busy) throw new AsmError(ln, `symbol '${name}' is defined in terms of itself`);
    s.busy = true;
    try { return evalExpr(s.e, makeCtx(s.section, s.offset, s.line)); } finally { s.busy = false; }
  };
  const define = (name: string, sym: Sym) => {
    const old = symbols.get(name);
    if (pass === 2) { // same definitions, now with addresses; .set may redefine
      if (sym.kind === 'equ') symbols.set(name, sym);
      else if (old?.kind !== 'label' || old.offset !== sym.offset) throw new AsmError(sym.line, `assemble: label '${name}' moved between passes`);
      return;
    }
    if (old && !(old.kind === 'equ' && sym.kind === 'equ')) {
      throw new AsmError(sym.line, `duplicate label '${displayName(name)}' (first defined on line ${old.line})`);
    }
    symbols.set(name, sym);
  };
  const constant = (e: Expr): bigint => {
    try {
      return evalExpr(e, makeCtx(section, offsets[section], line));
    } catch (err) {
      if (err instanceof NotYetKnown) {
        throw new AsmError(line, `'${displayName(err.symbol)}' must be a constant defined before this line`);
      }
      throw err;
    }
  };
  const emit = (bytes: ArrayLike<number>) => {
    if (pass === 2) for (let i = 0; i < bytes.length; i++) out[section].push(bytes[i]);
    offsets[section] += bytes.length;
  };
  const host: DirectiveHost = {
    get line() { return line; },
    section: () => section,
    setSection: (k) => { section = k; },
    offset: () => offsets[section],
    emitBytes: emit,
    emitValue: (e, size) => {
      if (pass === 1) { offsets[section] += size; return; }
      const v = evalExpr(e, makeCtx(section, offsets[section], line));
      const bits = BigInt(size * 8);
      if (size < 8 && (v < -(1n << (bits - 1n)) || v >= 1n << bits)) {
        throw new AsmError(line, `value ${v} does not fit in ${size} byte${size > 1 ? 's' : ''}`);
      }
      const bytes: number[] = [];
      for (let i = 0n; i < bits; i += 8n) bytes.push(Number((v >> i) & 0xffn));
      emit(bytes);
    },
    constant,
    parseExpr: (toks) => parseExpr(toks, line, noLocal),
    defineEqu: (name, e) => define(name, { kind: 'equ', e, section, offset: offsets[section], line }),
    option: (name) => {
      if (name === 'rvc') compress = true;
      else if (name === 'norvc') compress = false;
      else if (name === 'push') compressStack.push(compress);
      else if (name === 'pop') compress = compressStack.pop() ?? compress;
      // relax, norelax, pic, nopic: nothing to do without a linker
    },
  };
  const noLocal = (): string => { throw new AsmError(line, 'internal: unresolved local label'); };

  const sizeInsn = (mi: MachineInsn): Planned => {
    if (mi.mn === 'auipc') { // remember %pcrel_hi targets for %pcrel_lo(label)
      const op = mi.ops[1];
      if (op?.k === 'expr' && op.e.k === 'rel' && op.e.op === 'pcrel_hi') {
        auipcTargets.set(`${section}:${offsets[section]}`, { e: op.e.e, section, offset: offsets[section] });
      }
    }
    if (!compress) return { insn: mi };
    try {
      const half = compressWord(encode(mi, makeCtx(section, offsets[section], line)));
      return { insn: mi, half };
    } catch (err) {
      if (err instanceof NotYetKnown) return { insn: mi }; // depends on a label: keep 32-bit
      throw err;
    }
  };

  for (pass = 1; pass <= 2; pass++) {
    section = 'text';
    offsets.text = offsets.data = 0;
    compress = options.compress ?? false;
    if (pass === 2 && dataBase === undefined) dataBase = (textBase + BigInt(textSize) + 0xfffn) & ~0xfffn;
    for (const st of stmts) {
      line = st.line;
      for (const l of st.labels) define(l, { kind: 'label', section, offset: offsets[section], line });
      if (!st.op) continue;
      if (st.op.startsWith('.')) {
        directive(host, st.op, st.args);
        continue;
      }
      if (pass === 1) {
        const ops = st.args.map((a) => parseOperand(a, line, noLocal));
        st.plan = [];
        for (const mi of lower(st.op, ops, line, constant)) {
          const p = sizeInsn(mi);
          st.plan.push(p);
          offsets[section] += p.half === undefined ? 4 : 2;
        }
        continue;
      }
      for (const p of st.plan!) {
        const w = encode(p.insn, makeCtx(section, offsets[section], line));
        if (p.half !== undefined) {
          if (compressWord(w) !== p.half) throw new AsmError(line, 'assemble: compressed form changed between passes');
          emit([p.half & 0xff, p.half >> 8]);
        }
        else emit([w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
      }
    }
    if (pass === 1) textSize = offsets.text;
  }

  const tb = textBase, db = dataBase!;
  if (offsets.data > 0 && offsets.text > 0 && db < tb + BigInt(offsets.text) && tb < db + BigInt(offsets.data)) {
    throw new AsmError(0, `assemble: .data at 0x${db.toString(16)} overlaps .text`);
  }
  const symOut = new Map<string, bigint>();
  for (const [name] of symbols) if (!name.includes('\u0002')) symOut.set(name, symbolValue(name, 0));
  return {
    text: Uint8Array.from(out.text),
    data: Uint8Array.from(out.data),
    textBase: tb,
    dataBase: db,
    symbols: symOut,
    entry: symOut.get('_start') ?? tb,
  };
}
