/**
 * Context switch with generations on real hart workers: a single-threaded process migrating
 * between harts flushes at switch-in exactly when behind (range when one behind, whole ASID when
 * more, nothing when current — counters compared with a model of the run), and ASID rollover
 * with more address spaces than ASID slots neither leaks translations across spaces nor frames.
 * The recycled-ASID test is built so that skipping the flush of a recycled ASID shows: a live
 * space's translation, cached under the ASID a new space is given, would be used by the new one.
 */
import { describe, expect, it } from 'vitest';
import { assemble, type AsmResult } from '../../cpu/asm/assembler.ts';
import { bootScheduled, leakedFrames, schedStats, spawn, wait } from '../../scheduler/api.ts';
import { ASID_SLOTS, PS_LIVE, P_STATE } from '../../kernel/proc/layout.ts';
import { procOfPid, procWord } from '../../scheduler/process.ts';
import { asidProgram, migrateProgram, TEXT_BASE } from '../helpers/sched-guests.ts';
import { rng } from '../helpers/rng.ts';

/** Data page of the recycled-ASID test: the same va in every space, a different frame in each. */
const DATA_VA = 0x200000;

/**
 * Identical code in every space; only the data page differs: word 0 = this space's value,
 * word 1 = sched_yield calls before exiting. Reads word 0 through the TLB first, exits with
 * the value read then. (A space that used another space's stale translation of DATA_VA would
 * read that space's value — and its yield count.)
 */
function valueProgram(value: number, yields: number): AsmResult {
  return assemble(`
_start:
  li s1, ${DATA_VA}
  lw s0, 0(s1)
  lw s2, 4(s1)
again:
  beqz s2, done
  li a7, 124
  ecall
  addi s2, s2, -1
  j again
done:
  mv a0, s0
  li a7, 94
  ecall
  .data
  .word ${value}
  .word ${yields}
`, { textBase: TEXT_BASE, dataBase: DATA_VA });
}

const MiB = 2 ** 20;

/**
 * The expected switch kinds: the thread visits harts 0, 1, ..., cpus-1, 0, ... (visit k on hart
 * k % cpus); during visit j it bumps the generation bumps[j] times, catching its own hart up.
 */
function model(cpus: number, bumps: number[]): Record<string, number> {
  const seen = new Array<number | null>(cpus).fill(null);
  const out = { 'switch.newAsid': 0, 'switch.range': 0, 'switch.full': 0, 'switch.none': 0 };
  let g = 0;
  for (let k = 0; k <= bumps.length; k++) {
    const h = k % cpus;
    const l = seen[h];
    if (l === null) out['switch.newAsid']++;
    else if (l === g) out['switch.none']++;
    else if (l === g - 1) out['switch.range']++;
    else out['switch.full']++;
    g += bumps[k] ?? 0;
    seen[h] = g;
  }
  return out;
}

