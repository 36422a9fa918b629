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
import { injectHits as injectHitsOf, type InjectConfig, type InjectPoint } from '../../kernel/lab/inject.ts';

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
