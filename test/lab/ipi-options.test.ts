/**
 * The ipi policy's options (issue 16 item 3; docs/policies.md "ipi options"; Amit et al.,
 * ATC'17 and EuroSys'20): parsing, each option on a real 4-hart race (tlbrace: a writer thread
 * unmaps and remaps an area 3 reader threads keep reading) with the sanitizer on — correct
 * result, no report, no leak, and the option's own counter shows it was used — and, for each
 * option with a machine-level safety condition, a negative control (bootScheduled `ipiUnsafe`)
 * that breaks exactly that condition and must produce sanitizer reports.
 * Consolidation's condition (a request line is read before it is acked) is shown broken at the
 * wire level in test/cpu/mailbox.test.ts.
 * In deterministic mode (one hart at a time) each option's waits must hand the baton on and read
 * no host time: each runs twice with one seed and the two runs must agree byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { formatPolicySpec, IPI_OPT_ALL, IPI_OPT_CONCURRENT, IPI_OPT_EARLY_ACK, parsePolicySpec } from '../../kernel/lab/layout.ts';
import { OptionError, parseShootdownSpec } from '../../bin/options.ts';
import { bootScheduled, spawn, wait } from '../../scheduler/api.ts';
import { labStats } from '../../kernel/lab/stats.ts';
import { runGuest } from './guest-runs.ts';
import { munmapWorkload, settledLeak } from './workloads.ts';

const RACE = ['3', '10', '4'];

describe('ipi option specs', () => {
  it('parses a policy, ipi with options, ipi:all; formats canonically', () => {
    expect(parsePolicySpec('deferred')).toEqual({ policy: 'deferred', ipiOptions: 0 });
    expect(parsePolicySpec('ipi')).toEqual({ policy: 'ipi', ipiOptions: 0 });
    expect(parsePolicySpec('ipi:early-ack,concurrent')).toEqual({ policy: 'ipi', ipiOptions: IPI_OPT_EARLY_ACK | IPI_OPT_CONCURRENT });
    expect(parsePolicySpec('ipi:all')).toEqual({ policy: 'ipi', ipiOptions: IPI_OPT_ALL });
    expect(formatPolicySpec('ipi', IPI_OPT_EARLY_ACK | IPI_OPT_CONCURRENT)).toBe('ipi:concurrent,early-ack');
    expect(formatPolicySpec('ipi', IPI_OPT_ALL)).toBe('ipi:all');
    expect(formatPolicySpec('ipi', 0)).toBe('ipi');
  });

  it('refuses unknown options, options on other policies, repeats and empty options', () => {
    expect(() => parsePolicySpec('ipi:fast')).toThrow(/parsePolicySpec: unknown ipi option 'fast'/);
    expect(() => parsePolicySpec('deferred:concurrent')).toThrow(/only ipi takes options/);
    expect(() => parsePolicySpec('ipi:concurrent,concurrent')).toThrow(/given twice/);
    expect(() => parsePolicySpec('ipi:')).toThrow(/unknown ipi option ''/);
    expect(() => parsePolicySpec('nope')).toThrow(/unknown policy 'nope'/);
    expect(parseShootdownSpec('ipi:in-context,consolidate')).toBe('ipi:in-context,consolidate');
    expect(() => parseShootdownSpec('ipi:x')).toThrow(OptionError);
    expect(() => parseShootdownSpec('ipi:x')).toThrow(/--shootdown: 'ipi:x' is not allowed/);
  });

  it('bootScheduled refuses a bad spec and a bad ipiUnsafe before booting', async () => {
    await expect(bootScheduled({ policy: 'lazy:early-ack' as 'lazy' })).rejects.toThrow(/bootScheduled: parsePolicySpec: only ipi takes options/);
    await expect(bootScheduled({ policy: 'ipi', ipiUnsafe: ['fast' as 'concurrent'] })).rejects.toThrow(/bootScheduled: ipiUnsafe: unknown ipi option fast/);
  });
});

/** Each option alone and all of them, with the counter that shows the option was used. */
const OPTION_CASES = [
  { policy: 'ipi:concurrent', used: (s: Stats) => s.interrupts.sent > 0 },
  { policy: 'ipi:early-ack', used: (s: Stats) => s.shootdowns.earlyAcks > 0 },
  { policy: 'ipi:consolidate', used: (s: Stats) => s.shootdowns.lineRequests > 0 && s.shootdowns.lineRequests === s.interrupts.sent },
  { policy: 'ipi:in-context', used: (s: Stats) => s.shootdowns.inContext > 0 && s.shootdowns.inContextFlushes > 0 },
  { policy: 'ipi:all', used: (s: Stats) => s.shootdowns.inContext > 0 && s.shootdowns.lineRequests === s.interrupts.sent },
] as const;

