import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SpinLock, SPIN_CONTENDED, SPIN_LOCKED, SPIN_UNLOCKED } from '../../../kernel/sync/lock.ts';
import { Mutex } from '../../../kernel/sync/mutex.ts';
import { RwLock, RW_WRITER } from '../../../kernel/sync/rwlock.ts';
import { Machine } from '../../../scheduler/machine.ts';
import { HART_TEST_COMMANDS } from '../../helpers/commands.ts';
import { S_COUNTER, S_MUTEX, S_RW, S_RW_A, S_RW_B, S_SPIN } from '../../helpers/hart-test-commands.ts';

/** A whileWaiting callback that abandons the acquire after `n` blocked slices. */
function giveUpAfter(n: number): { calls: number; fn: () => void } {
  const s = { calls: 0, fn: () => { if (++s.calls >= n) throw new Error('gave up'); } };
  return s;
}

describe('SpinLock (one thread)', () => {
  it('moves through its states and rejects unlocking a free lock', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    SpinLock.initialize(i32, 3);
    const l = new SpinLock(i32, 3);
    expect(l.tryLock()).toBe(true);
    expect(i32[3]).toBe(SPIN_LOCKED);
    expect(l.tryLock()).toBe(false);
    l.unlock();
    expect(i32[3]).toBe(SPIN_UNLOCKED);
    expect(() => l.unlock()).toThrow('SpinLock.unlock: lock is not held');
  });

  it('blocks a contender (bounded spin, then Atomics.wait slices running whileWaiting)', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    const holder = new SpinLock(i32, 0);
    holder.lock();
    const w = giveUpAfter(5);
    const t0 = performance.now();
    expect(() => new SpinLock(i32, 0, w.fn).lock()).toThrow('gave up');
    expect(w.calls).toBe(5);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(3); // it slept, it did not spin
    expect(i32[0]).toBe(SPIN_CONTENDED); // the waiter announced itself
    holder.unlock();
    expect(new SpinLock(i32, 0).tryLock()).toBe(true);
  });
});

describe('Mutex (one thread)', () => {
  it('checks its owner', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    Mutex.initialize(i32, 2);
    const a = new Mutex(i32, 2, 0);
    const b = new Mutex(i32, 2, 1, giveUpAfter(2).fn);
    a.lock();
    expect(a.owner()).toBe(0);
    expect(() => a.lock()).toThrow('Mutex.lock: 0 already holds the mutex');
    expect(() => b.unlock()).toThrow('Mutex.unlock: 1 does not hold the mutex (holder 0)');
    expect(() => b.lock()).toThrow('gave up');
    a.unlock();
    expect(b.tryLock()).toBe(true);
    expect(b.owner()).toBe(1);
    b.unlock();
    expect(a.owner()).toBe(-1);
  });
});

describe('RwLock (one thread)', () => {
  it('admits many readers, one writer, and keeps readers out while a writer holds it', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    RwLock.initialize(i32, 0);
    const rw = new RwLock(i32, 0, giveUpAfter(2).fn);
    rw.readLock();
    rw.readLock();
    expect(i32[0]).toBe(2);
    expect(() => new RwLock(i32, 0, giveUpAfter(2).fn).writeLock()).toThrow('gave up');
    expect(i32[1]).toBe(0); // the abandoned writer withdrew
    rw.readUnlock();
    rw.readUnlock();
    expect(() => rw.readUnlock()).toThrow(/no reader/);
    Atomics.store(i32, 0, 0);
    rw.writeLock();
    expect(i32[0]).toBe(RW_WRITER);
    expect(() => new RwLock(i32, 0, giveUpAfter(2).fn).readLock()).toThrow('gave up');
    rw.writeUnlock();
    expect(() => rw.writeUnlock()).toThrow(/no writer/);
  });
});

describe('locks under contention from 4 harts (real workers, 2 cores)', () => {
  let m: Machine;
  const ITER = 4000;
  beforeAll(async () => {
    m = await Machine.boot({ cpus: 4, memory: 16 * 2 ** 20, commandModules: [HART_TEST_COMMANDS] });
  });
  afterAll(() => m?.shutdown());
  beforeEach(() => {
    const s = m.ctl.layout.scratch / 4;
    m.ctl.i32.fill(0, s, s + 256);
    SpinLock.initialize(m.ctl.i32, s + S_SPIN);
    Mutex.initialize(m.ctl.i32, s + S_MUTEX);
    RwLock.initialize(m.ctl.i32, s + S_RW);
  });
  const counter = (): number => m.ctl.i32[m.ctl.layout.scratch / 4 + S_COUNTER]!;

  it.each(['spin', 'mutex'])('%s keeps a shared counter exact', async (kind) => {
    const res = await m.runOnAllHarts<{ writes: number }>('test.lock', (h) => ({ kind, iterations: ITER, seed: h }));
    expect(res.map((r) => r.writes)).toEqual([ITER, ITER, ITER, ITER]);
    expect(counter()).toBe(4 * ITER);
  });

  it('rw keeps the counter exact and readers never see a half-done write', async () => {
    const res = await m.runOnAllHarts<{ writes: number; violations: number }>(
      'test.lock', (h) => ({ kind: 'rw', iterations: ITER, seed: 10 + h }),
    );
    const writes = res.reduce((s, r) => s + r.writes, 0);
    expect(writes).toBeGreaterThan(ITER); // ~30% of 4 x ITER
    expect(res.map((r) => r.violations)).toEqual([0, 0, 0, 0]);
    expect(counter()).toBe(writes);
    const s = m.ctl.layout.scratch / 4;
    expect(m.ctl.i32[s + S_RW_A]).toBe(writes);
    expect(m.ctl.i32[s + S_RW_B]).toBe(writes);
  });

  it('a hart blocked on a lock still serves interrupts', async () => {
    const hold = m.runOnHart(1, 'test.holdLock', { ms: 300 });
    await new Promise((r) => setTimeout(r, 50));
    const blocked = m.runOnHart(2, 'test.lockOnce');
    await new Promise((r) => setTimeout(r, 50));
    // Hart 2 is blocked on the lock held by hart 1; both still acknowledge hart 0's interrupts.
    const { ns } = await m.runOnHart<{ ns: number[] }>(0, 'ipi', { targets: [1, 2], rounds: 3 });
    expect(ns.length).toBe(3);
    await Promise.all([hold, blocked]);
  });
});
