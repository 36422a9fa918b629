/**
 * The page cache: files' pages in RAM frames, shared by every process that maps them.
 *
 * A file object (kernel/mm/layout.ts F_*) has an id (slot + 1), a size, flags and optionally
 * a host path. Its pages live in a hash table in ctl — (file, page index) → frame, open
 * addressing with tombstones — guarded by one SpinLock (VMH_PC_LOCK). The cache holds one
 * reference on each cached frame; every mapping of it holds another (kernel/mm/fault.ts), so a
 * frame outlives its cache entry while mapped.
 *
 * Filling: a byte-array file is copied into frames at creation; a host file is read on demand
 * with fs.readSync (works on hart workers); anonymous shared memory (FF_ANON) starts as zero
 * pages. Bytes past the end of file in the last page are zero. Write-back (msync, munmap of a
 * dirty shared page): the in-memory copy IS the frame; with FF_WRITEBACK the page is also
 * written to the host file.
 *
 * Host files: one cache file per host inode (F_DEV, F_INO), found by openHostFile /
 * findHostFile, so every open and every process shares the same pages. The file owns a host
 * fd (F_HOSTFD, reopened from the opener's fd through /proc/self/fd, so it names the same
 * inode even after an unlink) and closes it with its last reference. The cached pages are the
 * truth for the bytes they hold: read() overlays them on what the host returns
 * (overlayCached), write() updates them after writing the host (writeThrough), ftruncate
 * resizes (truncateFile). A write() racing a write-back of the same page may leave the host
 * with either version of the overlapping bytes (no page lock); the cache is always current.
 *
 * Eviction (evictPages, called by the frame allocator when RAM is out — kernel/context.ts
 * installs it as FrameAllocator.reclaim): a clock over the hash table. A page is evicted when
 * its file can read it again (FF_HOST), nothing but the cache holds its frame (refcount 1: no
 * PTE maps it — a mapping's reference is dropped only after its shootdown completed, so no TLB
 * can still reach the frame — and no syscall holds it), and it was not looked up since the
 * hand last passed (PCD_REF, a second chance). A dirty page (PCD_DIRTY) is written to the host
 * first; one that cannot be (no FF_WRITEBACK) and pages of anonymous shared memory or
 * byte-array files stay. Mapped pages are never evicted: taking them would need a reverse map
 * to unmap them (+ completeShootdown) first; they go when their mappings do. New references are
 * only taken under the lock (getPage), so the refcount test and the removal are atomic.
 *
 * Lifetime: createFile hands the caller one reference; each region record mapping the file
 * holds one (kernel/mm/regions.ts fileRef). At zero references the file's pages are dropped and
 * the slot is free.
 */
import * as fs from 'node:fs';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import type { KernelContext } from '../context.ts';
import { ENFILE, ENOMEM, ENAMETOOLONG, EINVAL } from '../errno.ts';
import { NO_FRAME } from './frames.ts';
import { SpinLock } from '../sync/lock.ts';
import { zeroFrames } from './pagetable.ts';
import {
  FF_ANON, FF_HOST, FF_WRITEBACK, FILE_BYTES, FILE_FREE, FILE_LIVE, FILE_PATH_MAX, F_FLAGS, F_PATH_BYTE, F_PATH_LEN,
  F_DEV, F_HOSTFD, F_INO, F_REFS, F_SIZE, F_STATE, PC_BYTES, PC_DIRTY, PC_EMPTY, PC_FILE, PC_PAGE, PC_PPN, PC_TOMB, PCD_DIRTY, PCD_REF,
  VMH_PC_HAND, VMH_PC_LOCK, VMH_PC_USED,
} from './layout.ts';

/** getPage results besides a ppn. */
export const PAGE_BEYOND_EOF = -1;
export const PAGE_NOMEM = -2;

export interface FileSpec {
  /** Contents (copied into the cache now). */
  data?: Uint8Array;
  /** Host file read on demand (size from fstat unless `size` is given). */
  hostPath?: string;
  /** Write dirty pages back to the host file. */
  writeBack?: boolean;
  /** Size in bytes (defaults: data length or host file size). */
  size?: number;
  /** Anonymous shared memory (MAP_SHARED|MAP_ANONYMOUS): zero pages. */
  anon?: boolean;
}

