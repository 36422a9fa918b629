/**
 * Registers the file and information syscalls (kernel/sys-fs*.ts, kernel/proc/sys-info.ts) in the
 * dispatcher (kernel/syscall.ts) at import time. The hart loop imports this module once.
 * `write` replaces the dispatcher's core stdout-only write; `mmap` replaces the core
 * anonymous-only mmap with one that also maps open host files through the page cache.
 */
import { EACCES, ENODEV } from '../errno.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, MAP_TYPE, PROT_WRITE } from '../linux-flags.ts';
import { RF_NO_MAYWRITE } from '../mm/layout.ts';
import { mmap } from '../mm/mmap.ts';
import { ofileKind, ofileMmapFile, ofileReadable, ofileWritable } from './ofile.ts';
import * as N from '../syscalls-table.ts';
import { OK_HOST_FILE } from './layout.ts';
import { fsEnvOf, type FsEnv } from './sys-fs-env.ts';
import { virtMmapIsZero } from './sys-fs-virt.ts';
import {
  sysChdir, sysDup, sysDup3, sysFaccessat, sysFchdir, sysFcntl, sysFstat, sysFtruncate, sysGetcwd, sysGetdents64, sysIoctl,
  sysMkdirat, sysNewfstatat, sysPipe2, sysReadlinkat, sysUnlinkat,
} from './sys-fs-meta.ts';
import {
  PARKED, sysClose, sysLseek, sysOpenat, sysPread, sysPwrite, sysRead, sysReadv, sysWrite, sysWritev, withFd,
} from './sys-fs.ts';
import {
  sysClockGetres, sysClockGettime, sysGetId, sysGetrandom, sysGettimeofday, sysPrlimit64, sysSysinfo, sysUmask, sysUname, sysGetcpu, sysSchedGetPriority,
} from '../proc/sys-info.ts';
import { argInt, argU, NO_RETURN, registerSyscall, replaceSyscall, type SyscallHandler } from '../syscall.ts';

type FsHandler = (f: FsEnv, a: readonly bigint[]) => number;

/** The dispatcher handler running `fn` with the caller's FsEnv (PARKED → NO_RETURN). */
export function fsHandler(fn: FsHandler): SyscallHandler {
  return (env, a) => {
    const f = fsEnvOf(env);
    if (typeof f === 'number') return f;
    const r = fn(f, a);
    return r === PARKED ? NO_RETURN : r;
  };
}

/**
 * mmap(addr, len, prot, flags, fd, off): anonymous, or a host file open for reading. A shared
 * mapping of a description not open for writing never becomes writable (RF_NO_MAYWRITE:
 * PROT_WRITE now is EACCES, and so is a later mprotect(PROT_WRITE), as Linux's VM_MAYWRITE).
 */
export function sysMmap(f: FsEnv, a: readonly bigint[]): number {
  const addr = argU(a[0]!), len = argU(a[1]!), prot = argInt(a[2]!), flags = argInt(a[3]!), off = argU(a[5]!);
  if (flags & MAP_ANONYMOUS) return mmap(f.kctx, f.as, addr, len, prot, flags, 0, off);
  return withFd(f, argInt(a[4]!), (id) => {
    if (ofileKind(f.kctx, id) !== OK_HOST_FILE) {
      const zero = virtMmapIsZero(f, id); // /dev/zero: anonymous memory, shared or private as asked
      return zero === true ? mmap(f.kctx, f.as, addr, len, prot, flags | MAP_ANONYMOUS, 0, 0) : Number(zero);
    }
    if (!ofileReadable(f.kctx, id)) return -EACCES;
    const shared = (flags & MAP_TYPE) !== MAP_PRIVATE && (flags & MAP_SHARED) !== 0;
    const mayWrite = !shared || ofileWritable(f.kctx, id);
    if (!mayWrite && prot & PROT_WRITE) return -EACCES;
    const pc = ofileMmapFile(f.kctx, id, f.root);
    if (pc < 0) return pc;
    return mmap(f.kctx, f.as, addr, len, prot, flags, pc, off, mayWrite ? 0 : RF_NO_MAYWRITE);
  });
}

const FS: Array<[number, string, FsHandler]> = [
  [N.SYS_read, 'read', sysRead], [N.SYS_readv, 'readv', sysReadv], [N.SYS_writev, 'writev', sysWritev],
  [N.SYS_pread64, 'pread64', sysPread], [N.SYS_pwrite64, 'pwrite64', sysPwrite], [N.SYS_lseek, 'lseek', sysLseek],
  [N.SYS_openat, 'openat', sysOpenat], [N.SYS_close, 'close', sysClose], [N.SYS_dup, 'dup', sysDup],
  [N.SYS_dup3, 'dup3', sysDup3], [N.SYS_fcntl, 'fcntl', sysFcntl], [N.SYS_pipe2, 'pipe2', sysPipe2],
  [N.SYS_ioctl, 'ioctl', sysIoctl], [N.SYS_fstat, 'fstat', sysFstat], [N.SYS_newfstatat, 'newfstatat', sysNewfstatat],
  [N.SYS_readlinkat, 'readlinkat', sysReadlinkat], [N.SYS_unlinkat, 'unlinkat', sysUnlinkat],
  [N.SYS_mkdirat, 'mkdirat', sysMkdirat], [N.SYS_ftruncate, 'ftruncate', sysFtruncate],
  [N.SYS_faccessat, 'faccessat', sysFaccessat], [N.SYS_faccessat2, 'faccessat2', sysFaccessat],
  [N.SYS_getcwd, 'getcwd', sysGetcwd], [N.SYS_chdir, 'chdir', sysChdir], [N.SYS_fchdir, 'fchdir', sysFchdir],
  [N.SYS_getdents64, 'getdents64', sysGetdents64],
  [N.SYS_uname, 'uname', sysUname], [N.SYS_getrandom, 'getrandom', sysGetrandom], [N.SYS_prlimit64, 'prlimit64', sysPrlimit64],
  [N.SYS_clock_gettime, 'clock_gettime', sysClockGettime], [N.SYS_clock_getres, 'clock_getres', sysClockGetres],
  [N.SYS_gettimeofday, 'gettimeofday', sysGettimeofday], [N.SYS_umask, 'umask', sysUmask], [N.SYS_sysinfo, 'sysinfo', sysSysinfo],
  [N.SYS_getuid, 'getuid', sysGetId], [N.SYS_geteuid, 'geteuid', sysGetId], [N.SYS_getgid, 'getgid', sysGetId],
  [N.SYS_getegid, 'getegid', sysGetId], [N.SYS_getcpu, 'getcpu', sysGetcpu],
  [N.SYS_sched_get_priority_max, 'sched_get_priority_max', (_f, a) => sysSchedGetPriority(a, true)],
  [N.SYS_sched_get_priority_min, 'sched_get_priority_min', (_f, a) => sysSchedGetPriority(a, false)],
];

for (const [nr, name, fn] of FS) registerSyscall(nr, name, fsHandler(fn));
replaceSyscall(N.SYS_write, 'write', fsHandler(sysWrite));
replaceSyscall(N.SYS_mmap, 'mmap', fsHandler(sysMmap));

import './sys-pollio-register.ts'; // ppoll, pselect6, eventfd2, socketpair, epoll (issue 14 item 4)

// Issue 14's file-system calls (fsync, renameat2, links, metadata, statfs, copies, locks, mlock, mincore).
import './sys-fs-calls-register.ts';
