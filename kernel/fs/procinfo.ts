/**
 * Per-process information /proc/<pid> shows beyond the process record (kernel/proc/layout.ts):
 * Linux's mm->arg_start/arg_end/env_start/env_end (cmdline and environ are read from the
 * process's own memory between them, as Linux does), the executable's path (mm->exe_file) and
 * the start time. One record per process slot in the ctl region `procInfo` (kernel/fs/layout.ts
 * PI_*). The process layer writes it (spawn, exec, fork); kernel/fs/procfs*.ts reads it.
 */
import type { Ctl } from '../layout.ts';
import { clockNs } from '../proc/sys-info.ts';
import {
  PI_ARG_END, PI_ARG_START, PI_ENV_END, PI_ENV_START, PI_EXE_BYTE, PI_EXE_DEV, PI_EXE_INO, PI_EXE_LEN, PI_EXE_MAX, PI_NSEGS,
  PI_SEGS, PI_SEGS_MAX, PI_START, PROCINFO_BYTES,
} from './layout.ts';

/** Where a program's argument and environment strings lie (kernel/proc/initstack.ts InitialStack). */
export interface ArgBounds {
  argStart: number;
  argEnd: number;
  envStart: number;
  envEnd: number;
}

/**
 * Where a program's file bytes were loaded, as Linux's ELF loader maps them from the file:
 * [start, end) page-aligned, the file offset of `start` (the bss past the file is anonymous).
 */
export interface ImageSegment {
  start: number;
  end: number;
  offset: number;
}

/** The executable's identity and segments (what /proc/<pid>/maps names with its path). */
export interface ExeImage {
  segments: readonly ImageSegment[];
  /** Host st_dev / st_ino of the file (0 when the program did not come from a host file). */
  dev: number;
  ino: number;
}

/** What procInfoOf returns. */
export interface ProcInfo extends ArgBounds, ExeImage {
  /** Canonical guest path of the executable ('' when none was recorded). */
  exe: string;
  /** Start time in µs of the machine's monotonic clock (CLOCK_BOOTTIME). */
  startUs: number;
}

const base = (ctl: Ctl, p: number): number => ctl.layout.procInfo + p * PROCINFO_BYTES;

/**
 * Record what process slot `p` runs after spawn or execve: its executable `exe` (a guest
 * path, a byte string; cut to PI_EXE_MAX bytes) and where its file bytes were loaded (the
 * first PI_SEGS_MAX segments), the bounds of its strings, and — at spawn
 * and fork, not exec, as Linux keeps a task's start time across exec — `startUs`.
 */
export function recordExec(ctl: Ctl, p: number, exe: string, bounds: ArgBounds, image: ExeImage, startUs?: number): void {
  const b = base(ctl, p);
  const f64 = ctl.f64;
  const segs = image.segments.slice(0, PI_SEGS_MAX);
  segs.forEach((g, i) => {
    f64[(b + PI_SEGS + i * 24) / 8] = g.start;
    f64[(b + PI_SEGS + i * 24 + 8) / 8] = g.end;
    f64[(b + PI_SEGS + i * 24 + 16) / 8] = g.offset;
  });
  ctl.i32[(b + PI_NSEGS) / 4] = segs.length;
  f64[(b + PI_EXE_DEV) / 8] = image.dev;
  f64[(b + PI_EXE_INO) / 8] = image.ino;
  if (startUs !== undefined) f64[(b + PI_START) / 8] = startUs;
  f64[(b + PI_ARG_START) / 8] = bounds.argStart;
  f64[(b + PI_ARG_END) / 8] = bounds.argEnd;
  f64[(b + PI_ENV_START) / 8] = bounds.envStart;
  f64[(b + PI_ENV_END) / 8] = bounds.envEnd;
  const bytes = Buffer.from(exe, 'latin1').subarray(0, PI_EXE_MAX);
  new Uint8Array(ctl.sab, b + PI_EXE_BYTE, bytes.length).set(bytes);
  ctl.i32[(b + PI_EXE_LEN) / 4] = bytes.length;
}

/** fork: child slot `to` starts as a copy of `from` (same program, same memory), started at `startUs`. */
export function copyProcInfo(ctl: Ctl, from: number, to: number, startUs: number): void {
  const u8 = new Uint8Array(ctl.sab);
  const len = ctl.i32[(base(ctl, from) + PI_EXE_LEN) / 4]!;
  u8.copyWithin(base(ctl, to), base(ctl, from), base(ctl, from) + PI_EXE_BYTE + len);
  ctl.f64[(base(ctl, to) + PI_START) / 8] = startUs;
}

/** The record of process slot `p` (a racy snapshot: see kernel/fs/layout.ts). */
export function procInfoOf(ctl: Ctl, p: number): ProcInfo {
  const b = base(ctl, p);
  const f64 = ctl.f64;
  const len = Math.min(PI_EXE_MAX, Math.max(0, ctl.i32[(b + PI_EXE_LEN) / 4]!));
  const segments: ImageSegment[] = [];
  for (let i = 0, n = Math.min(PI_SEGS_MAX, Math.max(0, ctl.i32[(b + PI_NSEGS) / 4]!)); i < n; i++) {
    const at = (b + PI_SEGS + i * 24) / 8;
    segments.push({ start: f64[at]!, end: f64[at + 1]!, offset: f64[at + 2]! });
  }
  return {
    segments,
    dev: f64[(b + PI_EXE_DEV) / 8]!,
    ino: f64[(b + PI_EXE_INO) / 8]!,
    startUs: f64[(b + PI_START) / 8]!,
    argStart: f64[(b + PI_ARG_START) / 8]!,
    argEnd: f64[(b + PI_ARG_END) / 8]!,
    envStart: f64[(b + PI_ENV_START) / 8]!,
    envEnd: f64[(b + PI_ENV_END) / 8]!,
    exe: Buffer.from(new Uint8Array(ctl.sab, b + PI_EXE_BYTE, len)).toString('latin1'),
  };
}

const CLOCK_BOOTTIME = 7;
/** The machine's boot-time clock in µs (CLOCK_BOOTTIME, kernel/proc/sys-info.ts clockNs): start times and uptime. */
export function nowUs(): number {
  return Number(clockNs(CLOCK_BOOTTIME)! / 1000n);
}

/** The segments Linux's ELF loader maps from the file for PT_LOAD segments `segs` (kernel/proc/elf.ts ElfSegment). */
export function imageSegments(segs: ReadonlyArray<{ va: number; fileOffset: number; fileSize: number }>): ImageSegment[] {
  const P = 4096;
  return segs.filter((g) => g.fileSize > 0).map((g) => {
    const start = Math.floor(g.va / P) * P;
    return { start, end: Math.ceil((g.va + g.fileSize) / P) * P, offset: Math.floor(g.fileOffset / P) * P };
  });
}
