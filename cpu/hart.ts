/**
 * A RISC-V RV64GC user-mode hart: registers, the run loop, micro-TLBs, the decode cache.
 *
 * Registers: `x` is an Int32Array(64) — x[2i] the low and x[2i+1] the high 32 bits of
 * register i (BigInt is far too slow for the hot path). x0 reads 0: decoded instructions
 * write rd = x0 into a sink pair just past x (see cpu/decode.ts). `pc` is a double holding
 * the sign-extended 64-bit pc (exact: VAs are 48-bit sign-extended).
 *
 * The run loop executes pre-decoded instructions from the "current code page": `base` (its
 * va) and `off` (pc - base) are locals, so sequential execution and branches inside a page
 * cost one unsigned compare. Leaving the page refills through the fetch micro-TLB (va page →
 * DecodedPage) and, on a miss, the Tlb. Loads and stores hit per-hart micro-TLBs (a tag
 * compare and an add, TinyEMU-style, see cpu/hart-mem.ts) and otherwise take the slow path.
 * Exceptions are status codes: the hit path allocates nothing and throws nothing.
 *
 * With `jit` on, run() goes through the translating loop (cpu/hart-jit.ts): hot blocks run as
 * compiled functions (cpu/jit.ts) hung off their DecodedPage, cold ones through runLoop.
 *
 * Between batches of `batch` instructions the loop polls the interrupt-pending word
 * (EXIT_INTERRUPT when non-zero) and the shared icache epoch (drops the whole decode cache
 * when it moved — how the kernel makes reusing a frame for new code safe).
 */
import { PhysicalMemory, PAGE_SIZE } from './ram.ts';
import { Tlb, type TlbConfig, type TlbObserver } from './tlb.ts';
import { Fpu } from './fpu.ts';
import {
  ACCESS_FETCH, CAUSE_BREAKPOINT, CAUSE_ECALL_U, CAUSE_ILLEGAL_INSTRUCTION,
  EXIT_TRAP, type ExitReason,
} from './trap.ts';
import {
  HART_COUNTER_SLOTS, HC_CYCLES, HC_DECODED_PAGES, HC_FENCE_I, HC_INSTRET, HC_JIT_BLOCKS, HC_JIT_COMPILE_US,
  HC_JIT_INSNS, HC_SC_FAILURES,
  HC_TLB_HIT_FETCH, HC_TLB_HIT_LOAD, HC_TLB_HIT_STORE, HC_TRAPS,
} from './counters.ts';
import { DecodedPage, decodeHalves, decodeSlot, REFILL_PAGE, X_SINK } from './decode.ts';
import { MICRO_TLB_ENTRIES, setTranslateFault, vaOf } from './hart-mem.ts';
import { runLoop } from './hart-run.ts';
import { runJit } from './hart-jit.ts';
import { JIT_THRESHOLD } from './jit.ts';
import type { BroadcastUnit } from './tlb-broadcast.ts';

export interface SharedWord {
  word: Int32Array;
  index: number;
}

export interface HartOptions {
  hartId: number;
  ram: PhysicalMemory;
  /** This hart's HC_* counter block (HART_COUNTER_SLOTS float64); private if absent. */
  counters?: Float64Array;
  /** Interrupt-pending word: non-zero makes run() return EXIT_INTERRUPT between batches. */
  irq?: SharedWord;
  /** Shared icache epoch: when it changes the decode cache is dropped. */
  icacheEpoch?: SharedWord;
  tlb?: Partial<TlbConfig>;
  /** Instructions per batch between interrupt polls (default 4096). */
  batch?: number;
  /** Run hot blocks translated (cpu/jit.ts, cpu/hart-jit.ts); default false: interpret only. */
  jit?: boolean;
  /** Executions of a block before it is compiled (default cpu/jit.ts JIT_THRESHOLD; 1 = at once). */
  jitThreshold?: number;
}

