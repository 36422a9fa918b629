/**
 * Inside the file regions of ctl (kernel/layout.ts places them; this file says what is in
 * them, like kernel/mm/layout.ts for the VM regions). Word indices are Int32 offsets from the
 * start of their record; fields marked f64 are Float64 slots (8-aligned word pairs).
 *
 *   fdTables  D x FDT_BYTES            per-process file context: fd table, cwd, umask, rlimits
 *   ofiles    O x OFILE_BYTES          open file descriptions (refcounted)
 *   pipes     N x PIPE_BYTES           pipe ring buffers (PIPE_CAPACITY bytes each)
 *   (D = fdTables, O = ofiles, N = pipes: FsConfig, sized from --memory by fsConfigFor,
 *   header words H_FS_*; ctl pages are committed by the host only when first written)
 *
 * Who writes what, and what guards it:
 * - fd table: FDT_STATE by compareExchange (FREE -> LIVE when created, LIVE -> FREE by the
 *   last put); FDT_REFS Atomics.add/sub (threads sharing the table, CLONE_FILES). The fd
 *   entries, FDT_CWD*, FDT_UMASK and the rlimits change only under the SpinLock FDT_LOCK.
 * - ofile: OF_STATE compareExchange (FREE -> LIVE by the creator); OF_REFS Atomics.add/sub
 *   (fd-table entries and in-flight syscalls each hold one); OF_KIND, OF_HOSTFD, OF_PATH*, OF_DEV/INO
 *   written once by the creator before the ofile is installed in any fd table (the install
 *   under FDT_LOCK publishes them). OF_FLAGS (status flags: F_SETFL) Atomics.store/load.
 *   OF_OFFSET and OF_PCFILE only under the SpinLock OF_LOCK (Linux's f_pos_lock).
 * - pipe: PP_STATE compareExchange; everything else under the SpinLock PP_LOCK, except
 *   PP_SEQ, which is Atomics.add'ed after every change (data in or out, an end closed) and is
 *   the word a blocked reader or writer waits on (kernel/fs/pipe.ts).
 */

// ---- capacities (boot config: FsConfig) ----
export interface FsConfig {
  /** File contexts (processes that do not share a table); RLIMIT_NOFILE's hard cap is FDT_FDS. */
  fdTables: number;
  /** Open file descriptions machine-wide (Linux's file-max); per process, RLIMIT_NOFILE bounds the fds. */
  ofiles: number;
  /** Pipes machine-wide. */
  pipes: number;
}
/** The smallest capacities (a 16 MiB machine still gets these). */
export const FS_DEFAULTS: FsConfig = { fdTables: 64, ofiles: 1024, pipes: 16 };

/**
 * Capacities for a machine of `frames` RAM frames (DESIGN.md 9: limits sized from --memory):
 * a file context per 16 frames (one per process: 4,096 at 256 MiB), an open file description
 * per 8 frames (8,192), a pipe per 64 frames (1,024: a full pipe holds 16 frames' worth).
 */
export function fsConfigFor(frames: number): FsConfig {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, Math.floor(v)));
  return {
    fdTables: clamp(frames / 16, FS_DEFAULTS.fdTables, 1 << 16),
    ofiles: clamp(frames / 8, FS_DEFAULTS.ofiles, 1 << 20),
    pipes: clamp(frames / 64, FS_DEFAULTS.pipes, 1 << 14),
  };
}

/** Throws a RangeError naming the field unless the capacities are sane. */
export function validateFsConfig(c: FsConfig): void {
  for (const [k, lim] of [['fdTables', 1 << 16], ['ofiles', 1 << 20], ['pipes', 1 << 14]] as const) {
    const v = c[k];
    if (!(Number.isInteger(v) && v >= 1 && v <= lim)) throw new RangeError(`fs config: ${k} ${v} must be an integer from 1 to ${lim}`);
  }
}