describe('switch-in generation check', () => {
  it('a migrating single-threaded process flushes exactly when behind (counters match the model)', async () => {
    const cpus = 4;
    const r = rng(0x5eed);
    const bumps = Array.from({ length: 120 }, () => { const x = r(); return x < 0.75 ? 0 : x < 0.93 ? 1 : 2; });
    const expected = model(cpus, bumps);
    expect(expected['switch.range']).toBeGreaterThan(0);
    expect(expected['switch.full']).toBeGreaterThan(0);
    expect(expected['switch.none']).toBeGreaterThan(0);
    const m = await bootScheduled({ cpus, memory: 32 * MiB });
    try {
      const { pid } = spawn(m, { image: { asm: migrateProgram(bumps) }, migrate: true, hart: 0 });
      expect(await wait(m, pid, 20_000)).toBe(0);
      const s = schedStats(m);
      const got = Object.fromEntries(Object.keys(expected).map((k) => [k, s.total[k]]));
      expect(got).toEqual(expected);
      expect(s.total['yield']).toBe(bumps.length);
      expect(leakedFrames(m)).toBe(0);
    } finally {
      await m.shutdown();
    }
  });

  // A stress run: ASIDs recycled many times per hart while every process keeps checking its own
  // page. (It cannot catch a missing recycled-ASID flush by itself: each process's MAP_FIXED
  // mmap flushes that page locally first. The next test can.)
  it('ASID rollover: 16 address spaces pinned 8 per hart on 2 harts (6 ASID slots each): every process sees its own page, frames balance', async () => {
    const m = await bootScheduled({ cpus: 2, memory: 64 * MiB });
    try {
      const pids = Array.from({ length: 16 }, (_, k) => spawn(m, { image: { asm: asidProgram(40) }, hart: k % 2 }).pid);
      const statuses = await Promise.all(pids.map((p) => wait(m, p, 25_000)));
      expect(statuses).toEqual(pids.map(() => 0));
      const s = schedStats(m);
      // More spaces than slots: ASIDs were recycled (each recycle flushed), many times per hart.
      for (const h of s.harts) expect(h.counters['switch.newAsid']).toBeGreaterThan(6);
      expect(leakedFrames(m)).toBe(0);
    } finally {
      await m.shutdown();
    }
  });

  it('a recycled ASID is flushed: a new space never uses a live space\'s translation cached under that ASID', async () => {
    // One hart, FIFO run queue. A reads DATA_VA (hart 0's TLB caches va → A's frame under A's
    // ASID k) and stays alive, yielding. ASID_SLOTS - 1 fillers take the other slots; B, the
    // next new space, is given ASID k again (round-robin) while A's entry is still cached.
    // Without the flush at B's switch-in, B's read hits A's entry and returns A's value (10).
    const m = await bootScheduled({ cpus: 1, memory: 32 * MiB });
    try {
      const A_VALUE = 10, B_VALUE = 11, A_YIELDS = 20_000;
      const a = spawn(m, { image: { asm: valueProgram(A_VALUE, A_YIELDS) }, hart: 0 }).pid;
      const fillers = Array.from({ length: ASID_SLOTS - 1 }, (_, k) => spawn(m, { image: { asm: valueProgram(20 + k, 0) }, hart: 0 }).pid);
      const b = spawn(m, { image: { asm: valueProgram(B_VALUE, 0) }, hart: 0 }).pid;
      const fillerStatus = await Promise.all(fillers.map((p) => wait(m, p, 20_000)));
      expect(fillerStatus).toEqual(fillers.map((_, k) => 20 + k));
      expect(await wait(m, b, 20_000)).toBe(B_VALUE); // A_VALUE: B used A's translation
      // Precondition: A was still alive (its translation cached, its frame not freed) when B ran.
      expect(Atomics.load(m.ctl.i32, procWord(m.ctl, procOfPid(m.ctl, a), P_STATE))).toBe(PS_LIVE);
      expect(await wait(m, a, 20_000)).toBe(A_VALUE);
      // New ASIDs: A, the fillers, B (which evicted A: A kept its slot until then), then A again.
      expect(schedStats(m).harts[0]!.counters['switch.newAsid']).toBe(ASID_SLOTS + 2);
      expect(leakedFrames(m)).toBe(0);
    } finally {
      await m.shutdown();
    }
  });

  it('under off, a recycled address-space slot is still flushed: a new process never uses the previous one\'s translation', async () => {
    // Issue 12 bug 7. A reads DATA_VA on hart 0 (hart 0 caches va → A's frame under the ASID it
    // gave A's address-space slot), migrates to hart 1 with its one yield and exits there: `off`
    // tells hart 0 nothing. B, spawned next, gets A's freed slot and runs on hart 0. `off` skips
    // the flushes of a space's own changes, but hart 0's entry belongs to the slot's previous
    // life (below B's birth generation): switch-in must flush it. Without: B reads A's value.
    const m = await bootScheduled({ cpus: 2, memory: 32 * MiB, policy: 'off' });
    try {
      const A_VALUE = 10, B_VALUE = 11;
      const a = spawn(m, { image: { asm: valueProgram(A_VALUE, 1) }, hart: 0, migrate: true }).pid;
      expect(await wait(m, a, 20_000)).toBe(A_VALUE);
      const before = schedStats(m).harts[0]!;
      const b = spawn(m, { image: { asm: valueProgram(B_VALUE, 0) }, hart: 0 }).pid;
      expect(await wait(m, b, 20_000)).toBe(B_VALUE); // A_VALUE: B used A's translation
      // Precondition: hart 0 still remembered the slot from A's life (B took no fresh ASID slot);
      // the flush was the whole ASID, as for any space more than one change behind.
      const after = schedStats(m).harts[0]!;
      expect(after.counters['switch.newAsid']).toBe(before.counters['switch.newAsid']);
      expect(after.counters['switch.full']).toBe(before.counters['switch.full']! + 1);
      expect(leakedFrames(m)).toBe(0);
    } finally {
      await m.shutdown();
    }
  });
});

