// Issue 15 item 5: `coherent hunt` boots one machine and resets it between seeds
// (scheduler/machine.ts Machine.reset, scheduler/api.ts resetScheduled). The reset is complete
// when a seed run on a reused machine — after other guests, seeds and policies ran on it — is
// byte for byte the run a fresh machine gives: guest stdout and stderr, the --stats-json
// statistics (minus host time) and the trace. Anything the reset missed (a shared region, a
// hart's worker-local state: TLB, translation cache, clock, getrandom, the baton) shows up as
// a different schedule, different virtual times or different counters.
import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootScheduled, leakedFrames, resetScheduled, spawn, untilQuiescent, wait } from '../../scheduler/api.ts';
import type { Machine } from '../../scheduler/machine.ts';
import { machineStats } from '../../bin/cli-run.ts';
import { schedOptions } from '../../bin/hunt.ts';
import { RUN_DEFAULTS, resolveRunOptions, type RunOptions } from '../../bin/options.ts';
import { readTrace } from '../../kernel/lab/trace.ts';
import { writeChromeTrace } from '../../kernel/lab/trace-export.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'coherent-reuse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TRACE_EVENTS = 4096;
const MEMORY = 64 * 2 ** 20;

interface Captured { status: number; out: string; stats: string; trace: Buffer; hash: string; leaked: number }

let n = 0;
/** Run `run` (deterministic, its seed) on machine `m` as `coherent run --stats-json --trace` would; capture every output. */
async function runOn(m: Machine, run: RunOptions): Promise<Captured> {
  const outFile = join(dir, `out-${++n}`), traceFile = join(dir, `trace-${n}.json`);
  const fd = openSync(outFile, 'w');
  let status: number;
  try {
    const elf = new Uint8Array(readFileSync(run.elf));
    const { pid } = spawn(m, { elf, argv: [run.elf.split('/').pop()!, ...run.args], envp: ['PATH=/bin'], stdio: [fd, fd, fd] });
    status = await wait(m, pid, 120_000);
    await untilQuiescent(m, 60_000);
  } finally {
    closeSync(fd);
  }
  const { stats } = await machineStats(m, run, status);
  await writeChromeTrace(traceFile, readTrace(m.ctl), { policy: run.shootdown });
  const det = stats.deterministic as { scheduleHash: string };
  return {
    status, out: readFileSync(outFile, 'latin1'), stats: JSON.stringify(stats), trace: readFileSync(traceFile),
    hash: det.scheduleHash, leaked: leakedFrames(m),
  };
}

function opts(guest: string, args: string[], seed: number, shootdown: RunOptions['shootdown'], sanitize: RunOptions['sanitize']): RunOptions {
  return resolveRunOptions({
    ...RUN_DEFAULTS, elf: `${ROOT}guests/bin/${guest}`, args, cpus: 4, memory: MEMORY, seed, shootdown, sanitize,
    deterministic: true, traceBuffer: TRACE_EVENTS,
  });
}

describe('machine reuse (hunt): a reset machine runs a seed exactly as a fresh one', () => {
  it('mix seed 3 fresh == mix seed 3 after tlbrace under lazy (seed 4) and mix seed 9 on the same machine', async () => {
    const mix3 = opts('mix', ['3', '1'], 3, 'ipi', 'report');
    const m = await bootScheduled({ cpus: 4, memory: MEMORY, traceEvents: TRACE_EVENTS, reusable: true, ...schedOptions(mix3, 3) });
    try {
      const fresh = await runOn(m, mix3);
      expect(fresh.status).toBe(0);
      expect(fresh.out).toMatch(/^mix: OK$/m);
      expect(fresh.leaked).toBe(0);
      // Other work on the same machine: another policy, the sanitizer reporting, another guest and seed.
      const race = opts('tlbrace', ['3', '20', '4'], 4, 'lazy', 'report');
      await resetScheduled(m, schedOptions(race, 4));
      const other = await runOn(m, race);
      expect(other.hash).not.toBe(fresh.hash);
      const mix9 = opts('mix', ['9', '1'], 9, 'ipi', 'report');
      await resetScheduled(m, schedOptions(mix9, 9));
      const otherMix = await runOn(m, mix9);
      expect(otherMix.status).toBe(0);
      expect(otherMix.hash).not.toBe(fresh.hash);
      // The seed again, on the reused machine.
      await resetScheduled(m, schedOptions(mix3, 3));
      const again = await runOn(m, mix3);
      expect(again.status).toBe(fresh.status);
      expect(again.out).toBe(fresh.out);
      expect(again.hash).toBe(fresh.hash);
      expect(again.stats).toBe(fresh.stats); // every counter, virtual time, sanitizer, frames, per-hart figures
      expect(again.trace.equals(fresh.trace)).toBe(true); // every event, in virtual time
      expect(again.leaked).toBe(0);
    } finally {
      await m.shutdown();
    }
  }, 240_000);

  it('reset refuses a machine not booted reusable, and a shut-down machine', async () => {
    const m = await bootScheduled({ cpus: 1, memory: 16 * 2 ** 20 });
    try {
      await expect(resetScheduled(m, { deterministic: true })).rejects.toThrow(/not booted reusable/);
      await expect(resetScheduled(m, { seed: -1 })).rejects.toThrow(RangeError);
    } finally {
      await m.shutdown();
    }
    const r = await bootScheduled({ cpus: 1, memory: 16 * 2 ** 20, reusable: true });
    await r.shutdown();
    await expect(resetScheduled(r, {})).rejects.toThrow(/shut down/);
  }, 120_000);
});
