/**
 * Inside the VM regions of ctl (kernel/layout.ts places them; this file says what is in
 * them, like cpu/mailbox.ts for the mailboxes). All word indices are Int32 offsets from the
 * start of their record; fields marked f64 are Float64 slots (8-aligned word pairs) holding
 * integers up to 2^53 (vpns, byte sizes).
 *
 *   vmHeader   VM_HEADER_BYTES        boot facts: kernel level-2 tables, file/page-cache lock
 *   asTable    S x AS_BYTES           one VirtualAddressSpace descriptor per slot (with its
 *                                     region list's header, RL_* from word AS_RL)
 *   files      F x FILE_BYTES         page-cache file objects
 *   pageCache  P x PC_BYTES           hash table (file, page index) -> frame
 *   (S = maxSpaces, F = maxFiles, P = pageCacheEntries: boot config, sized from --memory by
 *   vmConfigFor; R = regionsPerSpace is max_map_count, a limit that costs no ctl space)
 *
 * Region records live in RAM frames, not in ctl (kernel/mm/regions.ts draws the structure):
 *   directory frame  DIR_PER_FRAME x DIR_ENTRY_BYTES     [chunk ppn | count | max gap f64],
 *                    + 15 group entries, 1 frame entry   [- | - | max gap of its 16 chunks / of the frame]
 *   chunk frame      CHUNK_CAP x CHUNK_RECORD_BYTES      [start f64 | npages f64 | pgoff f64 |
 *                                                         prot | flags << 16 | file]
 *
 * Who writes what, and what guards it:
 * - vmHeader: VMH_KROOT*, VMH_KPAGE written once by bootVm (hart 0 or the host) before any
 *   address space exists, read-only afterwards. VMH_BOOTED: Atomics.store(1) last.
 * - AS descriptor: AS_STATE by compareExchange (FREE -> LIVE on create, LIVE -> FREE on the
 *   last put). AS_REFCOUNT Atomics.add/sub. AS_ROOT Atomics.store once at create; read by
 *   Atomics.load (satp). AS_GEN Atomics.add, only grows, and only together with the
 *   AS_LAST_* record under the AS_GEN_LOCK spinlock (so the range of the latest bump is
 *   never torn). AS_ACTIVE* Atomics.or/and by the scheduler. AS_LOCK is the mmap lock
 *   (kernel/sync/rwlock.ts): the region list (its RL_* header, directory and chunk frames),
 *   AS_BRK*, AS_MMAP_BASE change only under it held exclusive; faults read them holding it
 *   shared. AS_STACK_LIMIT: a plain f64 written at create/fork/exec and by prlimit64
 *   (RLIMIT_STACK), read by the stack-growth fault path (one f64: never torn). RL_COUNT is Atomics.store'd so statistics may read it racily. AS_BIRTH_GEN
 *   Atomics.store once at create (after the whole bump), read by Atomics.load.
 * - files and pageCache: under the SpinLock at VMH_PC_LOCK, except F_REFS (Atomics). The
 *   eviction clock (VMH_PC_HAND, PCD_REF bits) too: kernel/mm/pagecache.ts evictPages.
 */

// ---- VM header (words) ----
export const VM_HEADER_BYTES = 2048;
export const VMH_BOOTED = 0;
export const VMH_KPAGE = 1; // ppn of the kernel page mapped at KERNEL_PROBE_VA (U=0)
export const VMH_KTABLES = 2; // frames used by kernel tables + page (for accounting)
export const VMH_PC_LOCK = 16; // SpinLock: files and page cache
export const VMH_PC_USED = 17; // live page-cache entries
export const VMH_ASID_NEXT = 18; // reserved for the scheduler's ASID allocator (ASID = slot + 1 until then)
export const VMH_PC_HAND = 19; // the eviction clock's hand: next page-cache slot it looks at (under VMH_PC_LOCK)
export const VMH_KROOT = 256; // 256 words: ppn of the level-2 table of root entry 256 + i

