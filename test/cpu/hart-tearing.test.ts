// Aligned 64-bit loads and stores are single-copy atomic (RVWMO): a hart reading a doubleword
// that another hart keeps overwriting sees one of the written values, never half of each.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { assemble } from '../../cpu/asm/assembler.ts';
import { PhysicalMemory } from '../../cpu/ram.ts';
import { hartDefaults } from './hart-harness.ts';

const WORD = 0x80000; // the contended doubleword; the reader stores its count of torn reads at WORD+8
const TEXT = 0x10000;
const ITER = 300_000;
const A = 0x11111111_22222222n;
const B = 0x33333333_44444444n;

// The worker sets x5 (t0) to the iteration count and a0 to WORD.
const program = assemble(`
reader:
  li s1, ${A}
  li s2, ${B}
  li s3, 0
1:
  ld t1, 0(a0)
  beq t1, s1, 2f
  beq t1, s2, 2f
  addi s3, s3, 1
2:
  addi x5, x5, -1
  bnez x5, 1b
  sd s3, 8(a0)
  ecall
writer:
  li s1, ${A}
  li s2, ${B}
3:
  sd s1, 0(a0)
  sd s2, 0(a0)
  addi x5, x5, -1
  bnez x5, 3b
  ecall
`, { textBase: TEXT });

function runWorker(sab: SharedArrayBuffer, pc: number, hartId: number): Promise<{ ok: boolean }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./hart-smp.worker.mjs', import.meta.url), {
      workerData: { sab, pc, iterations: ITER, counter: WORD, hartId, jit: hartDefaults.jit },
    });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

describe('64-bit accesses on two harts', () => {
  it('ld never sees half of one sd and half of another', async () => {
    const ram = PhysicalMemory.create(16 * 1024 * 1024);
    ram.u8.set(program.text, TEXT);
    ram.i64[WORD / 8] = A;
    ram.i64[WORD / 8 + 1] = -1n; // the reader overwrites this with its torn-read count
    const results = await Promise.all([
      runWorker(ram.sab, Number(program.symbols.get('writer')!), 0),
      runWorker(ram.sab, Number(program.symbols.get('reader')!), 1),
    ]);
    for (const r of results) expect(r.ok).toBe(true);
    expect(ram.i64[WORD / 8 + 1]).toBe(0n);
  });
});
