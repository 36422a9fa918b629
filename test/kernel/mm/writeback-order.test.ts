/**
 * Write-back ordering (issue 12, bug 1): a dirty MAP_SHARED file page is written back only
 * after every other hart's translation of it is invalidated. A second, real TLB (cpu/tlb.ts)
 * plays a remote hart: it caches the page writable and dirty, and inside the policy's remote
 * step — the moment before that hart would handle the shootdown interrupt — stores through
 * its still-valid entry, then flushes. That store completed before the operation returned, so
 * it must reach the host file. A kernel that writes back before the remote step loses it.
 *
 * Deterministic, no timing: the store happens at exactly the point of the race window.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootTestVm, store, PAGE, ACCESS_STORE, type Vm } from './harness.ts';
import { Tlb, SATP_MODE_SV48 } from '../../../cpu/tlb.ts';
import { vaLoHi } from '../../../cpu/pte.ts';
import { HART_COUNTER_SLOTS } from '../../../cpu/counters.ts';
import { madvise, mmap, msync, munmap, releaseAddressSpace } from '../../../kernel/mm/mmap.ts';
import { mremap } from '../../../kernel/mm/mremap.ts';
import { createFile, fileRefDelta } from '../../../kernel/mm/pagecache.ts';
import { releaseFrames, type ShootdownPolicy } from '../../../kernel/mm/shootdown.ts';
import type { StaleRelease } from '../../../kernel/mm/stale.ts';
import type { VirtualAddressSpace } from '../../../kernel/mm/aspace.ts';
import { MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, MS_SYNC, PROT_READ, PROT_WRITE } from '../../../kernel/mm/abi.ts';
import { MREMAP_MAYMOVE } from '../../../kernel/linux-flags.ts';

const RW = PROT_READ | PROT_WRITE;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

interface Setup {
  vm: Vm;
  as: VirtualAddressSpace;
  f: number;
  file: string;
  m: number;
  remote: Tlb;
  /** What the remote hart stored in the window (the byte at each page's offset 8). */
  windowStores: number;
  /** Leak baseline (free frames before anything was mapped). */
  before: number;
}

/**
 * A host file of `pages` pages (0x41), mapped MAP_SHARED; the creator's reference is dropped
 * (like a guest closing its fd), so the mapping holds the file's only reference. Each page is
 * dirtied locally and cached writable+dirty in `remote`. The policy's remote step makes the
 * remote hart store 0x77 at offset 8 of every page it still translates, then flush.
 */
function setup(pages: number): Setup {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coherent-wb-'));
  dirs.push(dir);
  const file = path.join(dir, 'f.bin');
  fs.writeFileSync(file, Buffer.alloc(pages * PAGE, 0x41));
  const vm = bootTestVm(16);
  const before = vm.free();
  const f = createFile(vm.ctx, { hostPath: file, writeBack: true });
  const as = vm.newSpace();
  const m = mmap(vm.ctx, as, 0, pages * PAGE, RW, MAP_SHARED, f, 0);
  fileRefDelta(vm.ctx, f, -1); // the guest closed its fd: the mapping keeps the file alive
  const remote = new Tlb(vm.ram, new Float64Array(HART_COUNTER_SLOTS), { entries: 64, ways: 4, superEntries: 4 });
  remote.setSatp(SATP_MODE_SV48, as.asid, as.rootPpn);
  const s: Setup = { vm, as, f, file, m, remote, windowStores: 0, before };
  for (let p = 0; p < pages; p++) {
    expect(store(vm, as, m + p * PAGE, 0x10 + p)).toBeNull(); // resident and dirty
    const [lo, hi] = vaLoHi(m + p * PAGE + 8);
    const pa = remote.translate(lo, hi, ACCESS_STORE); // the remote hart's entry: W + D cached
    expect(pa).toBeGreaterThanOrEqual(0);
    vm.ram.u8[pa] = 0x20 + p;
  }
  const policy: ShootdownPolicy = {
    name: 'remote-stores-then-flushes',
    invalidate(_ctx, stale) {
      if (stale.as === as) {
        for (let p = 0; p < pages; p++) {
          const [lo, hi] = vaLoHi(m + p * PAGE + 8);
          if (remote.probe(lo, hi) < 0) continue;
          const pa = remote.translate(lo, hi, ACCESS_STORE); // a TLB hit: no walk, no fault
          if (pa < 0) continue;
          vm.ram.u8[pa] = 0x77; // a store completed before the shootdown reached this hart
          s.windowStores++;
        }
        remote.sfenceVma(null, 0, as.asid);
      }
      return true;
    },
  };
  vm.ctx.policy = policy;
  return s;
}

/** Byte at offset 8 of each page of the host file. */
function hostBytes(s: Setup, pages: number): number[] {
  const b = fs.readFileSync(s.file);
  return Array.from({ length: pages }, (_, p) => b[p * PAGE + 8]!);
}

