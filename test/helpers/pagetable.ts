/**
 * A small Sv48 page-table builder for tests and benchmarks: writes real tables into a
 * PhysicalMemory, taking table frames from a bump allocator over [firstFrame, limitFrame).
 * It is not the kernel's page-table code — just enough to set up what the MMU walks.
 *
 * Addresses: `va` is a bigint (any 64-bit value, sign-extended kernel addresses included)
 * or a non-negative number below 2^53; `pa` a byte address (page aligned for the level).
 */
import type { PhysicalMemory } from '../../cpu/ram.ts';
import {
  PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, LEVEL_PAGE_SIZE, SATP_MODE_SV48, SV48_LEVELS,
  makePte, pteIsLeaf, pteToPpn, vaLoHi, vpnIndexLoHi,
} from '../../cpu/pte.ts';

export const PERM_R = PTE_R;
export const PERM_RW = PTE_R | PTE_W;
export const PERM_RX = PTE_R | PTE_X;
export const PERM_URW = PTE_U | PTE_R | PTE_W;
export const PERM_URX = PTE_U | PTE_R | PTE_X;
export const PERM_AD = PTE_A | PTE_D;

export class PageTableBuilder {
  readonly ram: PhysicalMemory;
  readonly rootPpn: number;
  private next: number;
  private readonly limit: number;

  /** Tables come from frames [firstFrame, limitFrame); the root is allocated at once. */
  constructor(ram: PhysicalMemory, firstFrame = 1, limitFrame = ram.frames) {
    this.ram = ram;
    this.next = firstFrame;
    this.limit = limitFrame;
    this.rootPpn = this.allocFrame();
  }

  /** A zeroed frame from the bump allocator. Throws naming `allocFrame` when exhausted. */
  allocFrame(): number {
    if (this.next >= this.limit) throw new Error('allocFrame: out of table frames');
    const ppn = this.next++;
    this.ram.zeroFrame(ppn);
    return ppn;
  }

  /** Frames handed out so far end below this ppn. */
  get nextFrame(): number {
    return this.next;
  }

  /**
   * Map va → pa with a leaf at `level` (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB). `perms` are PTE
   * flag bits (R W X U G A D RSW); V is added. Intermediate tables are created as needed
   * (plain pointers: V only, or V|G when `pointerFlags` says so). Returns the leaf PTE's
   * physical address. Throws naming `map` when a leaf is in the way.
   */
  map(va: bigint | number, pa: number, perms: number, level = 0, pointerFlags = 0): number {
    if (pa % LEVEL_PAGE_SIZE[level] !== 0) throw new Error(`map: pa 0x${pa.toString(16)} not aligned for level ${level}`);
    const ptePa = this.slot(va, level, pointerFlags);
    this.writePte(ptePa, makePte(pa / 4096, perms | PTE_V));
    return ptePa;
  }

  /** Write an arbitrary 64-bit `pte` as the level-`level` entry for va (tables created as needed). */
  setRaw(va: bigint | number, level: number, pte: bigint): number {
    const ptePa = this.slot(va, level, 0);
    this.writePte(ptePa, pte);
    return ptePa;
  }

  /** Physical address of the level-`level` PTE for va, creating pointer tables above it. */
  slot(va: bigint | number, level: number, pointerFlags = 0): number {
    const [lo, hi] = vaLoHi(va);
    let table = this.rootPpn;
    for (let i = SV48_LEVELS - 1; i > level; i--) {
      const ptePa = table * 4096 + vpnIndexLoHi(i, lo, hi) * 8;
      const pte = this.readPte(ptePa);
      if ((Number(pte & 1n) & PTE_V) === 0) {
        const t = this.allocFrame();
        this.writePte(ptePa, makePte(t, PTE_V | pointerFlags));
        table = t;
      } else {
        if (pteIsLeaf(pte)) throw new Error(`map: a leaf at level ${i} is in the way`);
        table = pteToPpn(pte);
      }
    }
    return table * 4096 + vpnIndexLoHi(level, lo, hi) * 8;
  }

  readPte(ptePa: number): bigint {
    return Atomics.load(this.ram.i64, ptePa / 8);
  }
  writePte(ptePa: number, pte: bigint): void {
    Atomics.store(this.ram.i64, ptePa / 8, BigInt.asIntN(64, pte));
  }

  /** satp fields for this table: [mode, asid, rootPpn]. */
  satp(asid = 0): [number, number, number] {
    return [SATP_MODE_SV48, asid, this.rootPpn];
  }
}
