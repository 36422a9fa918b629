/**
 * What one hart's worker holds: its attachment to the shared regions (RAM, ctl), its side
 * of the interrupt wire, its frame allocator, and the dispatch of interrupt kinds.
 * Built once per worker by scheduler/hart-worker.ts; commands and (later) the kernel and
 * scheduler running on this hart receive it.
 */
import type { MessagePort } from 'node:worker_threads';
import { PhysicalMemory } from '../cpu/ram.ts';
import {
  InterruptPort, Mailboxes, MSG_KIND_COMMAND, MSG_KIND_NOP, type MailboxMessage,
} from '../cpu/mailbox.ts';
import { FrameAllocator } from '../kernel/mm/frames.ts';
import {
  attachCtl, hartStatusIndex, HS_STATE, H_STATE, MACHINE_RUNNING, type Ctl,
} from '../kernel/layout.ts';
import { openTraceWriter, type TraceWriter } from '../kernel/lab/trace.ts';
import { advanceTime } from '../cpu/vclock.ts';
import { cyclesNs, INTERRUPT_CYCLES } from '../cpu/cost-model.ts';

const INTERRUPT_NS = cyclesNs(INTERRUPT_CYCLES);

/** Thrown inside a hart to unwind when the machine stops (shutdown or halt); not a failure. */
export class MachineStopped extends Error {
  constructor(hartId: number) {
    super(`hart ${hartId}: machine stopped`);
    this.name = 'MachineStopped';
  }
}

/** The task a hart worker receives (structured-cloned; the SABs are shared). */
export interface HartTask {
  hartId: number;
  ramSab: SharedArrayBuffer;
  ctlSab: SharedArrayBuffer;
  config: { cpus: number; memory: number; root: string; shmDir?: string };
  /** Command channel from the host (transferred). */
  port: MessagePort;
  /** Module URLs imported before the hart reports up; they register extra commands. */
  commandModules: string[];
}

/** Serves one interrupt kind on the receiving hart. */
export type InterruptKindHandler = (ctx: HartContext, msg: MailboxMessage) => void;

export class HartContext {
  readonly hartId: number;
  readonly cpus: number;
  readonly ram: PhysicalMemory;
  readonly ctl: Ctl;
  readonly mailboxes: Mailboxes;
  readonly port: InterruptPort;
  readonly frames: FrameAllocator;
  /**
   * This hart's trace writer (kernel/lab/trace.ts), opened once here: null when the machine was
   * booted without tracing. Every emitter on this hart — kernel (via KernelContext.trace),
   * scheduler, policies, sanitizer — uses this one: a second writer on the ring would corrupt it.
   */
  readonly trace: TraceWriter | null;
  /** Host directory of the guests' files (BootOptions.root). */
  readonly root: string;
  /** Host directory shown as the guests' /dev/shm (the machine's; null: none, /dev/shm then resolves under the root). */
  shmDir: string | null = null;
  /** Commands announced by the host and not yet taken from the command port. */
  commandsAnnounced = 0;
  private readonly handlers = new Map<number, InterruptKindHandler>();
  /** Bound `serve`, for lock and allocator `whileWaiting` callbacks. */
  readonly whileWaiting: () => void;

  /** Attach hart `hartId` to the machine's shared regions. */
  constructor(hartId: number, ramSab: SharedArrayBuffer, ctlSab: SharedArrayBuffer, root: string = process.cwd()) {
    this.hartId = hartId;
    this.root = root;
    this.ram = new PhysicalMemory(ramSab);
    this.ctl = attachCtl(ctlSab);
    this.cpus = this.ctl.layout.cpus;
    this.mailboxes = new Mailboxes(ctlSab, this.ctl.layout.mailboxes, this.cpus);
    this.port = new InterruptPort(this.mailboxes, hartId, (msg) => this.dispatch(msg), () => this.checkRunning());
    this.whileWaiting = () => this.serve();
    this.frames = new FrameAllocator(this.ctl, hartId, this.whileWaiting);
    this.trace = openTraceWriter(this.ctl, hartId);
    this.handlers.set(MSG_KIND_NOP, () => {});
    this.handlers.set(MSG_KIND_COMMAND, (ctx) => { ctx.commandsAnnounced++; });
  }

  /** Install the handler of interrupt `kind` on this hart (replaces any previous one). */
  onInterrupt(kind: number, handler: InterruptKindHandler): void {
    this.handlers.set(kind, handler);
  }

  private dispatch(msg: MailboxMessage): void {
    const h = this.handlers.get(msg.kind);
    if (!h) throw new Error(`hart ${this.hartId}: no handler for interrupt kind ${msg.kind} from ${msg.sender}`);
    advanceTime(INTERRUPT_NS); // delivery and handler entry (deterministic mode only: cpu/vclock.ts)
    h(this, msg);
  }

  /** True while the machine is running (not shut down or halted). */
  running(): boolean {
    return Atomics.load(this.ctl.i32, H_STATE) === MACHINE_RUNNING;
  }

  /** Throws MachineStopped when the machine is no longer running. */
  checkRunning(): void {
    if (!this.running()) throw new MachineStopped(this.hartId);
  }

  /**
   * Serve this hart's mailbox once and throw MachineStopped if the machine stopped. Every
   * wait loop on a hart (locks, acks, futexes) calls this between bounded waits.
   */
  serve(): void {
    if (this.port.anyPending()) this.port.poll(); // interrupts, and broadcast invalidations (cpu/tlb-broadcast.ts)
    this.checkRunning();
  }

  /** Publish this hart's HART_* state in its status block. */
  setStatus(state: number): void {
    Atomics.store(this.ctl.i32, hartStatusIndex(this.ctl.layout, this.hartId, HS_STATE), state);
  }
}
