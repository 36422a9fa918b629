/**
 * Deterministic mode's baton (docs/deterministic.md; DESIGN.md section 9): the harts stay
 * worker threads, but only the hart holding the baton executes. It runs until a switch point —
 * the end of a slice of guest instructions, or any place where kernel or scheduler code would
 * wait (a contended lock, acknowledgements not yet there, a full mailbox, an idle hart) — where
 * the seeded schedule names the next holder (a pure function of the seed and the number of
 * decisions so far), the holder hands the baton over and parks in Atomics.wait on its own GO
 * word. Every write the old holder made happens-before the new holder's first step (the
 * seq-cst store of GO[next] / load of GO[next]).
 *
 * Region (kernel/layout.ts `baton`, BATON_* byte offsets below; written by the host once at boot
 * before SH_STARTED, then only by the holder — every field is the holder's, no lock needed):
 *
 *   +0    i32 ENABLED      1 = deterministic mode
 *   +4    i32 HOLDER       hart holding the baton
 *   +8    i32 SCHEDULE     BATON_PCT | BATON_RANDOM
 *   +12   i32 SEED         the machine seed (u32)
 *   +16   i32 PCT_DEPTH    d: PCT's d-1 priority change points
 *   +20   i32 IDLE_STREAK  idle turns since the last progress (statistics of the round)
 *   +24   i32 QUIESCENT    1 = every hart idle, no deadline: the holder waits for the host
 *   +28   i32 RUN_STREAK   consecutive slice ends the holder kept the baton (pct fairness)
 *   +32   i32 HASH         FNV-1a over every decision's pick (the schedule's fingerprint)
 *   +36   i32 SLICE        guest instructions per slice
 *   +40   i32 LOWEST       lowest priority handed out so far (pct demotions go below it)
 *   +44   i32 DECISIONS    schedule decisions so far (the schedule's clock)
 *   +48   i32 IDLE_BITS[2] harts that took an idle turn since the last progress and were given
 *                          no work since (bit h of word h>>5)
 *   +64   f64 VTIME        virtual time, ns (cpu/vclock.ts)
 *   +72   f64 IDLE_DEADLINE earliest deadline the idle turns of this streak reported (ns)
 *   +80   f64 HANDOVERS    decisions that moved the baton to another hart
 *   +128  per hart h, BATON_HART_BYTES each: i32 GO (1 = may run), i32 PRIO (pct priority)
 */

import { cyclesNs, WAIT_TURN_CYCLES } from './cost-model.ts';
import { advanceTime } from './vclock.ts';

export const BATON_PCT = 0;
export const BATON_RANDOM = 1;
export const BATON_SCHEDULES: Readonly<Record<string, number>> = { pct: BATON_PCT, random: BATON_RANDOM };

const W_ENABLED = 0, W_HOLDER = 1, W_SCHEDULE = 2, W_SEED = 3, W_PCT_DEPTH = 4, W_IDLE_STREAK = 5;
const W_QUIESCENT = 6, W_RUN_STREAK = 7, W_HASH = 8, W_SLICE = 9, W_LOWEST = 10, W_DECISIONS = 11, W_IDLE_BITS = 12;
const D_VTIME = 8, D_IDLE_DEADLINE = 9, D_HANDOVERS = 10; // f64 indices from the region base
const BATON_HEADER_BYTES = 128;
export const BATON_HART_BYTES = 16;
/** Byte offset of the virtual-time f64 in the region. */
export const BATON_VTIME = D_VTIME * 8;

/** Default guest instructions per slice (the quantum of the schedule, far below the scheduler's). */
export const DET_SLICE = 10_000;
/** pct: slice ends a hart may keep the baton in a row before it is demoted (guests that spin on a flag). */
export const PCT_FAIR_SLICES = 4;
/** pct: the d-1 change points fall among the first PCT_HORIZON decisions. */
export const PCT_HORIZON = 4_000;
export const DEFAULT_PCT_DEPTH = 3;
/** A parked hart re-checks the machine state this often (ms): halts and shutdowns end the park. */
const PARK_SLICE_MS = 50;

/** Bytes of the baton region for `cpus` harts. */
export function batonRegionBytes(cpus: number): number {
  return Math.ceil((BATON_HEADER_BYTES + cpus * BATON_HART_BYTES) / 64) * 64;
}

