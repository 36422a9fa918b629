/**
 * Information syscalls: uname, getrandom, prlimit64, clock_gettime/clock_getres,
 * gettimeofday, the uid/gid family, umask, sysinfo.
 *
 * Choices (documented behaviour):
 * - ids: the guest runs as root — uid = euid = gid = egid = 0, matching AT_UID/AT_GID in the
 *   initial stack (kernel/proc/initstack.ts). File ownership in stat is the host's.
 * - clocks: REALTIME from the host's wall clock (its offset to the monotonic clock measured once
 *   at boot, so REALTIME never steps back and agrees on every hart); MONOTONIC, MONOTONIC_RAW, BOOTTIME and the
 *   COARSE variants from the host's monotonic clock (process.hrtime) — all harts share the
 *   host process, so one clock. clock_gettime of THREAD_CPUTIME_ID / PROCESS_CPUTIME_ID is the
 *   calling thread's / process's CPU time as the harts charge it (kernel/proc/cputime.ts);
 *   clockNs (no caller) approximates both by the host process's CPU time. Resolution 1 ns
 *   (COARSE: 4 ms, like a 250 Hz Linux tick).
 * - getrandom: a xorshift128+ stream seeded per machine (setRandomSeed; default a fixed
 *   seed), so runs are reproducible; shared by all threads of a worker, not cryptographic.
 * - prlimit64: the calling process's own limits only (pid 0 or its pid; others ESRCH); a
 *   soft limit above the hard one is EINVAL; raising a hard limit is allowed (root), except
 *   RLIMIT_NOFILE above the fd table's capacity (EPERM, like nr_open). A new RLIMIT_STACK takes
 *   effect at once for the stack's growth (the address space's copy, AS_STACK_LIMIT) and at the
 *   next execve for the argument limit; RLIMIT_NPROC bounds fork/clone (kernel/proc/sys-proc.ts).
 */
import { EFAULT, EINVAL, EPERM } from '../errno.ts';
import { fdTableRlimit, fdTableSetRlimit, fdTableUmask } from '../fs/fdtable.ts';
import {
  CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW, CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME,
  CLOCK_REALTIME_COARSE, CLOCK_THREAD_CPUTIME_ID, GRND_INSECURE, GRND_NONBLOCK, GRND_RANDOM, RLIMIT_NOFILE, RLIMIT_STACK,
} from '../linux-flags.ts';
import { FDT_FDS, RLIM_NLIMITS } from '../fs/layout.ts';
import type { FsEnv } from '../fs/sys-fs-env.ts';
import { argInt, argU } from '../syscall.ts';
import { copyFromUser, copyToUser } from '../mm/uaccess.ts';
import { processCpuNs, threadCpuNs } from './cputime.ts';
import { procOps } from './sys-proc.ts';
import { realtimeNs, timeNs, virtualTime } from '../../cpu/vclock.ts';

const ESRCH = 3;
export const UTS_SYSNAME = 'Linux';
export const UTS_NODENAME = 'coherent';
export const UTS_RELEASE = '6.1.0-coherent';
export const UTS_VERSION = '#1 SMP Coherent';
export const UTS_MACHINE = 'riscv64';
const UTS_FIELD = 65;

/** uname(buf): six 65-byte NUL-terminated fields (struct new_utsname). */
export function sysUname(f: FsEnv, a: readonly bigint[]): number {
  const out = new Uint8Array(UTS_FIELD * 6);
  [UTS_SYSNAME, UTS_NODENAME, UTS_RELEASE, UTS_VERSION, UTS_MACHINE, '(none)'].forEach((s, i) => {
    out.set(new TextEncoder().encode(s).subarray(0, UTS_FIELD - 1), i * UTS_FIELD);
  });
  return copyToUser(f.kctx, f.as, argU(a[0]!), out) < 0 ? -EFAULT : 0;
}

