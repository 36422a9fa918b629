/**
 * Hart commands: named actions the host asks one hart to run (Machine.runOnHart). The same
 * channel later starts the scheduler on each hart. A command runs on the hart's own worker,
 * outside any interrupt handler, one at a time; while it waits for anything it must keep
 * serving the mailbox (ctx.serve / ctx.whileWaiting). Its result is structured-cloned back.
 * An exception thrown by a command is an exception inside the hart: it halts the machine.
 *
 * Extra commands (tests, benchmarks) live in modules that call registerHartCommand at import
 * time; Machine.boot({ commandModules }) makes every hart import them before it reports up.
 */
import { MSG_KIND_NOP } from '../cpu/mailbox.ts';
import type { HartContext } from './hart-context.ts';

export type HartCommand = (ctx: HartContext, args: any) => unknown;

const registry = new Map<string, HartCommand>();

/** Register command `name` (throws if the name is taken: two modules disagree). */
export function registerHartCommand(name: string, fn: HartCommand): void {
  if (registry.has(name)) throw new Error(`registerHartCommand: ${name} is already registered`);
  registry.set(name, fn);
}

/** The command registered as `name`, or undefined. */
export function hartCommand(name: string): HartCommand | undefined {
  return registry.get(name);
}

/** Names of every registered command, sorted. */
export function hartCommandNames(): string[] {
  return [...registry.keys()].sort();
}

// ---- built-in commands ----

/** ping → { hartId }: proves the hart is up and serving commands. */
registerHartCommand('ping', (ctx) => ({ hartId: ctx.hartId }));

/**
 * ipi { targets, rounds = 1, payload? } → { ns: number[] }: send a plain interrupt to every
 * target, wait for all acknowledgements (serving this hart's mailbox), `rounds` times; the
 * round-trip time of each round in nanoseconds.
 */
registerHartCommand('ipi', (ctx, args: { targets: number[]; rounds?: number; payload?: number[] }) => {
  const rounds = args.rounds ?? 1;
  const ns: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const ticket = ctx.port.send(args.targets, MSG_KIND_NOP, args.payload);
    ctx.port.waitForAcks(ticket, 200);
    ns.push(Number(process.hrtime.bigint() - t0));
  }
  return { ns };
});

/** frames.stats → FrameStats of the shared allocator. */
registerHartCommand('frames.stats', (ctx) => ctx.frames.stats());

/** frames.flushCache → returns this hart's cached frames to the pool. */
registerHartCommand('frames.flushCache', (ctx) => {
  ctx.frames.flushCache();
  return null;
});
