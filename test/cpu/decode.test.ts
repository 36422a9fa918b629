// The decoder: fields, immediates, illegal encodings, compressed length, and that the run
// loop's literal case numbers agree with the OP_* constants.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as D from '../../cpu/decode.ts';
import * as E from '../helpers/encode.ts';
import { CODE, makeHart, writeWords } from './hart-harness.ts';
import { CAUSE_ILLEGAL_INSTRUCTION, EXIT_TRAP } from '../../cpu/trap.ts';

function decode(insn: number): { op: number; rd: number; rs1: number; rs2: number; len: number; imm: number } {
  const ops = new Uint8Array(1), args = new Int32Array(1), imms = new Int32Array(1);
  D.decodeHalves(ops, args, imms, 0, insn & 0xffff, insn >>> 16);
  const a = args[0];
  return { op: ops[0], rd: a & 0xff, rs1: (a >>> 8) & 0xff, rs2: (a >>> 16) & 0xff, len: a >>> 24, imm: imms[0] };
}

describe('decoder', () => {
  it('the run loop switch uses the OP_* numbers of cpu/decode.ts', () => {
    const src = readFileSync(new URL('../../cpu/hart-run.ts', import.meta.url), 'utf8');
    const cases = [...src.matchAll(/case (\d+): (?:\{ )?\/\/ (OP_[A-Z_0-9]+)/g)];
    expect(cases.length).toBeGreaterThan(70);
    const consts = D as unknown as Record<string, number>;
    for (const [, num, name] of cases) expect(consts[name], name).toBe(Number(num));
    const seen = new Set(cases.map((c) => c[2]));
    for (const name of Object.keys(consts)) {
      if (name.startsWith('OP_') && consts[name] > D.OP_LAST_SPECIAL && consts[name] < D.OP_COUNT) {
        expect(seen.has(name), `run loop handles ${name}`).toBe(true);
      }
    }
  });

  it('extracts registers (doubled) and redirects rd = x0 to the sink', () => {
    expect(decode(E.add(3, 4, 5))).toMatchObject({ op: D.OP_ADD, rd: 6, rs1: 8, rs2: 10, len: 4 });
    expect(decode(E.add(0, 31, 1))).toMatchObject({ rd: D.X_SINK, rs1: 62, rs2: 2 });
    expect(decode(E.flw(0, 1, 8))).toMatchObject({ op: D.OP_FLW, rd: 0, imm: 8 }); // f0 is a real register
  });

  it('sign-extends every immediate format', () => {
    expect(decode(E.addi(1, 1, -2048)).imm).toBe(-2048);
    expect(decode(E.sd(1, 2, -8)).imm).toBe(-8);
    expect(decode(E.beq(1, 2, -4096)).imm).toBe(-4096);
    expect(decode(E.bne(1, 2, 4094)).imm).toBe(4094);
    expect(decode(E.jal(1, -1048576)).imm).toBe(-1048576);
    expect(decode(E.jal(1, 1048574)).imm).toBe(1048574);
    expect(decode(E.lui(1, 0xfffff)).imm).toBe(-4096);
    expect(decode(E.srai(1, 1, 63))).toMatchObject({ op: D.OP_SRAI, imm: 63 });
  });

  it('illegal encodings carry their raw bits', () => {
    expect(decode(0xffffffff)).toMatchObject({ op: D.OP_ILLEGAL, imm: -1 });
    expect(decode(0)).toMatchObject({ op: D.OP_ILLEGAL, imm: 0, len: 2 });
  });

  it('compressed instructions decode with length 2; c.jalr links pc+2', () => {
    expect(decode(0x0505)).toMatchObject({ op: D.OP_ADDI, rd: 20, rs1: 20, imm: 1, len: 2 }); // c.addi a0, 1
    const { hart, ram } = makeHart();
    // c.jalr x1 at CODE (links CODE+2), lands on the ecall at CODE+8.
    hart.setX(1, BigInt(CODE + 8));
    ram.u16[CODE / 2] = 0x9082;
    writeWords(ram, CODE + 8, [E.ECALL]);
    hart.pc = CODE;
    expect(hart.run(10)).toBe(EXIT_TRAP);
    expect(hart.pc).toBe(CODE + 8);
    expect(hart.getX(1)).toBe(BigInt(CODE + 2));
  });

  it('an illegal compressed encoding traps with its 16 bits in tval', () => {
    const { hart, ram } = makeHart();
    ram.u16[CODE / 2] = 0x0000;
    ram.u16[CODE / 2 + 1] = 0xffff;
    hart.pc = CODE;
    expect(hart.run(10)).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    expect(hart.tval).toBe(0);
  });
});