/** Decoded-page count above which the whole decode cache is dropped (bounds memory). */
const MAX_DECODED_PAGES = 4096;


/** One hart. See the file header; construct one per worker thread. */
export class Hart {
  readonly hartId: number;
  readonly ram: PhysicalMemory;
  readonly counters: Float64Array;
  readonly tlb: Tlb;
  readonly fpu: Fpu;
  /** Register buffer: x[0..63] plus the x0 write sink at X_SINK. */
  readonly xbuf = new Int32Array(X_SINK + 2);
  readonly x: Int32Array = this.xbuf.subarray(0, 64);
  pc = 0;
  /**
   * 8-byte scratch seen as one float64 and two int32 halves. An aligned ld/sd/fld/fsd moves
   * its 8 bytes as ONE Float64Array element (one machine load/store on x86-64 and arm64), so
   * another hart can never see half of a new value over half of an old one: RVWMO makes
   * aligned accesses up to XLEN single-copy atomic, and two 32-bit moves tore (a racing
   * reader saw 0xc0de0000_00000000). The bits pass through unchanged, NaN payloads included
   * (checked with signalling and negative NaNs, optimised and interpreted).
   */
  readonly wideF = new Float64Array(1);
  readonly wideI = new Int32Array(this.wideF.buffer);
  /** Trap cause (cpu/trap.ts) and tval of the last EXIT_TRAP. */
  cause = 0;
  tval = 0;
  /** Instructions retired, total. */
  instret = 0;
  /** instret as seen by the instruction executing now (for the cycle/instret CSRs). */
  curInstret = 0;
  readonly batch: number;
  /** Translator on (HartOptions.jit) and its compile threshold. */
  readonly jit: boolean;
  readonly jitThreshold: number;
  /** Set by a compiled block that exits with a trap (cpu/jit.ts). */
  jitTrap = false;
  readonly irq: SharedWord | null;
  readonly icacheEpoch: SharedWord | null;
  epochSeen = 0;
  /**
   * Broadcast-invalidation unit (cpu/tlb-broadcast.ts; null = the machine has none) and its
   * queue's PENDING word, which the run loop polls between batches beside `irq`: nonzero →
   * the unit applies the queued invalidations and the batch goes on (no EXIT, no kernel code).
   */
  bcast: BroadcastUnit | null = null;
  bcastPending: SharedWord | null = null;

  // Micro-TLBs (see cpu/hart-mem.ts). Fetch: page va → decoded page.
  readonly lTagLo = new Int32Array(MICRO_TLB_ENTRIES).fill(-1);
  readonly lTagHi = new Int32Array(MICRO_TLB_ENTRIES);
  readonly lAdd = new Int32Array(MICRO_TLB_ENTRIES);
  readonly sTagLo = new Int32Array(MICRO_TLB_ENTRIES).fill(-1);
  readonly sTagHi = new Int32Array(MICRO_TLB_ENTRIES);
  readonly sAdd = new Int32Array(MICRO_TLB_ENTRIES);
  readonly sPpn = new Int32Array(MICRO_TLB_ENTRIES).fill(-1);
  readonly fTag = new Float64Array(MICRO_TLB_ENTRIES).fill(NaN);
  readonly fPage: (DecodedPage | null)[] = new Array<DecodedPage | null>(MICRO_TLB_ENTRIES).fill(null);

  /** Decode cache: physical page number → decoded slots. */
  readonly pages = new Map<number, DecodedPage>();
  /** Current code page (REFILL_PAGE when none) and its va; the run loop mirrors these. */
  cpPage: DecodedPage = REFILL_PAGE;
  cpBase = 0;
  /** Scratch decode slot for an instruction that crosses a page boundary. */
  readonly xOps = new Uint8Array(1);
  readonly xArgs = new Int32Array(1);
  readonly xImms = new Int32Array(1);

  /** Result of the last loadSlow (raw bits, zero-extended). */
  ldLo = 0;
  ldHi = 0;

