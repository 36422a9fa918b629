/**
 * The region list of one address space: sorted, non-overlapping records (Linux's VMAs), up
 * to `capacity` of them (Linux's vm.max_map_count, 65,530 by default): an operation that
 * would need more records fails with ENOMEM and changes nothing.
 *
 * A record: start vpn, npages, prot (PROT_*), flags (RF_*), file id (0 = none) and the file
 * page offset of its first page. Each record with a file holds one reference on that file;
 * splitting a record takes one more and merging drops one, through `fileRef` (set by the
 * owner of the list; kernel/mm/pagecache.ts counts them).
 *
 * Storage — sorted chunks in RAM frames, so that a process may hold tens of thousands of
 * mappings without a fixed table in ctl (kernel memory comes out of --memory, as on Linux):
 *
 *   header (in ctl, RL_* words of the address-space descriptor)
 *     RL_COUNT, RL_NCHUNKS, RL_NSPARE + RL_SPARE[] (frames held for an operation), RL_DIR[]
 *            │ ppns of up to RL_DIR_MAX directory frames
 *            ▼
 *   directory (RAM frames, DIR_PER_FRAME entries of DIR_ENTRY_BYTES each, in order)
 *     [chunk ppn i32 | record count i32 | max gap f64 (-1 = not known)] ...
 *     then the max gap of each group of DIR_GROUP chunks, then of the whole frame
 *            │
 *            ▼
 *   chunks (one RAM frame each: up to CHUNK_CAP records of CHUNK_RECORD_BYTES, sorted)
 *     [start f64 | npages f64 | pgoff f64 | prot | flags << 16  i32 | file i32] ...
 *
 * A position names a record as chunk index × CHUNK_CAP + index in the chunk; positions are
 * valid until the next change. Lookups are two binary searches (directory, then chunk); an
 * insert or removal moves at most one chunk's records and, when a chunk splits or empties,
 * the directory's entries. Every chunk's largest gap below its records (its "max gap", kept
 * lazily), of every group of DIR_GROUP chunks and of every directory frame let the top-down
 * free-area search skip whole chunks, groups and frames — a three-level summary standing in
 * for Linux's augmented VMA tree. A removal that leaves a chunk under a quarter full merges it with a neighbour when
 * both fit in one chunk, so chunks stay on average well above CHUNK_CAP / 4 records full and
 * the directory (RL_DIR_MAX x DIR_PER_FRAME chunks) always holds `capacity` records.
 *
 * Frames: a mutating operation first makes sure it holds enough frames for the splits it may
 * do (RL_SPARE; -ENOMEM, nothing changed, when RAM is out) and gives the unused ones back at
 * its end; `clear` frees every frame. Chunk frames are never mapped into user page tables,
 * so freeing them needs no shootdown.
 *
 * Guarded by the address space's mmap lock: mutate only holding it exclusive; `find`, `get`,
 * `next`, `prev` hold it shared (faults) or exclusive.
 */
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { ENOMEM } from '../errno.ts';
import {
  CHUNK_CAP, CHUNK_RECORD_BYTES, DIR_ENTRY_BYTES, DIR_GROUP, DIR_PER_FRAME, RL_COUNT, RL_DIR, RL_DIR_MAX, RL_HOLD, RL_NCHUNKS,
  RL_NSPARE, RL_SPARE, RL_SPARE_MAX,
} from './layout.ts';

export interface Region {
  start: number;
  npages: number;
  prot: number;
  flags: number;
  file: number;
  pgoff: number;
}

/** Where region chunks live: RAM views and a frame source (kernel/mm/frames.ts in the kernel). */
export interface ChunkMemory {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** A frame (ppn > 0), or -1 when none is free. */
  alloc(): number;
  /** Give back a frame `alloc` returned. */
  free(ppn: number): void;
}

/** End vpn (exclusive) of `r`. */
export function regionEnd(r: Region): number {
  return r.start + r.npages;
}

