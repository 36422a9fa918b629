/**
 * Benchmark `shootdown`: round-trip latency of a one-page shootdown under policy `ipi` — from
 * the initiator's send to the last acknowledgement (scheduler/shootdown-ipi.ts records each in
 * its hart's latency ring) — with 1, 2 and N-1 target harts busy running guest code, beside the
 * raw cross-worker Atomics ping-pong measured in the same run.
 *
 *   shootdown.raw.p50/p99           Atomics store + spin until answered (bench.ping / bench.pong)
 *   shootdown.<targets>.p50/p99     one-page munmap shootdown, <targets> harts spinning in guest code
 *   shootdown.<targets>.p50_over_raw   the p50 as a multiple of the raw ping-pong p50
 *   shootdown.<targets>.harts       harts of the machine that case ran on
 *
 * Each case boots its own machine of targets + 1 harts (N = 4 for the N-1 case): the figure
 * with harts <= host cores is the one the target (< 2 µs p50 for one target) is about.
 * A case with more harts than host cores includes OS scheduling of the workers (a target may
 * have no core until the initiator blocks); the output says so on a `#` line.
 * Steady state: WARMUP shootdowns are discarded first (the JIT compiles the serve path).
 *
 * `bench shootdown --deterministic` (docs/deterministic.md): the same cases in deterministic mode
 * with targets 1, 3, 7, 15, 31, 63 (2 to 64 harts), DET_ROUNDS shootdowns each and no warm-up, latencies in
 * virtual ns (the cost model's: the same on any host and load; they include the turns the
 * serialised harts take in between). No raw ping-pong (its host commands spin outside the baton).
 */
import { BenchUsageError } from './usage.ts';
import { availableParallelism } from 'node:os';
import { assemble } from '../cpu/asm/assembler.ts';
import { PS_LIVE, P_STATE } from '../kernel/proc/layout.ts';
import { bootScheduled, schedStats, spawn, wait } from '../scheduler/api.ts';
import { procOfPid, procWord } from '../scheduler/process.ts';
import { B_PING, B_READY, B_STOP } from './ipi-commands.ts';
import { bench, percentile } from './ipi.ts';
import { asmMmap, asmMunmap } from '../kernel/asm-linux.ts';

const N = 4;
const ROUNDS = 1000; // the latency ring keeps the last 1024
const WARMUP = 2000;
const HOT = 0x200000;
const SHARED = 0x300000;
const DET_ROUNDS = 200;
const DET_TARGETS = [1, 3, 7, 15, 31, 63];
const COMMANDS = new URL('./ipi-commands.ts', import.meta.url).href;

