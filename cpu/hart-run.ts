/**
 * The run loop of a hart — the hot path. See cpu/hart.ts for the model.
 *
 * Why it looks like this: registers live in an Int32Array pair file (`x`), the current code
 * page and pc offset in locals (`page`, `base`, `off`), RAM views and micro-TLB arrays in
 * locals; the switch uses literal case numbers (V8 compiles a dense literal switch into a
 * jump table; imported constants would become a compare chain). Each case is commented with
 * its OP_* name from cpu/decode.ts, and test/cpu/decode.test.ts checks the numbers agree.
 * Nothing here allocates or throws: rare work (slow memory paths, AMOs, CSRs, FP,
 * multiply/divide) is a call that returns a status. After any call that may have dropped
 * the current code page (a Tlb invalidation, a store into code, fence.i) the loop compares
 * h.cpPage with its local copy and falls back to a refill.
 */
import type { Hart } from './hart.ts';
import { REFILL_PAGE } from './decode.ts';
import { loadSlow, storeSlow } from './hart-mem.ts';
import { execAmo } from './hart-amo.ts';
import { execCsr } from './hart-csr.ts';
import { div32, div64, mul64, mulh64, mulhsu64, mulhu64 } from './mul.ts';
import { EXIT_BUDGET, EXIT_INTERRUPT, EXIT_TRAP, type ExitReason } from './trap.ts';

const TWO32 = 4294967296;

/**
 * Run `h` for at most `budget` instructions (see Hart.run for the exits). Updates h.pc,
 * h.instret, h.hitLoad/hitStore; on EXIT_TRAP h.cause/h.tval are set and pc is at the
 * faulting instruction. `keepPage` (the translating loop, cpu/hart-jit.ts): start in the
 * current code page h.cpPage when pc lies in it instead of refilling (translating) the fetch.
 */
