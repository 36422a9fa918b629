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
 *   deliver its pending signals (kernel/signal/deliver.ts signalsBeforeRun: handler frames,
 *     or the process killed), then run it for what is left of its quantum and handle the exit:
 *     EXIT_INTERRUPT → serve the mailbox (shootdowns, reschedule kicks);
 *     EXIT_BUDGET    → quantum end: requeue it when another thread waits here, else go on;
 *     EXIT_TRAP      → page fault via kernel/mm/fault.ts (an unresolvable one forces SIGSEGV /
 *                      SIGBUS), ecall → kernel/syscall.ts, other traps force SIGILL / SIGTRAP /
 *                      SIGBUS / SIGSEGV (kernel/signal/deliver.ts trapSignal).
 * The quantum (SH_QUANTUM instruction-equivalents) is accounted from switch-in ACROSS traps, as
 * Linux's tick preempts a thread whatever it does: every retired instruction costs 1 and every
 * trap (system call, page fault, other exception) TRAP_COST. A thread that traps all the time
 * (a loop on getppid or clock_gettime, a fault its SIGSEGV handler resolves) therefore reaches
 * the quantum end like any other and is preempted when another thread waits — without this, N
 * such threads froze an N-hart machine: nothing else ran, sleepers never woke, SIGKILL never came.
 * Traced on the hart's writer (hctx.trace): switch-in once a thread is picked, switch-out with
 * its reason (preempt, yield, block, exit).
 * Registers are saved into the thread record on switch-out; the hart keeps the last space
 * loaded while idle (lazy, as Linux), so it stays in that space's active mask until a
 * shootdown finds it elsewhere.
 *
 * The hart also wires the syscall layers to itself: the file syscalls (kernel/fs/sys-fs-register.ts:
 * fd table = the process's P_FDT, the machine's --root, and `waiter`, which parks a blocked
 * thread and re-runs its syscall when woken — a pipe's two ends may share one hart), futex,
 * process syscalls and execve (ProcOps: thread creation, exec's space switch).
 */
import { writeSync } from 'node:fs';
import { Hart } from '../cpu/hart.ts';
import type { TlbConfig } from '../cpu/tlb.ts';
import { resetRandomSeed, setRandomSeed, setRealtimeOffset } from '../kernel/proc/sys-info.ts';
import { MSG_KIND_USER } from '../cpu/mailbox.ts';
import {
  HART_COUNTER_SLOTS, HC_FLUSH_ALL, HC_FLUSH_ASID, HC_FLUSH_PAGE, HC_FLUSH_PAGE_ASID, HC_INSTRET, HC_TRAPS, HC_WALKS,
} from '../cpu/counters.ts';
import { Baton, BATON_VTIME, batonEnabled, IDLE_QUIET, setActiveBaton } from '../cpu/baton.ts';
import { CONTEXT_SWITCH_CYCLES, CPI, cyclesNs, TRAP_CYCLES, workNs } from '../cpu/cost-model.ts';
import { advanceTime, timeNs, useHostTime, useVirtualTime } from '../cpu/vclock.ts';
import {
  ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE, CAUSE_ECALL_U, CAUSE_INSTRUCTION_PAGE_FAULT, CAUSE_LOAD_PAGE_FAULT,
  CAUSE_STORE_PAGE_FAULT, EXIT_BUDGET, EXIT_INTERRUPT,
} from '../cpu/trap.ts';
import { VirtualAddressSpace } from '../kernel/mm/aspace.ts';
import { KernelContext } from '../kernel/context.ts';
import { handlePageFault } from '../kernel/mm/fault.ts';
import { H_ICACHE_EPOCH, hartCounterIndex } from '../kernel/layout.ts';
import { releaseAddressSpace } from '../kernel/mm/mmap.ts';
import { HostRoot } from '../kernel/fs/hostfs.ts';
import type { Waiter } from '../kernel/fs/pipe.ts';
import { fifoWaitDrop, fifoWaitTake } from '../kernel/fs/fifo.ts';
import '../kernel/fs/sys-fs-register.ts'; // file and information syscalls
import '../kernel/proc/futex.ts';
import '../kernel/mm/sys-mm.ts'; // madvise, msync
import '../kernel/mm/sys-mremap.ts'; // mremap
import '../kernel/proc/exec.ts'; // execve
import { setFdTableResolver, setHostRoot, setWaiterFactory } from '../kernel/fs/sys-fs-env.ts';
import { finishInterruptedSleep, setProcOps, type ProcOps } from '../kernel/proc/sys-proc.ts';
import { threadGone } from '../kernel/proc/sys-proc-table.ts';
import '../kernel/signal/sys-signal.ts'; // signal syscalls
import { faultSignal, signalsBeforeRun, trapSignal } from '../kernel/signal/deliver.ts';
import { oomKill } from '../kernel/signal/oom.ts';
import { bindSignalHost, signalsAfterPark, type SignalHost } from '../kernel/signal/send.ts';
import { INJ, inject } from '../kernel/lab/inject.ts';
import { cpuTimersTick, expireTimers } from '../kernel/signal/timers.ts';
import { chargeThread, threadExitCpu } from '../kernel/proc/cputime.ts';
import { foldMaxRss } from '../kernel/proc/sys-rusage.ts';
import { niceOf, sliceQuanta } from '../kernel/proc/sys-priority.ts';
import {
  SH_BATCH, SH_JIT, SH_REALTIME, SH_SEED, SH_TLB_ENTRIES, SH_POISON, SH_POLICY, SH_QUANTUM, SH_STARTED, ST_BLOCK, ST_FAULTS, ST_IDLE, ST_PREEMPT, ST_QUANTA, ST_STEAL,
  ST_SYSCALLS, ST_WAKE, ST_YIELD, TF_MIGRATE, TF_SLEEP_INTR, TS_BLOCKED, TS_DEAD, TS_READY, TS_RUNNING, POLICY_LOCAL, P_AS, P_FDT, P_PID, T_AS,
} from '../kernel/proc/layout.ts';
import {
  dispatchSyscall, NO_RETURN, type BlockOptions, type SchedOps, type SyscallEnv, type WaitChannel,
} from '../kernel/syscall.ts';
import { AsidTable, HartSchedBlock } from './asid.ts';
import { BroadcastUnit } from '../cpu/tlb-broadcast.ts';
import { Mailboxes } from '../cpu/mailbox.ts';
import { LH_BROADCAST } from '../kernel/lab/layout.ts';
import { WaitQueues } from './block.ts';
import { EAGAIN, EINTR } from '../kernel/errno.ts';
import { PARKED } from '../kernel/fs/sys-fs.ts';
import { type HartContext } from './hart-context.ts';
import { IDLE_SLICE_MS, onWorkerReset, setSchedulerStep } from './hart-worker.ts';
import { isExiting, markExiting, procWord } from './process.ts';
import { RunQueues } from './runqueue.ts';
import { installLab, type LabHooks } from './policy-select.ts';
import { switchIn, unloadFreed } from './switch.ts';
import {
  SWITCH_BLOCK, SWITCH_EXIT, SWITCH_PREEMPT, SWITCH_YIELD, traceEmitSwitchIn, traceEmitSwitchOut,
} from '../kernel/lab/trace.ts';
import { ThreadTable } from './threads.ts';

/** Mailbox kind "look at your current thread" (its process may be exiting). No payload. */
export const MSG_KIND_RESCHED = MSG_KIND_USER + 1;
export const DEFAULT_QUANTUM = 200_000;
/** Shortest idle sleep a timer deadline may ask for (ms): the lateness bound of fine-grained timers on an idle hart. */
export const MIN_TIMER_SLEEP_MS = 0.1;
/**
 * What one trap (ecall, page fault, other exception) costs of the quantum, in instructions: about
 * the host time the kernel spends on a cheap system call (getppid, clock_gettime: a few µs)
 * at the interpreter's 50-100 MIPS. Deterministic on purpose (no host clock): a quantum of a
 * given program ends at the same point every run.
 */
export const TRAP_COST = 256;
/**
 * Instructions between two polls of the mailbox's pending word while guest code runs: the
 * delay before a running hart sees a shootdown. 64 is ~0.5-0.8 µs at 80-130 MIPS; the extra
 * poll costs ~1.5% of MIPS against 512 (bench/shootdown.ts, issue 5).
 */
export const DEFAULT_BATCH = 64;
const WB_MB_WAKE = 1; // cpu/mailbox.ts MB_WAKE
/** Deterministic mode, quiescent machine: how often (ms) the baton holder looks for the host's work. */
const QUIET_POLL_MS = 1;

/** The scheduler state of one hart (worker-local; shared state lives in ctl). */
/**
 * The TLB configuration of hart `hartId` from the boot words (0 = default): `entries` as given,
 * and a replacement seed derived from the machine seed so harts differ but runs repeat.
 */
function hartTlbConfig(entries: number, seed: number, hartId: number): Partial<TlbConfig> {
  const c: Partial<TlbConfig> = {};
  if (entries > 0) c.entries = entries;
  if (seed > 0) c.seed = (Math.imul(seed ^ (hartId + 1), 0x9e3779b1) >>> 0) || 1;
  return c;
}

export class HartScheduler implements SchedOps, ProcOps {
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
  /** Policy hooks: poll points and switch-in (scheduler/policy-select.ts). */
  private readonly lab: LabHooks;
  private yieldRequested = false;
  /** What the current thread has left of its quantum (instruction-equivalents; reset at switch-in). */
  private budgetLeft = 0;
  /** Base quanta left of the current thread's turn (its nice's weight, kernel/proc/sys-priority.ts sliceQuanta); preemption only when it reaches 0. */
  private turnQuantaLeft = 1;
  private readonly env: SyscallEnv;
  private readonly signals: SignalHost;
  /** Wake every thread blocked on ctl word `index` (a timerfd's readers, kernel/signal/timers.ts). */
  private readonly wakeWord = (_i32: Int32Array, index: number): void => { this.wake(-1 - index, Infinity); };
  /** How file syscalls block here: park the thread, re-run the syscall when woken. */
  readonly waiter: Waiter;
  readonly cpus: number;
  /** Deterministic mode's baton (cpu/baton.ts); null in parallel mode. */
  private readonly baton: Baton | null = null;
  /** Guest instructions (and trap costs) left in this hart's current deterministic slice. */
  private sliceLeft = 0;
  /** This hart's counters (cpu/counters.ts) and the values already charged to virtual time. */
  private readonly counters: Float64Array;
  private readonly charged = { instret: 0, walks: 0, traps: 0, flushPages: 0, flushAsids: 0 };

  constructor(hctx: HartContext) {
    this.hctx = hctx;
    this.hartId = hctx.hartId;
    const ctl = hctx.ctl;
    const sh = ctl.layout.schedHeader / 4;
    const ci = hartCounterIndex(ctl.layout, this.hartId, 0);
    this.counters = ctl.f64.subarray(ci, ci + HART_COUNTER_SLOTS);
    if (batonEnabled(ctl.sab, ctl.layout.baton)) {
      // Deterministic mode: nothing of this hart's scheduler runs before its first turn.
      const baton = new Baton(ctl.sab, ctl.layout.baton, hctx.cpus, this.hartId, () => hctx.checkRunning());
      baton.acquire();
      this.baton = baton;
      baton.charge = () => this.chargeWork();
      setActiveBaton(baton);
      useVirtualTime(baton.f64, BATON_VTIME / 8, baton.charge);
      this.sliceLeft = baton.sliceLength();
    }
    this.hart = new Hart({
      hartId: this.hartId, ram: hctx.ram,
      counters: ctl.f64.subarray(ci, ci + HART_COUNTER_SLOTS),
      irq: { word: ctl.i32, index: hctx.port.pendingIndex },
      icacheEpoch: { word: ctl.i32, index: H_ICACHE_EPOCH },
      batch: ctl.i32[sh + SH_BATCH] || DEFAULT_BATCH,
      jit: ctl.i32[sh + SH_JIT] !== 0,
      tlb: hartTlbConfig(ctl.i32[sh + SH_TLB_ENTRIES], ctl.i32[sh + SH_SEED] >>> 0, this.hartId),
    });
    if (ctl.i32[sh + SH_SEED] !== 0) setRandomSeed(ctl.i32[sh + SH_SEED] >>> 0);
    if (ctl.f64[(sh + SH_REALTIME) / 2] !== 0) setRealtimeOffset(ctl.f64[(sh + SH_REALTIME) / 2]!);
    this.quantum = ctl.i32[sh + SH_QUANTUM] || DEFAULT_QUANTUM;
    this.cpus = hctx.cpus;
    this.table = new AsidTable(ctl, this.hartId);
    this.stats = new HartSchedBlock(ctl, this.hartId);
    this.threads = new ThreadTable(ctl);
    this.rq = new RunQueues(ctl, hctx.mailboxes, hctx.whileWaiting);
    this.waits = new WaitQueues(ctl, this.threads, this.rq, hctx.whileWaiting);
    this.wakeIndex = hctx.mailboxes.word(this.hartId, WB_MB_WAKE);
    const table = this.table;
    const hart = this.hart;
    this.kctx = new KernelContext({
      hartId: this.hartId, ram: hctx.ram, ctl, frames: hctx.frames, whileWaiting: hctx.whileWaiting, trace: hctx.trace,
      // Kernel code names spaces by their global ASID; this hart tags them with its own.
      tlb: {
        sfenceVma(vaLo, vaHi, asid) {
          if (asid === null) return hart.sfenceVma(vaLo, vaHi, null);
          const i = table.findGlobal(asid);
          if (i >= 0) hart.sfenceVma(vaLo, vaHi, table.hwAsidOf(i));
        },
      },
    });
    // The shootdown policy chosen at boot, its interrupt handlers, the sanitizer (scheduler/policy-select.ts).
    // Broadcast TLB invalidation hardware (--tlb-broadcast; cpu/tlb-broadcast.ts): queue applied by
    // the run loop between batches and by every poll of the interrupt port.
    let bcast: BroadcastUnit | null = null;
    if (ctl.i32[ctl.layout.lab / 4 + LH_BROADCAST] !== 0) {
      const queues = new Mailboxes(ctl.sab, ctl.layout.tlbBroadcast, hctx.cpus, hctx.mailboxes);
      bcast = new BroadcastUnit(queues, hctx.mailboxes, this.hartId, hart, hctx.whileWaiting);
      hart.attachBroadcast(bcast);
      hctx.port.attachBroadcast(bcast);
    }
    this.lab = installLab({ hctx, hart, table, stats: this.stats, kctx: this.kctx, running: () => this.current >= 0, bcast });
    hctx.onInterrupt(MSG_KIND_RESCHED, () => {});
    // Signals (kernel/signal/send.ts): this hart's current thread, waking and kicking threads.
    this.signals = {
      kctx: this.kctx, hart,
      get current() { return self.current; },
      exitGroup: (code, signal) => this.exitGroup(code, signal),
      interrupt: (tix, a0, stillWanted) => this.waits.cancel(tix, a0, this.hartId, undefined, stillWanted),
      kick: (h) => this.hctx.port.send([h], MSG_KIND_RESCHED, undefined, false),
    };
    bindSignalHost(this.signals);
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
    this.waiter = {
      restarts: true,
      wait: (i32, index, seen, done = 0) => {
        const tix = this.current;
        // Before the block: once parked, the thread may already run elsewhere.
        if (done > 0) this.threads.setRestartDone(tix, done, hart.pc, Number(hart.getX(2)));
        const r = this.block({ key: -1 - index, i32, index }, seen, undefined, { restart: true });
        if (r === NO_RETURN) return PARKED;
        if (done > 0) this.threads.setRestartDone(tix, 0, 0, 0);
        return 0; // the word moved already (-EAGAIN): the caller re-checks
      },
      resumed: () => this.threads.takeRestartDone(this.current, hart.pc, Number(hart.getX(2))),
      wake: (_i32, index) => { this.wake(-1 - index, Infinity); },
      wakeKey: (key) => { this.wake(key, Infinity); },
    };
    // A signal or exit that takes a thread off a parked FIFO open drops the end it held (kernel/fs/fifo.ts).
    this.waits.cancelHook = {
      take: (tix) => fifoWaitTake(this.kctx, tix),
      drop: (code) => fifoWaitDrop(this.kctx, code, this.waiter),
    };
    // Wire the file layer and the process syscalls to this hart's scheduler.
    const root = new HostRoot(hctx.root);
    if (hctx.shmDir) root.mount('/dev/shm', hctx.shmDir); // shm_open's directory (kernel/fs/procfs.ts)
    setHostRoot(root);
    setWaiterFactory(() => this.waiter);
    setFdTableResolver(() => ctl.i32[procWord(ctl, this.threads.proc(this.current), P_FDT)]!);
    setProcOps(this);
  }

  /**
   * Deterministic mode: add this hart's work since the last charge (cpu/counters.ts deltas) to
   * virtual time, priced by cpu/cost-model.ts. Called before every clock read and handover.
   */
  private chargeWork(): void {
    const c = this.counters, d = this.charged;
    const instret = c[HC_INSTRET]!, walks = c[HC_WALKS]!, traps = c[HC_TRAPS]!;
    const flushPages = c[HC_FLUSH_PAGE]! + c[HC_FLUSH_PAGE_ASID]!, flushAsids = c[HC_FLUSH_ALL]! + c[HC_FLUSH_ASID]!;
    advanceTime(workNs({
      instret: instret - d.instret, walks: walks - d.walks, traps: traps - d.traps,
      flushPages: flushPages - d.flushPages, flushAsids: flushAsids - d.flushAsids,
    }));
    d.instret = instret; d.walks = walks; d.traps = traps; d.flushPages = flushPages; d.flushAsids = flushAsids;
  }

  /**
   * Deterministic mode, no thread to run here: an idle turn (cpu/baton.ts Baton.idle) reporting
   * the earliest deadline (timers, timed waits); when the whole machine is quiescent, wait for
   * the host's work (a spawn) without taking turns, so the host's timing leaves no trace.
   */
  private idleTurn(baton: Baton, untilTimerNs: number): boolean {
    // A hart with a queued thread or a message has work: it takes a turn before the machine is idle.
    for (let h = 0; h < this.cpus; h++) {
      if (this.rq.length(h) > 0 || this.hctx.mailboxes.pending(h) > 0) baton.notIdle(h);
    }
    let deadline = untilTimerNs === Infinity ? Infinity : timeNs() + untilTimerNs;
    if (this.waits.anyTimed()) deadline = Math.min(deadline, this.waits.earliestDeadlineMs() * 1e6);
    if (baton.idle(deadline) !== IDLE_QUIET) {
      this.stats.bump(ST_IDLE);
      return true;
    }
    const i32 = this.hctx.ctl.i32;
    for (;;) {
      const seen = Atomics.load(i32, this.wakeIndex);
      if (this.hctx.port.anyPending() || this.hctx.commandsAnnounced > 0) return true;
      // A queued thread or a message (a host command) anywhere: an idle turn hands the baton to its hart.
      for (let h = 0; h < this.cpus; h++) if (this.rq.length(h) > 0 || this.hctx.mailboxes.pending(h) > 0) return true;
      Atomics.wait(i32, this.wakeIndex, seen, QUIET_POLL_MS);
      this.hctx.checkRunning();
    }
  }

  private pidOf(tix: number): number {
    return this.hctx.ctl.i32[procWord(this.hctx.ctl, this.threads.proc(tix), P_PID)]!;
  }

  /** One scheduling step (see the file comment). Always true: the worker loop continues. */
  step(): boolean {
    this.lab.poll(this.current >= 0 ? this.as : null); // a poll point (deferred policy, statistics)
    if (this.current < 0) {
      const seen = Atomics.load(this.hctx.ctl.i32, this.wakeIndex);
      this.waits.expireTimeouts(this.hartId);
      const untilTimerNs = expireTimers(this.kctx, this.wakeWord); // alarms, POSIX timers, timerfds (kernel/signal/timers.ts)
      let tix = this.rq.pop(this.hartId);
      if (tix < 0) {
        tix = this.rq.steal(this.hartId);
        if (tix >= 0) this.stats.bump(ST_STEAL);
      }
      if (tix < 0) {
        if (this.hctx.port.anyPending()) return true;
        if (this.hctx.commandsAnnounced > 0) return false; // the worker loop waits for the command's message
        if (this.baton !== null) return this.idleTurn(this.baton, untilTimerNs);
        this.stats.bump(ST_IDLE);
        // Sleep until woken, the next timed wait's check (1 ms) or the earliest timer deadline —
        // at least MIN_TIMER_SLEEP_MS, so a microsecond-period timer cannot make an idle hart spin.
        const sliceMs = Math.min(this.waits.anyTimed() ? 1 : IDLE_SLICE_MS, Math.max(MIN_TIMER_SLEEP_MS, untilTimerNs / 1e6));
        Atomics.wait(this.hctx.ctl.i32, this.wakeIndex, seen, sliceMs);
        return true;
      }
      if (!this.switchTo(tix)) return true;
    }
    this.runQuantum();
    if (this.baton !== null && this.sliceLeft <= 0) { // deterministic mode: a slice ended, a switch point
      this.baton.sliceEnd();
      this.sliceLeft = this.baton.sliceLength();
    }
    return true;
  }

  /** Make `tix` current: reap it if its process is exiting, else restore and switch in. */
  private switchTo(tix: number): boolean {
    if (!this.threads.casState(tix, TS_READY, TS_RUNNING)) throw new Error(`hart ${this.hartId}: picked thread ${tix} is not READY`);
    this.current = tix;
    this.stats.current = tix;
    const as = VirtualAddressSpace.attach(this.kctx, this.threads.asSlot(tix));
    this.as = as;
    // Its run slice starts here (an exiting process's thread is reaped at once: switch-out "exit").
    traceEmitSwitchIn(this.hctx.trace, this.threads.tid(tix), this.pidOf(tix), as.asid);
    if (isExiting(this.hctx.ctl, this.threads.proc(tix))) {
      this.exitCurrent(0);
      return false;
    }
    this.threads.restore(tix, this.hart, this.hartId);
    this.startTurn(tix);
    advanceTime(cyclesNs(CONTEXT_SWITCH_CYCLES)); // deterministic mode only (cpu/vclock.ts)
    this.lab.beforeSwitchIn(as);
    switchIn(this.hart, this.table, this.stats, as, this.hctx.trace);
    this.lab.afterSwitchIn(as, this.pidOf(tix), this.threads.tid(tix));
    if (this.threads.flags(tix) & TF_SLEEP_INTR) { // a signal ended its nanosleep: rem first, then the handler
      const r = finishInterruptedSleep(this.kctx, as, tix);
      if (r < 0) this.hart.setX(10, BigInt(r));
    }
    return true;
  }

  private runQuantum(): void {
    const tix = this.current;
    if (!signalsBeforeRun(this.signals, tix, this.as!)) return; // pending signals: handler frames, or killed
    const ctl = this.hctx.ctl;
    const proc = this.threads.proc(tix);
    const before = this.hart.instret;
    const baton = this.baton;
    if (baton !== null) baton.progress();
    const t0 = performance.now();
    this.lab.beforeUser(this.as!); // the return to guest code: flushes owed in context (ipi in-context)
    const exit = this.hart.run(baton === null ? this.budgetLeft : Math.max(1, Math.min(this.budgetLeft, this.sliceLeft)));
    const t1 = performance.now();
    // CPU time (kernel/proc/cputime.ts): guest code ... (deterministic mode: the cost model's)
    const userNs = baton === null ? (t1 - t0) * 1e6 : cyclesNs(CPI, this.hart.instret - before);
    chargeThread(ctl, tix, userNs, 0);
    let sysNs = 0;
    this.budgetLeft -= this.hart.instret - before;
    if (baton !== null) this.sliceLeft -= this.hart.instret - before + (exit === EXIT_INTERRUPT || exit === EXIT_BUDGET ? 0 : TRAP_COST);
    this.stats.bump(ST_QUANTA);
    if (exit === EXIT_INTERRUPT) {
      this.hctx.port.poll();
    } else if (exit !== EXIT_BUDGET) {
      this.budgetLeft -= TRAP_COST;
      this.trap();
      if (this.current === tix) { // ... and the kernel's work for it (not when it left the hart: another may run it now)
        sysNs = baton === null ? (performance.now() - t1) * 1e6 : cyclesNs(TRAP_CYCLES);
        chargeThread(ctl, tix, 0, sysNs);
      }
    }
    cpuTimersTick(this.kctx, proc, userNs, sysNs); // ITIMER_VIRTUAL / ITIMER_PROF (kernel/signal/timers.ts)
    // The quantum is over, whether it ended in guest code or in the kernel (a trap).
    if (this.current === tix && this.budgetLeft <= 0 && this.quantumEnd()) return;
    if (this.current === tix && isExiting(this.hctx.ctl, this.threads.proc(tix))) this.exitCurrent(0);
    if (this.current === tix && this.yieldRequested) {
      this.yieldRequested = false;
      this.stats.bump(ST_YIELD);
      const migrate = (this.threads.flags(tix) & TF_MIGRATE) !== 0;
      const to = migrate ? (this.hartId + 1) % this.hctx.cpus : this.hartId;
      if (migrate) this.threads.setAffinity(tix, to);
      this.switchOut(to, SWITCH_YIELD);
      return;
    }
  }

  /**
   * The current thread used up its quantum: end due sleeps and timed waits, then preempt it
   * (true) when another thread waits on this hart's queue; else it starts a fresh quantum here.
   */
  private quantumEnd(): boolean {
    this.waits.expireTimeouts(this.hartId); // a busy hart still ends sleeps and timed waits
    expireTimers(this.kctx, this.wakeWord); // ... and fires due timers
    if (--this.turnQuantaLeft > 0) { // a negative nice's turn is several quanta (timers still checked at each)
      this.budgetLeft = this.quantum;
      return false;
    }
    if (this.rq.length(this.hartId) > 0) {
      this.stats.bump(ST_PREEMPT);
      this.switchOut(this.hartId, SWITCH_PREEMPT);
      return true;
    }
    this.startTurn(this.current);
    return false;
  }

  /**
   * Start thread `tix`'s turn: CFS's weight for its nice in base quanta (setpriority,
   * kernel/proc/sys-priority.ts): nice 0 one quantum; a positive nice a fraction of one; a
   * negative nice several, at the end of each of which timers are still served.
   */
  private startTurn(tix: number): void {
    const q = sliceQuanta(niceOf(this.hctx.ctl, tix));
    this.turnQuantaLeft = Math.max(1, Math.round(q));
    this.budgetLeft = q < 1 ? Math.max(1, Math.floor(this.quantum * q)) : this.quantum;
  }

  /** Save the current thread and queue it on hart `to`; `reason` SWITCH_PREEMPT or SWITCH_YIELD (traced). */
  private switchOut(to: number, reason: number): void {
    const tix = this.current;
    traceEmitSwitchOut(this.hctx.trace, reason);
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
      if (sig !== null && sig.oom === true && oomKill(this.kctx, this.threads.proc(this.current))) {
        this.yieldAfter(); // out of memory: a victim was killed (or is dying); retry the access later
        return;
      }
      if (sig !== null) faultSignal(this.kctx, this.current, sig); // delivered before the thread runs again
      return;
    }
    trapSignal(this.kctx, this.current, cause, h.tval, h.pc); // SIGILL, SIGTRAP, SIGBUS, SIGSEGV (kernel/signal/deliver.ts)
  }

  /** End the current thread (its registers are dropped). */
  private exitCurrent(code: number): void {
    const tix = this.current;
    traceEmitSwitchOut(this.hctx.trace, SWITCH_EXIT);
    const as = this.as!;
    const proc = this.threads.proc(tix);
    threadExitCpu(this.kctx, proc, tix); // its CPU time stays with the process (kernel/proc/cputime.ts)
    foldMaxRss(this.hctx.ctl, proc, as.residentPeak); // and the peak of the space it leaves (ru_maxrss)
    this.threads.setExitCode(tix, code);
    this.threads.setState(tix, TS_DEAD);
    this.current = -1;
    this.stats.current = -1;
    this.as = null;
    if (releaseAddressSpace(this.kctx, as) === 0) {
      unloadFreed(this.hart, this.table, as.slot, () => as.clearActive(this.hartId));
    }
    this.threads.free(tix);
    threadGone(this.kctx, proc, code, this.waiter, (key) => { this.wake(key, Infinity); });
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
      // The slot may be freed and reused by another process's thread before the interrupt
      // takes the wait queue's lock: end the wait only if it is still one of proc's.
      if (s === TS_BLOCKED) this.waits.cancel(tix, -EINTR, this.hartId, undefined, () => t.proc(tix) === proc);
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

  block(chan: WaitChannel, expected: number, timeoutNs?: number, o?: BlockOptions): number | typeof NO_RETURN {
    const tix = this.current;
    inject(this.hctx.ctl, INJ['sched.before-park']);
    const r = this.waits.block(tix, this.hart, chan, expected, timeoutNs, o);
    if (r === NO_RETURN) {
      traceEmitSwitchOut(this.hctx.trace, SWITCH_BLOCK);
      this.stats.bump(ST_BLOCK);
      this.current = -1;
      this.stats.current = -1;
      signalsAfterPark(this.kctx, tix); // a signal that came between the syscall's check and the park
    }
    return r;
  }

  wake(key: number, count: number, bitset = -1): number {
    const n = this.waits.wake(key, count, this.hartId, bitset);
    this.stats.bump(ST_WAKE, n);
    return n;
  }

  requeue(from: WaitChannel, expected: number | null, to: number, nrWake: number, nrRequeue: number): number {
    const n = this.waits.requeue(from, expected, to, nrWake, nrRequeue, this.hartId);
    return n;
  }

  // ---- ProcOps (kernel/proc/sys-proc.ts) ----

  currentThread(): number {
    return this.current;
  }

  currentProc(): number {
    return this.threads.proc(this.current);
  }

  newThread(proc: number, asSlot: number, sp: number | null, tp: number | null): number {
    const t = this.threads;
    const tix = t.alloc(proc, asSlot);
    if (tix < 0) return -EAGAIN;
    t.save(tix, this.hart); // the caller's registers; pc is already past the ecall
    t.setReg(tix, 10, 0n);
    if (sp !== null) t.setReg(tix, 2, BigInt(sp));
    if (tp !== null) t.setReg(tix, 4, BigInt(tp));
    return tix;
  }

  startThread(tix: number): void {
    this.rq.enqueue(tix, this.rq.leastLoaded(this.hartId + 1)); // ties: another hart, so the child starts at once
  }

  dropThread(tix: number): void {
    this.threads.free(tix);
  }

  replaceSpace(as: VirtualAddressSpace): void {
    const ctl = this.hctx.ctl;
    const old = this.as!;
    foldMaxRss(ctl, this.currentProc(), old.residentPeak); // exec: ru_maxrss keeps the old image's peak (Linux)
    ctl.i32[this.threads.w(this.current, T_AS)] = as.slot;
    ctl.i32[procWord(ctl, this.currentProc(), P_AS)] = as.slot;
    this.as = as;
    if (releaseAddressSpace(this.kctx, old) === 0) {
      unloadFreed(this.hart, this.table, old.slot, () => old.clearActive(this.hartId));
    }
    // The same switch-in as switchTo's, policy and sanitizer hooks included: the observer must
    // check the new program against the new space (slot, root), not the one just released.
    this.lab.beforeSwitchIn(as);
    switchIn(this.hart, this.table, this.stats, as, this.hctx.trace);
    this.lab.afterSwitchIn(as, this.pidOf(this.current), this.threads.tid(this.current));
  }

  /**
   * Write all of `bytes` to the host's stdout/stderr. The host fd may be non-blocking (Node sets
   * its own stdio pipes so): EAGAIN means "full", and the guest's blocking write waits for room
   * (1 ms sleeps) as it would on Linux, instead of failing with an errno it never asked for.
   * Other errors (EPIPE) propagate to the caller.
   */
  hostWrite(fd: 1 | 2, bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length;) {
      try {
        off += writeSync(fd, bytes, off, bytes.length - off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        Atomics.wait(hostWriteSleeper, 0, 0, 1);
      }
    }
  }
}

const hostWriteSleeper = new Int32Array(new SharedArrayBuffer(4));
let scheduler: HartScheduler | null = null;

/** This worker's scheduler (created on first use). */
export function hartScheduler(ctx: HartContext): HartScheduler {
  scheduler ??= new HartScheduler(ctx);
  return scheduler;
}

// A machine reset (scheduler/machine.ts Machine.reset): the next life of this hart starts a new
// scheduler from the boot words, as a new worker would — its baton, clock, getrandom stream and
// signal binding too (the rest of the worker-local state hangs off the HartContext, rebuilt).
onWorkerReset(() => {
  scheduler = null;
  setActiveBaton(null);
  useHostTime();
  resetRandomSeed();
  bindSignalHost(null);
});

// Idle as a plain hart until the host has written the scheduler's boot words (bootScheduled).
setSchedulerStep((ctx) => {
  if (scheduler === null && Atomics.load(ctx.ctl.i32, ctx.ctl.layout.schedHeader / 4 + SH_STARTED) === 0) return false;
  return hartScheduler(ctx).step();
});