  // LR reservation: physical address, size, reserved value (resW for .w, resD for .d).
  resValid = false;
  resPa = 0;
  resSize = 0;
  resW = 0;
  resD = 0n;

  // Local counters, published into `counters` at the end of each run().
  scFailures = 0;
  decodedPages = 0;
  fenceIs = 0;
  /** Blocks compiled, their compile time (µs) and instructions retired in compiled code. */
  jitBlocks = 0;
  jitCompileUs = 0;
  jitInsns = 0;

  /** Create a hart on `ram`; registers zero, pc 0, satp Bare. */
  constructor(opts: HartOptions) {
    this.hartId = opts.hartId;
    this.ram = opts.ram;
    this.counters = opts.counters ?? new Float64Array(HART_COUNTER_SLOTS);
    this.tlb = new Tlb(opts.ram, this.counters, opts.tlb);
    this.tlb.onInvalidate = () => this.invalidateMicroTlbs();
    this.tlb.onInvalidatePage = (pageLo, pageHi) => this.invalidateMicroPage(pageLo, pageHi);
    this.fpu = new Fpu(this.x);
    this.batch = Math.max(1, opts.batch ?? 4096);
    this.jit = opts.jit ?? false;
    this.jitThreshold = Math.max(1, opts.jitThreshold ?? JIT_THRESHOLD);
    this.irq = opts.irq ?? null;
    this.icacheEpoch = opts.icacheEpoch ?? null;
    if (this.icacheEpoch) this.epochSeen = Atomics.load(this.icacheEpoch.word, this.icacheEpoch.index);
  }

  /** Register i as a signed 64-bit BigInt (x0 is 0n). */
  getX(i: number): bigint {
    return BigInt.asIntN(64, (BigInt(this.x[2 * i + 1]) << 32n) | BigInt(this.x[2 * i] >>> 0));
  }

  /** Set register i to v (mod 2^64); writes to x0 are ignored. */
  setX(i: number, v: bigint): void {
    if (i === 0) return;
    this.x[2 * i] = Number(BigInt.asIntN(32, v));
    this.x[2 * i + 1] = Number(BigInt.asIntN(32, v >> 32n));
  }

  /** Give this hart its broadcast-invalidation unit (once, before the first run). */
  attachBroadcast(unit: BroadcastUnit): void {
    this.bcast = unit;
    this.bcastPending = { word: unit.queuesWord, index: unit.pendingIndex };
  }

  /** Load satp into the TLB (no TLB flush, like hardware) and drop the micro-TLBs. */
  setSatp(mode: number, asid: number, rootPpn: number): void {
    this.tlb.setSatp(mode, asid, rootPpn);
    this.invalidateMicroTlbs();
  }

  /** sfence.vma for the kernel: va null = all addresses, asid null = all ASIDs. */
  sfenceVma(vaLo: number | null, vaHi: number, asid: number | null): void {
    // The Tlb calls onInvalidate (→ invalidateMicroTlbs) for every sfence, so the micro-TLBs
    // are already clear when this returns; clearing them again cost ~0.3 µs per remote flush.
    this.tlb.sfenceVma(vaLo, vaHi, asid);
  }

  /**
   * Install (null: remove) the TLB observer of the stale-translation sanitizer (cpu/tlb.ts
   * TlbObserver). While set, the micro-TLBs are bypassed: every load and store, and every
   * entry into a code page, goes through tlb.translate.
   */
  setTlbObserver(obs: TlbObserver | null): void {
    this.tlb.setObserver(obs);
    this.invalidateMicroTlbs();
  }

  /** fence.i: forget every decoded instruction of this hart. */
  fenceI(): void {
    this.fenceIs++;
    this.dropDecodeCache();
  }

  /** Drop all micro-TLB entries (the Tlb removed something they may copy). */
  invalidateMicroTlbs(): void {
    // Tags only: an entry whose tag cannot match is empty (sPpn/fPage leftovers are ignored).
    this.lTagLo.fill(-1);
    this.sTagLo.fill(-1);
    this.fTag.fill(NaN);
    this.cpPage = REFILL_PAGE;
  }