// ---- getrandom ----
const S0_UNSEEDED = 0x243f6a8885a308d3n, S1_UNSEEDED = 0x13198a2e03707344n;
let s0 = S0_UNSEEDED, s1 = S1_UNSEEDED;
const M64 = (1n << 64n) - 1n;
/** Put this worker's getrandom stream back to a new worker's (unseeded) state: a machine reset. */
export function resetRandomSeed(): void {
  s0 = S0_UNSEEDED;
  s1 = S1_UNSEEDED;
}
/** Seed this worker's getrandom stream (the machine passes the same seed to every hart). */
export function setRandomSeed(seed: number): void {
  s0 = (BigInt(seed) * 0x9e3779b97f4a7c15n + 1n) & M64;
  s1 = (s0 ^ 0xbf58476d1ce4e5b9n) & M64;
}
function next64(): bigint {
  let x = s0;
  const y = s1;
  s0 = y;
  x ^= (x << 23n) & M64;
  s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
  return (s1 + y) & M64;
}

/** getrandom(buf, len, flags): len bytes (at most 32 MiB per call, like Linux's cap) or EINVAL/EFAULT. */
export function sysGetrandom(f: FsEnv, a: readonly bigint[]): number {
  const flags = argInt(a[2]!);
  if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return -EINVAL;
  if ((flags & (GRND_RANDOM | GRND_INSECURE)) === (GRND_RANDOM | GRND_INSECURE)) return -EINVAL;
  const len = Math.min(argU(a[1]!), 0x1ffffff);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  let i = 0;
  for (; i + 8 <= len; i += 8) dv.setBigUint64(i, next64(), true);
  if (i < len) {
    const last = next64();
    for (let k = 0; i < len; i++, k++) out[i] = Number((last >> BigInt(8 * k)) & 0xffn);
  }
  return copyToUser(f.kctx, f.as, argU(a[0]!), out) < 0 ? -EFAULT : len;
}

// ---- prlimit64 ----
const INF = 0xffffffffffffffffn;
const toRaw = (v: number): bigint => (v === Infinity ? INF : BigInt(v));
const fromRaw = (v: bigint): number => (v === INF || v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v));

/** prlimit64(pid, resource, new, old): see the header. */
export function sysPrlimit64(f: FsEnv, a: readonly bigint[]): number {
  const pid = argInt(a[0]!), r = argInt(a[1]!);
  const newVa = argU(a[2]!), oldVa = argU(a[3]!);
  if (!(r >= 0 && r < RLIM_NLIMITS)) return -EINVAL;
  if (pid !== 0 && pid !== f.pid) return -ESRCH;
  let cur = 0, max = 0;
  if (newVa !== 0) {
    const raw = copyFromUser(f.kctx, f.as, newVa, 16);
    if (typeof raw === 'number') return -EFAULT;
    const dv = new DataView(raw.buffer);
    cur = fromRaw(dv.getBigUint64(0, true));
    max = fromRaw(dv.getBigUint64(8, true));
    if (cur > max) return -EINVAL;
    if (r === RLIMIT_NOFILE && max > FDT_FDS) return -EPERM;
  }
  const [oc, om] = fdTableRlimit(f.kctx, f.fdt, r);
  if (oldVa !== 0) {
    const out = new Uint8Array(16);
    const dv = new DataView(out.buffer);
    dv.setBigUint64(0, toRaw(oc), true);
    dv.setBigUint64(8, toRaw(om), true);
    if (copyToUser(f.kctx, f.as, oldVa, out) < 0) return -EFAULT;
  }
  if (newVa !== 0) {
    fdTableSetRlimit(f.kctx, f.fdt, r, cur, max);
    if (r === RLIMIT_STACK) f.as.stackLimit = cur; // what stack growth checks (kernel/mm/stack.ts)
  }
  return 0;
}

// ---- clocks ----
// The host's monotonic clock (uv_hrtime), the same on every worker: a per-worker origin would
// make CLOCK_MONOTONIC jump back when a thread migrates to a hart whose worker started later.
// CLOCK_REALTIME is that clock plus one offset the host measured at boot (setRealtimeOffset,
// SH_REALTIME), so it never steps back — neither within a millisecond nor when a thread moves
// to another hart — and an absolute REALTIME deadline is a fixed monotonic one.
const bootNs = 0n;
const COARSE_NS = 4_000_000n;
let realtimeOffsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Use `ns` (CLOCK_REALTIME - host monotonic, measured once by the host at boot) on this worker. */
export function setRealtimeOffset(ns: number): void {
  realtimeOffsetNs = BigInt(Math.round(ns));
}

