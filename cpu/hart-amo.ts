/**
 * The A extension: LR/SC and every AMO, .w and .d, as real Atomics on the shared RAM
 * (ram.i32 for .w, ram.i64 for .d), so guest atomics are atomic across harts.
 *
 * LR records the reservation (physical address, size, value). SC succeeds iff the
 * reservation is valid for that address and size and a compareExchange from the reserved
 * value succeeds (QEMU's scheme: a concurrent store of a different value makes it fail; the
 * ABA case succeeds, which the spec's "may" permits for this hart's purposes). The
 * reservation is lost on SC, on any exit from Hart.run, and when this hart stores to it.
 * Misaligned LR raises load-misaligned; misaligned SC/AMO store-misaligned (never emulated).
 */
import type { Hart } from './hart.ts';
import { setTranslateFault, vaOf } from './hart-mem.ts';
import {
  ACCESS_LOAD, ACCESS_STORE, CAUSE_LOAD_MISALIGNED, CAUSE_STORE_MISALIGNED,
} from './trap.ts';

const F5_ADD = 0x00;
const F5_SWAP = 0x01;
const F5_LR = 0x02;
const F5_SC = 0x03;
const F5_XOR = 0x04;
const F5_OR = 0x08;
const F5_AND = 0x0c;
const F5_MIN = 0x10;
const F5_MAX = 0x14;
const F5_MINU = 0x18;
const F5_MAXU = 0x1c;

/** The new value an AMO computes from `old` and `v` (32-bit). */
function amo32(f5: number, old: number, v: number): number {
  switch (f5) {
    case F5_MIN: return old < v ? old : v;
    case F5_MAX: return old > v ? old : v;
    case F5_MINU: return (old >>> 0) < (v >>> 0) ? old : v;
    default: return (old >>> 0) > (v >>> 0) ? old : v; // MAXU
  }
}

/** The new value an AMO computes from `old` and `v` (64-bit, signed BigInts). */
function amo64(f5: number, old: bigint, v: bigint): bigint {
  switch (f5) {
    case F5_MIN: return old < v ? old : v;
    case F5_MAX: return old > v ? old : v;
    case F5_MINU: return BigInt.asUintN(64, old) < BigInt.asUintN(64, v) ? old : v;
    default: return BigInt.asUintN(64, old) > BigInt.asUintN(64, v) ? old : v;
  }
}

/**
 * Execute the A-extension instruction `insn` (decoded as OP_AMO: funct3 2 or 3, a valid
 * funct5). Returns true when done (pc not advanced here); false with h.cause/h.tval set
 * on a misaligned address or a translation fault.
 */
export function execAmo(h: Hart, insn: number): boolean {
  const x = h.x;
  const rd = (insn >>> 7) & 31;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const f5 = insn >>> 27;
  const size = ((insn >>> 12) & 7) === 2 ? 4 : 8;
  const lo = x[2 * rs1];
  const hi = x[2 * rs1 + 1];
  const vLo = x[2 * rs2];
  const vHi = x[2 * rs2 + 1];
  const isLr = f5 === F5_LR;
  if ((lo & (size - 1)) !== 0) {
    h.cause = isLr ? CAUSE_LOAD_MISALIGNED : CAUSE_STORE_MISALIGNED;
    h.tval = vaOf(lo, hi);
    return false;
  }
  const kind = isLr ? ACCESS_LOAD : ACCESS_STORE;
  const pa = h.tlb.translate(lo, hi, kind);
  if (pa < 0) return setTranslateFault(h, pa, kind, vaOf(lo, hi));
  if (!isLr) {
    const ppn = Math.floor(pa / 4096);
    if (h.pages.has(ppn)) h.dropPage(ppn);
  }
  const ram = h.ram;
  let rLo: number;
  let rHi: number;
  if (size === 4) {
    const i32 = ram.i32;
    const idx = pa >>> 2;
    let old: number;
    switch (f5) {
      case F5_LR:
        old = Atomics.load(i32, idx);
        h.setReservation(pa, 4, old, 0n);
        break;
      case F5_SC: {
        const ok = h.resValid && h.resPa === pa && h.resSize === 4 &&
          Atomics.compareExchange(i32, idx, h.resW, vLo) === h.resW;
        h.resValid = false;
        if (!ok) h.scFailures++;
        old = ok ? 0 : 1;
        break;
      }
      case F5_SWAP: old = Atomics.exchange(i32, idx, vLo); break;
      case F5_ADD: old = Atomics.add(i32, idx, vLo); break;
      case F5_XOR: old = Atomics.xor(i32, idx, vLo); break;
      case F5_OR: old = Atomics.or(i32, idx, vLo); break;
      case F5_AND: old = Atomics.and(i32, idx, vLo); break;
      default: {
        old = Atomics.load(i32, idx);
        for (;;) {
          const seen = Atomics.compareExchange(i32, idx, old, amo32(f5, old, vLo));
          if (seen === old) break;
          old = seen;
        }
      }
    }
    rLo = old;
    rHi = old >> 31;
  } else {
    const i64 = ram.i64;
    const idx = pa >>> 3;
    const v = (BigInt(vHi) << 32n) | BigInt(vLo >>> 0);
    let old: bigint;
    switch (f5) {
      case F5_LR:
        old = Atomics.load(i64, idx);
        h.setReservation(pa, 8, 0, old);
        break;
      case F5_SC: {
        const ok = h.resValid && h.resPa === pa && h.resSize === 8 &&
          Atomics.compareExchange(i64, idx, h.resD, v) === h.resD;
        h.resValid = false;
        if (!ok) h.scFailures++;
        old = ok ? 0n : 1n;
        break;
      }
      case F5_SWAP: old = Atomics.exchange(i64, idx, v); break;
      case F5_ADD: old = Atomics.add(i64, idx, v); break;
      case F5_XOR: old = Atomics.xor(i64, idx, v); break;
      case F5_OR: old = Atomics.or(i64, idx, v); break;
      case F5_AND: old = Atomics.and(i64, idx, v); break;
      default: {
        const sv = BigInt.asIntN(64, v);
        old = Atomics.load(i64, idx);
        for (;;) {
          const seen = Atomics.compareExchange(i64, idx, old, amo64(f5, old, sv));
          if (seen === old) break;
          old = seen;
        }
      }
    }
    rLo = Number(BigInt.asIntN(32, old));
    rHi = Number(BigInt.asIntN(32, old >> 32n));
  }
  // An AMO/SC store by this hart to the reserved bytes ends the reservation.
  if (!isLr && h.resValid && pa < h.resPa + h.resSize && h.resPa < pa + size) h.resValid = false;
  if (rd !== 0) {
    x[2 * rd] = rLo;
    x[2 * rd + 1] = rHi;
  }
  return true;
}
