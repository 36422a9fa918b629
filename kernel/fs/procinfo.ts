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
  PI_ARG_END, PI_ARG_START, PI_ENV_END, PI_ENV_START, PI_EXE_BYTE, PI_EXE_LEN, PI_EXE_MAX, PI_START, PROCINFO_BYTES,
} from './layout.ts';

/** Where a program's argument and environment strings lie (kernel/proc/initstack.ts InitialStack). */
export interface ArgBounds {
  argStart: number;
  argEnd: number;
  envStart: number;
  envEnd: number;
}

/** What procInfoOf returns. */
export interface ProcInfo extends ArgBounds {
  /** Canonical guest path of the executable ('' when none was recorded). */
  exe: string;
  /** Start time in µs of the machine's monotonic clock (CLOCK_BOOTTIME). */
  startUs: number;
}

const base = (ctl: Ctl, p: number): number => ctl.layout.procInfo + p * PROCINFO_BYTES;

/**
 * Record what process slot `p` runs after spawn or execve: its executable `exe` (a guest
 * path, a byte string; cut to PI_EXE_MAX bytes), the bounds of its strings, and — at spawn
 * and fork, not exec, as Linux keeps a task's start time across exec — `startUs`.
 */
export function recordExec(ctl: Ctl, p: number, exe: string, bounds: ArgBounds, startUs?: number): void {
  const b = base(ctl, p);
  const f64 = ctl.f64;
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
  return {
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
