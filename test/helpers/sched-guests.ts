/**
 * Assembled guest programs for the scheduler tests (cpu/asm). Syscall numbers: riscv64 Linux.
 * Every loop is bounded by a count in a register; no guest can run forever.
 */
import { assemble, type AsmResult } from '../../cpu/asm/assembler.ts';
import { asmMmap, asmMunmap } from '../../kernel/asm-linux.ts';

export const TEXT_BASE = 0x10000;
/** The page the remap test unmaps and remaps (MAP_FIXED), and the words every thread shares. */
export const HOT_VA = 0x200000;
export const SHARED_VA = 0x300000; // DONE, FINISHED, VIOLATIONS, MAGIC_SEEN words
/** The remap test's hot page: mapped by the image (second data page) before any thread runs. */
export const REMAP_VA = SHARED_VA + 4096;
export const MAGIC = 0x1234567;
export const SCRIBBLE = 0x5c5c5c5;

const EXIT = `
fail:
  li a0, 99
  li a7, 94
  ecall
`;

/** mmap(0, 4096, RW, PRIVATE|ANON) → a0; clobbers a0-a7. */
const MMAP_ANON = `
  ${asmMmap(null, 4096, 0x22)}
`;

/**
 * Every thread (entry `worker`, main thread `_start`): `iters` times mmap a page, write and check
 * it, munmap it (a one-page shootdown to every other hart running the space); then exit(0).
 */
export function mutualShootdown(iters: number): AsmResult {
  return assemble(`
_start:
worker:
  li s0, ${iters}
loop:
${MMAP_ANON}
  blt a0, zero, fail
  mv s1, a0
  sd s0, 0(s1)
  ld t0, 0(s1)
  bne t0, s0, fail
  ${asmMunmap('s1', 4096)}
  bnez a0, fail
  addi s0, s0, -1
  bnez s0, loop
  li a0, 0
  li a7, 93
  ecall
${EXIT}
`, { textBase: TEXT_BASE });
}

/**
 * The remap test. Main thread (`_start`, the remapper): `iters` times mmap(REMAP_VA, MAP_FIXED)
 * over the hot page — the old frame is freed after the shootdown — and store MAGIC into it;
 * then DONE := 1, wait for `readers` FINISHED, exit_group(min(VIOLATIONS, 100)).
 * `reader`: until DONE, load REMAP_VA; anything but 0 or MAGIC is a read through a stale
 * translation (poison, or a reused frame's SCRIBBLE) → VIOLATIONS += 1. Counts MAGIC seen.
 * `scribbler`: until DONE, mmap a page, fill its first word with SCRIBBLE, munmap it (reuses
 * freed frames).
 */
export function remapRace(iters: number, readers: number): AsmResult {
  return assemble(`
_start:
  li s0, ${iters}
  li s1, ${REMAP_VA}
  li s2, ${MAGIC}
  li s3, ${SHARED_VA}
remap:
  ${asmMmap('s1', 4096, 0x32)}
  bne a0, s1, fail
  sw s2, 0(s1)
  addi s0, s0, -1
  bnez s0, remap
  li t0, 1
  sw t0, 0(s3)
  li s4, 100000000
wait_readers:
  lw t0, 4(s3)
  li t1, ${readers}
  beq t0, t1, finished
  li a7, 124
  ecall
  addi s4, s4, -1
  bnez s4, wait_readers
  j fail
finished:
  lw a0, 8(s3)
  li t1, 100
  blt a0, t1, 1f
  mv a0, t1
1:
  li a7, 94
  ecall

reader:
  li s1, ${REMAP_VA}
  li s2, ${MAGIC}
  li s3, ${SHARED_VA}
read_loop:
  lw t0, 0(s1)
  beqz t0, ok
  beq t0, s2, seen
  li t1, 1
  addi t2, s3, 8
  amoadd.w zero, t1, (t2)
  j ok
seen:
  li t1, 1
  addi t2, s3, 12
  amoadd.w zero, t1, (t2)
ok:
  lw t0, 0(s3)
  beqz t0, read_loop
  li t1, 1
  addi t2, s3, 4
  amoadd.w zero, t1, (t2)
  li a0, 0
  li a7, 93
  ecall

scribbler:
  li s3, ${SHARED_VA}
  li s2, ${SCRIBBLE}
scribble:
${MMAP_ANON}
  blt a0, zero, fail
  mv s1, a0
  sw s2, 0(s1)
  ${asmMunmap('s1', 4096)}
  lw t0, 0(s3)
  beqz t0, scribble
  li a0, 0
  li a7, 93
  ecall
${EXIT}
  .data
shared:
  .word 0, 0, 0, 0
  .space 4080
hot:
  .word 0
`, { textBase: TEXT_BASE, dataBase: SHARED_VA });
}

/**
 * Single-threaded migration: for each byte b of the table at `bumps`, do b one-page
 * munmap+mmap cycles of a touched page at HOT_VA (b tlb_generation bumps), then sched_yield
 * (which, with spawn's migrate option, moves the thread to the next hart). Then exit(0).
 */
export function migrateProgram(bumps: number[]): AsmResult {
  return assemble(`
_start:
  la s2, table
  li s3, ${bumps.length}
  li s1, ${HOT_VA}
${MMAP_FIXED_HOT}
loop:
  lbu s4, 0(s2)
inner:
  beqz s4, yield
  sd s3, 0(s1)
  ${asmMunmap('s1', 4096)}
  bnez a0, fail
  ${asmMmap('s1', 4096, 0x32)}
  bne a0, s1, fail
  addi s4, s4, -1
  j inner
yield:
  li a7, 124
  ecall
  addi s2, s2, 1
  addi s3, s3, -1
  bnez s3, loop
  li a0, 0
  li a7, 93
  ecall
${EXIT}
table:
  .byte ${bumps.join(', ')}
`, { textBase: TEXT_BASE });
}

/**
 * ASID rollover: store getpid() at HOT_VA, then `rounds` times yield and check the page still
 * holds this process's pid (another process's page seen through a recycled ASID → exit 1).
 */
export function asidProgram(rounds: number): AsmResult {
  return assemble(`
_start:
  li a7, 172
  ecall
  mv s0, a0
  li s1, ${HOT_VA}
${MMAP_FIXED_HOT}
  sd s0, 0(s1)
  li s2, ${rounds}
round:
  li a7, 124
  ecall
  ld t0, 0(s1)
  bne t0, s0, leak
  sd s0, 0(s1)
  addi s2, s2, -1
  bnez s2, round
  li a0, 0
  li a7, 94
  ecall
leak:
  li a0, 1
  li a7, 94
  ecall
${EXIT}
`, { textBase: TEXT_BASE });
}

const MMAP_FIXED_HOT = `
  ${asmMmap('s1', 4096, 0x32)}
  bne a0, s1, fail
`;
