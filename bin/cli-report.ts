/**
 * `coherent report`: run `bench policies` over policies × harts × workloads (or read its JSON
 * with `--from a.json,b.json`) and write one self-contained HTML page with plots (bench/report.ts;
 * docs/policies.md, section "The report"). Exit status 0 when the page was written, the bench's
 * own status when it failed, 2 for usage errors, 1 when the input cannot be read.
 */
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { runScript } from './cli-script.ts';
import { OptionError, parseCpus, parseIntIn, parseShootdown } from './options.ts';
import { usageParser } from './run-options.ts';

/** Workloads of bench/policies.ts. */
export const REPORT_WORKLOADS = ['race', 'munmap', 'tlbrace', 'mix'] as const;
/** Hart counts the report runs by default: the host has 2 cores, so 2 and 4 (see the page's note). */
export const REPORT_DEFAULT_CPUS = '2,4';

const listOf = <T>(flag: string, parse: (s: string) => T) => (text: string): T[] => {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new OptionError(`${flag}: '${text}' is not allowed; it must be a comma-separated list without empty items`);
  return [...new Set(items.map(parse))];
};

const parseWorkload = (s: string): string => {
  if (!(REPORT_WORKLOADS as readonly string[]).includes(s)) {
    throw new OptionError(`--workloads: '${s}' is not allowed; each must be one of ${REPORT_WORKLOADS.join(', ')}`);
  }
  return s;
};

/** The bench JSON beside the page: report.html → report.json. */
export function jsonBeside(out: string): string {
  return join(dirname(out), `${basename(out, extname(out))}.json`);
}

/** Register `report` on `program`; its action stores its status with `setExit`. */
export function registerReport(program: Command, setExit: (status: number) => void): Command {
  const cmd = program.command('report')
    .description('run bench policies over policies × harts × workloads (or read its JSON) and write one self-contained HTML page with plots');
  const p = usageParser(cmd);
  cmd
    .addOption(new Option('-o, --out <file>', 'the HTML page to write').default('report.html'))
    .addOption(new Option('--from <files>', 'read these bench policies JSON files (comma-separated) instead of running the bench')
      .argParser(p(listOf('--from', (s) => s))))
    .addOption(new Option('--policies <list>', 'policies to run, comma-separated (default: every policy but local)')
      .argParser(p(listOf('--policies', (s) => {
        try {
          return parseShootdown(s);
        } catch (e) {
          throw new OptionError((e as Error).message.replace('--shootdown', '--policies'));
        }
      }))))
    .addOption(new Option('--workloads <list>', `workloads to run, comma-separated: ${REPORT_WORKLOADS.join(', ')} (default: all)`)
      .argParser(p(listOf('--workloads', parseWorkload))))
    .addOption(new Option('--cpus <list>', 'hart counts to run, comma-separated, each 1-64').default(REPORT_DEFAULT_CPUS)
      .argParser(p(listOf('--cpus', (s) => parseCpus(s)))))
    .addOption(new Option('--rounds <n>', 'rounds of the race and munmap workloads, 1-100000 (default: the bench\'s 100 and 60)')
      .argParser(p((v) => parseIntIn('--rounds', v, 1, 100_000))))
    .addOption(new Option('--json <file>', 'where the bench writes its JSON (default: the page\'s name with .json)'));
  cmd.addHelpText('after', `
The page holds the plots as SVG (Vega-Lite, rendered when the page is written), a summary table
and the data table: no script, no network needed to view it. Figures for more harts than the
host has cores measure the host as much as the protocol (the page says so).
Examples:
  coherent report --cpus 2,4 -o report.html
  coherent report --workloads munmap --policies ipi,broadcast,off --cpus 2 --rounds 20
  coherent report --from bench/results/policies.json -o report.html`);
  cmd.action(async (o: { out: string; from?: string[]; policies?: string[]; workloads?: string[]; cpus: string | number[]; rounds?: number; json?: string }) => {
    const out = resolve(o.out);
    let inputs: string[];
    if (o.from) {
      const given = ['policies', 'workloads', 'rounds', 'json'].filter((k) => o[k as keyof typeof o] !== undefined);
      if (cmd.getOptionValueSource('cpus') === 'cli') given.push('cpus');
      if (given.length) throw new OptionError(`--from: reads existing results; it cannot be combined with ${given.map((g) => `--${g}`).join(', ')}`);
      inputs = o.from.map((f) => resolve(f));
    } else {
      const cpus = typeof o.cpus === 'string' ? listOf('--cpus', (s) => parseCpus(s))(o.cpus) : o.cpus;
      const json = resolve(o.json ?? jsonBeside(out));
      const args = ['policies', '--cpus', cpus.join(','), '--out', json];
      if (o.policies) args.push('--policies', o.policies.join(','));
      if (o.workloads) args.push('--workloads', o.workloads.join(','));
      if (o.rounds !== undefined) args.push('--rounds', String(o.rounds));
      const status = await runScript('bench/index.ts', args);
      if (status !== 0) {
        process.stderr.write(`coherent report: bench policies failed (exit status ${status}); no page written\n`);
        setExit(status);
        return;
      }
      inputs = [json];
    }
    // Loaded here, not at the top: vega and vega-lite would slow every other subcommand's start.
    const { writeReport } = await import('../bench/report.ts');
    const bytes = await writeReport(inputs, out);
    process.stdout.write(`report: wrote ${out} (${bytes} bytes) from ${inputs.join(', ')}\n`);
    setExit(0);
  });
  return cmd;
}
