/**
 * The per-hart scheduling loop, plugged into scheduler/hart-worker.ts's extension point
 * (setSchedulerStep). Importing this module on a hart (Machine.boot({ commandModules }) —
 * scheduler/api.ts does it) installs it.
 *
 * One step:
 *   no current thread → pick: own run queue, else steal from the busiest hart, else block in
 *     Atomics.wait on the mailbox WAKE word (read BEFORE looking at the queues, so an enqueue
 *     or interrupt in between is not lost), bounded by IDLE_SLICE_MS;
 *     switch in: restore registers, scheduler/switch.ts switchIn (satp + generation check);
 *   run the thread for one quantum (SH_QUANTUM instructions) and handle the exit:
 *     EXIT_INTERRUPT → serve the mailbox (shootdowns, reschedule kicks);
 *     EXIT_BUDGET    → preempt: requeue it when another thread waits here, else go on;
 *     EXIT_TRAP      → page fault via kernel/fault.ts (a signal ends the process: 128 + N;
 *                      the ABI layer adds delivery), ecall → kernel/syscall.ts, other traps
 *                      end the process with SIGILL / SIGTRAP / SIGBUS / SIGSEGV.
 * Registers are saved into the thread record on switch-out; the hart keeps the last space
 * loaded while idle (lazy, as Linux), so it stays in that space's active mask until a
 * shootdown finds it elsewhere.
 */
import { writeSync } from 'node:fs';
import { Hart } from '../cpu/hart.ts';
import { MSG_KIND_USER } from '../cpu/mailbox.ts';
import { HART_COUNTER_SLOTS } from '../cpu/counters.ts';
import {
  ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE, CAUSE_BREAKPOINT, CAUSE_ECALL_U, CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_INSTRUCTION_PAGE_FAULT, CAUSE_LOAD_ACCESS_FAULT, CAUSE_LOAD_MISALIGNED, CAUSE_LOAD_PAGE_FAULT,
  CAUSE_STORE_ACCESS_FAULT, CAUSE_STORE_MISALIGNED, CAUSE_STORE_PAGE_FAULT, EXIT_BUDGET, EXIT_INTERRUPT,
} from '../cpu/trap.ts';
import { VirtualAddressSpace } from '../kernel/aspace.ts';
import { KernelContext } from '../kernel/context.ts';
import { handlePageFault } from '../kernel/fault.ts';
import { H_ICACHE_EPOCH, hartCounterIndex } from '../kernel/layout.ts';
import { releaseAddressSpace } from '../kernel/mmap.ts';
import {
  SH_BATCH, SH_POISON, SH_POLICY, SH_QUANTUM, SH_STARTED, ST_BLOCK, ST_FAULTS, ST_IDLE, ST_PREEMPT, ST_QUANTA, ST_STEAL,
  ST_SYSCALLS, ST_WAKE, ST_YIELD, TF_MIGRATE, TS_BLOCKED, TS_DEAD, TS_READY, TS_RUNNING, POLICY_LOCAL, P_PID,
} from '../kernel/sched-layout.ts';
import { dispatchSyscall, NO_RETURN, type SchedOps, type SyscallEnv, type WaitChannel } from '../kernel/syscall.ts';
import { AsidTable, HartSchedBlock } from './asid.ts';
import { WaitQueues } from './block.ts';
import { type HartContext } from './hart-context.ts';
import { IDLE_SLICE_MS, setSchedulerStep } from './hart-worker.ts';
import { isExiting, markExiting, procWord, threadGone } from './process.ts';
import { RunQueues } from './runqueue.ts';
import { ipiPolicy, localOnlyPolicy, MSG_KIND_SHOOTDOWN, poisoning, serveShootdown, type IpiHart } from './shootdown-ipi.ts';
import { switchIn, unloadFreed } from './switch.ts';
import { ThreadTable } from './threads.ts';