/** True when `b` can be merged onto the end of `a`. */
export function mergeable(a: Region, b: Region): boolean {
  return regionEnd(a) === b.start && a.prot === b.prot && a.flags === b.flags && a.file === b.file &&
    (a.file === 0 || a.pgoff + a.npages === b.pgoff);
}

const RD = CHUNK_RECORD_BYTES / 8; // f64 slots per record
const RW = CHUNK_RECORD_BYTES / 4; // i32 words per record
const DD = DIR_ENTRY_BYTES / 8;
const DW = DIR_ENTRY_BYTES / 4;
const PAGE_D = PAGE_SIZE / 8;
const PAGE_W = PAGE_SIZE / 4;
const PROT_MASK = 0xffff;
const GROUPS = DIR_PER_FRAME / DIR_GROUP; // groups per directory frame; summary index GROUPS = the frame
/** Most frames one operation may need: two inserts, each a chunk and a directory frame. */
const MAX_NEED = 4;

export class RegionList {
  private readonly meta: Int32Array;
  private readonly h: number; // word index of the RL_* header in `meta`
  private readonly mem: ChunkMemory;
  readonly capacity: number;
  /** Called with (file, +1) when a split duplicates a file reference, (file, -1) when a merge drops one. */
  fileRef: (file: number, delta: number) => void = () => {};

  /**
   * Attach to the list whose header is at word `headerWord` of `meta` (ctl), chunks in `mem`,
   * at most `capacity` records. A zeroed header is an empty list.
   */
  constructor(meta: Int32Array, headerWord: number, mem: ChunkMemory, capacity: number) {
    if (!(capacity >= 4 && capacity <= RL_DIR_MAX * DIR_PER_FRAME * (CHUNK_CAP / 4))) throw new RangeError(`RegionList: capacity ${capacity}`);
    this.meta = meta;
    this.h = headerWord;
    this.mem = mem;
    this.capacity = capacity;
  }

  get count(): number {
    return this.meta[this.h + RL_COUNT]!;
  }
  private setCount(n: number): void {
    Atomics.store(this.meta, this.h + RL_COUNT, n);
  }
  /** Chunks in use (tests and statistics). */
  get chunks(): number {
    return this.meta[this.h + RL_NCHUNKS]!;
  }
  /** Frames the list holds now (chunks and directory frames). */
  get frames(): number {
    const n = this.chunks;
    return n + Math.ceil(n / DIR_PER_FRAME) + this.meta[this.h + RL_NSPARE]!;
  }

  // ---- directory ----
  /** f64 index of directory entry j (its i32 words are twice that). */
  private dirD(j: number): number {
    return this.meta[this.h + RL_DIR + Math.floor(j / DIR_PER_FRAME)]! * PAGE_D + (j % DIR_PER_FRAME) * DD;
  }
  private chunkPpn(j: number): number {
    return this.mem.i32[this.dirD(j) * 2]!;
  }
  private cnt(j: number): number {
    return this.mem.i32[this.dirD(j) * 2 + 1]!;
  }
  private setCnt(j: number, n: number): void {
    this.mem.i32[this.dirD(j) * 2 + 1] = n;
  }
  private invalidateGap(j: number): void {
    if (j >= 0 && j < this.chunks) {
      this.mem.f64[this.dirD(j) + 1] = -1;
      const f = Math.floor(j / DIR_PER_FRAME);
      this.mem.f64[this.summaryD(f, Math.floor((j % DIR_PER_FRAME) / DIR_GROUP))] = -1;
      this.mem.f64[this.summaryD(f, GROUPS)] = -1;
    }
  }
  /** f64 index of the max gap of group g of directory frame f (g = GROUPS: the whole frame). */
  private summaryD(f: number, g: number): number {
    return this.meta[this.h + RL_DIR + f]! * PAGE_D + (DIR_PER_FRAME + g) * DD + 1;
  }
  /** Forget the group and frame max gaps of directory frames from the one holding entry j on (entries moved). */
  private invalidateFrom(j: number): void {
    for (let f = Math.floor(j / DIR_PER_FRAME); f * DIR_PER_FRAME < this.chunks; f++) {
      for (let g = 0; g <= GROUPS; g++) this.mem.f64[this.summaryD(f, g)] = -1;
    }
  }