// ---- file context / fd table (words) ----
export const FDT_FDS = 1024; // descriptors per table (Linux's default RLIMIT_NOFILE)
export const FDT_STATE = 0;
export const FDT_REFS = 1;
export const FDT_LOCK = 2; // SpinLock
export const FDT_UMASK = 3;
export const FDT_CWD_LEN = 4; // bytes of the cwd guest path at FDT_CWD_BYTE
export const FDT_OWNER = 5; // pid that created it (the default resolver of kernel/fs/sys-fs-env.ts)
export const FDT_RLIMITS = 16; // f64 pairs [cur, max] x RLIM_NLIMITS; Infinity = RLIM_INFINITY
export const RLIM_NLIMITS = 16;
export const FDT_CWD_BYTE = (FDT_RLIMITS + RLIM_NLIMITS * 4) * 4; // 320
export const FDT_CWD_MAX = 4096; // cwd guest path bytes: up to Linux PATH_MAX (longer chdir: ENAMETOOLONG)
export const FDT_ENTRIES = (FDT_CWD_BYTE + FDT_CWD_MAX) / 4; // word index of fd 0's entry (byte 4416)
export const FDT_BYTES = (FDT_ENTRIES + FDT_FDS) * 4;
/** An fd entry: 0 = free, else ofile id (1-based) | FDE_CLOEXEC. */
export const FDE_CLOEXEC = 1 << 30;
export const FDE_OFILE_MASK = FDE_CLOEXEC - 1;

// ---- open file description (words) ----
export const OFILE_BYTES = 64 + 4096; // header, then a path of up to Linux PATH_MAX bytes
export const OF_STATE = 0;
export const OF_REFS = 1;
export const OF_KIND = 2; // OK_*
export const OF_FLAGS = 3; // Linux open flags: access mode | status flags (O_APPEND, O_NONBLOCK, ...)
export const OF_HOSTFD = 4; // host fd (OK_HOST_*, OK_STDIO) or pipe index (OK_PIPE_*)
export const OF_LOCK = 5; // SpinLock over OF_OFFSET, OF_PCFILE
export const OF_PCFILE = 6; // page-cache file id for mmap (kernel/mm/pagecache.ts), 0 = none yet
export const OF_PATH_LEN = 7;
export const OF_OFFSET = 8; // f64: file position (bytes; for a directory, the next entry index)
export const OF_DEV = 10; // f64: host st_dev of a host file (finds its page-cache file)
export const OF_INO = 12; // f64: host st_ino of a host file
export const OF_PUSHBACK = 14; // host stdin (OK_STDIO): bytes a poll peeked, kept at OF_PATH_BYTE for the next read (under OF_LOCK)
export const OF_PATH_BYTE = 64; // canonical guest path (its bytes, as the guest named it)
export const OF_PATH_MAX = OFILE_BYTES - OF_PATH_BYTE;
/** OF_KIND values. */
export const OK_HOST_FILE = 1; // a host file other than a directory: positional I/O, seekable
export const OK_HOST_DIR = 2; // a host directory: getdents64, fchdir, *at base
export const OK_STDIO = 3; // the host's own stdin/stdout/stderr (never closed on the host)
export const OK_PIPE_READ = 4;
export const OK_PIPE_WRITE = 5;
// Virtual files (kernel/fs/procfs.ts; docs/procfs.md): values apart from the ones above so
// other new kinds can be appended there without colliding.
export const OK_VIRT_FILE = 16; // a procfs file: OF_PCFILE is a page-cache data file holding the snapshot taken at open
export const OK_VIRT_DIR = 17; // a procfs or /dev directory: OF_PATH names it, entries generated at getdents64
export const OK_CHARDEV = 18; // /dev/null, zero, random, urandom: OF_HOSTFD is the minor number (major 1, "mem")
export const OK_TIMERFD = 19; // a special file (kernel/fs/special.ts): OF_HOSTFD is a timer-table slot (kernel/signal/timerfd.ts)

// ---- pipe (words; the ring follows the header) ----
export const PIPE_CAPACITY = 65536; // Linux's default pipe capacity (16 pages)
export const PIPE_BUF = 4096; // writes up to this size are atomic
export const PP_STATE = 0;
export const PP_LOCK = 1; // SpinLock over everything but PP_STATE and PP_SEQ
export const PP_READERS = 2; // open read-end descriptions
export const PP_WRITERS = 3; // open write-end descriptions
export const PP_HEAD = 4; // ring index of the next byte to read
export const PP_COUNT = 5; // bytes in the ring
export const PP_SEQ = 16; // own cache line: bumped on every change; waiters wait on it
export const PP_DATA_BYTE = 128;
export const PIPE_BYTES = PP_DATA_BYTE + PIPE_CAPACITY;