/** A host file to cache (openHostFile). */
export interface HostFileSpec {
  /**
   * Host path, as a string or its bytes (its first FILE_PATH_MAX bytes are kept for
   * diagnostics; the data is read through the reopened fd, /proc/self/fd, else this path).
   */
  hostPath: string | Buffer;
  /** An open host fd of the file (the opener's; not taken over). */
  hostFd: number;
}

const pcLock = (ctx: KernelContext): SpinLock => new SpinLock(ctx.ctl.i32, ctx.ctl.layout.vmHeader / 4 + VMH_PC_LOCK, ctx.whileWaiting);
const fileWord = (ctx: KernelContext, id: number): number => (ctx.ctl.layout.files + (id - 1) * FILE_BYTES) / 4;

function checkId(ctx: KernelContext, id: number, fn: string): number {
  if (!(Number.isInteger(id) && id >= 1 && id <= ctx.ctl.layout.vm.maxFiles) || Atomics.load(ctx.ctl.i32, fileWord(ctx, id) + F_STATE) !== FILE_LIVE) {
    throw new Error(`pagecache.${fn}: no file ${id}`);
  }
  return fileWord(ctx, id);
}

/** True when `id` names a live file. */
export function fileExists(ctx: KernelContext, id: number): boolean {
  return Number.isInteger(id) && id >= 1 && id <= ctx.ctl.layout.vm.maxFiles &&
    Atomics.load(ctx.ctl.i32, fileWord(ctx, id) + F_STATE) === FILE_LIVE;
}

/** Size of file `id` in bytes. */
export function fileSize(ctx: KernelContext, id: number): number {
  return ctx.ctl.f64[checkId(ctx, id, 'fileSize') / 2 + F_SIZE / 2]!;
}

/** Flags (FF_*) of file `id`. */
export function fileFlags(ctx: KernelContext, id: number): number {
  return ctx.ctl.i32[checkId(ctx, id, 'fileFlags') + F_FLAGS]!;
}

/**
 * Create a file object; returns its id (>= 1) holding one reference for the caller, or
 * -ENFILE (table full), -ENAMETOOLONG, -ENOMEM (no frames for the data), -EINVAL.
 */
export function createFile(ctx: KernelContext, spec: FileSpec): number {
  const { i32, f64, layout } = ctx.ctl;
  let size = spec.size ?? spec.data?.length;
  let path: Uint8Array | null = null;
  if (spec.hostPath !== undefined) {
    path = new TextEncoder().encode(spec.hostPath);
    if (path.length > FILE_PATH_MAX) return -ENAMETOOLONG;
    size ??= fs.statSync(spec.hostPath).size;
  }
  if (size === undefined || !(Number.isInteger(size) && size >= 0)) return -EINVAL;
  let hfd = -1;
  if (spec.hostPath !== undefined) hfd = fs.openSync(spec.hostPath, spec.writeBack ? 'r+' : 'r');
  for (let id = 1; id <= layout.vm.maxFiles; id++) {
    const w = fileWord(ctx, id);
    if (Atomics.compareExchange(i32, w + F_STATE, FILE_FREE, FILE_LIVE) !== FILE_FREE) continue;
    f64[w / 2 + F_SIZE / 2] = size;
    i32[w + F_FLAGS] = (spec.anon ? FF_ANON : 0) | (path ? FF_HOST : 0) | (spec.writeBack ? FF_WRITEBACK : 0);
    i32[w + F_PATH_LEN] = path?.length ?? 0;
    if (path) new Uint8Array(ctx.ctl.sab, w * 4 + F_PATH_BYTE, path.length).set(path);
    i32[w + F_HOSTFD] = hfd;
    f64[(w + F_DEV) / 2] = -1; // never found by openHostFile: a private view of the path
    f64[(w + F_INO) / 2] = -1;
    Atomics.store(i32, w + F_REFS, 1);
    if (spec.data) {
      for (let p = 0; p * PAGE_SIZE < spec.data.length; p++) {
        const ppn = getPage(ctx, id, p, spec.data);
        if (ppn < 0) {
          fileRefDelta(ctx, id, -1);
          return -ENOMEM;
        }
        ctx.frames.put(ppn); // keep only the cache's reference
      }
    }
    return id;
  }
  if (hfd >= 0) fs.closeSync(hfd);
  return -ENFILE;
}

