/**
 * The Machine API of the scheduler: boot a machine whose harts run threads, spawn programs,
 * wait for them, read statistics.
 *
 *   const m = await bootScheduled({ cpus: 4, memory: 64 * 2 ** 20 });
 *   const { pid } = spawn(m, { elf: bytes, argv: ['prog'] });
 *   const status = await wait(m, pid);          // exit code, or 128 + signal
 *   console.log(schedStats(m).total);
 *   await m.shutdown();
 *
 * resetScheduled(m, options) puts a machine booted `reusable` back to its boot state and starts it
 * again with new scheduler options (a seed, a policy): `coherent hunt` runs every seed so.
 *
 * bootScheduled = Machine.boot with scheduler/hart-loop.ts among the modules every hart imports
 * (that installs the scheduling loop) and the scheduler's boot words written into ctl before
 * any thread exists. spawn and wait run on the host thread (kernel work with hartId -1).
 */
import { bootVm, kernelFrames } from '../kernel/mm/aspace.ts';
import { KernelContext } from '../kernel/context.ts';
import {
  INIT_PID, P_EXIT, P_STATE, POLICY_IPI, SH_NEXT_TID, POLICY_LOCAL, PS_FREE, PS_LIVE, SH_BATCH, SH_CEILING, SH_JIT, SH_REALTIME, SH_SEED, SH_TLB_ENTRIES, SH_POISON, SH_POLICY, SH_QUANTUM, SH_STARTED,
  STAT_NAMES,
} from '../kernel/proc/layout.ts';
import { enosysCounts } from '../kernel/syscall.ts';
import { syscallName } from '../kernel/syscalls-table.ts';
import {
  IPI_OPTIONS, LH_BROADCAST, LH_GASID_MIN, LH_IPI_OPTS, LH_IPI_UNSAFE, LH_TLBSYNC_SKIP, parsePolicySpec, POLICY_CODES, SAN_FATAL, SAN_OFF,
  SAN_REPORT, type IpiOption, type PolicySpec,
} from '../kernel/lab/layout.ts';
import { setSanitizerMode } from '../kernel/lab/sanitizer.ts';
import { setInjection, validateInjection, type InjectConfig } from '../kernel/lab/inject.ts';
import { AsidTable, HartSchedBlock } from './asid.ts';
import { BATON_SCHEDULES, batonStats, DEFAULT_PCT_DEPTH, DET_SLICE, initializeBaton, type BatonStats } from '../cpu/baton.ts';
import { Machine, type BootOptions } from './machine.ts';
import { procOfPid, procWord, spawnProcess, type SpawnOptions, type Spawned } from './process.ts';
import { RunQueues } from './runqueue.ts';

/** URL of the module that installs the scheduler on a hart. */
export const SCHEDULER_MODULE = new URL('./hart-loop.ts', import.meta.url).href;

export interface SchedBootOptions extends BootOptions {
  /** Instructions per quantum (preemption budget); default hart-loop DEFAULT_QUANTUM. */
  quantum?: number;
  /** Instructions between mailbox polls while guest code runs; default hart-loop DEFAULT_BATCH. */
  batch?: number;
  /** Shootdown range ceiling in pages (above: whole-ASID flush); default 33. */
  ceilingPages?: number;
  /**
   * Shootdown policy (DESIGN.md section 6; scheduler/policy-select.ts): 'ipi' (default, safe),
   * 'per-page', 'deferred' (safe), 'lazy', 'off' (unsafe), 'local' (local flush only: a negative control);
   * 'ipi:OPT,...' or 'ipi:all' for ipi with Amit et al.'s options (concurrent, early-ack, consolidate,
   * in-context; docs/policies.md "ipi options").
   */
  policy?: PolicySpec;
  /** Stale-translation sanitizer (kernel/lab/sanitizer.ts): 'off' (default), 'report', 'fatal'. */
  sanitize?: 'off' | 'report' | 'fatal';
  /** Fill frames freed by shootdowns with POISON_WORD (tests). */
  poison?: boolean;
  /** TLB entries per hart: a power of two from 8 to 65536 (default: cpu/tlb.ts TLB_DEFAULTS). */
  tlbEntries?: number;
  /** Fault injection (kernel/lab/inject.ts): delay in µs at named protocol points, to widen race windows. */
  inject?: InjectConfig;
  /** Seed of the machine's random choices: TLB replacement (per hart) and getrandom. */
  seed?: number;
  /** Translate hot guest code (cpu/jit.ts, docs/jit.md); default true. false: interpret only. */
  jit?: boolean;
  /**
   * Broadcast TLB invalidation hardware (cpu/tlb-broadcast.ts: INVLPGB/TLBSYNC-style). Default:
   * on with policy 'broadcast' (which needs it), off otherwise; false with 'broadcast' is refused.
   */
  tlbBroadcast?: boolean;
  /** broadcast policy: harts a space must run on at once to get a global ASID (1..64, default 4 as Linux). */
  globalAsidMinHarts?: number;
  /** Lab knob, negative control only (UNSAFE): the broadcast policy skips tlbsync. */
  tlbsyncSkip?: boolean;
  /**
   * Lab knob, negative controls only (UNSAFE): ipi options whose safety condition is broken
   * (docs/policies.md "ipi options": concurrent skips the initiator's own flush, early-ack lets
   * guest code run before the flush, in-context leaves the owed flush to the next switch-in;
   * consolidate has no machine-level knob: cpu/mailbox.ts InterruptPort.setLineAckBeforeRead).
   */
  ipiUnsafe?: IpiOption[];
  /**
   * Deterministic mode (cpu/baton.ts, docs/deterministic.md): one hart executes at a time, the
   * schedule and virtual time come from `seed` (default 1 here), so the same inputs give the same run.
   */
  deterministic?: boolean;
  /** Deterministic mode's schedule: 'pct' (default) or 'random'. */
  schedule?: 'pct' | 'random';
  /** pct: d, the number of priority change points + 1 (1..64, default 3). */
  pctDepth?: number;
  /** Deterministic mode: guest instructions per slice (100..2^24, default cpu/baton.ts DET_SLICE). */
  slice?: number;
}

