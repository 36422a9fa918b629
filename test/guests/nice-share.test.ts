/**
 * The scheduler honours nice (kernel/proc/sys-priority.ts sliceQuanta, scheduler/hart-loop.ts
 * startTurn): guest niceids `share` spins a nice-0 and a nice-19 process on ONE hart until the
 * nice-0 one has counted 1,000,000; turns are instruction counts, so the nice-19 process must
 * have counted less than an eighth as much (CFS weights 1024 : 15, about 68 : 1) — no host time
 * in the check. With every turn one quantum whatever the nice, both count about the same and
 * the guest FAILs (checked by hand with the weighting turned off); before setpriority existed
 * the child's setpriority failed (ENOSYS). The plain run (no args) checks the syscalls'
 * semantics; it is a manifest guest (run-guests-*.test.ts, and qemu-riscv64 in qemu.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../lab/guest-runs.ts';

describe('nice weights the turns of one hart', () => {
  it('a nice-19 spinner gets less than an eighth of what a nice-0 one gets', async () => {
    const r = await runGuest({ policy: 'ipi', guest: 'niceids', args: ['share'], cpus: 1, timeoutMs: 240_000 });
    expect(r.stdout).toMatch(/niceids: on one hart, nice 0 counted 1000000 while nice 19 counted \d+\n/);
    expect(r.stdout).toContain('niceids: share OK\n');
    expect(r.status).toBe(0);
    expect(r.leaked).toBe(0);
  }, 300_000);
});
