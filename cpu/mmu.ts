/**
 * The MMU's page-table walker: Sv48, U-mode accesses, page tables in the shared RAM.
 * It follows the privileged spec's "Virtual Address Translation Process" step by step;
 * the steps are quoted above the code that does them. The TLB (cpu/tlb.ts) calls it on a
 * miss; nothing here is cached.
 *
 * Fixed choices (the spec leaves them to the implementation):
 *  - Privilege is always U (the hart runs guests in U-mode), SUM and MXR are 0: a leaf
 *    needs U=1, a fetch needs X, a load needs R, a store needs W.
 *  - A and D are updated by hardware (Svadu) with a 64-bit compare-and-swap; D only on stores.
 *  - Reserved: W without R; D, A or U on a pointer; any of bits 63:54 (no Svnapot/Svpbmt).
 *  - PMA check = "inside RAM": a PTE address or a final physical address at or beyond
 *    `ram.bytes` is an access fault. The final address is checked before A/D are set, so
 *    an access that faults leaves the PTE untouched.
 *
 * Reading PTEs: the kernel writes a PTE as ONE 64-bit Atomics operation on `ram.i64`.
 * The walk reads it as ONE aligned 8-byte move (an element of `ram.f64`, split into its
 * 32-bit halves through an 8-byte scratch), the same single-copy-atomic move an aligned
 * guest `ld` is (cpu/hart.ts `wideF`): it is one machine load on x86-64 and arm64, so the
 * pair is always a value the PTE really held. (Until issue 17 the walk read two 32-bit
 * `Atomics.load`s and re-read the high word; V8 does not inline `Atomics.load`, ~10 ns each,
 * and the twelve of a four-level walk were most of a TLB miss.) A plain read needs no
 * ordering of its own: what makes a kernel's PTE write visible to a later walk is the
 * synchronisation the kernel already does before relying on it (the shootdown's interrupt
 * and acknowledgement words, the fault handler's return), all `Atomics` operations.
 * A bit pattern that is a NaN as a double has bits 62:52 set, reserved bits that make the
 * walk fault whatever the rest is, so NaN canonicalisation could not change a walk's result.
 * The A/D update is a full 64-bit `Atomics.compareExchange` against the pair we read, so it
 * never acts on a torn or outdated value.
 *
 * Entry points: `walkSv48` walks from the root; `walkFromTable` resumes at a lower level
 * from a table the caller found earlier (the TLB's page-walk cache, cpu/walk-cache.ts, keeps
 * the level-0 table of recent 2 MiB regions). Both report in `out.tablePa` and
 * `out.pointerGlobal` the table the leaf was found in and the G bit of the pointers above it.
 */
import type { PhysicalMemory } from './ram.ts';
import { ACCESS_STORE, type AccessKind } from './trap.ts';
import * as pte from './pte.ts';
import { joinPte } from './pte.ts';

// Local copies: under tsx's CommonJS interop and vitest's transform every access to an
// imported binding is a getter call, which the walk (run on every TLB miss) should not pay.
const PTE_V = pte.PTE_V, PTE_R = pte.PTE_R, PTE_W = pte.PTE_W, PTE_X = pte.PTE_X;
const PTE_U = pte.PTE_U, PTE_G = pte.PTE_G, PTE_A = pte.PTE_A, PTE_D = pte.PTE_D;
const PTE_RESERVED_HI_SHIFT = pte.PTE_RESERVED_HI_SHIFT, PTE_SIZE = pte.PTE_SIZE, SV48_LEVELS = pte.SV48_LEVELS;
const STORE = ACCESS_STORE;
const PPN_HI_MASK = pte.PTE_PPN_HI_MASK;

/** Walk status codes (negative; a successful walk returns the physical address, >= 0). */
export const WALK_PAGE_FAULT = -1;
export const WALK_ACCESS_FAULT = -2;
/** leafQuick only: the leaf is not the common case; run walkFromTable (it decides). */
export const WALK_SLOW = -3;

const PAGE = 4096;
/** 4 KiB pages a leaf at level i maps: 1, 512, 512², 512³. */
const PAGES_PER_LEAF = [1, 512, 512 * 512, 512 * 512 * 512];

/** What a successful walk found, beyond the physical address it returns. Reused, never allocated per walk. */
export class WalkResult {
  /** Physical address of the 4 KiB page holding va. */
  pageBase = 0;
  /** Level of the leaf: 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB, 3 = 512 GiB. */
  level = 0;
  /** Physical address of the first byte the leaf maps (superpage base for level > 0). */
  leafBase = 0;
  /** Low 10 bits of the leaf PTE after the A/D update (V R W X U G A D RSW). */
  flags = 0;
  /** The G bit of the leaf or of any pointer above it. */
  global = false;
  /** Physical address of the leaf PTE. */
  ptePa = 0;
  /** Physical address of the table holding the leaf PTE (a level-0 table for a 4 KiB leaf). */
  tablePa = 0;
  /** The G bit of any pointer above that table (not of the leaf). */
  pointerGlobal = false;
  /** A/D bits this walk set (0 when the PTE already had them). */
  adSet = 0;
  /** Times a compare-and-swap failed and step 2 was repeated. */
  restarts = 0;
}

