/**
 * Hart commands of the VM (kernel/mm/aspace.ts, mmap.ts, fault.ts): boot the kernel half, create
 * and release address spaces, map and unmap, and the racing probes the multi-hart tests use.
 * Load with Machine.boot({ commandModules: [VM_COMMANDS] }).
 *
 * Each hart gets one KernelContext (its frame allocator and mailbox service from the
 * HartContext) and a private Tlb standing in for its hart's TLB: probes translate through it,
 * the fault handler and shootdowns fence it. Scratch words S_VM_* (ctl scratch region) are
 * the barrier of the race commands.
 */
import { registerHartCommand } from './hart-commands.ts';
import type { HartContext } from './hart-context.ts';
import { HART_COUNTER_SLOTS } from '../cpu/counters.ts';
import { SATP_MODE_SV48, vaLoHi } from '../cpu/pte.ts';
import { Tlb } from '../cpu/tlb.ts';
import { ACCESS_LOAD, ACCESS_STORE, type AccessKind } from '../cpu/trap.ts';
import { bootVm, kernelFrames, VirtualAddressSpace } from '../kernel/mm/aspace.ts';
import { KernelContext } from '../kernel/context.ts';
import { handlePageFault, type FaultSignal } from '../kernel/mm/fault.ts';
import { mmap, munmap, releaseAddressSpace } from '../kernel/mm/mmap.ts';
import { forkAddressSpace } from '../kernel/mm/cow.ts';
import { findLeaf } from '../kernel/mm/pagetable.ts';
import { LOCK_WAIT_SLICE_MS } from '../kernel/sync/lock.ts';
import type { ShootdownPolicy } from '../kernel/mm/shootdown.ts';
import { MSG_KIND_USER } from '../cpu/mailbox.ts';
import { relaxWait } from '../cpu/baton.ts';

/** URL of this module, for Machine.boot({ commandModules }). */
export const VM_COMMANDS = new URL('./vm-commands.ts', import.meta.url).href;
/** Scratch words (Int32 index from the scratch region): barrier count and generation. */
export const S_VM_BARRIER = 192;
export const S_VM_PROGRESS = 194;

interface HartVm { ctx: KernelContext; tlb: Tlb; seen: Map<number, number> }
const perHart = new WeakMap<HartContext, HartVm>();

/**
 * Interrupt kind of this module's stand-in remote shootdown (test-only: the scheduler issue
 * brings the real policies; this one only proves the ShootdownPolicy seam and keeps the
 * racing tests safe). Payload: [asid]; the receiver flushes that ASID from its TLB.
 */
export const MSG_KIND_VM_TEST_SHOOTDOWN = MSG_KIND_USER + 15;

/** A synchronous IPI policy: interrupt every other hart in the active mask, wait for all acks. */
function testIpiPolicy(h: HartContext): ShootdownPolicy {
  return {
    name: 'vm-test-ipi',
    invalidate(ctx, stale) {
      const targets = stale.as.activeHarts().filter((t) => t !== ctx.hartId);
      if (targets.length === 0) return true;
      const ticket = h.port.send(targets, MSG_KIND_VM_TEST_SHOOTDOWN, [stale.as.asid]);
      h.port.waitForAcks(ticket);
      return true;
    },
  };
}

/** This hart's KernelContext and TLB (created on first use). */
export function hartVm(h: HartContext): HartVm {
  let v = perHart.get(h);
  if (!v) {
    const tlb = new Tlb(h.ram, new Float64Array(HART_COUNTER_SLOTS), { entries: 64, ways: 4, superEntries: 4 });
    const ctx = new KernelContext({
      hartId: h.hartId, ram: h.ram, ctl: h.ctl, frames: h.frames, tlb, whileWaiting: h.whileWaiting, policy: testIpiPolicy(h),
    });
    h.onInterrupt(MSG_KIND_VM_TEST_SHOOTDOWN, (_c, msg) => tlb.sfenceVma(null, 0, msg.payload[0]!));
    perHart.set(h, (v = { ctx, tlb, seen: new Map() }));
  }
  return v;
}

