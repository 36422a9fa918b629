/**
 * Inside the scheduler regions of ctl (kernel/layout.ts places them; this file says what is
 * in them, like kernel/mm/layout.ts for the VM regions). Word indices are Int32 offsets from
 * the start of their record; fields marked f64 are Float64 slots (8-aligned word pairs).
 *
 *   schedHeader  SCHED_HEADER_BYTES     id counters, config words, ENOSYS counts per number
 *   waitBuckets  W x BUCKET_BYTES        wait-channel hash buckets (scheduler/block.ts)
 *   threads      T x THREAD_BYTES        thread records (scheduler/threads.ts)
 *   processes    P x PROC_BYTES          process records (scheduler/process.ts)
 *   runQueues    C x runQueueBytes(T)    per-hart run queues (scheduler/runqueue.ts)
 *   hartSched    C x HART_SCHED_BYTES    per-hart ASID table + scheduler statistics
 *   (T = maxThreads, P = maxProcesses, W = WAIT_BUCKETS, C = cpus)
 *
 * Who writes what, and what guards it:
 * - schedHeader: SH_NEXT_TID / SH_NEXT_PID Atomics.add by any thread; SH_POISON and
 *   SH_QUANTUM/SH_CEILING/SH_BATCH/SH_POLICY/SH_TLB_ENTRIES/SH_SEED/SH_JIT written by the host before threads run (read-only afterwards);
 *   SH_TIMED Atomics.add/sub (threads blocked with a timeout); ENOSYS counts Atomics.add;
 *   SH_OOM_VICTIM compareExchange by the OOM killer (kernel/signal/oom.ts), read by any hart.
 * - waitBuckets: WB_LOCK is a SpinLock; WB_HEAD and the T_WAIT_* fields of the threads on the
 *   bucket's list change only under it.
 * - thread record: T_STATE by compareExchange/store (see scheduler/threads.ts for the state
 *   machine); saved registers (T_X, T_F, T_FCSR, T_PC) are written only by the hart that
 *   owns the thread (T_STATE RUNNING on it, or while creating it) and are handed over by the
 *   Atomics.store of T_STATE/run-queue publication that follows the save.
 * - process record: P_STATE compareExchange; P_THREADS Atomics.add/sub; P_EXIT written
 *   before P_STATE becomes ZOMBIE (Atomics.store + notify: the host waits on P_STATE).
 *   P_PARENT, P_PGID, P_SID, P_FLAGS, P_CPU_DEAD_* and the ZOMBIE → FREE reaping of a guest's
 *   child, only under SH_PROC_LOCK. P_VFORK: set before the child first runs, cleared once by the child.
 * - run queue: RQ_LOCK SpinLock guards RQ_HEAD/RQ_TAIL/ring; RQ_COUNT is Atomics.store'd
 *   under the lock so stealers may read it racily.
 * - hartSched: written only by its own hart (plain stores, racy reads are statistics);
 *   except the shootdown-latency ring, likewise owner-only.
 */

// ---- header (words) ----
export const SCHED_HEADER_BYTES = 4096;
export const SH_NEXT_TID = 0; // last tid handed out (Atomics.add); the host sets INIT_PID at boot (pid 1 is init's)
export const SH_NEXT_PID = 1; // unused: pid = tid of the first thread
export const SH_POISON = 2; // non-zero: poison frames a shootdown frees (test/debug mode)
export const SH_QUANTUM = 3; // instruction budget per quantum
export const SH_CEILING = 4; // shootdown range ceiling (pages); above = whole-ASID flush
export const SH_TIMED = 5; // threads blocked with a deadline
export const SH_BATCH = 6; // instructions per interrupt-poll batch
export const SH_POLICY = 7; // POLICY_*: the shootdown policy every hart installs
export const SH_TLB_ENTRIES = 9; // TLB entries per hart (0: cpu/tlb.ts default); host, before SH_STARTED
export const SH_SEED = 10; // machine seed (0: default) for TLB replacement and getrandom; host, before SH_STARTED
export const SH_JIT = 14; // non-zero: harts translate hot guest code (cpu/jit.ts); host, before SH_STARTED
export const SH_OOM_VICTIM = 11; // pid the OOM killer last sent SIGKILL (0 none); compareExchange (kernel/signal/oom.ts)
export const SH_REALTIME = 12; // f64 (words 12-13): CLOCK_REALTIME - CLOCK_MONOTONIC of the host in ns, one value for every hart; host, before SH_STARTED
export const SH_STARTED = 8; // host sets 1 (Atomics.store, then kicks every hart) after the words above
export const SH_PROC_LOCK = 16; // SpinLock (own cache line): process tree — P_PARENT, zombie reaping, re-parenting
export const POLICY_IPI = 0;
export const POLICY_LOCAL = 1; // local flush only: unsafe with threads on several harts (negative control)
export const SH_ENOSYS = 512; // SYSCALL_SLOTS words: ENOSYS count per syscall number
export const SYSCALL_SLOTS = 512;
/** The pattern poisoned frames are filled with (each 32-bit word). */
export const POISON_WORD = 0xdeadbeef | 0;

