/**
 * Zicsr for a user-mode hart: csrrw/csrrs/csrrc and their immediate forms on
 *   fflags (0x001), frm (0x002), fcsr (0x003)  — read/write, through hart.fpu;
 *   cycle (0xC00), instret (0xC02)             — read-only, this hart's retired count
 *                                                (one instruction per cycle);
 *   time (0xC01)                               — read-only, a host monotonic clock
 *                                                (process.hrtime) at 10 MHz, the same
 *                                                timebase Linux's riscv64 vDSO assumes
 *                                                for QEMU virt; shared by all harts.
 * A write to a read-only CSR (csrrw always writes; csrrs/csrrc write unless rs1 = x0 /
 * uimm = 0) and any other CSR number raise illegal instruction.
 */
import type { Hart } from './hart.ts';
import { CAUSE_ILLEGAL_INSTRUCTION } from './trap.ts';
import { timeNs, virtualTime } from './vclock.ts';

export const CSR_FFLAGS = 0x001;
export const CSR_FRM = 0x002;
export const CSR_FCSR = 0x003;
export const CSR_CYCLE = 0xc00;
export const CSR_TIME = 0xc01;
export const CSR_INSTRET = 0xc02;
/** Ticks per second of the `time` CSR. */
export const TIMEBASE_HZ = 10_000_000;

/** Current value of the `time` CSR (10 MHz ticks of the host's monotonic clock). */
export function readTimeCsr(): bigint {
  if (virtualTime()) return BigInt(Math.floor(timeNs() / 100)); // deterministic mode (cpu/vclock.ts)
  return process.hrtime.bigint() / 100n;
}

function illegal(h: Hart, insn: number): false {
  h.cause = CAUSE_ILLEGAL_INSTRUCTION;
  h.tval = insn >>> 0;
  return false;
}

/**
 * Execute the CSR instruction `insn`. Cycle/instret read h.curInstret, which the run loop
 * sets before calling. Returns true when done; false with an illegal-instruction trap set.
 */
export function execCsr(h: Hart, insn: number): boolean {
  const csr = insn >>> 20;
  const rd = (insn >>> 7) & 31;
  const rs1 = (insn >>> 15) & 31;
  const f3 = (insn >>> 12) & 7;
  const x = h.x;
  const srcLo = f3 >= 5 ? rs1 : x[2 * rs1];
  const kind = f3 & 3; // 1 = write, 2 = set, 3 = clear
  const writes = kind === 1 || rs1 !== 0;
  let oldLo: number;
  let oldHi = 0;
  switch (csr) {
    case CSR_FFLAGS: oldLo = h.fpu.fflags; break;
    case CSR_FRM: oldLo = h.fpu.frm; break;
    case CSR_FCSR: oldLo = h.fpu.readFcsr(); break;
    case CSR_CYCLE:
    case CSR_INSTRET:
      oldLo = h.curInstret | 0;
      oldHi = Math.floor(h.curInstret / 4294967296) | 0;
      break;
    case CSR_TIME: {
      const t = readTimeCsr();
      oldLo = Number(BigInt.asIntN(32, t));
      oldHi = Number(BigInt.asIntN(32, t >> 32n));
      break;
    }
    default: return illegal(h, insn);
  }
  if (writes) {
    if (csr >= CSR_CYCLE) return illegal(h, insn); // the counters are read-only
    // Only the low bits matter for the FP CSRs.
    const v = kind === 1 ? srcLo : kind === 2 ? oldLo | srcLo : oldLo & ~srcLo;
    if (csr === CSR_FFLAGS) h.fpu.fflags = v & 0x1f;
    else if (csr === CSR_FRM) h.fpu.frm = v & 7;
    else h.fpu.writeFcsr(v & 0xff);
  }
  if (rd !== 0) {
    x[2 * rd] = oldLo;
    x[2 * rd + 1] = oldHi;
  }
  return true;
}
