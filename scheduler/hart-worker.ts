/**
 * A hart's worker: the piscina task that is one CPU for the machine's whole life.
 * scheduler/hart-entry.mjs loads this module; Machine starts exactly one task per worker.
 *
 * Task life: import the command modules → attach to RAM and ctl → publish HART_UP and tell
 * the host → run hartLoop until the machine stops → publish HART_STOPPED and return (a reset
 * in between parks the hart and starts it again from "attach": see hartMain).
 * An exception escaping hartLoop rejects the task: the host halts the machine naming this hart.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import {
  HART_PARKED, HART_STOPPED, HART_UP, HS_COMMANDS, H_STATE, hartStatusIndex, MACHINE_RESETTING, MACHINE_RUNNING,
} from '../kernel/layout.ts';
import { HartContext, MachineStopped, type HartTask } from './hart-context.ts';
import { hartCommand, hartCommandNames } from './hart-commands.ts';

/** How long (ms) an idle hart blocks before re-checking the machine state. */
export const IDLE_SLICE_MS = 100;

/**
 * A scheduler's step (scheduler/hart-loop.ts installs one when a hart imports it): run one
 * quantum or wait for work — it must block only in bounded waits that end on a mailbox event.
 * Returns true when the loop should go on without idling.
 */
export type SchedulerStep = (ctx: HartContext) => boolean;
let schedulerStep: SchedulerStep | null = null;
/** Install (or remove, with null) this worker's scheduler step. */
export function setSchedulerStep(step: SchedulerStep | null): void {
  schedulerStep = step;
}

/** Host → hart command message (over the task's MessagePort). */
export interface CommandRequest {
  id: number;
  name: string;
  args: unknown;
}
/** Hart → host messages. */
export type HartReply =
  | { type: 'up'; hartId: number }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: string };

const resetHooks: Array<() => void> = [];
/**
 * Register `hook` to run on this worker when the machine resets (scheduler/machine.ts
 * Machine.reset), after the hart left its loop and before it attaches afresh: it must put the
 * module's worker-local state (singletons, module-level variables) back to what a new worker has.
 */
export function onWorkerReset(hook: () => void): void {
  resetHooks.push(hook);
}

/**
 * The task function piscina runs: one hart, until the machine stops. A reset (H_STATE
 * MACHINE_RESETTING) ends one life of the hart — its context dropped, the reset hooks run,
 * HART_PARKED published — and, once the host has restored the boot image and stored RUNNING,
 * starts the next with a new HartContext, as a new worker would.
 */
export default async function hartMain(task: HartTask): Promise<{ hartId: number; commands: number }> {
  for (const url of task.commandModules) await import(url);
  const commands = { served: 0 };
  try {
    for (;;) {
      const ctx = new HartContext(task.hartId, task.ramSab, task.ctlSab, task.config.root);
      ctx.shmDir = task.config.shmDir ?? null;
      ctx.setStatus(HART_UP);
      task.port.postMessage({ type: 'up', hartId: task.hartId } satisfies HartReply);
      try {
        hartLoop(ctx, task.port, commands);
      } catch (e) {
        if (!(e instanceof MachineStopped)) {
          ctx.setStatus(HART_STOPPED);
          throw e;
        }
      }
      const i32 = ctx.ctl.i32;
      if (Atomics.load(i32, H_STATE) !== MACHINE_RESETTING) {
        ctx.setStatus(HART_STOPPED);
        break;
      }
      for (const hook of resetHooks) hook();
      ctx.setStatus(HART_PARKED); // from here until RUNNING this worker touches no shared state
      while (Atomics.load(i32, H_STATE) === MACHINE_RESETTING) Atomics.wait(i32, H_STATE, MACHINE_RESETTING, IDLE_SLICE_MS);
      if (Atomics.load(i32, H_STATE) !== MACHINE_RUNNING) break; // shut down or halted during the reset
    }
  } finally {
    task.port.close();
  }
  return { hartId: task.hartId, commands: commands.served };
}

/**
 * The hart's top-level loop: serve interrupts, run host commands, otherwise block on the
 * mailbox (Atomics.wait on its WAKE word) until an interrupt, a command or shutdown.
 *
 * EXTENSION POINT (scheduler issues): when a run queue exists, pick a runnable thread here and
 * run it in instruction batches, polling `Atomics.load(i32, ctx.port.pendingIndex)` between
 * batches (serve with ctx.port.poll()) and checking ctx.running(); idle only when nothing runs.
 */
export function hartLoop(ctx: HartContext, commandPort: MessagePort, commands: { served: number }): void {
  const i32 = ctx.ctl.i32;
  const served = hartStatusIndex(ctx.ctl.layout, ctx.hartId, HS_COMMANDS);
  while (ctx.running()) {
    if (ctx.port.anyPending()) ctx.port.poll();
    if (ctx.commandsAnnounced > 0) {
      const msg = receiveMessageOnPort(commandPort);
      if (msg) {
        ctx.commandsAnnounced--;
        runCommand(ctx, commandPort, msg.message as CommandRequest);
        commands.served++;
        Atomics.add(i32, served, 1);
        continue;
      }
    }
    if (schedulerStep !== null && schedulerStep(ctx)) continue;
    // The port message may trail its interrupt by a moment: re-check soon when one is announced.
    ctx.port.idle(ctx.commandsAnnounced > 0 ? 1 : IDLE_SLICE_MS);
  }
}

function runCommand(ctx: HartContext, port: MessagePort, req: CommandRequest): void {
  const fn = hartCommand(req.name);
  if (!fn) {
    const error = `runOnHart: unknown command ${req.name} (known: ${hartCommandNames().join(', ')})`;
    port.postMessage({ type: 'result', id: req.id, ok: false, error } satisfies HartReply);
    return;
  }
  let value: unknown;
  try {
    value = fn(ctx, req.args);
  } catch (e) {
    if (e instanceof MachineStopped) throw e;
    const err = e instanceof Error ? e : new Error(String(e));
    throw new Error(`command ${req.name}: ${err.message}`, { cause: err });
  }
  port.postMessage({ type: 'result', id: req.id, ok: true, value } satisfies HartReply);
}