// ---- wait buckets ----
export const WAIT_BUCKETS = 256;
export const BUCKET_BYTES = 64; // own cache line
export const WB_LOCK = 0;
export const WB_HEAD = 1; // first thread index on the list, -1 = none

// ---- thread record (words) ----
export const THREAD_BYTES = 704; // every word used: grow it (by 64 bytes) for a new field
export const T_STATE = 0; // TS_*
export const T_TID = 1;
export const T_PROC = 2; // process slot
export const T_AS = 3; // address-space slot
export const T_LAST_HART = 4; // hart that ran it last (-1 never)
export const T_FLAGS = 5; // TF_*
export const T_AFFINITY = 6; // hart it must run on, -1 = any (never stolen when set)
export const T_EXIT = 7; // exit code (thread exit)
export const T_FCSR = 8;
export const T_WAIT_NEXT = 9; // next thread on its wait bucket, -1 = end
export const T_WAIT_BUCKET = 10; // bucket it is linked on, -1 = none
export const T_WAKE_RESULT = 11; // a0 the wake path gives the blocked syscall
export const T_PC = 12; // f64
export const T_WAIT_KEY = 14; // f64: channel key it waits on
export const T_DEADLINE = 16; // f64: ms (kernel/proc/sys-info.ts monotonicMs) of a timed wait, 0 = none
export const T_SWITCHES = 18; // times switched in
export const T_WAIT_BITSET = 19; // futex bitset the thread waits with (-1 = any); under its bucket lock
export const T_CLEAR_TID = 20; // f64: clear_child_tid va (set_tid_address / CLONE_CHILD_CLEARTID), 0 = none; owner hart only
export const T_ROBUST = 22; // f64: robust_list head va (set_robust_list), 0 = none; owner hart only
export const T_ROBUST_LEN = 24; // robust_list head length
export const T_SLEEP = 25; // nanosleep's wait word: never changes, only the timeout or a cancel ends the sleep
export const T_RESTART_DONE = 26; // bytes a restartable syscall moved before it parked (its re-run resumes after them; an interruption returns them); owner, or the waker under the bucket lock
export const T_RESTART_PC = 28; // f64: pc (after the ecall) of the syscall T_RESTART_DONE belongs to
export const T_RESTART_SP = 30; // f64: its sp (a signal handler's syscall at the same libc pc runs on a lower sp)
export const T_X = 32; // 64 words: x[2i] lo, x[2i+1] hi
export const T_F = 96; // 64 words: raw f registers (lo, hi)
export const T_VFORK = 160; // vfork: 1 + process slot of the child this thread waits for (its clone re-runs until the child lets go), 0 none; owner hart only
export const T_COMM = 161; // 4 words: comm (prctl PR_SET_NAME, /proc comm), 15 bytes + NUL; owner hart (set at spawn/clone/exec/prctl)
export const COMM_BYTES = 16;
export const T_VFORK_PID = 165; // vfork: pid of that child (checked against the slot's P_PID); owner hart only
export const T_SLEEP_END = 166; // f64: nanosleep's end (ms, as T_DEADLINE); once interrupted (TF_SLEEP_INTR) the ms that were left. Owner, or the waker under the bucket lock
export const T_SLEEP_REM = 168; // f64: nanosleep's rem va (0: none, or an absolute sleep); owner hart only
export const T_UTIME = 170; // f64: ns this thread ran guest code (kernel/proc/cputime.ts); its hart while RUNNING, zeroed at exit under SH_PROC_LOCK
export const T_STIME = 172; // f64: ns the kernel worked for it (traps); likewise
export const T_NICE = 174; // nice value -20..19 (setpriority; kernel/proc/sys-priority.ts): weights its time slice (scheduler/hart-loop.ts); copied by clone, written under SH_PROC_LOCK
export const T_IOPRIO = 175; // I/O priority (ioprio_set: class << 13 | level; 0 = IOPRIO_CLASS_NONE, the default); copied by clone, written under SH_PROC_LOCK
/** Thread states. */
export const TS_FREE = 0;
export const TS_READY = 1; // on a run queue
export const TS_RUNNING = 2; // current on a hart
export const TS_BLOCKED = 3; // on a wait bucket
export const TS_DEAD = 4; // exited; slot being released
export const TS_EMBRYO = 5; // being created
/** Thread flags. */
export const TF_MIGRATE = 1 << 0; // test mode: every yield moves it to the next hart
export const TF_RESTART = 1 << 1; // blocked in a restartable syscall: a plain wake re-runs the ecall (scheduler/block.ts)
export const TF_SLEEP = 1 << 2; // blocked in nanosleep: the timeout is success (a0 := 0)
export const TF_POLL = 1 << 3; // blocked polling the host (restartable): the timeout re-runs the ecall like a wake
export const TF_SLEEP_INTR = 1 << 5; // a signal ended its nanosleep: before it resumes, the hart writes the time left to T_SLEEP_REM (kernel/proc/sys-proc.ts finishInterruptedSleep)
export const TF_KILLABLE = 1 << 4; // blocked in a killable-only wait (vfork): only a fatal signal interrupts it (kernel/signal/send.ts); owner hart sets/clears it around the wait

