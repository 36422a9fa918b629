/**
 * A minimal process table (kernel/sched-layout.ts P_*) and program loading.
 *
 * A process is an address space plus its threads; pid = tid of its first thread. Each thread
 * holds one reference on the address space; the last thread to exit has dropped the last
 * reference (freeing every frame, after the shootdown) before it publishes the exit status:
 *   P_EXIT := status; P_STATE := ZOMBIE (Atomics.store + notify) — the host's wait() wakes.
 * Status is what the CLI gives: the exit code, or 128 + N when killed by signal N.
 *
 * Loading runs on the caller's thread (the host, through scheduler/api.ts) with a KernelContext
 * of its own: the new space is active on no hart yet, so the local-only shootdown is exact.
 *   loadImage — an assembled program (cpu/asm): text RX at textBase, data RW at dataBase;
 *   loadElf   — a static riscv64 ELF (kernel/elf.ts): PT_LOAD segments, brk after the last;
 * both get a stack with the Linux initial layout (kernel/initstack.ts) and a first thread.
 */
import type { AsmResult } from '../cpu/asm/assembler.ts';
import { PAGE_SIZE } from '../cpu/ram.ts';
import { VirtualAddressSpace } from '../kernel/aspace.ts';
import type { KernelContext } from '../kernel/context.ts';
import { parseElf } from '../kernel/elf.ts';
import { buildInitialStack, HWCAP_RV64IMAFDC } from '../kernel/initstack.ts';
import type { Ctl } from '../kernel/layout.ts';
import { initBrk, mmap, mprotect, releaseAddressSpace } from '../kernel/mmap.ts';
import {
  P_AS, P_CODE, P_EXIT, P_EXITING, P_PID, P_SIGNAL, P_STATE, P_THREADS, PROC_BYTES, PS_FREE, PS_LIVE, PS_ZOMBIE,
  TF_MIGRATE,
} from '../kernel/sched-layout.ts';
import { copyToUser } from '../kernel/uaccess.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from '../kernel/vm-abi.ts';
import type { RunQueues } from './runqueue.ts';
import { ThreadTable } from './threads.ts';

/** Top of the main stack (one page of guard below USER_TOP is not mapped). */
export const STACK_TOP = 0x3f_f000_0000;
export const DEFAULT_STACK_BYTES = 256 * 1024;
/** Extra thread stacks go below the main stack, this far apart. */
const THREAD_STACK_STRIDE = 16 * 1024 * 1024;

/** Word index of field `f` of process slot `p`. */
export function procWord(ctl: Ctl, p: number, f: number): number {
  return (ctl.layout.processes + p * PROC_BYTES) / 4 + f;
}

/** Process slot of `pid`, or -1. */
export function procOfPid(ctl: Ctl, pid: number): number {
  for (let p = 0; p < ctl.layout.sched.maxProcesses; p++) {
    if (Atomics.load(ctl.i32, procWord(ctl, p, P_STATE)) !== PS_FREE && ctl.i32[procWord(ctl, p, P_PID)] === pid) return p;
  }
  return -1;
}

/** Exit status of a dead process: code & 0xff, or 128 + signal. */
export function exitStatus(code: number, signal: number): number {
  return signal ? 128 + signal : code & 0xff;
}

/**
 * Mark process `p` as exiting with `code` / `signal` (the first caller wins). Returns true for
 * the first caller; the caller then makes the other threads exit (scheduler/hart-loop.ts).
 */
export function markExiting(ctl: Ctl, p: number, code: number, signal: number): boolean {
  if (Atomics.compareExchange(ctl.i32, procWord(ctl, p, P_EXITING), 0, 1) !== 0) return false;
  ctl.i32[procWord(ctl, p, P_CODE)] = code;
  ctl.i32[procWord(ctl, p, P_SIGNAL)] = signal;
  return true;
}

/** True once exit_group or a fatal signal started tearing process `p` down. */
export function isExiting(ctl: Ctl, p: number): boolean {
  return Atomics.load(ctl.i32, procWord(ctl, p, P_EXITING)) !== 0;
}

/**
 * One thread of process `p` is gone (its address-space reference already released).
 * The last one publishes the exit status (`code` when the process is not exiting otherwise).
 */