function finish(s: Setup): void {
  releaseAddressSpace(s.vm.ctx, s.as);
  expect(s.vm.free()).toBe(s.before);
}

describe('dirty shared file pages are written back after the shootdown', () => {
  it('munmap: a store the remote hart made before its flush reaches the file', () => {
    const s = setup(2);
    expect(munmap(s.vm.ctx, s.as, s.m, 2 * PAGE)).toBe(0);
    expect(s.windowStores).toBe(2);
    expect(hostBytes(s, 2)).toEqual([0x77, 0x77]);
    finish(s);
  });

  it('madvise(MADV_DONTNEED): the same', () => {
    const s = setup(2);
    expect(madvise(s.vm.ctx, s.as, s.m, 2 * PAGE, MADV_DONTNEED)).toBe(0);
    expect(s.windowStores).toBe(2);
    expect(hostBytes(s, 2)).toEqual([0x77, 0x77]);
    expect(munmap(s.vm.ctx, s.as, s.m, 2 * PAGE)).toBe(0);
    finish(s);
  });

  it('msync: the pages are cleaned and flushed before they are written', () => {
    const s = setup(2);
    expect(msync(s.vm.ctx, s.as, s.m, 2 * PAGE, MS_SYNC)).toBe(0);
    expect(s.windowStores).toBe(2);
    expect(hostBytes(s, 2)).toEqual([0x77, 0x77]); // on the host when msync returned
    // Clean now: a later store must walk again and mark the PTE dirty (the remote TLB was flushed).
    const [lo, hi] = vaLoHi(s.m + 8);
    expect(s.remote.probe(lo, hi)).toBeLessThan(0);
    expect(store(s.vm, s.as, s.m + 8, 0x78)).toBeNull();
    expect(munmap(s.vm.ctx, s.as, s.m, 2 * PAGE)).toBe(0);
    expect(hostBytes(s, 2)).toEqual([0x78, 0x77]);
    finish(s);
  });

  it('exit (the last reference to the address space): the same', () => {
    const s = setup(2);
    expect(releaseAddressSpace(s.vm.ctx, s.as)).toBe(0);
    expect(s.windowStores).toBe(2);
    expect(hostBytes(s, 2)).toEqual([0x77, 0x77]);
    expect(s.vm.free()).toBe(s.before);
  });

  it('MAP_FIXED over the mapping and an mremap shrink unmap through the same path', () => {
    const s = setup(3);
    expect(mremap(s.vm.ctx, s.as, s.m, 3 * PAGE, 2 * PAGE, MREMAP_MAYMOVE)).toBe(s.m); // drops page 2
    expect(hostBytes(s, 3)[2]).toBe(0x77);
    expect(mmap(s.vm.ctx, s.as, s.m, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)).toBe(s.m); // replaces page 0
    expect(hostBytes(s, 3)).toEqual([0x77, 0x41, 0x77]); // page 1 (stored to in mremap's window) is still mapped
    expect(munmap(s.vm.ctx, s.as, s.m, 2 * PAGE)).toBe(0);
    expect(hostBytes(s, 3)).toEqual([0x77, 0x77, 0x77]);
    finish(s);
  });

  it('a kept write-back still finds its file after a later munmap dropped the region', () => {
    const s = setup(1);
    const kept: StaleRelease[] = [];
    const inner = s.vm.ctx.policy;
    s.vm.ctx.policy = {
      name: 'keeps-first-release',
      invalidate(ctx, stale, release) {
        inner.invalidate(ctx, stale, release);
        if (kept.length !== 0) return true;
        kept.push(release);
        return false;
      },
    };
    expect(msync(s.vm.ctx, s.as, s.m, PAGE, MS_SYNC)).toBe(0); // its write-back is kept
    expect(munmap(s.vm.ctx, s.as, s.m, PAGE)).toBe(0); // drops the region's file reference now
    releaseFrames(s.vm.ctx, kept[0]!); // the msync's own file reference keeps the file until here
    expect(hostBytes(s, 1)).toEqual([0x77]);
    s.vm.ctx.policy = inner;
    finish(s);
  });

  it('a policy that keeps the release (deferred) writes back only when it releases it', () => {
    const s = setup(1);
    let kept: StaleRelease | null = null;
    const inner = s.vm.ctx.policy;
    s.vm.ctx.policy = {
      name: 'keeps-release',
      invalidate(ctx, stale, release) {
        inner.invalidate(ctx, stale, release);
        kept = release;
        return false;
      },
    };
    expect(munmap(s.vm.ctx, s.as, s.m, PAGE)).toBe(0);
    expect(hostBytes(s, 1)).toEqual([0x41]); // not yet: the release is still held
    expect(kept).not.toBeNull();
    releaseFrames(s.vm.ctx, kept!);
    expect(hostBytes(s, 1)).toEqual([0x77]);
    s.vm.ctx.policy = inner;
    finish(s);
  });
});
