/**
 * The stale-translation sanitizer (DESIGN.md section 6; `--sanitize`, `--sanitize=fatal`).
 *
 * It reports every access made through a TLB entry that a page-table change the kernel had
 * already COMPLETED made stale: the translation was removed, re-pointed to another frame, or
 * lost the permission the access needs. Shared state: kernel/lab/layout.ts.
 *
 * Kernel side (every hart, kernel/lab/sanitizer.ts beginChange / recordCompletion, called by the
 * policy wrapper in scheduler/policy-select.ts around ShootdownPolicy.invalidate):
 *   1. when completeShootdown hands a change to the policy — AFTER its PTE edits — the change
 *      takes seq = ++LH_SEQ;
 *   2. when the kernel considers the change complete (invalidate returned; for `deferred`, when
 *      its parked frames are released: every hart that may cache them passed a flush point),
 *      a record {address-space slot, vpn range or whole, kind, seq, time} is appended to the
 *      bounded change ring (LH_CHANGES counts them).
 * Hart side (SanitizerObserver, a cpu/tlb.ts TlbObserver; the hart bypasses its micro-TLBs
 * while it is set, so every access reaches tlb.translate):
 *   - a fill stores stamp = LH_SEQ read BEFORE the walk, and checked = LH_CHANGES read before that,
 *     and, after the walk, tag = the low 16 bits of the generation of the entry's frame
 *     (kernel/mm/frames.ts frameGeneration: how often it was freed) and, in the high 16 bits,
 *     of its clean epoch (frameCleansBegun: how many D-bit cleans of it began);
 *   - a hit whose entry has checked === LH_CHANGES is fine (the fast path: one Atomics.load);
 *   - else the records [checked, LH_CHANGES) are scanned for one of this address space, with
 *     seq > stamp, covering va. None: checked := LH_CHANGES. One: the entry may be stale —
 *     confirmed against the page table and the frame NOW, in this order:
 *       removed       nothing is mapped at va now;
 *       re-pointed    va maps another frame;
 *       protected     same frame, the access is no longer allowed;
 *       reused        same frame, but its generation moved since the fill: the frame was freed
 *                     (and allocated again — ABA, common with LIFO frame caches) while this
 *                     entry survived. Exact: a frame is freed only after every mapping of it
 *                     was removed and, on a correct kernel, invalidated;
 *       clean         a store through an entry cached writable — the PTE was dirty at the fill
 *                     — while the PTE is clean now, and the covering change removed
 *                     translations (CHANGE_UNMAP): the mapping was taken down and set up again
 *                     (a page-cache frame mapped again at the same va), and the store skips the
 *                     new PTE's D bit, so a file write-back misses it. A load through such an
 *                     entry is not decided: the entry is looked at again at its next hit (its
 *                     checked value is kept) — a later store through it is reported;
 *       after-clean   a store through an entry cached writable, the PTE clean now (and no
 *                     removal covers it), and a clean of the frame (msync's D clear, which keeps
 *                     the PTE valid) BEGAN after the entry's walk — the tag's clean epoch is
 *                     behind frameCleansBegun — and every clean begun has COMPLETED
 *                     (frameCleansDone caught up): the store skips the clean PTE's D bit, so
 *                     the next write-back misses it. Loads, and stores while a clean of the
 *                     frame is still in flight, are not decided (checked is kept);
 *     else the entry is not stale (a walk that raced with the edit already saw the new PTE).
 *     Why `clean` needs CHANGE_UNMAP: a change that keeps the PTE valid (msync's clean, COW
 *     reuse) can race a walk that then caches W from the new, dirty PTE (its stamp below the
 *     change's seq); a later msync's D clear still in flight would make that legal entry look
 *     clean. After a removal no walk can fill from the new state before the change's seq (the
 *     range faults until it is mapped again, under the mmap lock, after the change completed).
 *     `after-clean` decides the valid-keeping case by the frame's clean epochs instead of the
 *     seq: the clean's begin is counted BEFORE its D clear and the tag read AFTER the walk, so
 *     an epoch that moved past the tag belongs to a clean whose D clear followed the walk; and
 *     on a correct kernel a completed clean flushed every entry walked before its D clear — the
 *     legal entry of the race above is only ever "behind" a clean still in flight. Every D clear
 *     of a valid PTE is a clean (kernel/mm/pagetable.ts cleanRange is the only one); W is
 *     cleared only with the PTE or by a protection change (`protected` then).
 *   - ring wrapped past `checked` (more than CHANGE_SLOTS changes since): the entry is compared
 *     with the current PTE, frame generation and clean epochs only (an approximation: a change
 *     undone since in place is not seen, `clean` is not decided, and the time since the change
 *     is unknown: -1).
 * Approximation of `after-clean`: a walk that read the PTE in the few instructions between a
 * clean's begin and its D clear records the new epoch: a store through it is missed, never
 * falsely reported. The tag keeps 16 bits of each count: a frame freed (or cleaned) a multiple
 * of 65536 times between a fill and a check looks unchanged (missed, never false).
 * Approximation of `reused`: the tag is read after the walk, so a frame freed and reused between
 * the walk and that read is recorded with its new generation (a window of a few instructions).
 * Why seq after the edit and the stamp before the walk: an entry filled from the OLD PTE was
 * filled by a walk that read the PTE before the edit, so its stamp (read before that walk) is
 * below the change's seq (taken after the edit) — it is always examined. An entry whose
 * stamp is >= seq was walked after the edit and cannot be stale w.r.t. it.
 * Each stale entry is reported once per change it violates (its first access after the
 * change completed); later accesses through it are counted once, not again and again.
 *
 * Reports: a shared ring of REPORT_SLOTS (the latest kept) + totals per hart; one line on
 * stderr each, at most STDERR_LINES lines per machine; the trace (traceEmitSanitizer); and
 * in fatal mode the first report throws SanitizerFatal on the hart, which halts the machine.
 */
