/**
 * The syscall fuzzer guests/sysfuzz.c, short (the long run is test/stress/sysfuzz-soak.test.ts):
 * one seed, 3 fuzzing children × 400 raw syscalls with edge-case arguments beside a sentinel,
 * 4 harts, `ipi`, sanitizer on. The machine neither halts nor hangs, the guest's check passes
 * (sentinel and shared buffer intact, no child exiting non-zero without a signal), every frame
 * comes back and the sanitizer stays silent.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../lab/guest-runs.ts';

describe('sysfuzz: seeded syscall fuzzer beside a sentinel (short)', () => {
  it('seed 7: 3 children × 400 calls on 4 harts', async () => {
    const r = await runGuest({ policy: 'ipi', guest: 'sysfuzz', args: ['7', '400', '3'], cpus: 4, timeoutMs: 30_000 });
    expect(r.stdout).toBe('sysfuzz: seed=7 iterations=400 children=3\nsysfuzz: OK seed=7 children=3\n');
    expect({ status: r.status, leaked: r.leaked, violations: r.stats.sanitizer.violations }).toEqual({ status: 0, leaked: 0, violations: 0 });
  }, 40_000);
});
