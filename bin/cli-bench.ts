/**
 * `coherent bench [name] [--options]`: the benchmarks of bench/index.ts (every figure also printed
 * as `BENCH <name> <value> <unit>`). No name runs them all; an unknown name is a usage error.
 * Options after the name go to that benchmark as they are (`coherent bench policies --cpus 2,4`);
 * the benchmark itself rejects the ones it does not know.
 */
import { Command } from 'commander';
import { runScript, runScriptCaptured } from './cli-script.ts';

const NO_SUCH_BENCH = '--coherent-list-benches';

/**
 * Names of the benchmarks bench/index.ts knows. bench/index.ts runs at import, so they are
 * read from its documented reply to an unknown name ("...; known: a, b"); [] if that fails.
 */
export function benchNames(): string[] {
  const r = runScriptCaptured('bench/index.ts', [NO_SUCH_BENCH]);
  const m = /known: (.*)$/m.exec(r.stderr);
  return m ? m[1]!.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

/** Register `bench` on `program`; its action stores the benchmark run's status with `setExit`. */
export function registerBench(program: Command, setExit: (status: number) => void): Command {
  const cmd = program.command('bench')
    .description('run the benchmarks (all, or the one named); each figure is also a line BENCH <name> <value> <unit>')
    .argument('[name]', 'benchmark to run (default: all)')
    .argument('[options...]', "the benchmark's own options (e.g. policies: --policies ipi,off --workloads munmap --cpus 2,4)")
    .allowUnknownOption()
    .helpOption('-h, --help', 'display help for command');
  cmd.addHelpText('after', () => {
    const names = benchNames();
    return `\nBenchmarks: ${names.length ? names.join(', ') : '(could not list them: see bench/index.ts)'}\n` +
      'Examples:\n  coherent bench\n  coherent bench ipi\n  coherent bench policies --policies ipi,broadcast --workloads munmap --cpus 2,4\n  coherent bench policies --policies ipi,ipi:early-ack,ipi:all --workloads munmap';
  });
  cmd.action(async (name: string | undefined, options: string[]) => {
    if (name !== undefined && name.startsWith('-')) {
      cmd.error(`error: options go after the benchmark's name (coherent bench <name> ${name} ...)`, { exitCode: 2, code: 'coherent.invalidValue' });
    }
    if (name !== undefined) {
      const names = benchNames();
      if (names.length && !names.includes(name)) {
        cmd.error(`error: unknown benchmark '${name}'; known: ${names.join(', ')}`, { exitCode: 2, code: 'coherent.invalidValue' });
      }
    }
    setExit(await runScript('bench/index.ts', name === undefined ? [] : [name, ...options]));
  });
  return cmd;
}
