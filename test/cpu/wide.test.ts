import { describe, expect, it } from 'vitest';
import { join64 } from '../../cpu/wide.ts';
import { Hart } from '../../cpu/hart.ts';
import { PhysicalMemory } from '../../cpu/ram.ts';
import { CAUSE_ECALL_U, EXIT_TRAP } from '../../cpu/trap.ts';
import { HC_JIT_INSNS } from '../../cpu/counters.ts';
import * as E from '../helpers/encode.ts';

/** 64-bit patterns whose float64 reading is special: NaNs (quiet, signalling, negative, payloads), ±0, ±Inf, subnormals. */
const PATTERNS: Array<[lo: number, hi: number]> = [
  [0x00000001, 0x7ff00000], // signalling NaN, smallest payload
  [0xdeadbeef, 0x7ff7ffff], // signalling NaN, big payload
  [0x00000000, 0x7ff80000], // the canonical quiet NaN
  [0x12345678, 0xfff8abcd], // negative quiet NaN with payload
  [0xffffffff, 0xffffffff], // all ones (a negative NaN)
  [0x00000001, 0xfff00000], // negative signalling NaN
  [0x00000000, 0x80000000], // -0
  [0x00000000, 0x7ff00000], // +Inf
  [0x00000000, 0xfff00000], // -Inf
  [0x00000001, 0x00000000], // smallest subnormal
  [0xffffffff, 0x800fffff], // negative largest subnormal
  [0x9abcdef0, 0x12345678], // an ordinary double
  [0x00000007, 0x00000000], // a small integer (a subnormal as a double)
];

describe('join64 (cpu/wide.ts): two int32 halves as one float64, bits unchanged', () => {
  it('keeps every bit, cold and once optimised, stored through a Float64Array', () => {
    const f = new Float64Array(1);
    const u = new Uint32Array(f.buffer);
    // 200k calls: V8 optimises the loop (and inlines the JS-to-Wasm wrapper) long before the end.
    for (let round = 0; round < 20_000; round++) {
      for (const [lo, hi] of PATTERNS) {
        f[0] = join64(lo | 0, hi | 0);
        if (u[0] !== lo >>> 0 || u[1] !== hi >>> 0) {
          expect([round, u[0]!.toString(16), u[1]!.toString(16)]).toEqual([round, (lo >>> 0).toString(16), (hi >>> 0).toString(16)]);
        }
      }
    }
  });

  it('a translated sd stores each pattern bit for bit (hot self-looping block)', () => {
    const ram = PhysicalMemory.create(16 * 1024 * 1024);
    const code = 0x10000;
    const data = 0x200000;
    // loop: sd x6, 0(x10); sd x7, 8(x10); addi x5, x5, -1; bne x5, x0, loop; ecall
    const words = [E.sd(6, 10, 0), E.sd(7, 10, 8), E.addi(5, 5, -1), E.bne(5, 0, -12), E.ECALL];
    for (let i = 0; i < words.length; i++) ram.u32[code / 4 + i] = words[i]!;
    for (const [lo, hi] of PATTERNS) {
      const h = new Hart({ hartId: 0, ram, jit: true, jitThreshold: 1 });
      h.pc = code;
      h.setX(5, 1000n);
      h.setX(6, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
      h.setX(7, (BigInt(~hi >>> 0) << 32n) | BigInt(~lo >>> 0));
      h.setX(10, BigInt(data));
      expect(h.run(100_000)).toBe(EXIT_TRAP);
      expect(h.cause).toBe(CAUSE_ECALL_U);
      expect(h.counters[HC_JIT_INSNS]).toBeGreaterThan(3000);
      expect([ram.u32[data / 4], ram.u32[data / 4 + 1], ram.u32[data / 4 + 2], ram.u32[data / 4 + 3]])
        .toEqual([lo >>> 0, hi >>> 0, ~lo >>> 0, ~hi >>> 0]);
    }
  });
});
