/**
 * `npm start` (until the workload demo exists): boot a 4-hart machine, show every hart up,
 * have every hart interrupt every other one, print a short summary, shut down, exit 0.
 */
import { Machine } from '../scheduler/machine.ts';
import { percentile } from '../bench/ipi.ts';

const CPUS = 4;
const ROUNDS = 200;

async function main(): Promise<void> {
  const t0 = performance.now();
  const m = await Machine.boot({ cpus: CPUS, memory: 64 * 2 ** 20 });
  const bootMs = performance.now() - t0;
  console.log(`Coherent: booted ${CPUS} harts, ${m.memory / 2 ** 20} MiB RAM in ${bootMs.toFixed(0)} ms`);
  const pongs = await m.runOnAllHarts<{ hartId: number }>('ping');
  for (const p of pongs) console.log(`  hart ${p.hartId}: up (${m.hartUp(p.hartId) ? 'idle, blocked on its mailbox' : '?'})`);

  console.log(`Every hart interrupts the ${CPUS - 1} others ${ROUNDS} times, all at once...`);
  const res = await m.runOnAllHarts<{ ns: number[] }>('ipi', (h) => ({
    targets: Array.from({ length: CPUS }, (_, t) => t).filter((t) => t !== h),
    rounds: ROUNDS,
  }));
  let total = 0;
  res.forEach((r, h) => {
    total += r.ns.length * (CPUS - 1);
    console.log(`  hart ${h}: ${r.ns.length} broadcasts acknowledged, round trip p50 ${(percentile(r.ns, 50) / 1000).toFixed(1)} µs, p99 ${(percentile(r.ns, 99) / 1000).toFixed(1)} µs`);
  });
  const frames = m.frameStats();
  await m.shutdown();
  console.log(`Summary: ${CPUS} harts up, ${total} interrupts delivered and acknowledged, ` +
    `${frames.free} of ${frames.total} frames free; machine shut down cleanly.`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
