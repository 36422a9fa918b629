/**
 * Program loading from the host: a process (kernel/proc/sys-proc-table.ts: the table, exit and
 * reaping) made from an ELF file or an assembled image, with the host's stdio as fds 0-2.
 *
 * A process is an address space, an fd table and its threads; pid = tid of its first thread (tids
 * start at 2: pid 1 is the kernel's init, the parent of every process spawned here, which the
 * host still reaps itself: PF_HOST_REAP, kernel/proc/sys-proc-table.ts). Each thread
 * holds one reference on the address space; the last thread to exit has dropped the last
 * reference (freeing every frame, after the shootdown) before it publishes the exit status:
 *   P_EXIT := status; P_STATE := ZOMBIE (Atomics.store + notify) — the host's wait() wakes.
 * Status is what the CLI gives: the exit code, or 128 + N when killed by signal N.
 *
 * Loading runs on the caller's thread (the host, through scheduler/api.ts) with a KernelContext
 * of its own: the new space is active on no hart yet, so the local-only shootdown is exact.
 *   loadImage — an assembled program (cpu/asm): text RX at textBase, data RW at dataBase;
 *   loadElf   — a static riscv64 ELF (kernel/proc/elf.ts): PT_LOAD segments, brk after the last;
 * both get a stack with the Linux initial layout (kernel/proc/initstack.ts) and a first thread.
 */
import type { AsmResult } from '../cpu/asm/assembler.ts';
import { PAGE_SIZE } from '../cpu/ram.ts';
import { VirtualAddressSpace } from '../kernel/mm/aspace.ts';
import type { KernelContext } from '../kernel/context.ts';
import { parseElf } from '../kernel/proc/elf.ts';
import { DEFAULT_STACK_BYTES, loadElfInto, mapCopy, setUpStack, STACK_TOP } from '../kernel/proc/exec.ts';
import { initBrk, mmap, releaseAddressSpace } from '../kernel/mm/mmap.ts';
import { INIT_PID, P_FLAGS, P_PGID, P_PID, P_SID, P_THREADS, PF_HOST_REAP, TF_MIGRATE } from '../kernel/proc/layout.ts';
import { fdTablePut } from '../kernel/fs/fdtable.ts';
import { fdTableWithStdio } from '../kernel/fs/sys-fs-env.ts';
import { procAlloc, procFree, procWord } from '../kernel/proc/sys-proc-table.ts';
import { imageSegments, nowUs, recordExec, type ArgBounds, type ImageSegment } from '../kernel/fs/procinfo.ts';
import { setComm } from '../kernel/proc/exec.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from '../kernel/mm/abi.ts';
import type { RunQueues } from './runqueue.ts';
import { ThreadTable } from './threads.ts';

export { DEFAULT_STACK_BYTES, STACK_TOP };
/** Extra thread stacks go below the main stack, this far apart. */
const THREAD_STACK_STRIDE = 16 * 1024 * 1024;

export { exitStatus, isExiting, markExiting, procOfPid, procWord } from '../kernel/proc/sys-proc-table.ts';

/** A program assembled with cpu/asm. */
export interface ProgramImage {
  asm: AsmResult;
  /** Entry symbol or address; default the image's entry. */
  entry?: string | number;
}

export interface ExtraThread {
  /** Symbol or address to start at. */
  entry: string | number;
  /** a0 for the thread. */
  arg?: number;
  /** Pin to this hart (never stolen). */
  hart?: number;
}

export interface SpawnOptions {
  elf?: Uint8Array;
  image?: ProgramImage;
  argv?: string[];
  envp?: string[];
  /** Extra threads started in the same address space (a clone-free way for tests). */
  threads?: ExtraThread[];
  /** Pin the main thread to this hart. */
  hart?: number;
  /** Test mode: each sched_yield moves the main thread to the next hart (pinned there). */
  migrate?: boolean;
  /** Bytes mapped at once for the main stack (it also grows on demand) and for each extra thread's stack (256 KiB default). */
  stackBytes?: number;
  /** Guest path /proc/<pid>/exe names (default argv[0], made absolute under /). */
  exe?: string;
  /** Host fds the guest's fds 0, 1, 2 name (default the host's own stdin, stdout, stderr). */
  stdio?: readonly [number, number, number];
}

export interface Spawned {
  pid: number;
  proc: number;
  tids: number[];
}

function check(r: number, what: string): number {
  if (r < 0) throw new Error(`spawn: ${what} failed (${r})`);
  return r;
}

/** Stack of each extra thread of an assembled image (fixed: not grows-down). */
const THREAD_STACK_BYTES = 256 * 1024;
const pageUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/**
 * Create a process from `o.elf` or `o.image` with its first thread (and `o.threads`) READY on
 * the run queues. Runs on the calling thread with `kctx`. Throws naming `spawn` on failure
 * (ElfError for a bad ELF), leaving nothing allocated behind.
 */