/** Live host file (dev, ino) with a new reference, or 0. Caller holds the lock. */
function findLocked(ctx: KernelContext, dev: number, ino: number): number {
  const { i32, f64, layout } = ctx.ctl;
  for (let id = 1; id <= layout.vm.maxFiles; id++) {
    const w = fileWord(ctx, id);
    if (Atomics.load(i32, w + F_STATE) !== FILE_LIVE || !(i32[w + F_FLAGS]! & FF_HOST)) continue;
    if (f64[(w + F_DEV) / 2] !== dev || f64[(w + F_INO) / 2] !== ino) continue;
    for (;;) { // a file whose count reached zero is being dropped: never revive it
      const n = Atomics.load(i32, w + F_REFS);
      if (n <= 0) break;
      if (Atomics.compareExchange(i32, w + F_REFS, n, n + 1) === n) return id;
    }
  }
  return 0;
}

/** The cached file of host inode (dev, ino) with a new reference for the caller, or 0 when none is cached. */
export function findHostFile(ctx: KernelContext, dev: number, ino: number): number {
  const lock = pcLock(ctx);
  lock.lock();
  const id = findLocked(ctx, dev, ino);
  lock.unlock();
  return id;
}

/**
 * The cache file of the host file open at `spec.hostFd`, shared with every other open of the
 * same inode: found by (st_dev, st_ino), else created with the size from fstat. Returns its id
 * with one new reference for the caller, or -ENFILE / -errno of the host.
 */
export function openHostFile(ctx: KernelContext, spec: HostFileSpec): number {
  const path = (typeof spec.hostPath === 'string' ? new TextEncoder().encode(spec.hostPath) : spec.hostPath).subarray(0, FILE_PATH_MAX);
  let st: fs.Stats;
  try { st = fs.fstatSync(spec.hostFd); } catch { return -EINVAL; }
  const have = findHostFile(ctx, st.dev, st.ino);
  if (have > 0) return have;
  let hfd: number;
  let writable = true;
  const via = fs.existsSync(`/proc/self/fd/${spec.hostFd}`) ? `/proc/self/fd/${spec.hostFd}` : spec.hostPath;
  try {
    hfd = fs.openSync(via, 'r+');
  } catch {
    writable = false;
    try { hfd = fs.openSync(via, 'r'); } catch { return -EINVAL; }
  }
  const { i32, f64, layout } = ctx.ctl;
  const lock = pcLock(ctx);
  lock.lock();
  let id = findLocked(ctx, st.dev, st.ino); // another hart may have created it meanwhile
  if (id === 0) {
    id = -ENFILE;
    for (let k = 1; k <= layout.vm.maxFiles; k++) {
      const w = fileWord(ctx, k);
      if (Atomics.compareExchange(i32, w + F_STATE, FILE_FREE, FILE_LIVE) !== FILE_FREE) continue;
      f64[w / 2 + F_SIZE / 2] = st.size;
      i32[w + F_FLAGS] = FF_HOST | (writable ? FF_WRITEBACK : 0);
      i32[w + F_PATH_LEN] = path.length;
      new Uint8Array(ctx.ctl.sab, w * 4 + F_PATH_BYTE, path.length).set(path);
      i32[w + F_HOSTFD] = hfd;
      f64[(w + F_DEV) / 2] = st.dev;
      f64[(w + F_INO) / 2] = st.ino;
      Atomics.store(i32, w + F_REFS, 1);
      id = k;
      break;
    }
  }
  lock.unlock();
  if (id < 0 || i32[fileWord(ctx, id) + F_HOSTFD] !== hfd) fs.closeSync(hfd);
  return id;
}

