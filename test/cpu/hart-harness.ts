/**
 * Shared set-up for the hart tests: a 16 MiB RAM, a hart in Bare mode (va = pa), programs
 * written as raw words at CODE, data at DATA, and a BigInt reference for results.
 */
import { Hart, type HartOptions } from '../../cpu/hart.ts';
import { PhysicalMemory } from '../../cpu/ram.ts';
import { EXIT_TRAP, CAUSE_ECALL_U, type ExitReason } from '../../cpu/trap.ts';
import { ECALL } from '../helpers/encode.ts';

export const CODE = 0x10000;
export const DATA = 0x80000;

/**
 * Options every makeHart of this test file starts from. The hart test files run as they are
 * (interpreter) and again from test/cpu/jit-hart-files.test.ts, which sets { jit: true,
 * jitThreshold: 1 } here before importing them: every block is translated at first sight.
 */
export const hartDefaults: Partial<HartOptions> = {};

export function makeHart(opts: Partial<HartOptions> = {}): { ram: PhysicalMemory; hart: Hart } {
  const ram = opts.ram ?? PhysicalMemory.create(16 * 1024 * 1024);
  const hart = new Hart({ hartId: 0, ram, ...hartDefaults, ...opts });
  return { ram, hart };
}

/** Write 32-bit words at byte address `addr` (any 2-aligned address). */
export function writeWords(ram: PhysicalMemory, addr: number, words: number[]): void {
  for (let i = 0; i < words.length; i++) {
    ram.u16[(addr >>> 1) + 2 * i] = words[i] & 0xffff;
    ram.u16[(addr >>> 1) + 2 * i + 1] = words[i] >>> 16;
  }
}

/** Load `words` + ecall at CODE, point pc there, run; returns the exit reason. */
export function runWords(hart: Hart, words: number[], budget = 100_000, at = CODE): ExitReason {
  writeWords(hart.ram, at, [...words, ECALL]);
  hart.fenceI();
  hart.pc = at;
  return hart.run(budget);
}

/** Run and require that the program ended at its final ecall. */
export function runToEcall(hart: Hart, words: number[], budget = 100_000): void {
  const exit = runWords(hart, words, budget);
  if (exit !== EXIT_TRAP || hart.cause !== CAUSE_ECALL_U) {
    throw new Error(`runToEcall: exit ${exit} cause ${hart.cause} tval ${hart.tval} pc ${hart.pc}`);
  }
}

export const s64 = (v: bigint) => BigInt.asIntN(64, v);
export const u64 = (v: bigint) => BigInt.asUintN(64, v);
export const s32 = (v: bigint) => BigInt.asIntN(32, v);
export const u32 = (v: bigint) => BigInt.asUintN(32, v);

/** Edge-case operands for the ALU vectors. */
export const EDGES: bigint[] = [
  0n, 1n, -1n, 2n, 31n, 32n, 33n, 63n, 64n, 0x7fffffffn, 0x80000000n, -0x80000000n, 0xffffffffn,
  0x100000000n, -0x100000000n, 0x7fffffffffffffffn, -0x8000000000000000n, 0x123456789abcdef0n,
  -0x123456789abcdef1n, 0xdeadbeefn, 7n, -7n,
];
