/**
 * `bench sanitizer`: what the stale-translation sanitizer's TLB observer costs per access, on a
 * real TLB (cpu/tlb.ts) over real Sv48 tables, without a machine around it:
 *   fill — 4096 pages touched round robin through the default 1024-entry TLB: every access
 *          misses, walks and fills (the observer's onFill + fillTag: seq, completed count, frame
 *          generation and clean epoch);
 *   hit  — one page over and over: every access hits (the observer's onHit fast path);
 * each with the observer (`observed`) and without (`plain`: the hot path when --sanitize is off).
 * Printed as `BENCH sanitizer.<path>.<observed|plain> <ns> ns` (per access). Times are this
 * process's CPU time (process.cpuUsage), the best of three runs: the host is shared.
 * Run: `npx tsx bench/index.ts sanitizer`.
 */
import { HART_COUNTER_SLOTS } from '../cpu/counters.ts';
import { PTE_A, PTE_D, PTE_R, PTE_U, PTE_W, vaLoHi } from '../cpu/pte.ts';
import { PhysicalMemory } from '../cpu/ram.ts';
import { ACCESS_STORE } from '../cpu/trap.ts';
import { Tlb } from '../cpu/tlb.ts';
import { createCtl } from '../kernel/layout.ts';
import { SAN_REPORT } from '../kernel/lab/layout.ts';
import { SanitizerObserver, setSanitizerMode } from '../kernel/lab/sanitizer.ts';
import { PageTableBuilder } from '../test/helpers/pagetable.ts';

const MiB = 2 ** 20;
const PAGES = 4096;
const BASE_VA = 0x40_0000;

/** ns of CPU time per access: `n` stores, page i * stride mod PAGES. */
function timeAccesses(tlb: Tlb, vas: [number, number][], stride: number, n: number): number {
  const t0 = process.cpuUsage();
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const [lo, hi] = vas[(i * stride) % PAGES]!;
    sum += tlb.translate(lo, hi, ACCESS_STORE);
  }
  const t = process.cpuUsage(t0);
  if (sum < 0) throw new Error('bench sanitizer: an access faulted');
  return ((t.user + t.system) * 1000) / n;
}

/** Run the benchmark; prints the BENCH lines. */
export async function run(): Promise<void> {
  const ctl = createCtl({ cpus: 1, frames: 8192 });
  setSanitizerMode(ctl, SAN_REPORT);
  const ram = PhysicalMemory.create(32 * MiB);
  const pt = new PageTableBuilder(ram, 1, 512);
  for (let k = 0; k < PAGES; k++) pt.map(BASE_VA + k * 4096, 16 * MiB + k * 4096, PTE_U | PTE_R | PTE_W | PTE_A | PTE_D);
  const vas = Array.from({ length: PAGES }, (_, k) => vaLoHi(BASE_VA + k * 4096));
  for (const observed of [false, true]) {
    const tlb = new Tlb(ram, new Float64Array(HART_COUNTER_SLOTS));
    tlb.setSatp(...pt.satp(1));
    if (observed) {
      const obs = new SanitizerObserver(ctl, 0, 'bench', () => null, () => null);
      obs.setSpace(0, pt.rootPpn, 1, 1);
      tlb.setObserver(obs);
    }
    timeAccesses(tlb, vas, 1, 200_000); // warm up both paths
    timeAccesses(tlb, vas, 0, 200_000);
    const fill = Math.min(...[0, 1, 2].map(() => timeAccesses(tlb, vas, 1, 1_000_000)));
    const hit = Math.min(...[0, 1, 2].map(() => timeAccesses(tlb, vas, 0, 2_000_000)));
    const tag = observed ? 'observed' : 'plain';
    console.log(`BENCH sanitizer.fill.${tag} ${fill.toFixed(1)} ns`);
    console.log(`BENCH sanitizer.hit.${tag} ${hit.toFixed(1)} ns`);
  }
}
