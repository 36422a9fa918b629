/**
 * Sv48 hardware facts: page-table entry bits, the satp format, virtual-address fields and
 * level sizes (privileged spec, "Sv48: Page-Based 48-bit Virtual-Memory System").
 * The one place that knows these bit positions — like xv6's riscv.h.
 *
 * Page-table entry (64 bits, little-endian in RAM; the walk reads it as two 32-bit words):
 *
 *   63  62 61 60      54 53                                  10 9   8 7 6 5 4 3 2 1 0
 *  +---+-----+----------+--------------------------------------+-----+-+-+-+-+-+-+-+-+
 *  | N |PBMT | reserved |          PPN (44 bits)               | RSW |D|A|G|U|X|W|R|V|
 *  +---+-----+----------+--------------------------------------+-----+-+-+-+-+-+-+-+-+
 *   bits 63:54 must be zero here (Svnapot and Svpbmt are not implemented) or the walk faults.
 *   RSW bit 8 = PTE_COW (the kernel's copy-on-write mark), bit 9 = PTE_SW_SPARE; the
 *   hardware ignores both.
 *   R=W=X=0 → pointer to the next-level table; there D, A and U are reserved (must be 0).
 *   W=1 with R=0 is reserved in every PTE.
 *   G on a pointer makes every mapping below it global.
 *
 * satp (64 bits):
 *
 *   63    60 59            44 43                                   0
 *  +--------+----------------+--------------------------------------+
 *  |  MODE  |  ASID (16 bits)|        root table PPN (44 bits)      |
 *  +--------+----------------+--------------------------------------+
 *   MODE 0 = Bare (no translation), 9 = Sv48.
 *
 * Virtual address (64 bits; bits 63:48 must equal bit 47, else page fault):
 *
 *   63      48 47     39 38     30 29     21 20     12 11          0
 *  +----------+---------+---------+---------+---------+-------------+
 *  | sign ext | VPN[3]  | VPN[2]  | VPN[1]  | VPN[0]  | page offset |
 *  +----------+---------+---------+---------+---------+-------------+
 *   VPN[i] = va bits 12+9i .. 20+9i; each indexes a 512-entry table of 8-byte PTEs.
 *   A leaf at level 0 maps 4 KiB, level 1 2 MiB, level 2 1 GiB (level 3 leaves, 512 GiB,
 *   are legal in the spec and accepted by the walk, though nobody makes them).
 *
 * Representations: a PTE or satp as a whole is a `bigint` (what `Atomics` on
 * `BigInt64Array` speaks); the walk itself works on the two 32-bit halves `lo`/`hi`.
 * PPNs are plain numbers (44 bits fit exactly in a double).
 */

// ---- PTE bits (low word) ----
export const PTE_V = 1 << 0; // valid
export const PTE_R = 1 << 1; // readable
export const PTE_W = 1 << 2; // writable
export const PTE_X = 1 << 3; // executable
export const PTE_U = 1 << 4; // accessible in U-mode
export const PTE_G = 1 << 5; // global: in every address space
export const PTE_A = 1 << 6; // accessed
export const PTE_D = 1 << 7; // dirty
export const PTE_RSW_SHIFT = 8; // two bits for software
export const PTE_COW = 1 << 8; // RSW bit 0: the kernel's copy-on-write mark
export const PTE_SW_SPARE = 1 << 9; // RSW bit 1: unused, free for the kernel
export const PTE_RWX = PTE_R | PTE_W | PTE_X;
/** Low 10 bits: flags + RSW. */
export const PTE_FLAGS_MASK = 0x3ff;

export const PTE_PPN_SHIFT = 10;
export const PTE_PPN_BITS = 44;
/** PPN bits held in the low word (bits 31:10) and in the high word (bits 53:32). */
export const PTE_PPN_LO_BITS = 22;
export const PTE_PPN_HI_MASK = 0x3fffff;
/** Bits 63:54 of the PTE = bits 31:22 of its high word: N, PBMT and reserved. */
export const PTE_RESERVED_HI_SHIFT = 22;

export const PTE_SIZE = 8; // bytes
export const PTES_PER_TABLE = 512;
export const VPN_BITS = 9;
export const SV48_LEVELS = 4;
export const SV48_VA_BITS = 48;

/** Page size mapped by a leaf at each level: 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
export const LEVEL_PAGE_SIZE: readonly number[] = [2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39];
export const LEVEL_4K = 0;
export const LEVEL_2M = 1;
export const LEVEL_1G = 2;

/** Shift of VPN[level] in a virtual address: 12 + 9·level. */
export function levelShift(level: number): number {
  return 12 + VPN_BITS * level;
}

