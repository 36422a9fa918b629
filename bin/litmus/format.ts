/**
 * The .litmus text format (docs/litmus.md): a transistency litmus test — pages with their
 * initial values and kinds, threads of RISC-V instructions with page-table edits issued as
 * system calls, and the forbidden final outcomes. parseLitmus turns the text into a
 * LitmusTest; every error names the file and the line ("stale.litmus:12: ...").
 *
 *   litmus NAME                      first statement
 *   doc TEXT                         description (any number of lines)
 *   page NAME KIND [= VALUE] [PROT]  KIND: anon | shared | file[@N] | fileprivate[@N] | none
 *                                    PROT: rw (default) | r | none; VALUE: word 0 at the start
 *   thread P<n>                      then its code: indented instructions and pseudo-ops, and labels
 *                                    (NAME:, at the start of a line or indented)
 *   observe LOC...                   extra locations shown in the histogram
 *   forbidden COND [except POLICY,...]  an outcome no correct kernel may produce (repeatable);
 *                                    `except` names policies whose documented model allows it
 *                                    (deferred: LATR's stale access to a not-yet-freed frame)
 *   unsafe POLICY... | unsafe none   policies under which a forbidden outcome must be observable
 *   inject POINT=US,...              default fault-injection delays (kernel/lab/inject.ts)
 *   runs N / delay N                 default run count / maximum start delay (spin iterations)
 *
 * COND is ATOM (/\ ATOM)* (\/ ...)*; ATOM is LOC = VALUE, LOC != VALUE or the same between two
 * locations (P0:t3 != x@file); LOC is P<n>:REG,
 * C<n>:REG (the child P<n> forked), P<n>:fault / C<n>:fault (signal number, 0 = none), a page
 * name (word 0, read through the mapping after the run) or NAME@file (word 0 of the page's file
 * page, read back after every mapping is gone). VALUE: an integer (decimal, 0x hex, negative)
 * or `fault` (unreadable / never written).
 */
import { INJECT_POINTS, type InjectConfig, type InjectPoint } from '../../kernel/lab/inject.ts';

/** A parse error; the message starts with "FILE:LINE: ". */
export class LitmusError extends Error {
  constructor(readonly file: string, readonly line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'LitmusError';
  }
}

export const PAGE_KINDS = ['anon', 'shared', 'file', 'fileprivate', 'none'] as const;
export type PageKind = (typeof PAGE_KINDS)[number];
export const PROTS = { rw: 3, r: 1, none: 0 } as const;
export type ProtName = keyof typeof PROTS;

export interface PageDecl { name: string; kind: PageKind; init: bigint; prot: ProtName; filePage: number; line: number; }
/** One instruction line of a thread: the text and its line in the file. */
export interface CodeLine { text: string; line: number; }
export interface ThreadDecl { index: number; code: CodeLine[]; line: number; }

/** Registers a thread may use (caller-saved; s1, sp, ra, gp, tp and s* belong to the harness). */
export const USER_REGS = ['t0', 't1', 't2', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 't3', 't4', 't5', 't6'] as const;
export type UserReg = (typeof USER_REGS)[number];
/** x-number of each user register. */
export const REG_NUM: Record<UserReg, number> = {
  t0: 5, t1: 6, t2: 7, a0: 10, a1: 11, a2: 12, a3: 13, a4: 14, a5: 15, a6: 16, a7: 17, t3: 28, t4: 29, t5: 30, t6: 31,
};

/** A location of the final state. */
export type Loc =
  | { kind: 'reg'; thread: number; child: boolean; reg: UserReg }
  | { kind: 'fault'; thread: number; child: boolean }
  | { kind: 'mem'; page: number }
  | { kind: 'file'; page: number };
/** A value of a location: a 64-bit word, or 'fault' (unreadable, or a slot nobody wrote). */
export type Value = bigint | 'fault';
/** LOC op VALUE, or LOC op LOC (`other`: compare two locations, e.g. P0:t3 != x@file). */
export interface Atom { loc: Loc; op: '=' | '!='; value: Value; other?: Loc; }
/** Disjunction of conjunctions. */
export type Cond = Atom[][];

export interface LitmusTest {
  name: string;
  file: string;
  doc: string;
  pages: PageDecl[];
  threads: ThreadDecl[];
  observe: Loc[];
  /** Forbidden outcomes; `except` lists policies whose documented model allows this one (deferred: LATR). */
  forbidden: Array<{ cond: Cond; text: string; line: number; except: string[] }>;
  /** Policies under which a forbidden outcome must show (test suite); [] = none. */
  unsafe: string[];
  inject: InjectConfig;
  runs?: number;
  delay?: number;
}

