/**
 * Assembler expressions: parse tokens into a tree, evaluate it to a 64-bit value.
 * C-like precedence: unary - ~ ! + ; * / % ; + - ; << >> ; & ; ^ ; |.
 * Primaries: numbers, character literals, symbols, `.` (this statement's address),
 * numeric local labels (`1b`, `1f`), parentheses, and the relocation operators
 * %hi %lo %pcrel_hi %pcrel_lo (resolved at assembly time: every address is absolute).
 */
import { AsmError } from './error.ts';
import type { Token } from './lexer.ts';

export type Expr =
  | { k: 'num'; v: bigint }
  | { k: 'sym'; name: string }
  | { k: 'un'; op: string; e: Expr }
  | { k: 'bin'; op: string; l: Expr; r: Expr }
  | { k: 'rel'; op: string; e: Expr };

/** Thrown during the sizing pass when a value depends on a symbol not yet known. */
export class NotYetKnown extends Error {
  constructor(readonly symbol: string) { super(`not yet known: ${symbol}`); }
}

/** What evaluation needs from the assembler. */
export interface EvalCtx {
  /** Address of the statement being assembled (`.` and %pcrel_hi). */
  pc: bigint;
  line: number;
  /** Value of a symbol; throws NotYetKnown (sizing pass) or AsmError (undefined). */
  symbol(name: string): bigint;
  /** Target of the `auipc ..., %pcrel_hi(target)` at address `addr`, for %pcrel_lo. */
  pcrelHiTarget(addr: bigint): bigint;
}

const RELOCS = new Set(['hi', 'lo', 'pcrel_hi', 'pcrel_lo']);
const BINARY: string[][] = [['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

/** Local label `n` instance `k` as a symbol name (cannot collide with source identifiers). */
export function localName(n: string, k: number): string { return `${n}\u0002${k}`; }

/**
 * Parse a whole token list as one expression. `localRef` maps a `1b`/`1f` reference to its
 * symbol name (see localName).
 */
export function parseExpr(toks: Token[], line: number, localRef: (n: string, dir: 'b' | 'f') => string): Expr {
  let i = 0;
  const isP = (v: string) => { const t = toks[i]; return t !== undefined && t.t === 'punct' && t.v === v; };
  const level = (p: number): Expr => {
    if (p === BINARY.length) return unary();
    let l = level(p + 1);
    for (;;) {
      const t = toks[i];
      if (!t || t.t !== 'punct' || !BINARY[p].includes(t.v)) return l;
      i++;
      l = { k: 'bin', op: t.v, l, r: level(p + 1) };
    }
  };
  const unary = (): Expr => {
    const t = toks[i];
    if (t && t.t === 'punct' && '-~!+'.includes(t.v) && t.v.length === 1) {
      i++;
      return { k: 'un', op: t.v, e: unary() };
    }
    return primary();
  };
  const primary = (): Expr => {
    const t = toks[i++];
    if (!t) throw new AsmError(line, 'expression: missing operand');
    if (t.t === 'num') return { k: 'num', v: t.v };
    if (t.t === 'local') return { k: 'sym', name: localRef(t.n, t.dir) };
    if (t.t === 'id') return { k: 'sym', name: t.v };
    if (t.t === 'punct' && t.v === '(') {
      const e = level(0);
      if (!isP(')')) throw new AsmError(line, "expression: missing ')'");
      i++;
      return e;
    }
    if (t.t === 'punct' && t.v === '%') {
      const r = toks[i++];
      if (!r || r.t !== 'id' || !RELOCS.has(r.v)) throw new AsmError(line, 'expression: unknown relocation operator');
      if (!isP('(')) throw new AsmError(line, `expression: %${r.v} needs (...)`);
      i++;
      const e = level(0);
      if (!isP(')')) throw new AsmError(line, "expression: missing ')'");
      i++;
      return { k: 'rel', op: r.v, e };
    }
    throw new AsmError(line, `expression: unexpected '${t.t === 'punct' ? t.v : t.t}'`);
  };
  const e = level(0);
  if (i !== toks.length) throw new AsmError(line, 'expression: junk after expression');
  return e;
}

const MASK64 = (1n << 64n) - 1n;
function s64(v: bigint): bigint { return BigInt.asIntN(64, v); }
function sext12(v: bigint): bigint { return BigInt.asIntN(12, v); }
/** The %hi part of v: what lui must load so that adding sext(%lo) gives v. */
export function hi20(v: bigint): bigint { return ((v + 0x800n) >> 12n) & 0xfffffn; }

/** Evaluate to a signed 64-bit value. */
export function evalExpr(e: Expr, ctx: EvalCtx): bigint {
  switch (e.k) {
    case 'num': return s64(e.v);
    case 'sym': return e.name === '.' ? ctx.pc : s64(ctx.symbol(e.name));
    case 'un': {
      const v = evalExpr(e.e, ctx);
      if (e.op === '-') return s64(-v);
      if (e.op === '~') return s64(~v);
      if (e.op === '!') return v === 0n ? 1n : 0n;
      return v;
    }
    case 'bin': {
      const l = evalExpr(e.l, ctx);
      const r = evalExpr(e.r, ctx);
      switch (e.op) {
        case '+': return s64(l + r);
        case '-': return s64(l - r);
        case '*': return s64(l * r);
        case '/': case '%':
          if (r === 0n) throw new AsmError(ctx.line, 'expression: division by zero');
          return s64(e.op === '/' ? l / r : l % r);
        case '<<': return s64(l << (r & 63n));
        case '>>': return l >> (r & 63n); // arithmetic, as gas on signed values
        case '&': return s64(l & r);
        case '|': return s64(l | r);
        default: return s64((l ^ r) & MASK64);
      }
    }
    case 'rel': {
      const v = evalExpr(e.e, ctx);
      switch (e.op) {
        case 'hi': return hi20(v);
        case 'lo': return sext12(v);
        case 'pcrel_hi': return hi20(v - ctx.pc);
        default: return sext12(ctx.pcrelHiTarget(v) - v); // pcrel_lo(label of the auipc)
      }
    }
  }
}

/** True if the expression is a bare identifier (e.g. a rounding mode or CSR name). */
export function bareName(e: Expr): string | undefined {
  return e.k === 'sym' ? e.name : undefined;
}
