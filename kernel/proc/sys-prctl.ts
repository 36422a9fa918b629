/**
 * Process attributes real programs query at start-up: prctl, personality, the saved-id calls
 * (getresuid/getresgid/setresuid/setresgid) and capget.
 *
 * Choices (documented behaviour):
 * - The machine has one user, root (kernel/proc/sys-info.ts: uid = gid = 0). getres[ug]id give
 *   0, 0, 0; setres[ug]id accept -1 (unchanged) or 0 and refuse any other id with EPERM —
 *   there is no other user to become. capget reports root's full set (capabilities 0 to
 *   CAP_LAST_CAP 40, Linux 6.1) as effective and permitted, nothing inheritable; capset is absent.
 * - prctl: PR_SET/GET_PDEATHSIG (a signal sent when the parent process dies — Linux sends it
 *   when the parent *thread* dies; here the process), PR_SET/GET_NAME (the thread's comm,
 *   T_COMM), PR_SET/GET_DUMPABLE (0 or 1), PR_SET/GET_CHILD_SUBREAPER, PR_SET/GET_NO_NEW_PRIVS,
 *   PR_SET/GET_KEEPCAPS (accepted, always 0), PR_CAPBSET_READ, PR_GET_TIMERSLACK (50 µs);
 *   anything else is -EINVAL, as Linux answers an unknown option.
 * - personality: PER_LINUX with any of Linux's flag bits (kept in P_FLAGS, inherited by fork,
 *   kept by exec); 0xffffffff queries. Another execution domain is -EINVAL (Linux would accept
 *   it; nothing here would honour it).
 */
import { EFAULT, EINVAL, EPERM } from '../errno.ts';
import { NSIG } from '../signal/signals.ts';
import { INIT_PID, P_FLAGS, PF_NO_NEW_PRIVS, PF_NOT_DUMPABLE, PF_PDEATHSIG, PF_PERSONA, PF_SUBREAPER } from './layout.ts';
import { commOf, setCommBytes } from './exec.ts';
import { procLock, procOfPid, procWord } from './sys-proc-table.ts';
import { procOps } from './sys-proc.ts';
import * as N from '../syscalls-table.ts';
import { argInt, argU, registerSyscall, type SyscallEnv, type SyscallResult } from '../syscall.ts';
import { copyFromUser, copyToUser } from '../mm/uaccess.ts';

const ESRCH = 3;
// riscv64 (asm-generic) numbers the table in kernel/syscalls-table.ts does not name.
const SYS_capget = 90;
const SYS_personality = 92;
const SYS_setresuid = 147;
const SYS_getresuid = 148;
const SYS_setresgid = 149;
const SYS_getresgid = 150;

// <linux/prctl.h>
export const PR_SET_PDEATHSIG = 1;
export const PR_GET_PDEATHSIG = 2;
export const PR_GET_DUMPABLE = 3;
export const PR_SET_DUMPABLE = 4;
export const PR_GET_KEEPCAPS = 7;
export const PR_SET_KEEPCAPS = 8;
export const PR_SET_NAME = 15;
export const PR_GET_NAME = 16;
export const PR_CAPBSET_READ = 23;
export const PR_GET_TIMERSLACK = 30;
export const PR_SET_CHILD_SUBREAPER = 36;
export const PR_GET_CHILD_SUBREAPER = 37;
export const PR_SET_NO_NEW_PRIVS = 38;
export const PR_GET_NO_NEW_PRIVS = 39;
export const CAP_LAST_CAP = 40;
const TIMERSLACK_NS = 50_000;
const PER_QUERY = 0xffff_ffff;
// <linux/capability.h>
export const LINUX_CAPABILITY_VERSION_1 = 0x1998_0330;
export const LINUX_CAPABILITY_VERSION_2 = 0x2007_1026;
export const LINUX_CAPABILITY_VERSION_3 = 0x2008_0522;

