import { describe, expect, it } from 'vitest';
import { liveHartThreads, Machine } from '../../scheduler/machine.ts';
import { H_HALT_HART, H_STATE, MACHINE_HALTED, MACHINE_SHUTDOWN } from '../../kernel/layout.ts';
import { HART_TEST_COMMANDS } from '../helpers/commands.ts';
import { S_SPIN } from '../helpers/hart-test-commands.ts';

const MiB = 2 ** 20;

describe('Machine.boot validation (nothing is started on bad input)', () => {
  it.each([
    [{ cpus: 0 }, /^cpus: 0 is not allowed; it must be an integer from 1 to 64/],
    [{ cpus: 65 }, /^cpus: 65 .*from 1 to 64/],
    [{ cpus: 1.5 }, /^cpus: 1.5/],
    [{ memory: 17 * MiB }, /^memory: .*multiple of 2 MiB between 16 MiB and 4 GiB/],
    [{ memory: 14 * MiB }, /^memory: /],
    [{ memory: 8 * 1024 * MiB }, /^memory: /],
  ])('%o → RangeError', async (opts, msg) => {
    await expect(Machine.boot(opts)).rejects.toThrow(msg);
    await expect(Machine.boot(opts)).rejects.toBeInstanceOf(RangeError);
    expect(liveHartThreads()).toBe(0);
  });
});

describe('Machine life cycle (real workers)', () => {
  it('boots 4 harts, all up, runs commands on each, shuts down leaving no worker', async () => {
    const m = await Machine.boot({ cpus: 4, memory: 16 * MiB });
    expect([0, 1, 2, 3].map((h) => m.hartUp(h))).toEqual([true, true, true, true]);
    expect(liveHartThreads()).toBe(4);
    expect(await m.runOnAllHarts('ping')).toEqual([0, 1, 2, 3].map((hartId) => ({ hartId })));
    await expect(m.runOnHart(1, 'no.such')).rejects.toThrow(/unknown command no.such \(known: .*ping/);
    await expect(m.runOnHart(4, 'ping')).rejects.toThrow(/no hart 4/);
    await m.shutdown();
    expect(Atomics.load(m.ctl.i32, H_STATE)).toBe(MACHINE_SHUTDOWN);
    expect(m.hartUp(0)).toBe(false);
    expect(liveHartThreads()).toBe(0);
    await expect(m.halted).resolves.toBeUndefined();
    await expect(m.runOnHart(0, 'ping')).rejects.toThrow(/shut down/);
    await m.shutdown(); // idempotent
  });

  it('a hart that throws halts the machine with an error naming that hart, within bounded time', async () => {
    const m = await Machine.boot({ cpus: 3, memory: 16 * MiB, commandModules: [HART_TEST_COMMANDS] });
    const t0 = Date.now();
    // Hart 1 is blocked on a lock held by hart 0 when hart 2 fails: it must not hang the halt.
    const holder = m.runOnHart(0, 'test.holdLock', { ms: 60_000 });
    const lockWord = m.ctl.layout.scratch / 4 + S_SPIN;
    while (Atomics.load(m.ctl.i32, lockWord) === 0) await new Promise((r) => setTimeout(r, 2));
    const waiter = m.runOnHart(1, 'test.lockOnce');
    const failing = m.runOnHart(2, 'test.throw', { message: 'boom in test' });
    await expect(failing).rejects.toThrow(/^hart 2 halted the machine: .*boom in test/);
    await expect(m.halted).rejects.toThrow(/hart 2/);
    await expect(holder).rejects.toThrow(/hart 2/);
    await expect(waiter).rejects.toThrow(/hart 2/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(Atomics.load(m.ctl.i32, H_STATE)).toBe(MACHINE_HALTED);
    expect(m.ctl.i32[H_HALT_HART]).toBe(2);
    expect(m.haltReason?.message).toMatch(/hart 2/);
    await expect(m.runOnHart(0, 'ping')).rejects.toThrow(/hart 2 halted/);
    await m.shutdown();
    expect(liveHartThreads()).toBe(0);
  });

  it('boots and shuts down 30 times: no worker left, no memory growth beyond noise', async () => {
    // Mostly 1-hart machines (each worker start costs a TypeScript loader); every 5th has 2.
    let n = 0;
    let machineBytes = 0;
    const cycle = async (): Promise<void> => {
      const cpus = n++ % 5 === 0 ? 2 : 1;
      const m = await Machine.boot({ cpus, memory: 16 * MiB });
      machineBytes = Math.max(machineBytes, 16 * MiB + m.ctl.i32.buffer.byteLength);
      await m.runOnHart(cpus - 1, 'ping');
      await m.shutdown();
      expect(liveHartThreads()).toBe(0);
    };
    for (let i = 0; i < 5; i++) await cycle(); // warm up caches and code
    const before = process.memoryUsage();
    for (let i = 0; i < 25; i++) await cycle();
    const after = process.memoryUsage();
    // Each machine holds 16 MiB RAM + ctl (ctl grows with the tables sized from --memory);
    // 25 leaked machines would be 25 machines' worth. A few not yet collected are noise.
    expect(after.external + after.arrayBuffers - before.external - before.arrayBuffers).toBeLessThan(8 * machineBytes);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(64 * MiB);
  }, 120_000);
});
