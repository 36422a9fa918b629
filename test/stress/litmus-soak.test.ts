/**
 * Soak of the litmus suite (`npm run stress`): every test in litmus/ under every policy, 12
 * runs each on 4 and on 2 harts (on 2 harts lazy catches up at the more frequent context switches:
 * its forbidden outcomes show in about half the runs). Safe policies: no forbidden outcome, no sanitizer report,
 * no leak; each unsafe policy a test names in its `unsafe` line shows a forbidden outcome.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLitmus } from '../../bin/litmus/format.ts';
import { runLitmusBatch } from '../../bin/litmus/run.ts';

const DIR = new URL('../../litmus/', import.meta.url).pathname;
const SUITE = readdirSync(DIR).filter((f) => f.endsWith('.litmus')).sort()
  .map((f) => parseLitmus(readFileSync(join(DIR, f), 'utf8'), `litmus/${f}`));

describe.skipIf(!process.env.COHERENT_STRESS)('litmus soak', () => {
  for (const [cpus, runs] of [[4, 12], [2, 12]] as const) {
    for (const policy of ['ipi', 'per-page', 'deferred', 'broadcast'] as const) {
      it(`${policy} on ${cpus} harts, ${runs} runs: no forbidden outcome, no report, no leak`, async () => {
        const rs = await runLitmusBatch(SUITE, { policy, runs, seed: 11, cpus, timeoutMs: 600_000 });
        expect(rs.map((r) => ({ name: r.name, forbidden: r.forbiddenRuns, error: r.error })))
          .toEqual(SUITE.map((t) => ({ name: t.name, forbidden: 0, error: undefined })));
        expect({ reports: rs[0]!.sanitizerReports, leaked: rs[0]!.leakedFrames }).toEqual({ reports: 0, leaked: 0 });
      }, 900_000);
    }
    for (const policy of ['lazy', 'off'] as const) {
      it(`${policy} on ${cpus} harts, ${runs} runs: every test marked \`unsafe ${policy}\` shows a forbidden outcome`, async () => {
        const marked = SUITE.filter((t) => t.unsafe.includes(policy));
        const rs = await runLitmusBatch(marked, { policy, runs, seed: 11, cpus, timeoutMs: 600_000 });
        expect(rs.filter((r) => r.forbiddenRuns === 0).map((r) => r.name)).toEqual([]);
      }, 900_000);
    }
  }
});
