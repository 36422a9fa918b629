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
export const OF_PATH_BYTE = 64; // canonical guest path (its bytes, as the guest named it)
export const OF_PATH_MAX = OFILE_BYTES - OF_PATH_BYTE;
/** OF_KIND values. */
export const OK_HOST_FILE = 1; // a host file other than a directory: positional I/O, seekable
export const OK_HOST_DIR = 2; // a host directory: getdents64, fchdir, *at base
export const OK_STDIO = 3; // the host's own stdin/stdout/stderr (never closed on the host)
export const OK_PIPE_READ = 4;
export const OK_PIPE_WRITE = 5;

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

/** Record states shared by the three tables. */
export const SLOT_FREE = 0;
export const SLOT_LIVE = 1;

/** Bytes of each file region (layout.ts sizes the regions with these). */
export function fsRegionBytes(c: FsConfig): { fdTables: number; ofiles: number; pipes: number } {
  return { fdTables: c.fdTables * FDT_BYTES, ofiles: c.ofiles * OFILE_BYTES, pipes: c.pipes * PIPE_BYTES };
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