// ---- process record (words) ----
export const PROC_BYTES = 128;
export const P_STATE = 0; // PS_*
export const P_PID = 1;
export const P_AS = 2; // address-space slot
export const P_THREADS = 3; // live threads
export const P_EXIT = 4; // exit status as the CLI gives it: code, or 128 + signal
export const P_SIGNAL = 5; // terminating signal, 0 = exited normally
export const P_EXITING = 6; // non-zero once exit_group / a fatal signal started
export const P_CODE = 7; // exit code given to exit_group / the last exit
export const P_FDT = 8; // fd table slot (kernel/fs/fdtable.ts) of the process; -1 none
export const P_PARENT = 9; // parent pid (INIT_PID: the host's processes and orphans). SH_PROC_LOCK
export const P_CHILD_SEQ = 10; // bumped (Atomics.add + wake) when a child becomes a zombie: wait4's wait channel
export const P_EXIT_SIGNAL = 11; // signal sent to the parent at exit (SIGCHLD, or 0)
export const P_PGID = 12; // process group id. SH_PROC_LOCK (setpgid/setsid; read racily by kill)
export const P_SID = 13; // session id. SH_PROC_LOCK
export const P_FLAGS = 14; // bits 0-7: parent-death signal (prctl PR_SET_PDEATHSIG); PF_* above. SH_PROC_LOCK
export const P_VFORK = 15; // 1 while a vfork parent waits for this child to exec or exit, then 0 (Atomics.store + wake: the parent's channel)
export const P_CPU_DEAD_U = 16; // f64: user-mode ns of the process's exited threads (kernel/proc/cputime.ts). SH_PROC_LOCK
export const P_CPU_DEAD_S = 18; // f64: their kernel-mode ns. SH_PROC_LOCK
export const P_CPU_CHILD_U = 20; // f64: user-mode ns of the children this process reaped (and of theirs): RUSAGE_CHILDREN, times' tms_cutime. SH_PROC_LOCK
export const P_CPU_CHILD_S = 22; // f64: their kernel-mode ns (tms_cstime). SH_PROC_LOCK
export const P_MAXRSS = 24; // pages: the peak resident set of the spaces this process left (thread exits, exec): Linux signal->maxrss. Atomics max (sys-rusage.ts foldMaxRss)
export const P_CMAXRSS = 25; // pages: the largest ru_maxrss of the children it reaped (and of theirs): RUSAGE_CHILDREN. SH_PROC_LOCK
export const P_NGROUPS = 26; // supplementary groups (setgroups; each is gid 0, the one group): how many. Copied by fork, kept by exec. SH_PROC_LOCK
/**
 * pid 1 is the kernel's own init (kernel/proc/sys-proc-table.ts): it has no slot and runs no
 * code; the host's processes are its children, orphans are re-parented to it, and the kernel
 * reaps them for it. Tids and pids start at 2.
 */