/** Main thread on hart 0: ROUNDS × (touch the hot page, munmap it, map it again); spinners until DONE. */
function program(rounds: number): ReturnType<typeof assemble> {
  return assemble(`
_start:
  li s0, ${rounds}
  li s1, ${HOT}
  li s3, ${SHARED}
loop:
  ${asmMmap('s1', 4096, 0x32)}
  sd s0, 0(s1)
  ${asmMunmap('s1', 4096)}
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

/** Atomics.waitAsync (Node 16+; not in this project's TypeScript lib). */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: Promise<string> | string };
}

/** Raw cross-worker ping-pong between harts 0 and 1 of `m` (ns per round trip, warm-up dropped). */
export async function rawPingPong(m: Awaited<ReturnType<typeof bootScheduled>>): Promise<number[]> {
  const s = m.ctl.layout.scratch / 4;
  for (const w of [B_PING, B_READY, B_STOP]) Atomics.store(m.ctl.i32, s + w, 0);
  const pong = m.runOnHart(1, 'bench.pong');
  const raw = await m.runOnHart<{ ns: number[] }>(0, 'bench.ping', { rounds: ROUNDS + WARMUP });
  await pong;
  return raw.ns.slice(WARMUP);
}

/** One case: `targets` spinning harts on a machine of targets + 1 harts; latencies (ns) kept. */
export async function shootdownCase(targets: number, withRaw: boolean, deterministic = false): Promise<{ lat: number[]; raw: number[] | null }> {
  const m = await bootScheduled({ cpus: targets + 1, memory: 64 * 2 ** 20, commandModules: [COMMANDS], deterministic });
  const rounds = deterministic ? DET_ROUNDS : ROUNDS;
  const warmup = deterministic ? 0 : WARMUP;
  try {
    const raw = withRaw && !deterministic ? await rawPingPong(m) : null;
    const threads = Array.from({ length: targets }, (_, k) => ({ entry: 'spinner', hart: k + 1 }));
    const { pid } = spawn(m, { image: { asm: program(rounds + warmup) }, hart: 0, threads });
    // Sleep on the process state word (notified at exit; re-checked every 50 ms) rather than
    // wait()'s 2 ms polling: the host thread then stays off the cores the harts are measured on.
    const state = procWord(m.ctl, procOfPid(m.ctl, pid), P_STATE);
    const end = Date.now() + 120_000;
    while (Atomics.load(m.ctl.i32, state) === PS_LIVE && Date.now() < end) {
      const r = (Atomics as unknown as AtomicsWaitAsync).waitAsync(m.ctl.i32, state, PS_LIVE, 50);
      if (r.async) await r.value;
    }
    const status = await wait(m, pid, 120_000);
    if (status !== 0) throw new Error(`bench shootdown: guest exited with ${status}`);
    const h0 = schedStats(m).harts[0]!;
    // Only shootdowns that had targets are recorded (the first munmaps may run before every
    // spinner is on its hart); the ring's last ROUNDS are steady state.
    // Deterministic mode: the spinners start when the schedule first gives their harts a turn, so
    // the first munmaps may have no targets; at least half must have had them.
    const need = deterministic ? rounds / 2 : rounds + warmup / 2;
    const had = h0.counters['shootdown.latencies']!;
    if (had < need) throw new Error(`bench shootdown: only ${had} of ${rounds + warmup} munmaps had targets`);
    return { lat: h0.latencies.slice(-Math.min(rounds, had)), raw };
  } finally {
    await m.shutdown();
  }
}

/** Run the benchmark; prints its BENCH lines. */
export async function run(args: string[] = []): Promise<void> {
  const unknown = args.filter((a) => a !== '--deterministic');
  if (unknown.length) throw new BenchUsageError(`bench shootdown: unknown option ${unknown.join(' ')} (options: --deterministic)`);
  if (args.includes('--deterministic')) {
    console.log('# shootdown.det.*: deterministic mode, latencies in virtual ns (cpu/cost-model.ts)');
    for (const targets of DET_TARGETS) {
      const { lat } = await shootdownCase(targets, false, true);
      bench(`shootdown.det.${targets}.harts`, targets + 1, 'harts');
      bench(`shootdown.det.${targets}.p50`, percentile(lat, 50), 'ns');
      bench(`shootdown.det.${targets}.p99`, percentile(lat, 99), 'ns');
    }
    return;
  }
  const cores = availableParallelism();
  let rawP50 = 0;
  for (const targets of [...new Set([1, 2, N - 1])]) {
    const harts = targets + 1;
    const { lat, raw } = await shootdownCase(targets, targets === 1);
    if (raw) {
      rawP50 = percentile(raw, 50);
      bench('shootdown.raw.p50', rawP50, 'ns');
      bench('shootdown.raw.p99', percentile(raw, 99), 'ns');
    }
    if (harts > cores) console.log(`# shootdown.${targets}: ${harts} harts on ${cores} host cores (harts > cores: includes OS scheduling of the workers)`);
    const p50 = percentile(lat, 50);
    bench(`shootdown.${targets}.harts`, harts, 'harts');
    bench(`shootdown.${targets}.p50`, p50, 'ns');
    bench(`shootdown.${targets}.p99`, percentile(lat, 99), 'ns');
    bench(`shootdown.${targets}.p50_over_raw`, p50 / rawP50, 'x');
  }
}

export const runShootdownBench = run;
