/**
 * Layout of the control SharedArrayBuffer ("ctl"): every piece of kernel and hardware
 * state that two harts can touch, except RAM itself (cpu/ram.ts) and what lives in RAM
 * frames (page tables, region lists). This module is the only place that knows where things are.
 *
 * Capacities are sized from --memory (frames F) at boot, never fixed small constants
 * (DESIGN.md 9): vmConfigFor, schedConfigFor and fsConfigFor give each table's default for F
 * (4,096 processes, threads, address spaces and fd tables at 256 MiB); LayoutConfig may
 * override them. Per-process limits (RLIMIT_*) live in each file context (kernel/fs/layout.ts).
 *
 *   offset (computed from cpus C and frames F; B = F / 512 blocks)
 *   +--------------------------------------------+ 0
 *   | header           HEADER_BYTES              |  magic, config, machine state, halt, icache epoch
 *   +--------------------------------------------+ frameRefcount
 *   | frame refcounts  F x int32                 |  per-frame reference count (COW sharers)
 *   +--------------------------------------------+ frameNext
 *   | frame links      F x int32                 |  next free frame in its block's free list
 *   +--------------------------------------------+ frameState
 *   | frame states     F x int32                 |  FRAME_* (free / cached / allocated / huge / reserved)
 *   +--------------------------------------------+ blockTable
 *   | block table      B x BLOCK_BYTES           |  per 2 MiB block: state, free count, lists
 *   +--------------------------------------------+ allocator
 *   | allocator state  ALLOCATOR_BYTES           |  pool lock (own line), counts, list heads
 *   +--------------------------------------------+ hartCaches
 *   | frame caches     C x HART_CACHE_BYTES      |  per-hart cache of free frames
 *   +--------------------------------------------+ mailboxes
 *   | mailboxes        C x MAILBOX_BYTES         |  cpu/mailbox.ts: the interrupt wire (ring + request lines)
 *   +--------------------------------------------+ hartStatus
 *   | hart status      C x HART_STATUS_BYTES     |  per-hart state word, command count
 *   +--------------------------------------------+ hartCounters
 *   | hart counters    C x HART_COUNTER_BYTES    |  cpu/counters.ts HC_* float64 slots
 *   +--------------------------------------------+ scratch
 *   | scratch          SCRATCH_BYTES             |  lock tests and benchmarks only
 *   +--------------------------------------------+ vmHeader        (kernel/mm/layout.ts has the fields
 *   | VM header        VM_HEADER_BYTES           |  kernel tables,   of the five VM regions and who
 *   +--------------------------------------------+ asTable          writes each, under what lock)
 *   | address spaces   S x AS_BYTES              |  VirtualAddressSpace descriptors (mmap lock, root, tlb_generation,
 *   +--------------------------------------------+ files             region-list header; the records are in RAM frames)
 *   | files            F x FILE_BYTES            |  page-cache file objects
 *   +--------------------------------------------+ pageCache
 *   | page cache       P x PC_BYTES              |  (file, page) -> frame hash table
 *   +--------------------------------------------+ traceRings      (kernel/lab/trace-layout.ts has the
 *   | trace rings      C x traceRingBytes(E)     |  per-hart event   record and ring-header fields)
 *   +--------------------------------------------+ schedHeader     (kernel/proc/layout.ts has the
 *   | scheduler header SCHED_HEADER_BYTES        |  ids, config,     fields of the six scheduler
 *   +--------------------------------------------+ waitBuckets       regions and who writes each)
 *   | wait buckets     W x BUCKET_BYTES          |  wait-channel hash buckets (block/wake)
 *   +--------------------------------------------+ threads
 *   | threads          T x THREAD_BYTES          |  thread records: state, saved registers, pc
 *   +--------------------------------------------+ processes
 *   | processes        P x PROC_BYTES            |  process records: pid, address space, exit status
 *   +--------------------------------------------+ runQueues
 *   | run queues       C x runQueueBytes(T)      |  per-hart ready rings under a SpinLock
 *   +--------------------------------------------+ hartSched
 *   | hart scheduler   C x HART_SCHED_BYTES      |  per-hart ASID table, statistics, latencies
 *   +--------------------------------------------+ fdTables        (kernel/fs/layout.ts has the
 *   | file contexts    D x FDT_BYTES             |  fd tables, cwd,  fields of the three file
 *   +--------------------------------------------+ ofiles            regions and who writes each)
 *   | open files       O x OFILE_BYTES           |  open file descriptions: kind, offset, refs
 *   +--------------------------------------------+ pipes
 *   | pipes            N x PIPE_BYTES            |  64 KiB ring buffer per pipe
 *   +--------------------------------------------+ sigProcs        (kernel/signal/layout.ts has the
 *   | signal processes P x SIGPROC_BYTES         |  action tables,   fields of the two signal
 *   +--------------------------------------------+ sigThreads        regions and who writes each)
 *   | signal threads   T x SIGTHREAD_BYTES       |  masks, pending sets, altstacks, siginfos
 *   +--------------------------------------------+ lab             (kernel/lab/layout.ts has the fields)
 *   | coherence lab    labRegionBytes(C)         |  change seq + ring, sanitizer reports, epochs, stats
 *   +--------------------------------------------+ frameGen
 *   | frame generations F x int32                |  per-frame count of frees (the sanitizer's ABA check)
 *   +--------------------------------------------+ procInfo        (kernel/fs/layout.ts PI_*)
 *   | process info     P x PROCINFO_BYTES        |  /proc/<pid>: exe path, argument bounds, start time
 *   +--------------------------------------------+ timers          (kernel/signal/layout.ts has the fields)
 *   | timers           timerRegionBytes(T)       |  ITIMER_REAL, POSIX timers, timerfds: deadlines, signals
 *   +--------------------------------------------+ pollio          (kernel/fs/layout.ts pollioLayout has the parts)
 *   | pollio           pollioLayout(fs, T).bytes |  poll buckets, poll records, eventfds, socket pairs, epolls,
 *   |                                            |  FIFO records and per-thread FIFO open waits
 *   +--------------------------------------------+ fileLocks       (kernel/fs/layout.ts LK_*)
 *   | file locks       header + 2 O x 64 bytes   |  flock and fcntl record locks, one SpinLock
 *   +--------------------------------------------+ frameClean
 *   | frame clean epochs F x 2 int32             |  per-frame count of D-bit cleans begun / completed
 *   +--------------------------------------------+ tlbBroadcast
 *   | broadcast queues C x MAILBOX_BYTES         |  cpu/tlb-broadcast.ts: per-hart invalidation queue + completion counter
 *   +--------------------------------------------+ baton           (cpu/baton.ts has the fields)
 *   | baton            batonRegionBytes(C)       |  deterministic mode: holder, schedule state, virtual time,
 *   |                                            |  per-hart GO word and pct priority
 *   +--------------------------------------------+ <- APPEND POINT: a new region goes here —
 *   |                                            |    add a field to CtlLayout, a region in
 *   |                                            |    computeLayout/layoutRegions, a line in
 *   +--------------------------------------------+    this map, and who writes it below.
 *
 * Who writes what, and what guards it:
 * - header: H_MAGIC/H_VERSION/H_CPUS/H_FRAMES/H_RESERVED_FRAMES written once by the host before
 *   any worker starts (ordered by worker start-up). H_STATE: host (RUNNING, SHUTDOWN, HALTED,
 *   RESETTING and back to RUNNING: Machine.reset)
 *   and a failing hart (HALTED) via Atomics.compareExchange; everyone reads it with
 *   Atomics.load; a change is followed by a kick of every mailbox. H_HALT_HART/H_HALT_REASON:
 *   written by the host (it learns of a hart's exception from the task promise) before it
 *   moves H_STATE to HALTED. H_ICACHE_EPOCH: Atomics.add by any hart that
 *   changes code pages (fence.i), read by every hart's decode cache.
 * - frame refcounts: Atomics.add/sub by any hart (no lock; the count is the synchronisation).
 *   Set to 1 by the allocator when it hands a frame out, 0 when it takes it back.
 * - frame links, block table, allocator words (except counters marked atomic): only under
 *   the pool SpinLock at A_LOCK.
 * - frame states: FRAME_ALLOCATED <-> FRAME_CACHED transitions by Atomics.compareExchange by the
 *   frame's user/owner hart (double frees fail the CAS); every other transition under the pool lock.
 * - hart caches, hart status, hart counters: written by the owning hart only (plain stores;
 *   racy reads by others are statistics). HS_STATE is Atomics.store'd.
 * - mailboxes: see cpu/mailbox.ts (lock-free; Atomics throughout).
 * - scratch: whatever the test or benchmark using it says.
 * - VM regions (S, R, F, P = LayoutConfig.vm capacities, in header words H_VM_*): the mmap
 *   lock of each address space guards its descriptor's mapping fields and its region list;
 *   the page-cache SpinLock guards files and page cache; tlb_generation is Atomics-only.
 *   Field by field: kernel/mm/layout.ts.
 * - trace rings (E = LayoutConfig.traceEvents records per hart, 0 = tracing off; header word
 *   H_TRACE_EVENTS): each ring's records and head are written only by its hart (single writer,
 *   no lock; the head is published with Atomics.store after the record); the host writes each
 *   ring header once before workers start. Field by field: kernel/lab/trace-layout.ts.
 * - scheduler regions (T, P = LayoutConfig.sched capacities, header words H_SCHED_*): wait
 *   buckets under their SpinLocks, run queues under theirs, threads and processes by the state
 *   protocols of scheduler/threads.ts and scheduler/process.ts, hartSched owner-only.
 *   Field by field: kernel/proc/layout.ts.
 * - file regions (D, O, N = LayoutConfig.fs capacities, header words H_FS_*): each fd table under its own SpinLock (FDT_LOCK), each
 *   open file's offset under its OF_LOCK, each pipe under its PP_LOCK; reference counts and
 *   slot states Atomics-only. Field by field: kernel/fs/layout.ts.
 * - signal regions (same slots as the process and thread tables): each process's SpinLock
 *   SP_LOCK guards its record and its threads' records, except the Atomics-only wake-up words.
 *   Field by field: kernel/signal/layout.ts.
 * - lab: change/report rings claimed by Atomics.add and published by a tag store; per-hart
 *   epochs Atomics by their owner; statistics owner-only. Field by field: kernel/lab/layout.ts.
 * - process info: each record written by its process's own thread (exec) or its creator before
 *   the process first runs (spawn, fork); read racily by /proc readers (kernel/fs/layout.ts PI_*).
 * - pollio: poll buckets Atomics-only, a thread's poll record by that thread, eventfds / socket
 *   pairs / epolls / FIFO records each under its own SpinLock with an Atomics-only change counter;
 *   a thread's FIFO wait record by that thread and the scheduler's cancel (Atomics.exchange). Field by
 *   field: kernel/fs/layout.ts (pollio region).
 * - frame generations: Atomics.add(1) by the hart that frees the frame (kernel/mm/frames.ts,
 *   each free of a frame or 2 MiB block, before the frame can be handed out again); read with
 *   Atomics.load by the sanitizer (a TLB entry's frame freed since the entry was filled).
 * - timers: everything under the table's SpinLock TH_LOCK, except the racy reads of TH_ARMED /
 *   TH_NEXT by idle and quantum-ending harts. Field by field: kernel/signal/layout.ts.
 * - file locks (2 records per open file description O): every record under the region's one
 *   SpinLock (LKH_LOCK); the change counter LKH_SEQ Atomics-only. Field by field:
 *   kernel/fs/layout.ts (LK_*), protocol: kernel/fs/locks.ts.
 * - frame clean epochs: two words per frame (FC_BEGUN, FC_DONE), Atomics.add(1) by the hart that
 *   cleans a PTE of the frame (msync: kernel/mm/pagetable.ts cleanRange, FC_BEGUN before the D
 *   clear) and by the hart that completes that change (kernel/mm/shootdown.ts releaseFrames,
 *   FC_DONE after the invalidation); read with Atomics.load by the sanitizer (a TLB entry cached
 *   writable+dirty before a clean of its frame that has completed: kernel/mm/frames.ts).
 * - broadcast queues: the hardware's (cpu/tlb-broadcast.ts, a Mailboxes set: lock-free,
 *   Atomics throughout); initialised by the host with the mailboxes, used only when the machine
 *   has --tlb-broadcast.
 * - baton (deterministic mode, cpu/baton.ts): written by the host once at boot before
 *   SH_STARTED (initializeBaton), then only by the hart holding the baton (HOLDER); the
 *   handover is a seq-cst store of the next hart's GO word, which orders every earlier write
 *   before the next holder's first step. All zero (ENABLED 0) in parallel mode.
 */
