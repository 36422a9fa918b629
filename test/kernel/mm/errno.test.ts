/**
 * Bad arguments get the errno Linux gives (checked against Linux 6.x on x86-64, whose mm/
 * code is the generic one riscv64 uses), and change nothing.
 */
import { describe, expect, it } from 'vitest';
import { bootTestVm, PAGE } from './harness.ts';
import { madvise, mmap, mprotect, munmap, msync } from '../../../kernel/mm/mmap.ts';
import { USER_TOP } from '../../../kernel/mm/aspace.ts';
import { copyFromUser, copyToUser, accessOk, strncpyFromUser } from '../../../kernel/mm/uaccess.ts';
import { EBADF, EEXIST, EFAULT, EINVAL, ENOMEM, EOPNOTSUPP, EPERM } from '../../../kernel/errno.ts';
import {
  MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, PROT_READ, PROT_WRITE,
} from '../../../kernel/mm/abi.ts';

const KERNEL_VA = 2 ** 47; // first byte of the kernel half (48-bit form)
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('bad arguments: Linux errno', () => {
  const vm = bootTestVm(16);
  const as = vm.newSpace();
  const p = mmap(vm.ctx, as, 0, 2 * PAGE, PROT_READ, ANON);
  const hole = 0x2000_0000;

  it.each([
    ['mmap length 0', () => mmap(vm.ctx, as, 0, 0, PROT_READ, ANON), -EINVAL],
    ['mmap MAP_FIXED unaligned', () => mmap(vm.ctx, as, hole + 1, PAGE, PROT_READ, ANON | MAP_FIXED), -EINVAL],
    ['mmap without MAP_SHARED/PRIVATE', () => mmap(vm.ctx, as, 0, PAGE, PROT_READ, MAP_ANONYMOUS), -EINVAL],
    ['mmap unknown flag with MAP_SHARED_VALIDATE', () => mmap(vm.ctx, as, 0, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | 0x800000), -EOPNOTSUPP],
    ['mmap length beyond user space', () => mmap(vm.ctx, as, 0, 2 ** 64 - PAGE, PROT_READ, ANON), -ENOMEM],
    ['mmap fixed in the kernel half', () => mmap(vm.ctx, as, KERNEL_VA, PAGE, PROT_READ, ANON | MAP_FIXED), -ENOMEM],
    ['mmap fixed range reaching the kernel half', () => mmap(vm.ctx, as, USER_TOP - PAGE, 2 * PAGE, PROT_READ, ANON | MAP_FIXED), -ENOMEM],
    ['mmap fixed below mmap_min_addr', () => mmap(vm.ctx, as, 0, PAGE, PROT_READ, ANON | MAP_FIXED), -EPERM],
    ['mmap MAP_FIXED_NOREPLACE over a mapping', () => mmap(vm.ctx, as, p, PAGE, PROT_READ, ANON | MAP_FIXED_NOREPLACE), -EEXIST],
    ['mmap unaligned offset', () => mmap(vm.ctx, as, 0, PAGE, PROT_READ, ANON, 0, 1), -EINVAL],
    ['mmap of no file', () => mmap(vm.ctx, as, 0, PAGE, PROT_READ, MAP_SHARED, 99, 0), -EBADF],
    ['munmap length 0', () => munmap(vm.ctx, as, p, 0), -EINVAL],
    ['munmap unaligned', () => munmap(vm.ctx, as, p + 1, PAGE), -EINVAL],
    ['munmap kernel half', () => munmap(vm.ctx, as, KERNEL_VA, PAGE), -EINVAL],
    ['munmap range that wraps past user space', () => munmap(vm.ctx, as, USER_TOP - PAGE, 2 * PAGE), -EINVAL],
    ['munmap of nothing mapped', () => munmap(vm.ctx, as, hole, PAGE), 0],
    ['mprotect unaligned', () => mprotect(vm.ctx, as, p + 1, PAGE, PROT_READ), -EINVAL],
    ['mprotect length 0', () => mprotect(vm.ctx, as, p, 0, PROT_READ), 0],
    ['mprotect unknown prot bit', () => mprotect(vm.ctx, as, p, PAGE, 0x100), -EINVAL],
    ['mprotect unmapped range', () => mprotect(vm.ctx, as, hole, PAGE, PROT_READ), -ENOMEM],
    ['mprotect range with a hole', () => mprotect(vm.ctx, as, p, 3 * PAGE, PROT_READ), -ENOMEM],
    ['mprotect kernel half', () => mprotect(vm.ctx, as, KERNEL_VA, PAGE, PROT_READ), -ENOMEM],
    ['mprotect range that wraps', () => mprotect(vm.ctx, as, USER_TOP - PAGE, 2 ** 64 - PAGE, PROT_READ), -ENOMEM],
    ['madvise unaligned', () => madvise(vm.ctx, as, p + 1, PAGE, MADV_DONTNEED), -EINVAL],
    ['madvise length 0', () => madvise(vm.ctx, as, p, 0, MADV_DONTNEED), 0],
    ['madvise unknown advice', () => madvise(vm.ctx, as, p, PAGE, 9999), -EINVAL],
    ['madvise unmapped range', () => madvise(vm.ctx, as, hole, PAGE, MADV_DONTNEED), -ENOMEM],
    ['madvise range with a hole', () => madvise(vm.ctx, as, p, 3 * PAGE, MADV_DONTNEED), -ENOMEM],
    ['madvise range that wraps', () => madvise(vm.ctx, as, p, 2 ** 64 - PAGE, MADV_DONTNEED), -EINVAL],
    ['msync unaligned', () => msync(vm.ctx, as, p + 1, PAGE, 4), -EINVAL],
    ['msync MS_ASYNC|MS_SYNC', () => msync(vm.ctx, as, p, PAGE, 5), -EINVAL],
  ] as [string, () => number, number][])('%s', (_name, call, errno) => {
    const regionsBefore = JSON.stringify(as.regions.all());
    expect(call()).toBe(errno);
    if (errno < 0 && errno !== -ENOMEM) expect(JSON.stringify(as.regions.all())).toBe(regionsBefore);
  });

  it('mmap: unknown prot bits and unknown flags under MAP_PRIVATE are ignored, an unaligned hint is rounded down (Linux)', () => {
    expect(mmap(vm.ctx, as, 0, PAGE, PROT_READ | 0x100, ANON)).toBeGreaterThan(0);
    expect(mmap(vm.ctx, as, 0, PAGE, PROT_READ, ANON | 0x800000)).toBeGreaterThan(0);
    expect(mmap(vm.ctx, as, 0x3000_0001, PAGE, PROT_READ, ANON)).toBe(0x3000_0000);
  });

  it('user pointers into the kernel half, unmapped or read-only memory: EFAULT, and accessOk agrees without faulting', () => {
    const rw = mmap(vm.ctx, as, 0, PAGE, PROT_READ | PROT_WRITE, ANON);
    const data = new Uint8Array([1, 2, 3]);
    expect(copyToUser(vm.ctx, as, KERNEL_VA + 0x1000, data)).toBe(-EFAULT);
    expect(copyFromUser(vm.ctx, as, 0xffc0_0000_0000, 8)).toBe(-EFAULT); // the kernel probe page
    expect(copyFromUser(vm.ctx, as, -4096, 8)).toBe(-EFAULT);
    expect(copyToUser(vm.ctx, as, hole, data)).toBe(-EFAULT);
    expect(copyToUser(vm.ctx, as, p, data)).toBe(-EFAULT); // PROT_READ
    expect(copyToUser(vm.ctx, as, rw + PAGE - 1, data)).toBe(-EFAULT); // runs off the mapping
    expect(strncpyFromUser(vm.ctx, as, KERNEL_VA, 64)).toBe(-EFAULT);
    expect(accessOk(as, KERNEL_VA, 1, false)).toBe(false);
    expect(accessOk(as, p, PAGE, true)).toBe(false);
    expect(accessOk(as, p, PAGE, false)).toBe(true);
    expect(accessOk(as, USER_TOP - 1, 2, false)).toBe(false);
    expect(accessOk(as, rw, PAGE, true)).toBe(true);
  });
});
