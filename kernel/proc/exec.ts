/**
 * Program loading into an address space (shared by the host's spawn, scheduler/process.ts,
 * and execve) and the execve syscall.
 *
 * loadElfInto: every PT_LOAD segment mapped private at its va (anonymous, filled with the
 * file bytes, the bss zero, then the segment's protection), the break after the last one.
 * setUpStack: the main stack (STACK_TOP down) with Linux's initial layout (kernel/proc/initstack.ts):
 * a grows-down region that faults extend up to RLIMIT_STACK (kernel/mm/stack.ts); the
 * arguments may take a quarter of that limit (E2BIG beyond, as Linux's execve).
 * The kernel writes those frames, so the icache epoch is bumped before the program can run
 * (no hart may run decoded instructions of a frame's earlier life).
 *
 * execve(path, argv, envp): the path is looked up under the machine's root from the fd
 * table's cwd; only the file's headers are read and parsed (kernel/proc/elf.ts parseElfFrom: a
 * refused file is -ENOEXEC), segments whose memory exceeds the machine's RAM are -ENOMEM (as
 * Linux's overcommit heuristic refuses one mapping larger than RAM), and each segment's file
 * bytes are then read from the host file in IO_CHUNK pieces straight into the new address
 * space — host memory never holds the file. A fresh address space is loaded, then — past the point of no return — the scheduler swaps it in
 * (ProcOps.replaceSpace: the old one is released, freeing its frames after the shootdown; the
 * scheduler switches in the new one exactly as at a context switch, policy and sanitizer hooks
 * included; fault-injection point exec.before-switch just before),
 * FD_CLOEXEC fds are closed, clear_child_tid and the robust list are forgotten, the signal
 * layer resets handlers (setExecSignalHook), and the thread starts at the entry with every
 * integer register zero but sp. The pid stays; comm becomes the file's base name; the process is
 * marked PF_EXECED (its parent's setpgid on it is -EACCES), and a vfork parent waiting for it is
 * let go (releaseVfork). A process with other threads gets -EBUSY (Linux would end them first;
 * not done here).
 */
import * as fs from 'node:fs';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { DEFAULT_STACK_LIMIT, VirtualAddressSpace } from '../mm/aspace.ts';
import type { KernelContext } from '../context.ts';
import { EACCES, EFAULT, ENOMEM } from '../errno.ts';
import { ElfError, hostElfSource, parseElfFrom, type ElfImage, type ElfSource } from './elf.ts';
import { fdCloseOnExec, fdTableCwd, fdTableRlimit } from '../fs/fdtable.ts';
import { RLIMIT_STACK } from '../linux-flags.ts';
import { errnoFromNode } from '../fs/hostfs.ts';
import { buildInitialStack, HWCAP_RV64IMAFDC, InitStackError, type AuxValues } from './initstack.ts';
import { H_ICACHE_EPOCH } from '../layout.ts';
import { initBrk, mmap, mprotect, releaseAddressSpace } from '../mm/mmap.ts';
import type { Ctl } from '../layout.ts';
import { COMM_BYTES, P_FLAGS, P_THREADS, PF_EXECED, T_CLEAR_TID, T_COMM, T_ROBUST, THREAD_BYTES } from './layout.ts';
import { fsEnvOf, type FsEnv } from '../fs/sys-fs-env.ts';
import { imageSegments, recordExec, type ArgBounds } from '../fs/procinfo.ts';
import { procOps } from './sys-proc.ts';
import { procLock, procWord, releaseVfork } from './sys-proc-table.ts';
import * as N from '../syscalls-table.ts';
import { argU, NO_RETURN, registerSyscall, type SyscallEnv, type SyscallResult } from '../syscall.ts';
import { copyFromUser, copyToUser, strncpyFromUser } from '../mm/uaccess.ts';
import { inject, INJ } from '../lab/inject.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../mm/abi.ts';

/** Top of the main stack (one page of guard below USER_TOP is not mapped). */
export const STACK_TOP = 0x3f_f000_0000;
/**
 * What exec maps for the main stack beyond the initial stack's pages (Linux's stack_expand in
 * setup_arg_pages, 128 KiB); the region is grows-down, so faults below it extend it up to
 * RLIMIT_STACK (kernel/mm/stack.ts).
 */