const scratch = (h: HartContext): number => h.ctl.layout.scratch / 4;

/** Wait until `n` harts arrived at the barrier (serving the mailbox while waiting). */
function barrier(h: HartContext, n: number): void {
  const i32 = h.ctl.i32, w = scratch(h) + S_VM_BARRIER;
  Atomics.add(i32, w, 1);
  Atomics.notify(i32, w);
  for (let v = Atomics.load(i32, w); v < n; v = Atomics.load(i32, w)) {
    relaxWait(i32, w, v, LOCK_WAIT_SLICE_MS);
    h.serve();
  }
}

/** A user access through this hart's TLB, faulting like the hart: the pa, or the signal. */
function userAccess(h: HartContext, v: HartVm, as: VirtualAddressSpace, va: number, kind: AccessKind): number | FaultSignal {
  h.serve(); // interrupts are taken between accesses, as between instructions
  // Context-switch rule (DESIGN.md section 6): publish in the active mask, then read the
  // generation; behind → flush the ASID (this stand-in never does range flushes).
  as.markActive(h.hartId);
  const gen = as.generation;
  if (v.seen.get(as.slot) !== gen) {
    v.tlb.sfenceVma(null, 0, as.asid);
    v.seen.set(as.slot, gen);
  }
  v.tlb.setSatp(SATP_MODE_SV48, as.asid, as.rootPpn);
  const [lo, hi] = vaLoHi(va);
  for (let attempt = 0; attempt < 8; attempt++) {
    const pa = v.tlb.translate(lo, hi, kind);
    if (pa >= 0) return pa;
    const sig = handlePageFault(v.ctx, as, va, kind);
    if (sig) return sig;
  }
  throw new Error(`vm userAccess: no progress at 0x${va.toString(16)}`);
}

registerHartCommand('vm.boot', (h) => {
  const { ctx } = hartVm(h);
  bootVm(ctx);
  Atomics.store(h.ctl.i32, scratch(h) + S_VM_BARRIER, 0);
  return { kernelFrames: kernelFrames(h.ctl) };
});

registerHartCommand('vm.create', (h) => {
  const as = VirtualAddressSpace.create(hartVm(h).ctx);
  return typeof as === 'number' ? as : as.slot;
});

registerHartCommand('vm.mmap', (h, a: { slot: number; addr: number; len: number; prot: number; flags: number }) => {
  const { ctx } = hartVm(h);
  return mmap(ctx, VirtualAddressSpace.attach(ctx, a.slot), a.addr, a.len, a.prot, a.flags);
});

registerHartCommand('vm.munmap', (h, a: { slot: number; addr: number; len: number }) => {
  const { ctx } = hartVm(h);
  return munmap(ctx, VirtualAddressSpace.attach(ctx, a.slot), a.addr, a.len);
});

registerHartCommand('vm.release', (h, a: { slot: number }) => {
  const v = hartVm(h);
  const left = releaseAddressSpace(v.ctx, VirtualAddressSpace.attach(v.ctx, a.slot));
  v.ctx.frames.flushCache();
  return left;
});

registerHartCommand('vm.flushCache', (h) => {
  hartVm(h).ctx.frames.flushCache();
  return null;
});

registerHartCommand('vm.resetBarrier', (h) => {
  Atomics.store(h.ctl.i32, scratch(h) + S_VM_BARRIER, 0);
  Atomics.store(h.ctl.i32, scratch(h) + S_VM_PROGRESS, 0);
  return null;
});

/**
 * vm.raceTouch { slot, va, pages, harts, reverse, tag } → { pas, stored }: after a barrier of
 * `harts` harts, store `tag` into byte (hartId) of each page (in reverse order when asked),
 * through this hart's TLB, faulting as needed; the physical page of each.
 */
