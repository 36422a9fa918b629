/**
 * Fault injection (kernel/lab/inject.ts): a configured point delays the hart that reaches it,
 * is counted, and unknown names or bad delays are refused before a machine boots.
 */
import { describe, expect, it } from 'vitest';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INJECT_POINTS, parseInjection, validateInjection } from '../../../kernel/lab/inject.ts';
import { bootScheduled } from '../../../scheduler/api.ts';
import { runGuest } from '../../lab/guest-runs.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;

describe('fault injection', () => {
  it('a delay at shootdown.before-remote is reached by the munmaps of a guest, which still runs correctly', async () => {
    const slow = await runGuest({ policy: 'ipi', guest: 'mmap', args: [], cpus: 2, inject: { 'shootdown.before-remote': 2000 } });
    expect(slow.status).toBe(0);
    const hits = slow.injectHits['shootdown.before-remote']!;
    expect(hits).toBeGreaterThan(5);
    expect(slow.stats.sanitizer.violations).toBe(0);
  });

  it('every declared point has a call site in kernel/ or scheduler/ (no point that delays nothing)', () => {
    const src = ['kernel', 'scheduler'].flatMap((d) => execSync(`grep -rl "INJ\\[" ${d}`, { cwd: ROOT, encoding: 'utf8' }).trim().split('\n'))
      .map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
    for (const p of INJECT_POINTS) expect(src.includes(`INJ['${p}']`), p).toBe(true);
  });

  it('parses and validates point=us lists', () => {
    expect(parseInjection('cow.after-install=5,writeback.before=10')).toEqual({ 'cow.after-install': 5, 'writeback.before': 10 });
    expect(() => parseInjection('nowhere=5')).toThrow(/unknown fault-injection point 'nowhere'/);
    expect(() => parseInjection('cow.after-install')).toThrow(/point=microseconds/);
    expect(() => validateInjection({ 'cow.after-install': -1 })).toThrow(RangeError);
    expect(() => validateInjection({ 'cow.after-install': 2_000_000 })).toThrow(RangeError);
    expect(INJECT_POINTS.length).toBeGreaterThan(4);
  });

  it('bootScheduled refuses an unknown point before booting', async () => {
    await expect(bootScheduled({ cpus: 1, inject: { bogus: 1 } as never })).rejects.toThrow(/unknown fault-injection point/);
  });
});
