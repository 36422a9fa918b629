/**
 * Registers the file-system calls of issue 14 (kernel/fs/sys-fs-paths.ts, sys-fs-copy.ts,
 * sys-fs-lock.ts) and the memory calls that need a process's rlimits or only read its page
 * tables (kernel/mm/mlock.ts: mlock family, mincore). Imported once by sys-fs-register.ts.
 * Numbers come from the syscall table by name.
 */
import { fdTableRlimit } from './fdtable.ts';
import { RLIMIT_MEMLOCK } from '../linux-flags.ts';
import { mincore, mlock, mlockall, munlock, munlockall } from '../mm/mlock.ts';
import { EINVAL } from '../errno.ts';
import { argInt, argU, registerSyscall } from '../syscall.ts';
import { syscallNumber } from '../syscalls-table.ts';
import type { FsEnv } from './sys-fs-env.ts';
import { fsHandler } from './sys-fs-register.ts';
import {
  sysCloseRange, sysFchmod, sysFchmodat, sysFchown, sysFchownat, sysFstatfs, sysLinkat, sysMknodatRegular, sysRenameat2,
  sysStatfs, sysSymlinkat, sysUtimensat,
} from './sys-fs-paths.ts';
import { sysCopyFileRange, sysFadvise64, sysFdatasync, sysFsync, sysReadahead, sysSendfile, sysSync, sysSyncfs } from './sys-fs-copy.ts';
import { sysFlock } from './sys-fs-lock.ts';

/** Lengths at or above 2^53 cannot be exact here: what Linux answers for them (they pass user space). */
const big = (v: bigint): boolean => BigInt.asUintN(64, v) >= 2n ** 53n;
/** RLIMIT_MEMLOCK soft limit of the caller, bytes (Infinity: none). */
const memlock = (f: FsEnv): number => fdTableRlimit(f.kctx, f.fdt, RLIMIT_MEMLOCK)[0];

const CALLS: Array<[string, (f: FsEnv, a: readonly bigint[]) => number]> = [
  ['fsync', sysFsync], ['fdatasync', sysFdatasync], ['syncfs', sysSyncfs], ['sync', sysSync],
  ['renameat2', sysRenameat2], ['linkat', sysLinkat], ['symlinkat', sysSymlinkat], ['mknodat', sysMknodatRegular],
  ['fchmod', sysFchmod], ['fchmodat', sysFchmodat], ['fchown', sysFchown], ['fchownat', sysFchownat],
  ['utimensat', sysUtimensat], ['statfs', sysStatfs], ['fstatfs', sysFstatfs], ['close_range', sysCloseRange],
  ['sendfile', sysSendfile], ['copy_file_range', sysCopyFileRange], ['fadvise64', sysFadvise64], ['readahead', sysReadahead],
  ['flock', sysFlock],
  ['mincore', (f, a) => (big(a[1]!) ? -EINVAL : mincore(f.kctx, f.as, argU(a[0]!), argU(a[1]!), argU(a[2]!)))],
  ['mlock', (f, a) => (big(a[1]!) ? -EINVAL : mlock(f.kctx, f.as, argU(a[0]!), argU(a[1]!), 0, memlock(f)))],
  ['mlock2', (f, a) => (big(a[1]!) ? -EINVAL : mlock(f.kctx, f.as, argU(a[0]!), argU(a[1]!), argInt(a[2]!), memlock(f)))],
  ['munlock', (f, a) => (big(a[1]!) ? -EINVAL : munlock(f.kctx, f.as, argU(a[0]!), argU(a[1]!)))],
  ['mlockall', (f, a) => mlockall(f.kctx, f.as, argInt(a[0]!), memlock(f))],
  ['munlockall', (f) => munlockall(f.kctx, f.as)],
];

for (const [name, fn] of CALLS) registerSyscall(syscallNumber(name)!, name, fsHandler(fn));
