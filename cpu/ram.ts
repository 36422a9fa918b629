/**
 * Physical RAM: one SharedArrayBuffer that every hart (worker thread) maps.
 *
 * RAM is an array of 4 KiB frames; physical address 0 is the first byte of the buffer.
 * The host must be little-endian (RISC-V is), which `PhysicalMemory` checks once.
 * Views are created once per worker; every access path (hart hit path, MMU walk,
 * kernel copy) indexes these views directly.
 *
 * Ordering: plain typed-array accesses are used for ordinary guest loads and stores
 * (like a weakly ordered core); `Atomics` on `i32`/`i64` for guest atomics, PTE
 * updates and anything another hart synchronises on.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT; // 4 KiB
export const PAGE_MASK = PAGE_SIZE - 1;
export const MEGAPAGE_SIZE = 2 * 1024 * 1024; // 2 MiB superpage / huge-block size
export const FRAMES_PER_MEGAPAGE = MEGAPAGE_SIZE / PAGE_SIZE; // 512

/** Smallest and largest RAM a machine may have (bytes). */
export const RAM_MIN_BYTES = 16 * 1024 * 1024;
export const RAM_MAX_BYTES = 4 * 1024 * 1024 * 1024;
export const RAM_DEFAULT_BYTES = 256 * 1024 * 1024;

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Typed views over the shared RAM buffer.
 * Contract: `sab.byteLength` is a multiple of 2 MiB; all views cover the whole buffer.
 */
export class PhysicalMemory {
  readonly sab: SharedArrayBuffer;
  readonly bytes: number;
  readonly frames: number;
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  readonly i64: BigInt64Array;

  /** Attach to an existing RAM buffer (every worker does this once). */
  constructor(sab: SharedArrayBuffer) {
    if (!littleEndian) throw new Error('PhysicalMemory: host must be little-endian');
    if (sab.byteLength % MEGAPAGE_SIZE !== 0) {
      throw new Error(`PhysicalMemory: size ${sab.byteLength} is not a multiple of 2 MiB`);
    }
    this.sab = sab;
    this.bytes = sab.byteLength;
    this.frames = this.bytes / PAGE_SIZE;
    this.u8 = new Uint8Array(sab);
    this.i8 = new Int8Array(sab);
    this.u16 = new Uint16Array(sab);
    this.i16 = new Int16Array(sab);
    this.i32 = new Int32Array(sab);
    this.u32 = new Uint32Array(sab);
    this.f32 = new Float32Array(sab);
    this.f64 = new Float64Array(sab);
    this.i64 = new BigInt64Array(sab);
  }

  /**
   * Allocate a new RAM buffer of `bytes` bytes (a multiple of 2 MiB, within
   * [RAM_MIN_BYTES, RAM_MAX_BYTES]). Throws a RangeError naming `memory` otherwise,
   * or when the host cannot allocate it.
   */
  static create(bytes: number): PhysicalMemory {
    validateRamSize(bytes);
    let sab: SharedArrayBuffer;
    try {
      sab = new SharedArrayBuffer(bytes);
    } catch (e) {
      throw new RangeError(`memory: cannot allocate ${bytes} bytes of RAM on this host (${(e as Error).message})`);
    }
    return new PhysicalMemory(sab);
  }

  /** Physical address of the first byte of frame `ppn`. */
  frameAddress(ppn: number): number {
    return ppn * PAGE_SIZE;
  }

  /** Fill frame `ppn` with zeros. */
  zeroFrame(ppn: number): void {
    this.u8.fill(0, ppn * PAGE_SIZE, (ppn + 1) * PAGE_SIZE);
  }
}

/** Throws a RangeError naming `memory` and the allowed range unless `bytes` is a valid RAM size. */
export function validateRamSize(bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < RAM_MIN_BYTES || bytes > RAM_MAX_BYTES || bytes % MEGAPAGE_SIZE !== 0) {
    throw new RangeError(
      `memory: ${bytes} bytes is not allowed; it must be a multiple of 2 MiB between 16 MiB and 4 GiB`,
    );
  }
}