/**
 * Copy the cached bytes of file `id` over `dst`, which holds the file's bytes from `pos`
 * (a read() buffer filled from the host): cached pages are newer than the host when dirty.
 */
export function overlayCached(ctx: KernelContext, id: number, pos: number, dst: Uint8Array): void {
  copyCached(ctx, id, pos, dst, false);
}

/**
 * Put `src`, just written to the host file at `pos`, into the cached pages it covers, and
 * grow the file's size to pos + src.length if that is larger.
 */
export function writeThrough(ctx: KernelContext, id: number, pos: number, src: Uint8Array): void {
  const w = checkId(ctx, id, 'writeThrough');
  const lock = pcLock(ctx);
  lock.lock();
  const f64 = ctx.ctl.f64;
  if (pos + src.length > f64[w / 2 + F_SIZE / 2]!) f64[w / 2 + F_SIZE / 2] = pos + src.length;
  lock.unlock();
  copyCached(ctx, id, pos, src, true);
}

function copyCached(ctx: KernelContext, id: number, pos: number, buf: Uint8Array, toCache: boolean): void {
  const u8 = ctx.ram.u8;
  const lock = pcLock(ctx);
  for (let p = Math.floor(pos / PAGE_SIZE); p * PAGE_SIZE < pos + buf.length; p++) {
    const lo = Math.max(pos, p * PAGE_SIZE), hi = Math.min(pos + buf.length, (p + 1) * PAGE_SIZE);
    lock.lock();
    const e = lookup(ctx, id, p);
    if (e >= 0) {
      const at = ctx.ctl.i32[e + PC_PPN]! * PAGE_SIZE + (lo - p * PAGE_SIZE);
      if (toCache) u8.set(buf.subarray(lo - pos, hi - pos), at);
      else buf.set(u8.subarray(at, at + (hi - lo)), lo - pos);
    }
    lock.unlock();
  }
}

/**
 * Set the size of file `id` to `len` (ftruncate): pages wholly past the new end leave the
 * cache (frames still mapped live on through their mappings' references; kernel/mm/file-unmap.ts
 * removes those mappings), and the bytes of the last page past `len` become zero.
 */
export function truncateFile(ctx: KernelContext, id: number, len: number): void {
  const w = checkId(ctx, id, 'truncateFile');
  const { i32, f64, layout } = ctx.ctl;
  const keep = Math.ceil(len / PAGE_SIZE);
  const drop: number[] = [];
  const lock = pcLock(ctx);
  lock.lock();
  f64[w / 2 + F_SIZE / 2] = len;
  for (let h = 0; h < layout.vm.pageCacheEntries; h++) {
    const e = (layout.pageCache + h * PC_BYTES) / 4;
    if (i32[e + PC_FILE] !== id) continue;
    const page = i32[e + PC_PAGE]!;
    if (page < keep) {
      if (page === keep - 1 && len % PAGE_SIZE !== 0) {
        const ppn = i32[e + PC_PPN]!;
        ctx.ram.u8.fill(0, ppn * PAGE_SIZE + (len % PAGE_SIZE), (ppn + 1) * PAGE_SIZE);
      }
      continue;
    }
    drop.push(i32[e + PC_PPN]!);
    i32[e + PC_FILE] = PC_TOMB;
    i32[layout.vmHeader / 4 + VMH_PC_USED]!--;
  }
  lock.unlock();
  for (const ppn of drop) ctx.frames.put(ppn);
}

const hash = (id: number, page: number, n: number): number =>
  ((Math.imul(id, 0x9e3779b1) ^ Math.imul(page + 1, 0x85ebca77)) >>> 0) % n;

/** Entry word index of (id, page) or -1 (caller holds the lock). */
function lookup(ctx: KernelContext, id: number, page: number): number {
  const { i32, layout } = ctx.ctl;
  const n = layout.vm.pageCacheEntries;
  for (let k = 0, h = hash(id, page, n); k < n; k++, h = h + 1 === n ? 0 : h + 1) {
    const w = (layout.pageCache + h * PC_BYTES) / 4;
    const f = i32[w + PC_FILE]!;
    if (f === PC_EMPTY) return -1;
    if (f === id && i32[w + PC_PAGE] === page) return w;
  }
  return -1;
}