export const MAX_THREADS = 4;
export const MAX_PAGES = 16;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ALL_REGS = new Set([
  ...Array.from({ length: 32 }, (_, i) => `x${i}`), 'zero', 'ra', 'sp', 'gp', 'tp', 'fp',
  ...Array.from({ length: 7 }, (_, i) => `t${i}`), ...Array.from({ length: 12 }, (_, i) => `s${i}`),
  ...Array.from({ length: 8 }, (_, i) => `a${i}`),
  ...Array.from({ length: 12 }, (_, i) => `fs${i}`),
]);
const ALLOWED_REGS = new Set<string>([...USER_REGS, 'zero', 'x0', 'x5', 'x6', 'x7', 'x10', 'x11', 'x12', 'x13', 'x14',
  'x15', 'x16', 'x17', 'x28', 'x29', 'x30', 'x31']);
const KEYWORDS = new Set(['litmus', 'doc', 'page', 'thread', 'observe', 'forbidden', 'unsafe', 'inject', 'runs', 'delay']);
export const KNOWN_POLICIES = ['ipi', 'per-page', 'deferred', 'broadcast', 'lazy', 'off'];

/** Parse an integer literal (decimal, 0x hex, optional minus) as a 64-bit word; undefined if malformed. */
export function parseWord(s: string): bigint | undefined {
  if (!/^-?(0x[0-9a-fA-F]+|[0-9]+)$/.test(s)) return undefined;
  const neg = s.startsWith('-');
  const v = BigInt(neg ? s.slice(1) : s);
  if (v >= 1n << 64n) return undefined;
  return BigInt.asUintN(64, neg ? -v : v);
}

/** Render a location as it is written in a file ("P0:t1", "C0:fault", "x", "x@file"). */
export function locText(t: Pick<LitmusTest, 'pages'>, l: Loc): string {
  switch (l.kind) {
    case 'reg': return `${l.child ? 'C' : 'P'}${l.thread}:${l.reg}`;
    case 'fault': return `${l.child ? 'C' : 'P'}${l.thread}:fault`;
    case 'mem': return t.pages[l.page]!.name;
    case 'file': return `${t.pages[l.page]!.name}@file`;
  }
}

/** The same location (structural equality). */
export function sameLoc(a: Loc, b: Loc): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Strip a `#` comment. */
function stripComment(s: string): string {
  const i = s.indexOf('#');
  return i < 0 ? s : s.slice(0, i);
}

/**
 * Parse the text of a .litmus file. `file` names it in error messages. Throws LitmusError for
 * every malformed statement (unknown keyword, bad page kind, instruction outside a thread,
 * reserved register, undefined location in a condition, ...), with its line.
 */
