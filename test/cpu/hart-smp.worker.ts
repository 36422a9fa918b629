// One hart on the shared RAM running the program the test wrote; reports its exit.
import { parentPort, workerData } from 'node:worker_threads';
import { Hart } from '../../cpu/hart.ts';
import { PhysicalMemory } from '../../cpu/ram.ts';
import { CAUSE_ECALL_U, EXIT_TRAP } from '../../cpu/trap.ts';

const { sab, pc, iterations, counter, hartId, jit } = workerData as {
  sab: SharedArrayBuffer; pc: number; iterations: number; counter: number; hartId: number; jit?: boolean;
};
const hart = new Hart({ hartId, ram: new PhysicalMemory(sab), batch: 97, jit: jit ?? false, jitThreshold: 1 });
hart.pc = pc;
hart.setX(5, BigInt(iterations));
hart.setX(10, BigInt(counter));
let exit;
// Small budgets: many run() exits, each of which also drops the LR reservation.
do exit = hart.run(5000); while (exit !== EXIT_TRAP);
parentPort!.postMessage({ ok: hart.cause === CAUSE_ECALL_U, cause: hart.cause, scFailures: hart.counters[19] });