// ---- address-space descriptor (words) ----
export const AS_BYTES = 256;
export const AS_STATE = 0;
export const AS_REFCOUNT = 1;
export const AS_ROOT = 2; // root table ppn (what goes into satp)
export const AS_ASID = 3;
export const AS_GEN = 4; // tlb_generation
// word 5: free (was the region count, now RL_COUNT)
export const AS_ACTIVE = 6; // 2 words: bit h of word h >> 5 = hart h may cache translations
export const AS_LOCK = 8; // RwLock, 3 words: the mmap lock
export const AS_GEN_LOCK = 11; // SpinLock over AS_GEN + AS_LAST_*
export const AS_LAST_GEN = 12; // generation of the latest bump
export const AS_LAST_NPAGES = 13; // pages of that bump, AS_WHOLE = the whole ASID
export const AS_RSS = 14; // resident user pages now (4 KiB units; a 2 MiB leaf counts 512): Atomics.add where a leaf is installed or cleared
export const AS_FLAGS = 15;
export const AS_LAST_VPN = 16; // f64: first vpn of the latest bump
export const AS_BRK_START = 18; // f64 (bytes)
export const AS_BRK = 20; // f64 (bytes)
export const AS_MMAP_BASE = 22; // f64 (bytes): top of the top-down mmap search
export const AS_BIRTH_GEN = 24; // tlb_generation right after create's whole bump: this life of the slot began there
export const AS_RSS_HWM = 29; // the most AS_RSS has been in this life of the slot (getrusage ru_maxrss): raised by CAS after each add
export const AS_GASID = 28; // global hardware ASID (broadcast policy, scheduler/asid.ts assignGlobalAsid), 0 = none; Atomics
export const AS_STACK_LIMIT = 26; // f64 (bytes): RLIMIT_STACK soft limit a grows-down region may reach (Infinity = none)
export const AS_RL = 32; // region-list header (RL_* words below), up to word 63
/** AS_STATE values. */
export const AS_FREE = 0;
export const AS_LIVE = 1;
/** AS_LAST_NPAGES value meaning "flush the whole ASID". */
export const AS_WHOLE = -1;

// ---- region-list header (words from AS_RL; kernel/mm/regions.ts) ----
export const RL_COUNT = 0; // records (Atomics.store; max_map_count checks read it)
export const RL_NCHUNKS = 1; // chunk frames in use = directory entries
export const RL_NSPARE = 2; // frames reserved by the operation in progress (0 between operations)
export const RL_HOLD = 3; // non-zero: keep reserved frames across operations (RegionList.hold)
export const RL_SPARE = 4; // RL_SPARE_MAX ppns
export const RL_SPARE_MAX = 6;
export const RL_DIR = 10; // RL_DIR_MAX ppns of the directory frames, in order
export const RL_DIR_MAX = 16;
export const RL_WORDS = RL_DIR + RL_DIR_MAX; // 26: AS_RL + RL_WORDS <= AS_BYTES / 4
// ---- region records in RAM ----
export const CHUNK_RECORD_BYTES = 32; // start f64, npages f64, pgoff f64, prot | flags << 16 i32, file i32
export const CHUNK_CAP = 128; // records per chunk frame (PAGE_SIZE / CHUNK_RECORD_BYTES)
export const DIR_ENTRY_BYTES = 16; // chunk ppn i32, record count i32, max gap f64 (-1 = not known)
export const DIR_PER_FRAME = 240; // chunk entries per directory frame; entries 240..254 hold its groups' max gaps, 255 the frame's (f64 at the second slot)
export const DIR_GROUP = 16; // chunks per group (DIR_PER_FRAME / DIR_GROUP groups per frame)
/** Linux's default vm.max_map_count. */
export const MAX_MAP_COUNT = 65530;
/** Region flags. */
export const RF_SHARED = 1 << 0; // else private
export const RF_FILE = 1 << 1; // file-backed (else anonymous; anonymous shared uses an anon file)
export const RF_GROWSDOWN = 1 << 2; // a stack: a fault below it extends it (kernel/mm/stack.ts)
export const RF_HUGE_OK = 1 << 3; // may be backed by 2 MiB leaves
export const RF_DEVICE = 1 << 4; // maps given physical frames; no refcount ownership
export const RF_HEAP = 1 << 5; // the brk heap
export const RF_NO_MAYWRITE = 1 << 6; // shared file mapping of a description not open for writing: never writable (Linux lacks VM_MAYWRITE); mprotect(PROT_WRITE) is EACCES
export const RF_LOCKED = 1 << 7; // mlock'ed (VM_LOCKED): its pages were made resident and count against RLIMIT_MEMLOCK (kernel/mm/mlock.ts)
export const RF_DONTFORK = 1 << 8; // MADV_DONTFORK (VM_DONTCOPY): fork leaves the range out of the child
export const RF_WIPEONFORK = 1 << 9; // MADV_WIPEONFORK (private anonymous only): the child gets the range empty (zero-filled on touch)

