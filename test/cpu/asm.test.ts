import { describe, expect, it } from 'vitest';
import { assemble, AsmError } from '../../cpu/asm/assembler.ts';
import { expandCompressed } from '../../cpu/rvc.ts';

function words(b: Uint8Array): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: b.length / 4 }, (_, i) => dv.getUint32(i * 4, true));
}

/** Run a li sequence (lui/addi/addiw/slli on one register) and return the register. */
function runLi(ws: number[]): bigint {
  const x = new Array<bigint>(32).fill(0n);
  for (const w of ws) {
    const op = w & 0x7f, rd = (w >> 7) & 31, f3 = (w >> 12) & 7, rs1 = (w >> 15) & 31;
    const imm = BigInt(w >> 20);
    if (op === 0x37) x[rd] = BigInt.asIntN(32, BigInt(w & 0xfffff000));
    else if (op === 0x13 && f3 === 0) x[rd] = BigInt.asIntN(64, x[rs1] + imm);
    else if (op === 0x1b && f3 === 0) x[rd] = BigInt.asIntN(32, x[rs1] + imm);
    else if (op === 0x13 && f3 === 1) x[rd] = BigInt.asIntN(64, x[rs1] << BigInt((w >> 20) & 63));
    else throw new Error(`runLi: unexpected word ${w.toString(16)}`);
    x[0] = 0n;
  }
  return x[10];
}

describe('li', () => {
  const tricky = [0n, 1n, -1n, 2047n, 2048n, -2048n, -2049n, 0x80000000n, 0x7fffffffn, -0x80000000n,
    0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, -0x8000000000000000n, 0x123456789abcdef0n,
    0xfedcba9876543210n, 0x7ffff800n, 0x800n, 0xfffn];
  for (const v of tricky) {
    it(`li a0, ${v} loads exactly that value`, () => {
      const ws = words(assemble(`li a0, ${v}`).text);
      expect(runLi(ws)).toBe(BigInt.asIntN(64, v));
      expect(ws.length).toBeLessThanOrEqual(8);
    });
  }
  it('li of 2000 seeded random 64-bit constants evaluates back to the constant', () => {
    let s = 0x9e3779b97f4a7c15n;
    const next = () => { s = BigInt.asUintN(64, s * 6364136223846793005n + 1442695040888963407n); return s; };
    for (let i = 0; i < 2000; i++) {
      const bits = BigInt(1 + Number(next() % 64n));
      const v = BigInt.asIntN(64, next() >> (64n - bits));
      const ws = words(assemble(`li a0, ${v}`).text);
      expect(runLi(ws)).toBe(v);
    }
  });
  it('small and 32-bit constants take one and two instructions', () => {
    expect(assemble('li a0, -5').text.length).toBe(4);
    expect(assemble('li a0, 0x12345678').text.length).toBe(8);
  });
});

describe('labels and symbols', () => {
  it('resolves forward and backward branches and jumps', () => {
    const r = assemble('top: beq a0, a1, end\n nop\n j top\nend: bne a0, a1, top', { textBase: 0x1000 });
    const [b1, , j, b2] = words(r.text);
    expect(b1).toBe(0x00b50663); // beq a0,a1,+12
    expect(j).toBe(0xff9ff06f); // jal x0,-8
    expect(b2).toBe(0xfeb51ae3); // bne a0,a1,-12
    expect(r.symbols.get('end')).toBe(0x100cn);
  });
  it('numeric local labels: 1b is the latest definition, 1f the next one', () => {
    const r = assemble('1: nop\n1: j 1b\n j 1f\n1: j 1b');
    const ws = words(r.text);
    expect(ws[1]).toBe(0x0000006f); // j 1b on the same line → itself
    expect(ws[2]).toBe(0x0040006f); // j 1f → +4
    expect(ws[3]).toBe(0x0000006f);
    expect([...r.symbols.keys()]).toEqual([]);
  });
  it('entry is _start, else textBase; data follows text on the next 4 KiB boundary', () => {
    const r = assemble('nop\n_start: nop\n.data\nx: .word 1', { textBase: 0x40000n });
    expect(r.entry).toBe(0x40004n);
    expect(r.dataBase).toBe(0x41000n);
    expect(r.symbols.get('x')).toBe(0x41000n);
    expect(assemble('nop').entry).toBe(0x10000n);
  });
  it('la and data pointers use absolute addresses', () => {
    const r = assemble('_start: la a0, v\n.data\n.dword 0\nv: .dword v', { textBase: 0x10000, dataBase: 0x200000 });
    const [auipc, addi] = words(r.text);
    const target = 0x10000 + (auipc & 0xfffff000) + (addi >> 20);
    expect(target).toBe(0x200008);
    expect(new DataView(r.data.buffer).getBigUint64(8, true)).toBe(0x200008n);
  });
  it('.equ, .set and `=` define constants usable in expressions and data', () => {
    const r = assemble('.equ N, 3\n.set M, N << 4\nK = M | 1\n.data\n.byte N, M, K, \'a\', -1');
    expect(Array.from(r.data)).toEqual([3, 48, 49, 97, 255]);
    expect(r.symbols.get('K')).toBe(49n);
  });
  it('strings take C escapes', () => {
    expect(Array.from(assemble('.data\n.asciz "a\\n\\t\\x41\\101\\""').data)).toEqual([97, 10, 9, 65, 65, 34, 0]);
  });
});