  /**
   * Drop the micro-TLB entries that may copy the Tlb's entries for the 4 KiB page at
   * (pageLo, pageHi) (the Tlb evicted them): the one slot of each micro-TLB that page indexes
   * (whatever it holds — dropping more than needed is always allowed), and the current code
   * page if it is that page.
   */
  invalidateMicroPage(pageLo: number, pageHi: number): void {
    const e = (pageLo >>> 12) & (MICRO_TLB_ENTRIES - 1);
    this.lTagLo[e] = -1;
    this.sTagLo[e] = -1;
    this.fTag[e] = NaN;
    if (this.cpBase === vaOf(pageLo & ~0xfff, pageHi)) this.cpPage = REFILL_PAGE;
  }

  /** Drop the whole decode cache. */
  dropDecodeCache(): void {
    this.pages.clear();
    this.fTag.fill(NaN);
    this.fPage.fill(null);
    this.cpPage = REFILL_PAGE;
  }

  /** Drop the decoded page of frame `ppn` (a store wrote into it). */
  dropPage(ppn: number): void {
    this.pages.delete(ppn);
    for (let e = 0; e < MICRO_TLB_ENTRIES; e++) {
      const p = this.fPage[e];
      if (p !== null && p.ppn === ppn) { this.fPage[e] = null; this.fTag[e] = NaN; }
    }
    if (this.cpPage.ppn === ppn) this.cpPage = REFILL_PAGE;
  }

  /** Remove store micro-TLB entries that point into frame `ppn`. */
  purgeStoreEntries(ppn: number): void {
    const sPpn = this.sPpn;
    for (let e = 0; e < MICRO_TLB_ENTRIES; e++) {
      if (sPpn[e] === ppn) { sPpn[e] = -1; this.sTagLo[e] = -1; }
    }
  }

  /** Record an LR reservation; stores to its frame then take the slow path until it ends. */
  setReservation(pa: number, size: number, w: number, d: bigint): void {
    this.resValid = true;
    this.resPa = pa;
    this.resSize = size;
    this.resW = w;
    this.resD = d;
    this.purgeStoreEntries(Math.floor(pa / PAGE_SIZE));
  }

  /** Decoded page of frame `ppn`, created (and its frame made store-slow) if new. */
  private codePage(ppn: number): DecodedPage {
    let page = this.pages.get(ppn);
    if (page === undefined) {
      if (this.pages.size >= MAX_DECODED_PAGES) this.dropDecodeCache();
      page = new DecodedPage(ppn);
      this.pages.set(ppn, page);
      this.decodedPages++;
      this.purgeStoreEntries(ppn);
    }
    return page;
  }

  /** Drop the decode cache if the shared icache epoch moved since last seen. */
  checkEpoch(): void {
    const ep = this.icacheEpoch;
    if (ep === null) return;
    const now = Atomics.load(ep.word, ep.index);
    if (now !== this.epochSeen) {
      this.epochSeen = now;
      this.dropDecodeCache();
    }
  }

  /**
   * Make the page containing `pc` the current code page (cpPage, cpBase). Returns false
   * with an instruction fault set when it cannot be fetched.
   */
  refillFetch(pc: number): boolean {
    const vpn = Math.floor(pc / PAGE_SIZE);
    const pageVa = vpn * PAGE_SIZE;
    const e = vpn & (MICRO_TLB_ENTRIES - 1);
    let page = this.fTag[e] === pageVa ? this.fPage[e] : null;
    if (page === null) {
      this.checkEpoch();
      const lo = pc | 0;
      const hi = Math.floor(pc / 4294967296) | 0;
      const pa = this.tlb.translate(lo, hi, ACCESS_FETCH);
      if (pa < 0) return setTranslateFault(this, pa, ACCESS_FETCH, pc);
      page = this.codePage(Math.floor(this.tlb.lastPageBase / PAGE_SIZE));
      // Observed (sanitizer): no fetch micro-TLB entry, so every entry into a code page translates.
      if (this.tlb.observer === null) {
        this.fTag[e] = pageVa;
        this.fPage[e] = page;
      }
    }
    this.cpPage = page;
    this.cpBase = pageVa;
    return true;
  }