import { writeSync } from 'node:fs';
import type { AccessKind, } from '../../cpu/trap.ts';
import type { TlbObserver } from '../../cpu/tlb.ts';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { timeNs } from '../../cpu/vclock.ts';
import type { Ctl } from '../layout.ts';
import {
  CH_AS, CH_HART, CH_KIND, CH_NPAGES, CH_SEQ, CH_TAG, CH_TIME, CH_VPN, CHANGE_BYTES, CHANGE_SLOTS, LAB_CHANGES_AT,
  LAB_HART_BYTES, LAB_HARTS_AT, LAB_REPORTS_AT, LH_CHANGES, LH_FATAL, LH_MODE, LH_REPORTS, LH_SEQ, LH_STDERR,
  LHB_STATS, LS_REPORTS, LS_SLOW_CHECKS, REPORT_BYTES, REPORT_SLOTS, RP_ACCESS, RP_CURRENT_PPN, RP_HART, RP_PID,
  RP_SINCE_NS, RP_STALE_PPN, RP_TAG, RP_TID, RP_VA, RP_WHAT, SAN_FATAL, SAN_OFF, STALE_CLEAN, STALE_PROTECTED, STALE_REMOVED,
  STALE_REPOINTED, STALE_REUSED, CHANGE_UNMAP, STALE_DIRTY_AFTER_CLEAN,
} from './layout.ts';
import { frameCleansBegun, frameCleansDone, frameGeneration, frameTag } from '../mm/frames.ts';
import { traceEmitSanitizer, type TraceWriter } from './trace.ts';

/** stderr lines the sanitizer prints per machine before it only counts. */
export const STDERR_LINES = 20;
const TWO32 = 4294967296;
const ACCESS_NAMES = ['', 'load', 'store', 'fetch'];
const WHAT_NAMES = ['', 'removed', 're-pointed', 'write-protected', 'frame-reused', 'dirty-bit-skipped', 'dirty-after-clean'];
const ACCESS_STORE = 2; // cpu/trap.ts ACCESS_STORE
const PTE_W = 1 << 2, PTE_D = 1 << 7; // cpu/pte.ts

/** Word index of lab header word `w`. */
function hw(ctl: Ctl, w: number): number {
  return ctl.layout.lab / 4 + w;
}
/** Word index of hart `h`'s lab block word `w`. */
export function labHartWord(ctl: Ctl, h: number, w: number): number {
  return (ctl.layout.lab + LAB_HARTS_AT + h * LAB_HART_BYTES) / 4 + w;
}
/** Float64 index of hart `h`'s lab statistic `slot` (LS_*). */
export function labStatIndex(ctl: Ctl, h: number, slot: number): number {
  return labHartWord(ctl, h, LHB_STATS) / 2 + slot;
}

