/**
 * The machine's one time source. Every clock the kernel, the scheduler and the hardware read
 * (clock_gettime, gettimeofday, deadlines of sleeps, timeouts and timers, the `time` CSR,
 * shootdown latencies, sanitizer and trace timestamps) goes through timeNs() / timeMs().
 *
 * Parallel mode (default): the host's monotonic clock (uv_hrtime), the same on every worker.
 * Deterministic mode (cpu/baton.ts): virtual time — one f64 word of nanoseconds in the baton
 * region of ctl (kernel/layout.ts `baton`), advanced only by the hart holding the baton, by the
 * cost model (cpu/cost-model.ts) of the work it did. Reading it first charges the reader's own
 * work not yet counted (the `charge` hook its scheduler installed), so a guest that polls the
 * clock sees it move. Per worker: each worker (hart) installs it once when its scheduler starts.
 */

let vt: Float64Array | null = null;
let vtIndex = 0;
let charge: () => void = () => {};

/**
 * Switch this worker to virtual time: the clock is f64[index] (ns); `chargeHook` adds this
 * hart's uncounted work to it (called before every read).
 */
export function useVirtualTime(f64: Float64Array, index: number, chargeHook: () => void): void {
  vt = f64;
  vtIndex = index;
  charge = chargeHook;
}

/** Switch this worker back to the host's clock (a new worker's state: a machine reset). */
export function useHostTime(): void {
  vt = null;
  vtIndex = 0;
  charge = () => {};
}

/** True when this worker reads virtual time (deterministic mode). */
export function virtualTime(): boolean {
  return vt !== null;
}

/** The host's monotonic clock (ns, a double): kept apart and named "host" wherever it is shown. */
export function hostNs(): number {
  return Number(process.hrtime.bigint());
}

/** The machine's time (ns, a double): virtual in deterministic mode, else the host's monotonic clock. */
export function timeNs(): number {
  if (vt === null) return Number(process.hrtime.bigint());
  charge();
  return vt[vtIndex]!;
}

/**
 * CLOCK_REALTIME of deterministic mode: DET_EPOCH_NS + virtual time (wall-clock time is an input
 * the host would otherwise leak into every run).
 */
export const DET_EPOCH_NS = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z

/** Wall-clock ns (bigint): deterministic mode DET_EPOCH_NS + virtual time, else the host's Date.now(). */
export function realtimeNs(): bigint {
  if (vt === null) return BigInt(Date.now()) * 1_000_000n;
  return DET_EPOCH_NS + BigInt(Math.floor(timeNs()));
}

/** Wall-clock ms (a double): file times the kernel makes up (utimensat UTIME_NOW, /proc, /dev nodes). */
export function realtimeMs(): number {
  if (vt === null) return Date.now();
  return Number(realtimeNs() / 1_000_000n);
}

/** The machine's time in ms (deadlines of the scheduler). */
export function timeMs(): number {
  return timeNs() / 1e6;
}

/** Deterministic mode: advance virtual time by `ns` (the baton holder only). No-op in parallel mode. */
export function advanceTime(ns: number): void {
  if (vt !== null && ns > 0) vt[vtIndex] = vt[vtIndex]! + ns;
}

/** Deterministic mode: move virtual time forward to `ns` if it is behind (a sleep's deadline). */
export function advanceTimeTo(ns: number): void {
  if (vt !== null && ns > vt[vtIndex]!) vt[vtIndex] = ns;
}