// ---- satp ----
export const SATP_MODE_BARE = 0;
export const SATP_MODE_SV48 = 9;
export const SATP_MODE_SHIFT = 60;
export const SATP_ASID_SHIFT = 44;
export const ASID_BITS = 16;
export const ASID_MASK = 0xffff;
export const SATP_PPN_BITS = 44;

const TWO32 = 4294967296;
const PPN_MASK_BIG = (1n << 44n) - 1n;

/** Build a satp value. Throws naming `makeSatp` on an out-of-range field. */
export function makeSatp(mode: number, asid: number, rootPpn: number): bigint {
  if ((mode !== SATP_MODE_BARE && mode !== SATP_MODE_SV48) || asid < 0 || asid > ASID_MASK ||
      !Number.isInteger(rootPpn) || rootPpn < 0 || rootPpn >= 2 ** SATP_PPN_BITS) {
    throw new RangeError(`makeSatp: bad field (mode ${mode}, asid ${asid}, ppn ${rootPpn})`);
  }
  return (BigInt(mode) << 60n) | (BigInt(asid) << 44n) | BigInt(rootPpn);
}
export function satpMode(satp: bigint): number {
  return Number(BigInt.asUintN(64, satp) >> 60n);
}
export function satpAsid(satp: bigint): number {
  return Number((satp >> 44n) & 0xffffn);
}
export function satpPpn(satp: bigint): number {
  return Number(satp & PPN_MASK_BIG);
}

// ---- PTE helpers (whole-PTE bigint forms, for the kernel and tests) ----

/**
 * A PTE mapping (or pointing to) frame `ppn` with `flags` (low 10 bits: V R W X U G A D RSW).
 * V is NOT added implicitly. Throws naming `makePte` on a bad ppn or flags.
 */
export function makePte(ppn: number, flags: number): bigint {
  if (!Number.isInteger(ppn) || ppn < 0 || ppn >= 2 ** PTE_PPN_BITS || (flags & ~PTE_FLAGS_MASK) !== 0) {
    throw new RangeError(`makePte: bad ppn ${ppn} or flags 0x${flags.toString(16)}`);
  }
  return (BigInt(ppn) << 10n) | BigInt(flags);
}
/** The PPN field (bits 53:10) of a PTE. */
export function pteToPpn(pte: bigint): number {
  return Number((pte >> 10n) & PPN_MASK_BIG);
}
/** The low 10 bits (flags and RSW) of a PTE. */
export function pteFlags(pte: bigint): number {
  return Number(pte & 0x3ffn);
}
/** Physical address of the frame a PTE names: PPN × 4096. */
export function pteToPa(pte: bigint): number {
  return pteToPpn(pte) * 4096;
}
/** A valid PTE with R or X set is a leaf; R=W=X=0 is a pointer to the next table. */
export function pteIsLeaf(pte: bigint): boolean {
  return (Number(pte & 0xbn) & (PTE_R | PTE_X)) !== 0;
}
/** The PPN field from the two 32-bit halves of a PTE (lo = bits 31:0, hi = bits 63:32). */
export function ptePpnLoHi(lo: number, hi: number): number {
  return (hi & PTE_PPN_HI_MASK) * 4194304 + (lo >>> PTE_PPN_SHIFT);
}
/** Join two 32-bit halves into the signed 64-bit bigint that `BigInt64Array` stores. */
export function joinPte(lo: number, hi: number): bigint {
  return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
}

// ---- Virtual-address fields ----

/**
 * VPN[level] of `va`, a non-negative integer below 2^53 (user addresses, or a kernel-half
 * address given in its 48-bit form `va mod 2^48`). Use `vpnIndexLoHi` for full 64-bit values.
 */
export function vpnIndex(level: number, va: number): number {
  return Math.floor(va / 2 ** levelShift(level)) % PTES_PER_TABLE;
}
/** VPN[level] of the 64-bit va given as its low and high 32-bit words. */
export function vpnIndexLoHi(level: number, vaLo: number, vaHi: number): number {
  switch (level) {
    case 0: return (vaLo >>> 12) & 511;
    case 1: return (vaLo >>> 21) & 511;
    case 2: return ((vaLo >>> 30) | (vaHi << 2)) & 511;
    default: return (vaHi >>> 7) & 511;
  }
}
/** True when bits 63:47 of the va are all equal (Sv48 canonical form). */
export function isCanonicalSv48(vaHi: number): boolean {
  const top = vaHi >> 15;
  return top === 0 || top === -1;
}
/** Split a 64-bit va (bigint, any sign, or a non-negative number < 2^53) into [lo, hi] int32 words. */
export function vaLoHi(va: bigint | number): [number, number] {
  if (typeof va === 'number') return [va % TWO32 | 0, Math.floor(va / TWO32) | 0];
  const u = BigInt.asUintN(64, va);
  return [Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0];
}