import { MAILBOX_BYTES } from '../cpu/mailbox.ts';
import { batonRegionBytes } from '../cpu/baton.ts';
import { HART_COUNTER_SLOTS } from '../cpu/counters.ts';
import { FRAMES_PER_MEGAPAGE } from '../cpu/ram.ts';
import { validateVmConfig, vmConfigFor, vmRegionBytes, type VmConfig } from './mm/layout.ts';
import { traceRingBytes, validateTraceEvents } from './lab/trace-layout.ts';
import { schedConfigFor, schedRegionBytes, validateSchedConfig, type SchedConfig } from './proc/layout.ts';
import { fileLockRegionBytes, fsConfigFor, fsRegionBytes, pollioLayout, PROCINFO_BYTES, validateFsConfig, type FsConfig } from './fs/layout.ts';
import { labRegionBytes } from './lab/layout.ts';
import { signalRegionBytes, timerRegionBytes } from './signal/layout.ts';

export const CTL_MAGIC = 0x43_4f_48_31; // "COH1"
export const CTL_VERSION = 1;
export const CACHE_LINE = 64;

// ---- header (Int32 word indices from offset 0) ----
export const HEADER_BYTES = 256;
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_CPUS = 2;
export const H_FRAMES = 3;
export const H_RESERVED_FRAMES = 4;
export const H_VM_MAX_SPACES = 5; // VM capacities (LayoutConfig.vm), written once like H_CPUS
export const H_VM_REGIONS = 6;
export const H_VM_MAX_FILES = 7;
export const H_VM_PC_ENTRIES = 8;
export const H_TRACE_EVENTS = 9; // trace records per hart ring (LayoutConfig.traceEvents), written once like H_CPUS
export const H_SCHED_MAX_THREADS = 10; // scheduler capacities (LayoutConfig.sched), written once like H_CPUS
export const H_SCHED_MAX_PROCS = 11;
export const H_FS_FD_TABLES = 12; // file capacities (LayoutConfig.fs), written once like H_CPUS
export const H_FS_OFILES = 13;
export const H_FS_PIPES = 14;
export const H_STATE = 16; // own cache line: polled by every hart
export const H_HALT_HART = 17;
export const H_HALT_REASON = 18;
export const H_ICACHE_EPOCH = 32; // own cache line

