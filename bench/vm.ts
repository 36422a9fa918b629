/**
 * Benchmark `vm`: the kernel's virtual-memory costs beside native Linux on the same machine.
 *
 *   vm.demand_zero_fault       first write to an anonymous page (TLB miss, walk, fault, zero-fill, retry), µs/page
 *   vm.cow_fault               first write to a COW-shared page after fork (fault, copy), µs/page
 *   vm.fork_1mib / fork_64mib  COW fork with 1 MiB / 64 MiB resident, µs (grows with page-table size)
 *   vm.clone_1mib / clone_64mib  deep-copy clone (cloneFrom) of the same, µs (grows with data)
 *   vm.mmap_touch_munmap_1 / _16  mmap + write every page + munmap of 1 / 16 pages, µs
 *
 * Emulated figures run the real kernel code in this thread as hart 0 (one hart: the shootdown
 * is local), with user accesses made through a cpu/tlb.ts TLB as the hart makes them. Native
 * figures come from bench/native/vm.c, compiled with the system gcc now (skipped with a note
 * when there is none), as `vm.<name>.native`, and `vm.<name>.ratio` = emulated / native.
 * Every figure is the best of a few rounds (lower is better). `npx tsx bench/vm.ts` runs it alone.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HART_COUNTER_SLOTS } from '../cpu/counters.ts';
import { SATP_MODE_SV48, vaLoHi } from '../cpu/pte.ts';
import { PhysicalMemory } from '../cpu/ram.ts';
import { Tlb } from '../cpu/tlb.ts';
import { ACCESS_STORE } from '../cpu/trap.ts';
import { bootVm, VirtualAddressSpace } from '../kernel/mm/aspace.ts';
import { KernelContext } from '../kernel/context.ts';
import { cloneFrom, forkAddressSpace } from '../kernel/mm/cow.ts';
import { handlePageFault } from '../kernel/mm/fault.ts';
import { FrameAllocator } from '../kernel/mm/frames.ts';
import { createCtl } from '../kernel/layout.ts';
import { mmap, munmap, releaseAddressSpace } from '../kernel/mm/mmap.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../kernel/mm/abi.ts';

const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function line(name: string, value: number, unit: string): void {
  console.log(`BENCH ${name} ${value.toFixed(value < 10 ? 3 : 1)} ${unit}`);
}

interface Env { ram: PhysicalMemory; ctx: KernelContext; tlb: Tlb }

function boot(): Env {
  const ram = PhysicalMemory.create(256 * 2 ** 20);
  const ctl = createCtl({ cpus: 1, frames: ram.frames });
  FrameAllocator.initialize(ctl);
  const tlb = new Tlb(ram, new Float64Array(HART_COUNTER_SLOTS));
  const ctx = new KernelContext({ hartId: 0, ram, ctl, tlb });
  bootVm(ctx);
  return { ram, ctx, tlb };
}

function space(e: Env): VirtualAddressSpace {
  const as = VirtualAddressSpace.create(e.ctx);
  if (typeof as === 'number') throw new Error(`bench vm: no address space (${as})`);
  return as;
}

/** Write one byte at va as the hart does: TLB, walk, fault, retry. */
function write(e: Env, as: VirtualAddressSpace, va: number, v: number): void {
  const [lo, hi] = vaLoHi(va);
  for (let k = 0; k < 4; k++) {
    const pa = e.tlb.translate(lo, hi, ACCESS_STORE);
    if (pa >= 0) { e.ram.u8[pa] = v; return; }
    const sig = handlePageFault(e.ctx, as, va, ACCESS_STORE);
    if (sig) throw new Error(`bench vm: signal ${sig.signo} at 0x${va.toString(16)}`);
  }
  throw new Error('bench vm: no progress');
}

function use(e: Env, as: VirtualAddressSpace): void {
  e.tlb.sfenceVma(null, 0, null);
  e.tlb.setSatp(SATP_MODE_SV48, as.asid, as.rootPpn);
}

function mapTouched(e: Env, as: VirtualAddressSpace, pages: number): number {
  const a = mmap(e.ctx, as, 0, pages * PAGE, RW, ANON);
  use(e, as);
  for (let k = 0; k < pages; k++) write(e, as, a + k * PAGE, 1);
  return a;
}

