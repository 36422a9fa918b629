/**
 * The machine: boot N harts (piscina workers) over shared RAM and ctl, run commands on them,
 * shut them down. The public TypeScript API entry.
 *
 *   const m = await Machine.boot({ cpus: 4, memory: 64 * 2 ** 20 });
 *   await m.runOnHart(1, 'ping');
 *   await m.shutdown();
 *
 * Life cycle: boot validates (nothing starts on bad input), creates RAM and ctl, initialises
 * the allocator and mailboxes, sets MACHINE_RUNNING and starts one long-running task per
 * worker (minThreads = maxThreads = cpus); it resolves when every hart reported up.
 * shutdown() sets MACHINE_SHUTDOWN, kicks every mailbox, waits for the tasks (bounded) and
 * destroys the pool. A task that rejects (an exception inside a hart) halts the machine:
 * MACHINE_HALTED, every hart kicked and torn down, `halted` rejects with an error naming the
 * hart and the cause, and every pending or later runOnHart rejects with it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { PhysicalMemory, RAM_DEFAULT_BYTES, validateRamSize } from '../cpu/ram.ts';
import { Mailboxes, MAILBOX_SENDER_HOST, MSG_KIND_COMMAND } from '../cpu/mailbox.ts';
import { FrameAllocator, type FrameStats } from '../kernel/mm/frames.ts';
import {
  createCtl, hartStatusIndex, HALT_HART_EXCEPTION, HART_UP, HS_STATE, H_HALT_HART, H_HALT_REASON, H_STATE,
  MACHINE_HALTED, MACHINE_RUNNING, MACHINE_SHUTDOWN, type Ctl,
} from '../kernel/layout.ts';
import type { HartTask } from './hart-context.ts';
import { initializeTrace } from '../kernel/lab/trace.ts';
import { validateTraceEvents } from '../kernel/lab/trace-layout.ts';
import type { CommandRequest, HartReply } from './hart-worker.ts';

export const MIN_CPUS = 1;
export const MAX_CPUS = 64;
export const DEFAULT_CPUS = 4;
/** Longest wait for harts to report up, and for tasks to finish at shutdown or halt. */
export const BOOT_TIMEOUT_MS = 60_000;
export const STOP_TIMEOUT_MS = 5_000;

export interface BootOptions {
  /** Harts, 1..64 (default 4). */
  cpus?: number;
  /** RAM bytes: a multiple of 2 MiB from 16 MiB to 4 GiB (default 256 MiB). */
  memory?: number;
  /** URLs of modules every hart imports before it reports up (they register hart commands). */
  commandModules?: string[];
  /** Trace records per hart ring (kernel/lab/trace.ts); 0 (default) = tracing off. */
  traceEvents?: number;
  /** Host directory the guests' files live under (kernel/fs/hostfs.ts HostRoot); default the current directory. */
  root?: string;
}

/** Throws a RangeError naming `cpus` and the allowed range unless it is valid. */
export function validateCpus(cpus: number): void {
  if (!Number.isInteger(cpus) || cpus < MIN_CPUS || cpus > MAX_CPUS) {
    throw new RangeError(`cpus: ${cpus} is not allowed; it must be an integer from ${MIN_CPUS} to ${MAX_CPUS}`);
  }
}

