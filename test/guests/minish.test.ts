/**
 * Issue 14's bundled real-world-style guest, minish (guests/minish.c), with what its manifest run
 * (`selftest`, also under qemu-riscv64) cannot show: external commands. The shell is copied into
 * a scratch guest root as /minish and runs scripts that posix_spawn /minish itself — a pipeline
 * of spawned shells in one process group, a missing program (127 and the shell's message on
 * stderr), a spawned job killed by `timeout` through its group, and `status` in a spawned child
 * (its ppid is the spawning shell). The outer shell has job control (-m), the spawned ones not,
 * so a spawned shell's own children stay in the job's group and die with it: every frame is back
 * after each run, on 1 and 4 harts.
 */
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootScheduled, leakedFrames, spawn, wait } from '../../scheduler/api.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
let root = '';
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'coherent-minish-'));
  copyFileSync(join(ROOT, 'guests/bin/minish'), join(root, 'minish'));
});
afterAll(() => { rmSync(root, { recursive: true, force: true }); });

const SCRIPT = [
  "/minish -c 'seq 4' | /minish -c 'wc -l'",
  '/nonexistent; echo $?',
  "timeout 1 /minish -c 'spin'; echo $?",
  "/minish -c 'status'",
  'exit 3',
].join('\n');
const STDOUT = '4\n127\n124\nstatus: pid, tgid, ppid, threads and rss match\n';

for (const cpus of [1, 4]) {
  describe(`minish with external commands on ${cpus} hart(s)`, () => {
    it('spawns itself in pipelines and jobs; 127 for a missing program; timeout kills a spawned group', async () => {
      const m = await bootScheduled({ cpus, memory: 128 * 2 ** 20, root });
      const out = join(root, `out-${cpus}`), err = join(root, `err-${cpus}`);
      const fo = openSync(out, 'w'), fe = openSync(err, 'w'), nul = openSync('/dev/null', 'r+');
      try {
        const elf = new Uint8Array(readFileSync(join(root, 'minish')));
        const { pid } = spawn(m, { elf, argv: ['minish', '-m', '-c', SCRIPT], envp: [], stdio: [nul, fo, fe] });
        const status = await wait(m, pid, 120_000);
        expect(readFileSync(out, 'utf8')).toBe(STDOUT);
        expect(readFileSync(err, 'utf8')).toBe('minish: /nonexistent: No such file or directory\n');
        expect(status).toBe(3);
        expect(leakedFrames(m)).toBe(0);
      } finally {
        closeSync(fo);
        closeSync(fe);
        closeSync(nul);
        await m.shutdown();
      }
    }, 150_000);
  });
}
