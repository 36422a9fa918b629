/**
 * A process's file context in ctl (kernel/fs/layout.ts FDT_*): the fd table (fd → open
 * file description + FD_CLOEXEC), and what Linux keeps beside it and shares the same way
 * between threads and copies on fork — the cwd, the umask and the resource limits.
 *
 * Sharing: threads (CLONE_FILES) share one table by reference (fdTableShare); fork copies it
 * (fdTableFork: the descriptions are shared, each gaining a reference — so a forked child and
 * its parent share file offsets, as on Linux). exec closes FD_CLOEXEC entries
 * (fdCloseOnExec); the last fdTablePut (exit) closes everything.
 *
 * Every entry change happens under the table's SpinLock; releasing a description
 * (ofilePut: host close, pipe wake-up) happens after the lock is dropped.
 */
import type { KernelContext } from '../context.ts';
import { EBADF, ENAMETOOLONG, ENOMEM } from '../errno.ts';
import { EMFILE } from './hostfs.ts';
import { SpinLock } from '../sync/lock.ts';
import { ofileGet, ofilePut } from './ofile.ts';
import { releasePosixOnClose, releaseProcess } from './locks.ts';
import type { Waiter } from './pipe.ts';
import {
  FDE_CLOEXEC, FDE_OFILE_MASK, FDT_BYTES, FDT_CWD_BYTE, FDT_CWD_LEN, FDT_CWD_MAX, FDT_ENTRIES, FDT_FDS, FDT_LOCK,
  FDT_OWNER, FDT_REFS, FDT_RLIMITS, FDT_STATE, FDT_UMASK, RLIM_NLIMITS, SLOT_FREE, SLOT_LIVE,
} from './layout.ts';
import {
  RLIMIT_CORE, RLIMIT_MEMLOCK, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_STACK,
} from '../linux-flags.ts';

/** RLIMIT_SIGPENDING and friends (asm-generic/resource.h) not in linux-flags.ts. */
export const RLIMIT_LOCKS = 10;
export const RLIMIT_SIGPENDING = 11;
export const RLIMIT_MSGQUEUE = 12;
export const RLIMIT_NICE = 13;
export const RLIMIT_RTPRIO = 14;
export const RLIMIT_RTTIME = 15;

/** Default [cur, max] per resource (Infinity = RLIM_INFINITY), as a Debian shell sees them. */
export const RLIMIT_DEFAULTS: ReadonlyArray<readonly [number, number]> = (() => {
  const d: [number, number][] = Array.from({ length: RLIM_NLIMITS }, () => [Infinity, Infinity]);
  d[RLIMIT_STACK] = [8 * 2 ** 20, Infinity];
  d[RLIMIT_CORE] = [0, Infinity];
  d[RLIMIT_NPROC] = [4096, 4096];
  d[RLIMIT_NOFILE] = [FDT_FDS, FDT_FDS];
  d[RLIMIT_MEMLOCK] = [8 * 2 ** 20, 8 * 2 ** 20];
  d[RLIMIT_SIGPENDING] = [4096, 4096];
  d[RLIMIT_MSGQUEUE] = [819200, 819200];
  d[RLIMIT_NICE] = [0, 0];
  d[RLIMIT_RTPRIO] = [0, 0];
  return d;
})();

/** Word index of field `f` of table `t`. */
const tw = (ctx: KernelContext, t: number, f: number): number => (ctx.ctl.layout.fdTables + t * FDT_BYTES) / 4 + f;
const lockOf = (ctx: KernelContext, t: number): SpinLock => new SpinLock(ctx.ctl.i32, tw(ctx, t, FDT_LOCK), ctx.whileWaiting);
const entry = (ctx: KernelContext, t: number, fd: number): number => tw(ctx, t, FDT_ENTRIES + fd);

