/**
 * ELF64 RISC-V executables: parse and validate a static executable (ET_EXEC, or a static-pie
 * ET_DYN) into what the loader maps — PT_LOAD segments with protections, PT_TLS, the entry
 * point and the program-header address for AT_PHDR. Pure: no memory is touched here (hostElfSource
 * reads a host file for the parser, piece by piece).
 *
 * A file the kernel must not run is refused with an ElfError whose `reason` says which rule
 * it broke and whose message names the detail, the way Linux's load_elf_binary refuses
 * (ENOEXEC), plus the checks a static-only loader needs (no PT_INTERP):
 *
 *   reason               when
 *   not-elf              no \x7fELF magic
 *   not-64-bit           EI_CLASS is not ELFCLASS64
 *   not-little-endian    EI_DATA is not ELFDATA2LSB
 *   not-riscv            e_machine is not EM_RISCV (243)
 *   not-executable       e_type is ET_REL, ET_CORE or unknown
 *   wrong-abi            e_flags asks for a float ABI other than double (lp64d) or for RVE
 *   dynamically-linked   a PT_INTERP program header (needs ld.so, which we do not provide)
 *   truncated            the ELF header, program headers or a segment's bytes run past the file
 *   inconsistent         filesz > memsz, overlapping PT_LOADs, p_offset ≢ p_vaddr (mod 4 KiB),
 *                        a segment in page zero or beyond the user half (Sv48: va < 2^47), no
 *                        PT_LOAD, entry outside every executable segment, bad e_phentsize, ...
 *
 * Loading a parsed image (the integration step's job, kernel/exec): for each segment map
 * [pageDown(va), pageUp(va + fileSize)) privately from the file at pageDown(fileOffset) with
 * `prot`; zero the bytes from va + fileSize to the end of that page (Linux's padzero — the
 * page is a private copy); map anonymous zero pages for the rest up to va + memSize. Segments
 * are sorted by va and never overlap byte-wise, but two may share the page at their boundary
 * (ld does that without -z separate-code): map them in order; a later mapping replaces the
 * shared page, as Linux's MAP_FIXED elf_map does. Then brk starts at `brkStart`.
 */

import * as fs from 'node:fs';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { PROT_EXEC, PROT_READ, PROT_WRITE } from '../linux-flags.ts';

// --- ELF constants (elf(5), RISC-V psABI) ---
export const ELF_MAGIC = 0x464c457f; // "\x7fELF" read little-endian
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
export const EV_CURRENT = 1;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;
export const EM_RISCV = 243;

export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_RISCV_ATTRIBUTES = 0x70000003;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const EF_RISCV_RVC = 0x1;
export const EF_RISCV_FLOAT_ABI_MASK = 0x6;
export const EF_RISCV_FLOAT_ABI_SOFT = 0x0;
export const EF_RISCV_FLOAT_ABI_SINGLE = 0x2;
export const EF_RISCV_FLOAT_ABI_DOUBLE = 0x4;
export const EF_RISCV_FLOAT_ABI_QUAD = 0x6;
export const EF_RISCV_RVE = 0x8;

export const EHDR_SIZE = 64;
export const PHDR_SIZE = 56; // sizeof(Elf64_Phdr): the AT_PHENT value

/** First va above the user half of an Sv48 address space (bit 47 set = kernel half). */
export const USER_VA_END = 2 ** 47;
/**
 * Default load bias of a static-pie (ET_DYN), as riscv64 Linux without ASLR places it:
 * ELF_ET_DYN_BASE = 2/3 of the 39-bit default mmap window, page-aligned down.
 */
export const ET_DYN_DEFAULT_BIAS = 0x2aaaaaa000;
/** Linux refuses more than 64 KiB of program headers (load_elf_phdrs). */
const MAX_PHDR_BYTES = 65536;