/**
 * Translate the U-mode access `kind` at va (`vaLo`, `vaHi`: its 32-bit words) through the
 * Sv48 tables rooted at frame `rootPpn`. Returns the physical address (>= 0), or
 * WALK_PAGE_FAULT / WALK_ACCESS_FAULT. On success `out` describes the leaf; on a fault
 * `out` is unspecified. May write the leaf PTE (A/D) with an atomic compare-and-swap.
 */
export function walkSv48(
  ram: PhysicalMemory, rootPpn: number, vaLo: number, vaHi: number, kind: AccessKind, out: WalkResult,
): number {
  // 1. Let a be satp.ppn × PAGESIZE, and let i = LEVELS − 1.
  return walkFromTable(ram, rootPpn * PAGE, SV48_LEVELS - 1, false, vaLo, vaHi, kind, out);
}

/** 8-byte scratch: a PTE read as one float64 move, seen as its two int32 halves (little-endian host). */
const pteF = new Float64Array(1);
const pteI = new Int32Array(pteF.buffer);

/** leafQuick's result beside the page base: [0] = the leaf PTE's low word (its flags). */
export const QUICK_LEAF = new Int32Array(1);

/**
 * The common last step of a walk resumed at a level-0 table (the page-walk cache's), in one
 * read and one compare: if the 4 KiB leaf for va in the table at `tablePa` is valid, a leaf
 * that allows `kind` in U-mode (U and the R/W/X bit of `kind`; W without R is reserved and
 * excluded), has no reserved bit set, already has A (and D for a store) — so no update is
 * due — and maps a page inside RAM, returns that page's physical base and leaves the PTE's
 * low word in QUICK_LEAF[0]. Otherwise returns WALK_SLOW and has done nothing: the caller
 * runs walkFromTable at level 0, which faults, sets A/D or succeeds exactly as the full
 * walk does. When it succeeds, it is what walkFromTable(ram, tablePa, 0, ...) would return
 * and report: the same checks (steps 3–8 at i = 0) on the same single-copy-atomic PTE read,
 * with step 7 having nothing to do. The caller checks that va is canonical.
 */
export function leafQuick(f64: Float64Array, ramBytes: number, tablePa: number, vaLo: number, kind: AccessKind): number {
  // SAFETY: one aligned 8-byte move, as in walkFromTable.
  pteF[0] = f64[tablePa / 8 + ((vaLo >>> 12) & 511)];
  const lo = pteI[0]!;
  const hi = pteI[1]!;
  const need = PTE_V | PTE_U | PTE_A | (1 << kind) | (kind === STORE ? PTE_D : 0);
  if ((lo & need) !== need || (lo & (PTE_R | PTE_W)) === PTE_W || hi >>> PTE_RESERVED_HI_SHIFT !== 0) return WALK_SLOW;
  const pageBase = ((hi & PPN_HI_MASK) * 4194304 + (lo >>> 10)) * PAGE;
  if (pageBase + PAGE > ramBytes) return WALK_SLOW;
  QUICK_LEAF[0] = lo;
  return pageBase;
}

/**
 * The walk from step 2 on: `tablePa` is the physical address of a level-`level` table that
 * a walk for va reached (the root at level 3, or a table the page-walk cache remembered),
 * `pointerGlobal` whether a pointer above it had G set. Same results and effects as
 * walkSv48 from the root would have, given the pointers above still hold what they held.
 */