function checkTable(ctx: KernelContext, t: number, fn: string): void {
  if (!(Number.isInteger(t) && t >= 0 && t < ctx.ctl.layout.fs.fdTables) || Atomics.load(ctx.ctl.i32, tw(ctx, t, FDT_STATE)) !== SLOT_LIVE) {
    throw new Error(`${fn}: no fd table ${t}`);
  }
}

function allocTable(ctx: KernelContext): number {
  for (let t = 0; t < ctx.ctl.layout.fs.fdTables; t++) {
    if (Atomics.compareExchange(ctx.ctl.i32, tw(ctx, t, FDT_STATE), SLOT_FREE, SLOT_LIVE) === SLOT_FREE) return t;
  }
  return -ENOMEM;
}

/**
 * A new, empty file context (no fds, cwd "/", umask 022, default limits) with one reference.
 * Its slot, or -ENOMEM when every slot is taken.
 */
export function fdTableCreate(ctx: KernelContext): number {
  const t = allocTable(ctx);
  if (t < 0) return t;
  const { i32, f64 } = ctx.ctl;
  lockOf(ctx, t).with(() => {
    i32.fill(0, tw(ctx, t, FDT_ENTRIES), tw(ctx, t, FDT_ENTRIES + FDT_FDS));
    i32[tw(ctx, t, FDT_UMASK)] = 0o022;
    i32[tw(ctx, t, FDT_CWD_LEN)] = 1;
    new Uint8Array(ctx.ctl.sab, ctx.ctl.layout.fdTables + t * FDT_BYTES + FDT_CWD_BYTE, 1)[0] = 0x2f; // "/"
    for (let r = 0; r < RLIM_NLIMITS; r++) {
      f64[tw(ctx, t, FDT_RLIMITS) / 2 + 2 * r] = RLIMIT_DEFAULTS[r]![0];
      f64[tw(ctx, t, FDT_RLIMITS) / 2 + 2 * r + 1] = RLIMIT_DEFAULTS[r]![1];
    }
  });
  Atomics.store(i32, tw(ctx, t, FDT_REFS), 1);
  return t;
}

/** Share table `t` with one more user (a thread created with CLONE_FILES). */
export function fdTableShare(ctx: KernelContext, t: number): void {
  checkTable(ctx, t, 'fdTableShare');
  Atomics.add(ctx.ctl.i32, tw(ctx, t, FDT_REFS), 1);
}

/**
 * fork: a copy of table `t` — every fd names the same description (one more reference each),
 * FD_CLOEXEC flags, cwd, umask and limits copied. The new slot, or -ENOMEM.
 */
export function fdTableFork(ctx: KernelContext, t: number): number {
  checkTable(ctx, t, 'fdTableFork');
  const n = allocTable(ctx);
  if (n < 0) return n;
  const i32 = ctx.ctl.i32;
  lockOf(ctx, t).with(() => {
    const from = tw(ctx, t, 0), to = tw(ctx, n, 0);
    // Header words except state/refs/lock, and every entry: one copy of the whole record.
    i32.copyWithin(to + FDT_UMASK, from + FDT_UMASK, from + FDT_BYTES / 4);
    for (let fd = 0; fd < FDT_FDS; fd++) {
      const e = i32[entry(ctx, n, fd)]!;
      if (e !== 0) ofileGet(ctx, e & FDE_OFILE_MASK);
    }
  });
  Atomics.store(i32, tw(ctx, n, FDT_LOCK), 0);
  i32[tw(ctx, n, FDT_OWNER)] = 0; // the caller records the child's owner if it uses one
  Atomics.store(i32, tw(ctx, n, FDT_REFS), 1);
  return n;
}

/** Drop one user of table `t`; the last one closes every fd (exit) and frees the slot. */
export function fdTablePut(ctx: KernelContext, t: number, waiter: Waiter | null = null): void {
  checkTable(ctx, t, 'fdTablePut');
  const left = Atomics.sub(ctx.ctl.i32, tw(ctx, t, FDT_REFS), 1) - 1;
  if (left < 0) throw new Error(`fdTablePut: fd table ${t} has no references`);
  if (left > 0) return;
  closeWhere(ctx, t, () => true, waiter);
  releaseProcess(ctx, t, waiter); // a lock wait the process never returned from
  Atomics.store(ctx.ctl.i32, tw(ctx, t, FDT_STATE), SLOT_FREE);
}

