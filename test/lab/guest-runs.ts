/**
 * One bundled guest (guests/bin/*) under one shootdown policy with the sanitizer on, on a fresh
 * machine: shared by test/lab/guests.test.ts, test/stress/lab-soak.test.ts and
 * bench/policies.ts.
 *
 *   const r = await runGuest({ policy: 'off', guest: 'tlbrace', args: ['3', '50', '4'] });
 *   r.status, r.stdout, r.guestFailed, r.stats.sanitizer.violations, r.leaked
 *
 * The guest's stdout goes through a host file (its fd 1) so the caller can read its own check;
 * its stderr (scheduling-dependent counts) and the sanitizer's stderr lines go to /dev/null.
 * The guest root (a fresh temporary directory) holds a copy of the guest at `/<guest>`, so a
 * guest can exec itself (coh-exec).
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labStats, type LabStats } from '../../kernel/lab/stats.ts';
import { bootScheduled, deterministicStats, spawn, untilQuiescent, wait, type SchedBootOptions } from '../../scheduler/api.ts';
import { settledLeak } from './workloads.ts';
import type { BatonStats } from '../../cpu/baton.ts';
import { INJECT_POINTS, injectHits as injectHitsOf, setInjection, type InjectConfig, type InjectPoint } from '../../kernel/lab/inject.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const MiB = 2 ** 20;

export interface GuestRunOptions {
  policy: NonNullable<SchedBootOptions['policy']>;
  /** Name of a bundled guest: guests/bin/<guest>. */
  guest: string;
  args: string[];
  cpus?: number;
  sanitize?: 'off' | 'report';
  /** A guest still running after this many ms rejects (default 60 s). */
  timeoutMs?: number;
  /** Fault injection: delays (µs) at protocol points (kernel/lab/inject.ts). */
  inject?: InjectConfig;
  /** Fill freed frames with POISON_WORD (bootScheduled `poison`): a read of a freed frame shows. */
  poison?: boolean;
  /** Translating harts (bootScheduled `jit`); default guestRunDefaults.jit, else the machine's default (on). */
  jit?: boolean;
  /** broadcast policy: harts a space must run on to get a global ASID (bootScheduled `globalAsidMinHarts`). */
  globalAsidMinHarts?: number;
  /** broadcast policy: skip tlbsync (bootScheduled `tlbsyncSkip`; UNSAFE, negative control). */
  tlbsyncSkip?: boolean;
  /** ipi options whose safety condition is broken (bootScheduled `ipiUnsafe`; UNSAFE, negative controls). */
  ipiUnsafe?: SchedBootOptions['ipiUnsafe'];
  /** Deterministic mode (bootScheduled `deterministic`, docs/deterministic.md) with `seed` and `schedule`. */
  deterministic?: boolean;
  seed?: number;
  schedule?: 'pct' | 'random';
}

/**
 * Defaults for every runGuest of this test file: test/stress/conformance-interp.test.ts sets
 * `jit: false` here before it imports the conformance suite, which then runs interpreted.
 */
export const guestRunDefaults: { jit?: boolean } = {};

export interface GuestRun {
  status: number;
  stdout: string;
  /** The guest's own check failed: exit status non-zero or a FAIL line. */
  guestFailed: boolean;
  stats: LabStats;
  /** Frames leaked after it exited (deferred's parked frames waited for). */
  leaked: number;
  wallMs: number;
  /** Times each configured injection point delayed a hart. */
  injectHits: Partial<Record<InjectPoint, number>>;
  /** Deterministic mode's figures (schedule hash, decisions, virtual ns); null in parallel mode. */
  deterministic: BatonStats | null;
}

const elfCache = new Map<string, Uint8Array>();

