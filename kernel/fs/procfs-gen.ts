/**
 * The content of each /proc file, generated from kernel state in Linux's exact text format
 * (fs/proc/array.c for stat and status, fs/proc/task_mmu.c show_map_vma for maps,
 * fs/proc/meminfo.c, arch/riscv/kernel/cpu.c for cpuinfo, fs/proc/stat.c, uptime.c,
 * loadavg.c). Figures the emulator does not keep (CPU times, page-fault counts, peak sizes)
 * are shown as Linux shows an idle or fresh process: 0, or the current value for a peak.
 * docs/procfs.md lists them. Called by kernel/fs/procfs.ts when a file is opened.
 */
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { realtimeMs } from '../../cpu/vclock.ts';
import type { KernelContext } from '../context.ts';
import { VirtualAddressSpace } from '../mm/aspace.ts';
import { F_DEV, F_FLAGS, F_INO, F_PATH_BYTE, F_PATH_LEN, FF_ANON, FILE_BYTES, RF_GROWSDOWN, RF_HEAP, RF_SHARED } from '../mm/layout.ts';
import { releaseAddressSpace } from '../mm/mmap.ts';
import { cachedPageCount } from '../mm/pagecache.ts';
import { findLeaf, found, isResident } from '../mm/pagetable.ts';
import { copyFromUser } from '../mm/uaccess.ts';
import { PROT_EXEC, PROT_READ, PROT_WRITE } from '../linux-flags.ts';
import {
  COMM_BYTES, P_CPU_CHILD_S, P_CPU_CHILD_U, P_EXIT, P_EXIT_SIGNAL, P_FDT, P_PARENT, P_PGID, P_PID, P_SID, P_STATE, PS_ZOMBIE, SH_NEXT_TID,
  T_COMM, T_LAST_HART, T_STATE, T_SWITCHES, THREAD_BYTES, TS_BLOCKED, TS_READY, TS_RUNNING,
} from '../proc/layout.ts';
import { holdProcSpace, procWord } from '../proc/sys-proc-table.ts';
import { processCpuNs, threadCpuNs } from '../proc/cputime.ts';
import { niceOf } from '../proc/sys-priority.ts';
import { SignalState } from '../signal/state.ts';
import { NSIG, SIG_DFL, SIG_IGN } from '../signal/signals.ts';
import { UTS_RELEASE, UTS_VERSION } from '../proc/sys-info.ts';
import { fdList, fdTableUmask } from './fdtable.ts';
import { nowUs, procInfoOf, type ProcInfo } from './procinfo.ts';
import { threadsOf, tidOf, type ProcfsCaller } from './procfs.ts';

/** /proc/sys/kernel/pid_max: Linux's value for 64-bit machines (PID_MAX_LIMIT). */
export const PID_MAX = 4194304;
/** USER_HZ: the clock-tick unit of stat's times (AT_CLKTCK). */
const USER_HZ = 100;
const kB = (pages: number): number => (pages * PAGE_SIZE) / 1024;
const pad8 = (n: number): string => String(n).padStart(8, ' ');

// ---- machine-wide files ----

/** /proc/cpuinfo: one block per hart, as arch/riscv/kernel/cpu.c c_show prints it. */
export function cpuinfo(k: ProcfsCaller): string {
  let out = '';
  for (let h = 0; h < k.kctx.ctl.layout.cpus; h++) {
    out += `processor\t: ${h}\nhart\t\t: ${h}\nisa\t\t: rv64imafdc_zicsr_zifencei\nmmu\t\t: sv48\n` +
      'mvendorid\t: 0x0\nmarchid\t\t: 0x0\nmimpid\t\t: 0x0\n\n';
  }
  return out;
}

