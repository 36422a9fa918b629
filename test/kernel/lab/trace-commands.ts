/**
 * Hart commands for test/kernel/lab/trace.test.ts: a toy shootdown over the real interrupt wire,
 * traced with the real emit calls, so the test exports a trace written by real hart workers.
 */
import { MSG_KIND_USER } from '../../../cpu/mailbox.ts';
import { registerHartCommand } from '../../../scheduler/hart-commands.ts';
import {
  CAUSE_SHOOTDOWN, FLUSH_PAGE, SWITCH_EXIT, traceEmitFlush, traceEmitShootdownAck,
  traceEmitShootdownDone, traceEmitShootdownRecv, traceEmitShootdownStart, traceEmitSwitchIn, traceEmitSwitchOut,
  traceEmitSyscallBegin, traceEmitSyscallEnd, type TraceWriter,
} from '../../../kernel/lab/trace.ts';

export const TRACE_TEST_COMMANDS = new URL('./trace-commands.ts', import.meta.url).href;
const KIND_TEST_SHOOTDOWN = MSG_KIND_USER + 7;
let w: TraceWriter | null = null;

/** trace.init → null: take this hart's writer (HartContext.trace) and serve test shootdowns (recv, flush, ack). */
registerHartCommand('trace.init', (ctx) => {
  w = ctx.trace;
  ctx.onInterrupt(KIND_TEST_SHOOTDOWN, (_c, msg) => {
    const id = msg.payload[0]!;
    traceEmitShootdownRecv(w, id, msg.sender, true);
    traceEmitFlush(w, FLUSH_PAGE, CAUSE_SHOOTDOWN, 1, 0x40000, 1);
    traceEmitShootdownAck(w, id, msg.sender);
  });
  return null;
});

/** trace.shootdown { targets, rounds } → { ids }: as a thread in a munmap, shoot down `targets` `rounds` times. */
registerHartCommand('trace.shootdown', (ctx, args: { targets: number[]; rounds: number }) => {
  const ids: number[] = [];
  traceEmitSwitchIn(w, 100 + ctx.hartId, 1, 1);
  traceEmitSyscallBegin(w, 215, 0x40000, 4096, 0);
  for (let r = 0; r < args.rounds; r++) {
    const id = w!.nextShootdownId();
    ids.push(id);
    traceEmitShootdownStart(w, id, args.targets.reduce((m, t) => m + 2 ** t, 0), 0x40000, 1);
    ctx.port.waitForAcks(ctx.port.send(args.targets, KIND_TEST_SHOOTDOWN, [id]), 200);
    traceEmitShootdownDone(w, id);
  }
  traceEmitSyscallEnd(w, 215, 0);
  traceEmitSwitchOut(w, SWITCH_EXIT);
  return { ids };
});
