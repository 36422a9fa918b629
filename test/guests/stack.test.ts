/**
 * Issue 13, "Limits that must go": the main stack grows on demand up to RLIMIT_STACK (a
 * grows-down region with Linux's 1 MiB guard gap, kernel/mm/stack.ts) and execve takes
 * arguments up to a quarter of that limit — the guest `stack` (guests/stack.c) on 1 and 4
 * harts, and the cases qemu-riscv64 can model under it. Before the stack grew, the main stack
 * was a fixed 256 KiB region: `recurse 6144` died of SIGSEGV and `args 1536` failed (the
 * initial stack did not fit). Every frame comes back after each run.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootScheduled, leakedFrames } from '../../scheduler/api.ts';
import type { Machine } from '../../scheduler/machine.ts';
import { hasTool } from '../helpers/tools.ts';
import { runCaptured } from '../helpers/spawn-capture.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'guests/bin/stack');
const ok = (...lines: string[]): string => lines.map((l) => `stack: ${l}\n`).join('') + 'stack: OK\n';

/** Linux's outcome for each case (qemu: only where `qemu` is set, see guests/stack.c). */
const CASES: { args: string[]; stdout: string; qemu?: boolean }[] = [
  { args: ['recurse', '6144'], stdout: ok('recursed 6144 KiB, every frame intact'), qemu: true },
  { args: ['limit', '0', '16384'], stdout: ok('16384 KiB deep: killed by SIGSEGV'), qemu: true },
  { args: ['limit', '1024', '2048'], stdout: ok('2048 KiB deep: killed by SIGSEGV') },
  { args: ['limit', '1024', '512'], stdout: ok('512 KiB deep: exited 0') },
  { args: ['gap', '1536'], stdout: ok('1536 KiB deep, a mapping 2 MiB below: killed by SIGSEGV') },
  { args: ['gap', '512'], stdout: ok('512 KiB deep, a mapping 2 MiB below: exited 0') },
  { args: ['args', '3072', '/stack'], stdout: ok('execve with 3072 KiB of arguments: E2BIG'), qemu: true },
  { args: ['args', '1536', '/stack'], stdout: ok('the new program got 26 arguments, 1536 KiB', 'execve with 1536 KiB of arguments: ran') },
];

let scratch = '';
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'coherent-stack-'));
  copyFileSync(BIN, join(scratch, 'stack')); // what `args` execs, as /stack under the root
});
afterAll(() => { rmSync(scratch, { recursive: true, force: true }); });

async function run(m: Machine, args: string[], tag: string): Promise<{ status: number; stdout: string }> {
  return runCaptured(m, new Uint8Array(readFileSync(BIN)), ['/stack', ...args], { dir: scratch, tag, timeoutMs: 120_000 });
}

for (const cpus of [1, 4]) {
  describe(`stack growth on ${cpus} hart(s)`, () => {
    let m: Machine;
    beforeAll(async () => { m = await bootScheduled({ cpus, root: scratch }); });
    afterAll(async () => { await m?.shutdown(); });
    for (const c of CASES) {
      it(`stack ${c.args.join(' ')}: Linux's outcome, no frame leaked`, async () => {
        const r = await run(m, c.args, `${c.args.join('-').replace(/\//g, '')}-${cpus}`);
        expect(r.stdout).toBe(c.stdout);
        expect(r.status).toBe(0);
        expect(leakedFrames(m)).toBe(0);
      }, 120_000);
    }
  });
}

const hasQemu = hasTool('qemu-riscv64');
describe(hasQemu ? 'stack under qemu-riscv64' : 'stack under qemu-riscv64 (skipped: qemu-riscv64 not installed)', () => {
  for (const c of CASES.filter((x) => x.qemu)) {
    it.skipIf(!hasQemu)(`stack ${c.args.join(' ')} gives the same stdout`, () => {
      const args = c.args.map((a) => (a === '/stack' ? BIN : a));
      const r = spawnSync('qemu-riscv64', [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout).toBe(c.stdout);
      expect(r.status).toBe(0);
    }, 70_000);
  }
});
