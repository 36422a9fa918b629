/**
 * `coherent litmus FILE... [--policy P] [--runs N] [--seed S] [--cpus N] [--inject ...]
 * [--deterministic]`: run transistency litmus tests (docs/litmus.md, bin/litmus/) and print
 * each one's outcome histogram with the forbidden outcomes marked. Exit status 1 when any
 * test showed a forbidden outcome or its guest failed (for CI), 2 for usage errors (also a
 * malformed .litmus file: the message names the file and line), 0 otherwise.
 */
import { readFileSync, statSync } from 'node:fs';
import { Command, Option } from 'commander';
import { OptionError, SHOOTDOWN_POLICIES, parseCpus, parseInject, parseSeed, type PolicyName } from './options.ts';
import { usageParser } from './run-options.ts';
import { LitmusError, parseLitmus, type LitmusTest } from './litmus/format.ts';
import { formatResult, machineSupportsDeterministic, runLitmus } from './litmus/run.ts';
import type { InjectConfig } from '../kernel/lab/inject.ts';

/** Register `litmus` on `program`; its action stores the exit status with `setExit`. */
export function registerLitmus(program: Command, setExit: (status: number) => void): Command {
  const cmd = program.command('litmus')
    .description('run transistency litmus tests (.litmus files): outcome histograms, forbidden outcomes marked; exit 1 if one was seen')
    .argument('<files...>', '.litmus files (see docs/litmus.md; the suite is in litmus/)');
  const p = usageParser(cmd);
  cmd
    .addOption(new Option('--policy <policy>', 'TLB shootdown policy').choices(SHOOTDOWN_POLICIES).default('ipi'))
    .addOption(new Option('--runs <n>', "runs per test, 1-100000 (default: the file's `runs`, else 40)").argParser(p(parseRuns)))
    .addOption(new Option('--seed <n>', 'seed of the start delays and of the machine, 0-4294967295').default(1).argParser(p(parseSeed)))
    .addOption(new Option('--cpus <n>', 'harts, 1-64').default(4).argParser(p(parseCpus)))
    .addOption(new Option('--inject <point=us,...>', "fault injection (default: the file's `inject` lines)").argParser(p(parseInject)))
    .addOption(new Option('--deterministic', 'run on the deterministic machine (refused when this build has none)'));
  cmd.addHelpText('after', `
Exit status: 1 if a forbidden outcome was seen (or a test's guest failed), 2 for usage errors and
malformed files (FILE:LINE: what is wrong), 0 otherwise.
Examples:
  coherent litmus litmus/*.litmus
  coherent litmus --policy off --runs 20 litmus/stale-read-remap.litmus`);
  cmd.action(async (files: string[], o: Record<string, unknown>) => {
    const tests: LitmusTest[] = [];
    for (const f of files) {
      let text: string;
      try {
        if (!statSync(f).isFile()) throw new Error('not a file');
        text = readFileSync(f, 'utf8');
      } catch {
        cmd.error(`error: '${f}' is not a readable .litmus file`, { exitCode: 2, code: 'coherent.invalidValue' });
      }
      try {
        tests.push(parseLitmus(text!, f));
      } catch (e) {
        if (e instanceof LitmusError) cmd.error(`error: ${e.message}`, { exitCode: 2, code: 'coherent.invalidValue' });
        throw e;
      }
    }
    if (o.deterministic && !(await machineSupportsDeterministic())) {
      cmd.error('error: --deterministic: this machine has no deterministic mode yet (the scheduler does not offer the boot option); run without it',
        { exitCode: 2, code: 'coherent.invalidValue' });
    }
    let bad = 0;
    for (const t of tests) {
      const r = await runLitmus(t, {
        policy: o.policy as PolicyName, runs: o.runs as number | undefined, seed: o.seed as number, cpus: o.cpus as number,
        inject: o.inject as InjectConfig | undefined, deterministic: o.deterministic === true,
      });
      process.stdout.write(formatResult(t, r) + '\n');
      if (r.forbiddenRuns > 0 || r.error) bad++;
    }
    if (tests.length > 1) process.stdout.write(`${tests.length - bad} of ${tests.length} tests without a forbidden outcome\n`);
    setExit(bad > 0 ? 1 : 0);
  });
  return cmd;
}

/** --runs: an integer from 1 to 100000. */
export function parseRuns(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 100_000) throw new OptionError(`--runs: '${v}' is not allowed; it must be an integer from 1 to 100000`);
  return n;
}