/** /proc/meminfo: totals from the frame allocator and the page cache (fs/proc/meminfo.c's lines and widths). */
export function meminfo(k: ProcfsCaller): string {
  const st = k.kctx.frames.stats();
  const cached = cachedPageCount(k.kctx);
  const lines: Array<[string, number]> = [
    ['MemTotal', kB(st.total)], ['MemFree', kB(st.free)], ['MemAvailable', kB(st.free + cached)], ['Buffers', 0],
    ['Cached', kB(cached)], ['SwapCached', 0], ['Active', 0], ['Inactive', kB(cached)], ['Active(anon)', 0],
    ['Inactive(anon)', 0], ['Active(file)', 0], ['Inactive(file)', kB(cached)], ['Unevictable', 0], ['Mlocked', 0],
    ['SwapTotal', 0], ['SwapFree', 0], ['Dirty', 0], ['Writeback', 0], ['AnonPages', kB(Math.max(0, st.inUse - cached))],
    ['Mapped', 0], ['Shmem', 0], ['KReclaimable', 0], ['Slab', 0], ['SReclaimable', 0], ['SUnreclaim', 0],
    ['KernelStack', 0], ['PageTables', 0], ['NFS_Unstable', 0], ['Bounce', 0], ['WritebackTmp', 0],
    ['CommitLimit', kB(st.total)], ['Committed_AS', kB(st.inUse)], ['VmallocTotal', 0], ['VmallocUsed', 0],
    ['VmallocChunk', 0], ['Percpu', 0], ['HugePages_Total', -1], ['HugePages_Free', -1], ['HugePages_Rsvd', -1],
    ['HugePages_Surp', -1], ['Hugepagesize', 2048], ['Hugetlb', 0],
  ];
  // show_val_kb: a 16-character label ("MemTotal:       "), "%8lu kB"; hugetlb_report_meminfo's counts "%-19s%5lu".
  return lines.map(([n, v]) => (v < 0 ? `${(n + ':').padEnd(19)}${String(0).padStart(5)}\n` : `${(n + ':').padEnd(16)}${pad8(v)} kB\n`)).join('');
}

/** Seconds and hundredths, as "%lu.%02lu". */
const secs = (us: number): string => `${Math.floor(us / 1e6)}.${String(Math.floor((us % 1e6) / 1e4)).padStart(2, '0')}`;

/** /proc/uptime: uptime and idle time (the sum over harts; not measured: 0). */
export function uptime(): string {
  return `${secs(nowUs())} 0.00\n`;
}

/** Threads in each state machine-wide: [runnable, all]. */
function threadCounts(kctx: KernelContext): [number, number] {
  const { i32, layout } = kctx.ctl;
  let run = 0, all = 0;
  for (let t = 0; t < layout.sched.maxThreads; t++) {
    const s = Atomics.load(i32, (layout.threads + t * THREAD_BYTES) / 4 + T_STATE);
    if (s === TS_READY || s === TS_RUNNING) run++;
    if (s === TS_READY || s === TS_RUNNING || s === TS_BLOCKED) all++;
  }
  return [run, all];
}

/** /proc/loadavg: no load average is kept (0.00); runnable/all threads; the last pid handed out. */
export function loadavg(k: ProcfsCaller): string {
  const [run, all] = threadCounts(k.kctx);
  const last = Atomics.load(k.kctx.ctl.i32, k.kctx.ctl.layout.schedHeader / 4 + SH_NEXT_TID);
  return `0.00 0.00 0.00 ${run}/${all} ${last}\n`;
}

/** /proc/stat: per-hart time lines (not measured: 0), context switches, boot time, process counts. */
export function procStat(k: ProcfsCaller): string {
  const { i32, layout } = k.kctx.ctl;
  const zero = ' 0 0 0 0 0 0 0 0 0 0';
  let out = `cpu ${zero}\n`;
  for (let h = 0; h < layout.cpus; h++) out += `cpu${h}${zero}\n`;
  let ctxt = 0;
  for (let t = 0; t < layout.sched.maxThreads; t++) ctxt += i32[(layout.threads + t * THREAD_BYTES) / 4 + T_SWITCHES]! >>> 0;
  const [run] = threadCounts(k.kctx);
  const btime = Math.floor(realtimeMs() / 1000 - nowUs() / 1e6);
  const forks = Atomics.load(i32, layout.schedHeader / 4 + SH_NEXT_TID);
  return out + `intr 0\nctxt ${ctxt}\nbtime ${btime}\nprocesses ${forks}\nprocs_running ${run}\nprocs_blocked 0\n` +
    'softirq 0 0 0 0 0 0 0 0 0 0 0\n';
}

/** /proc/mounts: the host root, procfs, devtmpfs and the /dev/shm tmpfs. */
export function mounts(): string {
  return 'hostfs / hostfs rw,relatime 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n' +
    'sysfs /sys sysfs ro,nosuid,nodev,noexec,relatime 0 0\n' +
    'devtmpfs /dev devtmpfs rw,nosuid,relatime,mode=755 0 0\ntmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n';
}

export const osrelease = (): string => `${UTS_RELEASE}\n`;
/** /proc/version. */
export const version = (): string => `Linux version ${UTS_RELEASE} (coherent@coherent) (TypeScript) ${UTS_VERSION}\n`;

