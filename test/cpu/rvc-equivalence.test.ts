/**
 * Compressed ↔ full equivalence on the hart: for every legal RV64C halfword, executing the
 * 16-bit instruction and executing its 32-bit expansion from the same machine state must
 * leave the same integer registers, FP registers, memory and control-flow outcome — except
 * for what the length itself changes (the link value is pc+2 instead of pc+4, and the
 * fall-through pc advances by 2).
 *
 * The expansion table is checked against binutils in rvc.test.ts; this test checks that the
 * hart executes both forms alike (it decodes compressed instructions through
 * expandCompressed, so a divergence would come from length handling: links, fall-through,
 * page-crossing fetch, or a decode path that special-cases compressed forms).
 */
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { expandCompressed } from '../../cpu/rvc.ts';
import { EXIT_BUDGET, EXIT_TRAP } from '../../cpu/trap.ts';
import { makeHart, writeWords } from './hart-harness.ts';
import type { Hart } from '../../cpu/hart.ts';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/rvc-expansion.json', import.meta.url), 'utf8'));
const table = new Uint32Array(new Uint8Array(gunzipSync(Buffer.from(fixture.table ?? fixture.data, 'base64'))).buffer);

const CODE_C = 0x40000; // the compressed instruction runs here
const CODE_F = 0x50000; // its expansion runs here (same offset within the page)
const DATA = 0x100000; // every register points into [DATA, DATA + 4 KiB)
const DATA_WORDS = 2048; // 8 KiB compared after each step (offsets reach 504 above a base)

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Put both harts in the same state: registers point into DATA, FP registers random. */
function seedState(harts: Hart[], seed: number): void {
  const r = rng(seed);
  const x = new Int32Array(64);
  for (let i = 1; i < 32; i++) {
    x[2 * i] = DATA + ((r() & 0xff8) | (i & 7)); // mostly 8-aligned, a few not (misaligned paths)
    x[2 * i + 1] = 0;
  }
  const f = new Int32Array(64);
  for (let i = 0; i < 64; i++) f[i] = r() | 0;
  const data = new Int32Array(DATA_WORDS);
  for (let i = 0; i < DATA_WORDS; i++) data[i] = r() | 0;
  for (const h of harts) {
    h.x.set(x);
    h.fpu.fi32.set(f);
    h.ram.i32.set(data, DATA >> 2);
  }
}

interface Outcome { exit: number; cause: number; pcDelta: number; x: Int32Array; f: Int32Array; mem: Int32Array }

function step(h: Hart, at: number): Outcome {
  h.pc = at;
  const exit = h.run(1);
  return {
    exit,
    cause: exit === EXIT_TRAP ? h.cause : -1,
    pcDelta: h.pc - at,
    x: h.x.slice(),
    f: h.fpu.fi32.slice(),
    mem: h.ram.i32.slice(DATA >> 2, (DATA >> 2) + DATA_WORDS),
  };
}

const isJal = (w: number) => (w & 0x7f) === 0x6f;
const isJalr = (w: number) => (w & 0x7f) === 0x67;
const isBranch = (w: number) => (w & 0x7f) === 0x63;

/** B-type immediate of a 32-bit branch. */
function branchOffset(w: number): number {
  const imm = ((w >>> 31) << 12) | (((w >>> 7) & 1) << 11) | (((w >>> 25) & 0x3f) << 5) | (((w >>> 8) & 0xf) << 1);
  return (imm << 19) >> 19;
}

/** J-type immediate of a jal. */
function jalOffset(w: number): number {
  const imm = ((w >>> 31) << 20) | (((w >>> 12) & 0xff) << 12) | (((w >>> 20) & 1) << 11) | (((w >>> 21) & 0x3ff) << 1);
  return (imm << 11) >> 11;
}

/**
 * Expected pc deltas [compressed, full] of one step from register state `x`: fall-through is
 * 2 vs 4; a taken branch or jal moves both by the same offset; a jalr lands on the same
 * absolute target, so its deltas differ by the distance between the two code addresses.
 * RV64C branches are beqz/bnez (rs2 = x0). Traps leave pc in place (delta 0).
 */
function expectedNext(full: number, x: Int32Array, deltaC: number): [number, number] {
  if (deltaC === 0) return [0, 0];
  if (isJal(full)) return [jalOffset(full), jalOffset(full)];
  if (isJalr(full)) {
    const rs1 = (full >>> 15) & 31;
    const imm = full >> 20;
    const target = (x[2 * rs1] + imm) & ~1;
    return [target - CODE_C, target - CODE_F];
  }
  if (isBranch(full)) {
    const rs1 = (full >>> 15) & 31;
    const zero = x[2 * rs1] === 0 && x[2 * rs1 + 1] === 0;
    const taken = ((full >>> 12) & 7) === 0 ? zero : !zero;
    return taken ? [branchOffset(full), branchOffset(full)] : [2, 4];
  }
  return [2, 4];
}

describe('compressed and full forms execute alike', () => {
  test('every legal RV64C halfword matches its expansion on the hart', () => {
    const { hart: hc } = makeHart();
    const { hart: hf } = makeHart();
    let checked = 0;
    const failures: string[] = [];
    for (let half = 0; half < 0x10000; half++) {
      if ((half & 3) === 3) continue;
      const full = table[half];
      if (full === 0) continue;
      expect(expandCompressed(half) >>> 0).toBe(full >>> 0);
      seedState([hc, hf], half);
      const pre = hc.x.slice();
      hc.ram.u16[CODE_C >>> 1] = half;
      writeWords(hf.ram, CODE_F, [full]);
      hc.fenceI();
      hf.fenceI();
      const c = step(hc, CODE_C);
      const f = step(hf, CODE_F);
      const xc = c.x;
      const xf = f.x;
      const rd = (full >>> 7) & 31;
      if ((isJal(full) || isJalr(full)) && rd !== 0) {
        // The link is the address after the instruction: pc+2 for the compressed form.
        expect.soft(xc[2 * rd]).toBe(CODE_C + 2);
        expect.soft(xf[2 * rd]).toBe(CODE_F + 4);
        xc[2 * rd] = xf[2 * rd];
      }
      // Control flow: the expected next pc of each form, from the state before the step.
      const [expectC, expectF] = expectedNext(full, pre, c.pcDelta);
      const sameFlow = c.pcDelta === expectC && f.pcDelta === expectF;
      const same =
        c.exit === f.exit && c.cause === f.cause && sameFlow &&
        xc.every((v, i) => v === xf[i]) && c.f.every((v, i) => v === f.f[i]) &&
        c.mem.every((v, i) => v === f.mem[i]);
      if (!same && failures.length < 10) {
        failures.push(`0x${half.toString(16)} → 0x${(full >>> 0).toString(16)}: exit ${c.exit}/${f.exit} cause ${c.cause}/${f.cause} pcΔ ${c.pcDelta}/${f.pcDelta}`);
      }
      expect([EXIT_BUDGET, EXIT_TRAP]).toContain(c.exit);
      checked++;
    }
    expect(failures).toEqual([]);
    expect(checked).toBe(fixture.legal);
  }, 120_000);
});