/** Machine states (H_STATE). */
export const MACHINE_BOOTING = 0;
export const MACHINE_RUNNING = 1;
export const MACHINE_SHUTDOWN = 2; // clean stop requested: harts leave their loop
export const MACHINE_HALTED = 3; // a hart failed: harts abandon what they do
/**
 * The host resets the machine to its boot state (scheduler/machine.ts Machine.reset): harts
 * abandon what they do, drop their worker-local state, publish HART_PARKED and wait for RUNNING.
 */
export const MACHINE_RESETTING = 4;
/** Halt reasons (H_HALT_REASON). */
export const HALT_NONE = 0;
export const HALT_HART_EXCEPTION = 1;

// ---- frame table: three Int32 arrays of F entries ----
/** Frame states (frameState entries). */
export const FRAME_FREE = 0; // in the shared pool (its block's free list or not yet handed out)
export const FRAME_CACHED = 1; // free, in some hart's cache
export const FRAME_ALLOCATED = 2; // handed out as a single frame
export const FRAME_HUGE = 3; // part of an allocated 2 MiB block
export const FRAME_RESERVED = 4; // kernel-reserved at boot (frame 0: ppn 0 means "none")
/** Frames reserved at boot, never handed out. */
export const RESERVED_FRAMES = 1;

// ---- frame clean epochs: per frame, two Int32 (kernel/mm/frames.ts frameCleanBegin) ----
export const FRAME_CLEAN_BYTES = 8;
export const FC_BEGUN = 0; // cleans of a PTE of this frame begun (bumped before the D clear)
export const FC_DONE = 1; // of those, completed (bumped once the change is invalidated everywhere)

