/**
 * `bench cpu`: guest MIPS of one hart on three loops, printed as
 *   BENCH cpu.<loop>.mips <value> MIPS
 *   (1) int    — an integer compute loop (add/xor/shift/sub/branch), satp Bare;
 *   (2) mem    — a load/store loop over one 1 KiB window: every access hits the micro-TLB;
 *   (3) stride — loads one word per page over 2048 Sv48-mapped pages, twice the default
 *                TLB's 1024 entries, so nearly every load misses the TLB and walks;
 * each interpreted (`cpu.<loop>.mips`) and translated (`cpu.<loop>.jit.mips`, cpu/jit.ts) with
 * `cpu.<loop>.jit.ratio` = translated / interpreted MIPS; `BENCH cpu.jit.compile.us` = mean
 * CPU time to compile one block (each instruction of each loop taken as a block start: code
 * generation + new Function, not V8's later optimisation);
 * plus `BENCH cpu.mem.ratio` = time per instruction of (2) / (1).
 * Times are this process's CPU time (process.cpuUsage), not wall time: the benchmark
 * machines are shared, and wall time would measure the neighbours.
 * When qemu-riscv64 and riscv64-linux-gnu-gcc are on PATH, the same loops are built as
 * static binaries in bench/native/ and timed under qemu: `BENCH cpu.<loop>.qemu.mips` and
 * `BENCH cpu.<loop>.qemu.ratio` (qemu MIPS / our interpreter's), `cpu.<loop>.qemu.jit.ratio`
 * (qemu / translated). Run: `npx tsx bench/cpu.ts`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Hart } from '../cpu/hart.ts';
import { PhysicalMemory } from '../cpu/ram.ts';
import { CAUSE_ECALL_U, EXIT_TRAP } from '../cpu/trap.ts';
import { compileBlock, discoverBlock } from '../cpu/jit.ts';
import { SLOTS_PER_PAGE } from '../cpu/decode.ts';
import { SATP_MODE_SV48 } from '../cpu/pte.ts';
import * as E from '../test/helpers/encode.ts';
import { PageTableBuilder, PERM_AD, PERM_URW, PERM_URX } from '../test/helpers/pagetable.ts';

const CODE_VA = 0x10000;
const DATA_VA = 0x40000000;
const STRIDE_PAGES = 2048;

export interface Loop {
  name: string;
  /** Program words; x5 holds the iteration count on entry. */
  words: number[];
  /** Instructions retired per iteration (for qemu, which cannot count them). */
  perIter: number;
  /** Same loop in GNU assembler syntax for the qemu binary (x5 = count, x10 = data). */
  asm: string;
  sv48: boolean;
}

/** The three loops (exported for profiling scripts). */
export const LOOPS: Loop[] = [
  {
    name: 'int',
    words: [E.add(6, 6, 5), E.xor(7, 7, 6), E.slli(8, 6, 3), E.sub(7, 7, 8), E.srli(9, 7, 7), E.or(6, 6, 9),
      E.addi(5, 5, -1), E.bne(5, 0, -28)],
    perIter: 8,
    asm: `1: add t1,t1,t0; xor t2,t2,t1; slli t3,t1,3; sub t2,t2,t3; srli t4,t2,7; or t1,t1,t4; addi t0,t0,-1; bnez t0,1b`,
    sv48: false,
  },
  {
    name: 'mem',
    words: [E.andi(11, 5, 0x3f8), E.add(11, 11, 10), E.ld(6, 11, 0), E.add(6, 6, 5), E.sd(6, 11, 0), E.lw(7, 11, 4),
      E.sw(7, 11, 1024), E.addi(5, 5, -1), E.bne(5, 0, -32)],
    perIter: 9,
    asm: `1: andi a1,t0,0x3f8; add a1,a1,a0; ld t1,0(a1); add t1,t1,t0; sd t1,0(a1); lw t2,4(a1); sw t2,1024(a1); addi t0,t0,-1; bnez t0,1b`,
    sv48: false,
  },
  {
    name: 'stride',
    // outer: x11 = x10; x13 = 2048; inner: ld; add; x11 += 4096; x13--; bnez inner; x5--; bnez outer
    words: [E.addi(11, 10, 0), E.addi(13, 0, STRIDE_PAGES / 2), E.slli(13, 13, 1), E.ld(6, 11, 0), E.add(7, 7, 6),
      E.add(11, 11, 12), E.addi(13, 13, -1), E.bne(13, 0, -16), E.addi(5, 5, -1), E.bne(5, 0, -36)],
    perIter: 3 + 5 * STRIDE_PAGES + 2,
    asm: `li a2,4096; 1: mv a1,a0; li a3,${STRIDE_PAGES / 2}; slli a3,a3,1; 2: ld t1,0(a1); add t2,t2,t1; add a1,a1,a2; addi a3,a3,-1; bnez a3,2b; addi t0,t0,-1; bnez t0,1b`,
    sv48: true,
  },
];