// ---- per process ----

/** What one pass over a process's address space found. */
interface SpaceFacts {
  maps: string;
  /** Pages mapped, resident; resident in file-backed / shared-anonymous regions; by kind. */
  size: number;
  rss: number;
  rssFile: number;
  rssShmem: number;
  data: number;
  stack: number;
  exec: number;
  startCode: number;
  endCode: number;
  startStack: number;
  brkStart: number;
}

const hex = (n: number, w = 8): string => n.toString(16).padStart(w, '0');
/** Linux's MAJOR/MINOR of a (new-style) dev_t. */
const major = (d: number): number => Number((BigInt(d) >> 8n) & 0xfffn) | Number((BigInt(d) >> 32n) & ~0xfffn);
const minor = (d: number): number => Number(BigInt(d) & 0xffn) | Number((BigInt(d) >> 12n) & ~0xffn);

/** Resident pages of [vpn, end) in `as`. */
function residentIn(kctx: KernelContext, as: VirtualAddressSpace, vpn: number, end: number): number {
  let n = 0;
  for (let v = vpn; v < end;) {
    if (findLeaf(kctx, as.rootPpn, v) >= 0 && isResident(found.lo)) {
      const pages = found.level === 1 ? 512 - (v % 512) : 1;
      n += Math.min(pages, end - v);
      v += pages;
    } else v++;
  }
  return n;
}

/** The guest name of page-cache file `file` (its host path under the root), its dev and ino. */
function fileIdentity(k: ProcfsCaller, file: number): [name: string, dev: number, ino: number, anon: boolean] {
  const { i32, f64, layout, sab } = k.kctx.ctl;
  const w = (layout.files + (file - 1) * FILE_BYTES) / 4;
  if (i32[w + F_FLAGS]! & FF_ANON) return ['/dev/zero (deleted)', 1, file, true]; // shared anonymous memory, as Linux names it
  const host = Buffer.from(new Uint8Array(sab, w * 4 + F_PATH_BYTE, i32[w + F_PATH_LEN]!)).toString('latin1');
  const root = k.rootBytes.endsWith('/') ? k.rootBytes : k.rootBytes + '/';
  const name = host.startsWith(root) ? '/' + host.slice(root.length) : host.includes('/coherent-shm-') ? '/dev/shm/' + host.slice(host.lastIndexOf('/') + 1) : host;
  return [name, f64[(w + F_DEV) / 2]!, f64[(w + F_INO) / 2]!, false];
}

/**
 * [start, end) cut at the program's image segments: [from, to, file offset] for each piece
 * inside one (named by the executable), [from, to, -1] for the pieces outside.
 */
function imagePieces(info: ProcInfo, start: number, end: number): Array<readonly [number, number, number]> {
  const out: Array<readonly [number, number, number]> = [];
  let at = start;
  for (const g of [...info.segments].sort((x, y) => x.start - y.start)) {
    if (g.end <= at || g.start >= end) continue;
    if (g.start > at) out.push([at, g.start, -1]);
    const s = Math.max(at, g.start), e = Math.min(end, g.end);
    out.push([s, e, g.offset + (s - g.start)]);
    at = e;
  }
  if (at < end) out.push([at, end, -1]);
  return out;
}