// ---- block table: per 2 MiB block, BLOCK_WORDS Int32 ----
export const BLOCK_WORDS = 8;
export const BLOCK_BYTES = BLOCK_WORDS * 4;
export const B_STATE = 0; // BLOCK_*
export const B_FREE = 1; // frames of this block free in the pool (list + never-used)
export const B_BUMP = 2; // frames [0, B_BUMP) of the block were handed out at least once
export const B_FREE_HEAD = 3; // first frame (ppn) of the block's free list, -1 = empty
export const B_PREV = 4; // doubly-linked list links (whole-free list or partial list), -1 = none
export const B_NEXT = 5;
/** Block states. */
export const BLOCK_WHOLE = 0; // all 512 frames free in the pool; on the whole-free list
export const BLOCK_PARTIAL = 1; // split for single frames, some free; on the partial list
export const BLOCK_FULL = 2; // split, no free frame in the pool; on no list
export const BLOCK_HUGE = 3; // allocated as one 2 MiB block; on no list

// ---- allocator state (Int32 word indices from `allocator`) ----
export const ALLOCATOR_BYTES = 128;
export const A_LOCK = 0; // SpinLock, own cache line
export const A_POOL_FREE = 16; // frames free in the pool (excludes hart caches)
export const A_WHOLE_HEAD = 17; // whole-free block list head, -1 = empty
export const A_WHOLE_COUNT = 18;
export const A_PARTIAL_HEAD = 19; // partial block list head, -1 = empty
export const A_HUGE_IN_USE = 20;
export const A_HUGE_FAILS = 21; // allocHuge calls that found no whole block
export const A_SPLITS = 22; // whole blocks split for single frames
export const A_MERGES = 23; // split blocks that became whole again

