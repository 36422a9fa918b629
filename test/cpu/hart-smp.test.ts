// Two harts on real worker threads race AMOs and LR/SC loops on one shared word.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import * as E from '../helpers/encode.ts';
import { PhysicalMemory } from '../../cpu/ram.ts';
import { hartDefaults, writeWords } from './hart-harness.ts';

const COUNTER = 0x80000;
const AMO_PC = 0x10000;
const LRSC_PC = 0x11000;
const ITER = 20000;

function runWorker(sab: SharedArrayBuffer, pc: number, hartId: number): Promise<{ ok: boolean; scFailures: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./hart-smp.worker.mjs', import.meta.url), {
      workerData: { sab, pc, iterations: ITER, counter: COUNTER, hartId, jit: hartDefaults.jit },
    });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

describe('two harts on worker threads', () => {
  it('amoadd.d and lr.w/sc.w increment loops on one word give an exact total', async () => {
    const ram = PhysicalMemory.create(16 * 1024 * 1024);
    // amoadd.d loop: x6 = 1; loop: amoadd.d x0, x6, (x10); x5--; bnez x5, loop
    writeWords(ram, AMO_PC, [E.addi(6, 0, 1), E.amo(E.AMO.add, 'd', 0, 10, 6), E.addi(5, 5, -1), E.bne(5, 0, -8), E.ECALL]);
    // lr/sc loop on the low word: retry: lr.w x7,(x10); addi x7,x7,1; sc.w x8,x7,(x10); bnez x8,retry; x5--; bnez x5
    writeWords(ram, LRSC_PC, [E.amo(E.AMO.lr, 'w', 7, 10, 0), E.addi(7, 7, 1), E.amo(E.AMO.sc, 'w', 8, 10, 7),
      E.bne(8, 0, -12), E.addi(5, 5, -1), E.bne(5, 0, -20), E.ECALL]);
    const results = await Promise.all([
      runWorker(ram.sab, AMO_PC, 0), runWorker(ram.sab, LRSC_PC, 1),
      runWorker(ram.sab, AMO_PC, 2), runWorker(ram.sab, LRSC_PC, 3),
    ]);
    for (const r of results) expect(r.ok).toBe(true);
    expect(ram.i64[COUNTER / 8]).toBe(BigInt(4 * ITER));
  });
});
