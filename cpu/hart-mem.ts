/**
 * The hart's memory slow paths: what happens when a load or store misses the micro-TLB.
 *
 * The micro-TLBs (arrays on the Hart, 256 entries each, direct-mapped by va bits 12..19)
 * are TinyEMU-style copies of Tlb entries: tagLo = va & ~0xfff (low word), tagHi = va's
 * high word, add = pageBasePa - tagLo (mod 2^32), so a hit is
 *   (lo & (~0xfff | size-1)) === tagLo[e] && hi === tagHi[e]  →  pa = (add[e] + lo) >>> 0.
 * Alignment is folded into the compare: a misaligned access always misses and comes here.
 * An empty entry has tagLo = -1, which no masked address equals. The Tlb drops them all
 * on an sfence/satp write (onInvalidate) and one slot when it evicts a 4 KiB entry
 * (onInvalidatePage → Hart.invalidateMicroPage).
 *
 * Here: aligned accesses translate once, refill the micro-TLB and do the access;
 * misaligned ones (supported for ordinary loads/stores, like Linux emulating them) go byte
 * by byte, translating each page they touch; a fault reports the first faulting byte's va.
 * A store into a frame with decoded code drops that frame's decoded page (self-modifying
 * code) and such frames never get a store micro-TLB entry; nor does the frame holding this
 * hart's LR reservation, so that a store to the reserved address is seen here and clears it.
 */
import type { Hart } from './hart.ts';
import { ACCESS_LOAD, ACCESS_STORE, accessFaultCause, pageFaultCause, type AccessKind } from './trap.ts';
import { TRANSLATE_PAGE_FAULT } from './tlb.ts';
import { PAGE_SHIFT } from './ram.ts';

export const MICRO_TLB_ENTRIES = 256;
const TWO32 = 4294967296;

/** The sign-extended va (a double; exact below 2^53) of the pair (lo, hi). */
export function vaOf(lo: number, hi: number): number {
  return hi * TWO32 + (lo >>> 0);
}

/** Record a translation failure `status` (< 0) of `kind` at `va` as the hart's pending trap. */
export function setTranslateFault(h: Hart, status: number, kind: AccessKind, va: number): false {
  h.cause = status === TRANSLATE_PAGE_FAULT ? pageFaultCause(kind) : accessFaultCause(kind);
  h.tval = va;
  return false;
}

/**
 * Load `size` (1, 2, 4, 8) bytes at (lo, hi) the slow way. On success the raw bits,
 * zero-extended, are in h.ldLo / h.ldHi and true is returned; on a fault h.cause/h.tval
 * are set and false is returned.
 */
