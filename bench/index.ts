/**
 * Benchmark dispatcher: `npm run bench -- [name] [--options]`. No name runs every benchmark; an
 * unknown name prints the known ones and exits 2. After a name, arguments from the first
 * `--option` on go to the benchmark (policies: `--policies ipi,broadcast --workloads munmap,tlbrace --cpus 2,4 --rounds N --out FILE --deterministic`).
 * Each figure is printed as `BENCH <name> <value> <unit>`.
 */
import { pathToFileURL } from 'node:url';
import { runIpiBench } from './ipi.ts';
import { BenchUsageError } from './usage.ts';

/** Known benchmarks, by name. */
export const BENCHES: Readonly<Record<string, (args: string[]) => Promise<void>>> = {
  ipi: runIpiBench,
  cpu: async () => (await import('./cpu.ts')).run(),
  vm: async () => (await import('./vm.ts')).run(),
  shootdown: async (args) => (await import('./shootdown.ts')).run(args),
  policies: async (args) => (await import('./policies.ts')).run(args),
  sanitizer: async () => (await import('./sanitizer.ts')).run(),
  deterministic: async () => (await import('./deterministic.ts')).run(),
};

/** The benchmarks that read options (the others would silently ignore them: refused instead). */
export const TAKES_OPTIONS: ReadonlySet<string> = new Set(['policies', 'shootdown']);

/** Run the benchmarks named in `argv` (all when empty); resolves with the exit status (2: unknown name). */
export async function main(argv: string[]): Promise<number> {
  // Options only after a name: a leading `--x` is an (unknown) name, as bin/cli-bench.ts's listing relies on.
  const k = argv.length > 0 && !argv[0]!.startsWith('--') ? argv.findIndex((a) => a.startsWith('--')) : -1;
  const given = k < 0 ? argv : argv.slice(0, k);
  const args = k < 0 ? [] : argv.slice(k);
  const names = given.length ? given : Object.keys(BENCHES);
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length) {
    console.error(`bench: unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
    return 2;
  }
  if (args.length && !TAKES_OPTIONS.has(names[names.length - 1]!)) {
    console.error(`bench: ${names[names.length - 1]} takes no options (given: ${args.join(' ')}); only ${[...TAKES_OPTIONS].join(', ')} do`);
    return 2;
  }
  try {
    for (const n of names) await BENCHES[n]!(args);
  } catch (e) {
    if (!(e instanceof BenchUsageError)) throw e;
    console.error(e.message);
    return 2;
  }
  return 0;
}

// Run only as a script, so the CLI and tests can import BENCHES without running anything.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
