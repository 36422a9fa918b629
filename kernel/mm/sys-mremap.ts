/**
 * The mremap syscall (riscv64 nr 216) over kernel/mm/mremap.ts: mremap(old_addr, old_size,
 * new_size, flags, new_addr). glibc's realloc of an mmapped chunk uses it (MREMAP_MAYMOVE).
 */
import { mremap } from './mremap.ts';
import { SYS_mremap } from '../syscalls-table.ts';
import { argInt, registerSyscall } from '../syscall.ts';

/**
 * A 64-bit argument as an exact number: values at or above 2^53 (all beyond user space)
 * become 2^52 plus their page offset, which keeps both facts mremap checks on them — beyond
 * user space, and (un)aligned — so it gives Linux's errno for them.
 */
function arg(v: bigint): number {
  const u = BigInt.asUintN(64, v);
  return u < 2n ** 53n ? Number(u) : 2 ** 52 + Number(u & 0xfffn);
}

registerSyscall(SYS_mremap, 'mremap', (env, a) =>
  mremap(env.kctx, env.as, arg(a[0]!), arg(a[1]!), arg(a[2]!), argInt(a[3]!), arg(a[4]!)));
