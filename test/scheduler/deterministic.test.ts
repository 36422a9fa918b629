// Issue 15 items 1-3: deterministic mode (cpu/baton.ts, cpu/vclock.ts, docs/deterministic.md).
// Same inputs → same run, byte for byte: every case runs twice with the same seed, the second
// time with a busy host thread (a CPU hog) beside the machine, and the two runs must agree on the
// guest's stdout, its exit status, the lab statistics (all but the translator's host compile
// time) and the schedule's fingerprint. Host timing leaking into the run (a host clock read, a
// wait that depends on how long the other harts took, the host's spawn racing the harts) makes
// the two differ. A different seed must give a different schedule.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { labStats } from '../../kernel/lab/stats.ts';
import { bootScheduled, deterministicStats, leakedFrames, spawn, untilQuiescent, wait } from '../../scheduler/api.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/** One guest's run inside a sequence: what it printed, how it ended. */
interface Step { guest: string; status: number; stdout: string }
/** A sequence's run: every step, then the machine's statistics and schedule figures. */
interface SeqRun { steps: Step[]; stats: unknown; det: ReturnType<typeof deterministicStats>; leaked: number }

/**
 * Boot one deterministic machine and run `guests` one after the other on it (each spawned
 * once the machine is quiescent again, as `coherent run` does; one boot per sequence keeps the
 * file fast on a loaded host). The statistics drop the translator's host compile time.
 */
async function runSequence(cpus: number, seed: number, schedule: 'pct' | 'random', guests: { guest: string; args: string[] }[]): Promise<SeqRun> {
  const dir = mkdtempSync(join(tmpdir(), 'coherent-det-'));
  const m = await bootScheduled({ cpus, memory: 128 * 2 ** 20, root: dir, sanitize: 'report', deterministic: true, seed, schedule });
  const nul = openSync('/dev/null', 'r+');
  try {
    const steps: Step[] = [];
    for (const [i, g] of guests.entries()) {
      const out = join(dir, `out${i}`);
      const fd = openSync(out, 'w');
      const elf = new Uint8Array(readFileSync(join(ROOT, 'guests/bin', g.guest)));
      const { pid } = spawn(m, { elf, argv: [g.guest, ...g.args], envp: [], stdio: [nul, fd, nul] });
      const status = await wait(m, pid, 60_000);
      await untilQuiescent(m, 60_000);
      closeSync(fd);
      steps.push({ guest: g.guest, status, stdout: readFileSync(out, 'utf8') });
    }
    const strip = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(strip);
      if (v === null || typeof v !== 'object') return v;
      return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'compileUs').map(([k, x]) => [k, strip(x)]));
    };
    return { steps, stats: strip(labStats(m.ctl)), det: deterministicStats(m), leaked: leakedFrames(m) };
  } finally {
    await m.shutdown();
    closeSync(nul);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run `fn` with a host thread spinning beside it (the other engineers' load, made worse). */
async function withCpuHog<T>(fn: () => Promise<T>): Promise<T> {
  const hog = new Worker('let x = 0; for (;;) x++;', { eval: true });
  try {
    return await fn();
  } finally {
    await hog.terminate();
  }
}

const OK: Record<string, RegExp> = {
  hello: /^hello: OK$/m, detsleep: /^detsleep: OK$/m, tlbrace: /^tlbrace: OK/m, mix: /^mix: OK$/m,
};
const SEQUENCES: Record<number, { guest: string; args: string[] }[]> = {
  1: [{ guest: 'hello', args: [] }, { guest: 'detsleep', args: ['3', '3'] }, { guest: 'mix', args: ['1', '1'] }],
  4: [{ guest: 'detsleep', args: ['3', '3'] }, { guest: 'tlbrace', args: ['3', '20', '4'] }, { guest: 'mix', args: ['1', '1'] }],
};

/** Every step passed its own check and nothing leaked or was reported. */
function expectCorrect(r: SeqRun): void {
  for (const s of r.steps) {
    expect(s.stdout, s.guest).toMatch(OK[s.guest]!);
    expect(s.status, s.guest).toBe(0);
  }
  expect(r.leaked).toBe(0);
  expect((r.stats as { sanitizer: { violations: number } }).sanitizer.violations).toBe(0);
  expect(r.det?.quiescent).toBe(true);
}

describe('deterministic mode: same seed, same run', () => {
  for (const cpus of [1, 4]) {
    const names = SEQUENCES[cpus]!.map((g) => g.guest).join(', ');
    it(`${names} on ${cpus} hart(s): two machines (one beside a CPU hog) agree byte for byte`, async () => {
      const a = await runSequence(cpus, 1, 'pct', SEQUENCES[cpus]!);
      const b = await withCpuHog(() => runSequence(cpus, 1, 'pct', SEQUENCES[cpus]!));
      expectCorrect(a);
      for (let i = 0; i < a.steps.length; i++) expect(b.steps[i]).toEqual(a.steps[i]); // stdout and status, guest by guest
      expect(JSON.stringify(b.stats)).toBe(JSON.stringify(a.stats));
      expect(b.det).toEqual(a.det);
      if (cpus === 1) {
        // Sleeps read virtual time: thread 0 wakes every 1 ms plus a few µs of modelled work,
        // never the host's milliseconds of scheduling noise.
        const woke = [...a.steps[1]!.stdout.matchAll(/thread 0 round \d woke at (\d+) ns/g)].map((m) => Number(m[1]));
        expect(woke.length).toBe(3);
        for (let i = 1; i < woke.length; i++) {
          expect(woke[i]! - woke[i - 1]!).toBeGreaterThanOrEqual(1_000_000);
          expect(woke[i]! - woke[i - 1]!).toBeLessThan(1_100_000);
        }
      }
    }, 180_000);
  }
});

describe('deterministic mode: the schedule comes from the seed', () => {
  it('tlbrace on 4 harts: seeds 1 and 2 (pct) and seed 1 (random) give three schedules, each a correct run', async () => {
    const seen: string[] = [];
    for (const [seed, schedule] of [[1, 'pct'], [2, 'pct'], [1, 'random']] as const) {
      const r = await runSequence(4, seed, schedule, [{ guest: 'tlbrace', args: ['3', '20', '4'] }]);
      expectCorrect(r);
      expect(r.det!.schedule).toBe(schedule);
      expect(r.det!.handovers).toBeGreaterThan(10);
      seen.push(r.det!.scheduleHash);
    }
    expect(new Set(seen).size).toBe(3);
  }, 180_000);
});