describe('ipi options on a 4-hart unmap/remap race (sanitizer on)', () => {
  for (const c of OPTION_CASES) {
    it(`${c.policy}: correct, no report, frames balanced, the option in use`, async () => {
      const r = await runGuest({ policy: c.policy, guest: 'tlbrace', args: RACE, cpus: 4 });
      expect({ status: r.status, violations: r.stats.sanitizer.violations, leaked: r.leaked, policy: r.stats.policy })
        .toEqual({ status: 0, violations: 0, leaked: 0, policy: c.policy });
      expect(c.used(r.stats), JSON.stringify(r.stats.shootdowns)).toBe(true);
    }, 90_000);
  }
});

type Stats = Awaited<ReturnType<typeof runGuest>>['stats'];

describe('ipi options: negative controls (each breaks one safety condition; the sanitizer must report)', () => {
  const cases = [
    { option: 'concurrent', what: 'the initiator skips its own flush, relying on the targets\'' },
    { option: 'early-ack', what: 'a target acks early and runs guest code before its flush' },
    { option: 'in-context', what: 'a target leaves the owed flush to its next switch-in instead of its return to guest code' },
  ] as const;
  for (const c of cases) {
    it(`ipi:${c.option} with its condition broken (${c.what}): stale accesses reported`, async () => {
      const r = await runGuest({ policy: `ipi:${c.option}`, guest: 'tlbrace', args: RACE, cpus: 4, ipiUnsafe: [c.option] });
      expect(r.stats.sanitizer.violations, r.stdout).toBeGreaterThan(0);
      if (r.guestFailed) expect(r.stats.sanitizer.violations).toBeGreaterThan(0);
      expect(r.leaked).toBe(0);
    }, 90_000);
  }
});

describe('early-ack acks late when the change frees a page-table page', () => {
  it('a 2 MiB munmap that frees its table is flushed, then acked; the sanitizer stays silent', async () => {
    const m = await bootScheduled({ cpus: 4, memory: 64 * 2 ** 20, policy: 'ipi:early-ack', sanitize: 'report' });
    try {
      const { pid } = spawn(m, munmapWorkload(2, 512, 4, 0x4000_0000)); // 2 MiB-aligned: one whole level-0 table
      expect(await wait(m, pid, 60_000)).toBe(0);
      expect(await settledLeak(m)).toBe(0);
      const s = labStats(m.ctl);
      expect(s.sanitizer.violations).toBe(0);
      expect(s.shootdowns.lateAcks, JSON.stringify(s.shootdowns)).toBeGreaterThan(0);
    } finally {
      await m.shutdown();
    }
  }, 90_000);
});

/** A run's statistics without the host's own timings (the translator's compile time). */
function withoutHostTime(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutHostTime);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'compileUs').map(([k, x]) => [k, withoutHostTime(x)]));
}

// Deterministic mode (docs/deterministic.md): the options' waits — the ack wait
// (scheduler/shootdown-ipi ackWaitUntil), a full request line and the line wait (cpu/mailbox.ts
// sendLine, waitUntil) — must hand the baton on (relaxWait) instead of spinning on a word only
// another hart can change, which would wedge the one-hart-at-a-time machine; and nothing in them
// may read host time, so the same seed gives the same run byte for byte.
describe('ipi options in deterministic mode (4 harts, one at a time)', () => {
  const DET_RACE = ['3', '4', '4'];
  for (const { policy, used } of OPTION_CASES) {
    it(`${policy}: tlbrace correct, no report, no leak; the same seed twice gives the same run`, async () => {
      const run = (): ReturnType<typeof runGuest> => runGuest({ policy, guest: 'tlbrace', args: DET_RACE, cpus: 4, deterministic: true, seed: 3, schedule: 'pct' });
      const a = await run();
      expect({ status: a.status, violations: a.stats.sanitizer.violations, leaked: a.leaked, policy: a.stats.policy, quiescent: a.deterministic?.quiescent })
        .toEqual({ status: 0, violations: 0, leaked: 0, policy, quiescent: true });
      expect(a.stdout).toMatch(/^tlbrace: OK/m);
      expect(used(a.stats), JSON.stringify(a.stats.shootdowns)).toBe(true);
      const b = await run();
      expect(b.stdout).toBe(a.stdout);
      expect(b.status).toBe(a.status);
      expect(JSON.stringify(withoutHostTime(b.stats))).toBe(JSON.stringify(withoutHostTime(a.stats)));
      expect(b.deterministic).toEqual(a.deterministic);
    }, 120_000);
  }
});
