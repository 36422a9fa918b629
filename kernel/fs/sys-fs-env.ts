/**
 * What the file syscalls work with (FsEnv) and how it is found for a calling thread: the
 * process's file context (kernel/fs/fdtable.ts), the machine's host root, and the Waiter that
 * blocks the caller (kernel/fs/pipe.ts).
 *
 * Wiring points (per hart worker, set at import time by their owners):
 * - setFdTableResolver: the process layer says which fd table a process uses (fork copies it
 *   with fdTableFork, threads share it). Until it is set, a process's table is found by
 *   its pid in the tables' FDT_OWNER word, created on first use with the host's stdin,
 *   stdout and stderr as fds 0, 1, 2 (a forked child then starts over — wire the resolver).
 * - setHostRoot: the machine's `--root` (default: the host's current directory).
 * - setWaiterFactory: how a blocking file syscall blocks its thread; default hartWaiter, which
 *   holds the hart (serving its mailbox) — correct, but a pipe between two threads needs
 *   them on different harts until the scheduler provides a re-executing block.
 */
import type { VirtualAddressSpace } from '../mm/aspace.ts';
import type { KernelContext } from '../context.ts';
import { fdInstall, fdTableCreate } from './fdtable.ts';
import { HostRoot } from './hostfs.ts';
import { procfsLookup } from './procfs.ts';
import { O_LARGEFILE, O_RDONLY, O_WRONLY } from '../linux-flags.ts';
import { ofileCreate } from './ofile.ts';
import { hartWaiter, type Waiter } from './pipe.ts';
import type { SchedOps, SyscallEnv } from '../syscall.ts';
import { FDT_BYTES, FDT_OWNER, FDT_STATE, OK_STDIO, SLOT_LIVE } from './layout.ts';

/** The file syscalls' view of the calling thread. */
export interface FsEnv {
  readonly kctx: KernelContext;
  readonly as: VirtualAddressSpace;
  /** File context (fd table) slot of the calling process. */
  readonly fdt: number;
  readonly root: HostRoot;
  readonly waiter: Waiter;
  readonly pid: number;
  /** Host output for stdio descriptions (null: fs.writeSync on the host fd). */
  readonly sched: SchedOps | null;
}

let root: HostRoot | null = null;
/** Set the guest root of this worker (the machine's `--root`). */
export function setHostRoot(r: HostRoot): void {
  root = r;
}
/** The guest root of this worker (created from process.cwd() on first use when unset). */
export function hostRoot(): HostRoot {
  return (root ??= new HostRoot(process.cwd()));
}

type Resolver = (env: SyscallEnv) => number;
let resolver: Resolver | null = null;
/** Install the process layer's "fd table slot of the calling process". */
export function setFdTableResolver(fn: Resolver): void {
  resolver = fn;
}

type WaiterFactory = (env: SyscallEnv) => Waiter;
let waiterFactory: WaiterFactory = (env) => hartWaiter(env.kctx.whileWaiting);
/** Install how file syscalls block (see the header). */
export function setWaiterFactory(fn: WaiterFactory): void {
  waiterFactory = fn;
}

/**
 * A file context with the host's stdio as fds 0, 1, 2 (each its own OK_STDIO description,
 * like a shell's tty), owned by `pid`. `hostFds`: other host fds to use for 0, 1, 2
 * (redirection, e.g. a test capturing a guest's output). Its slot, or -errno.
 */
export function fdTableWithStdio(kctx: KernelContext, pid: number, hostFds: readonly [number, number, number] = [0, 1, 2]): number {
  const t = fdTableCreate(kctx);
  if (t < 0) return t;
  kctx.ctl.i32[(kctx.ctl.layout.fdTables + t * FDT_BYTES) / 4 + FDT_OWNER] = pid;
  for (const [fd, acc] of [[0, O_RDONLY], [1, O_WRONLY], [2, O_WRONLY]] as const) {
    const id = ofileCreate(kctx, { kind: OK_STDIO, flags: acc | O_LARGEFILE, hostFd: hostFds[fd]! });
    if (id < 0) return id;
    fdInstall(kctx, t, id, false, fd);
  }
  return t;
}

/** Default resolver: the live table whose FDT_OWNER is `pid`, created on first use. */
function tableByOwner(env: SyscallEnv): number {
  const { i32, layout } = env.kctx.ctl;
  for (let t = 0; t < layout.fs.fdTables; t++) {
    const w = (layout.fdTables + t * FDT_BYTES) / 4;
    if (Atomics.load(i32, w + FDT_STATE) === SLOT_LIVE && i32[w + FDT_OWNER] === env.pid) return t;
  }
  return fdTableWithStdio(env.kctx, env.pid);
}

/** Build the FsEnv of the calling thread; a negative number when it has no file context. */
export function fsEnvOf(env: SyscallEnv): FsEnv | number {
  const fdt = (resolver ?? tableByOwner)(env);
  if (fdt < 0) return fdt;
  const base = hostRoot();
  let root: HostRoot | null = null;
  return {
    kctx: env.kctx, as: env.as, fdt, waiter: waiterFactory(env), pid: env.pid, sched: env.sched,
    // The root as this caller sees it: /proc and /dev are the virtual trees (kernel/fs/procfs.ts).
    // Made on first use: read and write never look a path up.
    get root(): HostRoot {
      return (root ??= base.withVirtual(procfsLookup({ kctx: env.kctx, pid: env.pid, rootBytes: base.rootBytes })));
    },
  };
}
