/**
 * The "other hart's MMU" of the kernel A/D race test: walks stores through the real Sv48
 * walker (cpu/mmu.ts walkSv48, which sets D with a 64-bit compare-and-swap) over the given
 * pages until told to stop, counting every D bit it set.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PhysicalMemory } from '../../../cpu/ram.ts';
import { PTE_D } from '../../../cpu/pte.ts';
import { ACCESS_STORE } from '../../../cpu/trap.ts';
import { WalkResult, walkSv48 } from '../../../cpu/mmu.ts';

const { ramSab, flagSab, rootPpn, vas } = workerData as { ramSab: SharedArrayBuffer; flagSab: SharedArrayBuffer; rootPpn: number; vas: number[] };
const ram = new PhysicalMemory(ramSab);
const flag = new Int32Array(flagSab); // [0] stop (main → worker)
const out = new WalkResult();
let setsD = 0, walks = 0, faults = 0;
parentPort!.postMessage({ ready: true });
while (Atomics.load(flag, 0) === 0) {
  for (const va of vas) {
    walks++;
    const pa = walkSv48(ram, rootPpn, va | 0, Math.floor(va / 2 ** 32), ACCESS_STORE, out);
    if (pa < 0) faults++;
    else if (out.adSet & PTE_D) setsD++;
  }
}
parentPort!.postMessage({ setsD, walks, faults });