/** Insert (caller holds the lock); false when the table is full. */
function insert(ctx: KernelContext, id: number, page: number, ppn: number): boolean {
  const { i32, layout } = ctx.ctl;
  const n = layout.vm.pageCacheEntries;
  const h0 = layout.vmHeader / 4 + VMH_PC_USED;
  if (i32[h0]! >= n - 1) return false; // keep one empty slot so lookups terminate
  for (let k = 0, h = hash(id, page, n); k < n; k++, h = h + 1 === n ? 0 : h + 1) {
    const w = (layout.pageCache + h * PC_BYTES) / 4;
    const f = i32[w + PC_FILE]!;
    if (f === PC_EMPTY || f === PC_TOMB) {
      i32[w + PC_PAGE] = page;
      i32[w + PC_PPN] = ppn;
      i32[w + PC_DIRTY] = 0;
      i32[w + PC_FILE] = id;
      i32[h0]!++;
      return true;
    }
  }
  return false;
}

function fill(ctx: KernelContext, id: number, page: number, ppn: number, data?: Uint8Array): void {
  const w = fileWord(ctx, id);
  const size = ctx.ctl.f64[w / 2 + F_SIZE / 2]!;
  zeroFrames(ctx, ppn);
  const dst = ctx.ram.u8.subarray(ppn * PAGE_SIZE, (ppn + 1) * PAGE_SIZE);
  const off = page * PAGE_SIZE;
  const n = Math.max(0, Math.min(PAGE_SIZE, size - off)); // bytes past EOF stay zero
  if (n === 0) return;
  if (data) dst.set(data.subarray(off, off + n));
  else if (ctx.ctl.i32[w + F_FLAGS]! & FF_HOST) {
    // fs.readSync cannot read into a SharedArrayBuffer view: bounce through a private buffer.
    const buf = Buffer.alloc(n);
    fs.readSync(ctx.ctl.i32[w + F_HOSTFD]!, buf, 0, n, off);
    dst.set(buf);
  }
}

/**
 * Frame of page `page` of file `id`, read in if needed, with one new reference for the
 * caller (a mapping). Returns PAGE_BEYOND_EOF for a page at or past the end of file
 * (SIGBUS for a fault), PAGE_NOMEM when no frame or cache entry is free.
 */
export function getPage(ctx: KernelContext, id: number, page: number, data?: Uint8Array): number {
  const w = checkId(ctx, id, 'getPage');
  const size = ctx.ctl.f64[w / 2 + F_SIZE / 2]!;
  if (page * PAGE_SIZE >= size) return PAGE_BEYOND_EOF;
  const lock = pcLock(ctx);
  lock.lock();
  let e = lookup(ctx, id, page);
  if (e >= 0) {
    const ppn = ctx.ctl.i32[e + PC_PPN]!;
    ctx.ctl.i32[e + PC_DIRTY]! |= PCD_REF;
    ctx.frames.incRef(ppn);
    lock.unlock();
    return ppn;
  }
  lock.unlock();
  const ppn = ctx.frames.alloc();
  if (ppn === NO_FRAME) return PAGE_NOMEM;
  fill(ctx, id, page, ppn, data);
  lock.lock();
  e = lookup(ctx, id, page);
  if (e >= 0) {
    const theirs = ctx.ctl.i32[e + PC_PPN]!;
    ctx.frames.incRef(theirs);
    lock.unlock();
    ctx.frames.free(ppn); // another hart filled it first; ours was never visible
    return theirs;
  }
  if (!insert(ctx, id, page, ppn)) {
    lock.unlock();
    ctx.frames.free(ppn);
    return PAGE_NOMEM;
  }
  ctx.frames.incRef(ppn); // the cache's reference (from alloc) + the caller's
  lock.unlock();
  return ppn;
}

