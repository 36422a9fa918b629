/**
 * The initial user stack of a new program, laid out exactly as Linux's riscv64 exec does
 * (fs/exec.c copies the strings, fs/binfmt_elf.c create_elf_tables builds the rest):
 *
 *   stackTop ->  8 zero bytes              (bprm->p starts one pointer below the top)
 *                execfn "\0"               (AT_EXECFN points here)
 *                envp strings, envp[0] lowest
 *                argv strings, argv[0] lowest   <- arg_start
 *                (pad down to 16)          (arch_align_stack, without randomisation)
 *                16 random bytes           (AT_RANDOM)
 *                (pad down to 16)
 *                auxv pairs ... AT_NULL, 0
 *                envp[0..envc-1], NULL
 *                argv[0..argc-1], NULL
 *   sp ->        argc                      (sp is 16-byte aligned)
 *
 * Pure: the caller copies `bytes` to user memory at `base` (= sp) and starts the thread with
 * that sp. The auxv order is Linux 6.x riscv's: ARCH_DLINFO (AT_SYSINFO_EHDR when there is a
 * vDSO, AT_MINSIGSTKSZ) first, then the generic entries. test/fixtures/initstack-qemu.json
 * (what qemu-riscv64 gives a real static binary) checks the byte offsets.
 */

import { PAGE_SIZE } from '../../cpu/ram.ts';

// Auxiliary vector types (linux/auxvec.h, asm/auxvec.h for riscv).
export const AT_NULL = 0;
export const AT_IGNORE = 1;
export const AT_EXECFD = 2;
export const AT_PHDR = 3;
export const AT_PHENT = 4;
export const AT_PHNUM = 5;
export const AT_PAGESZ = 6;
export const AT_BASE = 7;
export const AT_FLAGS = 8;
export const AT_ENTRY = 9;
export const AT_NOTELF = 10;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_PLATFORM = 15;
export const AT_HWCAP = 16;
export const AT_CLKTCK = 17;
export const AT_SECURE = 23;
export const AT_BASE_PLATFORM = 24;
export const AT_RANDOM = 25;
export const AT_HWCAP2 = 26;
export const AT_RSEQ_FEATURE_SIZE = 27;
export const AT_RSEQ_ALIGN = 28;
export const AT_EXECFN = 31;
export const AT_SYSINFO_EHDR = 33;
export const AT_MINSIGSTKSZ = 51;

/** riscv AT_HWCAP: bit (letter - 'a') for each single-letter extension (asm/hwcap.h). */
export function riscvHwcap(letters: string): number {
  let bits = 0;
  for (const ch of letters.toLowerCase()) {
    const bit = ch.charCodeAt(0) - 0x61;
    if (bit < 0 || bit > 25) throw new Error(`riscvHwcap: '${ch}' is not an extension letter`);
    bits |= 1 << bit;
  }
  return bits >>> 0;
}
/** AT_HWCAP of this machine: rv64imafdc (= 0x112d). */
export const HWCAP_RV64IMAFDC = riscvHwcap('imafdc');
/** USER_HZ: the unit of times() and AT_CLKTCK. */
export const CLOCKS_PER_SEC = 100;
/**
 * AT_MINSIGSTKSZ as riscv Linux reports it without the V extension: sizeof(struct
 * rt_sigframe) rounded up to 16 (kernel/signal/sigframe.ts RT_SIGFRAME_SIZE).
 */
export const DEFAULT_MINSIGSTKSZ = 1088;
/** Linux's limit on one argument or environment string, terminator included (MAX_ARG_STRLEN). */
export const MAX_ARG_STRLEN = 32 * PAGE_SIZE;
/** Linux's _STK_LIM: the default RLIMIT_STACK (8 MiB). */
export const STK_LIM = 8 * 1024 * 1024;
/** Linux's ARG_MAX floor for the argument strings, whatever the stack limit (32 pages). */
export const ARG_MAX_FLOOR = 32 * PAGE_SIZE;
/**
 * Bytes the argument and environment strings plus their pointers may take for a stack limit
 * of `rlimitStack` bytes (Infinity = unlimited), as Linux's bprm_stack_limits: a quarter of the
 * limit, at most 3/4 of _STK_LIM, at least ARG_MAX_FLOOR. E2BIG beyond.
 */
export function argLimitFor(rlimitStack: number): number {
  return Math.max(ARG_MAX_FLOOR, Math.min((STK_LIM / 4) * 3, Math.floor(rlimitStack / 4)));
}
/** The string limit under the default 8 MiB RLIMIT_STACK (2 MiB). */
export const DEFAULT_MAX_STACK_BYTES = argLimitFor(STK_LIM);

/** E2BIG from exec: the arguments do not fit. `errno` is the positive Linux value. */
export class InitStackError extends Error {
  readonly errno = 7; // E2BIG
  constructor(detail: string) {
    super(`buildInitialStack: ${detail}`);
    this.name = 'InitStackError';
  }
}