/** The host's monotonic clock in ms (a double): the clock of every scheduler deadline (block timeouts, sleeps). */
export function monotonicMs(): number {
  return timeNs() / 1e6; // virtual in deterministic mode (cpu/vclock.ts)
}

/** Deterministic mode's clocks: virtual time (cpu/vclock.ts), REALTIME from a fixed epoch. */
function virtualClockNs(id: number): bigint | null {
  const mono = BigInt(Math.floor(timeNs())) + 1_000_000_000n;
  switch (id) {
    case CLOCK_REALTIME: return realtimeNs();
    case CLOCK_REALTIME_COARSE: { const t = realtimeNs(); return t - (t % COARSE_NS); }
    case CLOCK_MONOTONIC: case CLOCK_MONOTONIC_RAW: case CLOCK_BOOTTIME: return mono;
    case CLOCK_MONOTONIC_COARSE: return mono - (mono % COARSE_NS);
    case CLOCK_PROCESS_CPUTIME_ID: case CLOCK_THREAD_CPUTIME_ID: return mono - 1_000_000_000n;
    default: return null;
  }
}

/** Nanoseconds of clock `id`, or null for an unknown clock. */
export function clockNs(id: number): bigint | null {
  if (virtualTime()) return virtualClockNs(id);
  switch (id) {
    case CLOCK_REALTIME: return process.hrtime.bigint() + realtimeOffsetNs;
    case CLOCK_REALTIME_COARSE: {
      const t = process.hrtime.bigint() + realtimeOffsetNs;
      return t - (t % COARSE_NS);
    }
    case CLOCK_MONOTONIC: case CLOCK_MONOTONIC_RAW: case CLOCK_BOOTTIME:
      return process.hrtime.bigint() - bootNs + 1_000_000_000n;
    case CLOCK_MONOTONIC_COARSE: {
      const t = process.hrtime.bigint() - bootNs + 1_000_000_000n;
      return t - (t % COARSE_NS);
    }
    case CLOCK_PROCESS_CPUTIME_ID: case CLOCK_THREAD_CPUTIME_ID: {
      const u = process.cpuUsage();
      return BigInt(u.user + u.system) * 1000n;
    }
    default: return null;
  }
}

function timespec(ns: bigint): Uint8Array {
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  dv.setBigInt64(0, ns / 1_000_000_000n, true);
  dv.setBigInt64(8, ns % 1_000_000_000n, true);
  return out;
}

/**
 * The calling thread's CPU clocks (kernel/proc/cputime.ts): CLOCK_THREAD_CPUTIME_ID its own user
 * + system time, CLOCK_PROCESS_CPUTIME_ID its process's; null for other clocks.
 */
function cpuClockNs(f: FsEnv, id: number): bigint | null {
  if (id !== CLOCK_PROCESS_CPUTIME_ID && id !== CLOCK_THREAD_CPUTIME_ID) return null;
  const tix = procOps().currentThread();
  const [u, s] = id === CLOCK_THREAD_CPUTIME_ID ? threadCpuNs(f.kctx.ctl, tix) : processCpuNs(f.kctx, procOps().currentProc());
  return BigInt(Math.floor(u + s));
}

/** clock_gettime(id, tp): EINVAL for an unknown clock. */
export function sysClockGettime(f: FsEnv, a: readonly bigint[]): number {
  const ns = cpuClockNs(f, argInt(a[0]!)) ?? clockNs(argInt(a[0]!));
  if (ns === null) return -EINVAL;
  return copyToUser(f.kctx, f.as, argU(a[1]!), timespec(ns)) < 0 ? -EFAULT : 0;
}

