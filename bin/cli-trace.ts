/**
 * `coherent trace -o FILE [run options] <elf> [args...]`: `run --trace FILE` under its own
 * name — run the guest and write its timeline as Chrome trace-event JSON.
 */
import { Command, Option } from 'commander';
import { OptionError, parseOutputFile } from './options.ts';
import { checkElf, runGuest } from './cli-run.ts';
import { addRunOptions, guestCommand, runOptionsFrom } from './run-options.ts';

/** Register `trace` on `program`; its action stores the guest's status with `setExit`. */
export function registerTrace(program: Command, setExit: (status: number) => void): Command {
  const cmd = guestCommand(program, 'trace', 'run a guest and write a Chrome trace-event JSON timeline (alias of run --trace FILE)')
    .addOption(new Option('-o, --output <file>', 'trace file to write (open it in ui.perfetto.dev or chrome://tracing)')
      .makeOptionMandatory().argParser((v) => {
        try {
          return parseOutputFile('--output', v);
        } catch (e) {
          if (e instanceof OptionError) cmd.error(`error: ${e.message}`, { exitCode: 2, code: 'coherent.invalidValue' });
          throw e;
        }
      }));
  addRunOptions(cmd, false);
  cmd.addHelpText('after', `
Exit status: the guest's; 2 for usage errors; 1 if the machine failed.
Example:
  coherent trace -o race.json --cpus 2 --shootdown ipi guests/bin/tlbrace`);
  cmd.action(async (elf: string, args: string[], o: Record<string, unknown>) => {
    checkElf(cmd, elf);
    setExit(await runGuest(runOptionsFrom(elf, args, o, o.output as string)));
  });
  return cmd;
}