/** The sanitizer mode the host configured (SAN_*). */
export function sanitizerMode(ctl: Ctl): number {
  return Atomics.load(ctl.i32, hw(ctl, LH_MODE));
}
/** Set the mode (host, before any thread runs). */
export function setSanitizerMode(ctl: Ctl, mode: number): void {
  Atomics.store(ctl.i32, hw(ctl, LH_MODE), mode);
}

/** Time on the one clock every worker shares (ns, monotonic). */
export function nowNs(): number {
  return timeNs(); // virtual in deterministic mode (cpu/vclock.ts)
}

/** Step 1: a change whose PTE edits are done takes its sequence number. */
export function beginChange(ctl: Ctl): number {
  return Atomics.add(ctl.i32, hw(ctl, LH_SEQ), 1) + 1;
}

/** Step 2: the kernel considers change `seq` complete; publish it in the change ring. */
export function recordCompletion(
  ctl: Ctl, hartId: number, asSlot: number, vpnStart: number, npages: number, kind: number, seq: number,
): void {
  const pos = Atomics.add(ctl.i32, hw(ctl, LH_CHANGES), 1);
  const at = ctl.layout.lab + LAB_CHANGES_AT + (pos & (CHANGE_SLOTS - 1)) * CHANGE_BYTES;
  const i = at / 4;
  const i32 = ctl.i32;
  i32[i + CH_AS] = asSlot;
  i32[i + CH_SEQ] = seq;
  i32[i + CH_KIND] = kind;
  i32[i + CH_NPAGES] = npages;
  i32[i + CH_HART] = hartId;
  ctl.f64[(i + CH_VPN) / 2] = vpnStart;
  ctl.f64[(i + CH_TIME) / 2] = nowNs();
  Atomics.store(i32, i + CH_TAG, pos + 1); // publishes the record
}

/** One sanitizer report, as the API and --stats-json give it. */
export interface SanitizerReport {
  hart: number;
  pid: number;
  tid: number;
  va: number;
  /** Frame the stale entry pointed to, and the one mapped now (-1: none). */
  staleFrame: number;
  currentFrame: number;
  access: string;
  what: string;
  /** ns since the change completed (-1 unknown). */
  sinceNs: number;
  policy: string;
}

/** Thrown on the hart at the first report in fatal mode (halts the machine). */
export class SanitizerFatal extends Error {
  constructor(readonly report: SanitizerReport) {
    super(`sanitizer: ${formatReport(report)}`);
    this.name = 'SanitizerFatal';
  }
}

/** One line describing `r`. */
export function formatReport(r: SanitizerReport): string {
  const since = r.sinceNs < 0 ? 'unknown time' : `${(r.sinceNs / 1000).toFixed(1)} us`;
  const cur = r.currentFrame < 0 ? 'none' : `0x${r.currentFrame.toString(16)}`;
  return `stale ${r.access} at va 0x${r.va.toString(16)} on hart ${r.hart} (pid ${r.pid} tid ${r.tid}): ` +
    `translation ${r.what} ${since} ago, stale frame 0x${r.staleFrame.toString(16)}, current ${cur}, policy ${r.policy}`;
}

/** Read the surviving reports (the latest REPORT_SLOTS), oldest first, and the total. */
export function readReports(ctl: Ctl, policy: string): { total: number; reports: SanitizerReport[] } {
  const total = Atomics.load(ctl.i32, hw(ctl, LH_REPORTS));
  const reports: SanitizerReport[] = [];
  for (let pos = Math.max(0, total - REPORT_SLOTS); pos < total; pos++) {
    const i = (ctl.layout.lab + LAB_REPORTS_AT + (pos & (REPORT_SLOTS - 1)) * REPORT_BYTES) / 4;
    if (Atomics.load(ctl.i32, i + RP_TAG) !== pos + 1) continue;
    reports.push(decodeReport(ctl, i, policy));
  }
  return { total, reports };
}