registerHartCommand('vm.raceTouch', (h, a: { slot: number; va: number; pages: number; harts: number; reverse: boolean; tag: number }) => {
  const v = hartVm(h);
  const as = VirtualAddressSpace.attach(v.ctx, a.slot);
  barrier(h, a.harts);
  const pas: number[] = new Array(a.pages).fill(-1);
  for (let i = 0; i < a.pages; i++) {
    const k = a.reverse ? a.pages - 1 - i : i;
    const r = userAccess(h, v, as, a.va + k * 4096 + h.hartId, ACCESS_STORE);
    if (typeof r !== 'number') throw new Error(`vm.raceTouch: signal ${r.signo} at page ${k}`);
    h.ram.u8[r] = a.tag;
    pas[k] = Math.floor(r / 4096);
  }
  v.ctx.assertNoStale('vm.raceTouch');
  return { pas };
});

/**
 * vm.faultVsUnmap { slot, va, pages, role } — role 'fault': store into each page in order
 * (publishing progress), recording ok / the si_code; role 'unmap': wait until the faulter is
 * an eighth of the way, then munmap the whole range. Returns { outcomes } or { unmapped }.
 */
registerHartCommand('vm.faultVsUnmap', (h, a: { slot: number; va: number; pages: number; role: 'fault' | 'unmap' }) => {
  const v = hartVm(h);
  const as = VirtualAddressSpace.attach(v.ctx, a.slot);
  const i32 = h.ctl.i32, prog = scratch(h) + S_VM_PROGRESS;
  barrier(h, 2);
  if (a.role === 'unmap') {
    while (Atomics.load(i32, prog) < a.pages / 8) { relaxWait(i32, prog, Atomics.load(i32, prog), 1); h.serve(); }
    return { unmapped: munmap(v.ctx, as, a.va, a.pages * 4096) };
  }
  const outcomes: (number | string)[] = [];
  for (let k = 0; k < a.pages; k++) {
    const r = userAccess(h, v, as, a.va + k * 4096, ACCESS_STORE);
    if (typeof r === 'number') {
      h.ram.u8[r] = 1;
      // a load right after must not see a freed frame: translate again (the munmap may have run)
      const again = userAccess(h, v, as, a.va + k * 4096, ACCESS_LOAD);
      outcomes.push(typeof again === 'number' ? 'ok' : `ok-then-${again.code}`);
    } else {
      outcomes.push(r.code);
    }
    Atomics.store(i32, prog, k + 1);
    Atomics.notify(i32, prog);
  }
  const leaves: number[] = [];
  for (let k = 0; k < a.pages; k++) if (findLeaf(v.ctx, as.rootPpn, a.va / 4096 + k) >= 0) leaves.push(k);
  return { outcomes, leaves };
});

registerHartCommand('vm.fork', (h, a: { slot: number }) => {
  const { ctx } = hartVm(h);
  const c = forkAddressSpace(ctx, VirtualAddressSpace.attach(ctx, a.slot));
  return typeof c === 'number' ? c : c.slot;
});

/**
 * vm.writeAll { slot, va, pages, tag, harts } → { faults }: after a barrier of `harts`, store
 * `tag` into byte 0 of every page (copy-on-write breaks racing with other harts' on the same frames).
 */
registerHartCommand('vm.writeAll', (h, a: { slot: number; va: number; pages: number; tag: number; harts: number }) => {
  const v = hartVm(h);
  const as = VirtualAddressSpace.attach(v.ctx, a.slot);
  barrier(h, a.harts);
  for (let k = 0; k < a.pages; k++) {
    const r = userAccess(h, v, as, a.va + k * 4096, ACCESS_STORE);
    if (typeof r !== 'number') throw new Error(`vm.writeAll: signal ${r.signo} at page ${k}`);
    h.ram.u8[r] = a.tag;
  }
  return null;
});

/** vm.readAll { slot, va, pages } → byte 0 of every page, read through this hart's TLB. */
registerHartCommand('vm.readAll', (h, a: { slot: number; va: number; pages: number }) => {
  const v = hartVm(h);
  const as = VirtualAddressSpace.attach(v.ctx, a.slot);
  const out: number[] = [];
  for (let k = 0; k < a.pages; k++) {
    const r = userAccess(h, v, as, a.va + k * 4096, ACCESS_LOAD);
    out.push(typeof r === 'number' ? h.ram.u8[r]! : -r.code);
  }
  return out;
});
