/**
 * The region list of one address space: up to `capacity` records, sorted by start vpn,
 * non-overlapping, in the shared region table (kernel/mm/layout.ts RG_*). Like Linux's VMAs
 * and its max_map_count: an operation that would need more records fails with ENOMEM and
 * changes nothing.
 *
 * A record: start vpn, npages, prot (PROT_*), flags (RF_*), file id (0 = none) and the file
 * page offset of its first page. Each record with a file holds one reference on that file;
 * splitting a record takes one more and merging drops one, through `fileRef` (set by the
 * owner of the list; kernel/mm/pagecache.ts counts them).
 *
 * Guarded by the address space's mmap lock: mutate only holding it exclusive; `find` and
 * `get` hold it shared (faults) or exclusive.
 */
import { ENOMEM } from '../errno.ts';
import {
  REGION_BYTES, RF_FILE, RG_FILE, RG_FLAGS, RG_NPAGES, RG_PGOFF, RG_PROT, RG_START,
} from './layout.ts';

export interface Region {
  start: number;
  npages: number;
  prot: number;
  flags: number;
  file: number;
  pgoff: number;
}

const W = REGION_BYTES / 4;
const D = REGION_BYTES / 8;

/** End vpn (exclusive) of `r`. */
export function regionEnd(r: Region): number {
  return r.start + r.npages;
}

/** True when `b` can be merged onto the end of `a`. */
export function mergeable(a: Region, b: Region): boolean {
  return regionEnd(a) === b.start && a.prot === b.prot && a.flags === b.flags && a.file === b.file &&
    (a.file === 0 || a.pgoff + a.npages === b.pgoff);
}

export class RegionList {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly base: number; // word index of record 0
  private readonly countIndex: number; // word index of the count (AS_NREGIONS)
  readonly capacity: number;
  /** Called with (file, +1) when a split duplicates a file reference, (file, -1) when a merge drops one. */
  fileRef: (file: number, delta: number) => void = () => {};

  /** Attach to the records at byte `baseByte` of the ctl views, count at word `countIndex`. */
  constructor(i32: Int32Array, f64: Float64Array, baseByte: number, countIndex: number, capacity: number) {
    if (baseByte % 8 !== 0) throw new Error('RegionList: records must be 8-aligned');
    this.i32 = i32;
    this.f64 = f64;
    this.base = baseByte / 4;
    this.countIndex = countIndex;
    this.capacity = capacity;
  }

  get count(): number {
    return this.i32[this.countIndex]!;
  }
  private setCount(n: number): void {
    Atomics.store(this.i32, this.countIndex, n);
  }

  /** Record `i` as an object. */
  get(i: number): Region {
    const w = this.base + i * W, d = w / 2;
    const f = this.f64, a = this.i32;
    return { start: f[d + RG_START / 2]!, npages: f[d + RG_NPAGES / 2]!, pgoff: f[d + RG_PGOFF / 2]!, prot: a[w + RG_PROT]!, flags: a[w + RG_FLAGS]!, file: a[w + RG_FILE]! };
  }
  private put(i: number, r: Region): void {
    const w = this.base + i * W, d = w / 2;
    this.f64[d + RG_START / 2] = r.start;
    this.f64[d + RG_NPAGES / 2] = r.npages;
    this.f64[d + RG_PGOFF / 2] = r.pgoff;
    this.i32[w + RG_PROT] = r.prot;
    this.i32[w + RG_FLAGS] = r.flags;
    this.i32[w + RG_FILE] = r.file;
  }
  private startOf(i: number): number {
    return this.f64[(this.base + i * W) / 2 + RG_START / 2]!;
  }
  private endOf(i: number): number {
    const d = (this.base + i * W) / 2;
    return this.f64[d + RG_START / 2]! + this.f64[d + RG_NPAGES / 2]!;
  }
  private move(from: number, to: number, n: number): void {
    if (n > 0) this.i32.copyWithin(this.base + to * W, this.base + from * W, this.base + (from + n) * W);
  }

  /** Every record, in order (a copy). */
  all(): Region[] {
    const out: Region[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.get(i));
    return out;
  }

