// Issue 13 item 1: the quantum is accounted across traps (scheduler/hart-loop.ts runQuantum,
// TRAP_COST). guests/trapspin forks more children than harts that loop forever on a trap
// (raw getppid, raw clock_gettime, a fault its SIGSEGV handler resolves) plus a spinning
// thread; the parent must still sleep and wake, and its SIGKILLs must get through. Before the
// fix every run hung (each trap granted a fresh quantum): wait() timed out.
import { describe, it } from 'vitest';
import { runGuest } from '../lab/guest-runs.ts';
import { expectCleanRun } from '../helpers/guest-expect.ts';

const EXPECTED = 'trapspin: 5 spinners (getppid, clock_gettime, a fault its SIGSEGV handler resolves) and a '
  + 'spinning thread all ran; the parent slept and woke 3 times\ntrapspin: every spinner died of SIGKILL\ntrapspin: OK\n';

describe('preemption across traps', () => {
  for (const cpus of [1, 4]) {
    it(`trapspin: 5 trap-spinning children and a thread on ${cpus} hart(s), the parent sleeps, wakes and kills them`, async () => {
      const r = await runGuest({ policy: 'ipi', guest: 'trapspin', args: [], cpus, timeoutMs: 30_000 });
      expectCleanRun(r, EXPECTED);
    }, 60_000);
  }
});
