/**
 * File mappings through the page cache: shared mappings map the cache frame itself (writes
 * visible to every mapper and written back), private mappings map it read-only and copy on
 * the first write, bytes past EOF read zero, a touch beyond the last page is SIGBUS, host
 * files are read on demand and written back.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootTestVm, load, store, PAGE } from './harness.ts';
import { mmap, msync, munmap, releaseAddressSpace } from '../../../kernel/mm/mmap.ts';
import { forkAddressSpace } from '../../../kernel/mm/cow.ts';
import { cachedPage, createFile, fileRefDelta, pageDirty, readFileBytes } from '../../../kernel/mm/pagecache.ts';
import { findLeaf, found, loPpn } from '../../../kernel/mm/pagetable.ts';
import { BUS_ADRERR, SIGBUS } from '../../../kernel/errno.ts';
import { MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, MS_SYNC } from '../../../kernel/mm/abi.ts';

const RW = PROT_READ | PROT_WRITE;

describe('page cache and file mappings', () => {
  it('shared maps share the cache frame; private maps copy on write; EOF tail zero; SIGBUS beyond', () => {
    const vm = bootTestVm(16);
    const before = vm.free();
    const data = new Uint8Array(PAGE + 100).map((_, i) => (i % 251) + 1);
    const f = createFile(vm.ctx, { data });
    expect(f).toBeGreaterThan(0);
    const a = vm.newSpace(), b = vm.newSpace();
    const sa = mmap(vm.ctx, a, 0, 3 * PAGE, RW, MAP_SHARED, f, 0);
    const sb = mmap(vm.ctx, b, 0, 2 * PAGE, RW, MAP_SHARED, f, 0);
    const pb = mmap(vm.ctx, b, 0, 2 * PAGE, RW, MAP_PRIVATE, f, 0);
    expect(load(vm, a, sa + 10)).toBe(11);
    expect(load(vm, a, sa + PAGE + 99)).toBe(((PAGE + 99) % 251) + 1);
    expect(load(vm, a, sa + PAGE + 100)).toBe(0); // past EOF in the last page
    expect(load(vm, a, sa + 2 * PAGE)).toMatchObject({ signo: SIGBUS, code: BUS_ADRERR }); // beyond the last page
    expect(load(vm, b, pb + 10)).toBe(11);
    findLeaf(vm.ctx, b.rootPpn, pb / PAGE);
    expect(loPpn(found.lo)).toBe(cachedPage(vm.ctx, f, 0)); // private read maps the cache frame
    expect(store(vm, a, sa + 10, 200)).toBeNull();
    expect(load(vm, b, sb + 10)).toBe(200); // shared: same frame
    expect(load(vm, b, pb + 10)).toBe(200); // private, not yet written: still the cache frame
    expect(store(vm, b, pb + 10, 5)).toBeNull(); // copy on write
    expect([load(vm, a, sa + 10), load(vm, b, pb + 10)]).toEqual([200, 5]);
    expect(readFileBytes(vm.ctx, f)[10]).toBe(200);
    expect(munmap(vm.ctx, a, sa, 3 * PAGE)).toBe(0);
    expect(pageDirty(vm.ctx, f, 0)).toBe(true);
    // fork keeps the shared file mapping shared
    const c = forkAddressSpace(vm.ctx, b);
    if (typeof c === 'number') throw new Error('fork');
    expect(store(vm, c, sb + 11, 66)).toBeNull();
    expect(load(vm, b, sb + 11)).toBe(66);
    for (const s of [a, b, c]) releaseAddressSpace(vm.ctx, s);
    fileRefDelta(vm.ctx, f, -1);
    expect(vm.free()).toBe(before);
  });

  it('a host file is read on demand and dirty shared pages are written back (msync, munmap)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coherent-vm-'));
    const file = path.join(dir, 'f.bin');
    fs.writeFileSync(file, Buffer.alloc(2 * PAGE, 0x41));
    const vm = bootTestVm(16);
    const before = vm.free();
    const f = createFile(vm.ctx, { hostPath: file, writeBack: true });
    const as = vm.newSpace();
    const m = mmap(vm.ctx, as, 0, 2 * PAGE, RW, MAP_SHARED, f, 0);
    expect(load(vm, as, m + PAGE + 1)).toBe(0x41);
    expect(store(vm, as, m + 3, 0x5a)).toBeNull();
    expect(msync(vm.ctx, as, m, 2 * PAGE, MS_SYNC)).toBe(0);
    expect(fs.readFileSync(file)[3]).toBe(0x5a);
    expect(store(vm, as, m + PAGE + 7, 0x33)).toBeNull();
    expect(munmap(vm.ctx, as, m, 2 * PAGE)).toBe(0);
    expect(fs.readFileSync(file)[PAGE + 7]).toBe(0x33);
    releaseAddressSpace(vm.ctx, as);
    fileRefDelta(vm.ctx, f, -1);
    expect(vm.free()).toBe(before);
    fs.rmSync(dir, { recursive: true });
  });
});
