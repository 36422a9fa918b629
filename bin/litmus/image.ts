/**
 * Turn a parsed litmus test into the image guests/litmus.c runs: each thread's instructions
 * assembled by cpu/asm (between a generated prologue and epilogue), the pseudo-ops expanded
 * into real system calls, the pages and the observed locations encoded. The image layout is
 * documented once, in guests/litmus.c's header comment; the constants below mirror it.
 */
import { assemble, AsmError } from '../../cpu/asm/assembler.ts';
import { LitmusError, PROTS, REG_NUM, sameLoc, type Loc, type LitmusTest, type ProtName } from './format.ts';

const MAGIC = 0x31305355544d494cn; // "LITMUS01"
/**
 * Addresses: test k of a batch (0 alone) maps thread t's code at CODE_BASE + k * AREA + t * SPACING
 * and page i at PAGE_BASE + k * AREA + i * SPACING. Each test of a batch gets its own area, so a
 * stale entry an unsafe policy left from an earlier test never aliases a later test's code or pages.
 */
export const CODE_BASE = 0x30000000n;
export const PAGE_BASE = 0x40000000n;
const SPACING = 0x10000n;
const AREA = 0x100000n;
export const MAX_BATCH = 256;
/** File descriptor the guest keeps the test's file open on during a run (guests/litmus.c). */
const LITMUS_FD = 100;
/** Words per result slot; child slots follow the MAX_THREADS thread slots (guests/litmus.c). */
const SLOT_BYTES = 40 * 8;
const MAX_THREADS = 4;
/** Iterations of an `await` before it gives up (a0 = 0); bounded spinning. */
export const AWAIT_BOUND = 4_000_000;

const PK = { none: 0, anon: 1, shared: 2, file: 3, fileprivate: 4 } as const;
const OBS = { reg: 1, childReg: 2, fault: 3, childFault: 4, mem: 5, file: 6 } as const;
const SYS = { munmap: 215, clone: 220, mmap: 222, mprotect: 226, msync: 227, madvise: 233 } as const;
const MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20;
const MADV_DONTNEED = 4, MS_SYNC = 4, SIGCHLD = 17;

export interface LitmusImage {
  bytes: Uint8Array;
  /** The observed locations in image order (the guest prints one value per location per run). */
  locations: Loc[];
}

/** Address of page i of the test at position `slot` of a batch. */
export function pageVa(i: number, slot = 0): bigint { return PAGE_BASE + BigInt(slot) * AREA + BigInt(i) * SPACING; }
/** Address of thread t's code of the test at position `slot` of a batch. */
export function codeVa(t: number, slot = 0): bigint { return CODE_BASE + BigInt(slot) * AREA + BigInt(t) * SPACING; }

/**
 * Every location the histogram shows: those of the forbidden conditions, then `observe`'s,
 * in first-mention order, without duplicates.
 */
export function observedLocations(t: LitmusTest): Loc[] {
  const out: Loc[] = [];
  const add = (l: Loc): void => { if (!out.some((o) => sameLoc(o, l))) out.push(l); };
  for (const f of t.forbidden) for (const conj of f.cond) for (const a of conj) { add(a.loc); if (a.other) add(a.other); }
  for (const l of t.observe) add(l);
  return out;
}

