/**
 * FUTEX_CMP_REQUEUE, FUTEX_REQUEUE, FUTEX_WAKE_OP, FUTEX_WAIT_BITSET with absolute deadlines and
 * condition-variable broadcasts (kernel/proc/futex.ts, scheduler/block.ts requeue): the futexops
 * guest, 8 threads, on 1 and 4 worker-thread harts, with the stdout qemu-riscv64 gives.
 */
import { describe, it } from 'vitest';
import { runGuest } from '../../lab/guest-runs.ts';
import { expectCleanRun } from '../../helpers/guest-expect.ts';

const FUTEXOPS = (rounds: number): string => [
  'futexops: FUTEX_CMP_REQUEUE moved 8 waiters to a second word, woken from there 1 + 7',
  'futexops: FUTEX_REQUEUE moved 8 waiters to a second word, woken from there 1 + 7',
  'futexops: FUTEX_WAKE_OP: add, or|shift, andn, xor on the word; wakes only on a true comparison',
  'futexops: FUTEX_WAIT_BITSET absolute deadlines (monotonic, realtime), bitset matching',
  `futexops: pthread_cond_broadcast woke 8 waiters in each of ${rounds} rounds`,
  'futexops: OK', '',
].join('\n');

describe('futex operations beyond WAIT/WAKE', () => {
  for (const cpus of [1, 4]) {
    it(`futexops on ${cpus} hart(s): requeue, wake_op, bitsets, broadcasts`, async () => {
      const r = await runGuest({ policy: 'ipi', guest: 'futexops', args: ['10'], cpus });
      expectCleanRun(r, FUTEXOPS(10));
    }, 60_000);
  }
});
