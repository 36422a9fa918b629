/**
 * Hart commands for the pipe tests: one hart pumps a deterministic byte stream into a pipe,
 * another drains it and checks every byte (kernel/fs/pipe.ts across real workers).
 */
import { registerHartCommand } from '../../scheduler/hart-commands.ts';
import type { HartContext } from '../../scheduler/hart-context.ts';
import { KernelContext } from '../../kernel/context.ts';
import { hartWaiter, pipeCloseEnd, pipeRead, pipeWrite } from '../../kernel/fs/pipe.ts';

/** Byte i of stream `seed`. */
export const streamByte = (seed: number, i: number): number => (Math.imul(i, 31) + seed + (i >>> 9)) & 0xff;

const kctx = (ctx: HartContext): KernelContext =>
  new KernelContext({ hartId: ctx.hartId, ram: ctx.ram, ctl: ctx.ctl, frames: ctx.frames, whileWaiting: ctx.whileWaiting });

registerHartCommand('pipe.pump', (ctx, a: { p: number; bytes: number; seed: number; chunk: number }) => {
  const k = kctx(ctx);
  const w = hartWaiter(ctx.whileWaiting);
  let sent = 0;
  while (sent < a.bytes) {
    const n = Math.min(a.chunk, a.bytes - sent);
    const src = new Uint8Array(n);
    for (let i = 0; i < n; i++) src[i] = streamByte(a.seed, sent + i);
    const r = pipeWrite(k, a.p, n, false, w, (off, m) => src.subarray(off, off + m));
    if (r !== n) throw new Error(`pipe.pump: write returned ${r}`);
    sent += n;
  }
  pipeCloseEnd(k, a.p, true);
  return { sent };
});

registerHartCommand('pipe.drain', (ctx, a: { p: number; seed: number; chunk: number }) => {
  const k = kctx(ctx);
  const w = hartWaiter(ctx.whileWaiting);
  let got = 0, bad = 0, reads = 0;
  for (;;) {
    const r = pipeRead(k, a.p, a.chunk, false, w, () => 0, (bytes) => {
      for (let i = 0; i < bytes.length; i++) if (bytes[i] !== streamByte(a.seed, got + i)) bad++;
    });
    if (r < 0) throw new Error(`pipe.drain: read returned ${r}`);
    if (r === 0) break;
    got += r;
    reads++;
  }
  pipeCloseEnd(k, a.p, false);
  return { got, bad, reads };
});
