/**
 * `coherent demo [--cpus N] [--shootdown POLICY] [--sanitize[=fatal]] [--scale N] [--memory SIZE]`:
 * what `npm start` runs (bin/demo.ts runDemo) — the bundled workload mix on 4 harts with live
 * progress and a summary. Exit status 0 when every guest passed and the frames balanced, 1
 * otherwise or when the machine fails, 2 for usage errors.
 */
import { Command, Option } from 'commander';
import { OptionError, parseCpus, parseIntIn, parseMemory, parseShootdown, SHOOTDOWN_POLICIES, type SanitizeMode } from './options.ts';
import { DEMO_DEFAULTS, runDemo, SCALE_MAX, SCALE_MIN } from './demo.ts';
import { usageParser } from './run-options.ts';

/** Register `demo` on `program`; its action stores the demo's status with `setExit`. */
export function registerDemo(program: Command, setExit: (status: number) => void): Command {
  const cmd = program.command('demo')
    .description('the demo (what `npm start` runs): 4 harts run the bundled workload mix, with live progress and a summary');
  const p = usageParser(cmd);
  const d = DEMO_DEFAULTS;
  cmd
    .addOption(new Option('--cpus <n>', 'harts (CPUs), 1-64').default(d.cpus).argParser(p(parseCpus)))
    .addOption(new Option('--shootdown <policy>', 'TLB shootdown policy').choices(SHOOTDOWN_POLICIES).default(d.shootdown)
      .argParser(p(parseShootdown)))
    // A plain flag plus `--sanitize=fatal` (commander splits `--flag=value` for optional values).
    .addOption(new Option('--sanitize [mode]', 'report accesses through stale translations; --sanitize=fatal stops at the first')
      .argParser(p((v): SanitizeMode => {
        if (v === 'report' || v === 'fatal') return v;
        throw new OptionError(`--sanitize: '${v}' is not allowed; use --sanitize (report and go on) or --sanitize=fatal (stop at the first report)`);
      })))
    .addOption(new Option('--scale <n>', `workload size: multiplies every guest's work, ${SCALE_MIN}-${SCALE_MAX}`).default(d.scale)
      .argParser(p((v) => parseIntIn('--scale', v, SCALE_MIN, SCALE_MAX))))
    .addOption(new Option('--memory <size>', 'RAM, e.g. 64M, 512MiB, 1G: a multiple of 2 MiB from 16 MiB to 4 GiB')
      .default(d.memory, '256M').argParser(p(parseMemory)));
  cmd.addHelpText('after', `
Workload: guests/bin/tlbrace (threads racing unmap/remap), guests/bin/fork (fork and copy-on-write),
guests/bin/mix (mmap/munmap/mprotect churn with threads and forks), all at once.
Exit status: 0 when every guest passed and the frames balanced; 1 otherwise or if the machine failed; 2 for usage errors.
Examples:
  coherent demo
  coherent demo --cpus 2 --scale 3
  coherent demo --shootdown off --sanitize`);
  cmd.action(async (o: Record<string, unknown>) => {
    const sanitize: SanitizeMode = o.sanitize === undefined ? 'off' : o.sanitize === true ? 'report' : (o.sanitize as SanitizeMode);
    const r = await runDemo({
      cpus: o.cpus as number, shootdown: o.shootdown as (typeof SHOOTDOWN_POLICIES)[number], sanitize,
      scale: o.scale as number, memory: o.memory as number,
    });
    setExit(r.status);
  });
  return cmd;
}
