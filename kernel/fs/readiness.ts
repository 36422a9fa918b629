/**
 * What poll(2) would report for one open file description, and the wait channel keys a poller
 * registers on to hear of a change (kernel/fs/pollwait.ts). Linux's f_op->poll, by kind:
 * regular files and directories are always readable and writable (DEFAULT_POLLMASK) and have no
 * channel; the host's stdout/stderr are always writable; the host's stdin is peeked without
 * blocking (kernel/fs/host-stdin.ts hostStreamPoll: bytes read are kept for the next read) and,
 * having no channel, makes its waiter look again every POLL_MS; pipes,
 * eventfds, socket pairs and epoll instances report their state and their channel. Kinds defined
 * in other files install theirs with setKindPoll.
 */
import type { KernelContext } from '../context.ts';
import { ofileHostFd, ofileKind, ofileReadable, ofileWritable } from './ofile.ts';
import { pipePoll } from './pipe.ts';
import { hostIsFile, hostStreamPoll } from './host-stdin.ts';
import { OK_HOST_DIR, OK_HOST_FILE, OK_PIPE_READ, OK_PIPE_WRITE, OK_STDIO } from './layout.ts';
import { POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from './poll-abi.ts';

/** A description's readiness: poll event bits, and the channel keys that announce a change. */
export interface Readiness {
  mask: number;
  keys: number[];
  /** Not ready and no channel announces it (the host's stdin): a waiter must look again every POLL_MS. */
  hostPoll?: boolean;
}
/** Readiness of a kind's object (OF_HOSTFD value); `depth` counts nested epolls. */
export type KindPoll = (ctx: KernelContext, object: number, depth: number) => Readiness;
const kindPoll = new Map<number, KindPoll>();
/** Install readiness for description kind `kind` (at import time). */
export function setKindPoll(kind: number, fn: KindPoll): void {
  kindPoll.set(kind, fn);
}

const ALWAYS = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;

/** Readiness of description `id` (`depth`: epoll nesting so far, 0 at the top). */
export function readinessOf(ctx: KernelContext, id: number, depth = 0): Readiness {
  const kind = ofileKind(ctx, id);
  switch (kind) {
    case OK_HOST_FILE:
    case OK_HOST_DIR:
      return { mask: ALWAYS, keys: [] };
    case OK_STDIO: {
      const out = ofileWritable(ctx, id) ? POLLOUT | POLLWRNORM : 0;
      if (!ofileReadable(ctx, id)) return { mask: out, keys: [] };
      const r = hostStreamPoll(ctx, id, ofileHostFd(ctx, id));
      return { mask: r.mask | out, keys: [], hostPoll: r.polled };
    }
    case OK_PIPE_READ:
    case OK_PIPE_WRITE: {
      const r = pipePoll(ctx, ofileHostFd(ctx, id), kind === OK_PIPE_WRITE);
      if (kind === OK_PIPE_READ && ofileWritable(ctx, id)) { // a FIFO opened O_RDWR: both ends' readiness
        return { mask: r.mask | pipePoll(ctx, ofileHostFd(ctx, id), true).mask, keys: [r.key] };
      }
      return { mask: r.mask, keys: [r.key] };
    }
    default: {
      const fn = kindPoll.get(kind);
      return fn ? fn(ctx, ofileHostFd(ctx, id), depth) : { mask: 0, keys: [] };
    }
  }
}

/** True when description `id` has a poll method epoll can wait on (Linux: regular files and directories do not: EPERM). */
export function epollable(ctx: KernelContext, id: number): boolean {
  const kind = ofileKind(ctx, id);
  if (kind === OK_STDIO) return !hostIsFile(ofileHostFd(ctx, id)); // stdin redirected from a file: EPERM too
  return kind !== OK_HOST_FILE && kind !== OK_HOST_DIR;
}
