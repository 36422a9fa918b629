/**
 * Main-thread VM test harness: a machine's RAM and ctl without workers, a host KernelContext
 * whose local TLB is a real cpu/tlb.ts Tlb, and `probe`, a user-mode access done the way the
 * hart does it: translate through that TLB (walking the real page tables in RAM on a miss);
 * on a page fault call the kernel's fault handler and retry.
 */
import { PhysicalMemory } from '../../../cpu/ram.ts';
import { Tlb } from '../../../cpu/tlb.ts';
import { ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE, type AccessKind } from '../../../cpu/trap.ts';
import { SATP_MODE_SV48, vaLoHi } from '../../../cpu/pte.ts';
import { HART_COUNTER_SLOTS } from '../../../cpu/counters.ts';
import { createCtl, type Ctl } from '../../../kernel/layout.ts';
import { FrameAllocator } from '../../../kernel/mm/frames.ts';
import { KernelContext } from '../../../kernel/context.ts';
import { bootVm, VirtualAddressSpace } from '../../../kernel/mm/aspace.ts';
import { handlePageFault, type FaultSignal } from '../../../kernel/mm/fault.ts';
import type { VmConfig } from '../../../kernel/mm/layout.ts';

export interface Vm {
  ram: PhysicalMemory;
  ctl: Ctl;
  ctx: KernelContext;
  tlb: Tlb;
  /** Free frames right after boot (the leak baseline). */
  baseline: number;
  free(): number;
  newSpace(): VirtualAddressSpace;
}

/** Boot RAM (`mib` MiB) + ctl + VM state in this thread. */
export function bootTestVm(mib = 32, vm: Partial<VmConfig> = { maxSpaces: 16, regionsPerSpace: 64, maxFiles: 16, pageCacheEntries: 1024 }): Vm {
  const ram = PhysicalMemory.create(mib * 2 ** 20);
  const ctl = createCtl({ cpus: 1, frames: ram.frames, vm });
  FrameAllocator.initialize(ctl);
  const tlb = new Tlb(ram, new Float64Array(HART_COUNTER_SLOTS), { entries: 64, ways: 4, superEntries: 4 });
  const ctx = KernelContext.forHost(ram, ctl, tlb);
  bootVm(ctx);
  const free = (): number => ctx.frames.stats().free;
  return {
    ram, ctl, ctx, tlb, baseline: free(), free,
    newSpace() {
      const as = VirtualAddressSpace.create(ctx);
      if (typeof as === 'number') throw new Error(`newSpace: ${as}`);
      return as;
    },
  };
}

export type Probe = { pa: number } | { signal: FaultSignal };

/** A U-mode access of `kind` at va in `as`, as the hart does it (TLB, walk, fault, retry). */
export function access(vm: Vm, as: VirtualAddressSpace, va: number, kind: AccessKind): Probe {
  vm.tlb.setSatp(SATP_MODE_SV48, as.asid, as.rootPpn);
  const [lo, hi] = vaLoHi(va < 0 ? BigInt(va) : va);
  for (let attempt = 0; attempt < 4; attempt++) {
    const pa = vm.tlb.translate(lo, hi, kind);
    if (pa >= 0) return { pa };
    const sig = handlePageFault(vm.ctx, as, va, kind);
    if (sig) return { signal: sig };
  }
  throw new Error(`access: no progress at 0x${va.toString(16)}`);
}

/** Load one byte; the byte or the signal. */
export function load(vm: Vm, as: VirtualAddressSpace, va: number): number | FaultSignal {
  const r = access(vm, as, va, ACCESS_LOAD);
  return 'pa' in r ? vm.ram.u8[r.pa]! : r.signal;
}
/** Store one byte; null or the signal. */
export function store(vm: Vm, as: VirtualAddressSpace, va: number, v: number): FaultSignal | null {
  const r = access(vm, as, va, ACCESS_STORE);
  if ('pa' in r) {
    vm.ram.u8[r.pa] = v;
    return null;
  }
  return r.signal;
}
/** Fetch permission check; null or the signal. */
export function fetch(vm: Vm, as: VirtualAddressSpace, va: number): FaultSignal | null {
  const r = access(vm, as, va, ACCESS_FETCH);
  return 'pa' in r ? null : r.signal;
}

export const PAGE = 4096;
export { ACCESS_LOAD, ACCESS_STORE, ACCESS_FETCH };