/** This machine has a deterministic mode (the `deterministic` boot option; bin/litmus checks it). */
export const DETERMINISTIC_SUPPORTED = true;

/** How long bootScheduled waits for a deterministic machine to become quiescent (ms). */
const DET_QUIESCE_TIMEOUT_MS = 30_000;

const hostContexts = new WeakMap<Machine, { kctx: KernelContext; rq: RunQueues }>();

function host(m: Machine): { kctx: KernelContext; rq: RunQueues } {
  let h = hostContexts.get(m);
  if (!h) {
    const kctx = KernelContext.forHost(m.ram, m.ctl);
    bootVm(kctx);
    h = { kctx, rq: new RunQueues(m.ctl, m.mailboxes) };
    hostContexts.set(m, h);
  }
  return h;
}

/** The scheduler's own boot options (what bootScheduled writes into ctl; a reset may change them). */
export type SchedStartOptions = Omit<SchedBootOptions, keyof BootOptions>;

/** Validate the scheduler options (RangeError naming the option); returns the parsed policy spec. */
function validateSched(o: SchedStartOptions): ReturnType<typeof parsePolicySpec> {
  for (const k of ['quantum', 'batch', 'ceilingPages'] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= 2 ** 30)) throw new RangeError(`bootScheduled: ${k} ${v} must be an integer from 1 to 2^30`);
  }
  if (o.tlbEntries !== undefined && !(Number.isInteger(o.tlbEntries) && o.tlbEntries >= 8 && o.tlbEntries <= 65536 && (o.tlbEntries & (o.tlbEntries - 1)) === 0)) {
    throw new RangeError(`bootScheduled: tlbEntries ${o.tlbEntries} must be a power of two from 8 to 65536`);
  }
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff)) throw new RangeError(`bootScheduled: seed ${o.seed} must be an integer from 0 to 2^32-1`);
  let spec: ReturnType<typeof parsePolicySpec>;
  try {
    spec = parsePolicySpec(o.policy ?? 'ipi');
  } catch (e) {
    throw new RangeError(`bootScheduled: ${(e as Error).message}`);
  }
  for (const u of o.ipiUnsafe ?? []) {
    if (!(u in IPI_OPTIONS)) throw new RangeError(`bootScheduled: ipiUnsafe: unknown ipi option ${u}`);
  }
  if (o.sanitize !== undefined && !['off', 'report', 'fatal'].includes(o.sanitize)) throw new RangeError(`bootScheduled: sanitize ${o.sanitize} must be off, report or fatal`);
  validateInjection(o.inject ?? {});
  const tlbBroadcast = o.tlbBroadcast ?? spec.policy === 'broadcast';
  if (spec.policy === 'broadcast' && !tlbBroadcast) throw new RangeError('bootScheduled: policy broadcast needs the broadcast hardware (tlbBroadcast / --tlb-broadcast)');
  const gmin = o.globalAsidMinHarts;
  if (gmin !== undefined && !(Number.isInteger(gmin) && gmin >= 1 && gmin <= 64)) throw new RangeError(`bootScheduled: globalAsidMinHarts ${gmin} must be an integer from 1 to 64`);
  if (o.schedule !== undefined && !(o.schedule in BATON_SCHEDULES)) throw new RangeError(`bootScheduled: schedule ${o.schedule} must be pct or random`);
  if (o.pctDepth !== undefined && !(Number.isInteger(o.pctDepth) && o.pctDepth >= 1 && o.pctDepth <= 64)) throw new RangeError(`bootScheduled: pctDepth ${o.pctDepth} must be an integer from 1 to 64`);
  if (o.slice !== undefined && !(Number.isInteger(o.slice) && o.slice >= 100 && o.slice <= 2 ** 24)) throw new RangeError(`bootScheduled: slice ${o.slice} must be an integer from 100 to 2^24`);
  return spec;
}

