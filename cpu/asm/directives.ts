/**
 * Assembler directives (sections, alignment, data, symbols, options). Each runs twice: in
 * the sizing pass `emit*` only advance the location counter; in the emitting pass they append
 * bytes. Sizes must not depend on label values (a `.zero`/`.align` count must be a constant).
 */
import { AsmError } from './error.ts';
import type { Expr } from './expr.ts';
import type { Token } from './lexer.ts';

export type SectionKind = 'text' | 'data';

/** What a directive may do to the assembly in progress. */
export interface DirectiveHost {
  readonly line: number;
  section(): SectionKind;
  setSection(kind: SectionKind): void;
  /** Offset of the location counter in the current section. */
  offset(): number;
  emitBytes(bytes: ArrayLike<number>): void;
  /** A little-endian value of `size` bytes (value known only when emitting). */
  emitValue(e: Expr, size: number): void;
  /** An expression that must be known in the sizing pass. */
  constant(e: Expr): bigint;
  parseExpr(toks: Token[]): Expr;
  defineEqu(name: string, e: Expr): void;
  /** `.option rvc | norvc | push | pop`. */
  option(name: string): void;
}

const IGNORED = new Set(['.globl', '.global', '.local', '.type', '.size', '.file', '.ident', '.attribute',
  '.weak', '.hidden', '.protected', '.end', '.loc', '.addrsig', '.addrsig_sym']);
const DATA_SIZE: Record<string, number> = { '.byte': 1, '.half': 2, '.short': 2, '.2byte': 2, '.word': 4, '.long': 4,
  '.4byte': 4, '.int': 4, '.dword': 8, '.quad': 8, '.8byte': 8 };
const NOP = [0x13, 0, 0, 0];

/** Run directive `name` with comma-separated argument token groups `args`. */
export function directive(h: DirectiveHost, name: string, args: Token[][]): void {
  const line = h.line;
  const want = (lo: number, hi = lo) => {
    if (args.length < lo || args.length > hi) throw new AsmError(line, `${name}: expected ${lo === hi ? lo : `${lo}..${hi}`} arguments, got ${args.length}`);
  };
  const int = (i: number) => h.constant(h.parseExpr(args[i]));
  if (IGNORED.has(name) || name.startsWith('.cfi_')) return;
  if (name in DATA_SIZE) {
    if (args.length === 0) throw new AsmError(line, `${name}: expected at least one value`);
    for (const a of args) h.emitValue(h.parseExpr(a), DATA_SIZE[name]);
    return;
  }
  switch (name) {
    case '.text': want(0); h.setSection('text'); return;
    case '.data': case '.bss': case '.rodata': want(0); h.setSection('data'); return;
    case '.section': {
      if (args.length === 0 || args[0].length !== 1 || args[0][0].t !== 'id') throw new AsmError(line, '.section: expected a section name');
      h.setSection(args[0][0].v.startsWith('.text') ? 'text' : 'data');
      return;
    }
    case '.align': case '.p2align': case '.balign': {
      want(1, 3);
      let align = int(0);
      if (name !== '.balign') {
        if (align < 0n || align > 16n) throw new AsmError(line, `${name}: power of two out of range: ${align}`);
        align = 1n << align;
      } else if (align <= 0n || (align & (align - 1n)) !== 0n) {
        throw new AsmError(line, `.balign: alignment must be a power of two: ${align}`);
      }
      const a = Number(align);
      const pad = (a - (h.offset() % a)) % a;
      const fill = args.length >= 2 && args[1].length > 0 ? Number(int(1) & 0xffn) : undefined;
      const max = args.length === 3 ? Number(int(2)) : Infinity;
      if (pad > max) return;
      h.emitBytes(padding(pad, h.section() === 'text' && fill === undefined, fill ?? 0));
      return;
    }
    case '.ascii': case '.asciz': case '.string':
      if (args.length === 0) throw new AsmError(line, `${name}: expected a string`);
      for (const a of args) {
        if (a.length !== 1 || a[0].t !== 'str') throw new AsmError(line, `${name}: expected a string`);
        h.emitBytes(a[0].v);
        if (name !== '.ascii') h.emitBytes([0]);
      }
      return;
    case '.zero': case '.space': case '.skip': {
      want(1, 2);
      const n = int(0);
      if (n < 0n || n > 1n << 28n) throw new AsmError(line, `${name}: bad size ${n}`);
      const fill = args.length === 2 ? Number(int(1) & 0xffn) : 0;
      h.emitBytes(new Uint8Array(Number(n)).fill(fill));
      return;
    }
    case '.equ': case '.set': {
      want(2);
      if (args[0].length !== 1 || args[0][0].t !== 'id') throw new AsmError(line, `${name}: expected a symbol name`);
      h.defineEqu(args[0][0].v, h.parseExpr(args[1]));
      return;
    }
    case '.option': {
      want(1);
      if (args[0].length !== 1 || args[0][0].t !== 'id') throw new AsmError(line, '.option: expected a name');
      h.option(args[0][0].v);
      return;
    }
  }
  throw new AsmError(line, `unknown directive '${name}'`);
}

/** `n` padding bytes: nops in code (zero bytes first for a remainder), else `fill`. */
function padding(n: number, code: boolean, fill: number): Uint8Array {
  const out = new Uint8Array(n).fill(fill);
  if (!code) return out;
  let i = n % 4;
  if (i === 2) { out[0] = 0x01; out[1] = 0x00; } // c.nop
  for (; i < n; i += 4) out.set(NOP, i);
  return out;
}