/** exec: close every fd marked FD_CLOEXEC. */
export function fdCloseOnExec(ctx: KernelContext, t: number, waiter: Waiter | null = null): void {
  checkTable(ctx, t, 'fdCloseOnExec');
  closeWhere(ctx, t, (e) => (e & FDE_CLOEXEC) !== 0, waiter);
}

function closeWhere(ctx: KernelContext, t: number, pick: (e: number) => boolean, waiter: Waiter | null): void {
  const i32 = ctx.ctl.i32;
  const drop: number[] = [];
  lockOf(ctx, t).with(() => {
    for (let fd = 0; fd < FDT_FDS; fd++) {
      const e = i32[entry(ctx, t, fd)]!;
      if (e !== 0 && pick(e)) {
        drop.push(e & FDE_OFILE_MASK);
        i32[entry(ctx, t, fd)] = 0;
      }
    }
  });
  for (const id of drop) closed(ctx, t, id, waiter);
}

/** Current RLIMIT_NOFILE soft limit of `t` (caller may hold the lock or not: a racy read is fine). */
function nofile(ctx: KernelContext, t: number): number {
  return Math.min(FDT_FDS, ctx.ctl.f64[tw(ctx, t, FDT_RLIMITS) / 2 + 2 * RLIMIT_NOFILE]!);
}

/**
 * Install description `id` at the lowest free fd >= minFd (below RLIMIT_NOFILE). The entry
 * takes over the caller's reference. The fd, or -EMFILE (the caller still owns its reference).
 */
export function fdInstall(ctx: KernelContext, t: number, id: number, cloexec: boolean, minFd = 0): number {
  checkTable(ctx, t, 'fdInstall');
  const i32 = ctx.ctl.i32;
  return lockOf(ctx, t).with(() => {
    const lim = nofile(ctx, t);
    for (let fd = minFd; fd < lim; fd++) {
      if (i32[entry(ctx, t, fd)] === 0) {
        i32[entry(ctx, t, fd)] = id | (cloexec ? FDE_CLOEXEC : 0);
        return fd;
      }
    }
    return -EMFILE;
  });
}

/**
 * The description at `fd` with one reference taken for the caller (release with ofilePut),
 * or -EBADF.
 */
export function fdGet(ctx: KernelContext, t: number, fd: number): number {
  if (!(Number.isInteger(fd) && fd >= 0 && fd < FDT_FDS)) return -EBADF;
  const i32 = ctx.ctl.i32;
  return lockOf(ctx, t).with(() => {
    const e = i32[entry(ctx, t, fd)]!;
    if (e === 0) return -EBADF;
    const id = e & FDE_OFILE_MASK;
    ofileGet(ctx, id);
    return id;
  });
}

/** close(fd): 0 or -EBADF. */
export function fdClose(ctx: KernelContext, t: number, fd: number, waiter: Waiter | null = null): number {
  if (!(Number.isInteger(fd) && fd >= 0 && fd < FDT_FDS)) return -EBADF;
  const i32 = ctx.ctl.i32;
  const id = lockOf(ctx, t).with(() => {
    const e = i32[entry(ctx, t, fd)]!;
    i32[entry(ctx, t, fd)] = 0;
    return e & FDE_OFILE_MASK;
  });
  if (id === 0) return -EBADF;
  closed(ctx, t, id, waiter);
  return 0;
}

/**
 * dup2/dup3 core: make `newfd` name the description of `oldfd` (closing what newfd named,
 * atomically with the install), with FD_CLOEXEC = `cloexec`. Returns newfd, or -EBADF (oldfd
 * not open, newfd out of range or at/above RLIMIT_NOFILE).
 */
