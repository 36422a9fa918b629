import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_EXECFN, AT_FLAGS, AT_GID, AT_HWCAP, AT_MINSIGSTKSZ, AT_NULL,
  AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM, AT_RANDOM, AT_SECURE, AT_SYSINFO_EHDR, AT_UID, AT_BASE,
  HWCAP_RV64IMAFDC, InitStackError, MAX_ARG_STRLEN, buildInitialStack, parseInitialStack, riscvHwcap,
  type InitialStackInput,
} from '../../../kernel/proc/initstack.ts';

// What qemu-riscv64 gives a static glibc binary (test/fixtures/gen/initstack.sh).
interface QemuStack {
  sp_mod_16: number; argc: number; auxv_off: number;
  argv: { off: number; str: string }[]; envp: { off: number; str: string }[];
  auxv: { type: number; value?: number; off?: number; str?: string }[];
}
const qemu = JSON.parse(readFileSync(new URL('../../fixtures/initstack-qemu.json', import.meta.url), 'utf8')) as QemuStack;

const random = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const TOP = 0x7ffff000_0000 as number;
function input(over: Partial<InitialStackInput> = {}): InitialStackInput {
  return {
    stackTop: TOP,
    argv: ['prog', 'one', 'two words'],
    envp: ['HOME=/root', 'LANG=C'],
    execfn: '/bin/prog',
    random,
    aux: { phdr: 0x10040, phent: 56, phnum: 9, entry: 0x10500, uid: 1000, euid: 1001, gid: 100, egid: 101 },
    ...over,
  };
}

describe('buildInitialStack: the layout read back', () => {
  const st = buildInitialStack(input());
  const back = parseInitialStack(st.bytes, st.base);
  it('argc, argv and envp round-trip; sp is 16-byte aligned and points at argc', () => {
    expect(back.argc).toBe(3);
    expect(back.argv).toEqual(['prog', 'one', 'two words']);
    expect(back.envp).toEqual(['HOME=/root', 'LANG=C']);
    expect(st.sp).toBe(BigInt(st.base));
    expect(st.base % 16).toBe(0);
    expect(st.base + st.bytes.length).toBe(TOP);
    expect(st.argvVa).toBe(st.base + 8);
    expect(st.envpVa).toBe(st.argvVa + 4 * 8);
    expect(st.auxvVa).toBe(st.envpVa + 3 * 8);
  });
  it('auxv carries every value in Linux riscv order, ending with AT_NULL', () => {
    expect(back.auxv.map(([t]) => t)).toEqual([
      AT_MINSIGSTKSZ, AT_HWCAP, AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT, AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY,
      AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE, AT_RANDOM, AT_EXECFN, AT_NULL,
    ]);
    const aux = new Map(back.auxv);
    expect(aux.get(AT_PHDR)).toBe(0x10040n);
    expect(aux.get(AT_PHENT)).toBe(56n);
    expect(aux.get(AT_PHNUM)).toBe(9n);
    expect(aux.get(AT_ENTRY)).toBe(0x10500n);
    expect(aux.get(AT_PAGESZ)).toBe(4096n);
    expect(aux.get(AT_CLKTCK)).toBe(100n);
    expect(aux.get(AT_HWCAP)).toBe(0x112dn);
    expect(aux.get(AT_MINSIGSTKSZ)).toBe(1088n);
    expect([aux.get(AT_UID), aux.get(AT_EUID), aux.get(AT_GID), aux.get(AT_EGID)]).toEqual([1000n, 1001n, 100n, 101n]);
    expect(aux.get(AT_BASE)).toBe(0n);
    expect(aux.get(AT_SECURE)).toBe(0n);
    expect(st.auxv).toEqual(back.auxv);
  });
  it('AT_RANDOM points at the 16 given bytes, AT_EXECFN at the path, both on the stack', () => {
    const aux = new Map(back.auxv);
    const r = Number(aux.get(AT_RANDOM)) - st.base;
    expect([...st.bytes.subarray(r, r + 16)]).toEqual([...random]);
    expect(Number(aux.get(AT_EXECFN))).toBe(st.execfnVa);
    const e = st.execfnVa - st.base;
    expect(new TextDecoder().decode(st.bytes.subarray(e, e + 10))).toBe('/bin/prog\0');
  });
  it('strings sit at the top: argv then envp then execfn, then 8 zero bytes', () => {
    const text = new TextDecoder().decode(st.bytes.subarray(st.argStart - st.base));
    expect(text).toBe('prog\0one\0two words\0HOME=/root\0LANG=C\0/bin/prog\0\0\0\0\0\0\0\0\0');
    expect(st.argEnd).toBe(st.envStart);
    expect(st.envEnd).toBe(st.execfnVa);
    expect(st.randomVa % 16).toBe(0);
    expect(st.randomVa + 16).toBeLessThanOrEqual(st.argStart);
    expect(st.argStart - (st.randomVa + 16)).toBeLessThan(16);
  });
  it('an optional vDSO goes first; minsigstksz can be left out', () => {
    const s = buildInitialStack(input({ aux: { ...input().aux, sysinfoEhdr: 0x3fff000, minsigstksz: null } }));
    const types = parseInitialStack(s.bytes, s.base).auxv.map(([t]) => t);
    expect(types[0]).toBe(AT_SYSINFO_EHDR);
    expect(types).not.toContain(AT_MINSIGSTKSZ);
  });
  it('empty argv and envp, raw byte strings', () => {
    const s = buildInitialStack(input({ argv: [], envp: [], execfn: Uint8Array.of(0x2f, 0xff) }));
    const back2 = parseInitialStack(s.bytes, s.base);
    expect(back2.argc).toBe(0);
    expect(back2.envp).toEqual([]);
    expect([...s.bytes.subarray(s.execfnVa - s.base, s.execfnVa - s.base + 3)]).toEqual([0x2f, 0xff, 0]);
  });
  it('is 16-byte aligned for every argument count', () => {
    for (let n = 0; n < 6; n++) {
      for (let len = 0; len < 17; len += 3) {
        const s = buildInitialStack(input({ argv: Array.from({ length: n }, () => 'x'.repeat(len)), envp: ['A=1'] }));
        expect(s.base % 16).toBe(0);
        expect(parseInitialStack(s.bytes, s.base).argv.length).toBe(n);
      }
    }
  });
});