function putI32(env: SyscallEnv, va: number, v: number): number {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return copyToUser(env.kctx, env.as, va, b) < 0 ? -EFAULT : 0;
}

/** Change the caller's P_FLAGS under SH_PROC_LOCK: clear `clear`, set `set`; the old value. */
function updateFlags(env: SyscallEnv, clear: number, set: number): number {
  const ctl = env.kctx.ctl;
  const w = procWord(ctl, procOps().currentProc(), P_FLAGS);
  const lock = procLock(env.kctx);
  lock.lock();
  const old = ctl.i32[w]!;
  ctl.i32[w] = (old & ~clear) | set;
  lock.unlock();
  return old;
}
const myFlags = (env: SyscallEnv): number => env.kctx.ctl.i32[procWord(env.kctx.ctl, procOps().currentProc(), P_FLAGS)]!;

/** prctl(option, arg2, arg3, arg4, arg5): see the file comment. */
export function sysPrctl(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const option = argInt(a[0]!);
  const arg2 = a[1]!;
  const flag = (bit: number): number => (myFlags(env) & bit ? 1 : 0);
  switch (option) {
    case PR_SET_PDEATHSIG: {
      if (arg2 < 0n || arg2 > BigInt(NSIG)) return -EINVAL;
      updateFlags(env, PF_PDEATHSIG, Number(arg2));
      return 0;
    }
    case PR_GET_PDEATHSIG: return putI32(env, argU(arg2), myFlags(env) & PF_PDEATHSIG);
    case PR_GET_DUMPABLE: return flag(PF_NOT_DUMPABLE) ^ 1;
    case PR_SET_DUMPABLE: {
      if (arg2 !== 0n && arg2 !== 1n) return -EINVAL;
      updateFlags(env, PF_NOT_DUMPABLE, arg2 === 0n ? PF_NOT_DUMPABLE : 0);
      return 0;
    }
    case PR_GET_KEEPCAPS: return 0;
    case PR_SET_KEEPCAPS: return arg2 === 0n || arg2 === 1n ? 0 : -EINVAL;
    case PR_SET_NAME: {
      const b = readName(env, argU(arg2));
      if (typeof b === 'number') return b;
      setCommBytes(env.kctx.ctl, procOps().currentThread(), b);
      return 0;
    }
    case PR_GET_NAME: return copyToUser(env.kctx, env.as, argU(arg2), commOf(env.kctx.ctl, procOps().currentThread())) < 0 ? -EFAULT : 0;
    case PR_CAPBSET_READ: return arg2 >= 0n && arg2 <= BigInt(CAP_LAST_CAP) ? 1 : -EINVAL;
    case PR_GET_TIMERSLACK: return TIMERSLACK_NS;
    case PR_SET_CHILD_SUBREAPER: updateFlags(env, PF_SUBREAPER, arg2 !== 0n ? PF_SUBREAPER : 0); return 0;
    case PR_GET_CHILD_SUBREAPER: return putI32(env, argU(arg2), flag(PF_SUBREAPER));
    case PR_SET_NO_NEW_PRIVS: {
      if (arg2 !== 1n || a[2] !== 0n || a[3] !== 0n || a[4] !== 0n) return -EINVAL;
      updateFlags(env, 0, PF_NO_NEW_PRIVS);
      return 0;
    }
    case PR_GET_NO_NEW_PRIVS: return a[1] !== 0n || a[2] !== 0n || a[3] !== 0n || a[4] !== 0n ? -EINVAL : flag(PF_NO_NEW_PRIVS);
    default: return -EINVAL;
  }
}

/** PR_SET_NAME's argument: up to 15 bytes of the string at `va` (Linux strncpy_from_user of sizeof(comm) - 1). */
function readName(env: SyscallEnv, va: number): Uint8Array | number {
  const out: number[] = [];
  for (let i = 0; i < 15; i++) {
    const b = copyFromUser(env.kctx, env.as, va + i, 1);
    if (typeof b === 'number') return -EFAULT;
    if (b[0] === 0) break;
    out.push(b[0]!);
  }
  return new Uint8Array(out);
}