/** The values of the auxiliary vector; the ones marked optional have Linux's defaults. */
export interface AuxValues {
  phdr: number;
  phent: number;
  phnum: number;
  entry: number;
  /** Interpreter base: 0 for a static executable. */
  base?: number;
  flags?: number;
  uid?: number;
  euid?: number;
  gid?: number;
  egid?: number;
  secure?: number;
  hwcap?: number;
  pagesz?: number;
  clktck?: number;
  /** AT_MINSIGSTKSZ; null leaves the entry out (as kernels before 6.5 and qemu do). */
  minsigstksz?: number | null;
  /** va of the vDSO's ELF header (AT_SYSINFO_EHDR); omitted when undefined. */
  sysinfoEhdr?: number;
}

export interface InitialStackInput {
  /** One past the highest stack byte; 16-byte aligned (normally page-aligned). */
  stackTop: number;
  /** Strings: JS strings are UTF-8 encoded; Uint8Array is taken as raw bytes (no NUL). */
  argv: ReadonlyArray<string | Uint8Array>;
  envp: ReadonlyArray<string | Uint8Array>;
  /** The path given to execve (AT_EXECFN). */
  execfn: string | Uint8Array;
  /** 16 bytes for AT_RANDOM (from a seeded generator or crypto.getRandomValues). */
  random: Uint8Array;
  aux: AuxValues;
  /**
   * Limit on the strings (execfn, envp, argv with their NULs) plus one pointer per string
   * (argc at least 1), as Linux's exec checks; default argLimitFor(rlimitStack).
   */
  maxBytes?: number;
  /** RLIMIT_STACK soft limit in bytes (Infinity = unlimited) the default maxBytes derives from; default STK_LIM. */
  rlimitStack?: number;
}

export interface InitialStack {
  /** The bytes of [base, stackTop); copy them to user memory at base. */
  bytes: Uint8Array;
  /** va of bytes[0]; equal to sp. */
  base: number;
  /** The initial stack pointer (16-byte aligned), pointing at argc. */
  sp: bigint;
  argc: number;
  /** vas of the argv[], envp[] and auxv arrays. */
  argvVa: number;
  envpVa: number;
  auxvVa: number;
  randomVa: number;
  execfnVa: number;
  /** Bounds of the argument and environment strings (mm->arg_start/arg_end/env_start/env_end). */
  argStart: number;
  argEnd: number;
  envStart: number;
  envEnd: number;
  /** The auxiliary vector as placed, AT_NULL included: [type, value] pairs. */
  auxv: Array<[number, bigint]>;
}

const encoder = new TextEncoder();

function toBytes(s: string | Uint8Array, what: string): Uint8Array {
  const b = typeof s === 'string' ? encoder.encode(s) : s;
  if (b.indexOf(0) >= 0) throw new Error(`buildInitialStack: ${what} contains a NUL byte`);
  if (b.length + 1 > MAX_ARG_STRLEN) throw new InitStackError(`${what} is ${b.length + 1} bytes, limit ${MAX_ARG_STRLEN}`);
  return b;
}

/**
 * Lay out the initial stack for a program (see the file comment for the picture).
 * Throws InitStackError (errno E2BIG) when a string or the whole exceeds Linux's limits, and
 * Error for a malformed request (misaligned stackTop, random not 16 bytes, NUL in a string).
 */
export function buildInitialStack(input: InitialStackInput): InitialStack {
  const { stackTop, aux } = input;
  if (!Number.isSafeInteger(stackTop) || stackTop % 16 !== 0) throw new Error(`buildInitialStack: stackTop ${stackTop} not 16-byte aligned`);
  if (input.random.length !== 16) throw new Error(`buildInitialStack: AT_RANDOM needs 16 bytes, got ${input.random.length}`);
  const argv = input.argv.map((s, i) => toBytes(s, `argv[${i}]`));
  const envp = input.envp.map((s, i) => toBytes(s, `envp[${i}]`));
  const execfn = toBytes(input.execfn, 'execfn');

  // Strings, from the top down: the null slot, execfn, envp (last first), argv (last first).
  let p = stackTop - 8;
  p -= execfn.length + 1;
  const execfnVa = p;
  const envVa = placeStrings(envp, () => p, (v) => (p = v));
  const argVa = placeStrings(argv, () => p, (v) => (p = v));
  const stringsLow = p;

  p = Math.floor(p / 16) * 16; // arch_align_stack (no randomisation); vas exceed 32 bits
  p -= 16;
  const randomVa = p;

  const auxv = auxEntries(aux, randomVa, execfnVa);
  const words = auxv.length * 2 + (argv.length + 1) + (envp.length + 1) + 1;
  const sp = Math.floor((p - words * 8) / 16) * 16; // STACK_ROUND
  // Linux (fs/exec.c bprm_stack_limits, copy_strings): the strings from bprm->p (one pointer
  // below the top) down must fit in the limit less one pointer per string.
  const maxBytes = input.maxBytes ?? argLimitFor(input.rlimitStack ?? STK_LIM);
  const need = (stackTop - 8 - stringsLow) + (Math.max(argv.length, 1) + envp.length) * 8;
  if (need > maxBytes) throw new InitStackError(`${need} bytes of arguments and environment, limit ${maxBytes}`);

  const bytes = new Uint8Array(stackTop - sp);
  const dv = new DataView(bytes.buffer);
  const put = (va: number, v: bigint | number) => dv.setBigUint64(va - sp, BigInt(v), true);
  const copy = (va: number, b: Uint8Array) => bytes.set(b, va - sp);
  copy(execfnVa, execfn);
  envp.forEach((b, i) => copy(envVa[i], b));
  argv.forEach((b, i) => copy(argVa[i], b));
  copy(randomVa, input.random);

  let w = sp;
  put(w, argv.length);
  w += 8;
  const argvVa = w;
  for (const va of argVa) put((w += 8) - 8, va);
  put(w, 0);
  w += 8;
  const envpVa = w;
  for (const va of envVa) put((w += 8) - 8, va);
  put(w, 0);
  w += 8;
  const auxvVa = w;
  for (const [type, value] of auxv) {
    put(w, type);
    put(w + 8, value);
    w += 16;
  }

  return {
    bytes,
    base: sp,
    sp: BigInt(sp),
    argc: argv.length,
    argvVa,
    envpVa,
    auxvVa,
    randomVa,
    execfnVa,
    argStart: stringsLow,
    argEnd: argv.length ? argVa[argv.length - 1] + argv[argv.length - 1].length + 1 : stringsLow,
    envStart: envp.length ? envVa[0] : execfnVa,
    envEnd: execfnVa,
    auxv,
  };
}