export const INIT_PID = 1;
export const PF_PDEATHSIG = 0xff; // mask of the parent-death signal in P_FLAGS
export const PF_HOST_REAP = 1 << 8; // spawned by the host API: the host's wait() reaps it, not init
export const PF_SUBREAPER = 1 << 9; // prctl PR_SET_CHILD_SUBREAPER: orphaned descendants are re-parented here
export const PF_EXECED = 1 << 10; // called execve since fork (setpgid by the parent: EACCES)
export const PF_NOT_DUMPABLE = 1 << 11; // prctl PR_SET_DUMPABLE 0
export const PF_NO_NEW_PRIVS = 1 << 12; // prctl PR_SET_NO_NEW_PRIVS (inherited, kept across exec)
export const PF_PERSONA = 0x0ffe_0000; // personality(2) flag bits (ADDR_NO_RANDOMIZE …), stored at their own positions
export const PS_FREE = 0;
export const PS_LIVE = 1;
export const PS_ZOMBIE = 2; // exited; P_EXIT valid until reaped

// ---- run queue (words; one block per hart) ----
export const RQ_LOCK = 0;
export const RQ_COUNT = 16; // own cache line: read racily by stealers
export const RQ_HEAD = 17;
export const RQ_TAIL = 18;
export const RQ_RING = 32; // maxThreads entries (thread indices)
/** Bytes of one hart's run queue for `maxThreads` threads (a multiple of 64). */
export function runQueueBytes(maxThreads: number): number {
  return Math.ceil(((RQ_RING + maxThreads) * 4) / 64) * 64;
}

// ---- per-hart scheduler block (words) ----
export const ASID_SLOTS = 6; // Linux x86 TLB_NR_DYN_ASIDS
export const HS_SLOT_WORDS = 4;
export const HS_SLOTS = 0; // ASID_SLOTS x [AS slot (-1 empty), AS global asid, generation caught up to, hardware ASID]
export const HS_SLOT_AS = 0;
export const HS_SLOT_GASID = 1;
export const HS_SLOT_GEN = 2;
export const HS_SLOT_HW = 3; // hardware ASID in satp: 0 = the slot's own (slot + 1), else the space's global hardware ASID
export const HS_NEXT_SLOT = 24; // round-robin victim
export const HS_LOADED = 25; // ASID slot loaded in satp, -1 none
export const HS_CURRENT = 26; // thread index running, -1 none
/** Statistics (f64 slots from word HS_STATS). Owner-only writes. */
export const HS_STATS = 32;
export const ST_SWITCH_NEW = 0; // switch-in to a new ASID slot: flushed (ASID recycled)
export const ST_SWITCH_RANGE = 1; // one generation behind, range known: range flushed
export const ST_SWITCH_FULL = 2; // behind by more (or range unknown): ASID flushed
export const ST_SWITCH_NONE = 3; // caught up: no flush
export const ST_SD_SENT = 4; // shootdowns this hart initiated with at least one target
export const ST_SD_IPIS = 5; // interrupts sent
export const ST_SD_RECV = 6; // shootdown interrupts received
export const ST_SD_RECV_CURRENT = 7; // ... already caught up: ack without flush
export const ST_SD_RECV_RANGE = 8; // ... exactly one behind: range flush
export const ST_SD_RECV_FULL = 9; // ... behind by more / whole: ASID flush
export const ST_SD_RECV_LAZY = 10; // ... for an AS not loaded: left the active mask, no flush
export const ST_PREEMPT = 11;
export const ST_YIELD = 12;
export const ST_STEAL = 13;
export const ST_IDLE = 14; // idle waits
export const ST_SYSCALLS = 15;
export const ST_FAULTS = 16; // page faults handled
export const ST_QUANTA = 17;
export const ST_BLOCK = 18;
export const ST_WAKE = 19;
export const ST_SD_LOCAL_FULL = 20; // initiator's own slot behind by more: full local flush
export const ST_SD_LAT_N = 21; // latencies recorded (ring position = N % LAT_RING)
// broadcast policy (scheduler/policy-broadcast.ts)
export const ST_BC_ISSUED = 22; // broadcasts issued (invlpgb calls)
export const ST_BC_PAGES = 23; // ... pages they named
export const ST_BC_ASIDS = 24; // ... whole ASIDs they named
export const ST_BC_SYNCS = 25; // tlbsyncs that had to wait
export const ST_BC_SYNC_NS = 26; // ns spent in tlbsync
export const ST_BC_APPLIED = 27; // broadcast entries this hart's hardware applied (published at poll points)
export const ST_BC_FALLBACK = 28; // changes of spaces without a global ASID: flushed by ipi
export const ST_BC_GASIDS = 29; // global ASIDs this hart assigned
export const ST_BC_TRANSITION = 30; // interrupts sent to harts still on a per-hart ASID of a global space
// ipi policy options (scheduler/shootdown-ipi.ts, docs/policies.md "ipi options")
export const ST_SD_EARLY_ACK = 31; // shootdown requests this hart acknowledged before flushing (early-ack)
export const ST_SD_IN_CONTEXT = 32; // ... whose flush it deferred to its return to guest code (in-context)
export const ST_SD_IN_CONTEXT_FLUSH = 33; // deferred flushes applied at a return to guest code
export const ST_SD_RECV_NS = 34; // ns this hart spent in shootdown interrupt handlers (target interrupt time)
export const ST_SD_LINES = 35; // requests sent through consolidated request lines (consolidate)
export const ST_SD_ACK_LATE = 36; // requests flushed before the ack because their change frees page-table pages
export const STAT_SLOTS = 40;
export const STAT_NAMES: readonly string[] = [
  'switch.newAsid', 'switch.range', 'switch.full', 'switch.none',
  'shootdown.sent', 'shootdown.ipis', 'shootdown.recv', 'shootdown.recv.current', 'shootdown.recv.range',
  'shootdown.recv.full', 'shootdown.recv.lazy', 'preempt', 'yield', 'steal', 'idle', 'syscalls', 'faults',
  'quanta', 'block', 'wake', 'shootdown.localFull', 'shootdown.latencies',
  'broadcast.issued', 'broadcast.pages', 'broadcast.asids', 'broadcast.tlbsyncWaits', 'broadcast.tlbsyncNs',
  'broadcast.applied', 'broadcast.fallback', 'broadcast.globalAsids', 'broadcast.transitionIpis',
  'shootdown.earlyAcks', 'shootdown.inContext', 'shootdown.inContextFlushes', 'shootdown.recvNs', 'shootdown.lineRequests',
  'shootdown.lateAcks',
];
/** Shootdown round-trip latencies, ns (f64 ring from word HS_LAT). */
export const HS_LAT = HS_STATS + STAT_SLOTS * 2;
export const LAT_RING = 1024;
export const HART_SCHED_BYTES = (HS_LAT + LAT_RING * 2) * 4;