/** Walk process slot `p`'s regions holding its mmap lock shared; null for a zombie or a vanished space. */
function spaceFacts(k: ProcfsCaller, p: number): SpaceFacts | null {
  const kctx = k.kctx;
  const ctl = kctx.ctl;
  const as = holdProcSpace(kctx, p);
  if (!as) return null;
  try {
    const info = procInfoOf(ctl, p);
    return as.lock.withRead(() => {
      const f: SpaceFacts = { maps: '', size: 0, rss: 0, rssFile: 0, rssShmem: 0, data: 0, stack: 0, exec: 0, startCode: 0, endCode: 0, startStack: 0, brkStart: as.brkStart };
      const lines: string[] = [];
      for (const r of as.regions.all()) {
        const start = r.start * PAGE_SIZE, end = (r.start + r.npages) * PAGE_SIZE;
        const res = residentIn(kctx, as, r.start, r.start + r.npages);
        f.size += r.npages;
        f.rss += res;
        let name = '', dev = 0, ino = 0;
        if (r.file !== 0) {
          const [n, d, i, anon] = fileIdentity(k, r.file);
          [name, dev, ino] = [n, d, i];
          if (anon) f.rssShmem += res; else f.rssFile += res;
        }
        if (r.flags & RF_HEAP) name = '[heap]';
        else if (r.flags & RF_GROWSDOWN && info.argStart >= start && info.argStart < end) {
          name = '[stack]';
          f.startStack = info.argStart;
        }
        if (r.flags & RF_GROWSDOWN) f.stack += r.npages;
        else if (r.prot & PROT_EXEC) {
          f.exec += r.npages;
          if (f.startCode === 0) [f.startCode, f.endCode] = [start, end];
        } else if (r.prot & PROT_WRITE && !(r.flags & RF_SHARED)) f.data += r.npages;
        const perms = (r.prot & PROT_READ ? 'r' : '-') + (r.prot & PROT_WRITE ? 'w' : '-') + (r.prot & PROT_EXEC ? 'x' : '-') + (r.flags & RF_SHARED ? 's' : 'p');
        // The program's segments were copied in, not mapped from its file: show the parts that
        // hold file bytes as Linux's ELF loader maps them — named by the executable, with the
        // file offset — and the rest (bss) as anonymous memory.
        const pieces = r.file === 0 && !name ? imagePieces(info, start, end) : [[start, end, -1] as const];
        for (const [a, b, off] of pieces) {
          const named = off >= 0;
          const [pd, pi, pn, po] = named ? [info.dev, info.ino, info.exe, off] : [dev, ino, name, r.file !== 0 ? r.pgoff * PAGE_SIZE + (a - start) : 0];
          // show_vma_header_prefix: "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ", then the name padded to column 73.
          const head = `${hex(a)}-${hex(b)} ${perms} ${hex(po)} ${hex(major(pd), 2)}:${hex(minor(pd), 2)} ${pi} `;
          lines.push(pn ? head.padEnd(72) + ' ' + pn : head);
        }
      }
      f.maps = lines.map((l) => l + '\n').join('');
      return f;
    });
  } finally {
    releaseAddressSpace(kctx, as);
  }
}

/** Bytes [from, to) of process slot `p`'s memory (cmdline, environ): '' when it is gone or unreadable. */
function userBytes(k: ProcfsCaller, p: number, from: number, to: number): Uint8Array {
  const kctx = k.kctx;
  const ctl = kctx.ctl;
  if (to <= from) return new Uint8Array(0);
  const as = holdProcSpace(kctx, p);
  if (!as) return new Uint8Array(0);
  try {
    const b = copyFromUser(kctx, as, from, Math.min(to - from, 1 << 20));
    return typeof b === 'number' ? new Uint8Array(0) : b;
  } finally {
    releaseAddressSpace(kctx, as);
  }
}

/** A task's signal sets, bit (s - 1) for signal s: pending (thread, shared), blocked, ignored, caught. */
interface SigSets { pnd: bigint; shd: bigint; blk: bigint; ign: bigint; cgt: bigint }

/** The signal sets of process slot `p` as thread `tix` sees them (under the process's signal lock); zeros for a zombie. */
function sigSets(kctx: KernelContext, p: number, tix: number): SigSets {
  const out: SigSets = { pnd: 0n, shd: 0n, blk: 0n, ign: 0n, cgt: 0n };
  if (tix < 0 || Atomics.load(kctx.ctl.i32, procWord(kctx.ctl, p, P_STATE)) === PS_ZOMBIE) return out;
  const st = new SignalState(kctx.ctl, kctx.whileWaiting);
  st.withProc(p, () => {
    st.claimThread(tix);
    out.pnd = st.threadPending(tix);
    out.shd = st.procPending(p);
    out.blk = st.blocked(tix);
    for (let sig = 1; sig <= NSIG; sig++) {
      const h = st.action(p, sig).handler;
      if (h === SIG_IGN) out.ign |= 1n << BigInt(sig - 1);
      else if (h !== SIG_DFL) out.cgt |= 1n << BigInt(sig - 1);
    }
  });
  return out;
}
const sigHex = (m: bigint): string => m.toString(16).padStart(16, '0');

/** comm of thread slot `tix` (up to 15 bytes). */
function commOf(kctx: KernelContext, tix: number): string {
  const w = (kctx.ctl.layout.threads + tix * THREAD_BYTES) / 4 + T_COMM;
  const b = new Uint8Array(kctx.ctl.i32.slice(w, w + COMM_BYTES / 4).buffer);
  const n = b.indexOf(0);
  return Buffer.from(b.subarray(0, n < 0 ? COMM_BYTES - 1 : n)).toString('latin1');
}