/** Place strings below p, last string highest, so that string 0 ends up lowest. */
function placeStrings(strs: Uint8Array[], get: () => number, set: (v: number) => void): number[] {
  const vas = new Array<number>(strs.length);
  let p = get();
  for (let i = strs.length - 1; i >= 0; i--) {
    p -= strs[i].length + 1;
    vas[i] = p;
  }
  set(p);
  return vas;
}

function auxEntries(aux: AuxValues, randomVa: number, execfnVa: number): Array<[number, bigint]> {
  const out: Array<[number, bigint]> = [];
  const add = (type: number, v: number) => out.push([type, BigInt(v)]);
  if (aux.sysinfoEhdr !== undefined) add(AT_SYSINFO_EHDR, aux.sysinfoEhdr);
  const minsig = aux.minsigstksz === undefined ? DEFAULT_MINSIGSTKSZ : aux.minsigstksz;
  if (minsig !== null) add(AT_MINSIGSTKSZ, minsig);
  add(AT_HWCAP, aux.hwcap ?? HWCAP_RV64IMAFDC);
  add(AT_PAGESZ, aux.pagesz ?? PAGE_SIZE);
  add(AT_CLKTCK, aux.clktck ?? CLOCKS_PER_SEC);
  add(AT_PHDR, aux.phdr);
  add(AT_PHENT, aux.phent);
  add(AT_PHNUM, aux.phnum);
  add(AT_BASE, aux.base ?? 0);
  add(AT_FLAGS, aux.flags ?? 0);
  add(AT_ENTRY, aux.entry);
  add(AT_UID, aux.uid ?? 0);
  add(AT_EUID, aux.euid ?? 0);
  add(AT_GID, aux.gid ?? 0);
  add(AT_EGID, aux.egid ?? 0);
  add(AT_SECURE, aux.secure ?? 0);
  add(AT_RANDOM, randomVa);
  add(AT_EXECFN, execfnVa);
  add(AT_NULL, 0);
  return out;
}

/** What a program finds on its initial stack (the inverse of buildInitialStack). */
export interface ParsedInitialStack {
  argc: number;
  argv: string[];
  envp: string[];
  auxv: Array<[number, bigint]>;
}

/**
 * Read an initial stack back: `bytes` holds user memory starting at va `base`, and sp = base.
 * Pointers must point into bytes. For tests and debugging; throws on a malformed layout.
 */
export function parseInitialStack(bytes: Uint8Array, base: number): ParsedInitialStack {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = (va: number) => dv.getBigUint64(va - base, true);
  const str = (va: bigint) => {
    const o = Number(va) - base;
    if (o < 0 || o >= bytes.length) throw new Error(`parseInitialStack: pointer 0x${va.toString(16)} outside the stack`);
    const end = bytes.indexOf(0, o);
    if (end < 0) throw new Error('parseInitialStack: unterminated string');
    return new TextDecoder().decode(bytes.subarray(o, end));
  };
  const argc = Number(word(base));
  let w = base + 8;
  const argv: string[] = [];
  for (let i = 0; i < argc; i++, w += 8) argv.push(str(word(w)));
  if (word(w) !== 0n) throw new Error('parseInitialStack: argv not NULL-terminated');
  w += 8;
  const envp: string[] = [];
  for (let p = word(w); p !== 0n; p = word(w)) {
    envp.push(str(p));
    w += 8;
  }
  w += 8;
  const auxv: Array<[number, bigint]> = [];
  for (;;) {
    const type = Number(word(w));
    auxv.push([type, word(w + 8)]);
    w += 16;
    if (type === AT_NULL) break;
  }
  return { argc, argv, envp, auxv };
}