// ---- procfs process information (bytes; one record per process slot, kernel/fs/procinfo.ts) ----
// What /proc/<pid> shows that the process record does not hold: Linux's mm->arg_start..env_end
// and exe_file, and the start time. Written by the process's own thread (exec, spawn before
// it runs, fork before the child runs: the run-queue publication orders it); read racily by
// any reader of /proc (a torn read shows a half-updated exe path, never a wrong memory access).
export const PI_START = 0; // f64 (byte 0): start time, ns since the machine's clock zero / 1e3 (µs)
export const PI_ARG_START = 8; // f64: va of the first argument string
export const PI_ARG_END = 16; // f64: va past the last argument string's NUL
export const PI_ENV_START = 24; // f64
export const PI_ENV_END = 32; // f64
export const PI_EXE_LEN = 40; // i32: bytes of the exe path (0: none)
export const PI_NSEGS = 44; // i32: program segments recorded at PI_SEGS
export const PI_EXE_DEV = 48; // f64: host st_dev of the executable (0: not a host file)
export const PI_EXE_INO = 56; // f64: host st_ino
export const PI_SEGS = 64; // PI_SEGS_MAX x [start, end, file offset] f64: where the program's file bytes lie (maps names them)
export const PI_SEGS_MAX = 8;
export const PI_EXE_BYTE = PI_SEGS + PI_SEGS_MAX * 24; // 256: canonical guest path of the executable
export const PI_EXE_MAX = 4096;
export const PROCINFO_BYTES = PI_EXE_BYTE + PI_EXE_MAX;

/** Record states shared by the three tables. */
export const SLOT_FREE = 0;
export const SLOT_LIVE = 1;

/** Bytes of each file region (layout.ts sizes the regions with these). */
export function fsRegionBytes(c: FsConfig): { fdTables: number; ofiles: number; pipes: number } {
  return { fdTables: c.fdTables * FDT_BYTES, ofiles: c.ofiles * OFILE_BYTES, pipes: c.pipes * PIPE_BYTES };
}

