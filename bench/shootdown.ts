/**
 * Benchmark `shootdown`: round-trip latency of a one-page shootdown under policy `ipi` — from
 * the initiator's send to the last acknowledgement (scheduler/shootdown-ipi.ts records each in
 * its hart's latency ring) — with 1, 2 and N-1 target harts busy running guest code, beside the
 * raw cross-worker Atomics ping-pong measured in the same run.
 *
 *   shootdown.raw.p50/p99        Atomics store + spin until answered (bench.ping / bench.pong)
 *   shootdown.<targets>.p50/p99  one-page munmap shootdown, <targets> harts spinning in guest code
 *
 * N = 4 harts (the demo's size); on a host with fewer cores than harts the N-1 figure includes
 * OS scheduling of the workers, which the report should say.
 */
import { assemble } from '../cpu/asm/assembler.ts';
import { bootScheduled, schedStats, spawn, wait } from '../scheduler/api.ts';
import { B_PING, B_READY, B_STOP } from './ipi-commands.ts';
import { bench, percentile } from './ipi.ts';

const CPUS = 4;
const ROUNDS = 1000; // the latency ring keeps the last 1024
const WARMUP = 100;
const HOT = 0x200000;
const SHARED = 0x300000;
const COMMANDS = new URL('./ipi-commands.ts', import.meta.url).href;

/** Main thread on hart 0: ROUNDS × (touch the hot page, munmap it, map it again); spinners until DONE. */
function program(rounds: number): ReturnType<typeof assemble> {
  return assemble(`
_start:
  li s0, ${rounds}
  li s1, ${HOT}
  li s3, ${SHARED}
loop:
  mv a0, s1
  li a1, 4096
  li a2, 3
  li a3, 0x32
  li a4, -1
  li a5, 0
  li a7, 222
  ecall
  sd s0, 0(s1)
  mv a0, s1
  li a1, 4096
  li a7, 215
  ecall
  addi s0, s0, -1
  bnez s0, loop
  li t0, 1
  sw t0, 0(s3)
  li a0, 0
  li a7, 93
  ecall
spinner:
  li s3, ${SHARED}
  li s4, 0
spin:
  addi s4, s4, 1
  lw t0, 0(s3)
  beqz t0, spin
  li a0, 0
  li a7, 93
  ecall
  .data
  .word 0
`, { textBase: 0x10000, dataBase: SHARED });
}

/** Run the benchmark; prints its BENCH lines. */
export async function run(): Promise<void> {
  const m = await bootScheduled({ cpus: CPUS, memory: 64 * 2 ** 20, commandModules: [COMMANDS] });
  try {
    const s = m.ctl.layout.scratch / 4;
    for (const w of [B_PING, B_READY, B_STOP]) Atomics.store(m.ctl.i32, s + w, 0);
    const pong = m.runOnHart(1, 'bench.pong');
    const raw = await m.runOnHart<{ ns: number[] }>(0, 'bench.ping', { rounds: ROUNDS + WARMUP });
    await pong;
    const kept = raw.ns.slice(WARMUP);
    bench('shootdown.raw.p50', percentile(kept, 50), 'ns');
    bench('shootdown.raw.p99', percentile(kept, 99), 'ns');

    for (const targets of [...new Set([1, 2, CPUS - 1])]) {
      const before = schedStats(m).harts[0]!.counters['shootdown.latencies']!;
      const threads = Array.from({ length: targets }, (_, k) => ({ entry: 'spinner', hart: k + 1 }));
      const { pid } = spawn(m, { image: { asm: program(ROUNDS + WARMUP) }, hart: 0, threads });
      const status = await wait(m, pid, 120_000);
      if (status !== 0) throw new Error(`bench shootdown: guest exited with ${status}`);
      const h0 = schedStats(m).harts[0]!;
      const n = h0.counters['shootdown.latencies']! - before;
      // Only shootdowns that had targets are recorded; the last `n` of the ring are this run's.
      const lat = h0.latencies.slice(-Math.min(n, ROUNDS));
      bench(`shootdown.${targets}.p50`, percentile(lat, 50), 'ns');
      bench(`shootdown.${targets}.p99`, percentile(lat, 99), 'ns');
    }
  } finally {
    await m.shutdown();
  }
}

export const runShootdownBench = run;