/** clock_getres(id, res): 1 ns (COARSE: 4 ms); res may be NULL. */
export function sysClockGetres(f: FsEnv, a: readonly bigint[]): number {
  const id = argInt(a[0]!);
  if (clockNs(id) === null) return -EINVAL;
  const va = argU(a[1]!);
  if (va === 0) return 0;
  const res = id === CLOCK_REALTIME_COARSE || id === CLOCK_MONOTONIC_COARSE ? COARSE_NS : 1n;
  return copyToUser(f.kctx, f.as, va, timespec(res)) < 0 ? -EFAULT : 0;
}

/** gettimeofday(tv, tz): tv and tz may be NULL; tz is zeroed (UTC). */
export function sysGettimeofday(f: FsEnv, a: readonly bigint[]): number {
  const tv = argU(a[0]!), tz = argU(a[1]!);
  if (tv !== 0) {
    const ns = clockNs(CLOCK_REALTIME)!;
    const out = new Uint8Array(16);
    const dv = new DataView(out.buffer);
    dv.setBigInt64(0, ns / 1_000_000_000n, true);
    dv.setBigInt64(8, (ns % 1_000_000_000n) / 1000n, true);
    if (copyToUser(f.kctx, f.as, tv, out) < 0) return -EFAULT;
  }
  if (tz !== 0 && copyToUser(f.kctx, f.as, tz, new Uint8Array(8)) < 0) return -EFAULT;
  return 0;
}

/** getuid/geteuid/getgid/getegid: 0 (see the header). */
export const sysGetId = (): number => 0;

/**
 * getcpu(cpu, node, tcache): the hart the caller runs on now into *cpu, node 0 into *node
 * (either pointer may be NULL; tcache is ignored, as since Linux 2.6.24). 0 or -EFAULT.
 */
export function sysGetcpu(f: FsEnv, a: readonly bigint[]): number {
  const cpuVa = argU(a[0]!), nodeVa = argU(a[1]!);
  const u32 = (v: number): Uint8Array => new Uint8Array(new Uint32Array([v]).buffer);
  if (cpuVa !== 0 && copyToUser(f.kctx, f.as, cpuVa, u32(Math.max(0, f.kctx.hartId))) < 0) return -EFAULT;
  if (nodeVa !== 0 && copyToUser(f.kctx, f.as, nodeVa, u32(0)) < 0) return -EFAULT;
  return 0;
}

/** Scheduling policies (uapi/linux/sched.h). */
const SCHED_OTHER = 0, SCHED_FIFO = 1, SCHED_RR = 2, SCHED_BATCH = 3, SCHED_IDLE = 5, SCHED_DEADLINE = 6;

/**
 * sched_get_priority_max / _min(policy) (`max` picks which): Linux's static priority range —
 * 1..99 for SCHED_FIFO and SCHED_RR, 0..0 for SCHED_OTHER, BATCH, IDLE and DEADLINE; -EINVAL
 * for any other policy.
 */
export function sysSchedGetPriority(a: readonly bigint[], max: boolean): number {
  const policy = argInt(a[0]!);
  if (policy === SCHED_FIFO || policy === SCHED_RR) return max ? 99 : 1;
  if (policy === SCHED_OTHER || policy === SCHED_BATCH || policy === SCHED_IDLE || policy === SCHED_DEADLINE) return 0;
  return -EINVAL;
}

/** umask(mask): the previous mask. */
export function sysUmask(f: FsEnv, a: readonly bigint[]): number {
  return fdTableUmask(f.kctx, f.fdt, argInt(a[0]!));
}

/** sysinfo(info): uptime, RAM totals from the frame allocator, 1 process-ish figures. */
export function sysSysinfo(f: FsEnv, a: readonly bigint[]): number {
  const out = new Uint8Array(112);
  const dv = new DataView(out.buffer);
  const st = f.kctx.frames.stats();
  dv.setBigInt64(0, clockNs(CLOCK_BOOTTIME)! / 1_000_000_000n, true); // uptime
  dv.setBigUint64(32, BigInt(st.total), true); // totalram (in mem_unit pages)
  dv.setBigUint64(40, BigInt(st.free), true); // freeram
  dv.setUint16(80, 1, true); // procs
  dv.setUint32(104, 4096, true); // mem_unit
  return copyToUser(f.kctx, f.as, argU(a[0]!), out) < 0 ? -EFAULT : 0;
}
