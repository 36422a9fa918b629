/**
 * `deferred`'s reuse guard (scheduler/policy-deferred.ts beforeReuse, called by kernel/mm/mmap.ts
 * guardReuse): a range whose lazy invalidation is still pending is not mapped again before
 * that invalidation completed on every hart running the space (LATR's rule).
 *
 * The guest (assembled): a `reader` thread on hart 1 waits for GEN 1 (HOT_VA is mapped by
 * then), then loops { g := GEN; v := *HOT_VA; 0 < v < g →
 * STALE += 1; SEEN := v } (v = 0: the new page before the remapper's store — legal). The remapper (main, hart 0), `iters` times: mmap(HOT_VA, MAP_FIXED)
 * over the live page — the kernel unmaps the old page (under `deferred` a parked, lazy
 * invalidation: the reader runs the space, so it is a target) and installs a fresh one —
 * stores k into the new page, publishes GEN := k, and waits (bounded) until the reader has
 * SEEN k, so the reader holds a TLB entry for the new frame when the next remap comes. A read
 * of k-1 after GEN = k went through the old translation to the old (parked) frame.
 * Exit status = min(STALE, 100); 99 when a syscall failed.
 *
 * With the guard: no stale read, no sanitizer report, frames balance. Negative control with the
 * guard switched off (COHERENT_DEFERRED_REUSE_GUARD=off): stale reads, and the sanitizer
 * reports them (the reuse point completes the range for it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { assemble } from '../../cpu/asm/assembler.ts';
import { labStats } from '../../kernel/lab/stats.ts';
import { bootScheduled, spawn, wait } from '../../scheduler/api.ts';
import { HOT_VA, SHARED_VA, TEXT_BASE } from '../helpers/sched-guests.ts';
import { settledLeak } from './workloads.ts';
import { asmMmap } from '../../kernel/asm-linux.ts';

const MiB = 2 ** 20;
/** Shared words (byte offsets from SHARED_VA). */
const GEN = 0, DONE = 4, FINISHED = 8, STALE = 12, SEEN = 16;

/** The guest of the file comment. */
function remapReader(iters: number) {
  return assemble(`
_start:
  li s1, ${HOT_VA}
  li s3, ${SHARED_VA}
  li s0, 1
round:
  ${asmMmap('s1', 4096, 0x32)}
  bne a0, s1, fail
  sd s0, 0(s1)
  fence w, w
  sw s0, ${GEN}(s3)
  li s4, 20000
await_seen:
  lw t0, ${SEEN}(s3)
  bge t0, s0, seen
  li a7, 124
  ecall
  addi s4, s4, -1
  bnez s4, await_seen
seen:
  addi s0, s0, 1
  li t0, ${iters}
  ble s0, t0, round
  li t0, 1
  sw t0, ${DONE}(s3)
  li s4, 200000
await_reader:
  lw t0, ${FINISHED}(s3)
  bnez t0, finish
  li a7, 124
  ecall
  addi s4, s4, -1
  bnez s4, await_reader
finish:
  lw a0, ${STALE}(s3)
  li t0, 100
  ble a0, t0, 1f
  mv a0, t0
1:
  li a7, 94
  ecall

reader:
  li s1, ${HOT_VA}
  li s3, ${SHARED_VA}
  li s4, 50000000
first:
  lw t0, ${GEN}(s3)
  bnez t0, read
  addi s4, s4, -1
  bnez s4, first
  j reader_done
read:
  lw t0, ${DONE}(s3)
  bnez t0, reader_done
  lw t1, ${GEN}(s3)
  fence r, r
  ld t2, 0(s1)
  beqz t2, read
  bge t2, t1, fresh
  li t3, 1
  addi t4, s3, ${STALE}
  amoadd.w zero, t3, (t4)
fresh:
  sw t2, ${SEEN}(s3)
  addi s4, s4, -1
  bnez s4, read
reader_done:
  li t0, 1
  sw t0, ${FINISHED}(s3)
  li a0, 0
  li a7, 93
  ecall
fail:
  li a0, 99
  li a7, 94
  ecall
  .data
shared:
  .word 0, 0, 0, 0, 0, 0, 0, 0
`, { textBase: TEXT_BASE, dataBase: SHARED_VA });
}

/** Run the guest under `deferred` with the sanitizer on; status, reports, leaked frames. */
async function runDeferred(iters: number): Promise<{ status: number; violations: number; leaked: number; interrupts: number }> {
  const m = await bootScheduled({ cpus: 4, memory: 32 * MiB, policy: 'deferred', sanitize: 'report' });
  try {
    const { pid } = spawn(m, { image: { asm: remapReader(iters) }, hart: 0, threads: [{ entry: 'reader', hart: 1 }] });
    const status = await wait(m, pid, 20_000);
    const s = labStats(m.ctl);
    return { status, violations: s.sanitizer.violations, leaked: await settledLeak(m), interrupts: s.interrupts.sent };
  } finally {
    await m.shutdown();
  }
}

describe('deferred: the reuse guard', () => {
  const saved = process.env['COHERENT_DEFERRED_REUSE_GUARD'];
  afterEach(() => {
    if (saved === undefined) delete process.env['COHERENT_DEFERRED_REUSE_GUARD'];
    else process.env['COHERENT_DEFERRED_REUSE_GUARD'] = saved;
  });

  it('a MAP_FIXED remap never lets the reader see the old value after it was published', async () => {
    delete process.env['COHERENT_DEFERRED_REUSE_GUARD'];
    const r = await runDeferred(40);
    expect(r).toMatchObject({ status: 0, violations: 0, leaked: 0 });
    expect(r.interrupts).toBeGreaterThan(0); // the guard did interrupt the reader's hart
  }, 25_000);

  it('negative control: with the guard off the reader sees old values and the sanitizer reports them', async () => {
    process.env['COHERENT_DEFERRED_REUSE_GUARD'] = 'off'; // read by each hart's DeferredPolicy at boot
    const r = await runDeferred(40);
    expect(r.status).toBeGreaterThan(0);
    expect(r.status).not.toBe(99);
    expect(r.violations).toBeGreaterThan(0);
    expect(r.leaked).toBe(0); // stale, but never a freed frame: they stay parked
  }, 25_000);
});