/** The syscall sequence (one line, `;`-separated) of a pseudo-op, or undefined for an instruction. */
function expandPseudo(t: LitmusTest, slot: number, text: string, line: number, n: number): string | undefined {
  const [op, ...args] = text.replace(/,/g, ' ').split(/\s+/).filter(Boolean);
  const err = (m: string): never => { throw new LitmusError(t.file, line, `${op}: ${m}`); };
  const page = (w: string | undefined): number => {
    const i = t.pages.findIndex((p) => p.name === w);
    if (i < 0) err(`'${w ?? ''}' is not a page of this test`);
    return i;
  };
  const prot = (w: string | undefined): number => {
    if (w === undefined || !(w in PROTS)) err(`protection '${w ?? ''}' is not rw, r or none`);
    return PROTS[w as ProtName];
  };
  const call = (nr: number, regs: Array<bigint | number>): string =>
    [...regs.map((v, i) => `li a${i}, ${v}`), `li a7, ${nr}`, 'ecall'].join('; ');
  switch (op) {
    case 'mmap': {
      if (args.length < 2 || args.length > 3) err('`mmap PAGE KIND [PROT]` (KIND: anon, shared, file[@N], fileprivate[@N])');
      const i = page(args[0]);
      const km = /^(anon|shared|file|fileprivate)(?:@(\d+))?$/.exec(args[1]!);
      if (!km) err(`kind '${args[1]}' is not anon, shared, file[@N] or fileprivate[@N]`);
      const p = prot(args[2] ?? 'rw');
      const kind = km![1]!;
      const fileBacked = kind === 'file' || kind === 'fileprivate';
      if (km![2] !== undefined && !fileBacked) err('@N only for file and fileprivate');
      const filePage = km![2] !== undefined ? Number(km![2]) : t.pages[i]!.filePage;
      if (fileBacked && !t.pages.some((q) => (q.kind === 'file' || q.kind === 'fileprivate') && q.filePage >= filePage)) {
        err(`file page ${filePage} is beyond the test's file (declare a file page at or beyond it)`);
      }
      const flags = MAP_FIXED | (kind === 'anon' || kind === 'fileprivate' ? MAP_PRIVATE : MAP_SHARED) | (fileBacked ? 0 : MAP_ANONYMOUS);
      return call(SYS.mmap, [pageVa(i, slot), 4096, p, flags, fileBacked ? LITMUS_FD : -1, fileBacked ? filePage * 4096 : 0]);
    }
    case 'mprotect':
      if (args.length !== 2) err('`mprotect PAGE PROT`');
      return call(SYS.mprotect, [pageVa(page(args[0]), slot), 4096, prot(args[1])]);
    case 'munmap':
      if (args.length !== 1) err('`munmap PAGE`');
      return call(SYS.munmap, [pageVa(page(args[0]), slot), 4096]);
    case 'madvise':
      if (args.length !== 2 || args[1] !== 'dontneed') err('`madvise PAGE dontneed`');
      return call(SYS.madvise, [pageVa(page(args[0]), slot), 4096, MADV_DONTNEED]);
    case 'msync':
      if (args.length !== 1) err('`msync PAGE`');
      return call(SYS.msync, [pageVa(page(args[0]), slot), 4096, MS_SYNC]);
    case 'fork':
      if (args.length !== 0) err('`fork` takes no operands');
      // clone(SIGCHLD): the child continues here with a0 = 0 and its registers go to the child slot.
      return `${call(SYS.clone, [SIGCHLD, 0, 0, 0, 0])}; bnez a0, __fork${n}; addi s1, s1, ${SLOT_BYTES * MAX_THREADS}; __fork${n}:`;
    case 'await': {
      if (args.length !== 2) err('`await PAGE VALUE` (spin, bounded, until word 0 of PAGE is VALUE; a0 = 1 if seen, 0 if not)');
      const i = page(args[0]);
      if (!/^-?(0x[0-9a-fA-F]+|\d+)$/.test(args[1]!)) err(`value '${args[1]}' is not an integer`);
      return [`li a1, ${pageVa(i, slot)}`, `li a2, ${args[1]}`, `li a3, ${AWAIT_BOUND}`, 'li a0, 0',
        `__await${n}: ld a4, 0(a1)`, `beq a4, a2, __seen${n}`, 'addi a3, a3, -1', `bnez a3, __await${n}`, `j __done${n}`,
        `__seen${n}: li a0, 1`, `__done${n}:`].join('; ');
    }
    default:
      return undefined;
  }
}

