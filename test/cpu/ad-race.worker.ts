/**
 * The "other hart" of the A/D race test: hammers the given PTEs with 64-bit atomic
 * read-modify-writes — clear A and D, and toggle the spare RSW bit — until told to stop,
 * counting what it cleared so the test can balance sets against clears.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PTE_A, PTE_D, PTE_SW_SPARE } from '../../cpu/pte.ts';

const { ramSab, ctlSab, ptePas, maxIterations } = workerData as {
  ramSab: SharedArrayBuffer; ctlSab: SharedArrayBuffer; ptePas: number[]; maxIterations: number;
};
const i64 = new BigInt64Array(ramSab);
const ctl = new Int32Array(ctlSab); // [0] stop flag (main → worker), [1] iterations done (worker → main)
const CLEAR = ~BigInt(PTE_A | PTE_D);
const A = BigInt(PTE_A), D = BigInt(PTE_D), SPARE = BigInt(PTE_SW_SPARE);
const clearsA = ptePas.map(() => 0), clearsD = ptePas.map(() => 0), toggles = ptePas.map(() => 0);

parentPort!.postMessage({ ready: true });
let it = 0;
for (; it < maxIterations && Atomics.load(ctl, 0) === 0; it++) {
  for (let j = 0; j < ptePas.length; j++) {
    const idx = ptePas[j] / 8;
    const old = Atomics.and(i64, idx, CLEAR);
    if (old & A) clearsA[j]++;
    if (old & D) clearsD[j]++;
    if ((it + j) % 3 === 0) { Atomics.xor(i64, idx, SPARE); toggles[j]++; }
  }
  Atomics.store(ctl, 1, it + 1);
}
parentPort!.postMessage({ clearsA, clearsD, toggles, iterations: it });
