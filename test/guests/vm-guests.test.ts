/**
 * Regression: the VM guests `mmap` and `mix` (guests/manifest.json args and exact stdout) on 1
 * and 4 harts through the process API, every frame back afterwards. Both once failed on this
 * kernel and passed under qemu-user — not a kernel bug: each guest assumed that a window it had
 * munmapped stays free while it works, which holds for qemu-user's bottom-up allocator but not
 * for Linux's top-down search (kernel/mm/mmap.ts findGap), which places the next non-fixed mmap
 * in the highest free gap: that very window. `mmap`'s busy-hint mapping landed on window page
 * 30 ("busy hint moved: page 30"); `mix`'s race reservation landed in the churn window, so the
 * race writer's MAP_FIXED remaps resurrected pages the churn thread had unmapped ("unmapped
 * page read: expected signal 11, got 0") and churn unmapped the writer's scratch area (139).
 * The guests now keep their windows reserved while anything else is mapped. Also a small
 * guest-shaped check of the placement rule itself through the kernel API.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootScheduled, leakedFrames } from '../../scheduler/api.ts';
import type { Machine } from '../../scheduler/machine.ts';
import { mmap, munmap } from '../../kernel/mm/mmap.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_NONE, PROT_READ, PROT_WRITE } from '../../kernel/mm/abi.ts';
import { bootTestVm, PAGE } from '../kernel/mm/harness.ts';
import { runCaptured } from '../helpers/spawn-capture.ts';

interface Guest { name: string; binary: string; args: string[]; env: Record<string, string>; stdout: string; exitStatus: number }
const ROOT = new URL('../../', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(ROOT, 'guests/manifest.json'), 'utf8')) as { guests: Guest[] };
const guest = (n: string): Guest => manifest.guests.find((g) => g.name === n)!;

let scratch = '';
beforeAll(() => { scratch = mkdtempSync(join(tmpdir(), 'coherent-vm-guests-')); });
afterAll(() => { rmSync(scratch, { recursive: true, force: true }); });

async function run(m: Machine, g: Guest, tag: string): Promise<{ status: number; stdout: string }> {
  const elf = new Uint8Array(readFileSync(join(ROOT, g.binary)));
  const envp = Object.entries(g.env).map(([k, v]) => `${k}=${v}`);
  return runCaptured(m, elf, [g.name, ...g.args], { dir: scratch, tag: `${g.name}-${tag}`, envp });
}

describe('placement the guests must live with (Linux top-down)', () => {
  it('a busy hint goes to the highest free gap: the top of a just-freed window', () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const ANON = MAP_PRIVATE | MAP_ANONYMOUS, RW = PROT_READ | PROT_WRITE;
    const win = mmap(vm.ctx, as, 0, 32 * PAGE, PROT_NONE, ANON);
    expect(munmap(vm.ctx, as, win, 32 * PAGE)).toBe(0);
    expect(mmap(vm.ctx, as, win, 6 * PAGE, RW, ANON | MAP_FIXED)).toBe(win);
    expect(mmap(vm.ctx, as, win + PAGE, 2 * PAGE, RW, ANON)).toBe(win + 30 * PAGE); // what failed `mmap`
    // With the window's free pages plugged (the guest's fix), the moved mapping lands outside it.
    expect(mmap(vm.ctx, as, win + 6 * PAGE, 24 * PAGE, PROT_NONE, ANON | MAP_FIXED)).toBe(win + 6 * PAGE);
    const p = mmap(vm.ctx, as, win + PAGE, 2 * PAGE, RW, ANON);
    expect(p + 2 * PAGE <= win || p >= win + 32 * PAGE).toBe(true);
  });
});

for (const cpus of [1, 4]) {
  describe(`mmap and mix on ${cpus} hart(s)`, () => {
    let m: Machine;
    beforeAll(async () => { m = await bootScheduled({ cpus, memory: 128 * 2 ** 20, root: scratch }); });
    afterAll(async () => { await m?.shutdown(); });

    for (const name of ['mmap', 'mix']) {
      it(`${name}: exact stdout, exit status, no frame leaked`, async () => {
        const g = guest(name);
        const r = await run(m, g, `${cpus}`);
        expect(r.stdout).toBe(g.stdout);
        expect(r.status).toBe(g.exitStatus);
        expect(leakedFrames(m)).toBe(0);
      }, 60_000);
    }
  });
}