export type ElfErrorReason =
  | 'not-elf'
  | 'not-64-bit'
  | 'not-little-endian'
  | 'not-riscv'
  | 'not-executable'
  | 'wrong-abi'
  | 'dynamically-linked'
  | 'truncated'
  | 'inconsistent';

/** Why an ELF file was refused; `message` starts with "elf: " and names the detail. */
export class ElfError extends Error {
  readonly reason: ElfErrorReason;
  constructor(reason: ElfErrorReason, detail: string) {
    super(`elf: ${reason.replace(/-/g, ' ')}: ${detail}`);
    this.name = 'ElfError';
    this.reason = reason;
  }
}

/** One PT_LOAD segment, load bias applied. All values are byte counts or vas (< 2^47). */
export interface ElfSegment {
  /** First va of the segment's bytes (not page-aligned in general). */
  va: number;
  /** Bytes in memory; [va + fileSize, va + memSize) is zero (bss). */
  memSize: number;
  /** File offset of the byte at va; fileOffset ≡ va (mod PAGE_SIZE). */
  fileOffset: number;
  /** Bytes backed by the file. */
  fileSize: number;
  /** PROT_READ | PROT_WRITE | PROT_EXEC from p_flags. */
  prot: number;
  /** Raw p_flags (PF_*). */
  flags: number;
}

/** The PT_TLS template: the initial image of every thread's TLS block. */
export interface ElfTls {
  va: number;
  memSize: number;
  fileOffset: number;
  fileSize: number;
  align: number;
}

/** A validated executable, ready to map. */
export interface ElfImage {
  /** ET_EXEC → 'exec'; ET_DYN without PT_INTERP → 'static-pie'. */
  kind: 'exec' | 'static-pie';
  /** Added to every p_vaddr: 0 for ET_EXEC. */
  loadBias: number;
  /** Entry point va (AT_ENTRY and the initial pc). */
  entry: number;
  /** va of the program headers (AT_PHDR): PT_PHDR, else the PT_LOAD covering e_phoff, else 0. */
  phdrVa: number;
  /** AT_PHENT and AT_PHNUM. */
  phent: number;
  phnum: number;
  /** e_flags (EF_RISCV_*). */
  flags: number;
  /** PT_LOAD segments sorted by va, empty ones (memsz 0) dropped. */
  segments: ElfSegment[];
  tls: ElfTls | null;
  /** PT_GNU_STACK asked for an executable stack (absent PT_GNU_STACK: false on riscv). */
  execStack: boolean;
  /** va of PT_DYNAMIC (a static-pie relocates itself from it), or null. */
  dynamicVa: number | null;
  /** Lowest and one-past-highest va covered by the segments. */
  lowVa: number;
  highVa: number;
  /** Initial program break: highVa rounded up to a page (Linux without brk randomisation). */
  brkStart: number;
}

export interface ParseElfOptions {
  /** Load bias for a static-pie (page-aligned); default ET_DYN_DEFAULT_BIAS. Ignored for ET_EXEC. */
  loadBias?: number;
}

