/**
 * flock(2) and the fcntl lock commands (F_GETLK/F_SETLK/F_SETLKW, F_OFD_GETLK/SETLK/SETLKW)
 * over the lock table of kernel/fs/locks.ts. Conventions as kernel/fs/sys-fs.ts; blocking
 * goes through the caller's Waiter (a signal ends the wait with EINTR; a restarting waiter
 * re-runs the whole syscall).
 */
import * as fs from 'node:fs';
import { EBADF, EFAULT, EINVAL } from '../errno.ts';
import { errnoFromNode } from './hostfs.ts';
import { F_GETLK, F_SETLK, F_SETLKW, O_PATH, SEEK_CUR, SEEK_END, SEEK_SET } from '../linux-flags.ts';
import { ofileFlags, ofileHostFd, ofileKind, ofileLock, ofileOffset, ofileReadable, ofileWritable } from './ofile.ts';
import { F_RDLCK, F_UNLCK, F_WRLCK, lockFileOf, lockSet, lockTest, type LockSpec } from './locks.ts';
import { LKK_FLOCK, LKK_RECORD, OK_HOST_FILE } from './layout.ts';
import type { FsEnv } from './sys-fs-env.ts';
import { withFd } from './sys-fs.ts';
import { argInt } from '../syscall.ts';
import { copyFromUser, copyToUser } from '../mm/uaccess.ts';

/** flock operations. */
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
/** Open-file-description lock commands. */
export const F_OFD_GETLK = 36;
export const F_OFD_SETLK = 37;
export const F_OFD_SETLKW = 38;
/** struct flock (riscv64): l_type i16, l_whence i16, l_start i64 @8, l_len i64 @16, l_pid i32 @24; 32 bytes. */
const FLOCK_SIZE = 32;

/**
 * flock(fd, op): LOCK_SH / LOCK_EX (converting a lock this description holds), LOCK_UN,
 * LOCK_NB for EWOULDBLOCK (EAGAIN) instead of blocking. EINVAL for other operations; EBADF
 * for an O_PATH description.
 */
export function sysFlock(f: FsEnv, a: readonly bigint[]): number {
  const op = argInt(a[1]!);
  const what = op & ~LOCK_NB;
  if (what !== LOCK_SH && what !== LOCK_EX && what !== LOCK_UN) return -EINVAL;
  return withFd(f, argInt(a[0]!), (id) => {
    if (ofileFlags(f.kctx, id) & O_PATH) return -EBADF;
    const file = lockFileOf(f.kctx, id);
    if (file === null) return 0; // the host's stdio: nobody else can lock it here
    const type = what === LOCK_SH ? F_RDLCK : what === LOCK_EX ? F_WRLCK : F_UNLCK;
    return lockSet(f.kctx, file, { kind: LKK_FLOCK, owner: id, type, start: 0, end: Infinity, pid: f.pid }, !(op & LOCK_NB), f.waiter, false);
  });
}

/** The struct flock at va as [type, whence, start, len, pid], or -EFAULT. */
function readFlock(f: FsEnv, va: number): [number, number, number, number, number] | number {
  const b = copyFromUser(f.kctx, f.as, va, FLOCK_SIZE);
  if (typeof b === 'number') return -EFAULT;
  const dv = new DataView(b.buffer, b.byteOffset, FLOCK_SIZE);
  return [dv.getInt16(0, true), dv.getInt16(2, true), Number(dv.getBigInt64(8, true)), Number(dv.getBigInt64(16, true)), dv.getInt32(24, true)];
}

/**
 * fcntl's lock commands on fd: `cmd` one of F_GETLK/F_SETLK/F_SETLKW/F_OFD_*; `va` the struct
 * flock. EINVAL: bad l_type or l_whence, a range starting before 0, OFD with l_pid != 0;
 * EBADF: a read lock on a description not open for reading (write: writing); EAGAIN,
 * EDEADLK, EINTR, ENOLCK from the lock table (kernel/fs/locks.ts).
 */
export function fcntlLock(f: FsEnv, fd: number, cmd: number, va: number): number {
  const { kctx } = f;
  return withFd(f, fd, (id) => {
    const got = readFlock(f, va);
    if (typeof got === 'number') return got;
    const [type, whence, lStart, lLen, lPid] = got;
    const ofd = cmd === F_OFD_GETLK || cmd === F_OFD_SETLK || cmd === F_OFD_SETLKW;
    if (type !== F_RDLCK && type !== F_WRLCK && type !== F_UNLCK) return -EINVAL;
    if (ofd && lPid !== 0) return -EINVAL;
    let origin: number;
    if (whence === SEEK_SET) origin = 0;
    else if (whence === SEEK_CUR) origin = ofileLock(kctx, id).with(() => ofileOffset(kctx, id));
    else if (whence === SEEK_END) {
      if (ofileKind(kctx, id) !== OK_HOST_FILE) origin = 0;
      else try { origin = fs.fstatSync(ofileHostFd(kctx, id)).size; } catch (e) { return -errnoFromNode(e); }
    } else return -EINVAL;
    let start = origin + lStart, end = lLen === 0 ? Infinity : start + lLen;
    if (lLen < 0) [start, end] = [start + lLen, start];
    if (start < 0) return -EINVAL;
    const file = lockFileOf(kctx, id);
    const owner = ofd ? -id : f.fdt + 1;
    const spec: LockSpec = { kind: LKK_RECORD, owner, type, start, end, pid: ofd ? -1 : f.pid };
    if (cmd === F_GETLK || cmd === F_OFD_GETLK) {
      if (type === F_UNLCK) return -EINVAL;
      const c = file === null ? null : lockTest(kctx, file, spec);
      const out = new Uint8Array(FLOCK_SIZE);
      const dv = new DataView(out.buffer);
      if (c === null) {
        const b = copyFromUser(kctx, f.as, va, FLOCK_SIZE);
        if (typeof b === 'number') return -EFAULT;
        out.set(b);
        dv.setInt16(0, F_UNLCK, true);
      } else {
        dv.setInt16(0, c.type, true);
        dv.setInt16(2, SEEK_SET, true);
        dv.setBigInt64(8, BigInt(c.start), true);
        dv.setBigInt64(16, c.end === Infinity ? 0n : BigInt(c.end - c.start), true);
        dv.setInt32(24, c.pid, true);
      }
      return copyToUser(kctx, f.as, va, out) < 0 ? -EFAULT : 0;
    }
    if (type === F_RDLCK && !ofileReadable(kctx, id)) return -EBADF;
    if (type === F_WRLCK && !ofileWritable(kctx, id)) return -EBADF;
    if (file === null) return 0;
    const wait = cmd === F_SETLKW || cmd === F_OFD_SETLKW;
    return lockSet(kctx, file, spec, wait, f.waiter, !ofd);
  });
}

/** True for the fcntl commands fcntlLock handles. */
export function isLockCmd(cmd: number): boolean {
  return cmd === F_GETLK || cmd === F_SETLK || cmd === F_SETLKW || cmd === F_OFD_GETLK || cmd === F_OFD_SETLK || cmd === F_OFD_SETLKW;
}

