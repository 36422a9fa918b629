/**
 * `coherent hunt [--runs N] [--seconds S] [--shard i/n] [--out F] [--all] [run options] <elf> [args]`
 * (bin/hunt.ts, docs/deterministic.md): successive seeds in deterministic mode until the guest
 * fails; prints the failing seed, how it failed and the `coherent run` line that replays it.
 * Exit status: 1 when a failure was found, 0 when every seed passed, 2 for usage errors.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { checkElf } from './cli-run.ts';
import { addRunOptions, guestCommand, runOptionsFrom, usageParser } from './run-options.ts';
import { OptionError, parseIntIn, RUN_DEFAULTS, resolveRunOptions } from './options.ts';
import { hunt, replayCommand, type HuntOutcome } from './hunt.ts';

/** Parse `--shard i/n` (1 <= i <= n <= 1,000,000). */
export function parseShard(text: string): { i: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new OptionError(`--shard: '${text}' is not allowed; it must be i/n, e.g. 1/4`);
  const i = Number(m[1]), n = Number(m[2]);
  if (!(n >= 1 && n <= 1_000_000 && i >= 1 && i <= n)) throw new OptionError(`--shard: '${text}' is not allowed; it must be i/n with 1 <= i <= n <= 1000000`);
  return { i, n };
}

function describe(o: HuntOutcome): string {
  const r = o.firstReport;
  const first = r === null ? '' : `; first report: hart ${r.hart} tid ${r.tid} va 0x${r.va.toString(16)} ${r.access} ${r.what} ${Math.round(r.sinceNs)} ns after the change (virtual)`;
  return `seed ${o.seed} failed: ${o.how}${first}`;
}

/** Register `hunt` on `program`; its action stores the exit status with `setExit`. */
export function registerHunt(program: Command, setExit: (status: number) => void): Command {
  const cmd = guestCommand(program, 'hunt', 'run a guest in deterministic mode under successive seeds until it fails; print the replay command');
  const p = usageParser(cmd);
  cmd.addOption(new Option('--runs <n>', 'seeds to try at most').default(1000).argParser(p((v) => parseIntIn('--runs', v, 1, 2 ** 31 - 1))))
    .addOption(new Option('--seconds <s>', 'host seconds to hunt at most (0: no limit)').default(0).argParser(p((v) => parseIntIn('--seconds', v, 0, 2 ** 31 - 1))))
    .addOption(new Option('--shard <i/n>', 'take every n-th seed starting at the i-th (spread a hunt over machines)').default({ i: 1, n: 1 }, '1/1').argParser(p(parseShard)))
    .addOption(new Option('--out <file>', 'append one JSON line per seed (shards merge by concatenation)'))
    .addOption(new Option('--all', 'collect every failing seed within the budget instead of stopping at the first'));
  addRunOptions(cmd);
  cmd.addHelpText('after', `
Exit status: 1 when a seed failed (a non-zero exit, a signal, or with --sanitize a sanitizer report),
0 when every seed passed, 2 for usage errors. --seed is the first seed.
Examples:
  coherent hunt --shootdown lazy --sanitize --cpus 4 guests/bin/tlbrace 3 20 4
  coherent hunt --shard 3/8 --runs 500 --out shard3.jsonl --sanitize guests/bin/mix`);
  cmd.action(async (elf: string, args: string[], o: Record<string, unknown>) => {
    checkElf(cmd, elf);
    const run = runOptionsFrom(elf, args, o);
    const out = o.out === undefined ? null : resolve(o.out as string);
    if (out !== null) writeFileSync(out, '', { flag: 'a' });
    const t0 = performance.now();
    const runs = o.runs as number;
    const res = await hunt({
      run, runs, seconds: o.seconds as number, shard: o.shard as { i: number; n: number }, all: o.all === true,
      onOutcome: (r, k) => {
        if (out !== null) appendFileSync(out, JSON.stringify(r) + '\n');
        const s = ((performance.now() - t0) / 1000).toFixed(1);
        process.stderr.write(`hunt: [${k + 1}/${runs}] seed ${r.seed} ${r.failed ? `FAILED (${r.how})` : 'ok'}  ${s} s\n`);
      },
    });
    const d = resolveRunOptions({ ...RUN_DEFAULTS, elf, args: [] });
    for (const f of res.failures) {
      process.stdout.write(`hunt: ${describe(f)}\nhunt: replay: ${replayCommand(run, f.seed, d)}\n`);
    }
    const secs = (performance.now() - t0) / 1000;
    process.stdout.write(`hunt: ${res.tried} seed(s) in ${secs.toFixed(1)} s (${(secs / Math.max(1, res.tried)).toFixed(2)} s per seed), ${res.failures.length} failed\n`);
    setExit(res.failures.length > 0 ? 1 : 0);
  });
  return cmd;
}