function decodeReport(ctl: Ctl, i: number, policy: string): SanitizerReport {
  const f = ctl.f64;
  return {
    hart: ctl.i32[i + RP_HART]!, pid: ctl.i32[i + RP_PID]!, tid: ctl.i32[i + RP_TID]!, va: f[(i + RP_VA) / 2]!,
    staleFrame: f[(i + RP_STALE_PPN) / 2]!, currentFrame: f[(i + RP_CURRENT_PPN) / 2]!,
    access: ACCESS_NAMES[ctl.i32[i + RP_ACCESS]!] ?? '?', what: WHAT_NAMES[ctl.i32[i + RP_WHAT]!] ?? '?',
    sinceNs: f[(i + RP_SINCE_NS) / 2]!, policy,
  };
}

/** Reads a leaf PTE for the observer: (rootPpn, vpn) → the 4 KiB page's frame and the PTE's R/W/X/D bits, or null. */
export type LeafReader = (rootPpn: number, vpn: number) => { ppn: number; flags: number } | null;

/**
 * One hart's TlbObserver. The scheduler calls `setSpace` at every switch-in (address-space
 * slot, root, pid, tid), then installs it with hart.setTlbObserver when the mode is not off.
 */
export class SanitizerObserver implements TlbObserver {
  fillChecked = 0;
  private asSlot = -1;
  private rootPpn = 0;
  private pid = 0;
  private tid = 0;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly seqWord: number;
  private readonly changesWord: number;
  private readonly changes: number;
  private readonly fatal: boolean;

  constructor(
    private readonly ctl: Ctl, private readonly hartId: number, private readonly policy: string,
    private readonly readLeaf: LeafReader, private readonly trace: () => TraceWriter | null,
  ) {
    this.i32 = ctl.i32;
    this.f64 = ctl.f64;
    this.seqWord = hw(ctl, LH_SEQ);
    this.changesWord = hw(ctl, LH_CHANGES);
    this.changes = (ctl.layout.lab + LAB_CHANGES_AT) / 4;
    this.fatal = sanitizerMode(ctl) === SAN_FATAL;
    if (sanitizerMode(ctl) === SAN_OFF) throw new Error('SanitizerObserver: the sanitizer is off');
  }

  /** The thread now running on this hart and its address space. */
  setSpace(asSlot: number, rootPpn: number, pid: number, tid: number): void {
    this.asSlot = asSlot;
    this.rootPpn = rootPpn;
    this.pid = pid;
    this.tid = tid;
  }

  onFill(): number {
    this.fillChecked = Atomics.load(this.i32, this.changesWord);
    return Atomics.load(this.i32, this.seqWord);
  }

  /**
   * The entry's tag, of the frame at `leafBase` (a superpage: its first frame): its generation
   * (low 16 bits) and its clean epoch (high 16 bits), both read after the walk.
   */
  fillTag(leafBase: number): number {
    return frameTag(this.ctl, Math.floor(leafBase / PAGE_SIZE));
  }

  onHit(
    vaLo: number, vaHi: number, kind: AccessKind, pageBase: number, perm: number, stamp: number, checked: number,
    tag: number, leafBase: number,
  ): number {
    const n = Atomics.load(this.i32, this.changesWord);
    if (checked === n) return n; // the fast path: no change completed since this entry was checked
    return this.check(vaLo, vaHi, kind, pageBase, perm, stamp, checked, n, tag, leafBase);
  }