/** Assemble thread `ti` for batch position `slot`: prologue, the test's lines (pseudo-ops expanded), epilogue. */
export function assembleThread(t: LitmusTest, ti: number, slot = 0): Uint8Array {
  const th = t.threads[ti]!;
  const head: string[] = [
    ...t.pages.map((p, i) => `.equ ${p.name}, ${pageVa(i, slot)}`),
    '_start: addi sp, sp, -16; sd ra, 0(sp); sd s1, 8(sp); mv s1, a0',
    Object.keys(REG_NUM).map((r) => `li ${r}, 0`).join('; '),
  ];
  const body = th.code.map((c, k) => expandPseudo(t, slot, c.text, c.line, k) ?? c.text);
  const tail = [
    `__end: ${Array.from({ length: 31 }, (_, i) => `sd x${i + 1}, ${(i + 1) * 8}(s1)`).filter((_, i) => i + 1 !== 9).join('; ')}`,
    // x9 is s1 itself; state DONE (1) in word 32.
    'li t0, 1; sd t0, 256(s1); ld ra, 0(sp); ld s1, 8(sp); addi sp, sp, 16; ret',
  ];
  try {
    return assemble([...head, ...body, ...tail].join('\n'), { textBase: codeVa(ti, slot) }).text;
  } catch (e) {
    if (!(e instanceof AsmError)) throw e;
    const k = e.line - head.length - 1;
    const line = k >= 0 && k < th.code.length ? th.code[k]!.line : th.line;
    throw new LitmusError(t.file, line, `P${ti}: ${e.message.replace(/^line \d+: /, '')}`);
  }
}

/**
 * The guest image of `t` for `runs` runs, start delays up to `delay` spin iterations, seeded by
 * `seed`, placed at batch position `slot` (0..MAX_BATCH-1). Throws LitmusError for code that
 * does not assemble or bad pseudo-op operands (with the file's line).
 */
export function buildImage(t: LitmusTest, runs: number, seed: number, delay: number, slot = 0): LitmusImage {
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_BATCH) throw new RangeError(`buildImage: batch position ${slot} is not 0..${MAX_BATCH - 1}`);
  const codes = t.threads.map((_, i) => assembleThread(t, i, slot));
  const locations = observedLocations(t);
  const words: bigint[] = [MAGIC, BigInt(t.threads.length), BigInt(t.pages.length), BigInt(locations.length),
    BigInt(runs), BigInt(seed), BigInt(delay), 0n];
  for (const [i, p] of t.pages.entries()) words.push(pageVa(i, slot), BigInt(PK[p.kind]), BigInt(PROTS[p.prot]), p.init, BigInt(p.filePage));
  let offset = words.length + codes.length * 3 + locations.length;
  for (const [i, c] of codes.entries()) {
    words.push(codeVa(i, slot), BigInt(c.length), BigInt(offset));
    offset += Math.ceil(c.length / 8);
  }
  for (const l of locations) {
    const enc = (kind: number, a: number, b = 0): bigint => (BigInt(kind) << 32n) | (BigInt(a) << 16n) | BigInt(b);
    switch (l.kind) {
      case 'reg': words.push(enc(l.child ? OBS.childReg : OBS.reg, l.thread, REG_NUM[l.reg])); break;
      case 'fault': words.push(enc(l.child ? OBS.childFault : OBS.fault, l.thread)); break;
      case 'mem': words.push(enc(OBS.mem, l.page)); break;
      case 'file': words.push(enc(OBS.file, l.page)); break;
    }
  }
  const head = new BigUint64Array(words);
  const total = new Uint8Array(offset * 8);
  total.set(new Uint8Array(head.buffer), 0);
  let at = head.length * 8;
  for (const c of codes) {
    total.set(c, at);
    at += Math.ceil(c.length / 8) * 8;
  }
  if (locations.length > 64) throw new LitmusError(t.file, 1, `${locations.length} observed locations: at most 64`);
  if (locations.length === 0) throw new LitmusError(t.file, 1, 'nothing to observe: add a `forbidden` condition or an `observe` line');
  return { bytes: total, locations };
}