/** Mailbox kind "look at your current thread" (its process may be exiting). No payload. */
export const MSG_KIND_RESCHED = MSG_KIND_USER + 1;
export const DEFAULT_QUANTUM = 200_000;
export const DEFAULT_BATCH = 512;
const SIGILL = 4, SIGTRAP = 5, SIGBUS = 7, SIGSEGV = 11;
const WB_MB_WAKE = 1; // cpu/mailbox.ts MB_WAKE

/** The scheduler state of one hart (worker-local; shared state lives in ctl). */
export class HartScheduler implements SchedOps {
  readonly hctx: HartContext;
  readonly hartId: number;
  readonly hart: Hart;
  readonly kctx: KernelContext;
  readonly threads: ThreadTable;
  readonly rq: RunQueues;
  readonly waits: WaitQueues;
  readonly table: AsidTable;
  readonly stats: HartSchedBlock;
  private readonly quantum: number;
  private readonly wakeIndex: number;
  /** Thread running here, -1 none; and its address space. */
  current = -1;
  private as: VirtualAddressSpace | null = null;
  private yieldRequested = false;
  private readonly env: SyscallEnv;

  constructor(hctx: HartContext) {
    this.hctx = hctx;
    this.hartId = hctx.hartId;
    const ctl = hctx.ctl;
    const sh = ctl.layout.schedHeader / 4;
    const ci = hartCounterIndex(ctl.layout, this.hartId, 0);
    this.hart = new Hart({
      hartId: this.hartId, ram: hctx.ram,
      counters: ctl.f64.subarray(ci, ci + HART_COUNTER_SLOTS),
      irq: { word: ctl.i32, index: hctx.port.pendingIndex },
      icacheEpoch: { word: ctl.i32, index: H_ICACHE_EPOCH },
      batch: ctl.i32[sh + SH_BATCH] || DEFAULT_BATCH,
    });
    this.quantum = ctl.i32[sh + SH_QUANTUM] || DEFAULT_QUANTUM;
    this.table = new AsidTable(ctl, this.hartId);
    this.stats = new HartSchedBlock(ctl, this.hartId);
    this.threads = new ThreadTable(ctl);
    this.rq = new RunQueues(ctl, hctx.mailboxes, hctx.whileWaiting);
    this.waits = new WaitQueues(ctl, this.threads, this.rq, hctx.whileWaiting);
    this.wakeIndex = hctx.mailboxes.word(this.hartId, WB_MB_WAKE);
    const table = this.table;
    const hart = this.hart;
    this.kctx = new KernelContext({
      hartId: this.hartId, ram: hctx.ram, ctl, frames: hctx.frames, whileWaiting: hctx.whileWaiting,
      // Kernel code names spaces by their global ASID; this hart tags them with its own.
      tlb: {
        sfenceVma(vaLo, vaHi, asid) {
          if (asid === null) return hart.sfenceVma(vaLo, vaHi, null);
          const i = table.findGlobal(asid);
          if (i >= 0) hart.sfenceVma(vaLo, vaHi, AsidTable.hwAsid(i));
        },
      },
    });
    const ih: IpiHart = { hctx, hart, table, stats: this.stats, running: () => this.current >= 0 };
    const base = ctl.i32[sh + SH_POLICY] === POLICY_LOCAL ? localOnlyPolicy(ih) : ipiPolicy(ih);
    this.kctx.policy = ctl.i32[sh + SH_POISON] ? poisoning(base) : base;
    hctx.onInterrupt(MSG_KIND_SHOOTDOWN, (_c, msg) => serveShootdown(ih, this.kctx, msg));
    hctx.onInterrupt(MSG_KIND_RESCHED, () => {});
    const self = this;
    this.env = {
      kctx: this.kctx,
      get as() { return self.as!; },
      get tid() { return self.threads.tid(self.current); },
      get pid() { return self.pidOf(self.current); },
      sched: this,
      getReg: (i) => hart.getX(i),
      setReg: (i, v) => hart.setX(i, v),
      get pc() { return hart.pc; },
      set pc(v: number) { hart.pc = v; },
    };
  }