const liveWorkers = new Set<Worker>();
/** Worker threads of every machine in this process that have not exited yet (leak checks). */
export function liveHartThreads(): number {
  return liveWorkers.size;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class Machine {
  readonly cpus: number;
  readonly memory: number;
  readonly ram: PhysicalMemory;
  readonly ctl: Ctl;
  readonly mailboxes: Mailboxes;
  /** Resolves after a clean shutdown; rejects with the halt error when a hart fails. */
  readonly halted: Promise<void>;
  private readonly pool: Piscina;
  private readonly ports: MessagePort[] = [];
  private readonly tasks: Promise<unknown>[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextCommandId = 1;
  private haltError: Error | null = null;
  private stopping: Promise<void> | null = null;
  /** Host directory behind the guests' /dev/shm (created at boot, removed at shutdown). */
  readonly shmDir: string;
  private settleHalted!: { resolve: () => void; reject: (e: Error) => void };
  private upWaiters: { count: number; done: () => void } = { count: 0, done: () => {} };

  private constructor(cpus: number, memory: number, commandModules: string[], traceEvents = 0, root: string = process.cwd()) {
    this.cpus = cpus;
    this.memory = memory;
    // The guests' /dev/shm (shm_open's files): a host directory of this machine's own, mounted
    // there by every hart (kernel/fs/procfs.ts), removed at shutdown.
    this.shmDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coherent-shm-'));
    this.ram = PhysicalMemory.create(memory);
    this.ctl = createCtl({ cpus, frames: this.ram.frames, traceEvents });
    initializeTrace(this.ctl);
    FrameAllocator.initialize(this.ctl);
    Mailboxes.initialize(this.ctl.sab, this.ctl.layout.mailboxes, cpus);
    Mailboxes.initialize(this.ctl.sab, this.ctl.layout.tlbBroadcast, cpus); // cpu/tlb-broadcast.ts queues
    this.mailboxes = new Mailboxes(this.ctl.sab, this.ctl.layout.mailboxes, cpus);
    this.halted = new Promise<void>((resolve, reject) => { this.settleHalted = { resolve, reject }; });
    this.halted.catch(() => {}); // observed through `halted` or the next API call
    Atomics.store(this.ctl.i32, H_STATE, MACHINE_RUNNING);
    this.pool = new Piscina({
      filename: new URL('./hart-entry.mjs', import.meta.url).href,
      minThreads: cpus,
      maxThreads: cpus,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      atomics: 'disabled',
      // Workers would inherit the host's loader flags (under `tsx`, a second loader thread per
      // worker); hart-entry.mjs registers the one loader a hart needs.
      execArgv: [],
      // The kernel owns every host fd it opens and closes it on whichever hart the guest's
      // close runs: a worker must not track "its" fds (Node would print "File descriptor N
      // closed but not opened in unmanaged mode" into the guest's stderr, and close them all
      // when the worker exits).
      trackUnmanagedFds: false,
    });
    for (const w of this.pool.threads) {
      liveWorkers.add(w);
      w.once('exit', () => liveWorkers.delete(w));
    }
    for (let hartId = 0; hartId < cpus; hartId++) {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (m: HartReply) => this.onReply(m));
      this.ports.push(port1);
      const task: HartTask = {
        hartId, ramSab: this.ram.sab, ctlSab: this.ctl.sab, config: { cpus, memory, root, shmDir: this.shmDir }, port: port2, commandModules,
      };
      const t = this.pool.run(task, { transferList: [port2 as any] });
      t.catch((e: unknown) => this.halt(hartId, e));
      this.tasks.push(t);
    }
  }

  /**
   * Boot a machine. Validates first (RangeError naming `cpus` or `memory` and the allowed
   * range; nothing is started), then resolves once every hart is up. Rejects — with the
   * machine torn down — if a hart fails during boot or boot exceeds BOOT_TIMEOUT_MS.
   */
  static async boot(options: BootOptions = {}): Promise<Machine> {
    const cpus = options.cpus ?? DEFAULT_CPUS;
    const memory = options.memory ?? RAM_DEFAULT_BYTES;
    validateCpus(cpus);
    validateRamSize(memory);
    validateTraceEvents(options.traceEvents ?? 0);
    const m = new Machine(cpus, memory, options.commandModules ?? [], options.traceEvents ?? 0, options.root);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((done) => { m.upWaiters = { count: 0, done }; }),
        m.halted.then(() => { throw new Error('Machine.boot: machine stopped during boot'); }),
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Machine.boot: harts not up after ${BOOT_TIMEOUT_MS} ms`)), BOOT_TIMEOUT_MS);
        }),
      ]);
    } catch (e) {
      await m.shutdown();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return m;
  }

  private onReply(m: HartReply): void {
    if (m.type === 'up') {
      if (++this.upWaiters.count === this.cpus) this.upWaiters.done();
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(new Error(m.error));
  }

  /** True when hart `hartId` has published HART_UP (and not stopped). */
  hartUp(hartId: number): boolean {
    return Atomics.load(this.ctl.i32, hartStatusIndex(this.ctl.layout, hartId, HS_STATE)) === HART_UP;
  }

  /**
   * Ask hart `hartId` to run command `name` (see scheduler/hart-commands.ts) with `args`;
   * resolves with its result. Rejects on an unknown command, and with the halt error if the
   * machine halts (or has halted) before the command completes.
   */
  runOnHart<T = unknown>(hartId: number, name: string, args: unknown = null): Promise<T> {
    if (this.haltError) return Promise.reject(this.haltError);
    if (this.stopping) return Promise.reject(new Error('runOnHart: machine is shut down'));
    if (!(Number.isInteger(hartId) && hartId >= 0 && hartId < this.cpus)) {
      return Promise.reject(new RangeError(`runOnHart: no hart ${hartId} (0..${this.cpus - 1})`));
    }
    const id = this.nextCommandId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ports[hartId]!.postMessage({ id, name, args } satisfies CommandRequest);
      const announce = (): void => {
        if (this.stopping) return;
        if (!this.mailboxes.tryPost(hartId, MAILBOX_SENDER_HOST, MSG_KIND_COMMAND, 0, id)) setTimeout(announce, 1);
      };
      announce();
    });
  }

  /** Run `name` on every hart at once; resolves with the results in hart order. */
  runOnAllHarts<T = unknown>(name: string, args: (hartId: number) => unknown = () => null): Promise<T[]> {
    return Promise.all(Array.from({ length: this.cpus }, (_, h) => this.runOnHart<T>(h, name, args(h))));
  }

  /** Frame allocator counters (racy while harts allocate). */
  frameStats(): FrameStats {
    return new FrameAllocator(this.ctl, -1).stats();
  }

  /** The halt error, if a hart halted the machine. */
  get haltReason(): Error | null {
    return this.haltError;
  }

  private halt(hartId: number, cause: unknown): void {
    if (this.haltError || this.stopping) return;
    // A worker's rejection that is not an Error (a plain object after the thread boundary) is
    // shown field by field, not as "[object Object]".
    const msg = cause instanceof Error ? cause.message : inspect(cause, { depth: 4, breakLength: Infinity });
    this.haltError = new Error(`hart ${hartId} halted the machine: ${msg}`, { cause });
    const i32 = this.ctl.i32;
    i32[H_HALT_HART] = hartId;
    i32[H_HALT_REASON] = HALT_HART_EXCEPTION;
    Atomics.store(i32, H_STATE, MACHINE_HALTED);
    void this.stop();
  }

  /** Stop every hart and resolve once all workers are gone. Idempotent; never throws for a halt. */
  shutdown(): Promise<void> {
    if (!this.haltError) Atomics.compareExchange(this.ctl.i32, H_STATE, MACHINE_RUNNING, MACHINE_SHUTDOWN);
    return this.stop();
  }

  private stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (let h = 0; h < this.cpus; h++) this.mailboxes.kick(h);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(this.tasks),
        new Promise((r) => { timer = setTimeout(r, STOP_TIMEOUT_MS); }),
      ]);
      clearTimeout(timer);
      await this.pool.destroy();
      fs.rmSync(this.shmDir, { recursive: true, force: true });
      for (const p of this.ports) p.close();
      const err = this.haltError ?? new Error('runOnHart: machine shut down before the command completed');
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      if (this.haltError) this.settleHalted.reject(this.haltError);
      else this.settleHalted.resolve();
    })();
    return this.stopping;
  }
}
