import { describe, expect, it } from 'vitest';
import {
  attachCtl, CACHE_LINE, computeLayout, createCtl, H_CPUS, H_FRAMES, H_STATE, HEADER_BYTES, H_ICACHE_EPOCH,
  layoutRegions, MACHINE_BOOTING, type CtlLayout,
} from '../../kernel/layout.ts';
import { MAILBOX_BYTES } from '../../cpu/mailbox.ts';

const configs = [
  { cpus: 1, frames: 4096 }, // 16 MiB
  { cpus: 4, frames: 65536 }, // 256 MiB
  { cpus: 3, frames: 512 * 3 },
  { cpus: 64, frames: 1 << 20 }, // 4 GiB
];

function check(l: CtlLayout): void {
  const regions = layoutRegions(l).sort((a, b) => a.offset - b.offset);
  expect(regions[0]!.offset).toBe(0);
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i]!;
    expect(r.bytes, r.name).toBeGreaterThan(0);
    expect(r.offset % r.align, `${r.name} alignment`).toBe(0);
    expect(r.align, `${r.name} alignment >= 8`).toBeGreaterThanOrEqual(8);
    if (r.stride !== undefined) {
      expect(r.stride % CACHE_LINE, `${r.name} per-hart stride`).toBe(0);
      expect(r.bytes).toBe(r.stride * l.cpus);
    }
    if (i > 0) {
      const p = regions[i - 1]!;
      expect(p.offset + p.bytes, `${p.name} overlaps ${r.name}`).toBeLessThanOrEqual(r.offset);
    }
  }
  const last = regions[regions.length - 1]!;
  expect(last.offset + last.bytes).toBeLessThanOrEqual(l.bytes);
}

describe('ctl layout', () => {
  it.each(configs)('regions neither overlap nor misalign (cpus $cpus, frames $frames)', (c) => {
    check(computeLayout(c));
  });

  it('lists every region of the layout exactly once', () => {
    const l = computeLayout({ cpus: 2, frames: 4096 });
    const names = layoutRegions(l).map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    const offsets = Object.entries(l).filter(([k]) => !['cpus', 'frames', 'blocks', 'bytes'].includes(k));
    expect(names.sort()).toEqual(offsets.map(([k]) => k).sort());
  });

  it('sizes regions from the config', () => {
    const a = computeLayout({ cpus: 2, frames: 4096 });
    const b = computeLayout({ cpus: 3, frames: 4096 });
    expect(b.bytes - a.bytes).toBeGreaterThanOrEqual(MAILBOX_BYTES);
    const r = layoutRegions(a).find((x) => x.name === 'frameRefcount')!;
    expect(r.bytes).toBe(4096 * 4);
    expect(H_ICACHE_EPOCH * 4).toBeLessThan(HEADER_BYTES);
  });

  it('rejects bad configs', () => {
    expect(() => computeLayout({ cpus: 0, frames: 4096 })).toThrow(/cpus/);
    expect(() => computeLayout({ cpus: 1, frames: 1000 })).toThrow(/frames/);
  });

  it('createCtl writes the header and attachCtl recomputes the same layout', () => {
    const ctl = createCtl({ cpus: 4, frames: 8192 });
    expect(ctl.i32[H_CPUS]).toBe(4);
    expect(ctl.i32[H_FRAMES]).toBe(8192);
    expect(Atomics.load(ctl.i32, H_STATE)).toBe(MACHINE_BOOTING);
    const again = attachCtl(ctl.sab);
    expect(again.layout).toEqual(ctl.layout);
    expect(() => attachCtl(new SharedArrayBuffer(ctl.layout.bytes))).toThrow(/attachCtl: not a Coherent ctl/);
  });
});