export function parseLitmus(text: string, file = '<litmus>'): LitmusTest {
  const t: LitmusTest = { name: '', file, doc: '', pages: [], threads: [], observe: [], forbidden: [], unsafe: [], inject: {} };
  const docs: string[] = [];
  let thread: ThreadDecl | undefined;
  const err = (line: number, msg: string): never => { throw new LitmusError(file, line, msg); };
  const pending: Array<{ what: 'observe' | 'forbidden'; rest: string; line: number }> = [];
  let sawUnsafe = false;
  text.split('\n').forEach((raw, idx) => {
    const line = idx + 1;
    const body = stripComment(raw).trimEnd();
    if (body.trim() === '') return;
    if (/^\s/.test(body) || /^[A-Za-z_][A-Za-z0-9_]*:/.test(body)) {
      if (!thread) err(line, 'an instruction (indented) or a label (NAME:) must follow a `thread P<n>` line');
      checkRegisters(body, line, err);
      thread!.code.push({ text: body.trim(), line });
      return;
    }
    const [kw, ...words] = body.trim().split(/\s+/);
    const rest = body.trim().slice(kw!.length).trim();
    if (!KEYWORDS.has(kw!)) err(line, `unknown statement '${kw}' (statements: ${[...KEYWORDS].join(', ')}; instructions are indented under a thread)`);
    if (kw !== 'litmus' && t.name === '') err(line, 'the first statement must be `litmus NAME`');
    if (kw !== 'thread') thread = undefined;
    switch (kw) {
      case 'litmus':
        if (t.name !== '') err(line, 'a second `litmus` statement');
        if (words.length !== 1 || !/^[A-Za-z0-9_.+-]+$/.test(words[0]!)) err(line, '`litmus NAME`: one name of letters, digits, _ . + -');
        t.name = words[0]!;
        break;
      case 'doc':
        docs.push(rest);
        break;
      case 'page':
        t.pages.push(parsePage(words, line, t, err));
        break;
      case 'thread': {
        const m = /^P(\d+)$/.exec(words[0] ?? '');
        if (words.length !== 1 || !m) err(line, '`thread P<n>`: threads are named P0, P1, ...');
        const index = Number(m![1]);
        if (index !== t.threads.length) err(line, `thread P${index}: expected P${t.threads.length} (threads are numbered in order from P0)`);
        if (index >= MAX_THREADS) err(line, `at most ${MAX_THREADS} threads`);
        thread = { index, code: [], line };
        t.threads.push(thread);
        break;
      }
      case 'observe':
      case 'forbidden':
        if (rest === '') err(line, `\`${kw}\` needs ${kw === 'observe' ? 'locations' : 'a condition'}`);
        pending.push({ what: kw, rest, line });
        break;
      case 'unsafe':
        if (sawUnsafe) err(line, 'a second `unsafe` statement');
        sawUnsafe = true;
        if (words.length === 1 && words[0] === 'none') break;
        if (words.length === 0) err(line, '`unsafe POLICY...` or `unsafe none`');
        for (const p of words) if (!['lazy', 'off'].includes(p)) err(line, `unsafe: '${p}' is not an unsafe policy (lazy, off)`);
        t.unsafe = words;
        break;
      case 'inject':
        for (const item of rest.split(',').map((s) => s.trim()).filter(Boolean)) {
          const m = /^([a-z.-]+)=(\d+)$/.exec(item);
          if (!m) err(line, `inject: '${item}' is not POINT=MICROSECONDS`);
          if (!(INJECT_POINTS as readonly string[]).includes(m![1]!)) err(line, `inject: unknown point '${m![1]}' (known: ${INJECT_POINTS.join(', ')})`);
          t.inject[m![1] as InjectPoint] = Number(m![2]);
        }
        break;
      case 'runs':
      case 'delay': {
        const v = Number(words[0]);
        if (words.length !== 1 || !Number.isInteger(v) || v < (kw === 'runs' ? 1 : 0) || v > 1_000_000) err(line, `\`${kw} N\`: an integer from ${kw === 'runs' ? 1 : 0} to 1000000`);
        t[kw] = v;
        break;
      }
    }
  });
  if (t.name === '') err(1, 'empty file: the first statement must be `litmus NAME`');
  if (t.threads.length === 0) err(1, 'no threads (`thread P0` and its indented instructions)');
  if (t.pages.length === 0) err(1, 'no pages (`page NAME KIND`)');
  for (const th of t.threads) if (th.code.length === 0) err(th.line, `thread P${th.index} has no instructions`);
  for (const p of pending) {
    if (p.what === 'observe') t.observe.push(...p.rest.split(/\s+/).map((w) => parseLoc(w, p.line, t, err)));
    else {
      const m = /^(.*?)\s+except\s+([a-z-]+(?:\s*,\s*[a-z-]+)*)$/.exec(p.rest);
      const except = m ? m[2]!.split(/\s*,\s*/) : [];
      for (const e of except) if (!KNOWN_POLICIES.includes(e)) err(p.line, `forbidden ... except: '${e}' is not a policy (${KNOWN_POLICIES.join(', ')})`);
      const text = m ? m[1]! : p.rest;
      t.forbidden.push({ cond: parseCond(text, p.line, t, err), text, line: p.line, except });
    }
  }
  if (t.unsafe.length > 0 && t.forbidden.length === 0) err(1, '`unsafe` names policies but there is no `forbidden` outcome');
  t.doc = docs.join(' ');
  return t;
}