  private pidOf(tix: number): number {
    return this.hctx.ctl.i32[procWord(this.hctx.ctl, this.threads.proc(tix), P_PID)]!;
  }

  /** One scheduling step (see the file comment). Always true: the worker loop continues. */
  step(): boolean {
    if (this.current < 0) {
      const seen = Atomics.load(this.hctx.ctl.i32, this.wakeIndex);
      this.waits.expireTimeouts(this.hartId);
      let tix = this.rq.pop(this.hartId);
      if (tix < 0) {
        tix = this.rq.steal(this.hartId);
        if (tix >= 0) this.stats.bump(ST_STEAL);
      }
      if (tix < 0) {
        if (Atomics.load(this.hctx.ctl.i32, this.hctx.port.pendingIndex) !== 0) return true;
        if (this.hctx.commandsAnnounced > 0) return false; // the worker loop waits for the command's message
        this.stats.bump(ST_IDLE);
        Atomics.wait(this.hctx.ctl.i32, this.wakeIndex, seen, this.waits.anyTimed() ? 1 : IDLE_SLICE_MS);
        return true;
      }
      if (!this.switchTo(tix)) return true;
    }
    this.runQuantum();
    return true;
  }

  /** Make `tix` current: reap it if its process is exiting, else restore and switch in. */
  private switchTo(tix: number): boolean {
    if (!this.threads.casState(tix, TS_READY, TS_RUNNING)) throw new Error(`hart ${this.hartId}: picked thread ${tix} is not READY`);
    this.current = tix;
    this.stats.current = tix;
    const as = VirtualAddressSpace.attach(this.kctx, this.threads.asSlot(tix));
    this.as = as;
    if (isExiting(this.hctx.ctl, this.threads.proc(tix))) {
      this.exitCurrent(0);
      return false;
    }
    this.threads.restore(tix, this.hart, this.hartId);
    switchIn(this.hart, this.table, this.stats, as);
    return true;
  }

  private runQuantum(): void {
    const tix = this.current;
    const exit = this.hart.run(this.quantum);
    this.stats.bump(ST_QUANTA);
    if (exit === EXIT_INTERRUPT) {
      this.hctx.port.poll();
    } else if (exit === EXIT_BUDGET) {
      if (this.rq.length(this.hartId) > 0) {
        this.stats.bump(ST_PREEMPT);
        this.switchOut(this.hartId);
        return;
      }
    } else {
      this.trap();
    }
    if (this.current === tix && isExiting(this.hctx.ctl, this.threads.proc(tix))) this.exitCurrent(0);
    if (this.current === tix && this.yieldRequested) {
      this.yieldRequested = false;
      this.stats.bump(ST_YIELD);
      const migrate = (this.threads.flags(tix) & TF_MIGRATE) !== 0;
      const to = migrate ? (this.hartId + 1) % this.hctx.cpus : this.hartId;
      if (migrate) this.threads.setAffinity(tix, to);
      this.switchOut(to);
    }
  }

  /** Save the current thread and queue it on hart `to`. */
  private switchOut(to: number): void {
    const tix = this.current;
    this.threads.save(tix, this.hart);
    this.current = -1;
    this.stats.current = -1;
    this.rq.enqueue(tix, to);
  }