  /**
   * Fetch and decode, uncached, the 32-bit instruction at `pc` that crosses into the next
   * page, into the scratch slot xOps/xArgs/xImms[0]. False with a fault set (tval = the
   * va of the half that faulted).
   */
  fetchCross(pc: number): boolean {
    const lo = pc | 0;
    const hi = Math.floor(pc / 4294967296) | 0;
    const pa0 = this.tlb.translate(lo, hi, ACCESS_FETCH);
    if (pa0 < 0) return setTranslateFault(this, pa0, ACCESS_FETCH, pc);
    const lo2 = (lo + 2) | 0;
    const hi2 = (hi + ((lo2 >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
    const pa1 = this.tlb.translate(lo2, hi2, ACCESS_FETCH);
    if (pa1 < 0) return setTranslateFault(this, pa1, ACCESS_FETCH, vaOf(lo2, hi2));
    const u16 = this.ram.u16;
    decodeHalves(this.xOps, this.xArgs, this.xImms, 0, u16[pa0 >>> 1], u16[pa1 >>> 1]);
    return true;
  }

  /** Decode slot `slot` of `page` (lazily, on first execution). */
  decode(page: DecodedPage, slot: number): void {
    decodeSlot(page, this.ram.u16, slot);
  }

  /** Set an illegal-instruction trap with the instruction bits in tval. */
  illegal(bits: number): void {
    this.cause = CAUSE_ILLEGAL_INSTRUCTION;
    this.tval = bits >>> 0;
  }

  /** Set the ecall (or ebreak at `pc`) trap. */
  environmentTrap(isBreak: boolean, pc: number): void {
    this.cause = isBreak ? CAUSE_BREAKPOINT : CAUSE_ECALL_U;
    this.tval = isBreak ? pc : 0;
  }

  /**
   * Run until `budget` instructions retired (EXIT_BUDGET), a synchronous exception
   * (EXIT_TRAP: `cause`, `tval`; pc at the faulting instruction — for ecall too, the kernel
   * advances it by 4), or a pending interrupt between batches (EXIT_INTERRUPT).
   * The LR reservation does not survive the return. Counters are published before returning.
   */
  run(budget: number): ExitReason {
    const before = this.instret;
    const exit = this.jit ? runJit(this, budget) : runLoop(this, budget);
    this.resValid = false;
    const c = this.counters;
    const retired = this.instret - before;
    c[HC_INSTRET] = this.instret;
    c[HC_CYCLES] = this.instret;
    c[HC_TLB_HIT_FETCH] += retired;
    c[HC_TLB_HIT_LOAD] += this.hitLoad;
    c[HC_TLB_HIT_STORE] += this.hitStore;
    c[HC_SC_FAILURES] += this.scFailures;
    c[HC_DECODED_PAGES] += this.decodedPages;
    c[HC_FENCE_I] += this.fenceIs;
    c[HC_JIT_BLOCKS] += this.jitBlocks;
    c[HC_JIT_COMPILE_US] += this.jitCompileUs;
    c[HC_JIT_INSNS] += this.jitInsns;
    if (exit === EXIT_TRAP) c[HC_TRAPS]++;
    this.hitLoad = this.hitStore = this.scFailures = this.decodedPages = this.fenceIs = 0;
    this.jitBlocks = this.jitCompileUs = this.jitInsns = 0;
    return exit;
  }

  /** Micro-TLB hits of the current run (the run loop adds to these). */
  hitLoad = 0;
  hitStore = 0;
}
