/**
 * Special files owned by other subsystems (a timerfd: kernel/signal/timerfd.ts): an open file
 * description of kind `kind` whose OF_HOSTFD is the owner's handle (a timer-table slot). The
 * owner registers how such a description is read and released; this folder keeps the fd
 * table, the references, O_NONBLOCK/F_SETFL, dup, fork, close-on-exec and close as for any
 * file. Writes, seeks and mmap of a special file are refused by the generic paths (EINVAL,
 * ESPIPE, ENODEV as Linux's anon-inode files). An owner that gives a `poll` makes the kind
 * pollable (poll/select/epoll: kernel/fs/readiness.ts) and announces changes with
 * specialChanged.
 */
import type { KernelContext } from '../context.ts';
import { EINVAL } from '../errno.ts';
import { O_CLOEXEC, O_NONBLOCK, O_RDWR } from '../linux-flags.ts';
import { fdInstall } from './fdtable.ts';
import { ofileCreate, ofileFlags, ofileHostFd, ofileKind, ofilePut } from './ofile.ts';
import type { FsEnv } from './sys-fs-env.ts';
import { pollNotify } from './pollwait.ts';
import { setKindPoll, type Readiness } from './readiness.ts';

/** What the owner of a special kind provides. */
export interface SpecialOps {
  /**
   * read(2) of description `id` (handle `handle`) into user `va`, `len` bytes: a count,
   * -errno, or PARKED (blocked through f.waiter; the syscall re-runs when woken).
   */
  read(f: FsEnv, id: number, handle: number, va: number, len: number, nonblock: boolean): number;
  /** The last reference to a description of this kind is gone: release `handle`. */
  release(kctx: KernelContext, handle: number): void;
  /**
   * Optional: what poll(2) reports for `handle` now (POLLIN etc.) and the channel keys that
   * announce a change (-1 - i for a ctl wake word i the owner bumps, then specialChanged(i)).
   * Without it the kind is never ready (as before: a poller only times out).
   */
  poll?(kctx: KernelContext, handle: number): Readiness;
}

const kinds = new Map<number, SpecialOps>();

/** Register the operations of special kind `kind` (an OK_* of kernel/fs/layout.ts; once per worker). */
export function registerSpecialKind(kind: number, ops: SpecialOps): void {
  kinds.set(kind, ops);
  const poll = ops.poll;
  if (poll) setKindPoll(kind, (ctx, handle) => poll(ctx, handle));
}

/**
 * The owner changed the state behind ctl wake word `index` (after it bumped the word and woke
 * its own blocked readers): wake the threads polling that channel (key -1 - index).
 * `wakeKey`: the scheduler's wake of a channel key (null: Atomics.notify only).
 */
export function specialChanged(kctx: KernelContext, index: number, wakeKey: ((key: number) => void) | null): void {
  pollNotify(kctx, -1 - index, wakeKey ? { wakeKey } : null);
}

/** The operations of kind `kind`, or undefined when it is not special. */
export function specialOps(kind: number): SpecialOps | undefined {
  return kinds.get(kind);
}

/**
 * A new description of special kind `kind` for `handle`, opened read-write with `flags`
 * (O_NONBLOCK, O_CLOEXEC), installed at the lowest free fd. The fd, or -errno (-EINVAL,
 * -ENFILE, -EMFILE). Takes over `handle` either way: on failure it is released.
 */
export function openSpecial(f: FsEnv, kind: number, handle: number, flags: number): number {
  const ops = kinds.get(kind);
  if (!ops) throw new Error(`openSpecial: kind ${kind} is not registered`);
  if (flags & ~(O_NONBLOCK | O_CLOEXEC)) {
    ops.release(f.kctx, handle);
    return -EINVAL;
  }
  const id = ofileCreate(f.kctx, { kind, flags: O_RDWR | (flags & O_NONBLOCK), hostFd: handle });
  if (id < 0) {
    ops.release(f.kctx, handle);
    return id;
  }
  const fd = fdInstall(f.kctx, f.fdt, id, (flags & O_CLOEXEC) !== 0);
  if (fd < 0) ofilePut(f.kctx, id, f.waiter); // the last reference: releases the handle
  return fd;
}

/** The handle of description `id` when it is of special kind `kind`, else -1. */
export function specialHandle(kctx: KernelContext, id: number, kind: number): number {
  return ofileKind(kctx, id) === kind ? ofileHostFd(kctx, id) : -1;
}

/** True when description `id` is non-blocking (O_NONBLOCK, as F_SETFL left it). */
export function specialNonblock(kctx: KernelContext, id: number): boolean {
  return (ofileFlags(kctx, id) & O_NONBLOCK) !== 0;
}
