/**
 * Inside the VM regions of ctl (kernel/layout.ts places them; this file says what is in
 * them, like cpu/mailbox.ts for the mailboxes). All word indices are Int32 offsets from the
 * start of their record; fields marked f64 are Float64 slots (8-aligned word pairs) holding
 * integers up to 2^53 (vpns, byte sizes).
 *
 *   vmHeader   VM_HEADER_BYTES        boot facts: kernel level-2 tables, file/page-cache lock
 *   asTable    S x AS_BYTES           one VirtualAddressSpace descriptor per slot
 *   regions    S x R x REGION_BYTES   each slot's region list: R sorted records
 *   files      F x FILE_BYTES         page-cache file objects
 *   pageCache  P x PC_BYTES           hash table (file, page index) -> frame
 *   (S = maxSpaces, R = regionsPerSpace, F = maxFiles, P = pageCacheEntries: boot config)
 *
 * Who writes what, and what guards it:
 * - vmHeader: VMH_KROOT*, VMH_KPAGE written once by bootVm (hart 0 or the host) before any
 *   address space exists, read-only afterwards. VMH_BOOTED: Atomics.store(1) last.
 * - AS descriptor: AS_STATE by compareExchange (FREE -> LIVE on create, LIVE -> FREE on the
 *   last put). AS_REFCOUNT Atomics.add/sub. AS_ROOT Atomics.store once at create; read by
 *   Atomics.load (satp). AS_GEN Atomics.add, only grows, and only together with the
 *   AS_LAST_* record under the AS_GEN_LOCK spinlock (so the range of the latest bump is
 *   never torn). AS_ACTIVE* Atomics.or/and by the scheduler. AS_LOCK is the mmap lock
 *   (kernel/sync/rwlock.ts): the region list, AS_NREGIONS, AS_BRK*, AS_MMAP_BASE change only
 *   under it held exclusive; faults read them holding it shared. AS_BIRTH_GEN Atomics.store
 *   once at create (after the whole bump), read by Atomics.load.
 * - region records: only under the owning slot's mmap lock (exclusive to write).
 * - files and pageCache: under the SpinLock at VMH_PC_LOCK, except F_REFS (Atomics).
 */

// ---- VM header (words) ----
export const VM_HEADER_BYTES = 2048;
export const VMH_BOOTED = 0;
export const VMH_KPAGE = 1; // ppn of the kernel page mapped at KERNEL_PROBE_VA (U=0)
export const VMH_KTABLES = 2; // frames used by kernel tables + page (for accounting)
export const VMH_PC_LOCK = 16; // SpinLock: files and page cache
export const VMH_PC_USED = 17; // live page-cache entries
export const VMH_ASID_NEXT = 18; // reserved for the scheduler's ASID allocator (ASID = slot + 1 until then)
export const VMH_KROOT = 256; // 256 words: ppn of the level-2 table of root entry 256 + i

// ---- address-space descriptor (words) ----
export const AS_BYTES = 128;
export const AS_STATE = 0;
export const AS_REFCOUNT = 1;
export const AS_ROOT = 2; // root table ppn (what goes into satp)
export const AS_ASID = 3;
export const AS_GEN = 4; // tlb_generation
export const AS_NREGIONS = 5;
export const AS_ACTIVE = 6; // 2 words: bit h of word h >> 5 = hart h may cache translations
export const AS_LOCK = 8; // RwLock, 3 words: the mmap lock
export const AS_GEN_LOCK = 11; // SpinLock over AS_GEN + AS_LAST_*
export const AS_LAST_GEN = 12; // generation of the latest bump
export const AS_LAST_NPAGES = 13; // pages of that bump, AS_WHOLE = the whole ASID
export const AS_RSS = 14; // reserved: resident user pages (not maintained yet; mmap.ts residentPages walks)
export const AS_FLAGS = 15;
export const AS_LAST_VPN = 16; // f64: first vpn of the latest bump
export const AS_BRK_START = 18; // f64 (bytes)
export const AS_BRK = 20; // f64 (bytes)
export const AS_MMAP_BASE = 22; // f64 (bytes): top of the top-down mmap search
export const AS_BIRTH_GEN = 24; // tlb_generation right after create's whole bump: this life of the slot began there
/** AS_STATE values. */
export const AS_FREE = 0;
export const AS_LIVE = 1;
/** AS_LAST_NPAGES value meaning "flush the whole ASID". */
export const AS_WHOLE = -1;

// ---- region record (words) ----
export const REGION_BYTES = 48;
export const RG_START = 0; // f64: first vpn
export const RG_NPAGES = 2; // f64
export const RG_PGOFF = 4; // f64: file page offset of the first page
export const RG_PROT = 6; // PROT_* bits
export const RG_FLAGS = 7; // RF_* bits
export const RG_FILE = 8; // file id (0 = none)
/** Region flags. */
export const RF_SHARED = 1 << 0; // else private
export const RF_FILE = 1 << 1; // file-backed (else anonymous; anonymous shared uses an anon file)
export const RF_GROWSDOWN = 1 << 2;
export const RF_HUGE_OK = 1 << 3; // may be backed by 2 MiB leaves
export const RF_DEVICE = 1 << 4; // maps given physical frames; no refcount ownership
export const RF_HEAP = 1 << 5; // the brk heap

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
export const PC_DIRTY = 3;
export const PC_EMPTY = 0;
export const PC_TOMB = -1;

/** VM capacities (boot config). */
export interface VmConfig {
  maxSpaces: number;
  regionsPerSpace: number;
  maxFiles: number;
  pageCacheEntries: number;
}
export const VM_DEFAULTS: VmConfig = { maxSpaces: 64, regionsPerSpace: 256, maxFiles: 64, pageCacheEntries: 8192 };

/** Bytes of each VM region for `c` (layout.ts sizes the regions with these). */
export function vmRegionBytes(c: VmConfig): { vmHeader: number; asTable: number; regions: number; files: number; pageCache: number } {
  return {
    vmHeader: VM_HEADER_BYTES,
    asTable: c.maxSpaces * AS_BYTES,
    regions: c.maxSpaces * c.regionsPerSpace * REGION_BYTES,
    files: c.maxFiles * FILE_BYTES,
    pageCache: c.pageCacheEntries * PC_BYTES,
  };
}

/** Throws a RangeError naming the field unless every capacity is a sane positive integer. */
export function validateVmConfig(c: VmConfig): void {
  const lim: Record<keyof VmConfig, number> = { maxSpaces: 4096, regionsPerSpace: 65536, maxFiles: 65536, pageCacheEntries: 1 << 22 };
  for (const k of Object.keys(lim) as (keyof VmConfig)[]) {
    const v = c[k];
    if (!(Number.isInteger(v) && v >= 1 && v <= lim[k])) throw new RangeError(`vm config: ${k} ${v} must be an integer from 1 to ${lim[k]}`);
  }
  if (c.regionsPerSpace < 4) throw new RangeError(`vm config: regionsPerSpace ${c.regionsPerSpace} must be >= 4`);
}