// ---- file object (words) ----
export const FILE_BYTES = 256;
export const F_STATE = 0; // FILE_* below
export const F_REFS = 1; // regions referring to the file (+ creator's reference)
export const F_FLAGS = 2; // FF_*
export const F_PATH_LEN = 3; // bytes of host path at F_PATH_BYTE
export const F_SIZE = 4; // f64: bytes
export const F_HOSTFD = 6; // host fd the file owns (FF_HOST), closed with the last reference
export const F_DEV = 8; // f64: host st_dev (FF_HOST): with F_INO, the file's identity
export const F_INO = 10; // f64: host st_ino (FF_HOST)
export const F_PATH_BYTE = 64; // host path, UTF-8, up to FILE_PATH_MAX bytes
export const FILE_PATH_MAX = FILE_BYTES - F_PATH_BYTE;
export const FILE_FREE = 0;
export const FILE_LIVE = 1;
export const FF_ANON = 1 << 0; // shared anonymous memory: pages dropped with the last reference
export const FF_HOST = 1 << 1; // filled on demand from the host file at the path
export const FF_WRITEBACK = 1 << 2; // dirty pages are written back to the host file

// ---- page-cache entry (words) ----
export const PC_BYTES = 16;
export const PC_FILE = 0; // file id, PC_EMPTY or PC_TOMB
export const PC_PAGE = 1; // page index in the file
export const PC_PPN = 2;
export const PC_DIRTY = 3; // PCD_* bits
export const PCD_DIRTY = 1 << 0; // written through a shared mapping (write-back done or owed)
export const PCD_REF = 1 << 1; // looked up since the eviction clock last passed (second chance)
export const PC_EMPTY = 0;
export const PC_TOMB = -1;

/** VM capacities (boot config). */
export interface VmConfig {
  maxSpaces: number;
  regionsPerSpace: number;
  maxFiles: number;
  pageCacheEntries: number;
}
/** The smallest capacities (a 16 MiB machine still gets these). */
export const VM_DEFAULTS: VmConfig = { maxSpaces: 64, regionsPerSpace: MAX_MAP_COUNT, maxFiles: 64, pageCacheEntries: 8192 };

/**
 * Capacities for a machine of `frames` RAM frames (DESIGN.md 9: limits sized from --memory):
 * an address space and a page-cache file per 16 frames (4,096 each at 256 MiB), a page-cache
 * slot per frame (the cache may fill RAM), max_map_count mappings per process (their records
 * live in RAM frames, so the limit costs no ctl space). Never below VM_DEFAULTS.
 */
export function vmConfigFor(frames: number): VmConfig {
  const per16 = Math.min(VM_LIMITS.maxSpaces, Math.max(VM_DEFAULTS.maxSpaces, Math.floor(frames / 16)));
  return {
    maxSpaces: per16,
    regionsPerSpace: MAX_MAP_COUNT,
    maxFiles: Math.min(VM_LIMITS.maxFiles, Math.max(VM_DEFAULTS.maxFiles, Math.floor(frames / 16))),
    pageCacheEntries: Math.min(VM_LIMITS.pageCacheEntries, Math.max(VM_DEFAULTS.pageCacheEntries, frames)),
  };
}

/** Upper bounds of each capacity (ASIDs are 16 bits: slot + 1). */
const VM_LIMITS: VmConfig = { maxSpaces: 65535, regionsPerSpace: RL_DIR_MAX * DIR_PER_FRAME * (CHUNK_CAP / 4), maxFiles: 65536, pageCacheEntries: 1 << 22 };

/** Bytes of each VM region for `c` (layout.ts sizes the regions with these). */
export function vmRegionBytes(c: VmConfig): { vmHeader: number; asTable: number; files: number; pageCache: number } {
  return {
    vmHeader: VM_HEADER_BYTES,
    asTable: c.maxSpaces * AS_BYTES,
    files: c.maxFiles * FILE_BYTES,
    pageCache: c.pageCacheEntries * PC_BYTES,
  };
}

/** Throws a RangeError naming the field unless every capacity is a sane positive integer. */
export function validateVmConfig(c: VmConfig): void {
  const lim: Record<keyof VmConfig, number> = VM_LIMITS;
  for (const k of Object.keys(lim) as (keyof VmConfig)[]) {
    const v = c[k];
    if (!(Number.isInteger(v) && v >= 1 && v <= lim[k])) throw new RangeError(`vm config: ${k} ${v} must be an integer from 1 to ${lim[k]}`);
  }
  if (c.regionsPerSpace < 4) throw new RangeError(`vm config: regionsPerSpace ${c.regionsPerSpace} must be >= 4`);
}
