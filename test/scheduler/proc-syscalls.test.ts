/**
 * The process layer with a real static glibc program (test/fixtures/proc/procs, source and
 * build script in test/fixtures/gen/): execve (FD_CLOEXEC, ENOENT, ENOEXEC, the new program's
 * exit status through waitpid), a pipe between two threads (parking, not hart-holding,
 * blocking: on one hart the writer must run while the reader waits), nanosleep and
 * clock_nanosleep(TIMER_ABSTIME), wait4 (WNOHANG, status, ECHILD), an orphan outliving its
 * parent, sched_getaffinity/sysconf, getppid, a timed futex wait and a process-shared futex
 * across fork — on 1 and 4 harts, with every frame and process slot back afterwards.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../helpers/spawn-capture.ts';
import { P_STATE, PS_FREE } from '../../kernel/proc/layout.ts';
import { procWord } from '../../kernel/proc/sys-proc-table.ts';
import { bootScheduled, leakedFrames } from '../../scheduler/api.ts';
import type { Machine } from '../../scheduler/machine.ts';

const FIXTURE = new URL('../fixtures/proc/procs', import.meta.url).pathname;
const expected = (harts: number): string => [
  "procs: exec'd with argc=3 fd3=open fd4=closed",
  'procs: execve replaced a child; ENOENT, ENOEXEC',
  'procs: pipe between two threads',
  'procs: nanosleep and clock_nanosleep(TIMER_ABSTIME)',
  'procs: wait4 WNOHANG, status, ECHILD',
  'procs: an orphan ran on after its parent',
  `procs: ${harts} harts; getppid`,
  'procs: timed futex wait; shared futex across fork',
  'procs: OK',
  '',
].join('\n');

function liveProcesses(m: Machine): number {
  let n = 0;
  for (let p = 0; p < m.ctl.layout.sched.maxProcesses; p++) if (Atomics.load(m.ctl.i32, procWord(m.ctl, p, P_STATE)) !== PS_FREE) n++;
  return n;
}

let root = '';
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'coherent-procs-'));
  copyFileSync(FIXTURE, join(root, 'procs')); // execve("/procs") inside the guest root
});
afterAll(() => { rmSync(root, { recursive: true, force: true }); });

for (const cpus of [1, 4]) {
  describe(`process syscalls on ${cpus} hart(s)`, () => {
    let m: Machine;
    beforeAll(async () => { m = await bootScheduled({ cpus, memory: 64 * 2 ** 20, root }); });
    afterAll(async () => { await m?.shutdown(); });

    it('execve, thread pipes, sleeps, wait4, orphans, affinity, futexes: exact output, nothing left behind', async () => {
      const r = await runCaptured(m, new Uint8Array(readFileSync(FIXTURE)), ['procs', String(cpus)], { dir: root, out: `out-${cpus}`, timeoutMs: 30_000 });
      expect(r.stdout).toBe(expected(cpus));
      expect(r.status).toBe(0);
      // The orphan and every child are gone: no process slot, no frame.
      for (let i = 0; i < 100 && liveProcesses(m) > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(liveProcesses(m)).toBe(0);
      expect(leakedFrames(m)).toBe(0);
    }, 40_000);
  });
}
