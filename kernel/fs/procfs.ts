/**
 * The virtual trees: /proc (procfs), /dev (device nodes) and /sys (the CPU topology files of
 * sysfs that programs count CPUs with), generated from kernel state, and the /dev/shm mount. docs/procfs.md describes what each file shows.
 *
 * A guest path is looked up component by component by HostRoot.resolve (kernel/fs/hostfs.ts);
 * `procfsLookup` is the VirtualLookup it consults first: for a canonical component list
 * under /proc or /dev it returns the node (a VNode: directory, file, symbolic link or
 * character device), null when the name does not exist there, undefined for everything else
 * (the host's files under --root, and /dev/shm, which is a host directory of the machine's).
 * The tree is never stored: each lookup builds the node from the process table, the fd
 * tables and the address spaces as they are now. A file's content is generated when it is
 * opened (kernel/fs/sys-fs-virt.ts keeps that snapshot for the description, as Linux's
 * seq_file gives one consistent read of a small file); a directory's entries when it is read.
 *
 * Everything is read-only: a root-like single user may read every process's entries.
 */
import type { KernelContext } from '../context.ts';
import type { ByteString, VirtualHit, VirtualLookup } from './hostfs.ts';
import { fdList, fdTableCwd } from './fdtable.ts';
import { ofileKind, ofilePath, ofileHostFd } from './ofile.ts';
import { OK_CHARDEV, OK_HOST_DIR, OK_HOST_FILE, OK_PIPE_READ, OK_PIPE_WRITE, OK_STDIO, OK_VIRT_DIR, OK_VIRT_FILE } from './layout.ts';
import { P_FDT, P_PID, P_STATE, PS_FREE, T_PROC, T_STATE, T_TID, THREAD_BYTES, TS_DEAD, TS_EMBRYO, TS_FREE } from '../proc/layout.ts';
import { procOfPid, procWord } from '../proc/sys-proc-table.ts';
import { procInfoOf } from './procinfo.ts';
import * as G from './procfs-gen.ts';
import * as fs from 'node:fs';

/** Linux dirent d_type values. */
export const DT_DIR = 4, DT_REG = 8, DT_LNK = 10, DT_CHR = 2;
/** Character devices of the "mem" driver (major 1), as Linux numbers them. */
export const MEM_MAJOR = 1;
export const DEV_NULL = 3, DEV_ZERO = 5, DEV_FULL = 7, DEV_RANDOM = 8, DEV_URANDOM = 9;
/** /dev/tty's major (TTYAUX_MAJOR, minor 0). */
export const TTY_MAJOR = 5;
/** st_dev of the virtual trees: procfs and devtmpfs as anonymous devices (major 0). */
export const PROC_DEV = 0x16, DEVTMPFS_DEV = 0x5, SYSFS_DEV = 0x15;

/** Who is asking: a lookup's answers depend on the caller (/proc/self). */
export interface ProcfsCaller {
  readonly kctx: KernelContext;
  readonly pid: number;
  /** Host root directory of the machine (byte string): how a page-cache file's host path becomes a guest path. */
  readonly rootBytes: ByteString;
}

/** One directory entry: name, d_type. */
export type DirEntry = [name: ByteString, type: number];

/** A node of the virtual trees (what resolve's VirtualHit carries, plus how to read it). */
export interface VNode extends VirtualHit {
  /** Inode number (stable for one path). */
  ino: number;
  /** st_dev. */
  dev: number;
  /** Permission bits (the type bits follow from `type`). */
  perm: number;
  /** Directories: their entries now, "." and ".." excluded. */
  entries?: () => DirEntry[];
  /** Files: their content now (a snapshot). */
  content?: () => string | Uint8Array;
  /** Character devices: the major (default MEM_MAJOR) and minor numbers. */
  major?: number;
  minor?: number;
  /** st_nlink. */
  nlink?: number;
  /** A re-opening link (VirtualHit.reopen): the fd table, fd and description it names. */
  object?: { fdt: number; fd: number; ofile: number };
}

/** A stable inode number for virtual path `path` (FNV-1a; procfs inodes are arbitrary on Linux too). */
export function inoOf(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193) >>> 0;
  return h + 0x100; // clear of the low numbers the tree roots use
}

const dir = (path: string, entries: () => DirEntry[], dev = PROC_DEV): VNode =>
  ({ type: 'dir', ino: path === '/proc' ? 1 : inoOf(path), dev, perm: 0o555, entries, nlink: 2 });
