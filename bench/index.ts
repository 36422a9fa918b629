/**
 * Benchmark dispatcher: `npm run bench -- [name]`. No name runs every benchmark; an unknown
 * name prints the known ones and exits 2. Each figure is printed as `BENCH <name> <value> <unit>`.
 */
import { runIpiBench } from './ipi.ts';

/** Known benchmarks, by name. */
export const BENCHES: Readonly<Record<string, () => Promise<void>>> = {
  ipi: runIpiBench,
  shootdown: async () => (await import('./shootdown.ts')).run(),
};

async function main(argv: string[]): Promise<number> {
  const names = argv.length ? argv : Object.keys(BENCHES);
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length) {
    console.error(`bench: unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
    return 2;
  }
  for (const n of names) await BENCHES[n]!();
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
