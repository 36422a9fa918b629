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
 * destroys the pool. reset() (a machine booted `reusable`) puts it back to the state boot left
 * it in without new workers: see its comment. A task that rejects (an exception inside a hart) halts the machine:
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
  createCtl, hartStatusIndex, HALT_HART_EXCEPTION, HART_PARKED, HART_UP, HS_STATE, H_HALT_HART, H_HALT_REASON, H_STATE,
  MACHINE_HALTED, MACHINE_RESETTING, MACHINE_RUNNING, MACHINE_SHUTDOWN, type Ctl,
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
  /**
   * Keep the boot image (a copy of ctl as boot left it) so that reset() can put the machine
   * back to it: `coherent hunt` runs many seeds on one machine. Costs one ctl-sized copy.
   */
  reusable?: boolean;
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
  /** reset()'s boot image: ctl as boot left it (H_STATE word saying RESETTING), and whether RAM was all zero then. */
  private bootImage: { ctl: Uint8Array; ram: Uint8Array | null } | null = null;
  private resetting = false;

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
    if (options.reusable) m.takeBootImage();
    return m;
  }

  /**
   * The state reset() returns to: ctl now (every hart up, nothing else started: the host writes
   * the scheduler's boot words after this), and RAM — all zero at this point unless a command
   * module wrote it, then copied too.
   */
  private takeBootImage(): void {
    const ctl = new Uint8Array(this.ctl.sab).slice();
    // The copy goes back while the harts wait for H_STATE to leave RESETTING: it must say so.
    new Int32Array(ctl.buffer)[H_STATE] = MACHINE_RESETTING;
    const words = new BigUint64Array(this.ram.sab);
    let zero = true;
    for (let i = 0; i < words.length; i++) if (words[i] !== 0n) { zero = false; break; }
    this.bootImage = { ctl, ram: zero ? null : new Uint8Array(this.ram.sab).slice() };
  }

  /**
   * Put a `reusable` machine back to the state boot left it in, keeping its workers (a boot
   * costs seconds of worker start-up and module loading; this costs a copy of ctl and a clear
   * of RAM): every shared region — frames, page tables, processes, threads, fds, page cache,
   * timers, signals, lab counters, sanitizer reports, trace rings, the baton and virtual time —
   * is the boot image again, the guests' /dev/shm is emptied, and every hart rebuilds its
   * worker-local state (HartContext, scheduler, TLB, translation cache, clocks, getrandom).
   *
   * Protocol: H_STATE RUNNING → RESETTING (every mailbox kicked): each hart abandons what it
   * does at its next check (as for a shutdown), runs its worker reset hooks
   * (scheduler/hart-worker.ts onWorkerReset), publishes HART_PARKED and waits on H_STATE. Once
   * every hart is parked no worker touches shared memory: the host copies the image back,
   * then stores RUNNING and notifies; the harts attach afresh and report up. The caller then
   * starts the machine's software as after boot (scheduler/api.ts resetScheduled).
   *
   * Call it on a quiet machine (no command pending; no guest running — a running guest is
   * abandoned, which is harmless here as everything it touched is overwritten). Rejects, with
   * the machine halted, when a hart does not park or come back within BOOT_TIMEOUT_MS.
   */
  async reset(): Promise<void> {
    const image = this.bootImage;
    if (image === null) throw new Error('reset: the machine was not booted reusable');
    if (this.haltError) throw this.haltError;
    if (this.stopping) throw new Error('reset: machine is shut down');
    if (this.resetting) throw new Error('reset: a reset is under way');
    if (this.pending.size > 0) throw new Error(`reset: ${this.pending.size} host command(s) pending`);
    const i32 = this.ctl.i32;
    this.resetting = true;
    try {
      if (Atomics.compareExchange(i32, H_STATE, MACHINE_RUNNING, MACHINE_RESETTING) !== MACHINE_RUNNING) {
        throw new Error('reset: machine is not running');
      }
      for (let h = 0; h < this.cpus; h++) this.mailboxes.kick(h);
      const end = Date.now() + BOOT_TIMEOUT_MS;
      for (let h = 0; h < this.cpus; h++) {
        const w = hartStatusIndex(this.ctl.layout, h, HS_STATE);
        while (Atomics.load(i32, w) !== HART_PARKED) {
          if (this.haltError) throw this.haltError;
          if (Date.now() > end) {
            this.halt(h, new Error(`reset: hart ${h} did not park within ${BOOT_TIMEOUT_MS} ms`));
            throw this.haltError!;
          }
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      // Every worker is parked: nothing but this thread touches shared memory until RUNNING.
      new Uint8Array(this.ctl.sab).set(image.ctl);
      if (image.ram === null) new Uint8Array(this.ram.sab).fill(0);
      else new Uint8Array(this.ram.sab).set(image.ram);
      for (const name of fs.readdirSync(this.shmDir)) fs.rmSync(path.join(this.shmDir, name), { recursive: true, force: true });
      let timer: NodeJS.Timeout | undefined;
      const up = new Promise<void>((done) => { this.upWaiters = { count: 0, done }; });
      Atomics.store(i32, H_STATE, MACHINE_RUNNING);
      Atomics.notify(i32, H_STATE);
      try {
        await Promise.race([
          up,
          this.halted.then(() => { throw new Error('reset: machine stopped during reset'); }),
          new Promise<void>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`reset: harts not up after ${BOOT_TIMEOUT_MS} ms`)), BOOT_TIMEOUT_MS);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      this.resetting = false;
    }
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
    Atomics.notify(i32, H_STATE); // harts parked by a reset leave too
    void this.stop();
  }

  /** Stop every hart and resolve once all workers are gone. Idempotent; never throws for a halt. */
  shutdown(): Promise<void> {
    if (!this.haltError) {
      Atomics.compareExchange(this.ctl.i32, H_STATE, MACHINE_RUNNING, MACHINE_SHUTDOWN);
      Atomics.compareExchange(this.ctl.i32, H_STATE, MACHINE_RESETTING, MACHINE_SHUTDOWN);
      Atomics.notify(this.ctl.i32, H_STATE); // harts parked by a reset leave too
    }
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