export function loadSlow(h: Hart, lo: number, hi: number, size: number): boolean {
  const ram = h.ram;
  if ((lo & (size - 1)) === 0) {
    const pa = h.tlb.translate(lo, hi, ACCESS_LOAD);
    if (pa < 0) return setTranslateFault(h, pa, ACCESS_LOAD, vaOf(lo, hi));
    // Refill after translate: translate may have invalidated the micro-TLBs. Not while the
    // TLB is observed (sanitizer): then every access must reach tlb.translate.
    if (h.tlb.observer === null) {
      const e = (lo >>> PAGE_SHIFT) & (MICRO_TLB_ENTRIES - 1);
      const tag = lo & ~0xfff;
      h.lTagLo[e] = tag;
      h.lTagHi[e] = hi;
      h.lAdd[e] = (h.tlb.lastPageBase - tag) | 0;
    }
    switch (size) {
      case 1: h.ldLo = ram.u8[pa]; h.ldHi = 0; break;
      case 2: h.ldLo = ram.u16[pa >>> 1]; h.ldHi = 0; break;
      case 4: h.ldLo = ram.i32[pa >>> 2]; h.ldHi = 0; break;
      default: h.wideF[0] = ram.f64[pa >>> 3]; h.ldLo = h.wideI[0]; h.ldHi = h.wideI[1]; break; // one 8-byte move: no tearing
    }
    return true;
  }
  let vLo = 0;
  let vHi = 0;
  let pagePa = -1; // pa of the current byte's page, -1 = not translated yet
  for (let i = 0; i < size; i++) {
    const bLo = (lo + i) | 0;
    const bHi = (hi + ((bLo >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
    if (pagePa < 0 || (bLo & 0xfff) === 0) {
      const pa = h.tlb.translate(bLo, bHi, ACCESS_LOAD);
      if (pa < 0) return setTranslateFault(h, pa, ACCESS_LOAD, vaOf(bLo, bHi));
      pagePa = pa - (bLo & 0xfff);
    }
    const byte = ram.u8[pagePa + (bLo & 0xfff)];
    if (i < 4) vLo |= byte << (8 * i);
    else vHi |= byte << (8 * (i - 4));
  }
  h.ldLo = vLo;
  h.ldHi = vHi;
  return true;
}

/** A store of this hart touched physical bytes [pa, pa+size): keep code cache and reservation honest. */
function noteStore(h: Hart, pa: number, size: number): void {
  const ppn = Math.floor(pa / 4096);
  if (h.pages.has(ppn)) h.dropPage(ppn);
  if (h.resValid && pa < h.resPa + h.resSize && h.resPa < pa + size) h.resValid = false;
}

/**
 * Store the low `size` bytes of (vLo, vHi) at (lo, hi) the slow way. Returns true when
 * done; false with h.cause/h.tval set on a fault (nothing is written then, even for a
 * misaligned store that crosses into a faulting page).
 */
export function storeSlow(h: Hart, lo: number, hi: number, size: number, vLo: number, vHi: number): boolean {
  const ram = h.ram;
  if ((lo & (size - 1)) === 0) {
    const pa = h.tlb.translate(lo, hi, ACCESS_STORE);
    if (pa < 0) return setTranslateFault(h, pa, ACCESS_STORE, vaOf(lo, hi));
    noteStore(h, pa, size);
    const ppn = Math.floor(pa / 4096);
    if (h.tlb.lastWritable && h.tlb.observer === null && !h.pages.has(ppn) && !(h.resValid && Math.floor(h.resPa / 4096) === ppn)) {
      const e = (lo >>> PAGE_SHIFT) & (MICRO_TLB_ENTRIES - 1);
      const tag = lo & ~0xfff;
      h.sTagLo[e] = tag;
      h.sTagHi[e] = hi;
      h.sAdd[e] = (h.tlb.lastPageBase - tag) | 0;
      h.sPpn[e] = ppn;
    }
    switch (size) {
      case 1: ram.u8[pa] = vLo; break;
      case 2: ram.u16[pa >>> 1] = vLo; break;
      case 4: ram.i32[pa >>> 2] = vLo; break;
      default: h.wideI[0] = vLo; h.wideI[1] = vHi; ram.f64[pa >>> 3] = h.wideF[0]; break; // one 8-byte move: no tearing
    }
    return true;
  }
  // Misaligned: translate the first byte and, if the store crosses a page, the first byte
  // of the second page, before writing anything.
  const lastLo = (lo + size - 1) | 0;
  const lastHi = (hi + ((lastLo >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
  const pa0 = h.tlb.translate(lo, hi, ACCESS_STORE);
  if (pa0 < 0) return setTranslateFault(h, pa0, ACCESS_STORE, vaOf(lo, hi));
  let pa1 = pa0 + size - 1;
  const crosses = (lastLo & 0xfff) < (lo & 0xfff);
  if (crosses) {
    const secLo = lastLo & ~0xfff;
    const secHi = lastHi;
    const p = h.tlb.translate(secLo, secHi, ACCESS_STORE);
    if (p < 0) return setTranslateFault(h, p, ACCESS_STORE, vaOf(secLo, secHi));
    pa1 = p + (lastLo & 0xfff);
  }
  const firstPageBytes = crosses ? 4096 - (lo & 0xfff) : size;
  for (let i = 0; i < size; i++) {
    const byte = i < 4 ? (vLo >>> (8 * i)) & 0xff : (vHi >>> (8 * (i - 4))) & 0xff;
    const pa = i < firstPageBytes ? pa0 + i : pa1 - (size - 1 - i);
    ram.u8[pa] = byte;
  }
  noteStore(h, pa0, firstPageBytes);
  if (crosses) noteStore(h, pa1 - (size - 1 - firstPageBytes), size - firstPageBytes);
  return true;
}
