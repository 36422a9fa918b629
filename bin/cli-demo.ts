/**
 * `coherent demo`: what `npm start` runs (bin/demo.ts) — the bundled workload on 4 harts with
 * live progress and a summary.
 */
import { Command } from 'commander';
import { runScript } from './cli-script.ts';

/** Register `demo` on `program`; its action stores the demo's status with `setExit`. */
export function registerDemo(program: Command, setExit: (status: number) => void): Command {
  const cmd = program.command('demo')
    .description('the demo (what `npm start` runs): 4 harts run the bundled workload mix, with live progress and a summary');
  cmd.addHelpText('after', '\nExample:\n  coherent demo');
  // bin/demo.ts runs at import and exports no function yet: run it as a child process.
  cmd.action(async () => setExit(await runScript('bin/demo.ts', [])));
  return cmd;
}
