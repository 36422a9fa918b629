/**
 * Hart commands used by the tests (Machine.boot({ commandModules: [HART_TEST_COMMANDS] })).
 * They run on real hart workers; each returns plain counts the test asserts on.
 * Scratch words (ctl scratch region, Int32 offsets) used here: see S_*.
 */
import { registerHartCommand } from '../../scheduler/hart-commands.ts';
import type { HartContext } from '../../scheduler/hart-context.ts';
import { SpinLock } from '../../kernel/sync/lock.ts';
import { Mutex } from '../../kernel/sync/mutex.ts';
import { RwLock } from '../../kernel/sync/rwlock.ts';
import { NO_FRAME } from '../../kernel/mm/frames.ts';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { rng } from './rng.ts';

export const S_SPIN = 0;
export const S_MUTEX = 16;
export const S_RW = 32;
export const S_COUNTER = 48;
export const S_RW_A = 64;
export const S_RW_B = 65;
export const S_STOP = 80;
export const S_BUSY_READY = 96; // + hartId

const scratch = (ctx: HartContext): number => ctx.ctl.layout.scratch / 4;

/**
 * test.allocStress { seed, ops, maxHeld } → { allocs, frees, violations, failures }.
 * Random alloc/free. Ownership canary: on alloc the hart CASes the frame's first RAM word
 * from 0 to its tag; a nonzero word means another hart holds the frame (handed out twice).
 * The word is reset to 0 before the frame is freed.
 */
registerHartCommand('test.allocStress', (ctx, a: { seed: number; ops: number; maxHeld: number }) => {
  const r = rng(a.seed);
  const held: number[] = [];
  const ram = ctx.ram.i32;
  const tag = ctx.hartId + 1;
  let allocs = 0, frees = 0, violations = 0, failures = 0;
  const freeOne = (): void => {
    const k = Math.floor(r() * held.length);
    const ppn = held[k]!;
    held[k] = held[held.length - 1]!;
    held.pop();
    if (Atomics.compareExchange(ram, (ppn * PAGE_SIZE) / 4, tag, 0) !== tag) violations++;
    ctx.frames.free(ppn);
    frees++;
  };
  for (let i = 0; i < a.ops; i++) {
    if (held.length > 0 && (held.length >= a.maxHeld || r() < 0.5)) {
      freeOne();
    } else {
      const ppn = ctx.frames.alloc();
      if (ppn === NO_FRAME) { failures++; continue; }
      if (ppn === 0 || Atomics.compareExchange(ram, (ppn * PAGE_SIZE) / 4, 0, tag) !== 0) violations++;
      held.push(ppn);
      allocs++;
    }
    if ((i & 255) === 0) ctx.serve();
  }
  while (held.length) freeOne();
  return { allocs, frees, violations, failures };
});

/**
 * test.refcount { ppn, seed, incs } → { incs, decs }: incRef `incs` times and decRef the same
 * number, in random interleaving, never dropping below this hart's own holdings.
 */
registerHartCommand('test.refcount', (ctx, a: { ppn: number; seed: number; incs: number; keep: number }) => {
  const r = rng(a.seed);
  let mine = 0, incs = 0, decs = 0;
  while (incs < a.incs || mine > a.keep) {
    if (incs < a.incs && (mine === 0 || r() < 0.55)) { ctx.frames.incRef(a.ppn); mine++; incs++; }
    else if (mine > a.keep) { ctx.frames.decRef(a.ppn); mine--; decs++; }
  }
  return { incs, decs };
});

function work(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) | 0;
  return x;
}

/**
 * test.lock { kind: 'spin'|'mutex'|'rw'|'none', iterations, seed } → { violations, writes }.
 * Non-atomic read-work-write of the scratch counter under the lock; for 'rw', writers also
 * keep S_RW_A === S_RW_B and readers (70% of operations) check it under the read lock.
 */
registerHartCommand('test.lock', (ctx, a: { kind: string; iterations: number; seed: number }) => {
  const i32 = ctx.ctl.i32;
  const s = scratch(ctx);
  const r = rng(a.seed);
  let violations = 0, writes = 0;
  const bump = (): void => {
    const v = i32[s + S_COUNTER]!;
    work(Math.floor(r() * 50));
    i32[s + S_COUNTER] = v + 1;
    writes++;
  };
  if (a.kind === 'spin') {
    const lock = new SpinLock(i32, s + S_SPIN, ctx.whileWaiting);
    for (let i = 0; i < a.iterations; i++) lock.with(bump);
  } else if (a.kind === 'mutex') {
    const m = new Mutex(i32, s + S_MUTEX, ctx.hartId, ctx.whileWaiting);
    for (let i = 0; i < a.iterations; i++) m.with(bump);
  } else if (a.kind === 'rw') {
    const rw = new RwLock(i32, s + S_RW, ctx.whileWaiting);
    for (let i = 0; i < a.iterations; i++) {
      if (r() < 0.7) {
        rw.withRead(() => {
          const x = i32[s + S_RW_A];
          work(20);
          if (x !== i32[s + S_RW_B]) violations++;
        });
      } else {
        rw.withWrite(() => {
          const x = i32[s + S_RW_A]! + 1;
          i32[s + S_RW_A] = x;
          work(20);
          i32[s + S_RW_B] = x;
          bump();
        });
      }
    }
  } else if (a.kind === 'none') {
    for (let i = 0; i < a.iterations; i++) bump(); // no lock: shows the race the locks prevent
  } else {
    throw new Error(`test.lock: unknown kind ${a.kind}`);
  }
  return { violations, writes };
});

/** test.throw { message } → throws inside the hart (halts the machine). */
registerHartCommand('test.throw', (_ctx, a: { message: string }) => {
  throw new Error(a.message);
});

/**
 * test.busy {} → { polls }: simulate a running hart — batches of work, polling the pending
 * word between batches — until scratch S_STOP is nonzero. Sets S_BUSY_READY+hartId first.
 */
registerHartCommand('test.busy', (ctx) => {
  const i32 = ctx.ctl.i32;
  const s = scratch(ctx);
  Atomics.store(i32, s + S_BUSY_READY + ctx.hartId, 1);
  let polls = 0;
  while (Atomics.load(i32, s + S_STOP) === 0) {
    work(100);
    if (Atomics.load(i32, ctx.port.pendingIndex) !== 0) polls += ctx.port.poll();
    ctx.checkRunning();
  }
  Atomics.store(i32, s + S_BUSY_READY + ctx.hartId, 0);
  return { polls };
});

/** test.holdLock { ms } → holds the scratch spinlock for `ms` ms (serving its mailbox). */
registerHartCommand('test.holdLock', (ctx, a: { ms: number }) => {
  const lock = new SpinLock(ctx.ctl.i32, scratch(ctx) + S_SPIN, ctx.whileWaiting);
  lock.lock();
  const end = Date.now() + a.ms;
  while (Date.now() < end) { ctx.port.idle(1); ctx.serve(); }
  lock.unlock();
  return null;
});

/** test.lockOnce {} → takes and releases the scratch spinlock (blocks while it is held). */
registerHartCommand('test.lockOnce', (ctx) => {
  const lock = new SpinLock(ctx.ctl.i32, scratch(ctx) + S_SPIN, ctx.whileWaiting);
  lock.lock();
  lock.unlock();
  return null;
});