export function runLoop(h: Hart, budget: number, keepPage = false): ExitReason {
  const x = h.xbuf;
  const ram = h.ram;
  const u8 = ram.u8;
  const i8 = ram.i8;
  const u16 = ram.u16;
  const i16 = ram.i16;
  const i32 = ram.i32;
  const f64 = ram.f64;
  const wideF = h.wideF; // 8-byte scratch: aligned 64-bit accesses are ONE f64 move (see Hart.wideF)
  const wideI = h.wideI;
  const fi32 = h.fpu.fi32;
  const lTagLo = h.lTagLo;
  const lTagHi = h.lTagHi;
  const lAdd = h.lAdd;
  const sTagLo = h.sTagLo;
  const sTagHi = h.sTagHi;
  const sAdd = h.sAdd;
  const batch = h.batch;
  const irq = h.irq;
  const bcw = h.bcastPending;
  let page = REFILL_PAGE;
  let ops = page.ops;
  let args = page.args;
  let imms = page.imms;
  let base = h.pc;
  let off = 0;
  let left = budget;
  let exit: ExitReason = EXIT_BUDGET;
  let hitL = 0;
  let hitS = 0;
  let trapped = false;
  if (keepPage) {
    const d = base - h.cpBase;
    if (h.cpPage !== REFILL_PAGE && d >= 0 && d < 4096) {
      page = h.cpPage; ops = page.ops; args = page.args; imms = page.imms;
      base = h.cpBase; off = d;
    }
  }
  for (;;) {
    // Between batches: interrupts, budget, icache epoch.
    if (irq !== null && Atomics.load(irq.word, irq.index) !== 0) { exit = EXIT_INTERRUPT; break; }
    // Broadcast invalidations (cpu/tlb-broadcast.ts): applied here by the hardware, the batch goes on.
    if (bcw !== null && Atomics.load(bcw.word, bcw.index) !== 0) h.bcast!.apply();
    if (left <= 0) break;
    h.checkEpoch();
    if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
    const n0 = left < batch ? left : batch;
    let n = n0;
    inner: while (n > 0) {
      if ((off >>> 0) >= 4096) {
        // Left the current code page: refill from the fetch micro-TLB / Tlb.
        const pc = base + off;
        if (!h.refillFetch(pc)) { trapped = true; break inner; }
        page = h.cpPage; ops = page.ops; args = page.args; imms = page.imms;
        base = h.cpBase;
        off = (pc - base) | 0;
      }
      let slot = off >>> 1;
      let op = ops[slot];
      let a = args[slot];
      let imm = imms[slot];
      if (op <= 1) {
        if (page === REFILL_PAGE) {
          // No current code page (REFILL_PAGE reads all OP_UNDECODED): refill.
          const pc = base + off;
          if (!h.refillFetch(pc)) { trapped = true; break inner; }
          page = h.cpPage; ops = page.ops; args = page.args; imms = page.imms;
          base = h.cpBase;
          off = (pc - base) | 0;
          slot = off >>> 1;
          op = ops[slot];
        }
        if (op === 0) { // OP_UNDECODED: decode lazily
          h.decode(page, slot);
          op = ops[slot];
        }
        a = args[slot]; imm = imms[slot];
        if (op === 1) { // OP_CROSS: a 32-bit instruction straddling the page end, uncached
          if (!h.fetchCross(base + off)) { trapped = true; break inner; }
          op = h.xOps[0]; a = h.xArgs[0]; imm = h.xImms[0];
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
      }
      n--;
      const rd = a & 0xff;
      const r1 = (a >>> 8) & 0xff;
      const r2 = (a >>> 16) & 0xff;
      switch (op) {
      case 2: // OP_ILLEGAL
        h.illegal(imm); n++; trapped = true; break inner;
      case 3: // OP_LUI
        x[rd] = imm; x[rd + 1] = imm >> 31; off += a >>> 24; break;
      case 4: { // OP_AUIPC
        const v = base + off + imm;
        x[rd] = v | 0; x[rd + 1] = Math.floor(v / TWO32) | 0; off += a >>> 24; break;
      }
      case 5: { // OP_JAL
        const link = base + off + (a >>> 24);
        x[rd] = link | 0; x[rd + 1] = Math.floor(link / TWO32) | 0; off += imm; break;
      }
      case 6: { // OP_JALR
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const link = base + off + (a >>> 24);
        x[rd] = link | 0; x[rd + 1] = Math.floor(link / TWO32) | 0;
        const t = hi * TWO32 + ((lo & ~1) >>> 0);
        const d = t - base;
        if (d >= 0 && d < 4096) off = d | 0;
        else { base = t; off = 0; page = REFILL_PAGE; ops = page.ops; }
        break;
      }
      case 7: // OP_BEQ
        off += (x[r1] === x[r2] && x[r1 + 1] === x[r2 + 1]) ? imm : a >>> 24; break;
      case 8: // OP_BNE
        off += (x[r1] !== x[r2] || x[r1 + 1] !== x[r2 + 1]) ? imm : a >>> 24; break;
      case 9: { // OP_BLT
        const h1 = x[r1 + 1]; const h2 = x[r2 + 1];
        off += (h1 < h2 || (h1 === h2 && (x[r1] >>> 0) < (x[r2] >>> 0))) ? imm : a >>> 24; break;
      }
      case 10: { // OP_BGE
        const h1 = x[r1 + 1]; const h2 = x[r2 + 1];
        off += (h1 < h2 || (h1 === h2 && (x[r1] >>> 0) < (x[r2] >>> 0))) ? a >>> 24 : imm; break;
      }
      case 11: { // OP_BLTU
        const h1 = x[r1 + 1] >>> 0; const h2 = x[r2 + 1] >>> 0;
        off += (h1 < h2 || (h1 === h2 && (x[r1] >>> 0) < (x[r2] >>> 0))) ? imm : a >>> 24; break;
      }
      case 12: { // OP_BGEU
        const h1 = x[r1 + 1] >>> 0; const h2 = x[r2 + 1] >>> 0;
        off += (h1 < h2 || (h1 === h2 && (x[r1] >>> 0) < (x[r2] >>> 0))) ? a >>> 24 : imm; break;
      }
      case 13: { // OP_LB
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        let v: number;
        if ((lo & -4096) === lTagLo[e] && hi === lTagHi[e]) { v = i8[(lAdd[e] + lo) >>> 0]; hitL++; } else {
          if (!loadSlow(h, lo, hi, 1)) { n++; trapped = true; break inner; }
          v = (h.ldLo << 24) >> 24;
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        x[rd] = v; x[rd + 1] = v >> 31;
        off += a >>> 24;
        break;
      }
      case 14: { // OP_LH
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        let v: number;
        if ((lo & -4095) === lTagLo[e] && hi === lTagHi[e]) { v = i16[(lAdd[e] + lo) >>> 1]; hitL++; } else {
          if (!loadSlow(h, lo, hi, 2)) { n++; trapped = true; break inner; }
          v = (h.ldLo << 16) >> 16;
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        x[rd] = v; x[rd + 1] = v >> 31;
        off += a >>> 24;
        break;
      }
      case 15: { // OP_LW
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        let v: number;
        if ((lo & -4093) === lTagLo[e] && hi === lTagHi[e]) { v = i32[(lAdd[e] + lo) >>> 2]; hitL++; } else {
          if (!loadSlow(h, lo, hi, 4)) { n++; trapped = true; break inner; }
          v = h.ldLo;
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        x[rd] = v; x[rd + 1] = v >> 31;
        off += a >>> 24;
        break;
      }
      case 16: { // OP_LD
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        let v: number;
        if ((lo & -4089) === lTagLo[e] && hi === lTagHi[e]) { wideF[0] = f64[(lAdd[e] + lo) >>> 3]; v = wideI[0]; x[rd + 1] = wideI[1]; hitL++; } else {
          if (!loadSlow(h, lo, hi, 8)) { n++; trapped = true; break inner; }
          v = h.ldLo; x[rd + 1] = h.ldHi;
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        x[rd] = v;
        off += a >>> 24;
        break;
      }
      case 17: { // OP_LBU
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        let v: number;
        if ((lo & -4096) === lTagLo[e] && hi === lTagHi[e]) { v = u8[(lAdd[e] + lo) >>> 0]; hitL++; } else {
          if (!loadSlow(h, lo, hi, 1)) { n++; trapped = true; break inner; }
          v = h.ldLo;
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        x[rd] = v; x[rd + 1] = 0;
        off += a >>> 24;
        break;
      }
      case 18: { // OP_LHU
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        let v: number;
        if ((lo & -4095) === lTagLo[e] && hi === lTagHi[e]) { v = u16[(lAdd[e] + lo) >>> 1]; hitL++; } else {
          if (!loadSlow(h, lo, hi, 2)) { n++; trapped = true; break inner; }
          v = h.ldLo;
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        x[rd] = v; x[rd + 1] = 0;
        off += a >>> 24;
        break;
      }
      case 19: { // OP_LWU
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        let v: number;
        if ((lo & -4093) === lTagLo[e] && hi === lTagHi[e]) { v = i32[(lAdd[e] + lo) >>> 2]; hitL++; } else {
          if (!loadSlow(h, lo, hi, 4)) { n++; trapped = true; break inner; }
          v = h.ldLo;
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        x[rd] = v; x[rd + 1] = 0;
        off += a >>> 24;
        break;
      }
      case 20: { // OP_SB
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        const v = x[r2];
        if ((lo & -4096) === sTagLo[e] && hi === sTagHi[e]) { u8[(sAdd[e] + lo) >>> 0] = v; hitS++; } else {
          if (!storeSlow(h, lo, hi, 1, v, 0)) { n++; trapped = true; break inner; }
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        off += a >>> 24;
        break;
      }
      case 21: { // OP_SH
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        const v = x[r2];
        if ((lo & -4095) === sTagLo[e] && hi === sTagHi[e]) { u16[(sAdd[e] + lo) >>> 1] = v; hitS++; } else {
          if (!storeSlow(h, lo, hi, 2, v, 0)) { n++; trapped = true; break inner; }
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        off += a >>> 24;
        break;
      }
      case 22: { // OP_SW
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        const v = x[r2];
        if ((lo & -4093) === sTagLo[e] && hi === sTagHi[e]) { i32[(sAdd[e] + lo) >>> 2] = v; hitS++; } else {
          if (!storeSlow(h, lo, hi, 4, v, 0)) { n++; trapped = true; break inner; }
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        off += a >>> 24;
        break;
      }
      case 23: { // OP_SD
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        const v = x[r2]; const vh = x[r2 + 1];
        if ((lo & -4089) === sTagLo[e] && hi === sTagHi[e]) { wideI[0] = v; wideI[1] = vh; f64[(sAdd[e] + lo) >>> 3] = wideF[0]; hitS++; } else {
          if (!storeSlow(h, lo, hi, 8, v, vh)) { n++; trapped = true; break inner; }
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        off += a >>> 24;
        break;
      }
      case 72: { // OP_FLW
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        let v: number;
        if ((lo & -4093) === lTagLo[e] && hi === lTagHi[e]) { v = i32[(lAdd[e] + lo) >>> 2]; hitL++; } else {
          if (!loadSlow(h, lo, hi, 4)) { n++; trapped = true; break inner; }
          v = h.ldLo;
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        fi32[rd] = v; fi32[rd + 1] = -1; // NaN-boxed
        off += a >>> 24;
        break;
      }
      case 73: { // OP_FLD
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        let v: number;
        if ((lo & -4089) === lTagLo[e] && hi === lTagHi[e]) { wideF[0] = f64[(lAdd[e] + lo) >>> 3]; v = wideI[0]; fi32[rd + 1] = wideI[1]; hitL++; } else {
          if (!loadSlow(h, lo, hi, 8)) { n++; trapped = true; break inner; }
          v = h.ldLo; fi32[rd + 1] = h.ldHi;
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        fi32[rd] = v;
        off += a >>> 24;
        break;
      }
      case 74: { // OP_FSW
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        const v = fi32[r2];
        if ((lo & -4093) === sTagLo[e] && hi === sTagHi[e]) { i32[(sAdd[e] + lo) >>> 2] = v; hitS++; } else {
          if (!storeSlow(h, lo, hi, 4, v, 0)) { n++; trapped = true; break inner; }
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        off += a >>> 24;
        break;
      }
      case 75: { // OP_FSD
        const l = x[r1]; const lo = (l + imm) | 0;
        const hi = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        const e = (lo >>> 12) & 255;
        const v = fi32[r2]; const vh = fi32[r2 + 1];
        if ((lo & -4089) === sTagLo[e] && hi === sTagHi[e]) { wideI[0] = v; wideI[1] = vh; f64[(sAdd[e] + lo) >>> 3] = wideF[0]; hitS++; } else {
          if (!storeSlow(h, lo, hi, 8, v, vh)) { n++; trapped = true; break inner; }
          if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        }
        off += a >>> 24;
        break;
      }
      case 24: { // OP_ADDI
        const l = x[r1]; const lo = (l + imm) | 0;
        x[rd + 1] = (x[r1 + 1] + (imm >> 31) + ((lo >>> 0) < (l >>> 0) ? 1 : 0)) | 0;
        x[rd] = lo; off += a >>> 24; break;
      }
      case 25: { // OP_SLTI
        const h1 = x[r1 + 1]; const h2 = imm >> 31;
        x[rd] = (h1 < h2 || (h1 === h2 && (x[r1] >>> 0) < (imm >>> 0))) ? 1 : 0; x[rd + 1] = 0;
        off += a >>> 24; break;
      }
      case 26: { // OP_SLTIU
        const h1 = x[r1 + 1] >>> 0; const h2 = (imm >> 31) >>> 0;
        x[rd] = (h1 < h2 || (h1 === h2 && (x[r1] >>> 0) < (imm >>> 0))) ? 1 : 0; x[rd + 1] = 0;
        off += a >>> 24; break;
      }
      case 27: // OP_XORI
        x[rd + 1] = x[r1 + 1] ^ (imm >> 31); x[rd] = x[r1] ^ imm; off += a >>> 24; break;
      case 28: // OP_ORI
        x[rd + 1] = x[r1 + 1] | (imm >> 31); x[rd] = x[r1] | imm; off += a >>> 24; break;
      case 29: // OP_ANDI
        x[rd + 1] = x[r1 + 1] & (imm >> 31); x[rd] = x[r1] & imm; off += a >>> 24; break;
      case 30: // OP_SLLI
      case 35: { // OP_SLL
        const sh = op === 30 ? imm : x[r2] & 63;
        const l = x[r1]; const hh = x[r1 + 1];
        if (sh === 0) { x[rd] = l; x[rd + 1] = hh; }
        else if (sh < 32) { x[rd + 1] = (hh << sh) | (l >>> (32 - sh)); x[rd] = l << sh; }
        else { x[rd + 1] = l << (sh - 32); x[rd] = 0; }
        off += a >>> 24; break;
      }
      case 31: // OP_SRLI
      case 39: { // OP_SRL
        const sh = op === 31 ? imm : x[r2] & 63;
        const l = x[r1]; const hh = x[r1 + 1];
        if (sh === 0) { x[rd] = l; x[rd + 1] = hh; }
        else if (sh < 32) { x[rd] = (l >>> sh) | (hh << (32 - sh)); x[rd + 1] = hh >>> sh; }
        else { x[rd] = hh >>> (sh - 32); x[rd + 1] = 0; }
        off += a >>> 24; break;
      }
      case 32: // OP_SRAI
      case 40: { // OP_SRA
        const sh = op === 32 ? imm : x[r2] & 63;
        const l = x[r1]; const hh = x[r1 + 1];
        if (sh === 0) { x[rd] = l; x[rd + 1] = hh; }
        else if (sh < 32) { x[rd] = (l >>> sh) | (hh << (32 - sh)); x[rd + 1] = hh >> sh; }
        else { x[rd] = hh >> (sh - 32); x[rd + 1] = hh >> 31; }
        off += a >>> 24; break;
      }
      case 33: { // OP_ADD
        const l1 = x[r1]; const lo = (l1 + x[r2]) | 0;
        x[rd + 1] = (x[r1 + 1] + x[r2 + 1] + ((lo >>> 0) < (l1 >>> 0) ? 1 : 0)) | 0;
        x[rd] = lo; off += a >>> 24; break;
      }
      case 34: { // OP_SUB
        const l1 = x[r1]; const l2 = x[r2];
        x[rd + 1] = (x[r1 + 1] - x[r2 + 1] - ((l1 >>> 0) < (l2 >>> 0) ? 1 : 0)) | 0;
        x[rd] = (l1 - l2) | 0; off += a >>> 24; break;
      }
      case 36: { // OP_SLT
        const h1 = x[r1 + 1]; const h2 = x[r2 + 1];
        x[rd] = (h1 < h2 || (h1 === h2 && (x[r1] >>> 0) < (x[r2] >>> 0))) ? 1 : 0; x[rd + 1] = 0;
        off += a >>> 24; break;
      }
      case 37: { // OP_SLTU
        const h1 = x[r1 + 1] >>> 0; const h2 = x[r2 + 1] >>> 0;
        x[rd] = (h1 < h2 || (h1 === h2 && (x[r1] >>> 0) < (x[r2] >>> 0))) ? 1 : 0; x[rd + 1] = 0;
        off += a >>> 24; break;
      }
      case 38: // OP_XOR
        x[rd + 1] = x[r1 + 1] ^ x[r2 + 1]; x[rd] = x[r1] ^ x[r2]; off += a >>> 24; break;
      case 41: // OP_OR
        x[rd + 1] = x[r1 + 1] | x[r2 + 1]; x[rd] = x[r1] | x[r2]; off += a >>> 24; break;
      case 42: // OP_AND
        x[rd + 1] = x[r1 + 1] & x[r2 + 1]; x[rd] = x[r1] & x[r2]; off += a >>> 24; break;
      case 43: { // OP_ADDIW
        const v = (x[r1] + imm) | 0; x[rd] = v; x[rd + 1] = v >> 31; off += a >>> 24; break;
      }
      case 44: { // OP_SLLIW
        const v = x[r1] << imm; x[rd] = v; x[rd + 1] = v >> 31; off += a >>> 24; break;
      }
      case 45: { // OP_SRLIW
        const v = (x[r1] >>> imm) | 0; x[rd] = v; x[rd + 1] = v >> 31; off += a >>> 24; break;
      }
      case 46: { // OP_SRAIW
        const v = x[r1] >> imm; x[rd] = v; x[rd + 1] = v >> 31; off += a >>> 24; break;
      }
      case 47: { // OP_ADDW
        const v = (x[r1] + x[r2]) | 0; x[rd] = v; x[rd + 1] = v >> 31; off += a >>> 24; break;
      }
      case 48: { // OP_SUBW
        const v = (x[r1] - x[r2]) | 0; x[rd] = v; x[rd + 1] = v >> 31; off += a >>> 24; break;
      }
      case 49: { // OP_SLLW
        const v = x[r1] << (x[r2] & 31); x[rd] = v; x[rd + 1] = v >> 31; off += a >>> 24; break;
      }
      case 50: { // OP_SRLW
        const v = (x[r1] >>> (x[r2] & 31)) | 0; x[rd] = v; x[rd + 1] = v >> 31; off += a >>> 24; break;
      }
      case 51: { // OP_SRAW
        const v = x[r1] >> (x[r2] & 31); x[rd] = v; x[rd + 1] = v >> 31; off += a >>> 24; break;
      }
      case 52: // OP_MUL
        mul64(x, rd, x[r1], x[r1 + 1], x[r2], x[r2 + 1]); off += a >>> 24; break;
      case 53: // OP_MULH
        mulh64(x, rd, x[r1], x[r1 + 1], x[r2], x[r2 + 1]); off += a >>> 24; break;
      case 54: // OP_MULHSU
        mulhsu64(x, rd, x[r1], x[r1 + 1], x[r2], x[r2 + 1]); off += a >>> 24; break;
      case 55: // OP_MULHU
        mulhu64(x, rd, x[r1], x[r1 + 1], x[r2], x[r2 + 1]); off += a >>> 24; break;
      case 56: // OP_DIV
        div64(x, rd, x[r1], x[r1 + 1], x[r2], x[r2 + 1], true, false); off += a >>> 24; break;
      case 57: // OP_DIVU
        div64(x, rd, x[r1], x[r1 + 1], x[r2], x[r2 + 1], false, false); off += a >>> 24; break;
      case 58: // OP_REM
        div64(x, rd, x[r1], x[r1 + 1], x[r2], x[r2 + 1], true, true); off += a >>> 24; break;
      case 59: // OP_REMU
        div64(x, rd, x[r1], x[r1 + 1], x[r2], x[r2 + 1], false, true); off += a >>> 24; break;
      case 60: { // OP_MULW
        const v = Math.imul(x[r1], x[r2]); x[rd] = v; x[rd + 1] = v >> 31; off += a >>> 24; break;
      }
      case 61: // OP_DIVW
        div32(x, rd, x[r1], x[r2], true, false); off += a >>> 24; break;
      case 62: // OP_DIVUW
        div32(x, rd, x[r1], x[r2], false, false); off += a >>> 24; break;
      case 63: // OP_REMW
        div32(x, rd, x[r1], x[r2], true, true); off += a >>> 24; break;
      case 64: // OP_REMUW
        div32(x, rd, x[r1], x[r2], false, true); off += a >>> 24; break;
      case 65: // OP_FENCE: Atomics are sequentially consistent; plain accesses need nothing more here.
        off += a >>> 24; break;
      case 66: // OP_FENCE_I
        h.fenceI(); page = REFILL_PAGE; ops = page.ops; off += a >>> 24; break;
      case 67: // OP_ECALL
        h.environmentTrap(false, 0); n++; trapped = true; break inner;
      case 68: // OP_EBREAK
        h.environmentTrap(true, base + off); n++; trapped = true; break inner;
      case 69: // OP_CSR
        h.curInstret = h.instret + (n0 - n - 1);
        if (!execCsr(h, imm)) { n++; trapped = true; break inner; }
        off += a >>> 24; break;
      case 70: // OP_AMO
        if (!execAmo(h, imm)) { n++; trapped = true; break inner; }
        if (h.cpPage !== page) { page = REFILL_PAGE; ops = page.ops; }
        off += a >>> 24; break;
      case 71: // OP_FP
        if (!h.fpu.exec(imm)) { h.illegal(imm); n++; trapped = true; break inner; }
        off += a >>> 24; break;
      default:
        h.illegal(imm); n++; trapped = true; break inner;
      }
    }
    const done = n0 - n;
    left -= done;
    h.instret += done;
    if (trapped) { exit = EXIT_TRAP; break; }
  }
  h.pc = base + off;
  h.hitLoad += hitL;
  h.hitStore += hitS;
  return exit;
}