/** Linux's state letter and name of a task. */
function stateOf(kctx: KernelContext, p: number, tix: number): [string, string] {
  if (Atomics.load(kctx.ctl.i32, procWord(kctx.ctl, p, P_STATE)) === PS_ZOMBIE) return ['Z', 'zombie'];
  const s = tix < 0 ? TS_BLOCKED : Atomics.load(kctx.ctl.i32, (kctx.ctl.layout.threads + tix * THREAD_BYTES) / 4 + T_STATE);
  return s === TS_READY || s === TS_RUNNING ? ['R', 'running'] : ['S', 'sleeping'];
}

/** /proc/<pid>/<name> and /proc/<pid>/task/<tid>/<name> (`tix` the thread, -1: the process, shown by its main thread). */
export function pidFile(k: ProcfsCaller, p: number, name: string, tix: number): string | Uint8Array {
  const kctx = k.kctx;
  const ctl = kctx.ctl;
  const word = (f: number): number => ctl.i32[procWord(ctl, p, f)]!;
  const threads = threadsOf(kctx, p);
  const t = tix >= 0 ? tix : threads[0] ?? -1;
  const info = procInfoOf(ctl, p);
  switch (name) {
    case 'comm': return (t >= 0 ? commOf(kctx, t) : '') + '\n';
    case 'cmdline': return userBytes(k, p, info.argStart, info.argEnd);
    case 'environ': return userBytes(k, p, info.envStart, info.envEnd);
    case 'maps': return spaceFacts(k, p)?.maps ?? '';
    case 'statm': {
      const f = spaceFacts(k, p);
      return f ? `${f.size} ${f.rss} ${f.rssFile + f.rssShmem} ${f.exec} 0 ${f.data + f.stack} 0\n` : '0 0 0 0 0 0 0\n';
    }
    case 'stat': return statLine(k, p, t, tix >= 0 ? tidOf(kctx, tix) : word(P_PID), threads.length, info.startUs, tix >= 0);
    case 'status': return status(k, p, t, tix >= 0 ? tidOf(kctx, tix) : word(P_PID), threads.length);
    default: return '';
  }
}

/** utime, stime, cutime, cstime in clock ticks: of thread `tix` (a task's stat) or of process `p` (tix < 0), and its reaped children's. */
function cpuTicks(kctx: KernelContext, p: number, tix: number): number[] {
  const [u, s] = tix >= 0 ? threadCpuNs(kctx.ctl, tix) : processCpuNs(kctx, p);
  const f64 = kctx.ctl.f64;
  const cu = f64[procWord(kctx.ctl, p, P_CPU_CHILD_U) / 2]!, cs = f64[procWord(kctx.ctl, p, P_CPU_CHILD_S) / 2]!;
  return [u, s, cu, cs].map((ns) => Math.floor((ns * USER_HZ) / 1e9));
}

/** /proc/<pid>/stat (`task`: /proc/<pid>/task/<tid>/stat): the 52 fields of fs/proc/array.c do_task_stat. */
function statLine(k: ProcfsCaller, p: number, tix: number, id: number, nthreads: number, startUs: number, task: boolean): string {
  const kctx = k.kctx;
  const word = (f: number): number => kctx.ctl.i32[procWord(kctx.ctl, p, f)]!;
  const [state] = stateOf(kctx, p, tix);
  const f = spaceFacts(k, p);
  const info = procInfoOf(kctx.ctl, p);
  const zombie = state === 'Z';
  const sig = sigSets(kctx, p, tix);
  const exitCode = zombie ? word(P_EXIT) : 0;
  const nice = tix >= 0 ? niceOf(kctx.ctl, tix) : 0; // the thread's (for a process: its first thread's, as Linux's leader)
  const fields: Array<number | string> = [
    id, `(${tix >= 0 ? commOf(kctx, tix) : ''})`, state, word(P_PARENT), word(P_PGID), word(P_SID),
    0, -1, 4194304, 0, 0, 0, 0, // tty_nr, tpgid, flags (PF_RANDOMIZE), minflt, cminflt, majflt, cmajflt
    ...cpuTicks(kctx, p, task ? tix : -1), 20 + nice, nice, nthreads, 0, Math.floor((startUs * USER_HZ) / 1e6), // utime stime cutime cstime priority nice threads itreal starttime
    (f?.size ?? 0) * PAGE_SIZE, f?.rss ?? 0, '18446744073709551615', // vsize (bytes), rss (pages), rsslim
    zombie ? 0 : f?.startCode ?? 0, zombie ? 0 : f?.endCode ?? 0, zombie ? 0 : f?.startStack ?? 0, 0, 0, // startcode endcode startstack kstkesp kstkeip
    String(sig.pnd | sig.shd), String(sig.blk), String(sig.ign), String(sig.cgt), 0, 0, 0, word(P_EXIT_SIGNAL), tix >= 0 ? Math.max(0, kctx.ctl.i32[(kctx.ctl.layout.threads + tix * THREAD_BYTES) / 4 + T_LAST_HART]!) : 0,
    0, 0, 0, 0, 0, // rt_priority policy delayacct_blkio_ticks guest_time cguest_time
    0, 0, zombie ? 0 : f?.brkStart ?? 0, info.argStart, info.argEnd, info.envStart, info.envEnd, exitCode,
  ];
  return fields.join(' ') + '\n';
}

