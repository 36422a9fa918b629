/**
 * process_vm_readv / process_vm_writev (Linux mm/process_vm_access.c): copy between the
 * caller's memory and another process's, described by two iovec arrays.
 *
 * The remote address space is held by a reference for the whole call (a process exiting
 * meanwhile cannot free it under us) and re-checked to still be the process's after the
 * reference was taken (its slot may have been reused). Bytes move in pieces that stay within
 * one page of the remote side, through kernel/mm/uaccess.ts on each side (each piece faults
 * its pages in as the owner's access would: a COW page of the remote is broken by a write, a
 * read-only one refuses it). The first piece that fails ends the transfer: the bytes moved so
 * far are returned, or -EFAULT when none were (Linux's partial-transfer rule).
 * Errors: EINVAL (flags not 0, more than UIO_MAXIOV iovecs, a negative or overflowing
 * length), ESRCH (no such live process), EFAULT (an iovec array unreadable, or nothing moved).
 * Every caller is root-like here, so the ptrace-access check always passes.
 */
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { releaseAddressSpace } from '../mm/mmap.ts';
import { copyFromUser, copyToUser, readIovecs } from '../mm/uaccess.ts';
import type { KernelContext } from '../context.ts';
import { EFAULT, EINVAL } from '../errno.ts';
import * as N from '../syscalls-table.ts';
import { argInt, argU, registerSyscall, type SyscallEnv } from '../syscall.ts';
import { holdProcSpace, procOfPid } from './sys-proc-table.ts';

const ESRCH = 3;
/**
 * process_vm_readv (write = false: remote → local) or process_vm_writev (local → remote):
 * bytes moved, or -errno (file comment).
 */
export function processVmRw(env: SyscallEnv, a: readonly bigint[], write: boolean): number {
  const pid = argInt(a[0]!), lva = argU(a[1]!), lcnt = argU(a[2]!), rva = argU(a[3]!), rcnt = argU(a[4]!);
  if (a[5]! !== 0n) return -EINVAL;
  const kctx = env.kctx;
  const local = readIovecs(kctx, env.as, lva, lcnt);
  if (typeof local === 'number') return local;
  const remoteIov = readIovecs(kctx, env.as, rva, rcnt);
  if (typeof remoteIov === 'number') return remoteIov;
  const rp = procOfPid(kctx.ctl, pid);
  const remote = rp < 0 ? null : holdProcSpace(kctx, rp, pid);
  if (remote === null) return -ESRCH;
  try {
    let moved = 0, li = 0, lo = 0;
    for (const [rbase, rlen] of remoteIov) {
      for (let ro = 0; ro < rlen;) {
        while (li < local.length && lo === local[li]![1]) { li++; lo = 0; }
        if (li === local.length) return moved;
        const rat = rbase + ro, lat = local[li]![0] + lo;
        const n = Math.min(rlen - ro, local[li]![1] - lo, PAGE_SIZE - (rat % PAGE_SIZE));
        const [src, dst, from, to] = write ? [env.as, remote, lat, rat] : [remote, env.as, rat, lat];
        const bytes = copyFromUser(kctx, src, from, n);
        if (typeof bytes === 'number' || copyToUser(kctx, dst, to, bytes) < 0) return moved > 0 ? moved : -EFAULT;
        moved += n;
        ro += n;
        lo += n;
      }
    }
    return moved;
  } finally {
    releaseAddressSpace(kctx, remote);
  }
}

registerSyscall(N.SYS_process_vm_readv, 'process_vm_readv', (env, a) => processVmRw(env, a, false));
registerSyscall(N.SYS_process_vm_writev, 'process_vm_writev', (env, a) => processVmRw(env, a, true));