// ---- per-hart frame cache ----
export const HART_CACHE_CAPACITY = 64;
export const HC_COUNT = 0; // frames in the cache (owner writes; others read racily)
export const HC_ENTRIES = 16; // HART_CACHE_CAPACITY ppns follow the header line
export const HART_CACHE_BYTES = (HC_ENTRIES + HART_CACHE_CAPACITY) * 4;

// ---- per-hart status ----
export const HART_STATUS_BYTES = 64;
export const HS_STATE = 0; // HART_*
export const HS_COMMANDS = 1; // commands served
export const HART_OFFLINE = 0;
export const HART_UP = 1;
export const HART_STOPPED = 2;
export const HART_PARKED = 3; // MACHINE_RESETTING: this hart's worker touches no shared state until RUNNING

export const HART_COUNTER_BYTES = HART_COUNTER_SLOTS * 8;
export const SCRATCH_BYTES = 1024;

export interface LayoutConfig {
  cpus: number;
  frames: number;
  /** VM capacities (address spaces, regions per space, files, page-cache entries); defaults vmConfigFor(frames). */
  vm?: Partial<VmConfig>;
  /** Trace records per hart ring (kernel/lab/trace.ts); default 0 = tracing off (rings are headers only). */
  traceEvents?: number;
  /** Scheduler capacities (threads, processes); defaults schedConfigFor(frames). */
  sched?: Partial<SchedConfig>;
  /** File capacities (fd tables, open file descriptions, pipes); defaults fsConfigFor(frames). */
  fs?: Partial<FsConfig>;
}

/** Byte offsets of every region of ctl for one machine configuration. */
export interface CtlLayout {
  readonly cpus: number;
  readonly frames: number;
  readonly blocks: number;
  readonly header: number;
  readonly frameRefcount: number;
  readonly frameNext: number;
  readonly frameState: number;
  readonly blockTable: number;
  readonly allocator: number;
  readonly hartCaches: number;
  readonly mailboxes: number;
  readonly hartStatus: number;
  readonly hartCounters: number;
  readonly scratch: number;
  readonly vm: VmConfig;
  readonly vmHeader: number;
  readonly asTable: number;
  readonly files: number;
  readonly pageCache: number;
  /** Trace records per hart ring (configuration, non-enumerable like `vm`). */
  readonly traceEvents: number;
  readonly traceRings: number;
  /** Scheduler capacities (configuration, non-enumerable like `vm`). */
  readonly sched: SchedConfig;
  /** File capacities (configuration, non-enumerable like `vm`). */
  readonly fs: FsConfig;
  readonly schedHeader: number;
  readonly waitBuckets: number;
  readonly threads: number;
  readonly processes: number;
  readonly runQueues: number;
  readonly hartSched: number;
  readonly fdTables: number;
  readonly ofiles: number;
  readonly pipes: number;
  readonly sigProcs: number;
  readonly sigThreads: number;
  /** Coherence lab: change ring, sanitizer reports, per-hart epochs and statistics (kernel/lab/layout.ts). */
  readonly lab: number;
  /** Per-frame generation: how often the frame was freed (kernel/mm/frames.ts frameGeneration). */
  readonly frameGen: number;
  /** Per process slot: what /proc/<pid> shows beyond the process record (kernel/fs/layout.ts PI_*). */
  readonly procInfo: number;
  /** Timer table: ITIMER_REAL, POSIX timers, timerfds (kernel/signal/layout.ts; one slot per thread slot). */
  readonly timers: number;
  /** Poll buckets and records, eventfds, socket pairs, epoll instances (kernel/fs/layout.ts pollioLayout). */
  readonly pollio: number;
  /** File locks: flock and fcntl record locks (kernel/fs/layout.ts LK_*, kernel/fs/locks.ts). */
  readonly fileLocks: number;
  /** Per-frame clean epochs: D-bit cleans begun and completed (kernel/mm/frames.ts frameCleanBegin). */
  readonly frameClean: number;
  /** Broadcast-invalidation queues, C x MAILBOX_BYTES (cpu/tlb-broadcast.ts). */
  readonly tlbBroadcast: number;
  /** Deterministic mode's baton and virtual time (cpu/baton.ts). */
  readonly baton: number;
  /** Total bytes of ctl. */
  readonly bytes: number;
}

