/**
 * Issue 13, "Limits that must go": memory pressure — the guest `reclaim` (guests/reclaim.c) on
 * a 16 MiB machine, 1 and 4 harts, and under qemu-riscv64 (ample memory there: the same output).
 * - `files 24`: a 24 MiB file walked through 4 MiB mmap windows (shared reads, private
 *   copies, shared writes) and checked with pread: the page cache must evict clean, unmapped
 *   pages and write dirty ones back first (kernel/mm/pagecache.ts evictPages). Before: the
 *   cache never gave pages back and the guest died of SIGBUS (status 135) in the first pass.
 * - `oom 10 8`: a 10 MiB hog blocked beside an 8 MiB sentinel: true exhaustion, the OOM killer
 *   (kernel/signal/oom.ts) must SIGKILL the hog (most resident pages) and the sentinel finish.
 *   Before: the sentinel, which faulted when RAM ran out, died of SIGBUS (status 135).
 * Every frame comes back after each run.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SH_OOM_VICTIM } from '../../kernel/proc/layout.ts';
import { bootScheduled, leakedFrames, spawn, wait } from '../../scheduler/api.ts';
import { hasTool } from '../helpers/tools.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'guests/bin/reclaim');
const MiB = 2 ** 20;
const out = (...lines: string[]): string => lines.map((l) => `reclaim: ${l}\n`).join('') + 'reclaim: OK\n';

const CASES: { args: string[]; stdout: string; oomKill: boolean }[] = [
  {
    args: ['files', '24'], oomKill: false,
    stdout: out('wrote a 24 MiB file', 'pass 0 (shared) saw every page', 'pass 1 (private) saw every page',
      'pass 2 (shared) saw every page', 'every shared write reached the file'),
  },
  {
    args: ['oom', '10', '8'], oomKill: true,
    stdout: out('the hog holds 10 MiB', 'the sentinel touched and checked 8 MiB', 'the hog was killed by SIGKILL'),
  },
];

let scratch = '';
beforeAll(() => { scratch = mkdtempSync(join(tmpdir(), 'coherent-reclaim-')); });
afterAll(() => { rmSync(scratch, { recursive: true, force: true }); });

for (const cpus of [1, 4]) {
  describe(`reclaim on ${cpus} hart(s), --memory 16M`, () => {
    for (const c of CASES) {
      it(`reclaim ${c.args.join(' ')}: exact stdout, exit 0, no frame leaked`, async () => {
        const m = await bootScheduled({ cpus, memory: 16 * MiB, root: scratch });
        const path = join(scratch, `${c.args[0]}-${cpus}.out`);
        const fd = openSync(path, 'w');
        const nul = openSync('/dev/null', 'r+');
        try {
          const { pid } = spawn(m, { elf: new Uint8Array(readFileSync(BIN)), argv: ['reclaim', ...c.args], envp: [], stdio: [nul, fd, nul] });
          const status = await wait(m, pid, 120_000);
          expect(readFileSync(path, 'utf8')).toBe(c.stdout);
          expect(status).toBe(0);
          // The OOM killer acted (it records its victim's pid) exactly when memory truly ran out.
          const victim = Atomics.load(m.ctl.i32, m.ctl.layout.schedHeader / 4 + SH_OOM_VICTIM);
          expect(victim !== 0).toBe(c.oomKill);
          if (c.oomKill) expect(victim).not.toBe(pid); // the hog, not the sentinel
          expect(leakedFrames(m)).toBe(0);
        } finally {
          closeSync(fd);
          closeSync(nul);
          await m.shutdown();
        }
      }, 120_000);
    }
  });
}

const hasQemu = hasTool('qemu-riscv64');
describe(hasQemu ? 'reclaim under qemu-riscv64' : 'reclaim under qemu-riscv64 (skipped: qemu-riscv64 not installed)', () => {
  for (const c of CASES) {
    it.skipIf(!hasQemu)(`reclaim ${c.args.join(' ')} gives the same stdout`, () => {
      const r = spawnSync('qemu-riscv64', [BIN, ...c.args], { encoding: 'utf8', timeout: 60_000, cwd: scratch });
      expect(r.stdout).toBe(c.stdout);
      expect(r.status).toBe(0);
    }, 70_000);
  }
});
