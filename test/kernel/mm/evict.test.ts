/**
 * kernel/mm/pagecache.ts evictPages, the frame allocator's reclaim: which cached pages may go.
 * A host file of 8 pages in the cache: a page someone holds (a mapping's reference) is never
 * evicted; pages only the cache holds go after one second chance (PCD_REF), come back with the
 * same bytes when read again, and their frames are free; a dirty page is written to the host
 * before it goes. And the allocator calls it when RAM is out (alloc succeeds instead of failing).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../../cpu/ram.ts';
import { NO_FRAME } from '../../../kernel/mm/frames.ts';
import { cachedPage, createFile, evictPages, fileRefDelta, getPage, writeBackPage } from '../../../kernel/mm/pagecache.ts';
import { bootTestVm } from './harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'coherent-evict-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function hostFile(name: string, pages: number): string {
  const path = join(dir, name);
  const b = Buffer.alloc(pages * PAGE_SIZE);
  for (let p = 0; p < pages; p++) b.fill(p + 1, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
  writeFileSync(path, b);
  return path;
}

describe('page-cache eviction', () => {
  it('never a held page; unheld ones after a second chance, re-read intact; dirty ones written back first', () => {
    const vm = bootTestVm(16);
    const path = hostFile('a', 8);
    const id = createFile(vm.ctx, { hostPath: path, writeBack: true });
    expect(id).toBeGreaterThan(0);
    const held = getPage(vm.ctx, id, 0); // a mapping's reference: must survive
    for (let p = 1; p < 8; p++) vm.ctx.frames.put(getPage(vm.ctx, id, p));
    // page 3: written through a "mapping", then the mapping goes (its write-back ran; now change it again in RAM and mark it dirty)
    const f3 = cachedPage(vm.ctx, id, 3);
    vm.ram.u8.fill(0xee, f3 * PAGE_SIZE, (f3 + 1) * PAGE_SIZE);
    const tmp = getPage(vm.ctx, id, 3);
    writeBackPage(vm.ctx, id, 3); // marks dirty and writes; the host now has 0xee
    vm.ctx.frames.put(tmp);
    vm.ram.u8.fill(0xdd, f3 * PAGE_SIZE, (f3 + 1) * PAGE_SIZE); // newer bytes only the cache has
    const free0 = vm.free();
    expect(evictPages(vm.ctx, 100)).toBe(7); // every unheld page (the first turn clears their PCD_REF)
    expect(vm.free()).toBe(free0 + 7);
    expect(cachedPage(vm.ctx, id, 0)).toBe(held);
    for (let p = 1; p < 8; p++) expect(cachedPage(vm.ctx, id, p)).toBe(-1);
    expect(readFileSync(path)[3 * PAGE_SIZE]).toBe(0xdd); // the dirty page reached the host before it went
    for (let p = 1; p < 8; p++) {
      const f = getPage(vm.ctx, id, p);
      expect(vm.ram.u8[f * PAGE_SIZE + 17]).toBe(p === 3 ? 0xdd : p + 1);
      vm.ctx.frames.put(f);
    }
    vm.ctx.frames.put(held);
    fileRefDelta(vm.ctx, id, -1);
    expect(vm.free()).toBe(vm.baseline);
  });

  it('the allocator reclaims cache pages when RAM is out instead of failing', () => {
    const vm = bootTestVm(16);
    const id = createFile(vm.ctx, { hostPath: hostFile('b', 64), writeBack: false });
    for (let p = 0; p < 64; p++) vm.ctx.frames.put(getPage(vm.ctx, id, p));
    const held: number[] = [];
    for (let f = vm.ctx.frames.alloc(); f !== NO_FRAME; f = vm.ctx.frames.alloc()) held.push(f);
    expect(vm.ctx.counters.pagesEvicted).toBe(64); // the last 64 allocations came from the cache
    for (const f of held) vm.ctx.frames.free(f);
    fileRefDelta(vm.ctx, id, -1);
    expect(vm.free()).toBe(vm.baseline);
  });
});
