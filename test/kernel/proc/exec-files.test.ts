/**
 * execve from files in the guest root (issue 13, items 7 and 8), with the bundled guest fsedge
 * copied into a scratch root, on 1 and 4 harts:
 *  - argv and envp strings are bytes end to end: non-UTF-8 strings reach the new program
 *    unchanged (fsedge argv-parent / argv-child);
 *  - execve reads only an executable's headers: a 1.5 GiB sparse file is refused (ENOEXEC)
 *    without the host process's resident size growing by anything near its size while it runs. (A file of
 *    2 GiB or more is checked by the fsedge guest itself: before the fix Node refused to read
 *    it and the guest saw EIO.)
 * No frame leaks after any run.
 */
import { closeSync, copyFileSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../../helpers/spawn-capture.ts';
import { bootScheduled, leakedFrames } from '../../../scheduler/api.ts';
import type { Machine } from '../../../scheduler/machine.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const MiB = 2 ** 20;
const SPARSE = 1.5 * 1024 * MiB;

let scratch = '';
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'coherent-exec-'));
  copyFileSync(join(ROOT, 'guests/bin/fsedge'), join(scratch, 'fsedge'));
  const fd = openSync(join(scratch, 'sparse'), 'w');
  writeSync(fd, Buffer.from('not an executable, just a 1.5 GiB hole\n'));
  ftruncateSync(fd, SPARSE);
  closeSync(fd);
});
afterAll(() => { rmSync(scratch, { recursive: true, force: true }); });

/** Run fsedge (from its bytes) with `args` on `m`; its stdout through a host file. */
async function run(m: Machine, args: string[], tag: string): Promise<{ status: number; stdout: string }> {
  const elf = new Uint8Array(readFileSync(join(scratch, 'fsedge')));
  return runCaptured(m, elf, ['fsedge', ...args], { dir: scratch, out: `out-${tag}` });
}

for (const cpus of [1, 4]) {
  describe(`execve from the guest root on ${cpus} hart(s)`, () => {
    let m: Machine;
    beforeAll(async () => { m = await bootScheduled({ cpus, memory: 128 * MiB, root: scratch }); });
    afterAll(async () => { await m?.shutdown(); });

    it('argv and envp bytes that are not UTF-8 reach the new program unchanged', async () => {
      const r = await run(m, ['argv-parent', '/fsedge'], `argv-${cpus}`);
      expect(r.stdout).toBe('fsedge: argv and envp bytes survive execve unchanged\nfsedge: OK\n');
      expect(r.status).toBe(0);
      expect(leakedFrames(m)).toBe(0);
    }, 60_000);

    it('a 1.5 GiB sparse file is refused (ENOEXEC) without reading it into host memory', async () => {
      // The harts are threads of this process: sample its resident size while the guest runs
      // (a file read into host memory stays resident at least as long as parsing it takes).
      const before = process.memoryUsage.rss();
      let peak = before;
      const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 2);
      let r: { status: number; stdout: string };
      try {
        r = await run(m, ['execfile', '/sparse'], `sparse-${cpus}`);
      } finally {
        clearInterval(sampler);
      }
      const grew = peak - before;
      expect(r.stdout).toBe('fsedge: execve /sparse: Exec format error\nfsedge: OK\n');
      expect(r.status).toBe(0);
      expect(grew).toBeLessThan(SPARSE / 4);
      expect(leakedFrames(m)).toBe(0);
    }, 60_000);
  });
}