  /** Index of the first record ending after `vpn` (count when none). */
  lowerBound(vpn: number): number {
    let lo = 0, hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.endOf(mid) <= vpn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the record containing `vpn`, or -1. */
  find(vpn: number): number {
    const i = this.lowerBound(vpn);
    return i < this.count && this.startOf(i) <= vpn ? i : -1;
  }

  /** True when some record overlaps [s, e). */
  overlaps(s: number, e: number): boolean {
    const i = this.lowerBound(s);
    return i < this.count && this.startOf(i) < e;
  }

  /** True when [s, e) is covered by records without a gap. */
  covers(s: number, e: number): boolean {
    let at = s;
    for (let i = this.lowerBound(s); i < this.count && at < e; i++) {
      if (this.startOf(i) > at) return false;
      at = this.endOf(i);
    }
    return at >= e;
  }

  /** Insert `r` (must not overlap; consumes one file reference). 0, or -ENOMEM when full. */
  insert(r: Region): number {
    if (!(r.npages > 0)) throw new Error(`regions.insert: empty region at ${r.start}`);
    const n = this.count;
    const i = this.lowerBound(r.start);
    if (i < n && this.startOf(i) < regionEnd(r)) throw new Error(`regions.insert: [${r.start}, ${regionEnd(r)}) overlaps a region`);
    if (n >= this.capacity) return -ENOMEM;
    this.move(i, i + 1, n - i);
    this.put(i, r);
    this.setCount(n + 1);
    return 0;
  }

  /** Split the record containing `vpn` so that one starts at `vpn`. 0, or -ENOMEM when full. */
  splitAt(vpn: number): number {
    const i = this.find(vpn);
    if (i < 0 || this.startOf(i) === vpn) return 0;
    const n = this.count;
    if (n >= this.capacity) return -ENOMEM;
    const r = this.get(i);
    const cut = vpn - r.start;
    this.move(i + 1, i + 2, n - i - 1);
    this.put(i, { ...r, npages: cut });
    this.put(i + 1, { ...r, start: vpn, npages: r.npages - cut, pgoff: r.pgoff + cut });
    this.setCount(n + 1);
    if (r.file !== 0) this.fileRef(r.file, +1);
    return 0;
  }

  /** Records that splitting at s and at e would add (0, 1 or 2). */
  splitsNeeded(s: number, e: number): number {
    let k = 0;
    const a = this.find(s);
    if (a >= 0 && this.startOf(a) < s) k++;
    const b = this.find(e);
    if (b >= 0 && this.startOf(b) < e) k++;
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
    if (this.splitAt(s) < 0) return -ENOMEM;
    if (this.splitAt(e) < 0) return -ENOMEM;
    const i = this.lowerBound(s);
    let j = i;
    while (j < this.count && this.startOf(j) < e) j++;
    const removed: Region[] = [];
    for (let k = i; k < j; k++) removed.push(this.get(k));
    this.move(j, i, this.count - j);
    this.setCount(this.count - (j - i));
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
    this.splitAt(s);
    this.splitAt(e);
    for (let i = this.lowerBound(s); i < this.count && this.startOf(i) < e; i++) {
      const a = attrs(this.get(i));
      this.i32[this.base + i * W + RG_PROT] = a.prot;
      this.i32[this.base + i * W + RG_FLAGS] = a.flags;
    }
    this.mergeRange(s, e);
    return 0;
  }

  /** Merge mergeable neighbours among the records touching [s, e] (their outer neighbours included). */
  mergeRange(s: number, e: number): void {
    let i = Math.max(0, this.lowerBound(s) - 1);
    while (i + 1 < this.count && this.startOf(i) <= e) {
      const a = this.get(i), b = this.get(i + 1);
      if (mergeable(a, b)) {
        this.put(i, { ...a, npages: a.npages + b.npages });
        this.move(i + 2, i + 1, this.count - i - 2);
        this.setCount(this.count - 1);
        if (a.file !== 0) this.fileRef(a.file, -1);
      } else {
        i++;
      }
    }
  }

  /** Change record `i` in place (size or attributes; the caller keeps the order valid). */
  update(i: number, r: Region): void {
    this.put(i, r);
  }

  /** Drop every record (returned, each with its file reference for the caller to drop). */
  clear(): Region[] {
    const all = this.all();
    this.setCount(0);
    return all;
  }
}