export function fdDupTo(ctx: KernelContext, t: number, oldfd: number, newfd: number, cloexec: boolean, waiter: Waiter | null = null): number {
  if (!(Number.isInteger(oldfd) && oldfd >= 0 && oldfd < FDT_FDS)) return -EBADF;
  const i32 = ctx.ctl.i32;
  let replaced = 0;
  const r = lockOf(ctx, t).with(() => {
    if (!(Number.isInteger(newfd) && newfd >= 0 && newfd < nofile(ctx, t))) return -EBADF;
    const e = i32[entry(ctx, t, oldfd)]!;
    if (e === 0) return -EBADF;
    const id = e & FDE_OFILE_MASK;
    ofileGet(ctx, id);
    replaced = i32[entry(ctx, t, newfd)]! & FDE_OFILE_MASK;
    i32[entry(ctx, t, newfd)] = id | (cloexec ? FDE_CLOEXEC : 0);
    return newfd;
  });
  if (replaced !== 0) closed(ctx, t, replaced, waiter);
  return r;
}

/** FD_CLOEXEC of `fd` (F_GETFD): 0 or FD_CLOEXEC (1), or -EBADF. */
export function fdGetCloexec(ctx: KernelContext, t: number, fd: number): number {
  if (!(Number.isInteger(fd) && fd >= 0 && fd < FDT_FDS)) return -EBADF;
  const e = lockOf(ctx, t).with(() => ctx.ctl.i32[entry(ctx, t, fd)]!);
  return e === 0 ? -EBADF : (e & FDE_CLOEXEC) !== 0 ? 1 : 0;
}

/** Set or clear FD_CLOEXEC of `fd` (F_SETFD): 0 or -EBADF. */
export function fdSetCloexec(ctx: KernelContext, t: number, fd: number, on: boolean): number {
  if (!(Number.isInteger(fd) && fd >= 0 && fd < FDT_FDS)) return -EBADF;
  const i32 = ctx.ctl.i32;
  return lockOf(ctx, t).with(() => {
    const e = i32[entry(ctx, t, fd)]!;
    if (e === 0) return -EBADF;
    i32[entry(ctx, t, fd)] = on ? e | FDE_CLOEXEC : e & ~FDE_CLOEXEC;
    return 0;
  });
}

/** Open fds of `t` as [fd, ofile id, cloexec] (tests, /proc-like listings). */
export function fdList(ctx: KernelContext, t: number): [number, number, boolean][] {
  const out: [number, number, boolean][] = [];
  lockOf(ctx, t).with(() => {
    for (let fd = 0; fd < FDT_FDS; fd++) {
      const e = ctx.ctl.i32[entry(ctx, t, fd)]!;
      if (e !== 0) out.push([fd, e & FDE_OFILE_MASK, (e & FDE_CLOEXEC) !== 0]);
    }
  });
  return out;
}

/** Fd tables in use (leak checks). */
export function fdTablesLive(ctx: KernelContext): number {
  let n = 0;
  for (let t = 0; t < ctx.ctl.layout.fs.fdTables; t++) if (Atomics.load(ctx.ctl.i32, tw(ctx, t, FDT_STATE)) === SLOT_LIVE) n++;
  return n;
}

// ---- cwd, umask, rlimits ----

/** The cwd of `t` as a canonical guest path (a byte string, kernel/fs/hostfs.ts ByteString). */
export function fdTableCwd(ctx: KernelContext, t: number): string {
  return lockOf(ctx, t).with(() => {
    const n = ctx.ctl.i32[tw(ctx, t, FDT_CWD_LEN)]!;
    const at = ctx.ctl.layout.fdTables + t * FDT_BYTES + FDT_CWD_BYTE;
    return Buffer.from(new Uint8Array(ctx.ctl.sab, at, n)).toString('latin1');
  });
}