/** Scheduler capacities (boot config). */
export interface SchedConfig {
  maxThreads: number;
  maxProcesses: number;
}
/** The smallest capacities (a 16 MiB machine still gets these). */
export const SCHED_DEFAULTS: SchedConfig = { maxThreads: 256, maxProcesses: 64 };

/**
 * Capacities for a machine of `frames` RAM frames (DESIGN.md 9: limits sized from --memory):
 * a thread and a process per 16 frames — 4,096 of each at the default 256 MiB (Linux's
 * threads-max is one per 32 frames). Never below SCHED_DEFAULTS.
 */
export function schedConfigFor(frames: number): SchedConfig {
  const n = Math.floor(frames / 16);
  return {
    maxThreads: Math.min(1 << 16, Math.max(SCHED_DEFAULTS.maxThreads, n)),
    maxProcesses: Math.min(1 << 16, Math.max(SCHED_DEFAULTS.maxProcesses, n)),
  };
}

/** Bytes of each scheduler region for `c` and `cpus` harts (layout.ts sizes the regions with these). */
export function schedRegionBytes(c: SchedConfig, cpus: number): {
  schedHeader: number; waitBuckets: number; threads: number; processes: number; runQueues: number; hartSched: number;
} {
  return {
    schedHeader: SCHED_HEADER_BYTES,
    waitBuckets: WAIT_BUCKETS * BUCKET_BYTES,
    threads: c.maxThreads * THREAD_BYTES,
    processes: c.maxProcesses * PROC_BYTES,
    runQueues: cpus * runQueueBytes(c.maxThreads),
    hartSched: cpus * HART_SCHED_BYTES,
  };
}

/** Throws a RangeError naming the field unless the capacities are sane. */
export function validateSchedConfig(c: SchedConfig): void {
  for (const [k, lim] of [['maxThreads', 1 << 16], ['maxProcesses', 1 << 16]] as const) {
    const v = c[k];
    if (!(Number.isInteger(v) && v >= 1 && v <= lim)) throw new RangeError(`sched config: ${k} ${v} must be an integer from 1 to ${lim}`);
  }
}