const file = (path: string, content: () => string | Uint8Array, perm = 0o444, dev = PROC_DEV): VNode =>
  ({ type: 'file', ino: inoOf(path), dev, perm, content });
const link = (path: string, target: string, dev = PROC_DEV): VNode =>
  ({ type: 'link', ino: inoOf(path), dev, perm: 0o777, target });

/** Live thread slots of process slot `p` (the main thread first: slot order, its tid is the pid). */
export function threadsOf(kctx: KernelContext, p: number): number[] {
  const { i32, layout } = kctx.ctl;
  const out: number[] = [];
  for (let tix = 0; tix < layout.sched.maxThreads; tix++) {
    const w = (layout.threads + tix * THREAD_BYTES) / 4;
    const s = Atomics.load(i32, w + T_STATE);
    if (s !== TS_FREE && s !== TS_DEAD && s !== TS_EMBRYO && i32[w + T_PROC] === p) out.push(tix);
  }
  const pid = i32[procWord(kctx.ctl, p, P_PID)]!;
  return out.sort((a, b) => (tidOf(kctx, a) === pid ? -1 : tidOf(kctx, b) === pid ? 1 : tidOf(kctx, a) - tidOf(kctx, b)));
}
export const tidOf = (kctx: KernelContext, tix: number): number => kctx.ctl.i32[(kctx.ctl.layout.threads + tix * THREAD_BYTES) / 4 + T_TID]!;

/** Pids of every process with a slot (live or zombie), ascending. */
export function allPids(kctx: KernelContext): number[] {
  const { i32, layout } = kctx.ctl;
  const out: number[] = [];
  for (let p = 0; p < layout.sched.maxProcesses; p++) {
    if (Atomics.load(i32, procWord(kctx.ctl, p, P_STATE)) === PS_FREE) continue;
    const pid = i32[procWord(kctx.ctl, p, P_PID)]!;
    if (pid > 0) out.push(pid);
  }
  return out.sort((a, b) => a - b);
}

const isNum = (s: string): boolean => /^[1-9][0-9]{0,9}$/.test(s);