function setup(loop: Loop, jit: boolean): { hart: Hart; ram: PhysicalMemory } {
  const ram = PhysicalMemory.create(64 * 1024 * 1024);
  const hart = new Hart({ hartId: 0, ram, jit });
  const words = [...loop.words, E.ECALL];
  let codePa = CODE_VA;
  let dataVa = 0x200000;
  if (loop.sv48) {
    const pt = new PageTableBuilder(ram, 1, 256);
    codePa = 256 * 4096;
    pt.map(CODE_VA, codePa, PERM_URX | PERM_AD);
    for (let i = 0; i < STRIDE_PAGES; i++) pt.map(DATA_VA + i * 4096, (512 + i) * 4096, PERM_URW | PERM_AD);
    hart.setSatp(SATP_MODE_SV48, 1, pt.rootPpn);
    dataVa = DATA_VA;
  }
  for (let i = 0; i < words.length; i++) ram.u32[codePa / 4 + i] = words[i];
  hart.setX(10, BigInt(dataVa));
  hart.setX(12, 4096n);
  return { hart, ram };
}

/** Run `iters` iterations to completion; returns [instructions, seconds]. */
function timeRun(loop: Loop, iters: number, jit: boolean): [number, number] {
  const { hart } = setup(loop, jit);
  hart.pc = CODE_VA;
  hart.setX(5, BigInt(iters));
  const c0 = process.cpuUsage();
  for (;;) {
    const exit = hart.run(10_000_000);
    if (exit === EXIT_TRAP) {
      if (hart.cause !== CAUSE_ECALL_U) throw new Error(`benchCpu: ${loop.name} trapped, cause ${hart.cause} tval ${hart.tval}`);
      break;
    }
  }
  const c = process.cpuUsage(c0);
  return [hart.instret, (c.user + c.system) / 1e6];
}