describe('buildInitialStack: limits', () => {
  it('refuses an over-long string or too much in total with E2BIG', () => {
    expect(() => buildInitialStack(input({ argv: ['x'.repeat(MAX_ARG_STRLEN)] }))).toThrow(InitStackError);
    try {
      buildInitialStack(input({ envp: Array.from({ length: 100 }, () => 'y'.repeat(1000)), maxBytes: 64 * 1024 }));
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(InitStackError);
      expect((e as InitStackError).errno).toBe(7);
    }
  });
  it('refuses a NUL inside a string, a misaligned top, a short random', () => {
    expect(() => buildInitialStack(input({ argv: ['a\0b'] }))).toThrow(/NUL/);
    expect(() => buildInitialStack(input({ stackTop: TOP - 8 }))).toThrow(/aligned/);
    expect(() => buildInitialStack(input({ random: new Uint8Array(8) }))).toThrow(/16 bytes/);
  });
});

describe('buildInitialStack vs qemu-riscv64 (fixture from a real static binary)', () => {
  // Same strings and the same number of auxv entries as qemu gave (17: no AT_MINSIGSTKSZ).
  const qemuTop = qemu.auxv.find((a) => a.type === AT_EXECFN)!.off! + qemu.auxv.find((a) => a.type === AT_EXECFN)!.str!.length + 1 + 8;
  const st = buildInitialStack({
    stackTop: TOP,
    argv: qemu.argv.map((a) => a.str),
    envp: qemu.envp.map((e) => e.str),
    execfn: qemu.auxv.find((a) => a.type === AT_EXECFN)!.str!,
    random,
    aux: { phdr: 0x10040, phent: 56, phnum: 7, entry: 0x10500, minsigstksz: null },
  });
  const off = (va: number) => va - st.base;
  it('the fixture has the auxv entries we emit (apart from AT_MINSIGSTKSZ) and the same count', () => {
    expect(qemu.auxv.length).toBe(st.auxv.length);
    expect(new Set(qemu.auxv.map((a) => a.type))).toEqual(new Set(st.auxv.map(([t]) => t)));
    expect(qemu.auxv.find((a) => a.type === AT_HWCAP)!.value).toBe(HWCAP_RV64IMAFDC);
    expect(qemu.auxv.find((a) => a.type === AT_PAGESZ)!.value).toBe(4096);
    expect(qemu.auxv.find((a) => a.type === AT_CLKTCK)!.value).toBe(100);
  });
  it('every string, AT_RANDOM and the auxv array sit at the same offsets from sp', () => {
    expect(qemu.sp_mod_16).toBe(0);
    expect(st.bytes.length).toBe(qemuTop);
    expect(off(st.auxvVa)).toBe(qemu.auxv_off);
    expect(off(st.randomVa)).toBe(qemu.auxv.find((a) => a.type === AT_RANDOM)!.off);
    expect(off(st.execfnVa)).toBe(qemu.auxv.find((a) => a.type === AT_EXECFN)!.off);
    const back = parseInitialStack(st.bytes, st.base);
    expect(back.argc).toBe(qemu.argc);
    const dv = new DataView(st.bytes.buffer);
    qemu.argv.forEach((a, i) => expect(Number(dv.getBigUint64(off(st.argvVa) + 8 * i, true)) - st.base).toBe(a.off));
    qemu.envp.forEach((e, i) => expect(Number(dv.getBigUint64(off(st.envpVa) + 8 * i, true)) - st.base).toBe(e.off));
  });
});

describe('riscvHwcap', () => {
  it('sets bit letter-a per extension', () => {
    expect(riscvHwcap('i')).toBe(1 << 8);
    expect(riscvHwcap('IMAFDC')).toBe(HWCAP_RV64IMAFDC);
    expect(() => riscvHwcap('g1')).toThrow(/riscvHwcap/);
  });
});