/** Set the cwd (a canonical guest path, byte string, the caller checked is a directory): 0 or -ENAMETOOLONG. */
export function fdTableSetCwd(ctx: KernelContext, t: number, guestPath: string): number {
  const b = Buffer.from(guestPath, 'latin1');
  if (b.length > FDT_CWD_MAX) return -ENAMETOOLONG;
  lockOf(ctx, t).with(() => {
    new Uint8Array(ctx.ctl.sab, ctx.ctl.layout.fdTables + t * FDT_BYTES + FDT_CWD_BYTE, b.length).set(b);
    ctx.ctl.i32[tw(ctx, t, FDT_CWD_LEN)] = b.length;
  });
  return 0;
}

/** umask(mask): set the new mask (& 0777), return the old one. */
export function fdTableUmask(ctx: KernelContext, t: number, mask: number | null): number {
  return lockOf(ctx, t).with(() => {
    const w = tw(ctx, t, FDT_UMASK);
    const old = ctx.ctl.i32[w]!;
    if (mask !== null) ctx.ctl.i32[w] = mask & 0o777;
    return old;
  });
}

/** [cur, max] of resource `r` (0 <= r < RLIM_NLIMITS); Infinity = RLIM_INFINITY. */
export function fdTableRlimit(ctx: KernelContext, t: number, r: number): [number, number] {
  const i = tw(ctx, t, FDT_RLIMITS) / 2 + 2 * r;
  return lockOf(ctx, t).with(() => [ctx.ctl.f64[i]!, ctx.ctl.f64[i + 1]!]);
}

/** Set [cur, max] of resource `r` (the caller validated them). */
export function fdTableSetRlimit(ctx: KernelContext, t: number, r: number, cur: number, max: number): void {
  const i = tw(ctx, t, FDT_RLIMITS) / 2 + 2 * r;
  lockOf(ctx, t).with(() => {
    ctx.ctl.f64[i] = cur;
    ctx.ctl.f64[i + 1] = max;
  });
}

/**
 * close_range core: every open fd of `t` in [first, min(last, FDT_FDS - 1)] is closed, or with
 * `cloexecOnly` marked FD_CLOEXEC. Entries are taken out under the table lock; their
 * descriptions are released after it (ofilePut may wake pipe waiters).
 */
export function fdCloseRange(ctx: KernelContext, t: number, first: number, last: number, cloexecOnly: boolean, waiter: Waiter | null = null): void {
  checkTable(ctx, t, 'fdCloseRange');
  const i32 = ctx.ctl.i32;
  const released: number[] = [];
  lockOf(ctx, t).with(() => {
    for (let fd = first, end = Math.min(last, FDT_FDS - 1); fd <= end; fd++) {
      const e = i32[entry(ctx, t, fd)]!;
      if (e === 0) continue;
      if (cloexecOnly) i32[entry(ctx, t, fd)] = e | FDE_CLOEXEC;
      else {
        i32[entry(ctx, t, fd)] = 0;
        released.push(e & FDE_OFILE_MASK);
      }
    }
  });
  for (const id of released) closed(ctx, t, id, waiter);
}

/** True when `t` has a free fd below RLIMIT_NOFILE (open checks it first: EMFILE before ENFILE, as Linux). */
export function fdTableHasFree(ctx: KernelContext, t: number): boolean {
  const i32 = ctx.ctl.i32;
  return lockOf(ctx, t).with(() => {
    for (let fd = 0, lim = nofile(ctx, t); fd < lim; fd++) if (i32[entry(ctx, t, fd)] === 0) return true;
    return false;
  });
}

/** An fd of `t` naming description `id` was closed: the process's POSIX locks on that file go, then the fd's reference. */
function closed(ctx: KernelContext, t: number, id: number, waiter: Waiter | null): void {
  releasePosixOnClose(ctx, t, id, waiter);
  ofilePut(ctx, id, waiter);
}