export const STACK_EXPAND_BYTES = 128 * 1024;
/** Initial size of the main stack region for a small initial stack (it grows on demand). */
export const DEFAULT_STACK_BYTES = STACK_EXPAND_BYTES + PAGE_SIZE;
const ENOEXEC = 8;
const E2BIG = 7;
const EBUSY = 16;
/** Most argv + envp strings execve takes (Linux bounds them by bytes; this bounds the scan). */
const MAX_STRINGS = 1 << 16;
const PATH_MAX = 4096;
/** Bytes of a segment read from the host file per step (bounds host memory, not the segment). */
const LOAD_CHUNK = 1 << 16;

function check(r: number, what: string): number {
  if (r < 0) throw new Error(`exec: ${what} failed (${r})`);
  return r;
}

const pageDown = (n: number): number => Math.floor(n / PAGE_SIZE) * PAGE_SIZE;
const pageUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** Map [va, va + len) anonymous RW (fixed), copy `bytes` to `at`, then set `prot`. Throws naming `what`. */
export function mapCopy(kctx: KernelContext, as: VirtualAddressSpace, va: number, len: number, at: number, bytes: Uint8Array, prot: number, what: string): void {
  const s = pageDown(va), e = pageUp(va + len);
  if (e <= s) return;
  check(mmap(kctx, as, s, e - s, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), `mmap of ${what}`);
  if (bytes.length) check(copyToUser(kctx, as, at, bytes), `copy of ${what}`);
  if (prot !== (PROT_READ | PROT_WRITE)) check(mprotect(kctx, as, s, e - s, prot), `mprotect of ${what}`);
}

/** Load the PT_LOAD segments of parsed `img` (file bytes `elf`) into empty `as`; the break follows. Throws on failure. */
export function loadElfInto(kctx: KernelContext, as: VirtualAddressSpace, elf: Uint8Array | ElfSource, img: ElfImage): void {
  const src: ElfSource = elf instanceof Uint8Array ? { length: elf.length, read: (o, n) => elf.subarray(o, o + n) } : elf;
  for (const s of img.segments) {
    const what = `segment at ${s.va.toString(16)}`;
    mapCopy(kctx, as, s.va, s.memSize, s.va, new Uint8Array(0), PROT_READ | PROT_WRITE, what);
    for (let done = 0; done < s.fileSize; done += LOAD_CHUNK) { // bounded host memory, whatever the segment
      const piece = src.read(s.fileOffset + done, Math.min(LOAD_CHUNK, s.fileSize - done));
      check(copyToUser(kctx, as, s.va + done, piece), `copy of ${what}`);
    }
    const s0 = pageDown(s.va), e0 = pageUp(s.va + s.memSize);
    if (s.prot !== (PROT_READ | PROT_WRITE)) check(mprotect(kctx, as, s0, e0 - s0, s.prot), `mprotect of ${what}`);
  }
  initBrk(kctx, as, img.brkStart);
}

/** How the main stack is set up: its RLIMIT_STACK and, optionally, a larger initial region. */
export interface StackOptions {
  /** RLIMIT_STACK soft limit in bytes (Infinity = unlimited); default 8 MiB. Bounds growth and the arguments. */
  limit?: number;
  /** Bytes to map at once (at least the initial stack's pages); default those pages + STACK_EXPAND_BYTES. */
  initialBytes?: number;
}

/**
 * Map the main stack of `as` — a grows-down region below STACK_TOP holding the initial stack
 * plus STACK_EXPAND_BYTES (never more than the limit), growing on demand up to `stack.limit`,
 * which becomes the space's stack limit — and build the initial stack; returns sp (and, in
 * `bounds` when given, where the argument and environment strings lie: /proc cmdline, environ). Bumps the
 * icache epoch. Throws InitStackError (E2BIG) when the arguments exceed Linux's limit for
 * that RLIMIT_STACK (a quarter of it), Error on other failures.
 */