describe('errors carry the line number', () => {
  const cases: [string, number, RegExp][] = [
    ['nop\n  frob a0, a1', 2, /unknown mnemonic 'frob'/],
    ['nop\nnop\n add a0, a1, q7', 3, /bad register 'q7'/],
    ['addi a0, a0, 2048', 1, /immediate out of range: 2048/],
    ['slli a0, a0, 64', 1, /shift amount out of range/],
    ['nop\n j nowhere', 2, /undefined symbol 'nowhere'/],
    ['x: nop\nx: nop', 2, /duplicate label 'x' \(first defined on line 1\)/],
    ['beq a0, a1, far\n.zero 8192\nfar: nop', 1, /branch offset out of range/],
    ['lw a0, 4096(sp)', 1, /offset out of range/],
    ['nop\n.frobnicate 1', 2, /unknown directive '\.frobnicate'/],
    ['li a0, later\nlater: nop', 1, /'later' must be a constant defined before this line/],
    ['add a0, a1', 1, /add: expected 3 operands, got 2/],
    ['fadd.d fa0, fa1, fa2, rtx', 1, /bad rounding mode/],
    ['.byte 256', 1, /does not fit in 1 byte/],
    ['j 1b', 1, /undefined local label '1b'/],
    ['j 1f', 1, /undefined symbol 'local label 1'/],
    ['ld a0, 0(a9)', 1, /bad register 'a9'/],
  ];
  for (const [src, line, msg] of cases) {
    it(`${JSON.stringify(src)} → line ${line}: ${msg.source}`, () => {
      let err: unknown;
      try { assemble(src); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(AsmError);
      expect((err as AsmError).line).toBe(line);
      expect((err as AsmError).message).toMatch(new RegExp(`^line ${line}: `));
      expect((err as AsmError).message).toMatch(msg);
    });
  }
});

describe('compress option', () => {
  const src = `_start: addi sp, sp, -32
    sd ra, 24(sp)
    li a0, 5
    mv a1, a0
    add a0, a0, a1
    ld ra, 24(sp)
    addi sp, sp, 32
    beqz a0, _start
    lui a2, 0x12345
    ret`;
  it('emits 16-bit forms that expand to exactly the uncompressed words', () => {
    const full = words(assemble(src).text);
    const small = assemble(src, { compress: true }).text;
    expect(small.length).toBeLessThan(full.length * 4);
    const dv = new DataView(small.buffer);
    const expanded: number[] = [];
    for (let i = 0; i < small.length;) {
      const h = dv.getUint16(i, true);
      if ((h & 3) !== 3) { expanded.push(expandCompressed(h)); i += 2; } else { expanded.push(dv.getUint32(i, true)); i += 4; }
    }
    // Only the branch (label operand) and lui 0x12345 (no 6-bit form) stay 32-bit.
    expect(small.length).toBe(8 * 2 + 2 * 4);
    // Compare with branch offsets masked (sizes moved the target) and `mv` (addi rd,rs,0)
    // written as c.mv's `add rd,x0,rs`.
    const norm = (w: number, i: number) => i === 7 ? w & 0x1fff07f :
      (w & 0xfff0707f) === 0x13 ? ((((w >> 15) & 31) << 20) | (w & 0xf80) | 0x33) >>> 0 : w;
    expect(expanded.map(norm)).toEqual(full.map(norm));
    expect(full[3]).toBe(0x00050593); // mv a1, a0 = addi a1, a0, 0
  });
  it('.option rvc / norvc switch compression per region', () => {
    expect(assemble('.option rvc\nmv a0, a1\n.option norvc\nmv a0, a1').text.length).toBe(6);
  });
});
