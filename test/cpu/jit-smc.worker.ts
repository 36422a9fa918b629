// One translating hart on the shared RAM for test/cpu/jit-smc.test.ts: x5 = versions,
// x10 = the shared words; reports its exit and the translator's counters.
import { parentPort, workerData } from 'node:worker_threads';
import { Hart } from '../../cpu/hart.ts';
import { PhysicalMemory } from '../../cpu/ram.ts';
import { CAUSE_ECALL_U, EXIT_TRAP } from '../../cpu/trap.ts';
import { HC_INSTRET, HC_JIT_BLOCKS, HC_JIT_INSNS } from '../../cpu/counters.ts';

const { sab, pc, versions, shared, hartId, jit } = workerData as {
  sab: SharedArrayBuffer; pc: number; versions: number; shared: number; hartId: number; jit: boolean;
};
const hart = new Hart({ hartId, ram: new PhysicalMemory(sab), batch: 257, jit, jitThreshold: 1 });
hart.pc = pc;
// Start together: worker start-up takes far longer than the guest's wait loops are bounded by.
const start = (shared + 16) / 4;
parentPort!.postMessage({ ready: true });
Atomics.wait(hart.ram.i32, start, 0, 30_000);
hart.setX(5, BigInt(versions));
hart.setX(10, BigInt(shared));
let exit;
do exit = hart.run(20_000); while (exit !== EXIT_TRAP);
const c = hart.counters;
parentPort!.postMessage({
  ok: hart.cause === CAUSE_ECALL_U, cause: hart.cause, pc: hart.pc,
  instret: c[HC_INSTRET], jitBlocks: c[HC_JIT_BLOCKS], jitInsns: c[HC_JIT_INSNS],
});
