/**
 * Process groups and sessions (Linux kernel/sys.c): setpgid, getpgid, getsid, setsid.
 * glibc's getpgrp() is getpgid(0) on riscv64 (there is no getpgrp syscall).
 *
 * P_PGID and P_SID live in the process record (kernel/proc/layout.ts) and change only under
 * SH_PROC_LOCK, like the rest of the tree. A process gets its parent's group and session at
 * fork; the host's processes lead their own group in init's session 1 (a job a shell started).
 * Init (pid 1) is its own group and session.
 *
 * Rules kept from Linux: setpgid works on the caller or a child of the caller (else ESRCH), not
 * on a child in another session or a session leader (EPERM), nor a child that has exec'd
 * (EACCES); the group joined must exist in the caller's session (EPERM). setsid fails (EPERM)
 * when some process's group already has the caller's pid as its id (a group leader).
 */
import { EACCES, EINVAL, EPERM } from '../errno.ts';
import type { Ctl } from '../layout.ts';
import { INIT_PID, P_FLAGS, P_PARENT, P_PGID, P_SID, P_STATE, PF_EXECED, PS_FREE } from './layout.ts';
import { procLock, procOfPid, procWord } from './sys-proc-table.ts';
import { procOps } from './sys-proc.ts';
import * as N from '../syscalls-table.ts';
import { argInt, registerSyscall, type SyscallEnv } from '../syscall.ts';

const ESRCH = 3;
/** getsid's number (riscv64 asm-generic; the table in kernel/syscalls-table.ts names the others). */
const SYS_getsid = 156;

/** True when some process (live or zombie) has process group `pgid` in session `sid` (lock held). */
function groupExists(ctl: Ctl, pgid: number, sid: number): boolean {
  for (let p = 0; p < ctl.layout.sched.maxProcesses; p++) {
    if (Atomics.load(ctl.i32, procWord(ctl, p, P_STATE)) === PS_FREE) continue;
    if (ctl.i32[procWord(ctl, p, P_PGID)] === pgid && (sid < 0 || ctl.i32[procWord(ctl, p, P_SID)] === sid)) return true;
  }
  return false;
}

/** setpgid(pid, pgid): 0 or -errno (see the file comment). */
export function sysSetpgid(env: SyscallEnv, a: readonly bigint[]): number {
  let pid = argInt(a[0]!), pgid = argInt(a[1]!);
  if (pgid < 0) return -EINVAL;
  const ctl = env.kctx.ctl, i32 = ctl.i32;
  const self = procOps().currentProc();
  if (pid === 0) pid = env.pid;
  if (pgid === 0) pgid = pid;
  const lock = procLock(env.kctx);
  lock.lock();
  try {
    const p = pid === env.pid ? self : procOfPid(ctl, pid);
    if (p < 0) return -ESRCH;
    const mySid = i32[procWord(ctl, self, P_SID)]!;
    if (p !== self) {
      if (i32[procWord(ctl, p, P_PARENT)] !== env.pid) return -ESRCH;
      if (i32[procWord(ctl, p, P_SID)] !== mySid) return -EPERM;
      if (i32[procWord(ctl, p, P_FLAGS)]! & PF_EXECED) return -EACCES;
    }
    if (i32[procWord(ctl, p, P_SID)] === pid) return -EPERM; // a session leader
    if (pgid !== pid && !groupExists(ctl, pgid, mySid)) return -EPERM;
    i32[procWord(ctl, p, P_PGID)] = pgid;
    return 0;
  } finally {
    lock.unlock();
  }
}

/** getpgid(pid) / getsid(pid) — field `f` of process `pid` (0: the caller); init's is 1; -ESRCH when there is none. */
function getId(env: SyscallEnv, pid: number, f: number): number {
  const ctl = env.kctx.ctl;
  if (pid === INIT_PID) return INIT_PID;
  const p = pid === 0 || pid === env.pid ? procOps().currentProc() : procOfPid(ctl, pid);
  if (p < 0) return -ESRCH;
  return Atomics.load(ctl.i32, procWord(ctl, p, f));
}

/** setsid(): the new session id (the caller's pid), or -EPERM for a process-group leader. */
export function sysSetsid(env: SyscallEnv): number {
  const ctl = env.kctx.ctl;
  const self = procOps().currentProc();
  const lock = procLock(env.kctx);
  lock.lock();
  try {
    if (groupExists(ctl, env.pid, -1)) return -EPERM;
    ctl.i32[procWord(ctl, self, P_PGID)] = env.pid;
    ctl.i32[procWord(ctl, self, P_SID)] = env.pid;
    return env.pid;
  } finally {
    lock.unlock();
  }
}

registerSyscall(N.SYS_setpgid, 'setpgid', sysSetpgid);
registerSyscall(N.SYS_getpgid, 'getpgid', (env, a) => getId(env, argInt(a[0]!), P_PGID));
registerSyscall(SYS_getsid, 'getsid', (env, a) => getId(env, argInt(a[0]!), P_SID));
registerSyscall(N.SYS_setsid, 'setsid', sysSetsid);