/** Cached frame of (id, page) or -1, without reading anything in or taking a reference. */
export function cachedPage(ctx: KernelContext, id: number, page: number): number {
  const lock = pcLock(ctx);
  lock.lock();
  const e = lookup(ctx, id, page);
  const ppn = e >= 0 ? ctx.ctl.i32[e + PC_PPN]! : -1;
  lock.unlock();
  return ppn;
}

/**
 * Note that page `page` of file `id` was written through a shared mapping (its PTE had D),
 * and write it back to the host file when the file asks for write-back. Called by
 * kernel/mm/shootdown.ts releaseFrames only — after the PTE change that found D was
 * invalidated on every hart (docs/coherence.md); earlier, a hart could still store into the
 * page through a cached dirty entry and that store would never be written.
 */
export function writeBackPage(ctx: KernelContext, id: number, page: number): void {
  const w = checkId(ctx, id, 'writeBackPage');
  const lock = pcLock(ctx);
  lock.lock();
  const e = lookup(ctx, id, page);
  if (e >= 0) ctx.ctl.i32[e + PC_DIRTY]! |= PCD_DIRTY;
  const ppn = e >= 0 ? ctx.ctl.i32[e + PC_PPN]! : -1;
  if (ppn >= 0) ctx.frames.incRef(ppn); // held while writing: eviction cannot free it under us
  lock.unlock();
  if (ppn < 0) return;
  try {
    if ((ctx.ctl.i32[w + F_FLAGS]! & FF_WRITEBACK) === 0) return;
    writeHostPage(ctx, w, page, ppn);
  } finally {
    ctx.frames.put(ppn);
  }
}

/** Write page `page` (frame ppn) of the file at word `w` to its host file (the part below EOF). */
function writeHostPage(ctx: KernelContext, w: number, page: number, ppn: number): void {
  const size = ctx.ctl.f64[w / 2 + F_SIZE / 2]!;
  const n = Math.max(0, Math.min(PAGE_SIZE, size - page * PAGE_SIZE));
  if (n > 0) fs.writeSync(ctx.ctl.i32[w + F_HOSTFD]!, Buffer.from(ctx.ram.u8.subarray(ppn * PAGE_SIZE, ppn * PAGE_SIZE + n)), 0, n, page * PAGE_SIZE);
}

/**
 * Evict up to `want` clean, unmapped page-cache pages (dirty ones written back first) and free
 * their frames — see the file comment for which pages qualify. At most two turns of the clock.
 * Returns the frames freed. Takes the page-cache lock: never call it holding that lock.
 */
export function evictPages(ctx: KernelContext, want: number): number {
  const { i32, layout } = ctx.ctl;
  const n = layout.vm.pageCacheEntries;
  const handW = layout.vmHeader / 4 + VMH_PC_HAND;
  const drop: number[] = [];
  const lock = pcLock(ctx);
  lock.lock();
  try {
    let hand = i32[handW]! % n;
    for (let k = 0; k < 2 * n && drop.length < want; k++) {
      const h = hand;
      hand = hand + 1 === n ? 0 : hand + 1;
      const e = (layout.pageCache + h * PC_BYTES) / 4;
      const id = i32[e + PC_FILE]!;
      if (id === PC_EMPTY || id === PC_TOMB) continue;
      const fw = fileWord(ctx, id);
      const flags = i32[fw + F_FLAGS]!;
      if (!(flags & FF_HOST)) continue; // nothing to read it back from
      const ppn = i32[e + PC_PPN]!;
      if (ctx.frames.refcount(ppn) !== 1) continue; // mapped, or a syscall holds it
      const st = i32[e + PC_DIRTY]!;
      if (st & PCD_REF) { i32[e + PC_DIRTY] = st & ~PCD_REF; continue; }
      if (st & PCD_DIRTY) {
        if (!(flags & FF_WRITEBACK)) continue;
        writeHostPage(ctx, fw, i32[e + PC_PAGE]!, ppn);
      }
      removeAt(ctx, h);
      drop.push(ppn);
    }
    i32[handW] = hand;
  } finally {
    lock.unlock();
  }
  for (const ppn of drop) ctx.frames.put(ppn);
  ctx.counters.pagesEvicted += drop.length;
  return drop.length;
}

