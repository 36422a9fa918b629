/**
 * The kernel's PTE edits against a concurrently running MMU (a real worker thread walking
 * stores with cpu/mmu.ts, which sets D by 64-bit compare-and-swap): msync-style cleans
 * (cleanRange), permission rewrites (protectRange) and the final clear (clearRange, by
 * exchange) never lose a D bit — every D the MMU set is reported exactly once.
 */
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { bootTestVm, PAGE } from './harness.ts';
import { mmap } from '../../../kernel/mm/mmap.ts';
import { cleanRange, clearRange, protectRange } from '../../../kernel/mm/pagetable.ts';
import { completeShootdown } from '../../../kernel/mm/shootdown.ts';
import { Stale } from '../../../kernel/mm/stale.ts';
import { handlePageFault } from '../../../kernel/mm/fault.ts';
import { ACCESS_STORE } from '../../../cpu/trap.ts';
import { PTE_X } from '../../../cpu/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../kernel/mm/abi.ts';

describe('kernel PTE edits vs a concurrent MMU', () => {
  it('no D bit is lost across cleans, protects and the final clear', async () => {
    const vm = bootTestVm(16);
    const as = vm.newSpace();
    const N = 8;
    const a = mmap(vm.ctx, as, 0, N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    for (let k = 0; k < N; k++) expect(handlePageFault(vm.ctx, as, a + k * PAGE, ACCESS_STORE)).toBeNull();
    const vpn = a / PAGE;
    // start clean: the fault installed D (a store fault)
    let reported = 0;
    const s0 = new Stale(vm.ctx, as);
    cleanRange(vm.ctx, as, vpn, vpn + N, s0);
    completeShootdown(vm.ctx, s0);
    const flagSab = new SharedArrayBuffer(8);
    const flag = new Int32Array(flagSab);
    const worker = new Worker(new URL('./ad-race.worker.mjs', import.meta.url), {
      workerData: { ramSab: vm.ram.sab, flagSab, rootPpn: as.rootPpn, vas: Array.from({ length: N }, (_, k) => a + k * PAGE) },
    });
    const msgs: any[] = [];
    const done = new Promise<any>((resolve, reject) => {
      worker.on('message', (m) => { msgs.push(m); if (!m.ready) resolve(m); });
      worker.on('error', reject);
    });
    while (!msgs.length) await new Promise((r) => setTimeout(r, 2));
    const t0 = Date.now();
    let rounds = 0;
    while (Date.now() - t0 < 400) {
      const s = new Stale(vm.ctx, as);
      reported += cleanRange(vm.ctx, as, vpn, vpn + N, s).length;
      protectRange(vm.ctx, as, vpn, vpn + N, (lo) => lo ^ PTE_X, s); // a harmless rewrite racing the MMU
      completeShootdown(vm.ctx, s);
      rounds++;
      if (rounds % 64 === 0) await new Promise((r) => setImmediate(r));
    }
    Atomics.store(flag, 0, 1);
    const res = await done;
    await worker.terminate();
    const info = { pages: 0, dirty: [] as number[] };
    completeShootdown(vm.ctx, clearRange(vm.ctx, as, vpn, vpn + N, undefined, info));
    reported += info.dirty.length;
    expect(res.faults).toBe(0);
    expect(res.setsD).toBeGreaterThan(100);
    expect(reported).toBe(res.setsD);
  });
});