  /** The slow path of onHit: scan the completed changes [checked, n). Returns the new checked value. */
  private check(
    vaLo: number, vaHi: number, kind: AccessKind, pageBase: number, perm: number, stamp: number, checked: number, n: number,
    tag: number, leafBase: number,
  ): number {
    this.f64[labStatIndex(this.ctl, this.hartId, LS_SLOW_CHECKS)]++;
    const va = vaHi * TWO32 + (vaLo >>> 0);
    const vpn = Math.floor(va / PAGE_SIZE);
    let upTo = n;
    let sinceNs = -2; // -2: no covering change found
    let removal = false; // a covering change removed translations (CHANGE_UNMAP)
    if (n - checked > CHANGE_SLOTS) {
      sinceNs = -1; // wrapped: compare with the current PTE only
    } else {
      for (let pos = checked; pos < n; pos++) {
        const i = this.changes + (pos & (CHANGE_SLOTS - 1)) * (CHANGE_BYTES / 4);
        if (Atomics.load(this.i32, i + CH_TAG) !== pos + 1) {
          if (pos < upTo) upTo = pos; // not published yet: look again next time
          continue;
        }
        if (this.i32[i + CH_AS] !== this.asSlot || this.i32[i + CH_SEQ]! <= stamp) continue;
        const np = this.i32[i + CH_NPAGES]!;
        const v0 = this.f64[(i + CH_VPN) / 2]!;
        if (np >= 0 && (vpn < v0 || vpn >= v0 + np)) continue;
        sinceNs = nowNs() - this.f64[(i + CH_TIME) / 2]!;
        if (this.i32[i + CH_KIND] === CHANGE_UNMAP) removal = true;
      }
    }
    if (sinceNs === -2) return upTo;
    const stalePpn = Math.floor(pageBase / PAGE_SIZE);
    const leafPpn = Math.floor(leafBase / PAGE_SIZE);
    const leaf = this.readLeaf(this.rootPpn, vpn);
    let what = 0;
    if (leaf === null) what = STALE_REMOVED;
    else if (leaf.ppn !== stalePpn) what = STALE_REPOINTED;
    else if (((leaf.flags >> kind) & 1) === 0) what = STALE_PROTECTED;
    else if (((tag ^ frameGeneration(this.ctl, leafPpn)) & 0xffff) !== 0) what = STALE_REUSED;
    else if ((perm & PTE_W) !== 0 && (leaf.flags & PTE_D) === 0) {
      // Cached writable over a clean PTE: a store through it would skip the PTE's D bit.
      const cleaned = removal ? 1 : this.cleanedSince(tag, leafPpn);
      if (cleaned !== 0) {
        // Undecided until a store (and until the clean completed): look again at the next hit.
        if (kind !== ACCESS_STORE || cleaned < 0) return checked;
        what = removal ? STALE_CLEAN : STALE_DIRTY_AFTER_CLEAN;
      }
    }
    if (what !== 0) this.report(va, kind, stalePpn, leaf === null ? -1 : leaf.ppn, what, sinceNs);
    return upTo;
  }

  /**
   * Whether a clean of frame `ppn` began after the walk that filled an entry with `tag`:
   * 0 no; 1 yes, and every clean begun is complete; -1 yes, but a clean is still in flight.
   */
  private cleanedSince(tag: number, ppn: number): number {
    const begun = frameCleansBegun(this.ctl, ppn);
    if (begun < 0 || ((begun ^ (tag >>> 16)) & 0xffff) === 0) return 0; // not a RAM frame (device memory), or no clean since
    return frameCleansDone(this.ctl, ppn) >= begun ? 1 : -1; // done read after begun (frames.ts)
  }

  private report(va: number, kind: number, stalePpn: number, currentPpn: number, what: number, sinceNs: number): void {
    const ctl = this.ctl;
    this.f64[labStatIndex(ctl, this.hartId, LS_REPORTS)]++;
    const pos = Atomics.add(this.i32, hw(ctl, LH_REPORTS), 1);
    const i = (ctl.layout.lab + LAB_REPORTS_AT + (pos & (REPORT_SLOTS - 1)) * REPORT_BYTES) / 4;
    const i32 = this.i32, f64 = this.f64;
    i32[i + RP_HART] = this.hartId;
    i32[i + RP_PID] = this.pid;
    i32[i + RP_TID] = this.tid;
    i32[i + RP_ACCESS] = kind;
    i32[i + RP_WHAT] = what;
    f64[(i + RP_VA) / 2] = va;
    f64[(i + RP_STALE_PPN) / 2] = stalePpn;
    f64[(i + RP_CURRENT_PPN) / 2] = currentPpn;
    f64[(i + RP_SINCE_NS) / 2] = sinceNs;
    Atomics.store(i32, i + RP_TAG, pos + 1); // publishes the report
    traceEmitSanitizer(this.trace(), va, kind, stalePpn, currentPpn, sinceNs);
    const r = decodeReport(ctl, i, this.policy);
    const line = Atomics.add(i32, hw(ctl, LH_STDERR), 1);
    if (line < STDERR_LINES) writeSync(2, `coherent: sanitizer: ${formatReport(r)}\n`);
    else if (line === STDERR_LINES) writeSync(2, 'coherent: sanitizer: further reports are counted, not printed\n');
    if (this.fatal && Atomics.compareExchange(i32, hw(ctl, LH_FATAL), 0, pos + 1) === 0) throw new SanitizerFatal(r);
  }
}
