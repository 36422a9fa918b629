/**
 * The coherence lab's workloads (assembled guests, cpu/asm), shared by test/lab and
 * bench/policies.ts. Every loop is bounded by a count in a register.
 *
 *   raceWorkload(iters)      the unmap/remap race of test/helpers/sched-guests.ts remapRace:
 *                            a remapper, a scribbler and two readers on 4 harts (or fewer); exit status =
 *                            reads through a stale translation the readers caught (capped at 100).
 *   munmapChurn(iters, n)    main thread: iters × (mmap n pages, store to each, munmap all n);
 *                            three `spinner` threads read shared memory until DONE, so they run
 *                            the space on the other harts (every munmap targets them). With
 *                            `fixedVa` (MAP_FIXED there): a 2 MiB-aligned va and n = 512 make
 *                            each munmap free the page-table page under it.
 */
import { assemble, type AsmResult } from '../../cpu/asm/assembler.ts';
import type { Machine } from '../../scheduler/machine.ts';
import { leakedFrames, spawn } from '../../scheduler/api.ts';
import { HOT_VA, remapRace, SHARED_VA, TEXT_BASE } from '../helpers/sched-guests.ts';
import { asmMmap, asmMunmap } from '../../kernel/asm-linux.ts';

/**
 * spawn options of the race workload: the remapper on hart 0, the scribbler and the two readers
 * on harts 1, 2, 3 (modulo `cpus`, default 4: on 2 harts two threads share each hart).
 */
export function raceWorkload(iters: number, cpus = 4): Parameters<typeof spawn>[1] {
  return {
    image: { asm: remapRace(iters, 2) }, hart: 0,
    threads: [{ entry: 'scribbler', hart: 1 % cpus }, { entry: 'reader', hart: 2 % cpus }, { entry: 'reader', hart: 3 % cpus }],
  };
}

/** The multi-page munmap guest (see the file comment). Exit 0, or 99 when a syscall failed. */
export function munmapChurn(iters: number, pages: number, fixedVa: number | null = null): AsmResult {
  return assemble(`
_start:
  li s0, ${iters}
  li s3, ${SHARED_VA}
  li s5, ${fixedVa ?? 0}
round:
  ${fixedVa === null ? asmMmap(null, pages * 4096, 0x22) : asmMmap('s5', pages * 4096, 0x32)}
  blt a0, zero, fail
  mv s1, a0
  li t1, ${pages}
  mv t2, s1
touch:
  sd s0, 0(t2)
  li t3, 4096
  add t2, t2, t3
  addi t1, t1, -1
  bnez t1, touch
  ${asmMunmap('s1', pages * 4096)}
  bnez a0, fail
  addi s0, s0, -1
  bnez s0, round
  li t0, 1
  sw t0, 0(s3)
  li a0, 0
  li a7, 94
  ecall

spinner:
  li s3, ${SHARED_VA}
  li s4, 200000000
spin:
  lw t0, 0(s3)
  bnez t0, done
  addi s4, s4, -1
  bnez s4, spin
done:
  li a0, 0
  li a7, 93
  ecall
fail:
  li a0, 99
  li a7, 94
  ecall
  .data
shared:
  .word 0, 0, 0, 0
`, { textBase: TEXT_BASE, dataBase: SHARED_VA });
}

/** spawn options of the munmap workload: main on hart 0, spinners on harts 1..cpus-1. */
export function munmapWorkload(iters: number, pages: number, cpus = 4, fixedVa: number | null = null): Parameters<typeof spawn>[1] {
  return {
    image: { asm: munmapChurn(iters, pages, fixedVa) }, hart: 0,
    threads: Array.from({ length: cpus - 1 }, (_, k) => ({ entry: 'spinner', hart: k + 1 })),
  };
}

/** Frames leaked after every process exited; waits (bounded) for deferred's parked frames to come back. */
export async function settledLeak(m: Machine, timeoutMs = 3000): Promise<number> {
  const end = Date.now() + timeoutMs;
  let n = leakedFrames(m);
  while (n !== 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 5));
    n = leakedFrames(m);
  }
  return n;
}

/**
 * A single-threaded process that migrates (spawn's `migrate`: every sched_yield moves it to
 * the next hart): `rounds` × (store the round number at HOT_VA, load it back (exit 1 if it
 * differs), yield, then — on the next hart — mmap MAP_FIXED over HOT_VA: the frame the previous
 * hart still caches is freed). Coming back to a hart, the first store uses that hart's entry
 * unless the switch-in flushed it: `off` does not. (remap also touches a fresh anonymous
 * page, so the freed frame is not simply handed back to HOT_VA by the hart's frame cache.) Exit 0, 1 (wrong value), 99 (syscall failed).
 */
export function migrateTouch(rounds: number): AsmResult {
  return assemble(`
_start:
  li s0, ${rounds}
  li s1, ${HOT_VA}
  jal ra, remap
round:
  sd s0, 0(s1)
  ld t0, 0(s1)
  bne t0, s0, wrong
  li a7, 124
  ecall
  jal ra, remap
  addi s0, s0, -1
  bnez s0, round
  li a0, 0
  li a7, 94
  ecall
remap:
  ${asmMmap('s1', 4096, 0x32)}
  bne a0, s1, fail
  ${asmMmap(null, 4096, 0x22)}
  blt a0, zero, fail
  sd s0, 0(a0)
  ret
wrong:
  li a0, 1
  li a7, 94
  ecall
fail:
  li a0, 99
  li a7, 94
  ecall
`, { textBase: TEXT_BASE });
}
