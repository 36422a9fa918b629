/**
 * Trap causes (the privileged spec's `scause` exception codes), access kinds, and the
 * reasons a hart's run loop returns. Shared vocabulary of cpu/, kernel/ and scheduler/.
 */

// Exception codes (privileged spec, table "scause values after trap").
export const CAUSE_INSTRUCTION_MISALIGNED = 0;
export const CAUSE_INSTRUCTION_ACCESS_FAULT = 1;
export const CAUSE_ILLEGAL_INSTRUCTION = 2;
export const CAUSE_BREAKPOINT = 3;
export const CAUSE_LOAD_MISALIGNED = 4;
export const CAUSE_LOAD_ACCESS_FAULT = 5;
export const CAUSE_STORE_MISALIGNED = 6;
export const CAUSE_STORE_ACCESS_FAULT = 7;
export const CAUSE_ECALL_U = 8;
export const CAUSE_INSTRUCTION_PAGE_FAULT = 12;
export const CAUSE_LOAD_PAGE_FAULT = 13;
export const CAUSE_STORE_PAGE_FAULT = 15;

export const CAUSE_NAMES: Readonly<Record<number, string>> = {
  [CAUSE_INSTRUCTION_MISALIGNED]: 'instruction address misaligned',
  [CAUSE_INSTRUCTION_ACCESS_FAULT]: 'instruction access fault',
  [CAUSE_ILLEGAL_INSTRUCTION]: 'illegal instruction',
  [CAUSE_BREAKPOINT]: 'breakpoint',
  [CAUSE_LOAD_MISALIGNED]: 'load address misaligned',
  [CAUSE_LOAD_ACCESS_FAULT]: 'load access fault',
  [CAUSE_STORE_MISALIGNED]: 'store/AMO address misaligned',
  [CAUSE_STORE_ACCESS_FAULT]: 'store/AMO access fault',
  [CAUSE_ECALL_U]: 'environment call from U-mode',
  [CAUSE_INSTRUCTION_PAGE_FAULT]: 'instruction page fault',
  [CAUSE_LOAD_PAGE_FAULT]: 'load page fault',
  [CAUSE_STORE_PAGE_FAULT]: 'store/AMO page fault',
};

/**
 * Access kinds, numbered in PTE bit order (R=bit1, W=bit2, X=bit3) so that the
 * permission needed is `1 << kind` (TinyEMU's trick): LOAD=1 → R, STORE=2 → W, FETCH=3 → X.
 */
export const ACCESS_LOAD = 1;
export const ACCESS_STORE = 2;
export const ACCESS_FETCH = 3;
export type AccessKind = typeof ACCESS_LOAD | typeof ACCESS_STORE | typeof ACCESS_FETCH;

/** Page-fault cause for an access kind. */
export function pageFaultCause(kind: AccessKind): number {
  return kind === ACCESS_FETCH
    ? CAUSE_INSTRUCTION_PAGE_FAULT
    : kind === ACCESS_STORE
      ? CAUSE_STORE_PAGE_FAULT
      : CAUSE_LOAD_PAGE_FAULT;
}

/** Access-fault cause for an access kind (physical address outside RAM). */
export function accessFaultCause(kind: AccessKind): number {
  return kind === ACCESS_FETCH
    ? CAUSE_INSTRUCTION_ACCESS_FAULT
    : kind === ACCESS_STORE
      ? CAUSE_STORE_ACCESS_FAULT
      : CAUSE_LOAD_ACCESS_FAULT;
}

/** Why `Hart.run` returned. */
export const EXIT_BUDGET = 0; // instruction budget used up (preemption point)
export const EXIT_TRAP = 1; // synchronous exception: see hart.cause / hart.tval
export const EXIT_INTERRUPT = 2; // the hart's interrupt-pending word became non-zero
export type ExitReason = typeof EXIT_BUDGET | typeof EXIT_TRAP | typeof EXIT_INTERRUPT;