/** A 32-bit hash of (seed, n, salt): the schedule's only source of randomness. */
export function mix(seed: number, n: number, salt: number): number {
  let x = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((n + Math.imul(salt, 0x27d4eb2f)) | 0, 0xc2b2ae35);
  x ^= x >>> 16; x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15; x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

export interface BatonConfig { seed: number; schedule: number; pctDepth: number; slice: number }

/**
 * Host, once at boot before any hart's scheduler starts: enable deterministic mode in the
 * region at byte `base` of `sab`, seed the pct priorities (a seeded permutation) and hand the
 * baton to the highest-priority hart.
 */
export function initializeBaton(sab: SharedArrayBuffer, base: number, cpus: number, c: BatonConfig): void {
  const i32 = new Int32Array(sab, base, batonRegionBytes(cpus) / 4);
  const f64 = new Float64Array(sab, base, batonRegionBytes(cpus) / 8);
  const perm = Array.from({ length: cpus }, (_, i) => i);
  for (let i = cpus - 1; i > 0; i--) {
    const j = mix(c.seed, i, 5) % (i + 1);
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  for (let r = 0; r < cpus; r++) i32[(BATON_HEADER_BYTES + perm[r]! * BATON_HART_BYTES) / 4 + 1] = cpus - r;
  i32[W_SCHEDULE] = c.schedule;
  i32[W_SEED] = c.seed | 0;
  i32[W_PCT_DEPTH] = c.pctDepth;
  i32[W_SLICE] = c.slice;
  i32[W_LOWEST] = 0;
  i32[W_HASH] = 0x811c9dc5 | 0;
  f64[D_VTIME] = 0;
  f64[D_IDLE_DEADLINE] = Infinity;
  i32[W_HOLDER] = perm[0]!;
  Atomics.store(i32, (BATON_HEADER_BYTES + perm[0]! * BATON_HART_BYTES) / 4, 1);
  Atomics.store(i32, W_ENABLED, 1);
}

/** What the region says, for statistics (racy while harts run; exact when quiet). */
export interface BatonStats { seed: number; schedule: string; decisions: number; handovers: number; scheduleHash: string; virtualNs: number; quiescent: boolean }

/** Read the region at byte `base` (null when deterministic mode is off). */
export function batonStats(sab: SharedArrayBuffer, base: number, cpus: number): BatonStats | null {
  const i32 = new Int32Array(sab, base, batonRegionBytes(cpus) / 4);
  const f64 = new Float64Array(sab, base, batonRegionBytes(cpus) / 8);
  if (Atomics.load(i32, W_ENABLED) === 0) return null;
  return {
    seed: i32[W_SEED]! >>> 0, schedule: i32[W_SCHEDULE] === BATON_RANDOM ? 'random' : 'pct',
    decisions: i32[W_DECISIONS]! >>> 0, handovers: f64[D_HANDOVERS]!,
    scheduleHash: (i32[W_HASH]! >>> 0).toString(16).padStart(8, '0'), virtualNs: f64[D_VTIME]!,
    quiescent: Atomics.load(i32, W_QUIESCENT) === 1,
  };
}

/** True when the region at byte `base` says deterministic mode (host or hart). */
export function batonEnabled(sab: SharedArrayBuffer, base: number): boolean {
  return Atomics.load(new Int32Array(sab, base, 1), 0) === 1;
}

/** What Baton.idle did. */
export const IDLE_SWITCHED = 0; // another hart had a turn; look again
export const IDLE_JUMPED = 1; // every hart idle: virtual time jumped to the earliest deadline
export const IDLE_QUIET = 2; // every hart idle, no deadline: wait for the host (the caller sleeps)

/** One hart's side of the baton (worker-local view of the shared region). */
export class Baton {
  private readonly i32: Int32Array;
  readonly f64: Float64Array;
  private readonly cpus: number;
  private readonly me: number;
  private readonly goIndex: number;
  private readonly changePoints: number[] = [];
  /** Charges this hart's uncounted work to virtual time (installed by its scheduler). */
  charge: () => void = () => {};

  /**
   * Attach hart `hartId` to the region at byte `base`. `check` runs between park slices and
   * throws to abandon the park when the machine stopped.
   */
  constructor(sab: SharedArrayBuffer, base: number, cpus: number, hartId: number, private readonly check: () => void) {
    this.i32 = new Int32Array(sab, base, batonRegionBytes(cpus) / 4);
    this.f64 = new Float64Array(sab, base, batonRegionBytes(cpus) / 8);
    this.cpus = cpus;
    this.me = hartId;
    this.goIndex = this.go(hartId);
    const seed = this.i32[W_SEED]!;
    for (let i = 0; i < this.i32[W_PCT_DEPTH]! - 1; i++) this.changePoints.push(mix(seed, i, 3) % PCT_HORIZON);
  }

  private go(h: number): number { return (BATON_HEADER_BYTES + h * BATON_HART_BYTES) / 4; }
  private prio(h: number): number { return this.i32[this.go(h) + 1]!; }

  /** Block until this hart holds the baton (its first turn). */
  acquire(): void {
    while (Atomics.load(this.i32, this.goIndex) === 0) {
      Atomics.wait(this.i32, this.goIndex, 0, PARK_SLICE_MS);
      this.check();
    }
  }

  /** Guest instructions of this hart's next slice (pct: the configured slice; random: seeded, 0.5-1.5x). */
  sliceLength(): number {
    const s = this.i32[W_SLICE]!;
    if (this.i32[W_SCHEDULE] !== BATON_RANDOM) return s;
    return (s >>> 1) + 1 + mix(this.i32[W_SEED]!, this.i32[W_DECISIONS]!, 2) % s;
  }

  /** The holder made progress (ran guest code): the idle streak and quiescence end. */
  progress(): void {
    if (this.i32[W_IDLE_STREAK] !== 0) {
      this.i32[W_IDLE_STREAK] = 0;
      this.i32[W_IDLE_BITS] = 0;
      this.i32[W_IDLE_BITS + 1] = 0;
      this.f64[D_IDLE_DEADLINE] = Infinity;
    }
    if (this.i32[W_QUIESCENT] !== 0) Atomics.store(this.i32, W_QUIESCENT, 0);
  }

  /** A slice of guest instructions ended: the schedule picks the next holder (maybe this hart). */
  sliceEnd(): void {
    this.progress();
    const n = this.i32[W_DECISIONS]!;
    let next: number;
    if (this.i32[W_SCHEDULE] === BATON_RANDOM) {
      next = mix(this.i32[W_SEED]!, n, 1) % this.cpus;
    } else {
      const streak = ++this.i32[W_RUN_STREAK];
      if (streak >= PCT_FAIR_SLICES || this.changePoints.includes(n)) this.demote();
      next = this.top(-1);
    }
    this.handTo(next);
  }

  /**
   * A wait point: what this hart waits for needs another hart to run. The waiter goes to the
   * back (pct: lowest priority; random: a uniform pick among the others) and its turn costs
   * WAIT_TURN cycles (charged by the caller's `charge`). Returns when the baton comes back.
   */
  waitTurn(): void {
    if (this.cpus === 1) return;
    this.progress();
    advanceTime(cyclesNs(WAIT_TURN_CYCLES));
    this.handTo(this.other());
  }

  /** Hart `h` was given work (a queued thread, a message): it must take a turn before the machine counts as idle. */
  notIdle(h: number): void {
    const w = W_IDLE_BITS + (h >>> 5);
    this.i32[w] = this.i32[w]! & ~(1 << (h & 31));
  }

  private isIdle(h: number): boolean {
    return (this.i32[W_IDLE_BITS + (h >>> 5)]! & (1 << (h & 31))) !== 0;
  }

  /**
   * An idle turn: this hart found nothing to run; `deadlineNs` is the earliest time something
   * becomes due (Infinity: nothing). Once every hart took an idle turn since the last progress
   * (and none was given work since: notIdle), virtual time jumps to the earliest deadline they
   * reported (IDLE_JUMPED), or, with none, the machine is quiescent and the caller waits for the
   * host (IDLE_QUIET). Else a hart that has not idled yet gets the turn.
   */
  idle(deadlineNs: number): number {
    ++this.i32[W_IDLE_STREAK];
    const w = W_IDLE_BITS + (this.me >>> 5);
    this.i32[w] = this.i32[w]! | (1 << (this.me & 31));
    if (deadlineNs < this.f64[D_IDLE_DEADLINE]!) this.f64[D_IDLE_DEADLINE] = deadlineNs;
    let busy = 0;
    for (let h = 0; h < this.cpus; h++) if (!this.isIdle(h)) busy++;
    if (busy === 0) {
      const d = this.f64[D_IDLE_DEADLINE]!;
      if (d !== Infinity) {
        const now = this.f64[D_VTIME]!;
        this.f64[D_VTIME] = Math.max(d, now + 1000); // at least 1 µs: a stale deadline cannot stall time
        this.i32[W_IDLE_STREAK] = 0;
        this.i32[W_IDLE_BITS] = 0;
        this.i32[W_IDLE_BITS + 1] = 0;
        this.f64[D_IDLE_DEADLINE] = Infinity;
        return IDLE_JUMPED;
      }
      if (this.i32[W_QUIESCENT] === 0) Atomics.store(this.i32, W_QUIESCENT, 1);
      return IDLE_QUIET;
    }
    this.handTo(this.otherBusy(busy));
    return IDLE_SWITCHED;
  }

  /** Pick among the `busy` harts that have not idled since the last progress (pct: this hart demoted). */
  private otherBusy(busy: number): number {
    if (this.i32[W_SCHEDULE] === BATON_RANDOM) {
      let k = mix(this.i32[W_SEED]!, this.i32[W_DECISIONS]!, 1) % busy;
      for (let h = 0; h < this.cpus; h++) if (!this.isIdle(h) && k-- === 0) return h;
    }
    this.demote();
    let best = -1, bp = -Infinity;
    for (let h = 0; h < this.cpus; h++) {
      if (this.isIdle(h)) continue;
      const p = this.prio(h);
      if (p > bp) { bp = p; best = h; }
    }
    return best;
  }

  /** Demote this hart (pct) and pick among the others. */
  private other(): number {
    const n = this.i32[W_DECISIONS]!;
    if (this.i32[W_SCHEDULE] === BATON_RANDOM) {
      const k = mix(this.i32[W_SEED]!, n, 1) % (this.cpus - 1);
      return k >= this.me ? k + 1 : k;
    }
    this.demote();
    return this.top(this.me);
  }

  private demote(): void {
    const low = this.i32[W_LOWEST]! - 1;
    this.i32[W_LOWEST] = low;
    this.i32[this.goIndex + 1] = low;
    this.i32[W_RUN_STREAK] = 0;
  }

  /** The highest-priority hart other than `exclude`. */
  private top(exclude: number): number {
    let best = -1, bp = -Infinity;
    for (let h = 0; h < this.cpus; h++) {
      if (h === exclude) continue;
      const p = this.prio(h);
      if (p > bp) { bp = p; best = h; }
    }
    return best;
  }

  /** Record the decision; hand the baton to `next` and park until it comes back (no-op for itself). */
  private handTo(next: number): void {
    const i32 = this.i32;
    i32[W_DECISIONS] = (i32[W_DECISIONS]! + 1) | 0;
    i32[W_HASH] = Math.imul(i32[W_HASH]! ^ (next + 1), 0x01000193);
    if (next === this.me) return;
    this.charge();
    i32[W_RUN_STREAK] = 0;
    this.f64[D_HANDOVERS] = this.f64[D_HANDOVERS]! + 1;
    Atomics.store(i32, this.goIndex, 0);
    Atomics.store(i32, W_HOLDER, next);
    // The handover: every write above and before happens-before the next holder's first step.
    Atomics.store(i32, this.go(next), 1);
    Atomics.notify(i32, this.go(next), 1);
    this.acquire();
  }
}

let active: Baton | null = null;

/** Make `b` this worker's baton (its scheduler, at start in deterministic mode). */
export function setActiveBaton(b: Baton | null): void {
  active = b;
}

/** This worker's baton: null in parallel mode. */
export function activeBaton(): Baton | null {
  return active;
}

/**
 * The one way a hart waits for another hart (locks, acknowledgements, full mailboxes, changing
 * PTEs): parallel mode blocks in Atomics.wait(i32, index, value, ms); deterministic mode hands
 * the baton on (Baton.waitTurn) and returns when it comes back. Callers loop and re-check.
 */
export function relaxWait(i32: Int32Array, index: number, value: number, ms: number): void {
  if (active !== null) {
    active.waitTurn();
    return;
  }
  Atomics.wait(i32, index, value, ms);
}
