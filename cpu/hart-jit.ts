/**
 * The run loop of a translating hart (HartOptions.jit): block by block, each block either
 * run as its compiled function (cpu/jit.ts) or, while cold, by the interpreter
 * (cpu/hart-run.ts runLoop) for exactly the block's length.
 *
 * The fetch side is the interpreter's: the current code page is h.cpPage / h.cpBase; a pc
 * outside it (or no current page, or the first fetch of a run) refills through
 * Hart.refillFetch — the fetch micro-TLB and the Tlb — exactly when the interpreter would
 * (runLoop is called with keepPage so it does not translate again). Interrupts, queued
 * broadcast invalidations, the budget and the icache epoch are checked between batches of `h.batch` instructions. A block, compiled
 * or interpreted, runs whole when the run's budget allows (the budget stays exact), so a
 * batch may overrun by less than one block: at most batch + MAX_BLOCK - 1 instructions pass
 * between two interrupt polls (a self-looping block starts another pass only while the
 * batch has room for it).
 */
import type { Hart } from './hart.ts';
import { REFILL_PAGE } from './decode.ts';
import { compileBlock, discoverBlock, JitPage } from './jit.ts';
import { runLoop } from './hart-run.ts';
import { EXIT_BUDGET, EXIT_INTERRUPT, EXIT_TRAP, type ExitReason } from './trap.ts';

/**
 * Run `h` for at most `budget` instructions with the translator (see Hart.run for the
 * exits; the same contract as runLoop). Adds to h.instret, h.jitInsns, h.jitBlocks,
 * h.jitCompileUs.
 */
export function runJit(h: Hart, budget: number): ExitReason {
  const irq = h.irq;
  const bcw = h.bcastPending;
  const batch = h.batch;
  const threshold = h.jitThreshold;
  let left = budget;
  let fresh = true; // the first fetch of a run translates, as runLoop's does
  for (;;) {
    if (irq !== null && Atomics.load(irq.word, irq.index) !== 0) return EXIT_INTERRUPT;
    // Broadcast invalidations (cpu/tlb-broadcast.ts): applied here by the hardware, as runLoop does.
    if (bcw !== null && Atomics.load(bcw.word, bcw.index) !== 0) h.bcast!.apply();
    if (left <= 0) return EXIT_BUDGET;
    h.checkEpoch();
    let n = left < batch ? left : batch;
    while (n > 0) {
      const pc = h.pc;
      let page = h.cpPage;
      let off = pc - h.cpBase;
      if (fresh || page === REFILL_PAGE || !(off >= 0 && off < 4096)) {
        fresh = false;
        if (!h.refillFetch(pc)) return EXIT_TRAP;
        page = h.cpPage;
        off = pc - h.cpBase;
      }
      let jp = page.jit;
      if (jp === null) jp = page.jit = new JitPage();
      const slot = off >>> 1;
      let b = jp.blocks[slot];
      if (b === undefined) b = jp.blocks[slot] = discoverBlock(h, page, slot);
      const fn = b.fn;
      // A compiled block runs whole if the run's budget allows, even past the batch's end (by
      // at most MAX_BLOCK - 1 instructions): the budget stays exact, the poll interval bounded.
      if (fn !== null && b.len <= left) {
        h.jitTrap = false;
        const r = fn(h.cpBase, n);
        n -= r;
        left -= r;
        h.instret += r;
        h.jitInsns += r;
        if (h.jitTrap) return EXIT_TRAP;
        continue;
      }
      if (fn === null && b.compilable && ++b.heat >= threshold) {
        h.jitCompileUs += compileBlock(h, page, slot, b);
        h.jitBlocks++;
        continue;
      }
      // Cold (or longer than the budget left): interpret up to the block's end.
      const before = h.instret;
      const exit = runLoop(h, left < b.len ? left : b.len, true);
      const r = h.instret - before;
      n -= r;
      left -= r;
      if (exit !== EXIT_BUDGET) return exit;
    }
  }
}