/** Remove the entry in slot h (caller holds the lock): a tombstone, or empty (with the tombstones before it) when the next slot is empty. */
function removeAt(ctx: KernelContext, h: number): void {
  const { i32, layout } = ctx.ctl;
  const n = layout.vm.pageCacheEntries;
  const ew = (k: number): number => (layout.pageCache + k * PC_BYTES) / 4;
  i32[layout.vmHeader / 4 + VMH_PC_USED]!--;
  if (i32[ew(h + 1 === n ? 0 : h + 1) + PC_FILE] !== PC_EMPTY) {
    i32[ew(h) + PC_FILE] = PC_TOMB;
    return;
  }
  // No probe sequence continues past an empty slot, so trailing tombstones can become empty too.
  i32[ew(h) + PC_FILE] = PC_EMPTY;
  for (let k = h === 0 ? n - 1 : h - 1; k !== h && i32[ew(k) + PC_FILE] === PC_TOMB; k = k === 0 ? n - 1 : k - 1) i32[ew(k) + PC_FILE] = PC_EMPTY;
}

/** Whether (id, page) is marked dirty (tests). */
export function pageDirty(ctx: KernelContext, id: number, page: number): boolean {
  const lock = pcLock(ctx);
  lock.lock();
  const e = lookup(ctx, id, page);
  const d = e >= 0 && (ctx.ctl.i32[e + PC_DIRTY]! & PCD_DIRTY) !== 0;
  lock.unlock();
  return d;
}

/** Contents of file `id` as the cache sees it (pages not cached come from their source). */
export function readFileBytes(ctx: KernelContext, id: number): Uint8Array {
  const size = fileSize(ctx, id);
  const out = new Uint8Array(size);
  for (let p = 0; p * PAGE_SIZE < size; p++) {
    const ppn = getPage(ctx, id, p);
    if (ppn < 0) throw new Error(`readFileBytes: cannot read page ${p} of file ${id}`);
    out.set(ctx.ram.u8.subarray(ppn * PAGE_SIZE, ppn * PAGE_SIZE + Math.min(PAGE_SIZE, size - p * PAGE_SIZE)), p * PAGE_SIZE);
    ctx.frames.put(ppn);
  }
  return out;
}

/**
 * Add `delta` references to file `id`. At zero the file's cached pages lose the cache's
 * reference (frames still mapped stay alive through their mappings' references) and the slot is freed.
 */
export function fileRefDelta(ctx: KernelContext, id: number, delta: number): void {
  const w = checkId(ctx, id, 'fileRefDelta');
  const n = Atomics.add(ctx.ctl.i32, w + F_REFS, delta) + delta;
  if (n < 0) throw new Error(`pagecache.fileRefDelta: file ${id} has no references`);
  if (n > 0) return;
  const { i32, layout } = ctx.ctl;
  const lock = pcLock(ctx);
  const drop: number[] = [];
  lock.lock();
  for (let h = 0; h < layout.vm.pageCacheEntries; h++) {
    const e = (layout.pageCache + h * PC_BYTES) / 4;
    if (i32[e + PC_FILE] !== id) continue;
    drop.push(i32[e + PC_PPN]!);
    i32[e + PC_FILE] = PC_TOMB;
    i32[layout.vmHeader / 4 + VMH_PC_USED]!--;
  }
  lock.unlock();
  for (const ppn of drop) ctx.frames.put(ppn);
  const hfd = i32[w + F_HOSTFD]!;
  if (hfd >= 0) {
    i32[w + F_HOSTFD] = -1;
    try { fs.closeSync(hfd); } catch { /* already closed: nothing to release */ }
  }
  Atomics.store(i32, w + F_STATE, FILE_FREE);
}

/** Live page-cache entries (statistics, tests). */
export function cachedPageCount(ctx: KernelContext): number {
  return Atomics.load(ctx.ctl.i32, ctx.ctl.layout.vmHeader / 4 + VMH_PC_USED);
}
