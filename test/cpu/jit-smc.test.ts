// Code rewritten by one hart while another runs it translated (two real worker-thread harts):
// after the rewriting hart publishes a version and the running hart executes fence.i, the
// running hart's next call runs the new code — its translated block of the old code is gone.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { assemble } from '../../cpu/asm/assembler.ts';
import { PhysicalMemory } from '../../cpu/ram.ts';

const TEXT = 0x10000;
const SHARED = 0x80000; // +0 GEN (writer → runner), +4 ACK (runner → writer), +8 runner's errors, +12 timeouts, +16 start (host)
const VERSIONS = 150;
const SPIN = 2_000_000; // bound on every wait loop: a dead partner ends the test, not the machine

// Both harts get x5 = VERSIONS and a0 = SHARED. Uncompressed code: the writer replaces
// func's first instruction, a 32-bit `addi a0, x0, version`, with one sw.
const program = assemble(`
runner:
  mv s6, x5             # versions (x5 is t0, a temporary below)
  mv s2, a0
  li s1, 0              # version seen
  li s3, 0              # wrong results
  li s5, ${SPIN}
1:
  jal ra, func          # hot: translated after two calls
  amoor.w t1, zero, (s2)
  bne t1, s1, 2f
  addi s5, s5, -1
  bnez s5, 1b
  li t0, 1
  sw t0, 12(s2)
  ecall
2:
  fence.i
  jal ra, func
  beq a0, t1, 3f
  addi s3, s3, 1
3:
  mv s1, t1
  li s5, ${SPIN}
  addi t2, s2, 4
  amoswap.w zero, t1, (t2)
  bne t1, s6, 1b
  sw s3, 8(s2)
  ecall
writer:
  mv s6, x5
  mv s2, a0
  la s4, func
  li s1, 0
4:
  addi s1, s1, 1
  slli t0, s1, 20
  li t1, 0x513          # addi a0, x0, 0
  or t0, t0, t1
  sw t0, 0(s4)          # rewrite func
  amoswap.w zero, s1, (s2)   # publish the version (after the code store)
  addi t2, s2, 4
  li s5, ${SPIN}
5:
  amoor.w t3, zero, (t2)
  beq t3, s1, 6f
  addi s5, s5, -1
  bnez s5, 5b
  li t0, 1
  sw t0, 12(s2)
  ecall
6:
  bne s1, s6, 4b
  ecall
  .balign 4096
func:
  addi a0, x0, 0
  ret
`, { textBase: TEXT });

interface Result { ok: boolean; jitBlocks: number; jitInsns: number; instret: number }

/** Start a hart worker; resolves `ready` when it waits for the start word, `done` with its result. */
function startWorker(ram: PhysicalMemory, label: string, hartId: number, jit: boolean): { ready: Promise<void>; done: Promise<Result> } {
  const w = new Worker(new URL('./jit-smc.worker.mjs', import.meta.url), {
    workerData: { sab: ram.sab, pc: Number(program.symbols.get(label)!), versions: VERSIONS, shared: SHARED, hartId, jit },
  });
  let readyFn: () => void = () => {};
  const ready = new Promise<void>((r) => { readyFn = r; });
  const done = new Promise<Result>((resolve, reject) => {
    w.on('message', (m: Result & { ready?: boolean }) => { if (m.ready) readyFn(); else resolve(m); });
    w.once('error', reject);
  });
  return { ready, done };
}

/** Run the runner and the writer (translating or not) to completion. */
async function race(ram: PhysicalMemory, jit: boolean): Promise<[Result, Result]> {
  const a = startWorker(ram, 'runner', 0, jit);
  const b = startWorker(ram, 'writer', 1, jit);
  await Promise.all([a.ready, b.ready]);
  Atomics.store(ram.i32, SHARED / 4 + 4, 1);
  Atomics.notify(ram.i32, SHARED / 4 + 4);
  return Promise.all([a.done, b.done]);
}

describe('self-modifying code across harts with the translator', () => {
  it('code rewritten by another hart is run after fence.i, every version, never the old one', async () => {
    const ram = PhysicalMemory.create(16 * 1024 * 1024);
    ram.u8.set(program.text, TEXT);
    ram.i32[SHARED / 4 + 2] = -1;
    const [runner, writer] = await race(ram, true);
    expect(runner.ok && writer.ok).toBe(true);
    expect(ram.i32[SHARED / 4 + 3]).toBe(0); // no wait loop ran out
    expect(ram.i32[SHARED / 4 + 1]).toBe(VERSIONS);
    expect(ram.i32[SHARED / 4 + 2]).toBe(0); // every call after fence.i returned the published version
    expect(runner.jitBlocks).toBeGreaterThanOrEqual(VERSIONS); // func compiled again after each fence.i (threshold 1)
    expect(runner.jitInsns).toBeGreaterThan(0);
  }, 60_000);
});
