import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import {
  ElfError, ET_DYN_DEFAULT_BIAS, PT_INTERP, PT_LOAD, PT_NULL, PT_PHDR, parseElf, type ElfErrorReason,
} from '../../../kernel/proc/elf.ts';
import { PROT_EXEC, PROT_READ, PROT_WRITE } from '../../../kernel/linux-flags.ts';
import { hasTool } from '../../helpers/tools.ts';

// Fixtures built by test/fixtures/gen/elf-fixtures.sh from elf-tiny.c.
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../../fixtures/elf/${name}`, import.meta.url)));
const tinyExec = fixture('tiny-exec');
const tinyPie = fixture('tiny-pie');
const tinyInterp = fixture('tiny-interp');
const guestsDir = new URL('../../../guests/bin/', import.meta.url);
const guests = existsSync(guestsDir) ? readdirSync(guestsDir).filter((f) => !f.startsWith('.')) : [];

/** A mutable copy with little-endian field setters. */
function mutate(file: Uint8Array, edit: (dv: DataView, b: Uint8Array) => void): Uint8Array {
  const b = file.slice();
  edit(new DataView(b.buffer), b);
  return b;
}
const phoff = (b: Uint8Array) => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(32, true));
const ph = (b: Uint8Array, i: number) => phoff(b) + 56 * i;
/** Index of the n-th program header of the given type. */
function phIndex(b: Uint8Array, type: number, n = 0): number {
  const dv = new DataView(b.buffer, b.byteOffset);
  const count = dv.getUint16(56, true);
  for (let i = 0; i < count; i++) if (dv.getUint32(ph(b, i), true) === type && n-- === 0) return i;
  throw new Error(`no program header of type ${type}`);
}

function refusal(file: Uint8Array): ElfError {
  try {
    parseElf(file);
  } catch (e) {
    if (e instanceof ElfError) return e;
    throw e;
  }
  throw new Error('parseElf accepted the file');
}
function expectRefused(file: Uint8Array, reason: ElfErrorReason, text: RegExp): void {
  const e = refusal(file);
  expect(e.reason).toBe(reason);
  expect(e.message).toMatch(/^elf: /);
  expect(e.message).toMatch(text);
}

describe('parseElf: the static ET_EXEC fixture', () => {
  const img = parseElf(tinyExec);
  it('reads entry, segments, protections and bss sizes as readelf shows them', () => {
    expect(img.kind).toBe('exec');
    expect(img.loadBias).toBe(0);
    expect(img.entry).toBe(0x10190);
    expect(img.segments).toEqual([
      { va: 0x10000, memSize: 0x1b0, fileOffset: 0, fileSize: 0x1b0, prot: PROT_READ | PROT_EXEC, flags: 5 },
      { va: 0x11ff8, memSize: 0x1010, fileOffset: 0xff8, fileSize: 0x10, prot: PROT_READ | PROT_WRITE, flags: 6 },
    ]);
    expect(img.lowVa).toBe(0x10000);
    expect(img.highVa).toBe(0x13008);
    expect(img.brkStart).toBe(0x14000);
  });
  it('finds PT_TLS, PT_GNU_STACK and the flags', () => {
    expect(img.tls).toEqual({ va: 0x11ff8, memSize: 8, fileOffset: 0xff8, fileSize: 8, align: 8 });
    expect(img.execStack).toBe(false);
    expect(img.flags).toBe(5); // RVC | double-float
    expect(img.dynamicVa).toBeNull();
  });
  it('computes AT_PHDR from the PT_LOAD that covers e_phoff (no PT_PHDR)', () => {
    expect(img.phdrVa).toBe(0x10000 + phoff(tinyExec));
    expect(img.phent).toBe(56);
    expect(img.phnum).toBe(6);
  });
});

describe('parseElf: the static-pie ET_DYN fixture', () => {
  it('applies the default load bias to every address', () => {
    const img = parseElf(tinyPie);
    expect(img.kind).toBe('static-pie');
    expect(img.loadBias).toBe(ET_DYN_DEFAULT_BIAS);
    expect(img.entry).toBe(ET_DYN_DEFAULT_BIAS + 0x21a);
    expect(img.segments.map((s) => s.va)).toEqual([ET_DYN_DEFAULT_BIAS, ET_DYN_DEFAULT_BIAS + 0x1ef8]);
    expect(img.dynamicVa).toBe(ET_DYN_DEFAULT_BIAS + 0x1f00);
    expect(img.phdrVa).toBe(ET_DYN_DEFAULT_BIAS + 0x40);
    expect(img.tls?.va).toBe(ET_DYN_DEFAULT_BIAS + 0x1ef8);
  });
  it('takes a chosen bias, and refuses a misaligned one', () => {
    const img = parseElf(tinyPie, { loadBias: 0x40000000 });
    expect(img.entry).toBe(0x4000021a);
    expect(img.brkStart).toBe(0x40004000);
    expect(() => parseElf(tinyPie, { loadBias: 0x40000010 })).toThrow(/parseElf: load bias/);
  });
  it('ignores the bias option for ET_EXEC', () => {
    expect(parseElf(tinyExec, { loadBias: 0x40000000 }).entry).toBe(0x10190);
  });
  it('uses PT_PHDR when present', () => {
    // Turn PT_GNU_STACK (index 3) into a PT_PHDR at an address of our choosing.
    const b = mutate(tinyPie, (dv) => {
      const o = ph(tinyPie, 3);
      dv.setUint32(o, PT_PHDR, true);
      dv.setBigUint64(o + 16, 0x123n, true);
    });
    expect(parseElf(b, { loadBias: 0x100000 }).phdrVa).toBe(0x100123);
  });
});

describe.skipIf(guests.length === 0)('parseElf: the bundled guests', () => {
  const haveReadelf = hasTool('riscv64-linux-gnu-readelf');
  for (const name of guests) {
    it(`${name}: a static glibc ET_EXEC with TLS and an executable entry`, () => {
      const file = new Uint8Array(readFileSync(new URL(name, guestsDir)));
      const img = parseElf(file);
      expect(img.kind).toBe('exec');
      expect(img.tls).not.toBeNull();
      expect(img.phdrVa).toBeGreaterThan(0);
      const text = img.segments.find((s) => s.prot & PROT_EXEC)!;
      expect(img.entry).toBeGreaterThanOrEqual(text.va);
      expect(img.entry).toBeLessThan(text.va + text.memSize);
      expect(img.segments.some((s) => s.memSize > s.fileSize && s.prot & PROT_WRITE)).toBe(true);
    });
    it.skipIf(!haveReadelf)(`${name}: agrees with readelf${haveReadelf ? '' : ' (skipped: riscv64-linux-gnu-readelf not installed)'} on entry and PT_LOADs`, () => {
      const out = execFileSync('riscv64-linux-gnu-readelf', ['-lW', new URL(name, guestsDir).pathname], { encoding: 'utf8' });
      const entry = Number.parseInt(/Entry point (0x[0-9a-f]+)/.exec(out)![1], 16);
      const loads = [...out.matchAll(/^\s+LOAD\s+(0x\w+) (0x\w+) 0x\w+ (0x\w+) (0x\w+)/gm)].map((m) => m.slice(1).map((x) => Number.parseInt(x, 16)));
      const img = parseElf(new Uint8Array(readFileSync(new URL(name, guestsDir))));
      expect(img.entry).toBe(entry);
      expect(img.segments.map((s) => [s.fileOffset, s.va, s.fileSize, s.memSize])).toEqual(loads);
    });
  }
});

describe('parseElf: refusals say which rule was broken', () => {
  it('not an ELF', () => {
    expectRefused(new TextEncoder().encode('#!/bin/sh\necho hi\n'), 'not-elf', /magic/);
    expectRefused(new Uint8Array(0), 'not-elf', /magic/);
    expectRefused(mutate(tinyExec, (_, b) => (b[1] = 0x45 + 1)), 'not-elf', /magic/);
  });
  it('32-bit, big-endian, bad EI_VERSION', () => {
    expectRefused(mutate(tinyExec, (_, b) => (b[4] = 1)), 'not-64-bit', /32-bit/);
    expectRefused(mutate(tinyExec, (_, b) => (b[5] = 2)), 'not-little-endian', /big-endian/);
    expectRefused(mutate(tinyExec, (_, b) => (b[6] = 0)), 'inconsistent', /EI_VERSION/);
  });
  it('wrong machine', () => {
    expectRefused(mutate(tinyExec, (dv) => dv.setUint16(18, 62, true)), 'not-riscv', /e_machine 62/);
  });
  it('relocatable objects, core dumps and unknown types are not executables', () => {
    expectRefused(mutate(tinyExec, (dv) => dv.setUint16(16, 1, true)), 'not-executable', /ET_REL/);
    expectRefused(mutate(tinyExec, (dv) => dv.setUint16(16, 4, true)), 'not-executable', /ET_CORE/);
    expectRefused(mutate(tinyExec, (dv) => dv.setUint16(16, 0, true)), 'not-executable', /e_type 0/);
  });
  it('a float ABI other than double, or RVE', () => {
    expectRefused(mutate(tinyExec, (dv) => dv.setUint32(48, 1, true)), 'wrong-abi', /soft-float/);
    expectRefused(mutate(tinyExec, (dv) => dv.setUint32(48, 3, true)), 'wrong-abi', /single-float/);
    expectRefused(mutate(tinyExec, (dv) => dv.setUint32(48, 0xd, true)), 'wrong-abi', /RVE/);
    expect(parseElf(mutate(tinyExec, (dv) => dv.setUint32(48, 4, true))).flags).toBe(4); // no RVC is fine
  });
  it('dynamically linked: a real PT_INTERP, and one added to a static file', () => {
    expectRefused(tinyInterp, 'dynamically-linked', /ld-linux-riscv64-lp64d\.so\.1/);
    const b = mutate(tinyExec, (dv) => dv.setUint32(ph(tinyExec, phIndex(tinyExec, 0x6474e551)), PT_INTERP, true));
    expectRefused(b, 'dynamically-linked', /PT_INTERP/);
  });
  it('truncated: header, program headers, segment bytes', () => {
    expectRefused(tinyExec.slice(0, 40), 'truncated', /ELF header/);
    expectRefused(tinyExec.slice(0, phoff(tinyExec) + 100), 'truncated', /program headers/);
    expectRefused(tinyExec.slice(0, 0x1000), 'truncated', /PT_LOAD #\d: bytes end at 4104/);
  });
  it('inconsistent: filesz > memsz', () => {
    const b = mutate(tinyExec, (dv) => dv.setBigUint64(ph(tinyExec, phIndex(tinyExec, PT_LOAD, 1)) + 32, 0x2000n, true));
    // filesz 0x2000 also runs past the file, but filesz > memsz is checked first.
    expectRefused(b, 'inconsistent', /p_filesz 0x2000 > p_memsz 0x1010/);
  });
  it('inconsistent: overlapping PT_LOADs', () => {
    const b = mutate(tinyExec, (dv) => dv.setBigUint64(ph(tinyExec, phIndex(tinyExec, PT_LOAD, 0)) + 40, 0x3000n, true));
    expectRefused(b, 'inconsistent', /overlap/);
  });
  it('inconsistent: p_offset and p_vaddr differ modulo the page size', () => {
    const b = mutate(tinyExec, (dv) => dv.setBigUint64(ph(tinyExec, phIndex(tinyExec, PT_LOAD, 1)) + 16, 0x12000n, true));
    expectRefused(b, 'inconsistent', /modulo the page size/);
  });
  it('inconsistent: a segment in the kernel half, non-canonical, or in page zero', () => {
    const at = (va: bigint) => mutate(tinyExec, (dv) => dv.setBigUint64(ph(tinyExec, phIndex(tinyExec, PT_LOAD, 1)) + 16, va, true));
    expectRefused(at(0xffffffc000011ff8n), 'inconsistent', /kernel half/);
    expectRefused(at(0x0000800000000ff8n), 'inconsistent', /kernel half/);
    expectRefused(at(0x7ffffffffff8n), 'inconsistent', /kernel half/); // ends past 2^47
    expectRefused(at(0xff8n), 'inconsistent', /page zero/);
    expect(() => parseElf(tinyPie, { loadBias: 0 })).toThrow(/page zero/); // a static-pie at bias 0
  });
  it('inconsistent: no PT_LOAD, entry outside every executable segment, bad e_phentsize', () => {
    const noLoad = mutate(tinyExec, (dv) => {
      dv.setUint32(ph(tinyExec, phIndex(tinyExec, PT_LOAD, 0)), PT_NULL, true);
      dv.setUint32(ph(tinyExec, phIndex(tinyExec, PT_LOAD, 1)), PT_NULL, true);
    });
    expectRefused(noLoad, 'inconsistent', /no PT_LOAD/);
    expectRefused(mutate(tinyExec, (dv) => dv.setBigUint64(24, 0x12000n, true)), 'inconsistent', /entry 0x12000 is outside/);
    expectRefused(mutate(tinyExec, (dv) => dv.setBigUint64(24, 0x101b0n, true)), 'inconsistent', /entry/); // one past text
    expectRefused(mutate(tinyExec, (dv) => dv.setUint16(54, 32, true)), 'inconsistent', /e_phentsize 32/);
    expectRefused(mutate(tinyExec, (dv) => dv.setUint16(56, 0, true)), 'inconsistent', /no program headers/);
  });
  it('inconsistent: PT_TLS with filesz > memsz', () => {
    const b = mutate(tinyExec, (dv) => dv.setBigUint64(ph(tinyExec, phIndex(tinyExec, 7)) + 32, 16n, true));
    expectRefused(b, 'inconsistent', /PT_TLS: p_filesz/);
  });
});
