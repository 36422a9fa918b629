/**
 * The `per-page` policy (scheduler/policy-perpage.ts) on changes whose Stale range is a sparse
 * bounding box. Regression: fork write-protects pages from the data segment up to the stack,
 * a range of ~67 million pages of which a few dozen changed; per-page sent one round trip per
 * page of that box and guests/bin/mix never finished. A range above PER_PAGE_MAX_PAGES now goes
 * as one whole-ASID message; a small change still costs one message per page.
 *
 * The guest (4 harts): three spinner threads announce themselves, then read a shared word until
 * DONE, so every change targets the other three harts. The main thread maps 1 GiB, touches its
 * first and last page, mprotects all of it read-only (a 262144-page box: one whole message),
 * then maps 4 pages, touches them, and mprotects them (4 page messages).
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../cpu/asm/assembler.ts';
import { labStats } from '../../kernel/lab/stats.ts';
import { bootScheduled, spawn, wait } from '../../scheduler/api.ts';
import { PER_PAGE_MAX_PAGES } from '../../scheduler/policy-perpage.ts';
import { SHARED_VA, TEXT_BASE } from '../helpers/sched-guests.ts';
import { settledLeak } from './workloads.ts';
import { asmMmap } from '../../kernel/asm-linux.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const SPINNERS = 3;

const sparseProtect = assemble(`
_start:
  li s3, ${SHARED_VA}
  li s4, 400000000
await:
  lw t0, 4(s3)
  li t1, ${SPINNERS}
  beq t0, t1, go
  addi s4, s4, -1
  bnez s4, await
  j fail
go:
  ${asmMmap(null, GiB, 0x4022)}
  blt a0, zero, fail
  mv s1, a0
  sd s4, 0(s1)
  li t2, ${GiB - 4096}
  add t2, s1, t2
  sd s4, 0(t2)
  mv a0, s1
  li a1, ${GiB}
  li a2, 1
  li a7, 226
  ecall
  bnez a0, fail
  ${asmMmap(null, 4 * 4096, 0x22)}
  blt a0, zero, fail
  mv s2, a0
  li t1, 4
  mv t2, s2
touch:
  sd s4, 0(t2)
  li t3, 4096
  add t2, t2, t3
  addi t1, t1, -1
  bnez t1, touch
  mv a0, s2
  li a1, ${4 * 4096}
  li a2, 1
  li a7, 226
  ecall
  bnez a0, fail
  li t0, 1
  sw t0, 0(s3)
  li a0, 0
  li a7, 94
  ecall

spinner:
  li s3, ${SHARED_VA}
  addi t2, s3, 4
  li t0, 1
  amoadd.w zero, t0, (t2)
  li s4, 400000000
spin:
  lw t0, 0(s3)
  bnez t0, done
  addi s4, s4, -1
  bnez s4, spin
done:
  li a0, 0
  li a7, 93
  ecall
fail:
  li a0, 99
  li a7, 94
  ecall
  .data
shared:
  .word 0, 0, 0, 0
`, { textBase: TEXT_BASE, dataBase: SHARED_VA });

describe('per-page on a sparse bounding-box change', () => {
  it('a 1 GiB mprotect with two resident pages is one whole message; a 4-page one is 4 messages', async () => {
    expect(GiB / 4096).toBeGreaterThan(PER_PAGE_MAX_PAGES);
    const m = await bootScheduled({ cpus: 4, memory: 32 * MiB, policy: 'per-page', sanitize: 'report' });
    try {
      const { pid } = spawn(m, {
        image: { asm: sparseProtect }, hart: 0,
        threads: Array.from({ length: SPINNERS }, (_, k) => ({ entry: 'spinner', hart: k + 1 })),
      });
      const t0 = performance.now();
      expect(await wait(m, pid, 15_000)).toBe(0);
      expect(performance.now() - t0).toBeLessThan(15_000);
      expect(await settledLeak(m)).toBe(0);
      const s = labStats(m.ctl);
      expect(s.policy).toBe('per-page');
      expect(s.sanitizer.violations).toBe(0);
      // 1 (sparse, whole) + 4 (pages) while the spinners run; the exit may add a whole message.
      // Page by page, the sparse change alone would be 262144 messages.
      expect(s.shootdowns.perPageMessages).toBeGreaterThanOrEqual(5);
      expect(s.shootdowns.perPageMessages).toBeLessThanOrEqual(8);
    } finally {
      await m.shutdown();
    }
  }, 25_000);
});