/** personality(persona): the previous persona; see the file comment. */
export function sysPersonality(env: SyscallEnv, a: readonly bigint[]): number {
  const persona = Number(BigInt.asUintN(32, a[0]!));
  const old = myFlags(env) & PF_PERSONA;
  if (persona === PER_QUERY) return old;
  if ((persona & ~PF_PERSONA) !== 0) return -EINVAL; // another execution domain (PER_LINUX = 0 only)
  updateFlags(env, PF_PERSONA, persona);
  return old;
}

/** getresuid/getresgid(r, e, s): three zero ids. */
function getRes(env: SyscallEnv, a: readonly bigint[]): number {
  for (let i = 0; i < 3; i++) if (putI32(env, argU(a[i]!), 0) < 0) return -EFAULT;
  return 0;
}
/** setresuid/setresgid(r, e, s): -1 keeps, 0 is root; no other id exists (-EPERM). */
function setRes(_env: SyscallEnv, a: readonly bigint[]): number {
  for (let i = 0; i < 3; i++) {
    const id = Number(BigInt.asIntN(32, a[i]!));
    if (id !== -1 && id !== 0) return -EPERM;
  }
  return 0;
}

/**
 * capget(hdrp, datap): root's full set for an existing pid (0 = the caller). A version it does
 * not know is answered with _LINUX_CAPABILITY_VERSION_3 written back and -EINVAL; datap NULL
 * only probes the version.
 */
export function sysCapget(env: SyscallEnv, a: readonly bigint[]): number {
  const hdrVa = argU(a[0]!), dataVa = argU(a[1]!);
  const hdr = copyFromUser(env.kctx, env.as, hdrVa, 8);
  if (typeof hdr === 'number') return -EFAULT;
  const dv = new DataView(hdr.buffer, hdr.byteOffset, 8);
  const version = dv.getUint32(0, true), pid = dv.getInt32(4, true);
  const words = version === LINUX_CAPABILITY_VERSION_1 ? 1 : version === LINUX_CAPABILITY_VERSION_2 || version === LINUX_CAPABILITY_VERSION_3 ? 2 : 0;
  if (words === 0) {
    if (putI32(env, hdrVa, LINUX_CAPABILITY_VERSION_3 | 0) < 0) return -EFAULT;
    return dataVa === 0 ? 0 : -EINVAL;
  }
  if (pid < 0) return -EINVAL;
  if (pid !== 0 && pid !== env.pid && pid !== INIT_PID && procOfPid(env.kctx.ctl, pid) < 0) return -ESRCH;
  if (dataVa === 0) return 0;
  const out = new Uint8Array(12 * words);
  const o = new DataView(out.buffer);
  for (let i = 0; i < words; i++) {
    const bits = Math.min(32, CAP_LAST_CAP + 1 - 32 * i);
    const set = bits >= 32 ? 0xffff_ffff : (2 ** bits - 1);
    o.setUint32(12 * i, set, true); // effective
    o.setUint32(12 * i + 4, set, true); // permitted
    o.setUint32(12 * i + 8, 0, true); // inheritable
  }
  return copyToUser(env.kctx, env.as, dataVa, out) < 0 ? -EFAULT : 0;
}

registerSyscall(N.SYS_prctl, 'prctl', sysPrctl);
registerSyscall(SYS_personality, 'personality', sysPersonality);
registerSyscall(SYS_getresuid, 'getresuid', getRes);
registerSyscall(SYS_getresgid, 'getresgid', getRes);
registerSyscall(SYS_setresuid, 'setresuid', setRes);
registerSyscall(SYS_setresgid, 'setresgid', setRes);
registerSyscall(SYS_capget, 'capget', sysCapget);