interface RawPhdr {
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

const PAGE = BigInt(PAGE_SIZE);

/**
 * Where the parser reads an executable from: its length and a positional read (a file on
 * the host, read piece by piece: the parser reads the ELF header, the program headers and a
 * PT_INTERP's name, never the segments).
 */
export interface ElfSource {
  readonly length: number;
  /** Bytes [offset, offset + len) (fewer only past the end). */
  read(offset: number, len: number): Uint8Array;
}

/**
 * Parse and validate `file` as a static riscv64 Linux executable.
 * Returns the image to map; throws ElfError (with `reason`) for anything Linux would refuse
 * or this kernel cannot run. Throws a plain Error for a bad option (misaligned loadBias).
 */
export function parseElf(file: Uint8Array, options: ParseElfOptions = {}): ElfImage {
  return parseElfFrom({ length: file.length, read: (o, n) => file.subarray(o, o + n) }, options);
}

/**
 * A host file as an ElfSource: positional reads of open host fd `fd` of `length` bytes
 * (short only at the end of file; host errors are thrown as Node's).
 */
export function hostElfSource(fd: number, length: number): ElfSource {
  return {
    length,
    read(offset, len) {
      const buf = Buffer.alloc(Math.max(0, Math.min(len, length - offset)));
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    },
  };
}

/**
 * parseElf on an ElfSource: reads only the headers (at most 64 + 64 KiB + 4 KiB bytes), so a
 * huge file is judged without reading its contents. Same results and errors as parseElf.
 */
export function parseElfFrom(src: ElfSource, options: ParseElfOptions = {}): ElfImage {
  const head = src.read(0, Math.min(src.length, EHDR_SIZE));
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  checkIdent(head, dv, src.length);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_RISCV) throw new ElfError('not-riscv', `e_machine ${machine}, want ${EM_RISCV} (EM_RISCV)`);
  if (type !== ET_EXEC && type !== ET_DYN) {
    const what = type === ET_REL ? 'a relocatable object (ET_REL)' : type === ET_CORE ? 'a core dump (ET_CORE)' : `e_type ${type}`;
    throw new ElfError('not-executable', `${what}, want ET_EXEC or ET_DYN`);
  }
  if (dv.getUint32(20, true) !== EV_CURRENT) throw new ElfError('inconsistent', `e_version ${dv.getUint32(20, true)}`);
  const flags = dv.getUint32(48, true);
  checkFlags(flags);

  const entryRaw = dv.getBigUint64(24, true);
  const phoff = dv.getBigUint64(32, true);
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  if (phentsize !== PHDR_SIZE) throw new ElfError('inconsistent', `e_phentsize ${phentsize}, want ${PHDR_SIZE}`);
  if (phnum === 0) throw new ElfError('inconsistent', 'no program headers');
  if (phnum * PHDR_SIZE > MAX_PHDR_BYTES) throw new ElfError('inconsistent', `${phnum} program headers`);
  if (phoff + BigInt(phnum * PHDR_SIZE) > BigInt(src.length)) {
    throw new ElfError('truncated', `program headers end at ${phoff + BigInt(phnum * PHDR_SIZE)}, file has ${src.length} bytes`);
  }
  const ph = src.read(Number(phoff), phnum * PHDR_SIZE);
  const phdrs = readPhdrs(new DataView(ph.buffer, ph.byteOffset, ph.byteLength), 0, phnum);

  const interp = phdrs.find((p) => p.type === PT_INTERP);
  if (interp) throw new ElfError('dynamically-linked', `PT_INTERP requests ${interpName(src, interp)}; only static executables run`);

  let bias = 0;
  if (type === ET_DYN) {
    bias = options.loadBias ?? ET_DYN_DEFAULT_BIAS;
    if (!Number.isSafeInteger(bias) || bias < 0 || bias % PAGE_SIZE !== 0) {
      throw new Error(`parseElf: load bias ${bias} is not a page-aligned address`);
    }
  }
  const biasN = BigInt(bias);

  const segments = loadSegments(phdrs, src.length, biasN);
  const tlsRaw = phdrs.find((p) => p.type === PT_TLS);
  const tls = tlsRaw ? tlsSegment(tlsRaw, src.length, biasN) : null;
  const stack = phdrs.find((p) => p.type === PT_GNU_STACK);
  const dynamic = phdrs.find((p) => p.type === PT_DYNAMIC);

  const entry = entryRaw + biasN;
  const inExec = segments.some((s) => (s.prot & PROT_EXEC) !== 0 && entry >= BigInt(s.va) && entry < BigInt(s.va + s.memSize));
  if (!inExec) throw new ElfError('inconsistent', `entry 0x${entryRaw.toString(16)} is outside every executable segment`);