/** Measure one loop for about `seconds`, translated (`jit`) or interpreted; returns MIPS. */
export function measure(loop: Loop, seconds: number, jit: boolean): number {
  timeRun(loop, Math.ceil(200_000 / loop.perIter), jit); // warm up V8's JIT
  let iters = Math.ceil(2_000_000 / loop.perIter);
  for (;;) {
    const [n, s] = timeRun(loop, iters, jit);
    if (s >= seconds) return n / s / 1e6;
    iters = Math.ceil(iters * Math.min(10, (seconds * 1.1) / Math.max(s, 1e-3)));
  }
}

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** Build bench/native/<loop> (static, no libc) and time it under qemu; returns MIPS or null. */
function qemuMips(loop: Loop, nativeDir: string, instructions: number): number | null {
  const src = join(nativeDir, `${loop.name}.S`);
  const bin = join(nativeDir, loop.name);
  const iters = Math.ceil(instructions / loop.perIter);
  writeFileSync(src, `  .globl _start
_start:
  li t0, ${iters}
  la a0, buf
  ${loop.asm.replace(/; /g, '\n  ')}
  li a0, 0
  li a7, 93
  ecall
  .bss
  .balign 4096
buf: .space ${(STRIDE_PAGES + 2) * 4096}
`);
  execFileSync('riscv64-linux-gnu-gcc', ['-static', '-nostdlib', '-march=rv64gc', '-o', bin, src]);
  // `times` prints the children's user and system CPU time: "0m1.234s 0m0.010s".
  const r = spawnSync('sh', ['-c', `qemu-riscv64 '${bin}' && times`], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const m = [...r.stdout.matchAll(/(\d+)m([\d.]+)s/g)].slice(2, 4);
  if (m.length < 2) return null;
  const secs = m.reduce((t, x) => t + Number(x[1]) * 60 + Number(x[2]), 0);
  return (iters * loop.perIter) / secs / 1e6;
}

/**
 * Compile cost: CPU time of compiling each loop's blocks (code generation, new Function and
 * the closure; V8's later optimisation of a hot block is not included), µs per block.
 */
function compileCostUs(): number {
  let blocks = 0;
  let us = 0;
  for (const loop of LOOPS) {
    const { hart } = setup(loop, true);
    hart.pc = CODE_VA;
    hart.refillFetch(CODE_VA);
    const page = hart.cpPage;
    const c0 = process.cpuUsage();
    for (let rep = 0; rep < 50; rep++) {
      let slot = (CODE_VA & 4095) >>> 1;
      for (let k = 0; k < loop.words.length && slot < SLOTS_PER_PAGE; k++) {
        const b = discoverBlock(hart, page, slot);
        if (b.compilable) { compileBlock(hart, page, slot, b); blocks++; }
        slot += 2;
      }
    }
    const c = process.cpuUsage(c0);
    us += c.user + c.system;
  }
  return us / blocks;
}

/** Print the BENCH lines for the cpu benchmarks. */
export function benchCpu(seconds = 1): void {
  const mips = new Map<string, number>();
  const jitMips = new Map<string, number>();
  for (const loop of LOOPS) {
    const m = measure(loop, seconds, false);
    const j = measure(loop, seconds, true);
    mips.set(loop.name, m);
    jitMips.set(loop.name, j);
    console.log(`BENCH cpu.${loop.name}.mips ${m.toFixed(1)} MIPS`);
    console.log(`BENCH cpu.${loop.name}.jit.mips ${j.toFixed(1)} MIPS`);
    console.log(`BENCH cpu.${loop.name}.jit.ratio ${(j / m).toFixed(2)} x`);
  }
  console.log(`BENCH cpu.mem.ratio ${(mips.get('int')! / mips.get('mem')!).toFixed(2)} x`);
  console.log(`BENCH cpu.jit.compile.us ${compileCostUs().toFixed(1)} us/block`);
  if (!have('qemu-riscv64') || !have('riscv64-linux-gnu-gcc')) {
    console.log('# qemu-riscv64 or riscv64-linux-gnu-gcc not on PATH: qemu comparison skipped');
    return;
  }
  const nativeDir = join(dirname(fileURLToPath(import.meta.url)), 'native');
  if (!existsSync(nativeDir)) mkdirSync(nativeDir, { recursive: true });
  for (const loop of LOOPS) {
    const q = qemuMips(loop, nativeDir, 2_000_000_000);
    if (q === null) { console.log(`# qemu run of ${loop.name} failed`); continue; }
    console.log(`BENCH cpu.${loop.name}.qemu.mips ${q.toFixed(0)} MIPS`);
    console.log(`BENCH cpu.${loop.name}.qemu.ratio ${(q / mips.get(loop.name)!).toFixed(1)} x`);
    console.log(`BENCH cpu.${loop.name}.qemu.jit.ratio ${(q / jitMips.get(loop.name)!).toFixed(1)} x`);
  }
}

/** Entry for bench/index.ts (`npm run bench -- cpu`). */
export async function run(): Promise<void> {
  benchCpu();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
