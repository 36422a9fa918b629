/**
 * Issue 13, "Limits that must go": the guest `limits` (guests/limits.c) on the default
 * 256 MiB machine, 1 and 4 harts, and under qemu-riscv64 (the reference) when installed.
 * - `maps 65000`: 65,000 separate one-page mappings, each writable one written and read back,
 *   then mmap until it fails — with ENOMEM, past 65,000 (max_map_count 65,530). Before the
 *   region lists moved into RAM frames (kernel/mm/regions.ts) the 256-record table gave
 *   ENOMEM at the 252nd mapping.
 * - `procs 300`: 300 forked processes alive at once, all reaped. Before the tables were sized
 *   from --memory, fork failed (ENOMEM) at the 64th process.
 * - `nproc 50`: RLIMIT_NPROC 50 — fork fails with EAGAIN at the 50th task (before: unlimited).
 * - `forkall`: on a 16 MiB machine fork until it fails — EAGAIN when the tables are full, as
 *   Linux's fork (before: ENOMEM from the full address-space table).
 * Every frame comes back after each run. Cases qemu-riscv64 cannot model say why (noQemu).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootScheduled, leakedFrames } from '../../scheduler/api.ts';
import type { Machine } from '../../scheduler/machine.ts';
import { hasTool } from '../helpers/tools.ts';
import { runCaptured } from '../helpers/spawn-capture.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'guests/bin/limits');
const CASES: { args: string[]; stdout: string; memory?: number; noQemu?: string }[] = [
  {
    args: ['maps', '65000'],
    stdout: 'limits: at least N mappings before mmap failed\nlimits: the next mmap failed with ENOMEM\n' +
      'limits: every byte read back, every mapping unmapped\nlimits: OK\n',
  },
  { args: ['procs', '300'], stdout: 'limits: 300 processes alive at once, all reaped\nlimits: OK\n' },
  // RLIMIT_NPROC 50: the 50th task fails with EAGAIN (before: no limit, 100 forks succeeded).
  // Not under qemu: the host exempts root, and as another user qemu's own helper threads count.
  {
    args: ['nproc', '50'], stdout: 'limits: fork failed with EAGAIN at RLIMIT_NPROC, all children reaped\nlimits: OK\n',
    noQemu: 'root is exempt from RLIMIT_NPROC on the host',
  },
  // A 16 MiB machine: the address-space table (256 slots) fills; fork must say EAGAIN, as
  // Linux's fork at its task limits (before: ENOMEM from the full address-space table).
  {
    args: ['forkall', '100000'], memory: 16 * 2 ** 20,
    stdout: 'limits: fork failed with EAGAIN when the tables were full, all children reaped\nlimits: OK\n',
    noQemu: 'would fork until the host\'s own limits',
  },
];

let scratch = '';
beforeAll(() => { scratch = mkdtempSync(join(tmpdir(), 'coherent-limits-')); });
afterAll(() => { rmSync(scratch, { recursive: true, force: true }); });

async function run(m: Machine, args: string[], tag: string): Promise<{ status: number; stdout: string }> {
  return runCaptured(m, new Uint8Array(readFileSync(BIN)), ['limits', ...args], { dir: scratch, tag, timeoutMs: 240_000 });
}

for (const cpus of [1, 4]) {
  describe(`limits on ${cpus} hart(s), default --memory`, () => {
    let m: Machine;
    beforeAll(async () => { m = await bootScheduled({ cpus, root: scratch }); });
    afterAll(async () => { await m?.shutdown(); });
    for (const c of CASES.filter((x) => x.memory === undefined)) {
      it(`limits ${c.args.join(' ')}: exact stdout, exit 0, no frame leaked`, async () => {
        const r = await run(m, c.args, `${c.args[0]}-${cpus}`);
        expect(r.stdout).toBe(c.stdout);
        expect(r.status).toBe(0);
        expect(leakedFrames(m)).toBe(0);
      }, 240_000);
    }
  });
  for (const c of CASES.filter((x) => x.memory !== undefined)) {
    describe(`limits ${c.args.join(' ')} on ${cpus} hart(s), --memory ${c.memory! / 2 ** 20}M`, () => {
      it('exact stdout, exit 0, no frame leaked', async () => {
        const m = await bootScheduled({ cpus, root: scratch, memory: c.memory });
        try {
          const r = await run(m, c.args, `${c.args[0]}-${cpus}`);
          expect(r.stdout).toBe(c.stdout);
          expect(r.status).toBe(0);
          expect(leakedFrames(m)).toBe(0);
        } finally {
          await m.shutdown();
        }
      }, 240_000);
    });
  }
}

const hasQemu = hasTool('qemu-riscv64');
describe(hasQemu ? 'limits under qemu-riscv64' : 'limits under qemu-riscv64 (skipped: qemu-riscv64 not installed)', () => {
  for (const c of CASES.filter((x) => !x.noQemu)) {
    it.skipIf(!hasQemu)(`limits ${c.args.join(' ')} gives the same stdout`, () => {
      const r = spawnSync('qemu-riscv64', [BIN, ...c.args], { encoding: 'utf8', timeout: 120_000 });
      expect(r.stdout).toBe(c.stdout);
      expect(r.status).toBe(0);
    }, 130_000);
  }
});
