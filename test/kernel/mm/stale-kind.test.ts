/**
 * The kind of a change is the operation's to say (kernel/mm/stale.ts declareRemoval), never the
 * shootdown policy's to guess from the PTEs: only munmap of private memory is a pure removal,
 * which a lazy policy (`deferred`) may complete after the call returns. mprotect(PROT_NONE),
 * madvise(DONTNEED) and mremap(MREMAP_DONTUNMAP) leave no valid PTE in their range either, but
 * the range stays mapped: they must be complete when the call returns (issue 12, bug 4; the
 * guest-level races are in test/lab/deferred.test.ts). A recording policy sees each change.
 */
import { describe, expect, it } from 'vitest';
import { bootTestVm, store, PAGE } from './harness.ts';
import { madvise, mmap, mprotect, munmap } from '../../../kernel/mm/mmap.ts';
import { mremap } from '../../../kernel/mm/mremap.ts';
import { Stale } from '../../../kernel/mm/stale.ts';
import { completeShootdown } from '../../../kernel/mm/shootdown.ts';
import { MADV_DONTNEED, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ, PROT_WRITE } from '../../../kernel/mm/abi.ts';
import { MREMAP_DONTUNMAP, MREMAP_MAYMOVE } from '../../../kernel/linux-flags.ts';

const RW = PROT_READ | PROT_WRITE;

/** A VM whose policy records, for every non-empty change, whether it was declared a removal. */
function recordingVm() {
  const vm = bootTestVm(16);
  const seen: boolean[] = [];
  vm.ctx.policy = { name: 'record', invalidate: (_c, stale) => { seen.push(stale.removal); return true; } };
  const as = vm.newSpace();
  /** Map `n` touched pages; returns the address. */
  const touched = (n: number, flags = MAP_PRIVATE | MAP_ANONYMOUS): number => {
    const a = mmap(vm.ctx, as, 0, n * PAGE, RW, flags);
    expect(a).toBeGreaterThan(0);
    for (let k = 0; k < n; k++) expect(store(vm, as, a + k * PAGE, k + 1)).toBeNull();
    seen.length = 0;
    return a;
  };
  return { vm, as, seen, touched };
}

describe('Stale kind: which changes may be deferred', () => {
  it('munmap of private memory is a removal', () => {
    const { vm, as, seen, touched } = recordingVm();
    const a = touched(4);
    expect(munmap(vm.ctx, as, a, 4 * PAGE)).toBe(0);
    expect(seen).toEqual([true]);
  });

  it('munmap of a MAP_SHARED mapping is not (another mapping would see a late store)', () => {
    const { vm, as, seen, touched } = recordingVm();
    const a = touched(2, MAP_SHARED | MAP_ANONYMOUS);
    expect(munmap(vm.ctx, as, a, 2 * PAGE)).toBe(0);
    expect(seen).toEqual([false]);
  });

  it('mprotect(PROT_NONE), madvise(DONTNEED) and mremap(MREMAP_DONTUNMAP) are not, though no valid PTE is left', () => {
    const { vm, as, seen, touched } = recordingVm();
    let a = touched(2);
    expect(mprotect(vm.ctx, as, a, 2 * PAGE, PROT_NONE)).toBe(0);
    expect(seen).toEqual([false]);
    a = touched(2);
    expect(madvise(vm.ctx, as, a, 2 * PAGE, MADV_DONTNEED)).toBe(0);
    expect(seen).toEqual([false]);
    a = touched(2);
    expect(mremap(vm.ctx, as, a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP)).toBeGreaterThan(0);
    expect(seen).toEqual([false]);
  });

  it('a record is a change by default; absorbing a non-removal cancels a declared removal', () => {
    const { vm, as } = recordingVm();
    const a = new Stale(vm.ctx, as);
    expect(a.removal).toBe(false);
    a.addRange(1, 2);
    a.declareRemoval();
    expect(a.removal).toBe(true);
    const b = new Stale(vm.ctx, as);
    b.addRange(5, 6);
    a.absorb(b);
    expect(a.removal).toBe(false);
    completeShootdown(vm.ctx, a);
    expect(() => a.declareRemoval()).toThrow(/declareRemoval/);
  });
});
