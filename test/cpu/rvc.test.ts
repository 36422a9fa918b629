import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { expandCompressed } from '../../cpu/rvc.ts';

// Reference: every halfword's expansion derived from binutils by test/fixtures/gen/rvc-gen.ts.
const fixture = JSON.parse(readFileSync(new URL('../fixtures/rvc-expansion.json', import.meta.url), 'utf8'));
const raw = gunzipSync(Buffer.from(fixture.table, 'base64'));
const expected = new Uint32Array(raw.buffer, raw.byteOffset, 0x10000);

function hex(n: number, w = 8): string { return '0x' + n.toString(16).padStart(w, '0'); }

describe('expandCompressed: exhaustive cross-check against binutils', () => {
  it('matches the objdump-derived expansion for all 49152 compressed halfwords', () => {
    const mismatches: string[] = [];
    let legal = 0;
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 3) === 3) continue;
      const got = expandCompressed(h);
      if (got !== 0) legal++;
      if (got !== expected[h] && mismatches.length < 20) {
        mismatches.push(`${hex(h, 4)}: got ${hex(got)} want ${hex(expected[h])}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(legal).toBe(fixture.legal);
    expect(legal).toBe(46743);
  });

  it('returns unsigned 32-bit words with low bits 11', () => {
    for (let h = 0; h < 0x10000; h++) {
      const w = expandCompressed(h);
      if (w === 0) continue;
      expect(w).toBeGreaterThan(0);
      expect(w).toBeLessThanOrEqual(0xffffffff);
      expect(w & 3).toBe(3);
    }
  });

  it('returns 0 for 32-bit instructions (low bits 11) and ignores bits above 15', () => {
    expect(expandCompressed(0x0003)).toBe(0);
    expect(expandCompressed(0xffff)).toBe(0);
    expect(expandCompressed(0x12340000 | 0x4501)).toBe(expandCompressed(0x4501));
  });
});

describe('expandCompressed: reserved encodings (RV64)', () => {
  const reserved: [string, number][] = [
    ['all-zero halfword', 0x0000],
    ['C.ADDI4SPN nzuimm=0, rd=a0', 0x0008],
    ['quadrant 0 funct3=100', 0x8000],
    ['C.ADDIW rd=0', 0x2005],
    ['C.ADDI16SP nzimm=0', 0x6101],
    ['C.LUI nzimm=0 rd=a0', 0x6501],
    ['C.LUI nzimm=0 rd=0', 0x6001],
    ['C.LWSP rd=0', 0x4002],
    ['C.LDSP rd=0', 0x6002],
    ['C.JR rs1=0', 0x8002],
    ['reserved 100-1-11-xxx-10 (RV64)', 0x9c41],
    ['reserved 100-1-11-xxx-11 (RV64)', 0x9c61],
  ];
  for (const [name, h] of reserved) {
    it(`${name} (${hex(h, 4)}) is illegal`, () => expect(expandCompressed(h)).toBe(0));
  }
});

describe('expandCompressed: named forms', () => {
  // Expected words from `riscv64-linux-gnu-as -march=rv64g` of the full form.
  const cases: [string, number, number][] = [
    ['c.addi4spn a0,sp,16 → addi a0,sp,16', 0x0808, 0x01010513],
    ['c.fld fa0,8(a1) → fld', 0x2588, 0x0085b507],
    ['c.lw a0,4(a1) → lw', 0x41c8, 0x0045a503],
    ['c.ld a0,8(a1) → ld', 0x6588, 0x0085b503],
    ['c.fsd fa0,8(a1) → fsd', 0xa588, 0x00a5b427],
    ['c.sw a0,4(a1) → sw', 0xc1c8, 0x00a5a223],
    ['c.sd a0,8(a1) → sd', 0xe588, 0x00a5b423],
    ['c.nop → addi x0,x0,0', 0x0001, 0x00000013],
    ['c.addi a0,-1', 0x157d, 0xfff50513],
    ['c.addiw a0,1 → addiw a0,a0,1', 0x2505, 0x0015051b],
    ['c.li a0,-32', 0x5501, 0xfe000513],
    ['c.addi16sp sp,-512', 0x7101, 0xe0010113],
    ['c.lui a0,0xfffe1 (nzimm=-31)', 0x7505, 0xfffe1537],
    ['c.srli a0,63 (shamt[5]=1 legal in RV64)', 0x917d, 0x03f55513],
    ['c.srai a0,32', 0x9501, 0x42055513],
    ['c.andi a0,-1', 0x997d, 0xfff57513],
    ['c.sub s0,s1', 0x8c05, 0x40940433],
    ['c.subw s0,s1', 0x9c05, 0x4094043b],
    ['c.addw s0,s1', 0x9c25, 0x0094043b],
    ['c.j .-2048', 0xb001, 0x801ff06f],
    ['c.beqz a0,.+254', 0xcd7d, 0x0e050f63],
    ['c.bnez a0,.-256', 0xf101, 0xf00510e3],
    ['c.slli a0,63', 0x157e, 0x03f51513],
    ['c.fldsp fa0,504(sp)', 0x357e, 0x1f813507],
    ['c.lwsp a0,252(sp)', 0x557e, 0x0fc12503],
    ['c.ldsp a0,504(sp)', 0x757e, 0x1f813503],
    ['c.jr ra → jalr x0,0(ra)', 0x8082, 0x00008067],
    ['c.mv a0,a1 → add a0,x0,a1', 0x852e, 0x00b00533],
    ['c.ebreak', 0x9002, 0x00100073],
    ['c.jalr a0 → jalr ra,0(a0)', 0x9502, 0x000500e7],
    ['c.add a0,a1', 0x952e, 0x00b50533],
    ['c.fsdsp fa0,504(sp)', 0xbfaa, 0x1ea13c27],
    ['c.swsp a0,252(sp)', 0xdfaa, 0x0ea12e23],
    ['c.sdsp a0,504(sp)', 0xffaa, 0x1ea13c23],
  ];
  for (const [name, h, w] of cases) {
    it(name, () => expect(hex(expandCompressed(h))).toBe(hex(w)));
  }
});

describe('expandCompressed: HINTs expand to instructions that change nothing', () => {
  // A HINT must write only x0, or shift by zero (rd ← rd): either way no state changes.
  function rdOf(w: number): number { return (w >> 7) & 31; }
  const hints: [string, number][] = [
    ['C.NOP nzimm≠0', 0x0005],
    ['C.ADDI rd≠0 nzimm=0', 0x0501],
    ['C.LI rd=0', 0x4005],
    ['C.LUI rd=0', 0x6005],
    ['C.MV rd=0', 0x802e],
    ['C.ADD rd=0', 0x902e],
    ['C.SLLI rd=0', 0x0006],
  ];
  for (const [name, h] of hints) {
    it(`${name} (${hex(h, 4)}) writes x0 or adds 0`, () => {
      const w = expandCompressed(h);
      expect(w).not.toBe(0);
      const addsZeroToItself = (w & 0xfff0707f) === 0x00000013 && rdOf(w) === ((w >> 15) & 31);
      expect(rdOf(w) === 0 || addsZeroToItself).toBe(true);
    });
  }
  for (const [name, h] of [['C.SLLI a0,0', 0x0502], ['C.SRLI s0,0', 0x8001], ['C.SRAI s0,0', 0x8401]] as const) {
    it(`${name} is a shift of rd by 0 into rd`, () => {
      const w = expandCompressed(h);
      expect(w & 0x7f).toBe(0x13);
      expect((w >> 20) & 0x3f).toBe(0); // shamt 0
      expect(rdOf(w)).toBe((w >> 15) & 31);
    });
  }
});

describe('expandCompressed: speed', () => {
  it('expands all 65536 halfwords 20 times in well under a second', () => {
    const t0 = performance.now();
    let acc = 0;
    for (let r = 0; r < 20; r++) for (let h = 0; h < 0x10000; h++) acc ^= expandCompressed(h);
    const ms = performance.now() - t0;
    expect(acc).not.toBe(-1);
    expect(ms).toBeLessThan(1000);
  });
});
