/**
 * The memory syscalls the core dispatcher (kernel/syscall.ts: mmap munmap mprotect brk) and
 * the file layer (kernel/fs/sys-fs-register.ts: file mmap) leave out: madvise and msync, over
 * kernel/mm/mmap.ts. mremap stays unregistered (-ENOSYS, counted): glibc's realloc of an
 * mmapped chunk then falls back to malloc, copy and free.
 */
import { madvise, msync } from './mmap.ts';
import * as N from '../syscalls-table.ts';
import { argInt, argU, registerSyscall } from '../syscall.ts';
import { EINVAL } from '../errno.ts';

/** Lengths at or above 2^53 cannot be exact here; Linux refuses them too (they pass USER_TOP). */
const big = (v: bigint): boolean => BigInt.asUintN(64, v) >= 2n ** 53n;

registerSyscall(N.SYS_madvise, 'madvise', (env, a) =>
  big(a[1]!) ? -EINVAL : madvise(env.kctx, env.as, argU(a[0]!), argU(a[1]!), argInt(a[2]!)));
registerSyscall(N.SYS_msync, 'msync', (env, a) =>
  big(a[1]!) ? -EINVAL : msync(env.kctx, env.as, argU(a[0]!), argU(a[1]!), argInt(a[2]!)));
