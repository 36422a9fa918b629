/**
 * Writes docs/examples/trace-example.json, the small trace docs/tracing.md describes: a 2-hart
 * machine whose hart 0 plays a thread in munmap that shoots down hart 1 twice, over the real
 * interrupt wire, recorded with the real emit calls (test/kernel/lab/trace-commands.ts) and
 * exported by kernel/lab/trace-export.ts. Run:  npx tsx docs/examples/make-trace.ts
 */
import { fileURLToPath } from 'node:url';
import { readTrace } from '../../kernel/lab/trace.ts';
import { writeChromeTrace } from '../../kernel/lab/trace-export.ts';
import { Machine } from '../../scheduler/machine.ts';
import { TRACE_TEST_COMMANDS } from '../../test/kernel/lab/trace-commands.ts';

const m = await Machine.boot({ cpus: 2, memory: 16 * 2 ** 20, traceEvents: 64, commandModules: [TRACE_TEST_COMMANDS] });
try {
  await m.runOnAllHarts('trace.init');
  await m.runOnHart(0, 'trace.shootdown', { targets: [1], rounds: 2 });
  const out = fileURLToPath(new URL('./trace-example.json', import.meta.url));
  await writeChromeTrace(out, readTrace(m.ctl), { policy: 'ipi', cpus: 2 });
  console.log(`wrote ${out}`);
} finally {
  await m.shutdown();
}