export function threadGone(ctl: Ctl, p: number, code: number): void {
  const left = Atomics.sub(ctl.i32, procWord(ctl, p, P_THREADS), 1) - 1;
  if (left > 0) return;
  const i32 = ctl.i32;
  const exiting = isExiting(ctl, p);
  const status = exiting ? exitStatus(i32[procWord(ctl, p, P_CODE)]!, i32[procWord(ctl, p, P_SIGNAL)]!) : code & 0xff;
  if (!exiting) i32[procWord(ctl, p, P_CODE)] = code;
  i32[procWord(ctl, p, P_EXIT)] = status;
  Atomics.store(i32, procWord(ctl, p, P_STATE), PS_ZOMBIE); // publishes P_EXIT
  Atomics.notify(i32, procWord(ctl, p, P_STATE));
}

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
  stackBytes?: number;
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

function copyIn(kctx: KernelContext, as: VirtualAddressSpace, va: number, bytes: Uint8Array, what: string): void {
  if (bytes.length) check(copyToUser(kctx, as, va, bytes), `copy of ${what}`);
}

const pageDown = (n: number): number => Math.floor(n / PAGE_SIZE) * PAGE_SIZE;
const pageUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** Map [va, va + len) anonymous RW (fixed), copy `bytes` to `at`, then set `prot`. */
function mapCopy(kctx: KernelContext, as: VirtualAddressSpace, va: number, len: number, at: number, bytes: Uint8Array, prot: number, what: string): void {
  const s = pageDown(va), e = pageUp(va + len);
  if (e <= s) return;
  check(mmap(kctx, as, s, e - s, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), `mmap of ${what}`);
  copyIn(kctx, as, at, bytes, what);
  if (prot !== (PROT_READ | PROT_WRITE)) check(mprotect(kctx, as, s, e - s, prot), `mprotect of ${what}`);
}

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
    if (o.elf) {
      const img = parseElf(o.elf);
      for (const s of img.segments) {
        mapCopy(kctx, as, s.va, s.memSize, s.va, o.elf.subarray(s.fileOffset, s.fileOffset + s.fileSize), s.prot, `segment at ${s.va.toString(16)}`);
      }
      initBrk(kctx, as, img.brkStart);
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
    const stackBytes = o.stackBytes ?? DEFAULT_STACK_BYTES;
    check(mmap(kctx, as, STACK_TOP - stackBytes, stackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), 'mmap of the stack');
    const random = new Uint8Array(16).map((_, i) => (i * 37 + 11) & 0xff);
    const st = buildInitialStack({
      stackTop: STACK_TOP, argv, envp: o.envp ?? [], execfn: argv[0] ?? 'a.out', random,
      aux: { phdr, phent, phnum, entry, hwcap: HWCAP_RV64IMAFDC },
    });
    copyIn(kctx, as, st.base, st.bytes, 'the initial stack');

    for (p = 0; p < ctl.layout.sched.maxProcesses; p++) {
      if (Atomics.compareExchange(ctl.i32, procWord(ctl, p, P_STATE), PS_FREE, PS_LIVE) === PS_FREE) break;
    }
    if (p === ctl.layout.sched.maxProcesses) { p = -1; throw new Error('spawn: process table full'); }
    const base = procWord(ctl, p, 0);
    ctl.i32.fill(0, base + 1, base + PROC_BYTES / 4);
    ctl.i32[base + P_AS] = as.slot;

    const main = threads.alloc(p, as.slot);
    if (main < 0) throw new Error('spawn: thread table full');
    made.push(main);
    threads.setPc(main, entry);
    threads.setReg(main, 2, st.sp);
    if (o.hart !== undefined) threads.setAffinity(main, o.hart);
    if (o.migrate) {
      threads.setFlags(main, TF_MIGRATE);
      threads.setAffinity(main, o.hart ?? 0);
    }
    const pid = threads.tid(main);
    ctl.i32[base + P_PID] = pid;
    (o.threads ?? []).forEach((t, k) => {
      const tix = threads.alloc(p, as.slot);
      if (tix < 0) throw new Error('spawn: thread table full');
      made.push(tix);
      as.get();
      const top = STACK_TOP - THREAD_STACK_STRIDE * (k + 1);
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
    if (p >= 0) Atomics.store(ctl.i32, procWord(ctl, p, P_STATE), PS_FREE);
    for (let k = 1; k < made.length; k++) releaseAddressSpace(kctx, as);
    releaseAddressSpace(kctx, as);
    throw e;
  }
}