/**
 * Boot a machine whose harts schedule threads. Validates like Machine.boot (RangeError naming
 * the option); the scheduler options are written to ctl before the first spawn.
 */
export async function bootScheduled(o: SchedBootOptions = {}): Promise<Machine> {
  const spec = validateSched(o);
  const m = await Machine.boot({ ...o, commandModules: [SCHEDULER_MODULE, ...(o.commandModules ?? [])] });
  await startScheduler(m, o, spec);
  return m;
}

/**
 * Put machine `m` (booted with `reusable: true`) back to its boot state (Machine.reset: every
 * shared region, every hart's worker-local state) and start its scheduler with options `o`, as
 * bootScheduled would on a fresh machine of the same cpus, memory, tracing and root: a run
 * after this is byte for byte the run a fresh machine gives (test/scheduler/machine-reuse.test.ts).
 * `coherent hunt` runs its seeds so. RangeError for bad options (the machine untouched).
 */
export async function resetScheduled(m: Machine, o: SchedStartOptions = {}): Promise<void> {
  const spec = validateSched(o);
  await m.reset();
  hostContexts.delete(m); // the host's kernel context booted the VM into the old state
  await startScheduler(m, o, spec);
}

/** Write the scheduler's boot words into ctl, start the harts' schedulers, boot the VM (host). */
async function startScheduler(m: Machine, o: SchedStartOptions, spec: ReturnType<typeof parsePolicySpec>): Promise<void> {
  let ipiUnsafe = 0;
  for (const u of o.ipiUnsafe ?? []) ipiUnsafe |= IPI_OPTIONS[u];
  const tlbBroadcast = o.tlbBroadcast ?? spec.policy === 'broadcast';
  const gmin = o.globalAsidMinHarts;
  const sh = m.ctl.layout.schedHeader / 4;
  const i32 = m.ctl.i32;
  // Read by each hart's scheduler when it starts: after SH_STARTED (hart-loop.ts waits for it).
  i32[sh + SH_NEXT_TID] = INIT_PID; // pid 1 is the kernel's init (kernel/proc/sys-proc-table.ts): tids start at 2
  i32[sh + SH_QUANTUM] = o.quantum ?? 0;
  i32[sh + SH_BATCH] = o.batch ?? 0;
  i32[sh + SH_TLB_ENTRIES] = o.tlbEntries ?? 0;
  i32[sh + SH_SEED] = o.seed ?? (o.deterministic ? 1 : 0);
  i32[sh + SH_JIT] = (o.jit ?? true) ? 1 : 0;
  m.ctl.f64[(sh + SH_REALTIME) / 2] = Date.now() * 1e6 - Number(process.hrtime.bigint()); // one CLOCK_REALTIME offset for every hart
  i32[sh + SH_CEILING] = o.ceilingPages ?? 0;
  i32[sh + SH_POLICY] = POLICY_CODES[spec.policy]; // POLICY_IPI / POLICY_LOCAL and the lab's (kernel/lab/layout.ts)
  setSanitizerMode(m.ctl, o.sanitize === 'fatal' ? SAN_FATAL : o.sanitize === 'report' ? SAN_REPORT : SAN_OFF);
  i32[sh + SH_POISON] = o.poison ? 1 : 0;
  setInjection(m.ctl, o.inject ?? {});
  const lab = m.ctl.layout.lab / 4;
  i32[lab + LH_BROADCAST] = tlbBroadcast ? 1 : 0;
  i32[lab + LH_GASID_MIN] = gmin ?? 0;
  i32[lab + LH_TLBSYNC_SKIP] = o.tlbsyncSkip ? 1 : 0;
  i32[lab + LH_IPI_OPTS] = spec.ipiOptions;
  i32[lab + LH_IPI_UNSAFE] = ipiUnsafe;
  if (o.deterministic) {
    initializeBaton(m.ctl.sab, m.ctl.layout.baton, m.cpus, {
      seed: o.seed ?? 1, schedule: BATON_SCHEDULES[o.schedule ?? 'pct']!, pctDepth: o.pctDepth ?? DEFAULT_PCT_DEPTH, slice: o.slice ?? DET_SLICE,
    });
  }
  Atomics.store(i32, sh + SH_STARTED, 1); // publishes the words above to every hart's scheduler
  for (let h = 0; h < m.cpus; h++) m.mailboxes.kick(h);
  // Deterministic mode: the host acts (boots the VM, spawns) only while the harts are
  // quiescent, so where the run starts does not depend on host timing.
  if (o.deterministic) await untilQuiescent(m, DET_QUIESCE_TIMEOUT_MS);
  host(m);
}

