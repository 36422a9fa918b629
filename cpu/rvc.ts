/**
 * The C extension: expand a 16-bit compressed instruction into the 32-bit instruction
 * with the same semantics. STUB — the RVC work fills it in.
 *
 * Contract: `expandCompressed(h)` takes the 16 bits (low two bits != 0b11) and returns
 * the equivalent 32-bit encoding, or 0 when the 16-bit encoding is illegal or reserved
 * for RV64 (the hart raises illegal instruction with the 16 bits in tval). The hart
 * knows the instruction was 2 bytes long (links pc+2, advances pc by 2).
 */
export function expandCompressed(h: number): number {
  void h;
  return 0; // STUB
}
