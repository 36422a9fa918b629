import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsTest, type FsTest } from '../fs/harness.ts';
import {
  setRandomSeed, sysGetcpu, sysSchedGetPriority, sysClockGetres, sysClockGettime, sysGetrandom, sysGettimeofday, sysPrlimit64, sysUmask, sysUname,
} from '../../../kernel/proc/sys-info.ts';
import { EFAULT, EINVAL, EPERM } from '../../../kernel/errno.ts';
import { CLOCK_MONOTONIC, CLOCK_REALTIME, RLIMIT_NOFILE, RLIMIT_STACK } from '../../../kernel/linux-flags.ts';
import { KERNEL_PROBE_VA } from '../../../kernel/mm/aspace.ts';

const B = 0x1010_0000;
let t: FsTest;
beforeEach(() => { t = fsTest(); });
afterEach(() => t.cleanup());
const field = (raw: Uint8Array, i: number): string => new TextDecoder().decode(raw.subarray(i * 65, raw.indexOf(0, i * 65)));

describe('information syscalls', () => {
  it('uname says Linux riscv64', () => {
    expect(t.call(sysUname, B)).toBe(0);
    const raw = t.peek(B, 390);
    expect(field(raw, 0)).toBe('Linux');
    expect(field(raw, 2)).toMatch(/^6\.1\.0/);
    expect(field(raw, 4)).toBe('riscv64');
    expect(t.call(sysUname, KERNEL_PROBE_VA)).toBe(-EFAULT);
  });

  it('getcpu writes the hart and node 0 (NULL pointers allowed); sched_get_priority_max/min give Linux ranges (stress-ng got ENOSYS)', () => {
    t.poke(B, new Uint8Array(8).fill(0xff));
    expect(t.call(sysGetcpu, B, B + 4, 0)).toBe(0);
    const dv = new DataView(t.peek(B, 8).buffer);
    expect(dv.getUint32(0, true)).toBe(Math.max(0, t.f.kctx.hartId));
    expect(dv.getUint32(4, true)).toBe(0);
    expect(t.call(sysGetcpu, 0, 0, 0)).toBe(0);
    expect(t.call(sysGetcpu, KERNEL_PROBE_VA, 0, 0)).toBe(-EFAULT);
    const max = (p: number): number => sysSchedGetPriority([BigInt(p)], true);
    const min = (p: number): number => sysSchedGetPriority([BigInt(p)], false);
    expect([max(0), min(0), max(1), min(1), max(2), min(2), max(3), max(5), max(6)]).toEqual([0, 0, 99, 1, 99, 1, 0, 0, 0]);
    expect(max(4)).toBe(-EINVAL);
    expect(min(-1)).toBe(-EINVAL);
  });

  it('getrandom is reproducible per seed and rejects bad flags', () => {
    setRandomSeed(42);
    expect(t.call(sysGetrandom, B, 37, 0)).toBe(37);
    const a = t.peek(B, 37);
    setRandomSeed(42);
    t.call(sysGetrandom, B, 37, 0);
    expect(t.peek(B, 37)).toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(10);
    expect(t.call(sysGetrandom, B, 8, 0x100)).toBe(-EINVAL);
    expect(t.call(sysGetrandom, 0x4000_0000, 8, 0)).toBe(-EFAULT);
  });

  it('clocks: realtime near the host, monotonic never goes back, getres 1 ns, bad clock EINVAL', () => {
    expect(t.call(sysClockGettime, CLOCK_REALTIME, B)).toBe(0);
    const sec = Number(new DataView(t.peek(B, 16).buffer).getBigInt64(0, true));
    expect(Math.abs(sec - Date.now() / 1000)).toBeLessThan(5);
    t.call(sysClockGettime, CLOCK_MONOTONIC, B);
    const dv1 = new DataView(t.peek(B, 16).buffer);
    const m1 = dv1.getBigInt64(0, true) * 1_000_000_000n + dv1.getBigInt64(8, true);
    t.call(sysClockGettime, CLOCK_MONOTONIC, B);
    const dv2 = new DataView(t.peek(B, 16).buffer);
    expect(dv2.getBigInt64(8, true)).toBeLessThan(1_000_000_000n);
    expect(dv2.getBigInt64(0, true) * 1_000_000_000n + dv2.getBigInt64(8, true)).toBeGreaterThanOrEqual(m1);
    expect(t.call(sysClockGetres, CLOCK_MONOTONIC, B)).toBe(0);
    expect(new DataView(t.peek(B, 16).buffer).getBigInt64(8, true)).toBe(1n);
    expect(t.call(sysClockGettime, 99, B)).toBe(-EINVAL);
    expect(t.call(sysGettimeofday, B, 0)).toBe(0);
    expect(Number(new DataView(t.peek(B, 16).buffer).getBigInt64(8, true))).toBeLessThan(1_000_000);
  });

  it('prlimit64 reads and sets within limits; umask returns the old mask', () => {
    expect(t.call(sysPrlimit64, 0, RLIMIT_STACK, 0, B)).toBe(0);
    const dv = new DataView(t.peek(B, 16).buffer);
    expect(dv.getBigUint64(0, true)).toBe(8n * 2n ** 20n);
    expect(dv.getBigUint64(8, true)).toBe(0xffffffffffffffffn);
    const nv = new DataView(new ArrayBuffer(16));
    nv.setBigUint64(0, 256n, true); nv.setBigUint64(8, 1024n, true);
    t.poke(B + 64, new Uint8Array(nv.buffer));
    expect(t.call(sysPrlimit64, 0, RLIMIT_NOFILE, B + 64, B + 128)).toBe(0);
    expect(new DataView(t.peek(B + 128, 16).buffer).getBigUint64(0, true)).toBe(1024n); // old value
    t.call(sysPrlimit64, 0, RLIMIT_NOFILE, 0, B);
    expect(new DataView(t.peek(B, 16).buffer).getBigUint64(0, true)).toBe(256n);
    nv.setBigUint64(0, 2048n, true); nv.setBigUint64(8, 1024n, true);
    t.poke(B + 64, new Uint8Array(nv.buffer));
    expect(t.call(sysPrlimit64, 0, RLIMIT_NOFILE, B + 64, 0)).toBe(-EINVAL);
    nv.setBigUint64(0, 2048n, true); nv.setBigUint64(8, 4096n, true);
    t.poke(B + 64, new Uint8Array(nv.buffer));
    expect(t.call(sysPrlimit64, 0, RLIMIT_NOFILE, B + 64, 0)).toBe(-EPERM);
    expect(t.call(sysPrlimit64, 0, 99, 0, B)).toBe(-EINVAL);
    expect(t.call(sysUmask, 0o077)).toBe(0o022);
    expect(t.call(sysUmask, 0o022)).toBe(0o077);
  });
});
