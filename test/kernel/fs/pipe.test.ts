import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsTest, type FsTest } from './harness.ts';
import { sysClose, sysRead, sysWrite } from '../../../kernel/fs/sys-fs.ts';
import { sysFstat, sysIoctl, sysPipe2, sysFcntl } from '../../../kernel/fs/sys-fs-meta.ts';
import { EAGAIN, EFAULT, EINVAL } from '../../../kernel/errno.ts';
import { EPIPE, ESPIPE } from '../../../kernel/fs/hostfs.ts';
import { FIONREAD, F_GETFD, O_CLOEXEC, O_NONBLOCK, S_IFIFO, S_IFMT, TCGETS } from '../../../kernel/linux-flags.ts';
import { pipeCreate, pipeEnds, setSigpipeHook } from '../../../kernel/fs/pipe.ts';
import { PIPE_CAPACITY } from '../../../kernel/fs/layout.ts';
import { sysLseek } from '../../../kernel/fs/sys-fs.ts';
import { ofilesLive } from '../../../kernel/fs/ofile.ts';
import { Machine } from '../../../scheduler/machine.ts';
import { KernelContext } from '../../../kernel/context.ts';

const B = 0x1010_0000, FDS = 0x1000_0000;
let t: FsTest;
beforeEach(() => { t = fsTest(); });
afterEach(() => { t.cleanup(); setSigpipeHook(() => {}); });

function pipe(flags = 0): [number, number] {
  expect(t.call(sysPipe2, FDS, flags)).toBe(0);
  const dv = new DataView(t.peek(FDS, 8).buffer);
  return [dv.getInt32(0, true), dv.getInt32(4, true)];
}

describe('pipes through the syscalls', () => {
  it('write then read, EOF after the writer closes, fstat is a FIFO, FIONREAD counts', () => {
    const [r, w] = pipe();
    expect([r, w]).toEqual([3, 4]);
    t.poke(B, new TextEncoder().encode('through the pipe'));
    expect(t.call(sysWrite, w, B, 16)).toBe(16);
    expect(t.call(sysIoctl, r, FIONREAD, B + 512)).toBe(0);
    expect(new DataView(t.peek(B + 512, 4).buffer).getInt32(0, true)).toBe(16);
    expect(t.call(sysRead, r, B + 100, 7)).toBe(7);
    expect(t.call(sysRead, r, B + 107, 100)).toBe(9);
    expect(new TextDecoder().decode(t.peek(B + 100, 16))).toBe('through the pipe');
    expect(t.call(sysFstat, r, B + 1024)).toBe(0);
    expect(new DataView(t.peek(B + 1024, 128).buffer).getUint32(16, true) & S_IFMT).toBe(S_IFIFO);
    expect(t.call(sysLseek, r, 0, 0)).toBe(-ESPIPE);
    expect(t.call(sysIoctl, r, TCGETS, B)).toBe(-25); // ENOTTY
    expect(t.call(sysRead, w, B, 1)).toBe(-9); // write end is not readable: EBADF
    expect(t.call(sysClose, w)).toBe(0);
    expect(t.call(sysRead, r, B, 10)).toBe(0);
  });

  it('EPIPE and the SIGPIPE hook when every reader is gone; O_NONBLOCK gives EAGAIN', () => {
    let sigpipes = 0;
    setSigpipeHook(() => { sigpipes++; });
    const [r, w] = pipe(O_NONBLOCK | O_CLOEXEC);
    expect(t.call(sysFcntl, r, F_GETFD)).toBe(1);
    expect(t.call(sysRead, r, B, 10)).toBe(-EAGAIN);
    t.poke(B, new Uint8Array(PIPE_CAPACITY + 10).fill(7));
    expect(t.call(sysWrite, w, B, PIPE_CAPACITY + 10)).toBe(PIPE_CAPACITY); // partial, then full
    expect(t.call(sysWrite, w, B, 1)).toBe(-EAGAIN);
    expect(t.call(sysRead, r, B, 100)).toBe(100);
    expect(t.call(sysWrite, w, B, 200)).toBe(-EAGAIN); // <= PIPE_BUF is all or nothing
    expect(t.call(sysWrite, w, B, 100)).toBe(100);
    expect(t.call(sysClose, r)).toBe(0);
    expect(t.call(sysWrite, w, B, 1)).toBe(-EPIPE);
    expect(sigpipes).toBe(1);
  });

  it('EFAULT leaves the data in the pipe; bad pipe2 arguments; nothing leaks', () => {
    const live = ofilesLive(t.vm.ctx);
    expect(t.call(sysPipe2, 0x4000_0000, 0)).toBe(-EFAULT);
    expect(t.call(sysPipe2, FDS, 0x1)).toBe(-EINVAL);
    expect(ofilesLive(t.vm.ctx)).toBe(live);
    const [r, w] = pipe();
    t.poke(B, new TextEncoder().encode('kept'));
    expect(t.call(sysWrite, w, 0x4000_0000, 4)).toBe(-EFAULT);
    expect(t.call(sysWrite, w, B, 4)).toBe(4);
    expect(t.call(sysRead, r, 0x4000_0000, 4)).toBe(-EFAULT);
    expect(t.call(sysRead, r, B + 64, 4)).toBe(4);
    expect(new TextDecoder().decode(t.peek(B + 64, 4))).toBe('kept');
    t.call(sysClose, r);
    t.call(sysClose, w);
    expect(ofilesLive(t.vm.ctx)).toBe(live);
  });
});

describe('a pipe between two harts', () => {
  let m: Machine | null = null;
  afterEach(async () => { await m?.shutdown(); m = null; });

  it('passes 1 MiB with exact content, writer on hart 0 and reader on hart 1', async () => {
    m = await Machine.boot({
      cpus: 2, memory: 16 * 2 ** 20, commandModules: [new URL('../../helpers/pipe-commands.ts', import.meta.url).href],
    });
    const host = KernelContext.forHost(m.ram, m.ctl);
    const p = pipeCreate(host);
    expect(p).toBeGreaterThanOrEqual(0);
    const bytes = 2 ** 20;
    const t0 = performance.now();
    const [sent, drained] = await Promise.all([
      m.runOnHart<{ sent: number }>(0, 'pipe.pump', { p, bytes, seed: 5, chunk: 3000 }),
      m.runOnHart<{ got: number; bad: number; reads: number }>(1, 'pipe.drain', { p, seed: 5, chunk: 8192 }),
    ]);
    const ms = performance.now() - t0;
    expect(sent.sent).toBe(bytes);
    expect(drained.got).toBe(bytes);
    expect(drained.bad).toBe(0);
    expect(ms).toBeLessThan(20_000);
    expect(pipeEnds(host, p)).toEqual({ readers: 0, writers: 0 });
    console.log(`BENCH pipe.1MiB.2harts ${ms.toFixed(1)} ms (${drained.reads} reads)`);
  });
});
