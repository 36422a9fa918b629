/**
 * Assembler lexer: one source line → tokens. Comments start with `#` or `//`; `;` separates
 * statements on one line (the caller splits on SEMI tokens). Numbers are bigint; `1b`/`1f`
 * are numeric local-label references; strings and character literals take C escapes.
 */
import { AsmError } from './error.ts';

export type Token =
  | { t: 'id'; v: string } // identifiers, mnemonics, directives, register names: [A-Za-z_.$][\w.$]*
  | { t: 'num'; v: bigint }
  | { t: 'local'; n: string; dir: 'b' | 'f' } // numeric local label reference
  | { t: 'str'; v: Uint8Array }
  | { t: 'punct'; v: string }; // , ( ) : + - * / % << >> & | ^ ~ ! ; =

const PUNCT2 = ['<<', '>>'];
const PUNCT1 = ',():+-*/%&|^~!;=';

function isIdStart(c: string): boolean { return /[A-Za-z_.$]/.test(c); }
function isIdChar(c: string): boolean { return /[A-Za-z0-9_.$]/.test(c); }

/** Read one escape sequence at s[i] (just after the backslash); returns [byte, next index]. */
function escape(s: string, i: number, line: number): [number, number] {
  const c = s[i];
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, '0': 0, '\\': 92, '"': 34, "'": 39, a: 7, b: 8, f: 12, v: 11, e: 27 };
  if (c === 'x') {
    const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 1));
    if (!m) throw new AsmError(line, 'lexer: bad \\x escape');
    return [parseInt(m[0], 16), i + 1 + m[0].length];
  }
  const oct = /^[0-7]{1,3}/.exec(s.slice(i));
  if (oct && c !== '0') return [parseInt(oct[0], 8) & 0xff, i + oct[0].length];
  if (oct && oct[0].length > 1) return [parseInt(oct[0], 8) & 0xff, i + oct[0].length];
  if (c in simple) return [simple[c], i + 1];
  if (c === undefined) throw new AsmError(line, 'lexer: unterminated escape');
  return [c.charCodeAt(0), i + 1];
}

/** Tokenize one line (1-based `line` for errors). Stops at a comment. */
export function tokenize(s: string, line: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '#' || (c === '/' && s[i + 1] === '/')) break;
    if (c === '"') {
      const bytes: number[] = [];
      i++;
      for (;;) {
        if (i >= s.length) throw new AsmError(line, 'lexer: unterminated string');
        const d = s[i];
        if (d === '"') { i++; break; }
        if (d === '\\') { const [b, j] = escape(s, i + 1, line); bytes.push(b); i = j; continue; }
        const code = d.codePointAt(0)!;
        const enc = new TextEncoder().encode(String.fromCodePoint(code));
        bytes.push(...enc);
        i += code > 0xffff ? 2 : 1;
      }
      out.push({ t: 'str', v: Uint8Array.from(bytes) });
      continue;
    }
    if (c === "'") {
      let v: number;
      let j: number;
      if (s[i + 1] === '\\') [v, j] = escape(s, i + 2, line);
      else if (i + 1 < s.length) { v = s.charCodeAt(i + 1); j = i + 2; } else throw new AsmError(line, 'lexer: bad character literal');
      if (s[j] === "'") j++; // closing quote is optional in gas
      out.push({ t: 'num', v: BigInt(v) });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let m = /^0[xX][0-9a-fA-F_]+/.exec(s.slice(i)) ?? /^0[bB][01_]+(?![0-9A-Za-z_$])/.exec(s.slice(i));
      if (m) {
        const body = m[0].slice(2).replace(/_/g, '');
        out.push({ t: 'num', v: BigInt((m[0][1].toLowerCase() === 'x' ? '0x' : '0b') + body) });
        i += m[0].length;
        continue;
      }
      m = /^([0-9]+)([bf])(?![0-9A-Za-z_.$])/.exec(s.slice(i));
      if (m) { out.push({ t: 'local', n: m[1], dir: m[2] as 'b' | 'f' }); i += m[0].length; continue; }
      m = /^[0-9]+/.exec(s.slice(i))!;
      if (isIdChar(s[i + m[0].length] ?? ' ') && s[i + m[0].length] !== '.') {
        throw new AsmError(line, `lexer: bad number '${/^[0-9A-Za-z_.$]+/.exec(s.slice(i))![0]}'`);
      }
      const txt = m[0];
      out.push({ t: 'num', v: txt.length > 1 && txt[0] === '0' ? BigInt('0o' + txt.slice(1)) : BigInt(txt) });
      i += txt.length;
      continue;
    }
    if (isIdStart(c)) {
      let j = i + 1;
      while (j < s.length && isIdChar(s[j])) j++;
      out.push({ t: 'id', v: s.slice(i, j) });
      i = j;
      continue;
    }
    const two = s.slice(i, i + 2);
    if (PUNCT2.includes(two)) { out.push({ t: 'punct', v: two }); i += 2; continue; }
    if (PUNCT1.includes(c)) { out.push({ t: 'punct', v: c }); i++; continue; }
    throw new AsmError(line, `lexer: unexpected character '${c}'`);
  }
  return out;
}