export function setUpStack(
  kctx: KernelContext, as: VirtualAddressSpace, argv: readonly (string | Uint8Array)[], envp: readonly (string | Uint8Array)[],
  execfn: string | Uint8Array, aux: Omit<AuxValues, 'hwcap'>, stack: StackOptions = {}, bounds?: ArgBounds,
): number {
  const limit = stack.limit ?? DEFAULT_STACK_LIMIT;
  const random = new Uint8Array(16).map((_, i) => (i * 37 + 11) & 0xff);
  const st = buildInitialStack({ stackTop: STACK_TOP, argv, envp, execfn, random, aux: { ...aux, hwcap: HWCAP_RV64IMAFDC }, rlimitStack: limit });
  const used = pageUp(st.bytes.length);
  const bytes = Math.max(used, stack.initialBytes ?? Math.min(used + STACK_EXPAND_BYTES, pageDown(Math.min(limit, STACK_TOP))));
  as.stackLimit = limit;
  check(mmap(kctx, as, STACK_TOP - bytes, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN), 'mmap of the stack');
  check(copyToUser(kctx, as, st.base, st.bytes), 'copy of the initial stack');
  Atomics.add(kctx.ctl.i32, H_ICACHE_EPOCH, 1); // the kernel wrote the text frames
  if (bounds) Object.assign(bounds, { argStart: st.argStart, argEnd: st.argEnd, envStart: st.envStart, envEnd: st.envEnd });
  return Number(st.sp);
}

/**
 * Set thread `tix`'s comm (T_COMM) from `name`: its base name after the last '/', cut to 15
 * bytes and NUL-terminated, as Linux's __set_task_comm keeps it.
 */
export function setComm(ctl: Ctl, tix: number, name: string | Uint8Array): void {
  const bytes = typeof name === 'string' ? new TextEncoder().encode(name) : name;
  setCommBytes(ctl, tix, bytes.subarray(bytes.lastIndexOf(0x2f) + 1));
}

/** Set thread `tix`'s comm to `bytes` as given (prctl PR_SET_NAME), cut to 15 bytes and NUL-terminated. */
export function setCommBytes(ctl: Ctl, tix: number, bytes: Uint8Array): void {
  const out = new Uint8Array(COMM_BYTES);
  out.set(bytes.subarray(0, COMM_BYTES - 1));
  const w = (ctl.layout.threads + tix * THREAD_BYTES) / 4 + T_COMM;
  ctl.i32.set(new Int32Array(out.buffer), w);
}

/** Thread `tix`'s comm (T_COMM): up to 16 bytes, NUL-terminated unless 15 long. */
export function commOf(ctl: Ctl, tix: number): Uint8Array {
  const w = (ctl.layout.threads + tix * THREAD_BYTES) / 4 + T_COMM;
  return new Uint8Array(ctl.i32.slice(w, w + COMM_BYTES / 4).buffer);
}

/** Called at exec on the calling thread (the signal layer resets handlers to SIG_DFL there). */
export type ExecSignalHook = (env: SyscallEnv) => void;
let execSignalHook: ExecSignalHook = () => {};
/** Install the signal layer's exec reset (per worker, at import time). */
export function setExecSignalHook(fn: ExecSignalHook): void {
  execSignalHook = fn;
}

/** A NULL-terminated user array of string pointers at `va` (NULL va: empty). The strings as bytes, or -errno. */
function userStrings(env: SyscallEnv, va: number): Uint8Array[] | number {
  const out: Uint8Array[] = [];
  if (va === 0) return out;
  for (let i = 0; ; i++) {
    if (i >= MAX_STRINGS) return -E2BIG;
    const p = copyFromUser(env.kctx, env.as, va + 8 * i, 8);
    if (typeof p === 'number') return -EFAULT;
    const ptr = Number(new DataView(p.buffer).getBigUint64(0, true));
    if (ptr === 0) return out;
    const s = strncpyFromUser(env.kctx, env.as, ptr, 32 * PAGE_SIZE);
    if (typeof s === 'number') return s === -EFAULT ? -EFAULT : -E2BIG;
    out.push(Buffer.from(s, 'latin1')); // a byte string: the guest's bytes as they are
  }
}