  private trap(): void {
    const h = this.hart;
    const cause = h.cause;
    if (cause === CAUSE_ECALL_U) {
      h.pc += 4;
      this.stats.bump(ST_SYSCALLS);
      dispatchSyscall(this.env);
      return;
    }
    const access = cause === CAUSE_LOAD_PAGE_FAULT ? ACCESS_LOAD : cause === CAUSE_STORE_PAGE_FAULT ? ACCESS_STORE
      : cause === CAUSE_INSTRUCTION_PAGE_FAULT ? ACCESS_FETCH : 0;
    if (access !== 0) {
      this.stats.bump(ST_FAULTS);
      const sig = handlePageFault(this.kctx, this.as!, h.tval, access);
      this.kctx.assertNoStale('page fault');
      if (sig !== null) this.exitGroup(0, sig.signo);
      return;
    }
    const sig = cause === CAUSE_ILLEGAL_INSTRUCTION ? SIGILL : cause === CAUSE_BREAKPOINT ? SIGTRAP
      : cause === CAUSE_LOAD_MISALIGNED || cause === CAUSE_STORE_MISALIGNED ? SIGBUS
      : cause === CAUSE_LOAD_ACCESS_FAULT || cause === CAUSE_STORE_ACCESS_FAULT ? SIGBUS : SIGSEGV;
    this.exitGroup(0, sig);
  }

  /** End the current thread (its registers are dropped). */
  private exitCurrent(code: number): void {
    const tix = this.current;
    const as = this.as!;
    const proc = this.threads.proc(tix);
    this.threads.setExitCode(tix, code);
    this.threads.setState(tix, TS_DEAD);
    this.current = -1;
    this.stats.current = -1;
    this.as = null;
    if (releaseAddressSpace(this.kctx, as) === 0) {
      unloadFreed(this.hart, this.table, as.slot, () => as.clearActive(this.hartId));
    }
    this.threads.free(tix);
    threadGone(this.hctx.ctl, proc, code);
  }

  // ---- SchedOps (kernel/syscall.ts) ----

  exitThread(code: number): typeof NO_RETURN {
    this.exitCurrent(code);
    return NO_RETURN;
  }

  exitGroup(code: number, signal = 0): typeof NO_RETURN {
    const proc = this.threads.proc(this.current);
    if (markExiting(this.hctx.ctl, proc, code, signal)) this.killSiblings(proc, this.current);
    this.exitCurrent(code);
    return NO_RETURN;
  }

  /** Make every other thread of `proc` leave: blocked ones are woken, running ones interrupted. */
  private killSiblings(proc: number, self: number): void {
    const t = this.threads;
    const harts: number[] = [];
    for (let tix = 0; tix < this.hctx.ctl.layout.sched.maxThreads; tix++) {
      if (tix === self || t.proc(tix) !== proc) continue;
      const s = t.state(tix);
      if (s === TS_BLOCKED) this.waits.interrupt(tix, this.hartId);
      else if (s === TS_RUNNING) {
        const h = t.lastHart(tix);
        if (h >= 0 && h !== this.hartId && !harts.includes(h)) harts.push(h);
      }
    }
    if (harts.length) this.hctx.port.send(harts, MSG_KIND_RESCHED, undefined, false);
  }

  yieldAfter(): void {
    this.yieldRequested = true;
  }

  block(chan: WaitChannel, expected: number, timeoutNs?: number): number | typeof NO_RETURN {
    const r = this.waits.block(this.current, this.hart, chan, expected, timeoutNs);
    if (r === NO_RETURN) {
      this.stats.bump(ST_BLOCK);
      this.current = -1;
      this.stats.current = -1;
    }
    return r;
  }

  wake(key: number, count: number): number {
    const n = this.waits.wake(key, count, this.hartId);
    this.stats.bump(ST_WAKE, n);
    return n;
  }

  hostWrite(fd: 1 | 2, bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
  }
}

let scheduler: HartScheduler | null = null;

/** This worker's scheduler (created on first use). */
export function hartScheduler(ctx: HartContext): HartScheduler {
  scheduler ??= new HartScheduler(ctx);
  return scheduler;
}

// Idle as a plain hart until the host has written the scheduler's boot words (bootScheduled).
setSchedulerStep((ctx) => {
  if (scheduler === null && Atomics.load(ctx.ctl.i32, ctx.ctl.layout.schedHeader / 4 + SH_STARTED) === 0) return false;
  return hartScheduler(ctx).step();
});
