// The A extension on one hart: every AMO .w/.d, LR/SC success and failure, misalignment.
import { describe, expect, it } from 'vitest';
import * as E from '../helpers/encode.ts';
import { DATA, EDGES, makeHart, runToEcall, runWords, s32, s64, u32, u64 } from './hart-harness.ts';
import { CAUSE_LOAD_MISALIGNED, CAUSE_STORE_MISALIGNED, EXIT_TRAP } from '../../cpu/trap.ts';
import { HC_SC_FAILURES } from '../../cpu/counters.ts';

type Op = (m: bigint, v: bigint) => bigint;
const OPS: [keyof typeof E.AMO, Op, Op][] = [
  // [name, 64-bit new value, 32-bit new value] (inputs already sign-extended to the width)
  ['swap', (_m, v) => v, (_m, v) => v],
  ['add', (m, v) => m + v, (m, v) => m + v],
  ['xor', (m, v) => m ^ v, (m, v) => m ^ v],
  ['and', (m, v) => m & v, (m, v) => m & v],
  ['or', (m, v) => m | v, (m, v) => m | v],
  ['min', (m, v) => (m < v ? m : v), (m, v) => (m < v ? m : v)],
  ['max', (m, v) => (m > v ? m : v), (m, v) => (m > v ? m : v)],
  ['minu', (m, v) => (u64(m) < u64(v) ? m : v), (m, v) => (u32(m) < u32(v) ? m : v)],
  ['maxu', (m, v) => (u64(m) > u64(v) ? m : v), (m, v) => (u32(m) > u32(v) ? m : v)],
];

describe('AMOs', () => {
  for (const [name, ref64, ref32] of OPS) {
    it(`amo${name}.d and amo${name}.w return the old value and store the reference result`, () => {
      const { hart, ram } = makeHart();
      hart.setX(1, BigInt(DATA));
      for (const m of EDGES) {
        for (const v of [0n, 1n, -1n, 0x80000000n, -0x8000000000000000n, m]) {
          ram.i64[DATA / 8] = s64(m);
          hart.setX(2, v);
          runToEcall(hart, [E.amo(E.AMO[name], 'd', 3, 1, 2)]);
          expect(hart.getX(3)).toBe(s64(m));
          expect(ram.i64[DATA / 8], `amo${name}.d ${m} ${v}`).toBe(s64(ref64(s64(m), s64(v))));
          ram.i64[DATA / 8] = s64(m);
          runToEcall(hart, [E.amo(E.AMO[name], 'w', 3, 1, 2)]);
          expect(hart.getX(3)).toBe(s32(m));
          expect(BigInt(ram.i32[DATA / 4]), `amo${name}.w ${m} ${v}`).toBe(s32(ref32(s32(m), s32(v))));
          expect(ram.i32[DATA / 4 + 1]).toBe(Number(s32(m >> 32n))); // upper word untouched
        }
      }
    });
  }

  it('misaligned AMO and SC raise store-misaligned; misaligned LR load-misaligned', () => {
    const { hart } = makeHart();
    hart.setX(1, BigInt(DATA + 4));
    expect(runWords(hart, [E.amo(E.AMO.add, 'd', 3, 1, 2)])).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_STORE_MISALIGNED);
    expect(hart.tval).toBe(DATA + 4);
    hart.setX(1, BigInt(DATA + 2));
    expect(runWords(hart, [E.amo(E.AMO.lr, 'w', 3, 1, 0)])).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_LOAD_MISALIGNED);
    expect(runWords(hart, [E.amo(E.AMO.sc, 'w', 3, 1, 2)])).toBe(EXIT_TRAP);
    expect(hart.cause).toBe(CAUSE_STORE_MISALIGNED);
  });
});

describe('LR/SC', () => {
  it('lr/sc succeeds (rd = 0) and stores, for .w and .d', () => {
    const { hart, ram } = makeHart();
    hart.setX(1, BigInt(DATA));
    hart.setX(2, -5n);
    ram.i64[DATA / 8] = -0x123456789n;
    runToEcall(hart, [E.amo(E.AMO.lr, 'd', 3, 1, 0), E.amo(E.AMO.sc, 'd', 4, 1, 2)]);
    expect(hart.getX(3)).toBe(-0x123456789n);
    expect(hart.getX(4)).toBe(0n);
    expect(ram.i64[DATA / 8]).toBe(-5n);
    runToEcall(hart, [E.amo(E.AMO.lr, 'w', 3, 1, 0), E.addi(2, 3, 1), E.amo(E.AMO.sc, 'w', 4, 1, 2)]);
    expect(hart.getX(3)).toBe(-5n);
    expect(hart.getX(4)).toBe(0n);
    expect(ram.i32[DATA / 4]).toBe(-4);
  });

  it('sc fails without a reservation, after a store to the reserved word, at another address, twice, and across runs', () => {
    const { hart, ram } = makeHart();
    hart.setX(1, BigInt(DATA));
    hart.setX(5, BigInt(DATA + 8));
    hart.setX(2, 7n);
    const scW = E.amo(E.AMO.sc, 'w', 4, 1, 2);
    const cases: number[][] = [
      [scW],
      [E.amo(E.AMO.lr, 'w', 3, 1, 0), E.sw(0, 1, 0), scW], // own store ends the reservation
      [E.amo(E.AMO.lr, 'w', 3, 1, 0), E.sb(0, 1, 3), scW], // even a byte of it
      [E.amo(E.AMO.lr, 'w', 3, 5, 0), scW], // reserved elsewhere
      [E.amo(E.AMO.lr, 'd', 3, 1, 0), scW], // wrong size
      [E.amo(E.AMO.lr, 'w', 3, 1, 0), E.amo(E.AMO.sc, 'w', 6, 1, 0), scW], // second sc
    ];
    let failures = 0;
    for (const c of cases) {
      ram.i32[DATA / 4] = 1;
      runToEcall(hart, c);
      expect(hart.getX(4), c.map((w) => w.toString(16)).join(' ')).toBe(1n);
      expect(ram.i32[DATA / 4]).not.toBe(7);
      failures++;
    }
    // a reservation does not survive leaving run()
    runToEcall(hart, [E.amo(E.AMO.lr, 'w', 3, 1, 0)]);
    runToEcall(hart, [scW]);
    expect(hart.getX(4)).toBe(1n);
    failures++;
    expect(hart.counters[HC_SC_FAILURES]).toBe(failures); // the last case's first sc succeeded
  });
});
