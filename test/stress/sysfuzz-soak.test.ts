/**
 * Soak (`npm run stress`, COHERENT_STRESS=1), issue 13: the syscall fuzzer guests/sysfuzz.c
 * (random raw syscalls with edge-case arguments in forked children, beside a sentinel process
 * that checks a private and a MAP_SHARED buffer) for SEEDS seeds on 4 harts under `ipi` with
 * the sanitizer on. Each seed: the machine neither halts nor hangs (runGuest rejects on a halt
 * or after its 150 s limit), the guest exits 0 with its deterministic stdout (the sentinel and
 * the shared buffer intact, no fuzzing child exiting non-zero without a signal), no frame
 * leaks and the sanitizer stays silent.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../lab/guest-runs.ts';

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const ITERATIONS = 3000;
const CHILDREN = 4;

describe.skipIf(!process.env.COHERENT_STRESS)('sysfuzz soak: seeded syscall fuzzer beside a sentinel (ipi, 4 harts)', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${CHILDREN} children × ${ITERATIONS} calls`, async () => {
      const r = await runGuest({ policy: 'ipi', guest: 'sysfuzz', args: [String(seed), String(ITERATIONS), String(CHILDREN)], cpus: 4, timeoutMs: 150_000 });
      expect(r.stdout).toBe(`sysfuzz: seed=${seed} iterations=${ITERATIONS} children=${CHILDREN}\nsysfuzz: OK seed=${seed} children=${CHILDREN}\n`);
      expect({ status: r.status, leaked: r.leaked, violations: r.stats.sanitizer.violations }).toEqual({ status: 0, leaked: 0, violations: 0 });
    }, 180_000);
  }
});