/** execve(path, argv, envp): NO_RETURN on success (the new program runs), else -errno. */
export function sysExecve(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const kctx = env.kctx;
  const f = fsEnvOf(env);
  if (typeof f === 'number') return f;
  const path = strncpyFromUser(kctx, env.as, argU(a[0]!), PATH_MAX - 1);
  if (typeof path === 'number') return path;
  const argv = userStrings(env, argU(a[1]!));
  if (typeof argv === 'number') return argv;
  const envp = userStrings(env, argU(a[2]!));
  if (typeof envp === 'number') return envp;
  const res = f.root.resolve(path, { base: path.startsWith('/') ? undefined : fdTableCwd(kctx, f.fdt) });
  if (typeof res === 'number') return res;
  let hostFd: number;
  try {
    hostFd = fs.openSync(res.hostPath, 'r');
  } catch (e) {
    return -errnoFromNode(e);
  }
  try {
    return execFile(env, f, hostFd, path, res.guestPath, argv, envp);
  } finally {
    fs.closeSync(hostFd);
  }
}

/** execve past the lookup: `hostFd` is the opened file (the caller closes it). */
function execFile(
  env: SyscallEnv, f: FsEnv, hostFd: number, path: string, exePath: string, argv: Uint8Array[], envp: Uint8Array[],
): SyscallResult {
  const kctx = env.kctx;
  const ops = procOps();
  let src: ElfSource;
  let img: ElfImage;
  let exeDev = 0, exeIno = 0;
  try {
    const st = fs.fstatSync(hostFd);
    if (!st.isFile()) return -EACCES;
    [exeDev, exeIno] = [st.dev, st.ino];
    src = hostElfSource(hostFd, st.size);
    img = parseElfFrom(src);
  } catch (e) {
    if (e instanceof ElfError) return -ENOEXEC;
    return -errnoFromNode(e);
  }
  const pages = img.segments.reduce((n, s) => n + (pageUp(s.va + s.memSize) - pageDown(s.va)) / PAGE_SIZE, 0);
  if (pages > kctx.frames.stats().total) return -ENOMEM;
  const ctl = kctx.ctl;
  if (Atomics.load(ctl.i32, procWord(ctl, ops.currentProc(), P_THREADS)) > 1) return -EBUSY;
  const created = VirtualAddressSpace.create(kctx);
  if (typeof created === 'number') return -ENOMEM; // no slot (-EAGAIN) or no frame: exec's ENOMEM
  let sp: number;
  const bounds: ArgBounds = { argStart: 0, argEnd: 0, envStart: 0, envEnd: 0 };
  try {
    loadElfInto(kctx, created, src, img);
    sp = setUpStack(kctx, created, argv, envp, Buffer.from(path, 'latin1'), {
      phdr: img.phdrVa, phent: img.phent, phnum: img.phnum, entry: img.entry,
    }, { limit: fdTableRlimit(kctx, f.fdt, RLIMIT_STACK)[0] }, bounds);
  } catch (e) {
    releaseAddressSpace(kctx, created);
    return e instanceof InitStackError ? -E2BIG : -ENOMEM;
  }
  // Point of no return.
  inject(ctl, INJ['exec.before-switch']);
  ops.replaceSpace(created);
  const self = ops.currentProc();
  const lock = procLock(kctx);
  lock.lock();
  ctl.i32[procWord(ctl, self, P_FLAGS)]! |= PF_EXECED;
  lock.unlock();
  releaseVfork(ctl, self, (key) => { env.sched.wake(key, Infinity); }); // the old space is the vfork parent's again
  setComm(ctl, ops.currentThread(), new TextEncoder().encode(path));
  recordExec(ctl, self, exePath, bounds, { segments: imageSegments(img.segments), dev: exeDev, ino: exeIno }); // /proc/<pid> (kernel/fs/procinfo.ts)
  fdCloseOnExec(kctx, f.fdt, f.waiter);
  const tw = (ctl.layout.threads + ops.currentThread() * THREAD_BYTES) / 4;
  ctl.f64[(tw + T_CLEAR_TID) / 2] = 0;
  ctl.f64[(tw + T_ROBUST) / 2] = 0;
  execSignalHook(env);
  for (let i = 1; i < 32; i++) env.setReg(i, 0n);
  env.setReg(2, BigInt(sp));
  env.pc = img.entry;
  return NO_RETURN;
}

registerSyscall(N.SYS_execve, 'execve', sysExecve);