/** /proc/<pid>/status: fs/proc/array.c proc_pid_status's lines. */
function status(k: ProcfsCaller, p: number, tix: number, id: number, nthreads: number): string {
  const kctx = k.kctx;
  const word = (f: number): number => kctx.ctl.i32[procWord(kctx.ctl, p, f)]!;
  const [letter, sname] = stateOf(kctx, p, tix);
  const fdt = word(P_FDT);
  const umask = fdt >= 0 ? fdTableUmask(kctx, fdt, null) : 0o22;
  const fdSize = fdt >= 0 ? Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(1, ...fdList(kctx, fdt).map(([fd]) => fd + 1))))) : 0;
  const pid = word(P_PID);
  const f = spaceFacts(k, p);
  const vm = (n: string, pages: number): string => `${n}:\t${pad8(kB(pages))} kB\n`;
  const cpus = kctx.ctl.layout.cpus;
  const lines = [
    `Name:\t${tix >= 0 ? commOf(kctx, tix) : ''}\n`, `Umask:\t${umask.toString(8).padStart(4, '0')}\n`, `State:\t${letter} (${sname})\n`,
    `Tgid:\t${pid}\n`, 'Ngid:\t0\n', `Pid:\t${id}\n`, `PPid:\t${word(P_PARENT)}\n`, 'TracerPid:\t0\n', 'Uid:\t0\t0\t0\t0\n',
    'Gid:\t0\t0\t0\t0\n', `FDSize:\t${fdSize}\n`, 'Groups:\t\n', `NStgid:\t${pid}\n`, `NSpid:\t${id}\n`, `NSpgid:\t${word(P_PGID)}\n`,
    `NSsid:\t${word(P_SID)}\n`,
  ];
  if (f) {
    lines.push(vm('VmPeak', f.size), vm('VmSize', f.size), vm('VmLck', 0), vm('VmPin', 0), vm('VmHWM', f.rss), vm('VmRSS', f.rss),
      vm('RssAnon', f.rss - f.rssFile - f.rssShmem), vm('RssFile', f.rssFile), vm('RssShmem', f.rssShmem), vm('VmData', f.data),
      vm('VmStk', f.stack), vm('VmExe', f.exec), vm('VmLib', 0), vm('VmPTE', 0), vm('VmSwap', 0));
  }
  const mask = (BigInt(1) << BigInt(cpus)) - 1n;
  const sig = sigSets(kctx, p, tix);
  lines.push(`Threads:\t${nthreads}\n`, 'SigQ:\t0/15000\n', `SigPnd:\t${sigHex(sig.pnd)}\n`, `ShdPnd:\t${sigHex(sig.shd)}\n`,
    `SigBlk:\t${sigHex(sig.blk)}\n`, `SigIgn:\t${sigHex(sig.ign)}\n`, `SigCgt:\t${sigHex(sig.cgt)}\n`, 'CapInh:\t0000000000000000\n',
    'CapPrm:\t000001ffffffffff\n', 'CapEff:\t000001ffffffffff\n', 'CapBnd:\t000001ffffffffff\n', 'CapAmb:\t0000000000000000\n',
    'NoNewPrivs:\t0\n', 'Seccomp:\t0\n', 'Seccomp_filters:\t0\n', `Cpus_allowed:\t${mask.toString(16)}\n`,
    `Cpus_allowed_list:\t${cpus === 1 ? '0' : `0-${cpus - 1}`}\n`, 'Mems_allowed:\t1\n', 'Mems_allowed_list:\t0\n',
    'voluntary_ctxt_switches:\t0\n', 'nonvoluntary_ctxt_switches:\t0\n');
  return lines.join('');
}
