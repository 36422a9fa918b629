/**
 * The `coherent` command line: subcommands run, trace, bench, demo, report, litmus (bin/cli-*.ts),
 * each with --help. Exit status: the guest's for run/trace, the script's for bench/demo, litmus's
 * (1 on a forbidden outcome), 2 for every
 * usage error (unknown command or flag, missing or bad value: the message names what was
 * wrong and what is allowed), 1 when the machine fails.
 */
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { OptionError } from './options.ts';
import { registerBench } from './cli-bench.ts';
import { registerDemo } from './cli-demo.ts';
import { registerLitmus } from './cli-litmus.ts';
import { registerReport } from './cli-report.ts';
import { registerRun } from './cli-run.ts';
import { rewriteSanitize, valueFlags } from './run-options.ts';
import { registerTrace } from './cli-trace.ts';
import { registerHunt } from './cli-hunt.ts';

export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

/** Usage errors: a CommanderError with a non-zero exit code (help and --version exit 0). */
function configure(cmd: Command): void {
  cmd.exitOverride().showSuggestionAfterError(true);
  const path = cmd.parent ? `coherent ${cmd.name()}` : 'coherent';
  const flags = cmd.options.filter((o) => !o.hidden).map((o) => o.long ?? o.short);
  const allowed = cmd.parent
    ? (flags.length ? `options: ${flags.join(' ')}\n` : '')
    : `commands: ${cmd.commands.map((c) => c.name()).join(', ')}\n`;
  cmd.showHelpAfterError(`Usage: ${path} ${cmd.usage()}\n${allowed}(run '${path} --help' for every option and its allowed values)`);
}

/** The program with every subcommand; actions report their exit status through `setExit`. */
export function buildProgram(setExit: (status: number) => void): Command {
  const program = new Command('coherent')
    .description('Coherent: an SMP RISC-V kernel emulator for studying TLB coherence')
    .version('0.1.0')
    .enablePositionalOptions();
  const subs = [registerRun, registerTrace, registerHunt, registerBench, registerDemo, registerReport, registerLitmus].map((r) => r(program, setExit));
  program.addHelpText('after', `
Examples:
  coherent run --cpus 4 guests/bin/hello
  coherent trace -o trace.json --cpus 2 guests/bin/tlbrace
  coherent hunt --shootdown lazy --sanitize guests/bin/tlbrace
  coherent bench ipi
  coherent demo
  coherent report --cpus 2,4 -o report.html
  coherent litmus --policy off litmus/*.litmus`);
  for (const c of [program, ...subs]) configure(c);
  return program;
}

/** Run the CLI on `argv` (process.argv form); resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  let status = 0;
  const program = buildProgram((s) => { status = s; });
  const sub = argv.findIndex((a, i) => i >= 2 && (a === 'run' || a === 'trace' || a === 'hunt'));
  const subCmd = sub >= 0 ? program.commands.find((c) => c.name() === argv[sub]) : undefined;
  const args = sub >= 0 && subCmd ? rewriteSanitize(argv, sub + 1, valueFlags(subCmd)) : argv;
  try {
    await program.parseAsync(args);
    return status;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE;
    if (e instanceof OptionError) {
      process.stderr.write(`coherent: ${e.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`coherent: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_FAILURE;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv);
}
