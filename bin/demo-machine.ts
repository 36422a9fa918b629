/**
 * The demo's machine, run as a child process of bin/demo.ts (runDemo). The harts write the
 * guests' stdout and stderr straight to file descriptors 1 and 2 of their process, which would
 * tear a live terminal display; in a child those descriptors are pipes the parent reads, and
 * the statistics travel over the IPC channel instead:
 *
 *   parent → child   { type: 'start', job: DemoJob }
 *   child → parent   { type: 'sample', sample, spawned: {name, pid}[], exited: DemoGuestExit[] }  (every intervalMs)
 *                    { type: 'done', result: DemoRunResult }                              (once, then exit 0)
 *                    { type: 'error', message }                                           (machine failed; exit 1)
 *
 * All guests are spawned at once on one machine and run concurrently; the child waits for each
 * (a guest still running after `timeoutMs` counts as failed with status -1) and shuts down.
 */
import { readFile } from 'node:fs/promises';
import type { PolicyName } from '../kernel/lab/layout.ts';
import { formatReport } from '../kernel/lab/sanitizer.ts';
import { labStats } from '../kernel/lab/stats.ts';
import { bootScheduled, leakedFrames, spawn, wait } from '../scheduler/api.ts';
import type { Machine } from '../scheduler/machine.ts';
import { sampleMachine, type MachineSample } from './demo-stats.ts';

/** One guest run of the workload: name (shown), ELF path (host), argv[1..]. */
export interface DemoGuest {
  name: string;
  binary: string;
  args: string[];
}

/** What the child runs. */
export interface DemoJob {
  cpus: number;
  memory: number;
  /** Shootdown policy name as the machine knows it (scheduler/api.ts SchedBootOptions.policy). */
  policy: PolicyName;
  /** Stale-translation sanitizer (scheduler/api.ts SchedBootOptions.sanitize). */
  sanitize: 'off' | 'report' | 'fatal';
  guests: DemoGuest[];
  timeoutMs: number;
  intervalMs: number;
}

/** How one guest ended: exit status (code, or 128 + signal; -1 = timed out), ms after start. */
export interface DemoGuestExit {
  name: string;
  pid: number;
  status: number;
  ms: number;
  error?: string;
}

export interface DemoRunResult {
  exits: DemoGuestExit[];
  sample: MachineSample;
  /** Frames still in use beyond the kernel's own after every guest exited (0 = balanced). */
  leakedFrames: number;
  wallMs: number;
  /** Sanitizer reports in total, and the first few (kernel/lab/sanitizer.ts formatReport lines). */
  sanitizer: { violations: number; first: string[] };
}

/** Sanitizer report lines a result carries at most. */
export const REPORT_LINES = 5;

export type DemoMessage =
  | { type: 'sample'; sample: MachineSample; spawned: { name: string; pid: number }[]; exited: DemoGuestExit[] }
  | { type: 'done'; result: DemoRunResult }
  | { type: 'error'; message: string };

/** Boot, run every guest of `job` at once, report samples through `send`; resolves with the result. */
export async function runDemoJob(job: DemoJob, send: (msg: DemoMessage) => void): Promise<DemoRunResult> {
  const elfs = await Promise.all(job.guests.map((g) => readFile(g.binary)));
  const m: Machine = await bootScheduled({ cpus: job.cpus, memory: job.memory, policy: job.policy, sanitize: job.sanitize });
  const t0 = performance.now();
  const exited: DemoGuestExit[] = [];
  const spawned: { name: string; pid: number }[] = [];
  const timer = setInterval(() => send({ type: 'sample', sample: sampleMachine(m, performance.now() - t0), spawned, exited }), job.intervalMs);
  try {
    const waits = job.guests.map(async (g, i) => {
      const { pid } = spawn(m, { elf: new Uint8Array(elfs[i]!), argv: [g.name, ...g.args] });
      spawned.push({ name: g.name, pid });
      try {
        exited.push({ name: g.name, pid, status: await wait(m, pid, job.timeoutMs), ms: performance.now() - t0 });
      } catch (e) {
        if (m.haltReason) throw m.haltReason;
        exited.push({ name: g.name, pid, status: -1, ms: performance.now() - t0, error: e instanceof Error ? e.message : String(e) });
      }
    });
    await Promise.all(waits);
    clearInterval(timer);
    const wallMs = performance.now() - t0;
    const sample = sampleMachine(m, wallMs);
    const order = new Map(job.guests.map((g, i) => [g.name, i]));
    exited.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
    const leaked = exited.every((x) => x.status >= 0) ? await settledLeak(m) : -1;
    const s = labStats(m.ctl).sanitizer;
    const sanitizer = { violations: s.violations, first: s.reports.slice(0, REPORT_LINES).map(formatReport) };
    return { exits: exited, sample, leakedFrames: leaked, wallMs, sanitizer };
  } finally {
    clearInterval(timer);
    await m.shutdown();
  }
}

/** Frames leaked once every guest exited; waits (bounded) for `deferred`'s parked frames to come back. */
async function settledLeak(m: Machine, timeoutMs = 2000): Promise<number> {
  const end = Date.now() + timeoutMs;
  let n = leakedFrames(m);
  while (n !== 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 5));
    n = leakedFrames(m);
  }
  return n;
}

// The child's entry: one 'start' message, then samples, the result, and exit.
if (process.send && process.argv.includes('--coherent-demo-child')) {
  const send = (msg: DemoMessage): void => { process.send!(msg); };
  process.once('message', (msg: { type: 'start'; job: DemoJob }) => {
    runDemoJob(msg.job, send).then(
      (result) => { send({ type: 'done', result }); process.disconnect(); },
      (e: unknown) => {
        send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
        process.exitCode = 1;
        process.disconnect();
      },
    );
  });
}
