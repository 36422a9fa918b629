/**
 * 64-bit values as one float64 without a trip through memory: `join64(lo, hi)` is the
 * float64 whose bits are hi:lo (the little-endian halves of a guest doubleword).
 *
 * Why: an aligned guest `sd` must be single-copy atomic, so it writes its 8 bytes as ONE
 * Float64Array element (cpu/hart.ts `wideF`). Building that float64 by writing the two int32
 * halves into an 8-byte scratch and reading it back costs a store-forwarding stall (a CPU
 * cannot forward two 4-byte stores into one 8-byte load). JavaScript has no bit cast from
 * integers to a double; WebAssembly has one (`f64.reinterpret_i64`), so this is a
 * two-parameter WebAssembly function without memory, compiled once per worker.
 *
 * Bits pass through unchanged, NaN payloads (signalling, negative) and -0 included: the value
 * leaves WebAssembly as a raw float64 and is stored by a Float64Array element store, which V8
 * does not canonicalise (test/cpu/wide.test.ts checks the patterns, cold and optimised).
 *
 * The module, in the text format:
 *   (module (func (export "join64") (param $lo i32) (param $hi i32) (result f64)
 *     (f64.reinterpret_i64 (i64.or (i64.extend_i32_u (local.get $lo))
 *                                  (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32))))))
 */

/** A WebAssembly section: id, byte length (< 128: one LEB128 byte), contents. */
function section(id: number, body: number[]): number[] {
  return [id, body.length, ...body];
}

const JOIN64_BODY = [
  0x00, // no locals
  0x20, 0x00, 0xad, // local.get 0; i64.extend_i32_u
  0x20, 0x01, 0xad, // local.get 1; i64.extend_i32_u
  0x42, 0x20, 0x86, // i64.const 32; i64.shl
  0x84, // i64.or
  0xbf, // f64.reinterpret_i64
  0x0b, // end
];

const JOIN64_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 1, 0x7c]), // type 0: (i32, i32) -> f64
  ...section(3, [1, 0]), // function 0 has type 0
  ...section(7, [1, 6, 0x6a, 0x6f, 0x69, 0x6e, 0x36, 0x34, 0x00, 0]), // export "join64" = function 0
  ...section(10, [1, JOIN64_BODY.length, ...JOIN64_BODY]), // code
]);

/**
 * The float64 whose 64 bits are (hi << 32) | (lo >>> 0), for int32 (or uint32) halves.
 * Pure; never throws.
 */
export const join64: (lo: number, hi: number) => number = instantiate(JOIN64_MODULE).join64 as (lo: number, hi: number) => number;

/** The exports of a module without imports (the project's TypeScript lib has no WebAssembly types: a minimal view of the global). */
function instantiate(bytes: Uint8Array): Record<string, unknown> {
  const wasm = (globalThis as unknown as {
    WebAssembly: {
      Module: new (b: Uint8Array) => object;
      Instance: new (m: object) => { exports: Record<string, unknown> };
    };
  }).WebAssembly;
  return new wasm.Instance(new wasm.Module(bytes)).exports;
}
