/**
 * Shootdown policies `lazy` and `off` — the unsafe ones, for showing what breaks.
 *
 * lazy: no interrupts. The change has bumped tlb_generation (kernel/mm/stale.ts seal) and the
 *   initiator has flushed its own TLB (kernel/mm/shootdown.ts); other harts catch up only at their
 *   next context switch, where scheduler/switch.ts flushes an address space they are behind
 *   on. Frames are freed at once. Correct while each address space runs on one hart at a time
 *   (single-threaded processes, even migrating ones); UNSAFE when threads of one process run
 *   on several harts at once: the others keep using removed translations — and freed frames —
 *   until they switch.
 *
 * off: no invalidation at all, unsafe on purpose. No remote step, the initiator's ASID-table
 *   entry is not caught up, and at switch-in the hart's entry is marked caught up to the
 *   space's generation WITHOUT flushing (`beforeSwitchIn`), so even a migrating
 *   single-threaded process runs on stale translations. Frames are freed at once.
 *   What remains (not the policy's to skip): the initiator's own sfence.vma in
 *   kernel/mm/shootdown.ts step 2 (common to every policy), flushes of a recycled ASID (a fresh
 *   ASID-table slot, or an entry of the address-space slot's previous life: a new process in a
 *   freed slot never runs on the old one's translations), and TLB evictions — "what the
 *   hardware does".
 */
import type { VirtualAddressSpace } from '../kernel/mm/aspace.ts';
import type { ShootdownPolicy } from '../kernel/mm/shootdown.ts';
import { GEN_UNKNOWN } from './asid.ts';
import { catchUpLocal } from './policy-common.ts';
import type { IpiHart } from './shootdown-ipi.ts';

/** The `lazy` policy for one hart. */
export function lazyPolicy(h: IpiHart): ShootdownPolicy {
  return { name: 'lazy', invalidate: (_k, stale) => { catchUpLocal(h, stale); return true; } };
}

/** The `off` policy (frames freed at once, nothing invalidated remotely). */
export const OFF_POLICY: ShootdownPolicy = { name: 'off', invalidate: () => true };

/**
 * `off`'s switch hook, run just before scheduler/switch.ts switchIn: pretend this hart is
 * caught up with `as` so that switchIn flushes nothing. Not for a recycled ASID: a fresh
 * ASID-table slot (GEN_UNKNOWN), or an entry left from an EARLIER LIFE of the address-space slot
 * (its generation is below the slot's birth generation: the entry caches another process's
 * translations, tagged with the ASID this space now gets) — those switchIn flushes, as the
 * docs promise; `off` skips only the invalidations of this space's own changes.
 */
export function offBeforeSwitchIn(h: IpiHart, as: VirtualAddressSpace): void {
  const i = h.table.find(as.slot);
  if (i < 0) return;
  const local = h.table.gen(i);
  if (local !== GEN_UNKNOWN && local >= as.birthGeneration) h.table.setGen(i, as.generation);
}
