// bin/run-options.ts: `coherent run`, `trace` and `hunt` take their run options from one
// definition. Every run option exists on hunt (and, but for --trace, on trace) with the same
// flags, help text, default, choices and visibility; a command line using every run option
// parses under run and hunt to the same RunOptions; the argv pre-pass knows each command's
// value-taking flags from the commands themselves.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../bin/cli.ts';
import { RUN_VALUE_FLAGS, rewriteSanitize, runOptionsFrom, valueFlags } from '../../bin/run-options.ts';
import type { RunOptions } from '../../bin/options.ts';

const scratch = mkdtempSync(join(tmpdir(), 'coherent-runopts-'));
afterAll(() => { rmSync(scratch, { recursive: true, force: true }); });

/** A value other than the default for every run option (a flag without a value: []). */
const SAMPLE: Record<string, string[]> = {
  '--cpus': ['3'], '--memory': ['64M'], '--root': [scratch], '--quantum': ['5000'], '--stats-json': [join(scratch, 's.json')],
  '--shootdown': ['ipi:early-ack'], '--flush-ceiling': ['9'], '--sanitize': [], '--sanitize-mode': ['fatal'],
  '--trace': [join(scratch, 't.json')], '--trace-buffer': ['128'], '--tlb-entries': ['64'], '--seed': ['42'], '--jit': ['off'],
  '--inject': ['shootdown.before-remote=5'], '--tlb-broadcast': [], '--global-asid-min': ['2'], '--deterministic': [], '--schedule': ['random'],
  '--pct-depth': ['5'],
};

function sub(program: Command, name: string): Command {
  return program.commands.find((c) => c.name() === name)!;
}

/** What an option looks like to a user: flags, help text, default, choices, hidden. */
function shape(o: Option): unknown {
  return { flags: o.flags, description: o.description, defaultValue: o.defaultValue, defaultValueDescription: o.defaultValueDescription,
    argChoices: o.argChoices, hidden: o.hidden };
}

/** Parse `coherent <name> ...argv` with the command's action replaced by one that keeps its RunOptions. */
async function parsed(name: string, argv: string[]): Promise<RunOptions> {
  const program = buildProgram(() => {});
  program.exitOverride();
  let got: RunOptions | undefined;
  sub(program, name).action((elf: string, args: string[], o: Record<string, unknown>) => { got = runOptionsFrom(elf, args, o); });
  await program.parseAsync(['node', 'coherent', name, ...argv]);
  return got!;
}

describe('one run option set for run, trace and hunt', () => {
  const program = buildProgram(() => {});
  const run = sub(program, 'run');

  it('every run option is on hunt (and on trace, but --trace) with the same flags, help, default and choices', () => {
    const runOpts = run.options.map((o) => o.long!);
    expect(runOpts.length).toBeGreaterThan(15);
    for (const [name, skip] of [['hunt', []], ['trace', ['--trace']]] as const) {
      const other = sub(program, name);
      for (const o of run.options) {
        if ((skip as readonly string[]).includes(o.long!)) continue;
        const twin = other.options.find((x) => x.long === o.long);
        expect(twin, `${name} ${o.long}`).toBeDefined();
        expect(shape(twin!), `${name} ${o.long}`).toEqual(shape(o));
      }
    }
  });

  it('a command line with every run option parses under run and hunt to the same RunOptions', async () => {
    expect(Object.keys(SAMPLE).sort()).toEqual(run.options.map((o) => o.long!).sort()); // a new option needs a sample here
    const argv = [...Object.entries(SAMPLE).flatMap(([f, v]) => [f, ...v]), 'guest.elf', 'a', '--cpus', 'b'];
    const r = await parsed('run', argv);
    const h = await parsed('hunt', argv);
    expect(h).toEqual(r);
    expect(r).toMatchObject({ cpus: 3, shootdown: 'ipi:early-ack', sanitize: 'fatal', deterministic: true, schedule: 'random', pctDepth: 5, seed: 42,
      args: ['a', '--cpus', 'b'], inject: { 'shootdown.before-remote': 5 } });
  });

  it("the argv pre-pass skips each command's own value flags, hunt's included", () => {
    expect([...RUN_VALUE_FLAGS].sort()).toEqual(valueFlags(run).sort());
    const hunt = valueFlags(sub(program, 'hunt'));
    for (const f of ['--runs', '--seconds', '--shard', '--out', ...RUN_VALUE_FLAGS]) expect(hunt).toContain(f);
    expect(rewriteSanitize(['node', 'c', 'hunt', '--out', '--sanitize=fatal', 'elf'], 3, hunt))
      .toEqual(['node', 'c', 'hunt', '--out', '--sanitize=fatal', 'elf']);
    expect(rewriteSanitize(['node', 'c', 'hunt', '--runs', '3', '--sanitize=fatal', 'elf'], 3, hunt))
      .toEqual(['node', 'c', 'hunt', '--runs', '3', '--sanitize', '--sanitize-mode', 'fatal', 'elf']);
  });
});