/** What /proc/<pid>/fd/<n> points to (Linux's d_path or the anon_inode / pipe names). */
export function fdLinkTarget(kctx: KernelContext, id: number): string {
  const k = ofileKind(kctx, id);
  switch (k) {
    case OK_HOST_FILE: case OK_HOST_DIR: case OK_VIRT_FILE: case OK_VIRT_DIR: return ofilePath(kctx, id);
    case OK_PIPE_READ: case OK_PIPE_WRITE: return `pipe:[${ofileHostFd(kctx, id) + 1}]`; // the st_ino fstat gives a pipe
    case OK_CHARDEV: return `/dev/${DEV_NAMES.get(ofileHostFd(kctx, id)) ?? 'null'}`;
    case OK_STDIO: { // what the host's own /proc says of its fd, when it names a device or a pipe
      try {
        const host = fs.readlinkSync(`/proc/self/fd/${ofileHostFd(kctx, id)}`);
        if (/^(\/dev\/|pipe:\[|socket:\[)/.test(host)) return host;
      } catch { /* not a Linux host */ }
      try {
        const st = fs.fstatSync(ofileHostFd(kctx, id));
        if (st.isFIFO()) return `pipe:[${st.ino}]`;
        if (st.isSocket()) return `socket:[${st.ino}]`;
        if (st.isCharacterDevice()) return '/dev/pts/0';
      } catch { /* fall through */ }
      return 'anon_inode:[stdio]';
    }
    default: return `anon_inode:[${k}]`;
  }
}

const DEV_NAMES = new Map<number, string>([[DEV_NULL, 'null'], [DEV_ZERO, 'zero'], [DEV_FULL, 'full'], [DEV_RANDOM, 'random'], [DEV_URANDOM, 'urandom']]);

/** /dev: the mem devices, the fd links, and the shm directory (a host mount: not a node here). */
function devNode(c: readonly string[]): VNode | null | undefined {
  if (c.length === 1) {
    return dir('/dev', () => [
      ['fd', DT_LNK], ['full', DT_CHR], ['null', DT_CHR], ['random', DT_CHR], ['shm', DT_DIR], ['stderr', DT_LNK], ['stdin', DT_LNK],
      ['stdout', DT_LNK], ['tty', DT_CHR], ['urandom', DT_CHR], ['zero', DT_CHR],
    ], DEVTMPFS_DEV);
  }
  const name = c[1]!;
  if (name === 'shm') return undefined; // the machine's shm directory on the host (HostRoot.mount)
  if (c.length > 2) return null;
  for (const [minor, n] of DEV_NAMES) {
    if (n === name) return { type: 'dev', ino: inoOf('/dev/' + n), dev: DEVTMPFS_DEV, perm: 0o666, minor };
  }
  // The controlling terminal's node exists, but no process here has one: open is ENXIO, as on Linux.
  if (name === 'tty') return { type: 'dev', ino: inoOf('/dev/tty'), dev: DEVTMPFS_DEV, perm: 0o666, major: TTY_MAJOR, minor: 0 };
  const links: Record<string, string> = { fd: '/proc/self/fd', stdin: '/proc/self/fd/0', stdout: '/proc/self/fd/1', stderr: '/proc/self/fd/2' };
  if (name in links) return link('/dev/' + name, links[name]!, DEVTMPFS_DEV);
  return null;
}

const PROC_TOP: Record<string, (k: ProcfsCaller) => string> = {
  cpuinfo: G.cpuinfo, meminfo: G.meminfo, stat: G.procStat, uptime: G.uptime, loadavg: G.loadavg, mounts: G.mounts,
  version: G.version,
};
const SYS: Record<string, Record<string, (k: ProcfsCaller) => string>> = {
  kernel: { pid_max: () => `${G.PID_MAX}\n`, ostype: () => 'Linux\n', osrelease: G.osrelease },
  vm: { overcommit_memory: () => '0\n', max_map_count: (k) => `${k.kctx.ctl.layout.vm.regionsPerSpace}\n` },
};

/** Files of /proc/<pid>/ and of /proc/<pid>/task/<tid>/ (the latter: `task` set). */
const PID_FILES = ['cmdline', 'comm', 'environ', 'maps', 'stat', 'statm', 'status'];
const PID_LINKS = ['cwd', 'exe', 'root'];
const PID_DIRS = ['fd', 'task'];
const TASK_FILES = ['comm', 'stat', 'status'];

/** The node for /proc/<pid>/rest (p: the process slot). */
function pidNode(k: ProcfsCaller, p: number, pid: number, rest: readonly string[]): VNode | null {
  const kctx = k.kctx;
  const at = `/proc/${pid}`;
  if (rest.length === 0) {
    return dir(at, () => [
      ...PID_DIRS.map((n): DirEntry => [n, DT_DIR]), ...PID_FILES.map((n): DirEntry => [n, DT_REG]), ...PID_LINKS.map((n): DirEntry => [n, DT_LNK]),
    ].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  }
  const name = rest[0]!;
  const fdt = kctx.ctl.i32[procWord(kctx.ctl, p, P_FDT)]!;
  if (name === 'fd') {
    if (rest.length === 1) return dir(`${at}/fd`, () => (fdt < 0 ? [] : fdList(kctx, fdt).map(([fd]): DirEntry => [String(fd), DT_LNK])));
    if (rest.length > 2 || !/^(0|[1-9][0-9]*)$/.test(rest[1]!) || fdt < 0) return null;
    const e = fdList(kctx, fdt).find(([fd]) => String(fd) === rest[1]);
    if (!e) return null;
    const target = fdLinkTarget(kctx, e[1]);
    // A path is followed as any link; a pipe or the host's stdio is re-opened as the object itself.
    const k = ofileKind(kctx, e[1]);
    const object = k === OK_PIPE_READ || k === OK_PIPE_WRITE || k === OK_STDIO ? { reopen: true, object: { fdt, fd: e[0], ofile: e[1] } } : {};
    return { ...link(`${at}/fd/${rest[1]}`, target), perm: 0o700, ...object };
  }
  if (name === 'task') {
    const tids = threadsOf(kctx, p).map((t) => tidOf(kctx, t));
    if (rest.length === 1) return dir(`${at}/task`, () => tids.map((t): DirEntry => [String(t), DT_DIR]));
    const tid = Number(rest[1]);
    const tix = threadsOf(kctx, p).find((t) => tidOf(kctx, t) === tid);
    if (!isNum(rest[1]!) || tix === undefined) return null;
    const tat = `${at}/task/${tid}`;
    if (rest.length === 2) return dir(tat, () => TASK_FILES.map((n): DirEntry => [n, DT_REG]));
    if (rest.length > 3 || !TASK_FILES.includes(rest[2]!)) return null;
    return file(`${tat}/${rest[2]}`, () => G.pidFile(k, p, rest[2]!, tix));
  }
  if (rest.length > 1) return null;
  if (PID_FILES.includes(name)) return file(`${at}/${name}`, () => G.pidFile(k, p, name, -1), name === 'environ' ? 0o400 : 0o444);
  if (name === 'exe') {
    const exe = procInfoOf(kctx.ctl, p).exe;
    return exe ? link(`${at}/exe`, exe) : null;
  }
  if (name === 'cwd') return fdt < 0 ? null : link(`${at}/cwd`, fdTableCwd(kctx, fdt));
  if (name === 'root') return link(`${at}/root`, '/');
  return null;
}

/**
 * /sys: devices/system/cpu with `online`, `possible` and `present` ("0-N": every hart, as
 * sysconf(_SC_NPROCESSORS_ONLN) and tools such as stress-ng and nproc read them) and one
 * directory per hart (cpu0 ...). Nothing else of sysfs exists.
 */
function sysNode(k: ProcfsCaller, c: readonly string[]): VNode | null {
  const cpus = k.kctx.ctl.layout.cpus;
  const path = '/' + c.join('/');
  const spine = ['sys', 'devices', 'system', 'cpu'];
  for (let i = 0; i < Math.min(c.length, spine.length); i++) if (c[i] !== spine[i]) return null;
  if (c.length < spine.length) return dir(path, () => [[spine[c.length]!, DT_DIR]], SYSFS_DEV);
  const range = `${cpus === 1 ? '0' : `0-${cpus - 1}`}\n`;
  const files = ['online', 'possible', 'present'];
  const harts = Array.from({ length: cpus }, (_, h) => `cpu${h}`);
  if (c.length === 4) {
    return dir(path, () => [...harts.map((n): DirEntry => [n, DT_DIR]), ...files.map((n): DirEntry => [n, DT_REG])], SYSFS_DEV);
  }
  const name = c[4]!;
  if (c.length === 5 && files.includes(name)) return file(path, () => range, 0o444, SYSFS_DEV);
  if (c.length === 5 && harts.includes(name)) return dir(path, () => [], SYSFS_DEV);
  return null;
}

/** The node for the canonical components `c` (c[0] is "proc", "dev" or "sys"), see the header. */
export function procfsNode(k: ProcfsCaller, c: readonly string[]): VNode | null | undefined {
  if (c[0] === 'dev') return devNode(c);
  if (c[0] === 'sys') return sysNode(k, c);
  if (c[0] !== 'proc') return undefined;
  if (c.length === 1) {
    return dir('/proc', () => [
      ...allPids(k.kctx).map((pid): DirEntry => [String(pid), DT_DIR]),
      ...Object.keys(PROC_TOP).map((n): DirEntry => [n, DT_REG]), ['self', DT_LNK], ['sys', DT_DIR],
    ]);
  }
  const name = c[1]!;
  if (name === 'self') return c.length === 2 ? link('/proc/self', String(k.pid)) : null; // followed by resolve before deeper names
  if (name === 'sys') {
    if (c.length === 2) return dir('/proc/sys', () => Object.keys(SYS).map((n): DirEntry => [n, DT_DIR]));
    const group = SYS[c[2]!];
    if (!group || !Object.hasOwn(SYS, c[2]!)) return null;
    if (c.length === 3) return dir(`/proc/sys/${c[2]}`, () => Object.keys(group).map((n): DirEntry => [n, DT_REG]));
    const gen = Object.hasOwn(group, c[3]!) ? group[c[3]!] : undefined;
    return c.length === 4 && gen ? file(`/proc/sys/${c[2]}/${c[3]}`, () => gen(k), 0o644) : null;
  }
  if (Object.hasOwn(PROC_TOP, name)) return c.length === 2 ? file(`/proc/${name}`, () => PROC_TOP[name]!(k)) : null;
  if (!isNum(name)) return null;
  const p = procOfPid(k.kctx.ctl, Number(name));
  if (p < 0) return null;
  return pidNode(k, p, Number(name), c.slice(2));
}

/** The VirtualLookup for resolve, answering for caller `k` (cheap for paths outside /proc, /dev and /sys). */
export function procfsLookup(k: ProcfsCaller): VirtualLookup {
  return (c) => (c[0] === 'proc' || c[0] === 'dev' || c[0] === 'sys' ? procfsNode(k, c) : undefined);
}

/** The node at canonical guest path `guestPath` (a directory a description names), or null. */
export function procfsNodeAt(k: ProcfsCaller, guestPath: string): VNode | null {
  const c = guestPath.split('/').filter((s) => s !== '');
  return procfsNode(k, c) ?? null;
}