  // ---- records ----
  /** f64 index of record k of chunk j. */
  private recD(j: number, k: number): number {
    return this.chunkPpn(j) * PAGE_D + k * RD;
  }
  private startAt(j: number, k: number): number {
    return this.mem.f64[this.recD(j, k)]!;
  }
  private endAt(j: number, k: number): number {
    const d = this.recD(j, k);
    return this.mem.f64[d]! + this.mem.f64[d + 1]!;
  }
  private read(j: number, k: number): Region {
    const d = this.recD(j, k), w = d * 2, f = this.mem.f64, a = this.mem.i32;
    const pf = a[w + 6]!;
    return { start: f[d]!, npages: f[d + 1]!, pgoff: f[d + 2]!, prot: pf & PROT_MASK, flags: pf >>> 16, file: a[w + 7]! };
  }
  private write(j: number, k: number, r: Region): void {
    const d = this.recD(j, k), w = d * 2;
    this.mem.f64[d] = r.start;
    this.mem.f64[d + 1] = r.npages;
    this.mem.f64[d + 2] = r.pgoff;
    this.mem.i32[w + 6] = (r.prot & PROT_MASK) | (r.flags << 16);
    this.mem.i32[w + 7] = r.file;
    this.invalidateGap(j);
    this.invalidateGap(j + 1);
  }
  /** Move records [from, from + n) of chunk j to index `to` of the same chunk. */
  private shift(j: number, from: number, to: number, n: number): void {
    if (n <= 0) return;
    const base = this.chunkPpn(j) * PAGE_W;
    this.mem.i32.copyWithin(base + to * RW, base + from * RW, base + (from + n) * RW);
  }

  // ---- positions ----
  /** Record at position `pos` as an object. */
  get(pos: number): Region {
    return this.read(Math.floor(pos / CHUNK_CAP), pos % CHUNK_CAP);
  }
  /** Position after `pos`, or -1. */
  next(pos: number): number {
    const j = Math.floor(pos / CHUNK_CAP), k = pos % CHUNK_CAP;
    if (k + 1 < this.cnt(j)) return pos + 1;
    return j + 1 < this.chunks ? (j + 1) * CHUNK_CAP : -1;
  }
  /** Position before `pos`, or -1. */
  prev(pos: number): number {
    const j = Math.floor(pos / CHUNK_CAP), k = pos % CHUNK_CAP;
    if (k > 0) return pos - 1;
    return j > 0 ? (j - 1) * CHUNK_CAP + this.cnt(j - 1) - 1 : -1;
  }
  /** Position of the first record, or -1. */
  first(): number {
    return this.chunks > 0 ? 0 : -1;
  }
  /** Position of the last record, or -1. */
  last(): number {
    const n = this.chunks;
    return n > 0 ? (n - 1) * CHUNK_CAP + this.cnt(n - 1) - 1 : -1;
  }

  /** Every record, in order (a copy). */
  all(): Region[] {
    const out: Region[] = [];
    for (let j = 0; j < this.chunks; j++) for (let k = 0, n = this.cnt(j); k < n; k++) out.push(this.read(j, k));
    return out;
  }

