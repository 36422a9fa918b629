/**
 * Field layout of the trace rings (the `traceRings` region of ctl, kernel/layout.ts): one ring
 * per hart, each a header line followed by E fixed-size records (E = LayoutConfig.traceEvents,
 * 0 = tracing off). Shared by the layout (sizes), the writer (kernel/lab/trace.ts) and the reader.
 *
 *   ring of hart h, at traceRings + h * traceRingBytes(E):
 *   +-------------------------------------------+ 0
 *   | header   TRACE_RING_HEADER_BYTES          |  Int32 words TR_*, epoch float64 at TR_EPOCH_F64
 *   +-------------------------------------------+ TRACE_RING_HEADER_BYTES
 *   | record 0 TRACE_RECORD_BYTES               |
 *   | ...                                       |
 *   | record E-1                                |
 *   +-------------------------------------------+
 *
 *   one record (TRACE_RECORD_BYTES = 64, one cache line):
 *   byte  0 ts    float64  ns since the machine's trace epoch
 *   byte  8 kind  int32    TE_* (kernel/lab/trace.ts)
 *   byte 12 hart  int32    writer's hartId
 *   byte 16 tid   int32    thread running on the hart (0 = none / idle)
 *   byte 20 pid   int32    its process (0 = none)
 *   byte 24 a0..a3 int32   kind-specific arguments
 *   byte 40 f0..f2 float64 kind-specific arguments (addresses, ids, durations)
 *
 * Who writes: the header's TR_CAPACITY, TR_HART and epoch are written once by the host
 * (initializeTrace) before any worker starts. Records, TR_HEAD and TR_LAPS are written only by
 * the owning hart (single writer, no lock); it writes a record completely, then publishes it
 * with Atomics.store of TR_HEAD (and TR_LAPS on wrap-around, stored before TR_HEAD).
 * Readers snapshot after the run (or racily during it, accepting a torn newest record).
 */

export const TRACE_RECORD_BYTES = 64;
export const TRACE_RING_HEADER_BYTES = 64;
/** Most records per hart ring (64 MiB per hart). */
export const TRACE_EVENTS_MAX = 1 << 20;
/** Ring length the CLI uses when `--trace` is given without `--trace-buffer`. */
export const TRACE_EVENTS_DEFAULT = 1 << 16;

// ---- ring header (Int32 word indices from the ring's start) ----
export const TR_HEAD = 0; // next record slot, 0..E-1 (owner: Atomics.store after the record)
export const TR_LAPS = 1; // times the ring wrapped (owner: Atomics.store before TR_HEAD)
export const TR_CAPACITY = 2; // E (host, once)
export const TR_HART = 3; // hartId (host, once)
export const TR_EPOCH_F64 = 1; // Float64 index: epoch in ms (performance.timeOrigin + now) (host, once)

// ---- record fields (byte offsets inside a record) ----
export const REC_TS = 0;
export const REC_KIND = 8;
export const REC_HART = 12;
export const REC_TID = 16;
export const REC_PID = 20;
export const REC_A0 = 24; // a0..a3: int32 at 24, 28, 32, 36
export const REC_F0 = 40; // f0..f2: float64 at 40, 48, 56
export const REC_INT_ARGS = 4;
export const REC_F64_ARGS = 3;

/** Throws a RangeError naming `traceEvents` and the allowed range unless `n` is valid. */
export function validateTraceEvents(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > TRACE_EVENTS_MAX) {
    throw new RangeError(`traceEvents: ${n} is not allowed; it must be an integer from 0 (off) to ${TRACE_EVENTS_MAX}`);
  }
}

/** Bytes of one hart's ring of `events` records (a multiple of 64). */
export function traceRingBytes(events: number): number {
  return TRACE_RING_HEADER_BYTES + events * TRACE_RECORD_BYTES;
}