export function spawnProcess(kctx: KernelContext, rq: RunQueues, o: SpawnOptions): Spawned {
  const ctl = kctx.ctl;
  const created = VirtualAddressSpace.create(kctx);
  if (typeof created === 'number') throw new Error(`spawn: no address space (${created})`);
  const as = created;
  const threads = new ThreadTable(ctl);
  const made: number[] = [];
  let p = -1;
  let fdt = -1;
  try {
    const argv = o.argv ?? ['a.out'];
    let entry: number, phdr = 0, phnum = 0, phent = 56;
    const sym = (e: string | number | undefined, img: ProgramImage): number => {
      if (e === undefined) return Number(img.asm.entry);
      if (typeof e === 'number') return e;
      const v = img.asm.symbols.get(e);
      if (v === undefined) throw new Error(`spawn: no symbol ${e} in the image`);
      return Number(v);
    };
    let segments: ImageSegment[] = []; // where the program's file bytes lie (/proc/<pid>/maps names them)
    if (o.elf) {
      const img = parseElf(o.elf);
      segments = imageSegments(img.segments);
      loadElfInto(kctx, as, o.elf, img);
      entry = img.entry;
      phdr = img.phdrVa;
      phnum = img.phnum;
      phent = img.phent;
    } else if (o.image) {
      const a = o.image.asm;
      mapCopy(kctx, as, Number(a.textBase), a.text.length, Number(a.textBase), a.text, PROT_READ | PROT_EXEC, 'text');
      if (a.data.length) mapCopy(kctx, as, Number(a.dataBase), a.data.length, Number(a.dataBase), a.data, PROT_READ | PROT_WRITE, 'data');
      initBrk(kctx, as, pageUp(Math.max(Number(a.textBase) + a.text.length, Number(a.dataBase) + a.data.length)) + PAGE_SIZE);
      entry = sym(o.image.entry, o.image);
    } else {
      throw new Error('spawn: give elf or image');
    }
    const bounds: ArgBounds = { argStart: 0, argEnd: 0, envStart: 0, envEnd: 0 };
    const sp = setUpStack(kctx, as, argv, o.envp ?? [], argv[0] ?? 'a.out', { phdr, phent, phnum, entry }, { initialBytes: o.stackBytes }, bounds);
    fdt = fdTableWithStdio(kctx, 0, o.stdio);
    if (fdt < 0) throw new Error(`spawn: no fd table (${fdt})`);
    p = procAlloc(ctl, as.slot, fdt, INIT_PID, 0); // init's child, reaped by the host's wait()
    if (p < 0) throw new Error('spawn: process table full');
    const base = procWord(ctl, p, 0);

    const main = threads.alloc(p, as.slot);
    if (main < 0) throw new Error('spawn: thread table full');
    made.push(main);
    threads.setPc(main, entry);
    threads.setReg(main, 2, BigInt(sp));
    if (o.hart !== undefined) threads.setAffinity(main, o.hart);
    if (o.migrate) {
      threads.setFlags(main, TF_MIGRATE);
      threads.setAffinity(main, o.hart ?? 0);
    }
    const pid = threads.tid(main);
    setComm(ctl, main, argv[0] ?? 'a.out');
    // /proc/<pid>/exe: the host's program need not lie under --root; it shows as o.exe, else /argv[0].
    const arg0 = argv[0] ?? 'a.out';
    recordExec(ctl, p, o.exe ?? (arg0.startsWith('/') ? arg0 : '/' + arg0), bounds, { segments, dev: 0, ino: 0 }, nowUs());
    ctl.i32[base + P_PGID] = pid; // leads its own process group in init's session, like a job a shell started
    ctl.i32[base + P_SID] = INIT_PID;
    ctl.i32[base + P_FLAGS] = PF_HOST_REAP;
    ctl.i32[base + P_PID] = pid;
    (o.threads ?? []).forEach((t, k) => {
      const tix = threads.alloc(p, as.slot);
      if (tix < 0) throw new Error('spawn: thread table full');
      made.push(tix);
      as.get();
      const top = STACK_TOP - THREAD_STACK_STRIDE * (k + 1);
      const stackBytes = o.stackBytes ?? THREAD_STACK_BYTES;
      check(mmap(kctx, as, top - stackBytes, stackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), 'mmap of a thread stack');
      threads.setPc(tix, o.image ? sym(t.entry, o.image) : Number(t.entry));
      threads.setReg(tix, 2, BigInt(top - 16));
      threads.setReg(tix, 10, BigInt(t.arg ?? 0));
      if (t.hart !== undefined) threads.setAffinity(tix, t.hart);
    });
    Atomics.store(ctl.i32, base + P_THREADS, made.length);
    kctx.assertNoStale('spawn');
    let from = 0;
    for (const tix of made) from = (rq.enqueue(tix, rq.leastLoaded(from)) + 1) % ctl.layout.cpus;
    return { pid, proc: p, tids: made.map((t) => threads.tid(t)) };
  } catch (e) {
    for (const tix of made) threads.free(tix);
    if (p >= 0) procFree(ctl, p);
    if (fdt >= 0) fdTablePut(kctx, fdt);
    for (let k = 1; k < made.length; k++) releaseAddressSpace(kctx, as);
    releaseAddressSpace(kctx, as);
    throw e;
  }
}