  /** Position of the first record ending after `vpn`, or -1 when none. */
  lowerBound(vpn: number): number {
    const nch = this.chunks;
    let lo = 0, hi = nch;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.endAt(mid, this.cnt(mid) - 1) <= vpn) lo = mid + 1;
      else hi = mid;
    }
    if (lo === nch) return -1;
    const j = lo;
    let a = 0, b = this.cnt(j) - 1; // the last record of chunk j ends after vpn
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (this.endAt(j, mid) <= vpn) a = mid + 1;
      else b = mid;
    }
    return j * CHUNK_CAP + a;
  }

  /** Position of the record containing `vpn`, or -1. */
  find(vpn: number): number {
    const p = this.lowerBound(vpn);
    return p >= 0 && this.get(p).start <= vpn ? p : -1;
  }

  /** True when some record overlaps [s, e). */
  overlaps(s: number, e: number): boolean {
    const p = this.lowerBound(s);
    return p >= 0 && this.get(p).start < e;
  }

  /** True when [s, e) is covered by records without a gap. */
  covers(s: number, e: number): boolean {
    let at = s;
    for (let p = this.lowerBound(s); p >= 0 && at < e; p = this.next(p)) {
      const r = this.get(p);
      if (r.start > at) return false;
      at = regionEnd(r);
    }
    return at >= e;
  }

  /** Records lying wholly inside [s, e). */
  countInside(s: number, e: number): number {
    let n = 0;
    for (let p = this.lowerBound(s); p >= 0; p = this.next(p)) {
      const r = this.get(p);
      if (r.start >= e) break;
      if (r.start >= s && regionEnd(r) <= e) n++;
    }
    return n;
  }

  // ---- frames ----
  private takeFrame(): number {
    const n = this.meta[this.h + RL_NSPARE]!;
    if (n > 0) {
      this.meta[this.h + RL_NSPARE] = n - 1;
      return this.meta[this.h + RL_SPARE + n - 1]!;
    }
    const f = this.mem.alloc();
    if (f < 0) throw new Error('regions: out of frames after reserving them');
    return f;
  }
  /** Hold `need` frames (up to RL_SPARE_MAX) for the operation about to run; false when RAM is out (none kept). */
  private reserve(need: number): boolean {
    while (this.meta[this.h + RL_NSPARE]! < Math.min(need, RL_SPARE_MAX)) {
      const f = this.mem.alloc();
      if (f < 0) {
        if (this.meta[this.h + RL_HOLD] === 0) this.freeSpares();
        return false;
      }
      const n = this.meta[this.h + RL_NSPARE]!;
      this.meta[this.h + RL_SPARE + n] = f;
      this.meta[this.h + RL_NSPARE] = n + 1;
    }
    return true;
  }
  /** Give back the frames an operation reserved and did not use (not while held). */
  private release(): void {
    if (this.meta[this.h + RL_HOLD] !== 0) return;
    this.freeSpares();
  }
  private freeSpares(): void {
    for (let n = this.meta[this.h + RL_NSPARE]!; n > 0; n--) this.mem.free(this.meta[this.h + RL_SPARE + n - 1]!);
    this.meta[this.h + RL_NSPARE] = 0;
  }
  /** Frames an insert of a record starting at `vpn` may take: 0 when its chunk has room for `k` more. */
  private needFor(vpn: number, k: number): number {
    const nch = this.chunks;
    if (nch === 0) return 2;
    const p = this.lowerBound(vpn);
    const j = p < 0 ? nch - 1 : Math.floor(p / CHUNK_CAP);
    return this.cnt(j) + k <= CHUNK_CAP ? 0 : 2;
  }

  /**
   * Reserve frames so that the next removeRange and one insert cannot fail for want of RAM
   * (mremap's move: the old range leaves, the moved record must then go in). False, nothing
   * held, when RAM is out. Pair with `unhold`.
   */
  hold(): boolean {
    if (!this.reserve(RL_SPARE_MAX)) return false;
    this.meta[this.h + RL_HOLD] = 1;
    return true;
  }
  /** End a `hold`: unused reserved frames go back. */
  unhold(): void {
    this.meta[this.h + RL_HOLD] = 0;
    this.freeSpares();
  }

  // ---- chunk structure ----
  /** Insert a directory entry for a new (empty) chunk at index j. */
  private addChunk(j: number): void {
    const nch = this.chunks;
    if (nch >= RL_DIR_MAX * DIR_PER_FRAME) throw new Error('regions: directory full');
    if (nch % DIR_PER_FRAME === 0) this.meta[this.h + RL_DIR + nch / DIR_PER_FRAME] = this.takeFrame();
    const ppn = this.takeFrame();
    this.meta[this.h + RL_NCHUNKS] = nch + 1;
    for (let i = nch; i > j; i--) this.copyEntry(i - 1, i);
    const d = this.dirD(j);
    this.mem.i32[d * 2] = ppn;
    this.mem.i32[d * 2 + 1] = 0;
    for (let i = j - 1; i <= j + 2; i++) this.invalidateGap(i);
    this.invalidateFrom(j);
  }
  /** Remove chunk j from the directory and free its frame (its records are gone or moved). */
  private dropChunk(j: number): void {
    const nch = this.chunks;
    this.mem.free(this.chunkPpn(j));
    for (let i = j; i + 1 < nch; i++) this.copyEntry(i + 1, i);
    this.meta[this.h + RL_NCHUNKS] = nch - 1;
    if ((nch - 1) % DIR_PER_FRAME === 0) this.mem.free(this.meta[this.h + RL_DIR + (nch - 1) / DIR_PER_FRAME]!);
    for (let i = j - 1; i <= j + 1; i++) this.invalidateGap(i);
    this.invalidateFrom(j);
  }
  private copyEntry(from: number, to: number): void {
    const a = this.dirD(from) * 2, b = this.dirD(to) * 2, w = this.mem.i32;
    for (let i = 0; i < DW; i++) w[b + i] = w[a + i]!; // bit-exact (the gap is an f64)
  }

  /** Insert `r` into the chunks in order (room reserved by the caller). */
  private place(r: Region): void {
    const nch = this.chunks;
    if (nch === 0) {
      this.addChunk(0);
      this.putIn(0, 0, r);
      return;
    }
    const p = this.lowerBound(r.start);
    let j = p < 0 ? nch - 1 : Math.floor(p / CHUNK_CAP);
    let k = p < 0 ? this.cnt(j) : p % CHUNK_CAP;
    if (this.cnt(j) < CHUNK_CAP) return this.putIn(j, k, r);
    if (k === 0 && j > 0 && this.cnt(j - 1) < CHUNK_CAP) return this.putIn(j - 1, this.cnt(j - 1), r);
    if (k === 0 || k === CHUNK_CAP) { // at the front or the end of a full chunk: a new chunk of its own
      const at = k === 0 ? j : j + 1;
      this.addChunk(at);
      return this.putIn(at, 0, r);
    }
    // Split the full chunk j in halves.
    const half = CHUNK_CAP / 2;
    this.addChunk(j + 1);
    const src = this.chunkPpn(j) * PAGE_W, dst = this.chunkPpn(j + 1) * PAGE_W;
    this.mem.i32.copyWithin(dst, src + half * RW, src + CHUNK_CAP * RW);
    this.setCnt(j, half);
    this.setCnt(j + 1, CHUNK_CAP - half);
    if (k > half) { j++; k -= half; }
    this.putIn(j, k, r);
  }
  private putIn(j: number, k: number, r: Region): void {
    const n = this.cnt(j);
    this.shift(j, k, k + 1, n - k);
    this.setCnt(j, n + 1);
    this.write(j, k, r);
    this.setCount(this.count + 1);
  }

  /** Remove the record at position `pos`; merges a chunk left under a quarter full into a neighbour. */
  private removeAt(pos: number): void {
    const j = Math.floor(pos / CHUNK_CAP), k = pos % CHUNK_CAP;
    const n = this.cnt(j);
    this.shift(j, k + 1, k, n - k - 1);
    this.setCnt(j, n - 1);
    this.setCount(this.count - 1);
    this.invalidateGap(j);
    this.invalidateGap(j + 1);
    if (n - 1 === 0) this.dropChunk(j);
    else if (n - 1 < CHUNK_CAP / 4) this.rebalance(j);
  }
  /** Merge chunk j into a neighbour (or the neighbour into it) when both fit in one chunk. */
  private rebalance(j: number): void {
    const n = this.cnt(j);
    if (j > 0 && this.cnt(j - 1) + n <= CHUNK_CAP) return this.mergeChunks(j - 1);
    if (j + 1 < this.chunks && this.cnt(j + 1) + n <= CHUNK_CAP) this.mergeChunks(j);
  }
  /** Append chunk j + 1's records to chunk j and drop chunk j + 1. */
  private mergeChunks(j: number): void {
    const a = this.cnt(j), b = this.cnt(j + 1);
    const dst = this.chunkPpn(j) * PAGE_W, src = this.chunkPpn(j + 1) * PAGE_W;
    this.mem.i32.copyWithin(dst + a * RW, src, src + b * RW);
    this.setCnt(j, a + b);
    this.dropChunk(j + 1);
  }

  // ---- operations ----
  /** Insert `r` (must not overlap; consumes one file reference). 0, or -ENOMEM when full or out of RAM. */
  insert(r: Region): number {
    if (!(r.npages > 0)) throw new Error(`regions.insert: empty region at ${r.start}`);
    const p = this.lowerBound(r.start);
    if (p >= 0 && this.get(p).start < regionEnd(r)) throw new Error(`regions.insert: [${r.start}, ${regionEnd(r)}) overlaps a region`);
    if (this.count >= this.capacity) return -ENOMEM;
    if (!this.reserve(this.needFor(r.start, 1))) return -ENOMEM;
    this.place(r);
    this.release();
    return 0;
  }

  /** Split the record containing `vpn` so that one starts at `vpn`. 0, or -ENOMEM when full or out of RAM. */
  splitAt(vpn: number): number {
    const p = this.find(vpn);
    if (p < 0 || this.get(p).start === vpn) return 0;
    if (this.count >= this.capacity) return -ENOMEM;
    if (!this.reserve(this.needFor(vpn, 1))) return -ENOMEM;
    this.splitLocked(p, vpn);
    this.release();
    return 0;
  }
  /** Split record `p` at `vpn` (frames reserved). */
  private splitLocked(p: number, vpn: number): void {
    const r = this.get(p);
    const cut = vpn - r.start;
    this.write(Math.floor(p / CHUNK_CAP), p % CHUNK_CAP, { ...r, npages: cut });
    this.place({ ...r, start: vpn, npages: r.npages - cut, pgoff: r.pgoff + cut });
    if (r.file !== 0) this.fileRef(r.file, +1);
  }
  /** Split at s and at e (capacity checked, frames reserved by the caller). */
  private splitEnds(s: number, e: number): void {
    for (const v of [s, e]) {
      const p = this.find(v);
      if (p >= 0 && this.get(p).start < v) this.splitLocked(p, v);
    }
  }
  /** Reserve frames for splitting at s and e; false (nothing held) when RAM is out. */
  private reserveSplits(s: number, e: number): boolean {
    return this.reserve(Math.min(MAX_NEED, this.needFor(s, 2) + this.needFor(e, 2)));
  }

  /** Records that splitting at s and at e would add (0, 1 or 2). */
  splitsNeeded(s: number, e: number): number {
    let k = 0;
    const a = this.find(s);
    if (a >= 0 && this.get(a).start < s) k++;
    const b = this.find(e);
    if (b >= 0 && this.get(b).start < e) k++;
    return k;
  }

  /**
   * Remove [s, e): records partly inside are split first. Returns the removed records (each
   * still holding its file reference: the caller drops it), or -ENOMEM (nothing changed)
   * when the splits do not fit.
   */
  removeRange(s: number, e: number): Region[] | number {
    // Like Linux, the splits must fit before anything is removed (munmap can fail with ENOMEM).
    if (this.count + this.splitsNeeded(s, e) > this.capacity) return -ENOMEM;
    if (!this.reserveSplits(s, e)) return -ENOMEM;
    this.splitEnds(s, e);
    this.release();
    const removed: Region[] = [];
    for (let p = this.lowerBound(s); p >= 0;) {
      const r = this.get(p);
      if (r.start >= e) break;
      removed.push(r);
      this.removeAt(p);
      p = this.lowerBound(s);
    }
    return removed;
  }

  /**
   * Set prot of the covered parts of [s, e) to `prot`, splitting at the ends and merging
   * neighbours afterwards. -ENOMEM (nothing changed) when the splits do not fit.
   */
  setProt(s: number, e: number, prot: number): number {
    return this.setAttrs(s, e, (r) => ({ prot, flags: r.flags }));
  }

  /**
   * Set prot and flags of the covered parts of [s, e) to `attrs(record)`, splitting at the
   * ends and merging neighbours afterwards. -ENOMEM (nothing changed) when the splits do not fit.
   */
  setAttrs(s: number, e: number, attrs: (r: Region) => { prot: number; flags: number }): number {
    if (this.count + this.splitsNeeded(s, e) > this.capacity) return -ENOMEM;
    if (!this.reserveSplits(s, e)) return -ENOMEM;
    this.splitEnds(s, e);
    this.release();
    for (let p = this.lowerBound(s); p >= 0; p = this.next(p)) {
      const r = this.get(p);
      if (r.start >= e) break;
      const a = attrs(r);
      this.write(Math.floor(p / CHUNK_CAP), p % CHUNK_CAP, { ...r, prot: a.prot, flags: a.flags });
    }
    this.mergeRange(s, e);
    return 0;
  }

  /** Merge mergeable neighbours among the records touching [s, e] (their outer neighbours included). */
  mergeRange(s: number, e: number): void {
    const lb = this.lowerBound(s);
    let p = lb < 0 ? this.last() : (this.prev(lb) >= 0 ? this.prev(lb) : lb);
    while (p >= 0) {
      const a = this.get(p);
      if (a.start > e) break;
      const q = this.next(p);
      if (q < 0) break;
      const b = this.get(q);
      if (mergeable(a, b)) {
        this.write(Math.floor(p / CHUNK_CAP), p % CHUNK_CAP, { ...a, npages: a.npages + b.npages });
        this.removeAt(q);
        if (a.file !== 0) this.fileRef(a.file, -1);
        p = this.find(a.start); // chunks may have merged: find the record again
      } else {
        p = q;
      }
    }
  }

  /** Change record `pos` in place (size or attributes; the caller keeps the order valid). */
  update(pos: number, r: Region): void {
    this.write(Math.floor(pos / CHUNK_CAP), pos % CHUNK_CAP, r);
  }

  /** Drop every record (returned, each with its file reference for the caller to drop) and free every frame. */
  clear(): Region[] {
    const all = this.all();
    const nch = this.chunks;
    for (let j = 0; j < nch; j++) this.mem.free(this.chunkPpn(j));
    for (let f = 0; f < Math.ceil(nch / DIR_PER_FRAME); f++) this.mem.free(this.meta[this.h + RL_DIR + f]!);
    this.meta[this.h + RL_HOLD] = 0;
    this.freeSpares();
    this.meta[this.h + RL_NCHUNKS] = 0;
    this.setCount(0);
    return all;
  }

  // ---- free-area search ----
  /** Largest gap below a record of chunk j (a record's gap: its start minus the previous record's end, or its start for the first). */
  private maxGap(j: number): number {
    const d = this.dirD(j) + 1;
    let g = this.mem.f64[d]!;
    if (g >= 0) return g;
    g = 0;
    let below = j > 0 ? this.endAt(j - 1, this.cnt(j - 1) - 1) : 0;
    for (let k = 0, n = this.cnt(j); k < n; k++) {
      const s = this.startAt(j, k);
      if (s - below > g) g = s - below;
      below = this.endAt(j, k);
    }
    this.mem.f64[d] = g;
    return g;
  }

  /** Largest max gap among chunks [j0, j0 + span) (a group or a directory frame), cached at summary (f, g). */
  private spanGap(j0: number, span: number, f: number, g: number): number {
    const d = this.summaryD(f, g);
    let gap = this.mem.f64[d]!;
    if (gap >= 0) return gap;
    gap = 0;
    const end = Math.min(this.chunks, j0 + span);
    if (span === DIR_PER_FRAME) for (let j = j0; j < end; j += DIR_GROUP) gap = Math.max(gap, this.spanGap(j, DIR_GROUP, f, (j % DIR_PER_FRAME) / DIR_GROUP));
    else for (let j = j0; j < end; j++) gap = Math.max(gap, this.maxGap(j));
    this.mem.f64[d] = gap;
    return gap;
  }

  /**
   * Standing at the top record of chunk j: the lowest chunk s0 such that every gap below a
   * record of chunks s0..j is smaller than npages (j + 1 when chunk j has one that may fit).
   * Tries the whole directory frame, then the group, then the chunk, each only when chunk j is
   * its last.
   */
  private skipFrom(j: number, npages: number): number {
    const nch = this.chunks;
    const f = Math.floor(j / DIR_PER_FRAME), f0 = f * DIR_PER_FRAME;
    if (j === Math.min(nch, f0 + DIR_PER_FRAME) - 1 && this.spanGap(f0, DIR_PER_FRAME, f, GROUPS) < npages) return f0;
    const g0 = j - (j % DIR_GROUP);
    if (j === Math.min(nch, g0 + DIR_GROUP) - 1 && this.spanGap(g0, DIR_GROUP, f, (g0 % DIR_PER_FRAME) / DIR_GROUP) < npages) return g0;
    return this.maxGap(j) < npages ? j : j + 1;
  }

  /**
   * Top-down search for `npages` free pages below `topVpn` and at or above `floorVpn`, the start
   * aligned to `align` pages: the highest fit, or -1 (Linux's vm_unmapped_area, TOPDOWN). A
   * record straddling topVpn lowers the top to its start. Skips every chunk, group and frame
   * whose max gap is too small, so a search costs a few summary reads, not a walk over every record.
   */
  findGapTopDown(topVpn: number, floorVpn: number, npages: number, align: number): number {
    let top = topVpn;
    const q = this.lowerBound(top);
    if (q >= 0) top = Math.min(top, this.get(q).start);
    const p0 = q >= 0 ? this.prev(q) : this.last();
    let j = p0 < 0 ? -1 : Math.floor(p0 / CHUNK_CAP), k = p0 < 0 ? -1 : p0 % CHUNK_CAP;
    const fit = (below: number): number => {
      if (below >= top) return -1;
      let start = top - npages;
      start -= ((start % align) + align) % align;
      return start >= Math.max(below, floorVpn) ? start : -1;
    };
    for (;;) {
      if (j < 0) return fit(floorVpn); // below the lowest record
      const below = this.endAt(j, k);
      const s = fit(below); // the gap [end of (j, k), top)
      if (s >= 0) return s;
      if (below <= floorVpn) return -1;
      if (k === this.cnt(j) - 1) {
        const s0 = this.skipFrom(j, npages);
        if (s0 <= j) { // every gap below the records of chunks s0..j is too small
          top = Math.min(top, this.startAt(s0, 0));
          j = s0 - 1;
          k = j >= 0 ? this.cnt(j) - 1 : -1;
          continue;
        }
      }
      top = Math.min(top, this.startAt(j, k));
      if (k > 0) k--;
      else { j--; k = j >= 0 ? this.cnt(j) - 1 : -1; }
    }
  }
}