export function walkFromTable(
  ram: PhysicalMemory, tablePa: number, level: number, pointerGlobal: boolean, vaLo: number, vaHi: number,
  kind: AccessKind, out: WalkResult,
): number {
  // Sv48: "Instruction fetch addresses and load and store effective addresses, which are
  // 64 bits, must have bits 63–48 all equal to bit 47, or else a page-fault exception will occur."
  const top = vaHi >> 15;
  if (top !== 0 && top !== -1) return WALK_PAGE_FAULT;
  const f64 = ram.f64;
  const ramBytes = ram.bytes;
  out.adSet = 0;
  out.restarts = 0;

  let a = tablePa;
  let i = level;
  let global = pointerGlobal ? PTE_G : 0;
  for (;;) {
    // 2. Let pte be the value of the PTE at address a + va.vpn[i] × PTESIZE. If accessing pte
    //    violates a PMA or PMP check, raise an access-fault exception corresponding to the
    //    original access type.
    const vpnI = i === 0 ? (vaLo >>> 12) & 511 : i === 1 ? (vaLo >>> 21) & 511
      : i === 2 ? ((vaLo >>> 30) | (vaHi << 2)) & 511 : (vaHi >>> 7) & 511; // va.vpn[i]
    const ptePa = a + vpnI * PTE_SIZE;
    if (ptePa + PTE_SIZE > ramBytes) return WALK_ACCESS_FAULT;
    // SAFETY: one aligned 8-byte move (see the header): never half of two different values.
    pteF[0] = f64[ptePa / 8]; // ptePa is 8-aligned: exact
    let lo = pteI[0]!;
    const hi = pteI[1]!;

    // 3. If pte.v = 0, or if pte.r = 0 and pte.w = 1, or if any bits or encodings that are
    //    reserved for future standard use are set within pte, stop and raise a page-fault
    //    exception corresponding to the original access type.
    if ((lo & PTE_V) === 0 || (lo & (PTE_R | PTE_W)) === PTE_W || hi >>> PTE_RESERVED_HI_SHIFT !== 0) {
      return WALK_PAGE_FAULT;
    }

    // 4. Otherwise, the PTE is valid. If pte.r = 1 or pte.x = 1, go to step 5. Otherwise, this
    //    PTE is a pointer to the next level of the page table. Let i = i − 1. If i < 0, stop
    //    and raise a page-fault exception corresponding to the original access type.
    //    Otherwise, let a = pte.ppn × PAGESIZE and go to step 2.
    if ((lo & (PTE_R | PTE_X)) === 0) {
      // "For non-leaf PTEs, the D, A, and U bits are reserved for future standard use."
      if ((lo & (PTE_D | PTE_A | PTE_U)) !== 0) return WALK_PAGE_FAULT;
      // "For non-leaf PTEs, the global setting implies that all mappings in the subsequent
      //  levels of the page table are global."
      global |= lo & PTE_G;
      i--;
      if (i < 0) return WALK_PAGE_FAULT;
      a = ((hi & PPN_HI_MASK) * 4194304 + (lo >>> 10)) * PAGE; // pte.ppn × PAGESIZE
      continue;
    }

    // 5. A leaf PTE has been found. Determine if the requested memory access is allowed by
    //    the pte.r, pte.w, pte.x, and pte.u bits, given the current privilege mode and the
    //    value of the SUM and MXR fields of the mstatus register. If not, stop and raise a
    //    page-fault exception corresponding to the original access type.
    //    (U-mode, MXR=0: U must be set and the bit for the access kind — 1 << kind is R, W or X.)
    if ((lo & PTE_U) === 0 || ((lo >> kind) & 1) === 0) return WALK_PAGE_FAULT;

    // 6. If i > 0 and pte.ppn[i − 1 : 0] ≠ 0, this is a misaligned superpage; stop and raise
    //    a page-fault exception corresponding to the original access type.
    const ppn = (hi & PPN_HI_MASK) * 4194304 + (lo >>> 10);
    if (i !== 0 && ppn % PAGES_PER_LEAF[i]! !== 0) return WALK_PAGE_FAULT;

    // (PMA check of the access itself, done here so a faulting access sets no A/D bit.)
    // 8. pa.pgoff = va.pgoff. If i > 0, then this is a superpage translation and
    //    pa.ppn[i − 1 : 0] = va.vpn[i − 1 : 0]. pa.ppn[LEVELS − 1 : i] = pte.ppn[LEVELS − 1 : i].
    const vpnLow = i === 0 ? 0 : i === 1 ? (vaLo >>> 12) & 511 : i === 2 ? (vaLo >>> 12) & 0x3ffff
      : ((vaLo >>> 12) | ((vaHi & 0x7f) << 20)) >>> 0;
    const pageBase = (ppn + vpnLow) * PAGE;
    if (pageBase + PAGE > ramBytes) return WALK_ACCESS_FAULT;

    // 7. If pte.a = 0, or if the original memory access is a store and pte.d = 0, either
    //    raise a page-fault exception corresponding to the original access type, or:
    //    - If a store to pte would violate a PMA or PMP check, raise an access-fault exception
    //      corresponding to the original access type.  (ptePa is inside RAM: checked in step 2.)
    //    - Perform the following steps atomically:
    //      - Compare pte to the value of the PTE at address a + va.vpn[i] × PTESIZE.
    //      - If the values match, set pte.a to 1 and, if the original memory access is a
    //        store, also set pte.d to 1.
    //      - If the comparison fails, return to step 2.
    const need = kind === STORE ? PTE_A | PTE_D : PTE_A;
    if ((lo & need) !== need) {
      const expected = joinPte(lo, hi);
      const desired = joinPte(lo | need, hi);
      // SAFETY: a 64-bit CAS against the exact pair we read; another hart's concurrent
      // store to this PTE (kernel edit, another walk's A/D update) makes it fail.
      if (Atomics.compareExchange(ram.i64, ptePa / 8, expected, desired) !== expected) {
        out.restarts++;
        continue; // back to step 2 at the same level
      }
      out.adSet = need & ~lo;
      lo |= need;
    }

    out.pageBase = pageBase;
    out.level = i;
    out.leafBase = ppn * PAGE;
    out.flags = lo & 0x3ff;
    out.global = (global | (lo & PTE_G)) !== 0;
    out.ptePa = ptePa;
    out.tablePa = a;
    out.pointerGlobal = global !== 0;
    return pageBase + (vaLo & 0xfff);
  }
}