// ---- pollio region: multi-channel waits, eventfds, socket pairs, epoll instances ----
// (kernel/layout.ts places the region `pollio`; pollioLayout below says where each part starts.)
//
//   pollBuckets  POLL_BUCKETS x pollBucketBytes(T)   per key-bucket: poller count + bitmap of polling threads
//   pollThreads  T x PT_BYTES                          per thread: a poll's deadline, its ecall pc/sp, buckets it is on
//   eventfds     E x EV_BYTES                          eventfd counters (E = pipes)
//   sockets      S x SOCKPAIR_BYTES                    AF_UNIX socket pairs: two directions, each a byte ring and a message queue (S = pipes / 4, >= 16)
//   epolls       P x EP_BYTES                          epoll instances with their interest lists (P = pipes / 4, >= 16)
//   fifos        F x FF_BYTES                          named pipes: the host file's (dev, ino) and the pipe behind it (F = pipes)
//   fifoWaits    T x FW_BYTES                          per thread: the FIFO open it is blocked in (kernel/fs/fifo.ts)
//
// Who writes what, and what guards it:
// - poll bucket: PB_COUNT and the bitmap words Atomics.add/or/and by the polling thread itself
//   (register / unregister), Atomics.load by wakers (kernel/fs/pollwait.ts: the ordering argument).
// - poll thread record: only the thread itself (its syscall), plain stores.
// - eventfd: EV_STATE compareExchange; EV_LO/EV_HI under the SpinLock EV_LOCK; EV_SEQ Atomics.add after every change.
// - socket pair: SK_STATE compareExchange; everything else under the SpinLock SK_LOCK, except SK_SEQ
//   (Atomics.add after every change: data in or out, an end closed or shut down).
// - fifo: FF_STATE compareExchange (FREE -> LIVE by mknodat; LIVE -> FREE by the unlink of the last
//   name once no one has it open); FF_DEV/FF_INO written before FF_STATE is published and read
//   only under FF_LOCK; FF_PIPE, FF_RCOUNT/FF_WCOUNT under the SpinLock FF_LOCK; FF_SEQ Atomics.add
//   after every open or close (the wait channel of blocked opens).
// - fifo wait record: FW_CODE by Atomics.exchange (the thread itself when it parks in open; the
//   scheduler's cancel, lock-free, when a signal or exit takes it off its wait); FW_SEEN by the thread.
// - epoll: EP_STATE compareExchange; the items and EP_COUNT under the SpinLock EP_LOCK; EP_SEQ Atomics.add
//   after every change of the interest list.
export const POLL_BUCKETS = 256;
export const PB_COUNT = 0; // threads registered on the bucket (Atomics)
export const PB_BITS = 16; // bitmap of thread indices, one bit per thread (Atomics.or/and)
export const pollBucketBytes = (threads: number): number => Math.ceil((PB_BITS * 4 + Math.ceil(threads / 32) * 4) / 64) * 64;
export const PT_BYTES = 64;
export const PT_DEADLINE = 0; // f64: ms (performance.timeOrigin + now) the poll ends; 0 none, -1 forever
export const PT_PC = 2; // f64: pc after the ecall of the poll the record belongs to
export const PT_SP = 4; // f64: its sp (a handler's poll at the same pc runs on a lower sp)
export const PT_MASK = 8; // 8 words: buckets this thread is registered on (256 bits)
export const EV_BYTES = 64;
export const EV_STATE = 0;
export const EV_LOCK = 1;
export const EV_LO = 2; // counter, low 32 bits (unsigned)
export const EV_HI = 3; // counter, high 32 bits
export const EV_SEQ = 4; // bumped after every change (the wait channel)
export const EV_SEMAPHORE = 5; // 1: EFD_SEMAPHORE (reads take 1); written once by the creator
export const SOCK_CAPACITY = 65536; // bytes queued per direction (Linux's SO_SNDBUF is ~208 KiB; 64 KiB as a pipe)
export const SOCK_MSGS = 64; // messages queued per direction (datagrams; stream writes merge unless they carry fds)
export const SOCK_MSG_FDS = 16; // SCM_RIGHTS descriptors per message (Linux SCM_MAX_FD is 253)
export const SM_WORDS = 4 + SOCK_MSG_FDS; // message record: LEN, NFDS, OFF (bytes already read, streams), pad, fds (ofile ids, referenced)
export const SM_LEN = 0;
export const SM_NFDS = 1;
export const SM_OFF = 2;
export const SM_FDS = 4;
export const SD_HEAD = 0; // direction header (words): ring index of the next byte
export const SD_COUNT = 1; // bytes queued
export const SD_MHEAD = 2; // index of the oldest message
export const SD_MCOUNT = 3; // messages queued
export const SD_MSGS = 4; // SOCK_MSGS message records
export const SD_RING_BYTE = Math.ceil(((SD_MSGS + SOCK_MSGS * SM_WORDS) * 4) / 64) * 64;
export const SOCK_DIR_BYTES = SD_RING_BYTE + SOCK_CAPACITY;
export const SK_STATE = 0;
export const SK_LOCK = 1;
export const SK_TYPE = 2; // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
export const SK_OPEN = 3; // bit e: end e has an open description
export const SK_SHUT = 4; // 2 words: end e's shutdown bits (1 = no more reading, 2 = no more writing)
export const SK_SEQ = 16; // own cache line: bumped after every change; the wait channel
export const SK_DIR_BYTE = 128; // direction d (data readable by end d) at SK_DIR_BYTE + d * SOCK_DIR_BYTES
export const SOCKPAIR_BYTES = SK_DIR_BYTE + 2 * SOCK_DIR_BYTES;
export const EP_ITEMS = 256; // interest-list entries per instance (more: ENOSPC, Linux's max_user_watches)
export const EI_WORDS = 8; // item: FD, OFILE (id, 0 = free), EVENTS, STATE, DATA lo/hi, LAST (source seq at the last edge report), EDGE
export const EI_FD = 0;
export const EI_OFILE = 1;
export const EI_EVENTS = 2;
export const EI_STATE = 3; // 1 = armed; 2 = disarmed (EPOLLONESHOT fired)
export const EI_DATA_LO = 4;
export const EI_DATA_HI = 5;
export const EI_LAST = 6;
export const EI_EDGE = 7; // 1 once an edge was reported (EI_LAST is valid)
export const EP_STATE = 0;
export const EP_LOCK = 1;
export const EP_COUNT = 2;
export const EP_NEXT = 3; // item a wait starts its scan at (round robin when more are ready than maxevents)
export const EP_SEQ = 16; // bumped after every change of the interest list
export const EP_ITEMS_WORD = 32;
export const EP_BYTES = (EP_ITEMS_WORD + EP_ITEMS * EI_WORDS) * 4;
export const FF_BYTES = 64;
export const FF_STATE = 0;
export const FF_LOCK = 1; // SpinLock over FF_PIPE, FF_RCOUNT, FF_WCOUNT and the pipe's end counts
export const FF_PIPE = 2; // pipe index + 1 while someone has the FIFO open (or is blocked opening it); 0 = none
export const FF_RCOUNT = 3; // read-end opens so far (Linux r_counter: a blocked writer waits for it to move)
export const FF_WCOUNT = 4; // write-end opens so far (w_counter)
export const FF_UNLINKED = 5; // 1: the last name is gone; the record goes with the last close
export const FF_DEV = 6; // f64: host st_dev of the name's host file
export const FF_INO = 8; // f64: host st_ino
export const FF_SEQ = 12; // bumped after every open and close of an end (blocked opens wait on it)
export const FW_BYTES = 8;
export const FW_CODE = 0; // 0, or (fifo index + 1) * 4 + 1 (read) / 2 (write): the open this thread is parked in, its end counted
export const FW_SEEN = 1; // the partner's open counter (FF_WCOUNT / FF_RCOUNT) when it first parked
/** OF_KIND values of the pollio objects (OF_HOSTFD holds the object's index; sockets: index * 2 + end). */
export const OK_EVENTFD = 6;
export const OK_SOCKET = 7;
export const OK_EPOLL = 8;

