/**
 * Benchmark `ipi`: interrupt round-trip latency between two harts, beside the platform's
 * limit measured in the same run.
 *
 *   ipi.raw             cross-worker Atomics ping-pong (store, spin until answered)
 *   ipi.roundtrip.busy  send + ack to a hart that polls its pending word between batches
 *   ipi.roundtrip.blocked  send + ack to a hart blocked in Atomics.wait (idle)
 *
 * Two harts (harts <= host cores). Each figure is a p50 and p99 over ROUNDS round trips after
 * WARMUP discarded ones, printed as `BENCH <name> <value> ns`, plus busy/raw as a ratio.
 */
import { Machine } from '../scheduler/machine.ts';
import { B_PING, B_READY, B_STOP } from './ipi-commands.ts';

const ROUNDS = 5000;
const WARMUP = 500;
const COMMANDS = new URL('./ipi-commands.ts', import.meta.url).href;

/** p-th percentile (0..100) of `ns` (sorted copy), nearest rank. */
export function percentile(ns: number[], p: number): number {
  const s = [...ns].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Print one BENCH line. */
export function bench(name: string, value: number, unit: string): void {
  console.log(`BENCH ${name} ${Number.isInteger(value) ? value : value.toFixed(2)} ${unit}`);
}

/** Run the ipi benchmark on a fresh 2-hart machine; prints its BENCH lines. */
export async function runIpiBench(): Promise<void> {
  const m = await Machine.boot({ cpus: 2, memory: 16 * 2 ** 20, commandModules: [COMMANDS] });
  try {
    const s = m.ctl.layout.scratch / 4;
    const reset = (): void => {
      for (const w of [B_PING, B_READY, B_STOP]) Atomics.store(m.ctl.i32, s + w, 0);
    };
    const total = ROUNDS + WARMUP;
    const stats = (name: string, ns: number[]): number => {
      const kept = ns.slice(WARMUP);
      const p50 = percentile(kept, 50);
      bench(`${name}.p50`, p50, 'ns');
      bench(`${name}.p99`, percentile(kept, 99), 'ns');
      return p50;
    };

    reset();
    const pong = m.runOnHart(1, 'bench.pong');
    const raw = await m.runOnHart<{ ns: number[] }>(0, 'bench.ping', { rounds: total });
    await pong;
    const rawP50 = stats('ipi.raw', raw.ns);

    reset();
    const busyHart = m.runOnHart(1, 'bench.busy');
    const busy = await m.runOnHart<{ ns: number[] }>(0, 'bench.ipi', { target: 1, rounds: total, waitReady: true });
    await busyHart;
    const busyP50 = stats('ipi.roundtrip.busy', busy.ns);

    reset();
    await m.runOnHart(1, 'ping'); // hart 1 is back in its idle loop, blocked on its mailbox
    const blocked = await m.runOnHart<{ ns: number[] }>(0, 'bench.ipi', { target: 1, rounds: total, waitReady: false });
    stats('ipi.roundtrip.blocked', blocked.ns);

    bench('ipi.busy_over_raw.p50', busyP50 / rawP50, 'x');
  } finally {
    await m.shutdown();
  }
}