function parsePage(words: string[], line: number, t: LitmusTest, err: (l: number, m: string) => never): PageDecl {
  const [name, kindWord, ...more] = words;
  if (!name || !NAME.test(name) || ALL_REGS.has(name) || KEYWORDS.has(name)) err(line, `page: '${name ?? ''}' is not a usable name (letters, digits, _; not a register)`);
  if (t.pages.some((p) => p.name === name)) err(line, `page ${name} is declared twice`);
  if (t.pages.length >= MAX_PAGES) err(line, `at most ${MAX_PAGES} pages`);
  const km = /^([a-z]+)(?:@(\d+))?$/.exec(kindWord ?? '');
  if (!km || !(PAGE_KINDS as readonly string[]).includes(km[1]!)) err(line, `page ${name}: kind '${kindWord ?? ''}' is not one of ${PAGE_KINDS.join(', ')}`);
  const kind = km![1] as PageKind;
  if (km![2] !== undefined && kind !== 'file' && kind !== 'fileprivate') err(line, `page ${name}: @N (file page) only for file and fileprivate`);
  let init = 0n;
  let prot: ProtName = 'rw';
  for (let i = 0; i < more.length; i++) {
    const w = more[i]!;
    if (w === '=') {
      const v = parseWord(more[++i] ?? '');
      if (v === undefined) err(line, `page ${name}: '= ${more[i] ?? ''}' needs an integer value`);
      init = v!;
    } else if (w in PROTS) {
      prot = w as ProtName;
    } else {
      err(line, `page ${name}: '${w}' is neither '= VALUE' nor a protection (rw, r, none)`);
    }
  }
  if (kind === 'none' && (init !== 0n || prot !== 'rw')) err(line, `page ${name}: a 'none' page is not mapped at the start (no value, no protection)`);
  const filePage = km![2] !== undefined ? Number(km![2]) : t.pages.length;
  if (filePage >= 64) err(line, `page ${name}: file page ${filePage} is beyond 63`);
  return { name: name!, kind, init, prot, filePage, line };
}

function checkRegisters(body: string, line: number, err: (l: number, m: string) => never): void {
  for (const m of body.matchAll(/[A-Za-z_.][A-Za-z0-9_.]*/g)) {
    const w = m[0].toLowerCase();
    if (ALL_REGS.has(w) && !ALLOWED_REGS.has(w)) err(line, `register ${m[0]} is reserved for the harness; use ${USER_REGS.join(' ')}`);
    if (w.startsWith('__')) err(line, `names starting with __ are reserved (${m[0]})`);
  }
}

function parseLoc(w: string, line: number, t: LitmusTest, err: (l: number, m: string) => never): Loc {
  const m = /^([PC])(\d+):([a-z0-9]+)$/.exec(w);
  if (m) {
    const thread = Number(m[2]);
    if (thread >= t.threads.length) err(line, `location ${w}: there is no thread P${thread}`);
    const child = m[1] === 'C';
    if (m[3] === 'fault') return { kind: 'fault', thread, child };
    if (!(USER_REGS as readonly string[]).includes(m[3]!)) err(line, `location ${w}: '${m[3]}' is not a thread register (${USER_REGS.join(' ')}) or fault`);
    return { kind: 'reg', thread, child, reg: m[3] as UserReg };
  }
  const f = /^([A-Za-z_][A-Za-z0-9_]*)(@file)?$/.exec(w);
  const page = f ? t.pages.findIndex((p) => p.name === f[1]) : -1;
  if (!f || page < 0) err(line, `location '${w}': not P<n>:REG, C<n>:REG, P<n>:fault, a page name or PAGE@file`);
  if (f![2] && t.pages[page]!.kind !== 'file' && t.pages[page]!.kind !== 'fileprivate') err(line, `location ${w}: page ${f![1]} is not file-backed`);
  return f![2] ? { kind: 'file', page } : { kind: 'mem', page };
}

function parseCond(text: string, line: number, t: LitmusTest, err: (l: number, m: string) => never): Cond {
  return text.split(/\\\//).map((disj) => disj.split(/\/\\/).map((a) => {
    const m = /^\s*(\S+?)\s*(!=|=)\s*(\S+)\s*$/.exec(a);
    if (!m) err(line, `condition: '${a.trim()}' is not LOC = VALUE or LOC != VALUE (join with /\\ and \\/)`);
    const loc = parseLoc(m![1]!, line, t, err);
    const op = m![2] as '=' | '!=';
    if (/^[A-Za-z_]/.test(m![3]!) && m![3] !== 'fault') {
      let other: Loc | undefined;
      try {
        other = parseLoc(m![3]!, line, t, err);
      } catch {
        err(line, `condition: value '${m![3]}' is not an integer, fault or a location`);
      }
      return { loc, op, value: 0n, other };
    }
    const value: Value | undefined = m![3] === 'fault' ? 'fault' : parseWord(m![3]!);
    if (value === undefined) err(line, `condition: value '${m![3]}' is not an integer or fault`);
    return { loc, op, value: value! };
  }));
}

/** Does the outcome (values by location key, locText) satisfy the condition? */
export function holds(cond: Cond, t: LitmusTest, values: Map<string, Value>): boolean {
  return cond.some((conj) => conj.every((a) => {
    const v = values.get(locText(t, a.loc));
    const eq = v === (a.other ? values.get(locText(t, a.other)) : a.value);
    return a.op === '=' ? eq : !eq;
  }));
}