/** Where each part of the pollio region starts (bytes from the region's start) and how many records each has. */
export interface PollioLayout {
  threads: number; buckets: number; pollThreads: number;
  eventfds: number; eventfdCount: number; sockets: number; socketCount: number; epolls: number; epollCount: number;
  fifos: number; fifoCount: number; fifoWaits: number; bytes: number;
}
/** The pollio region of a machine with `c` file capacities and `threads` thread records. */
export function pollioLayout(c: FsConfig, threads: number): PollioLayout {
  const up = (n: number): number => Math.ceil(n / 64) * 64;
  const eventfdCount = c.pipes, socketCount = Math.max(16, c.pipes >> 2), epollCount = Math.max(16, c.pipes >> 2);
  const buckets = 0;
  const pollThreads = up(buckets + POLL_BUCKETS * pollBucketBytes(threads));
  const eventfds = up(pollThreads + threads * PT_BYTES);
  const sockets = up(eventfds + eventfdCount * EV_BYTES);
  const epolls = up(sockets + socketCount * SOCKPAIR_BYTES);
  const fifoCount = c.pipes;
  const fifos = up(epolls + epollCount * EP_BYTES);
  const fifoWaits = up(fifos + fifoCount * FF_BYTES);
  const bytes = up(fifoWaits + threads * FW_BYTES);
  return { threads, buckets, pollThreads, eventfds, eventfdCount, sockets, socketCount, epolls, epollCount, fifos, fifoCount, fifoWaits, bytes };
}

// ---- file locks (flock, fcntl record locks): region `fileLocks` ----
// A header, then LOCK_RECORDS_PER_OFILE records per open file description. The header's
// LKH_LOCK (SpinLock) guards every record and LKH_COUNT; LKH_SEQ (own cache line) is bumped
// (Atomics.add, then notify and the Waiter's wake) after every change: a blocked locker reads
// it before it checks under the lock and waits while it still holds that value.
export const LOCK_RECORDS_PER_OFILE = 2;
export const LKH_LOCK = 0; // SpinLock over the records and LKH_COUNT
export const LKH_COUNT = 1; // live records (held and waiting): close skips the scan at 0
export const LKH_SEQ = 16; // change counter the blocked wait on
export const LK_HEADER_BYTES = 128;
export const LOCK_RECORD_BYTES = 64;
export const LK_STATE = 0; // LKS_* below
export const LK_KIND = 1; // LKK_* below
export const LK_TYPE = 2; // F_RDLCK 0 / F_WRLCK 1 (held); the wanted type (waiting)
export const LK_OWNER = 3; // record locks: fd-table slot + 1 (POSIX: the process) or -ofile id (OFD); flock: ofile id
export const LK_PID = 4; // pid shown by F_GETLK (-1 for OFD locks); waiting: the owner it waits for
export const LK_DEV = 6; // f64: host st_dev (-2 for a pipe)
export const LK_INO = 8; // f64: host st_ino (the pipe index for a pipe)
export const LK_START = 10; // f64: first byte
export const LK_END = 12; // f64: one past the last byte (Infinity: to the end of any file)
export const LKS_FREE = 0;
export const LKS_HELD = 1;
export const LKS_WAITING = 2; // a blocked F_SETLKW: who it waits for (deadlock detection)
export const LKK_RECORD = 1; // fcntl: POSIX and OFD locks (they conflict with each other)
export const LKK_FLOCK = 2;

/** Bytes of the file-lock region for `ofiles` open file descriptions. */
export function fileLockRegionBytes(ofiles: number): number {
  return LK_HEADER_BYTES + ofiles * LOCK_RECORDS_PER_OFILE * LOCK_RECORD_BYTES;
}