/** Run `o.guest` once on a fresh machine of `o.cpus` (default 4) harts; see the file comment. */
export async function runGuest(o: GuestRunOptions): Promise<GuestRun> {
  let elf = elfCache.get(o.guest);
  if (!elf) elfCache.set(o.guest, elf = new Uint8Array(readFileSync(join(ROOT, 'guests/bin', o.guest))));
  const dir = mkdtempSync(join(tmpdir(), 'coherent-lab-'));
  const outPath = join(dir, 'stdout');
  writeFileSync(join(dir, o.guest), elf, { mode: 0o755 });
  const fd = openSync(outPath, 'w');
  const nul = openSync('/dev/null', 'r+');
  const m = await bootScheduled({ cpus: o.cpus ?? 4, memory: 128 * MiB, policy: o.policy, sanitize: o.sanitize ?? 'report', root: dir, inject: o.inject, poison: o.poison,
    globalAsidMinHarts: o.globalAsidMinHarts, tlbsyncSkip: o.tlbsyncSkip, ipiUnsafe: o.ipiUnsafe, jit: o.jit ?? guestRunDefaults.jit,
    deterministic: o.deterministic, seed: o.seed, schedule: o.schedule });
  try {
    const t0 = performance.now();
    const { pid } = spawn(m, { elf, argv: [o.guest, ...o.args], envp: [], stdio: [nul, fd, nul] });
    const status = await wait(m, pid, o.timeoutMs ?? 60_000);
    const wallMs = performance.now() - t0;
    if (o.deterministic) await untilQuiescent(m, 60_000); // statistics of the finished run, not of the last idle turns
    const leaked = await settledLeak(m);
    const stdout = readFileSync(outPath, 'utf8');
    const injectHits = Object.fromEntries(Object.keys(o.inject ?? {}).map((k) => [k, injectHitsOf(m.ctl, k as InjectPoint)]));
    return {
      status, stdout, guestFailed: status !== 0 || /: FAIL/.test(stdout), stats: labStats(m.ctl), leaked, wallMs, injectHits,
      deterministic: deterministicStats(m),
    };
  } finally {
    await m.shutdown();
    closeSync(fd);
    closeSync(nul);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One machine kept for several guest runs (openGuestMachine). */
export interface GuestMachine {
  /**
   * Run bundled guest `guest` with `args` once the previous run ended, with exactly the
   * injection delays `inject` (every other point 0). `violations` counts only this run's
   * sanitizer reports; `leaked` is the frames still in use once it exited (settled).
   */
  run(guest: string, args: string[], o?: { inject?: InjectConfig; timeoutMs?: number }): Promise<{ status: number; stdout: string; violations: number; leaked: number }>;
  shutdown(): Promise<void>;
}

/**
 * Boot one machine of `o.cpus` harts under `o.policy` (sanitizer on unless `o.sanitize`) for a
 * sequence of guest runs: the boot, the costly part on a loaded host, is paid once. Each run's
 * stdout goes through a host file as runGuest's does; every bundled guest in `guests` is copied
 * to the guest root (a guest may exec itself). For the safe policies only: an unsafe one may
 * leave a run's damage to the next.
 */
export async function openGuestMachine(o: Omit<GuestRunOptions, 'guest' | 'args' | 'inject'> & { guests: string[] }): Promise<GuestMachine> {
  const dir = mkdtempSync(join(tmpdir(), 'coherent-lab-'));
  for (const g of o.guests) writeFileSync(join(dir, g), readFileSync(join(ROOT, 'guests/bin', g)), { mode: 0o755 });
  const m = await bootScheduled({ cpus: o.cpus ?? 4, memory: 128 * MiB, policy: o.policy, sanitize: o.sanitize ?? 'report', root: dir, poison: o.poison,
    globalAsidMinHarts: o.globalAsidMinHarts, jit: o.jit ?? guestRunDefaults.jit });
  const nul = openSync('/dev/null', 'r+');
  let n = 0;
  return {
    async run(guest, args, r = {}) {
      setInjection(m.ctl, Object.fromEntries(INJECT_POINTS.map((p) => [p, r.inject?.[p] ?? 0])) as InjectConfig);
      const before = labStats(m.ctl).sanitizer.violations;
      const outPath = join(dir, `stdout-${n++}`);
      const fd = openSync(outPath, 'w');
      try {
        const elf = new Uint8Array(readFileSync(join(dir, guest)));
        const { pid } = spawn(m, { elf, argv: [guest, ...args], envp: [], stdio: [nul, fd, nul] });
        const status = await wait(m, pid, r.timeoutMs ?? 60_000);
        const leaked = await settledLeak(m);
        return { status, stdout: readFileSync(outPath, 'utf8'), violations: labStats(m.ctl).sanitizer.violations - before, leaked };
      } finally {
        closeSync(fd);
      }
    },
    async shutdown() {
      try {
        await m.shutdown();
      } finally {
        closeSync(nul);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
