/**
 * The VM on real hart workers (Machine + scheduler/vm-commands.ts): several harts faulting
 * the same pages at once get one frame and one mapping each; a fault racing munmap either
 * completes first or ends in SIGSEGV (never a mapping into a freed frame); every frame back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Machine } from '../../../scheduler/machine.ts';
import { VM_COMMANDS } from '../../../scheduler/vm-commands.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../kernel/mm/abi.ts';
import { SEGV_MAPERR } from '../../../kernel/errno.ts';

const HARTS = 3;
const PAGES = 64;
const RACE_PAGES = 2048;
let m: Machine;

beforeAll(async () => {
  m = await Machine.boot({ cpus: HARTS, memory: 32 * 2 ** 20, commandModules: [VM_COMMANDS] });
  await m.runOnHart(0, 'vm.boot');
});
afterAll(async () => {
  await m?.shutdown();
});

async function settle(): Promise<number> {
  await m.runOnAllHarts('vm.flushCache');
  return m.frameStats().free;
}

describe('VM on several harts', () => {
  it.each([false, true])('harts faulting the same pages at once get one frame and one mapping (reverse order on hart 1: %s)', async (rev) => {
    const before = await settle();
    const slot = await m.runOnHart<number>(0, 'vm.create');
    expect(slot).toBeGreaterThanOrEqual(0);
    const va = await m.runOnHart<number>(0, 'vm.mmap', { slot, addr: 0, len: PAGES * 4096, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS });
    expect(va).toBeGreaterThan(0);
    await m.runOnHart(0, 'vm.resetBarrier');
    const res = await Promise.all(Array.from({ length: HARTS }, (_, h) =>
      m.runOnHart<{ pas: number[] }>(h, 'vm.raceTouch', { slot, va, pages: PAGES, harts: HARTS, reverse: rev && h === 1, tag: 0x10 + h })));
    for (let k = 0; k < PAGES; k++) {
      const frames = new Set(res.map((r) => r.pas[k]));
      expect(frames.size, `page ${k}: one frame for every hart`).toBe(1);
    }
    expect(new Set(res[0]!.pas).size).toBe(PAGES);
    // each hart's byte landed in the one shared frame
    for (let k = 0; k < PAGES; k += 7) {
      for (let h = 0; h < HARTS; h++) expect(m.ram.u8[res[0]!.pas[k]! * 4096 + h]).toBe(0x10 + h);
    }
    expect(await m.runOnHart(1, 'vm.release', { slot })).toBe(0);
    expect(await settle()).toBe(before); // losers freed their frames; nothing leaked
  });

  it('a fault racing munmap completes first or ends in SIGSEGV; no mapping survives into freed frames', async () => {
    for (let round = 0; round < 4; round++) {
      const before = await settle();
      const slot = await m.runOnHart<number>(0, 'vm.create');
      const va = await m.runOnHart<number>(0, 'vm.mmap', { slot, addr: 0, len: RACE_PAGES * 4096, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS });
      await m.runOnHart(0, 'vm.resetBarrier');
      const [f, u] = await Promise.all([
        m.runOnHart<{ outcomes: (string | number)[]; leaves: number[] }>(1, 'vm.faultVsUnmap', { slot, va, pages: RACE_PAGES, role: 'fault' }),
        m.runOnHart<{ unmapped: number }>(2, 'vm.faultVsUnmap', { slot, va, pages: RACE_PAGES, role: 'unmap' }),
      ]);
      expect(u.unmapped).toBe(0);
      const firstSegv = f.outcomes.findIndex((o) => o !== 'ok');
      expect(firstSegv, 'the munmap happened during the run').toBeGreaterThan(0);
      // once the munmap completed, every later touch is SIGSEGV (MAPERR); before it, touches succeed
      for (let k = firstSegv; k < RACE_PAGES; k++) {
        expect([SEGV_MAPERR, `ok-then-${SEGV_MAPERR}`]).toContain(f.outcomes[k]);
        if (k > firstSegv) expect(f.outcomes[k]).toBe(SEGV_MAPERR);
      }
      expect(f.leaves).toEqual([]); // no PTE left in the unmapped range
      expect(await m.runOnHart(0, 'vm.release', { slot })).toBe(0);
      expect(await settle()).toBe(before);
    }
  });

  it('parent and child break copy-on-write on the same frames at once on two harts: writes stay private, frames exact', async () => {
    const before = await settle();
    const parent = await m.runOnHart<number>(0, 'vm.create');
    const va = await m.runOnHart<number>(0, 'vm.mmap', { slot: parent, addr: 0, len: PAGES * 4096, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS });
    await m.runOnHart(0, 'vm.resetBarrier');
    await m.runOnHart(0, 'vm.writeAll', { slot: parent, va, pages: PAGES, tag: 1, harts: 1 });
    const child = await m.runOnHart<number>(0, 'vm.fork', { slot: parent });
    const grandchild = await m.runOnHart<number>(0, 'vm.fork', { slot: child });
    expect(child).toBeGreaterThanOrEqual(0);
    await m.runOnHart(0, 'vm.resetBarrier');
    await Promise.all([
      m.runOnHart(1, 'vm.writeAll', { slot: parent, va, pages: PAGES, tag: 2, harts: 3 }),
      m.runOnHart(2, 'vm.writeAll', { slot: child, va, pages: PAGES, tag: 3, harts: 3 }),
      m.runOnHart(0, 'vm.writeAll', { slot: grandchild, va, pages: PAGES, tag: 4, harts: 3 }),
    ]);
    expect(await m.runOnHart(2, 'vm.readAll', { slot: parent, va, pages: PAGES })).toEqual(new Array(PAGES).fill(2));
    expect(await m.runOnHart(0, 'vm.readAll', { slot: child, va, pages: PAGES })).toEqual(new Array(PAGES).fill(3));
    expect(await m.runOnHart(1, 'vm.readAll', { slot: grandchild, va, pages: PAGES })).toEqual(new Array(PAGES).fill(4));
    for (const [h, s] of [[2, child], [0, parent], [1, grandchild]] as const) expect(await m.runOnHart(h, 'vm.release', { slot: s })).toBe(0);
    expect(await settle()).toBe(before);
  });
});