function best(rounds: number, f: () => number): number {
  let b = Infinity;
  for (let r = 0; r < rounds; r++) b = Math.min(b, f());
  return b;
}
const usSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1000;

/** The emulated figures, µs. */
export function measureEmulated(): Record<string, number> {
  const e = boot();
  const out: Record<string, number> = {};
  const N = 4096;
  out.demand_zero_fault = best(5, () => {
    const as = space(e);
    const a = mmap(e.ctx, as, 0, N * PAGE, RW, ANON);
    use(e, as);
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < N; k++) write(e, as, a + k * PAGE, 1);
    const t = usSince(t0) / N;
    releaseAddressSpace(e.ctx, as);
    return t;
  });
  out.cow_fault = best(5, () => {
    const p = space(e);
    const a = mapTouched(e, p, N);
    const c = forkAddressSpace(e.ctx, p);
    if (typeof c === 'number') throw new Error('bench vm: fork failed');
    use(e, c);
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < N; k++) write(e, c, a + k * PAGE, 2);
    const t = usSince(t0) / N;
    releaseAddressSpace(e.ctx, c);
    releaseAddressSpace(e.ctx, p);
    return t;
  });
  for (const [mib, rounds] of [[1, 20], [64, 5]] as const) {
    const p = space(e);
    mapTouched(e, p, (mib * 2 ** 20) / PAGE);
    for (const [name, fn] of [['fork', forkAddressSpace], ['clone', cloneFrom]] as const) {
      out[`${name}_${mib}mib`] = best(rounds, () => {
        const t0 = process.hrtime.bigint();
        const c = fn(e.ctx, p);
        const t = usSince(t0);
        if (typeof c === 'number') throw new Error(`bench vm: ${name} failed`);
        releaseAddressSpace(e.ctx, c);
        return t;
      });
    }
    releaseAddressSpace(e.ctx, p);
  }
  const as = space(e);
  for (const [pages, n] of [[1, 20000], [16, 5000]] as const) {
    out[`mmap_touch_munmap_${pages}`] = best(3, () => {
      use(e, as);
      const t0 = process.hrtime.bigint();
      for (let r = 0; r < n; r++) {
        const a = mmap(e.ctx, as, 0, pages * PAGE, RW, ANON);
        for (let k = 0; k < pages; k++) write(e, as, a + k * PAGE, 1);
        munmap(e.ctx, as, a, pages * PAGE);
      }
      return usSince(t0) / n;
    });
  }
  releaseAddressSpace(e.ctx, as);
  return out;
}

/** The native figures (µs) from bench/native/vm.c, or null (with the reason) when gcc is missing or fails. */
export function measureNative(): { figures: Record<string, number> } | { skipped: string } {
  const src = fileURLToPath(new URL('./native/vm.c', import.meta.url));
  const exe = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coherent-bench-')), 'vm');
  try {
    execFileSync('gcc', ['-O2', '-o', exe, src], { stdio: 'pipe' });
  } catch (err) {
    return { skipped: `gcc not available or failed (${(err as Error).message.split('\n')[0]})` };
  }
  const text = execFileSync(exe, { encoding: 'utf8' });
  const figures: Record<string, number> = {};
  for (const l of text.trim().split('\n')) {
    const [k, v] = l.split(' ');
    figures[k!] = Number(v);
  }
  fs.rmSync(path.dirname(exe), { recursive: true, force: true });
  return { figures };
}

/** Run the vm benchmark: prints its BENCH lines. */
export async function run(): Promise<void> {
  const emu = measureEmulated();
  const nat = measureNative();
  if ('skipped' in nat) console.log(`# vm: native figures skipped: ${nat.skipped}`);
  for (const [name, v] of Object.entries(emu)) {
    line(`vm.${name}`, v, 'us');
    if ('figures' in nat && nat.figures[name] !== undefined) {
      line(`vm.${name}.native`, nat.figures[name]!, 'us');
      line(`vm.${name}.ratio`, v / nat.figures[name]!, 'x');
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