export interface Region {
  name: string;
  offset: number;
  bytes: number;
  /** Required alignment of `offset` (and, for per-hart arrays, of each element). */
  align: number;
  /** Element size for per-hart arrays (each element must start `align`-aligned). */
  stride?: number;
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/**
 * Compute the ctl layout for `cpus` harts and `frames` RAM frames (a multiple of 512).
 * Pure; every thread computes the same layout from the header's config.
 */
export function computeLayout({ cpus, frames, vm: vmPart, traceEvents = 0, sched: schedPart, fs: fsPart }: LayoutConfig): CtlLayout {
  if (!(Number.isInteger(cpus) && cpus >= 1)) throw new RangeError(`computeLayout: cpus ${cpus} must be >= 1`);
  if (!(Number.isInteger(frames) && frames > 0 && frames % FRAMES_PER_MEGAPAGE === 0)) {
    throw new RangeError(`computeLayout: frames ${frames} must be a positive multiple of ${FRAMES_PER_MEGAPAGE}`);
  }
  const blocks = frames / FRAMES_PER_MEGAPAGE;
  let at = 0;
  const take = (bytes: number, align = CACHE_LINE): number => {
    const off = alignUp(at, align);
    at = off + bytes;
    return off;
  };
  const header = take(HEADER_BYTES);
  const frameRefcount = take(frames * 4);
  const frameNext = take(frames * 4);
  const frameState = take(frames * 4);
  const blockTable = take(blocks * BLOCK_BYTES);
  const allocator = take(ALLOCATOR_BYTES);
  const hartCaches = take(cpus * HART_CACHE_BYTES);
  const mailboxes = take(cpus * MAILBOX_BYTES);
  const hartStatus = take(cpus * HART_STATUS_BYTES);
  const hartCounters = take(cpus * HART_COUNTER_BYTES);
  const scratch = take(SCRATCH_BYTES);
  const vm: VmConfig = { ...vmConfigFor(frames), ...vmPart };
  validateVmConfig(vm);
  const vb = vmRegionBytes(vm);
  const vmHeader = take(vb.vmHeader);
  const asTable = take(vb.asTable);
  const files = take(vb.files);
  const pageCache = take(vb.pageCache);
  validateTraceEvents(traceEvents);
  const traceRings = take(cpus * traceRingBytes(traceEvents));
  const sched: SchedConfig = { ...schedConfigFor(frames), ...schedPart };
  validateSchedConfig(sched);
  const sb = schedRegionBytes(sched, cpus);
  const schedHeader = take(sb.schedHeader);
  const waitBuckets = take(sb.waitBuckets);
  const threads = take(sb.threads);
  const processes = take(sb.processes);
  const runQueues = take(sb.runQueues);
  const hartSched = take(sb.hartSched);
  const fs: FsConfig = { ...fsConfigFor(frames), ...fsPart };
  validateFsConfig(fs);
  const fb = fsRegionBytes(fs);
  const fdTables = take(fb.fdTables);
  const ofiles = take(fb.ofiles);
  const pipes = take(fb.pipes);
  const gb = signalRegionBytes(sched.maxProcesses, sched.maxThreads);
  const sigProcs = take(gb.sigProcs);
  const sigThreads = take(gb.sigThreads);
  const lab = take(labRegionBytes(cpus));
  const frameGen = take(frames * 4);
  const procInfo = take(sched.maxProcesses * PROCINFO_BYTES);
  const timers = take(timerRegionBytes(sched.maxThreads));
  const pollio = take(pollioLayout(fs, sched.maxThreads).bytes);
  const fileLocks = take(fileLockRegionBytes(fs.ofiles));
  const frameClean = take(frames * FRAME_CLEAN_BYTES);
  const tlbBroadcast = take(cpus * MAILBOX_BYTES);
  const baton = take(batonRegionBytes(cpus));
  // APPEND POINT: new regions go here, in the order added.
  const bytes = alignUp(at, CACHE_LINE);
  const layout = {
    cpus, frames, blocks, header, frameRefcount, frameNext, frameState, blockTable, allocator,
    hartCaches, mailboxes, hartStatus, hartCounters, scratch, vmHeader, asTable, files, pageCache,
    traceRings, schedHeader, waitBuckets, threads, processes, runQueues, hartSched,
    fdTables, ofiles, pipes, sigProcs, sigThreads, lab, frameGen, procInfo, timers, pollio, fileLocks, frameClean, tlbBroadcast, baton, bytes,
  } as CtlLayout;
  // `vm` is configuration, not a region offset: non-enumerable so that walking the layout's
  // entries lists offsets only (the layout test does).
  Object.defineProperty(layout, 'vm', { value: Object.freeze(vm), enumerable: false });
  Object.defineProperty(layout, 'traceEvents', { value: traceEvents, enumerable: false });
  Object.defineProperty(layout, 'sched', { value: Object.freeze(sched), enumerable: false });
  Object.defineProperty(layout, 'fs', { value: Object.freeze(fs), enumerable: false });
  return layout;
}

/** Every region of `layout` with its size and alignment (the layout test checks them). */
export function layoutRegions(l: CtlLayout): Region[] {
  return [
    { name: 'header', offset: l.header, bytes: HEADER_BYTES, align: CACHE_LINE },
    { name: 'frameRefcount', offset: l.frameRefcount, bytes: l.frames * 4, align: 8 },
    { name: 'frameNext', offset: l.frameNext, bytes: l.frames * 4, align: 8 },
    { name: 'frameState', offset: l.frameState, bytes: l.frames * 4, align: 8 },
    { name: 'blockTable', offset: l.blockTable, bytes: l.blocks * BLOCK_BYTES, align: 8 },
    { name: 'allocator', offset: l.allocator, bytes: ALLOCATOR_BYTES, align: CACHE_LINE },
    { name: 'hartCaches', offset: l.hartCaches, bytes: l.cpus * HART_CACHE_BYTES, align: CACHE_LINE, stride: HART_CACHE_BYTES },
    { name: 'mailboxes', offset: l.mailboxes, bytes: l.cpus * MAILBOX_BYTES, align: CACHE_LINE, stride: MAILBOX_BYTES },
    { name: 'hartStatus', offset: l.hartStatus, bytes: l.cpus * HART_STATUS_BYTES, align: CACHE_LINE, stride: HART_STATUS_BYTES },
    { name: 'hartCounters', offset: l.hartCounters, bytes: l.cpus * HART_COUNTER_BYTES, align: CACHE_LINE, stride: HART_COUNTER_BYTES },
    { name: 'scratch', offset: l.scratch, bytes: SCRATCH_BYTES, align: CACHE_LINE },
    ...Object.entries(vmRegionBytes(l.vm)).map(([name, bytes]) => ({
      name,
      offset: { vmHeader: l.vmHeader, asTable: l.asTable, files: l.files, pageCache: l.pageCache }[name]!,
      bytes, align: CACHE_LINE,
    })),
    {
      name: 'traceRings', offset: l.traceRings, bytes: l.cpus * traceRingBytes(l.traceEvents), align: CACHE_LINE,
      stride: traceRingBytes(l.traceEvents),
    },
    ...schedRegions(l),
    ...Object.entries(fsRegionBytes(l.fs)).map(([name, bytes]) => ({
      name, offset: { fdTables: l.fdTables, ofiles: l.ofiles, pipes: l.pipes }[name]!, bytes, align: CACHE_LINE,
    })),
    ...Object.entries(signalRegionBytes(l.sched.maxProcesses, l.sched.maxThreads)).map(([name, bytes]) => ({
      name, offset: { sigProcs: l.sigProcs, sigThreads: l.sigThreads }[name]!, bytes, align: CACHE_LINE,
    })),
    { name: 'lab', offset: l.lab, bytes: labRegionBytes(l.cpus), align: CACHE_LINE },
    { name: 'frameGen', offset: l.frameGen, bytes: l.frames * 4, align: CACHE_LINE },
    { name: 'procInfo', offset: l.procInfo, bytes: l.sched.maxProcesses * PROCINFO_BYTES, align: CACHE_LINE },
    { name: 'timers', offset: l.timers, bytes: timerRegionBytes(l.sched.maxThreads), align: CACHE_LINE },
    { name: 'pollio', offset: l.pollio, bytes: pollioLayout(l.fs, l.sched.maxThreads).bytes, align: CACHE_LINE },
    { name: 'fileLocks', offset: l.fileLocks, bytes: fileLockRegionBytes(l.fs.ofiles), align: CACHE_LINE },
    { name: 'frameClean', offset: l.frameClean, bytes: l.frames * FRAME_CLEAN_BYTES, align: CACHE_LINE },
    { name: 'tlbBroadcast', offset: l.tlbBroadcast, bytes: l.cpus * MAILBOX_BYTES, align: CACHE_LINE, stride: MAILBOX_BYTES },
    { name: 'baton', offset: l.baton, bytes: batonRegionBytes(l.cpus), align: CACHE_LINE },
  ];
}

/** The scheduler regions of `l` (kernel/proc/layout.ts sizes them). */
function schedRegions(l: CtlLayout): Region[] {
  const sb = schedRegionBytes(l.sched, l.cpus);
  const at = { schedHeader: l.schedHeader, waitBuckets: l.waitBuckets, threads: l.threads, processes: l.processes, runQueues: l.runQueues, hartSched: l.hartSched };
  return (Object.keys(at) as (keyof typeof at)[]).map((name) => ({
    name, offset: at[name], bytes: sb[name], align: CACHE_LINE,
    ...(name === 'runQueues' || name === 'hartSched' ? { stride: sb[name] / l.cpus } : {}),
  }));
}

/** Word (Int32) index of field `field` of hart `hartId`'s status block. */
export function hartStatusIndex(l: CtlLayout, hartId: number, field: number): number {
  return (l.hartStatus + hartId * HART_STATUS_BYTES) / 4 + field;
}

/** Float64 index of counter slot `slot` (cpu/counters.ts HC_*) of hart `hartId`. */
export function hartCounterIndex(l: CtlLayout, hartId: number, slot: number): number {
  return (l.hartCounters + hartId * HART_COUNTER_BYTES) / 8 + slot;
}

/** Views of one ctl buffer plus its layout; every thread attaches once. */
export interface Ctl {
  readonly sab: SharedArrayBuffer;
  readonly layout: CtlLayout;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
}

/**
 * Allocate a zeroed ctl buffer for `config` and write its header (state MACHINE_BOOTING).
 * Other regions are initialised by their owners (frames.ts, cpu/mailbox.ts).
 */
export function createCtl(config: LayoutConfig): Ctl {
  const layout = computeLayout(config);
  const sab = new SharedArrayBuffer(layout.bytes);
  const ctl = { sab, layout, i32: new Int32Array(sab), f64: new Float64Array(sab) };
  const i32 = ctl.i32;
  i32[H_MAGIC] = CTL_MAGIC;
  i32[H_VERSION] = CTL_VERSION;
  i32[H_CPUS] = config.cpus;
  i32[H_FRAMES] = config.frames;
  i32[H_RESERVED_FRAMES] = RESERVED_FRAMES;
  i32[H_VM_MAX_SPACES] = layout.vm.maxSpaces;
  i32[H_VM_REGIONS] = layout.vm.regionsPerSpace;
  i32[H_VM_MAX_FILES] = layout.vm.maxFiles;
  i32[H_VM_PC_ENTRIES] = layout.vm.pageCacheEntries;
  i32[H_TRACE_EVENTS] = layout.traceEvents;
  i32[H_SCHED_MAX_THREADS] = layout.sched.maxThreads;
  i32[H_SCHED_MAX_PROCS] = layout.sched.maxProcesses;
  i32[H_FS_FD_TABLES] = layout.fs.fdTables;
  i32[H_FS_OFILES] = layout.fs.ofiles;
  i32[H_FS_PIPES] = layout.fs.pipes;
  Atomics.store(i32, H_STATE, MACHINE_BOOTING);
  return ctl;
}

/** Attach to an existing ctl buffer: checks the magic and recomputes the layout from the header. */
export function attachCtl(sab: SharedArrayBuffer): Ctl {
  const i32 = new Int32Array(sab);
  if (i32[H_MAGIC] !== CTL_MAGIC || i32[H_VERSION] !== CTL_VERSION) throw new Error('attachCtl: not a Coherent ctl buffer');
  const layout = computeLayout({
    cpus: i32[H_CPUS]!, frames: i32[H_FRAMES]!,
    vm: { maxSpaces: i32[H_VM_MAX_SPACES]!, regionsPerSpace: i32[H_VM_REGIONS]!, maxFiles: i32[H_VM_MAX_FILES]!, pageCacheEntries: i32[H_VM_PC_ENTRIES]! },
    traceEvents: i32[H_TRACE_EVENTS]!,
    sched: { maxThreads: i32[H_SCHED_MAX_THREADS]!, maxProcesses: i32[H_SCHED_MAX_PROCS]! },
    fs: { fdTables: i32[H_FS_FD_TABLES]!, ofiles: i32[H_FS_OFILES]!, pipes: i32[H_FS_PIPES]! },
  });
  if (layout.bytes !== sab.byteLength) throw new Error(`attachCtl: buffer is ${sab.byteLength} bytes, layout needs ${layout.bytes}`);
  return { sab, layout, i32, f64: new Float64Array(sab) };
}

/** Machine state (H_STATE) as seen now. */
export function machineState(ctl: Ctl): number {
  return Atomics.load(ctl.i32, H_STATE);
}
