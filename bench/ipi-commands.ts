/**
 * Hart commands of the ipi benchmark (bench/ipi.ts). Scratch words (ctl scratch region):
 * B_PING (ping-pong word), B_READY (responder ready), B_STOP (end of a busy phase).
 * Every spin here has a deadline (BENCH_DEADLINE_MS): no unbounded spinning.
 */
import { MSG_KIND_NOP } from '../cpu/mailbox.ts';
import { registerHartCommand } from '../scheduler/hart-commands.ts';
import type { HartContext } from '../scheduler/hart-context.ts';

export const B_PING = 128;
export const B_READY = 144;
export const B_STOP = 160;
const BENCH_DEADLINE_MS = 30_000;

const scratch = (ctx: HartContext): number => ctx.ctl.layout.scratch / 4;

function deadline(what: string): () => void {
  const end = Date.now() + BENCH_DEADLINE_MS;
  let n = 0;
  return () => {
    if ((++n & 0xffff) === 0 && Date.now() > end) throw new Error(`${what}: partner did not answer within ${BENCH_DEADLINE_MS} ms`);
  };
}

/**
 * bench.pong {} → null: the raw ping-pong responder. Spins on B_PING: an odd value v is
 * answered with v+1; -1 ends. Pure Atomics, no mailbox: the platform's cross-worker limit.
 */
registerHartCommand('bench.pong', (ctx) => {
  const i32 = ctx.ctl.i32;
  const w = scratch(ctx) + B_PING;
  const tick = deadline('bench.pong');
  Atomics.store(i32, scratch(ctx) + B_READY, 1);
  for (;;) {
    const v = Atomics.load(i32, w);
    if (v === -1) break;
    if (v & 1) Atomics.store(i32, w, v + 1);
    tick();
  }
  Atomics.store(i32, scratch(ctx) + B_READY, 0);
  return null;
});

/** bench.ping { rounds } → { ns }: the raw ping-pong initiator (start bench.pong first). */
registerHartCommand('bench.ping', (ctx, a: { rounds: number }) => {
  const i32 = ctx.ctl.i32;
  const w = scratch(ctx) + B_PING;
  const tick = deadline('bench.ping');
  while (Atomics.load(i32, scratch(ctx) + B_READY) === 0) tick();
  const ns: number[] = [];
  let v = 1;
  for (let r = 0; r < a.rounds; r++, v += 2) {
    const t0 = process.hrtime.bigint();
    Atomics.store(i32, w, v);
    while (Atomics.load(i32, w) !== v + 1) tick();
    ns.push(Number(process.hrtime.bigint() - t0));
  }
  Atomics.store(i32, w, -1);
  return { ns };
});

/**
 * bench.busy {} → { served }: a running hart — batches of simulated work, polling the
 * pending word between batches (as the run loop will) — until B_STOP is set.
 */
registerHartCommand('bench.busy', (ctx) => {
  const i32 = ctx.ctl.i32;
  const s = scratch(ctx);
  const pending = ctx.port.pendingIndex;
  let served = 0;
  let x = 0;
  Atomics.store(i32, s + B_READY, 1);
  while (Atomics.load(i32, s + B_STOP) === 0) {
    for (let k = 0; k < 64; k++) x = (x * 31 + k) | 0; // one simulated instruction batch
    if (Atomics.load(i32, pending) !== 0) served += ctx.port.poll();
  }
  Atomics.store(i32, s + B_READY, 0);
  return { served, x };
});

/**
 * bench.ipi { target, rounds, waitReady } → { ns }: interrupt round trips (send, wait for the
 * ack while spinning and serving this hart's mailbox). Sets B_STOP at the end.
 */
registerHartCommand('bench.ipi', (ctx, a: { target: number; rounds: number; waitReady: boolean }) => {
  const i32 = ctx.ctl.i32;
  const s = scratch(ctx);
  const tick = deadline('bench.ipi');
  if (a.waitReady) while (Atomics.load(i32, s + B_READY) === 0) tick();
  const targets = [a.target];
  const ns: number[] = [];
  for (let r = 0; r < a.rounds; r++) {
    const t0 = process.hrtime.bigint();
    const ticket = ctx.port.send(targets, MSG_KIND_NOP);
    ctx.port.waitForAcks(ticket, 100_000);
    ns.push(Number(process.hrtime.bigint() - t0));
  }
  Atomics.store(i32, s + B_STOP, 1);
  return { ns };
});
