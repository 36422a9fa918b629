/**
 * Timers and time (issue 14 item 2) with the bundled guest `timers`, on 1 and 4 harts with the
 * sanitizer reporting: alarm/setitimer/getitimer, POSIX timers (SIGEV_SIGNAL, SIGEV_NONE,
 * SIGEV_THREAD_ID, overruns), clock_nanosleep TIMER_ABSTIME, timerfd, EINTR / SA_RESTART of
 * blocked read, futex, wait4 and nanosleep (rem), fork and exec inheritance (the guest execs
 * its own copy inside the guest root), and the table bound (EAGAIN) with exits freeing timers.
 * Timers fire whatever the harts do: on 1 hart beside a process that never blocks.
 * Plus CLOCK_REALTIME never stepping back (kernel/proc/sys-info.ts clockNs).
 * No timed assertion: the guest's own checks are bounds Linux also meets under load.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../../helpers/spawn-capture.ts';
import { labStats } from '../../../kernel/lab/stats.ts';
import { clockNs } from '../../../kernel/proc/sys-info.ts';
import { CLOCK_REALTIME } from '../../../kernel/linux-flags.ts';
import { timersInUse } from '../../../kernel/signal/timers.ts';
import { bootScheduled, leakedFrames } from '../../../scheduler/api.ts';
import type { Machine } from '../../../scheduler/machine.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(ROOT, 'guests/manifest.json'), 'utf8')) as { guests: { name: string; stdout: string }[] };
const manifestStdout = (name: string): string => manifest.guests.find((g) => g.name === name)!.stdout;
const elf = (name: string): Uint8Array => new Uint8Array(readFileSync(join(ROOT, 'guests/bin', name)));
const EXEC_LINE = 'timers: exec: the itimer survived execve, the POSIX timer did not\n';

let root = '';
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'coherent-timers-'));
  copyFileSync(join(ROOT, 'guests/bin/timers'), join(root, 'timers')); // execve("/timers") inside the guest root
});
afterAll(() => { rmSync(root, { recursive: true, force: true }); });

/** Run guest `name` with `args` on `m`; status and stdout. */
async function run(m: Machine, name: string, args: string[], tag: string): Promise<{ status: number; stdout: string }> {
  return runCaptured(m, elf(name), [name, ...args], { dir: root, tag: `${name}-${tag}`, timeoutMs: 90_000 });
}

function expectClean(m: Machine): void {
  expect(timersInUse(m.ctl)).toBe(0); // every timer freed: deleted, exec'd away, or its process gone
  expect(leakedFrames(m)).toBe(0);
  expect(labStats(m.ctl).sanitizer.violations).toBe(0);
}

for (const cpus of [1, 4]) {
  describe(`timers on ${cpus} hart(s)`, () => {
    let m: Machine;
    beforeAll(async () => { m = await bootScheduled({ cpus, memory: 128 * 2 ** 20, root, sanitize: 'report' }); });
    afterAll(async () => { await m?.shutdown(); });

    it('itimers, alarm, POSIX timers, overruns, ABSTIME sleeps, timerfd, EINTR/SA_RESTART, fork and exec', async () => {
      const r = await run(m, 'timers', ['--exec', '/timers'], `${cpus}`);
      const want = manifestStdout('timers').replace('timers: OK\n', `${EXEC_LINE}timers: OK\n`);
      expect(r.stdout).toBe(want);
      expect(r.status).toBe(0);
      expectClean(m);
    }, 120_000);
  });
}

describe('timers: bounds and busy harts', () => {
  it('timer_create is EAGAIN when the table is full; deleted timers and exited processes free their records', async () => {
    const m = await bootScheduled({ cpus: 2, memory: 16 * 2 ** 20, root, sanitize: 'report' });
    try {
      const r = await run(m, 'timers', ['--exhaust'], 'exhaust');
      expect(r.stdout).toBe("timers: exhaust: EAGAIN once the timer table is full; deleted and exited processes' timers are freed\ntimers: OK\n");
      expect(r.status).toBe(0);
      expectClean(m);
    } finally {
      await m.shutdown();
    }
  }, 120_000);

  it('timers fire on a single hart that a never-blocking process keeps busy', async () => {
    const m = await bootScheduled({ cpus: 1, memory: 64 * 2 ** 20, root, sanitize: 'report' });
    try {
      const busy = run(m, 'compute', ['1000000'], 'busy'); // seconds of work that never blocks
      const r = await run(m, 'timers', [], 'beside-busy');
      expect(r.stdout).toBe(manifestStdout('timers'));
      expect(r.status).toBe(0);
      expect((await busy).status).toBe(0);
      expectClean(m);
    } finally {
      await m.shutdown();
    }
  }, 180_000);
});

describe('CLOCK_REALTIME', () => {
  it('never steps back across millisecond boundaries', () => {
    let prev = clockNs(CLOCK_REALTIME)!;
    let back = 0;
    const until = performance.now() + 30; // at least 30 millisecond boundaries crossed
    while (performance.now() < until) {
      const t = clockNs(CLOCK_REALTIME)!;
      if (t < prev) back++;
      prev = t;
    }
    expect(back).toBe(0);
    expect(Math.abs(Number(clockNs(CLOCK_REALTIME)! / 1_000_000n) - Date.now())).toBeLessThan(1000); // still the wall clock
  });
});