  const lowVa = segments[0].va;
  const highVa = Math.max(...segments.map((s) => s.va + s.memSize));
  return {
    kind: type === ET_EXEC ? 'exec' : 'static-pie',
    loadBias: bias,
    entry: Number(entry),
    phdrVa: phdrAddress(phdrs, phoff, phnum, biasN),
    phent: PHDR_SIZE,
    phnum,
    flags,
    segments,
    tls,
    execStack: stack !== undefined && (stack.flags & PF_X) !== 0,
    dynamicVa: dynamic ? Number(checkRange(dynamic, 'PT_DYNAMIC', src.length, biasN)) : null,
    lowVa,
    highVa,
    brkStart: Math.ceil(highVa / PAGE_SIZE) * PAGE_SIZE,
  };
}

/** Human-readable summary of the e_flags ABI bits, e.g. "RVC, double-float ABI". */
export function describeElfFlags(flags: number): string {
  const abi = ['soft-float', 'single-float', 'double-float', 'quad-float'][(flags & EF_RISCV_FLOAT_ABI_MASK) >> 1];
  return [flags & EF_RISCV_RVC ? 'RVC' : '', `${abi} ABI`, flags & EF_RISCV_RVE ? 'RVE' : ''].filter(Boolean).join(', ');
}

function checkIdent(file: Uint8Array, dv: DataView, length: number): void {
  if (file.length < 4 || dv.getUint32(0, true) !== ELF_MAGIC) {
    throw new ElfError('not-elf', 'no \\x7fELF magic at offset 0');
  }
  if (length < EHDR_SIZE) throw new ElfError('truncated', `ELF header needs ${EHDR_SIZE} bytes, file has ${length}`);
  const cls = file[4];
  if (cls !== ELFCLASS64) {
    throw new ElfError('not-64-bit', cls === ELFCLASS32 ? 'a 32-bit (ELFCLASS32) file' : `EI_CLASS ${cls}`);
  }
  const data = file[5];
  if (data !== ELFDATA2LSB) {
    throw new ElfError('not-little-endian', data === ELFDATA2MSB ? 'a big-endian (ELFDATA2MSB) file' : `EI_DATA ${data}`);
  }
  if (file[6] !== EV_CURRENT) throw new ElfError('inconsistent', `EI_VERSION ${file[6]}`);
}

function checkFlags(flags: number): void {
  if (flags & EF_RISCV_RVE) throw new ElfError('wrong-abi', 'built for RV32E/RV64E (EF_RISCV_RVE)');
  if ((flags & EF_RISCV_FLOAT_ABI_MASK) !== EF_RISCV_FLOAT_ABI_DOUBLE) {
    throw new ElfError('wrong-abi', `${describeElfFlags(flags)}; the machine runs lp64d (double-float ABI) code`);
  }
}

function readPhdrs(dv: DataView, phoff: number, phnum: number): RawPhdr[] {
  const out: RawPhdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * PHDR_SIZE;
    out.push({
      type: dv.getUint32(o, true),
      flags: dv.getUint32(o + 4, true),
      offset: dv.getBigUint64(o + 8, true),
      vaddr: dv.getBigUint64(o + 16, true),
      filesz: dv.getBigUint64(o + 32, true),
      memsz: dv.getBigUint64(o + 40, true),
      align: dv.getBigUint64(o + 48, true),
    });
  }
  return out;
}

function interpName(src: ElfSource, p: RawPhdr): string {
  const end = p.offset + p.filesz;
  if (p.filesz === 0n || end > BigInt(src.length)) return 'an interpreter';
  const bytes = src.read(Number(p.offset), Math.min(Number(p.filesz), PAGE_SIZE)); // PATH_MAX at most
  const nul = bytes.indexOf(0);
  return new TextDecoder().decode(nul >= 0 ? bytes.subarray(0, nul) : bytes);
}