/**
 * Deterministic mode: resolve once every hart is idle with nothing due (the baton holder waits
 * for the host); rejects after `timeoutMs` or when the machine halts.
 */
export async function untilQuiescent(m: Machine, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!batonStats(m.ctl.sab, m.ctl.layout.baton, m.cpus)?.quiescent) {
    if (m.haltReason) throw m.haltReason;
    if (Date.now() > end) throw new Error(`untilQuiescent: the machine is not quiescent after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Deterministic mode's figures (seed, schedule, decisions, handovers, schedule hash, virtual ns); null in parallel mode. */
export function deterministicStats(m: Machine): BatonStats | null {
  return batonStats(m.ctl.sab, m.ctl.layout.baton, m.cpus);
}

/** Start a program (ELF file or assembled image) on machine `m`; see scheduler/process.ts SpawnOptions. */
export function spawn(m: Machine, o: SpawnOptions): Spawned {
  const h = host(m);
  return spawnProcess(h.kctx, h.rq, o);
}

/**
 * Resolve with the exit status of process `pid` (code, or 128 + signal) once it has exited and
 * its memory is freed; the process slot is reaped. Rejects if there is no such process, or
 * when the machine halts or `timeoutMs` passes first.
 */
export async function wait(m: Machine, pid: number, timeoutMs = 60_000): Promise<number> {
  const p = procOfPid(m.ctl, pid);
  if (p < 0) throw new Error(`wait: no process ${pid}`);
  const i32 = m.ctl.i32;
  const w = procWord(m.ctl, p, P_STATE);
  const end = Date.now() + timeoutMs;
  while (Atomics.load(i32, w) === PS_LIVE) {
    if (m.haltReason) throw m.haltReason;
    if (Date.now() > end) throw new Error(`wait: process ${pid} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const status = i32[procWord(m.ctl, p, P_EXIT)]!;
  Atomics.store(i32, w, PS_FREE);
  return status;
}

export interface HartSchedStats {
  hartId: number;
  /** STAT_NAMES counters. */
  counters: Record<string, number>;
  /** The ASID table: address-space slot, generation caught up to (per ASID slot). */
  asids: { asSlot: number; gen: number }[];
  loadedAsidSlot: number;
  /** Shootdown round-trip latencies (ns) this hart measured as initiator, oldest first. */
  latencies: number[];
}

export interface SchedStats {
  harts: HartSchedStats[];
  total: Record<string, number>;
  /** ENOSYS counts by syscall number (unknown calls and handlers' ENOSYS answers alike). */
  enosys: Record<number, number>;
  /** The same counts keyed by the call's name (`clone3`, `sys_999` for numbers Linux lacks). */
  enosysByName: Record<string, number>;
  frames: { total: number; free: number; inUse: number; reserved: number; kernel: number };
}

/** Snapshot of every hart's scheduler statistics (racy while harts run; exact when quiet). */
export function schedStats(m: Machine): SchedStats {
  const harts: HartSchedStats[] = [];
  const total: Record<string, number> = Object.fromEntries(STAT_NAMES.map((n) => [n, 0]));
  for (let h = 0; h < m.cpus; h++) {
    const b = new HartSchedBlock(m.ctl, h);
    const t = new AsidTable(m.ctl, h);
    const counters = b.snapshot();
    for (const [k, v] of Object.entries(counters)) total[k] = (total[k] ?? 0) + v;
    harts.push({
      hartId: h, counters, latencies: b.latencies(), loadedAsidSlot: t.loaded,
      asids: Array.from({ length: 6 }, (_, i) => ({ asSlot: t.asSlotOf(i), gen: t.gen(i) })),
    });
  }
  const f = m.frameStats();
  const enosys = enosysCounts(m.ctl);
  return {
    harts, total, enosys,
    enosysByName: Object.fromEntries(Object.entries(enosys).map(([nr, n]) => [syscallName(Number(nr)), n])),
    frames: { total: f.total, free: f.free, inUse: f.inUse, reserved: f.reserved, kernel: kernelFrames(m.ctl) },
  };
}

/** Frames in use beyond the reserved and kernel-half frames (0 when every process has exited and nothing leaked). */
export function leakedFrames(m: Machine): number {
  const f = schedStats(m).frames;
  return f.inUse - f.reserved - f.kernel;
}