/** Check one segment's file range and va range; returns its biased va. */
function checkRange(p: RawPhdr, what: string, fileLength: number, bias: bigint): bigint {
  if (p.filesz > p.memsz) throw new ElfError('inconsistent', `${what}: p_filesz 0x${p.filesz.toString(16)} > p_memsz 0x${p.memsz.toString(16)}`);
  if (p.offset + p.filesz > BigInt(fileLength)) {
    throw new ElfError('truncated', `${what}: bytes end at ${p.offset + p.filesz}, file has ${fileLength} bytes`);
  }
  const va = p.vaddr + bias;
  const end = va + p.memsz;
  if (end > BigInt(USER_VA_END)) {
    throw new ElfError('inconsistent', `${what}: va 0x${va.toString(16)}+0x${p.memsz.toString(16)} reaches the kernel half or is non-canonical`);
  }
  return va;
}

function loadSegments(phdrs: RawPhdr[], fileLength: number, bias: bigint): ElfSegment[] {
  const segs: ElfSegment[] = [];
  phdrs.forEach((p, i) => {
    if (p.type !== PT_LOAD) return;
    const what = `PT_LOAD #${i}`;
    const va = checkRange(p, what, fileLength, bias);
    if ((p.vaddr - p.offset) % PAGE !== 0n) {
      throw new ElfError('inconsistent', `${what}: p_offset 0x${p.offset.toString(16)} and p_vaddr 0x${p.vaddr.toString(16)} differ modulo the page size`);
    }
    if (p.memsz === 0n) return;
    if (va < PAGE) throw new ElfError('inconsistent', `${what}: maps page zero (va 0x${va.toString(16)})`);
    const prot = (p.flags & PF_R ? PROT_READ : 0) | (p.flags & PF_W ? PROT_WRITE : 0) | (p.flags & PF_X ? PROT_EXEC : 0);
    segs.push({ va: Number(va), memSize: Number(p.memsz), fileOffset: Number(p.offset), fileSize: Number(p.filesz), prot, flags: p.flags });
  });
  if (segs.length === 0) throw new ElfError('inconsistent', 'no PT_LOAD segment');
  segs.sort((a, b) => a.va - b.va);
  for (let i = 1; i < segs.length; i++) {
    const prev = segs[i - 1];
    if (segs[i].va < prev.va + prev.memSize) {
      throw new ElfError('inconsistent', `PT_LOAD segments overlap: [0x${prev.va.toString(16)}, 0x${(prev.va + prev.memSize).toString(16)}) and 0x${segs[i].va.toString(16)}`);
    }
  }
  return segs;
}

function tlsSegment(p: RawPhdr, fileLength: number, bias: bigint): ElfTls {
  const va = checkRange(p, 'PT_TLS', fileLength, bias);
  const align = p.align === 0n ? 1n : p.align;
  if ((align & (align - 1n)) !== 0n || align > PAGE) throw new ElfError('inconsistent', `PT_TLS: alignment ${p.align}`);
  return { va: Number(va), memSize: Number(p.memsz), fileOffset: Number(p.offset), fileSize: Number(p.filesz), align: Number(align) };
}

/** AT_PHDR as Linux computes it: PT_PHDR's va, else the PT_LOAD whose file bytes hold e_phoff. */
function phdrAddress(phdrs: RawPhdr[], phoff: bigint, phnum: number, bias: bigint): number {
  const pt = phdrs.find((p) => p.type === PT_PHDR);
  if (pt) {
    const va = pt.vaddr + bias;
    if (va >= BigInt(USER_VA_END)) throw new ElfError('inconsistent', `PT_PHDR va 0x${va.toString(16)} is outside the user half`);
    return Number(va);
  }
  const end = phoff + BigInt(phnum * PHDR_SIZE);
  for (const p of phdrs) {
    if (p.type === PT_LOAD && p.offset <= phoff && end <= p.offset + p.filesz) {
      return Number(phoff - p.offset + p.vaddr + bias);
    }
  }
  return 0;
}
