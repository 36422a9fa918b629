/**
 * The bundled guests whose checks depend on signal delivery (guests/manifest.json), on 1 and
 * on 4 harts, through the process API with stdout captured: exact stdout and exit status.
 *   signals  — SIGSEGV with si_addr/si_code and a ucontext edited by the handler, SA_ONSTACK,
 *              kill/raise siginfo, blocked-then-unblocked delivery, SIGCHLD + sigsuspend;
 *   segv     — no handler: killed by SIGSEGV, status 139;
 *   heap, mprotect, mmap — SIGSEGV probes through sigsetjmp/siglongjmp;
 *   tlbrace  — reader threads on several harts survive the unmap window with a SIGSEGV handler.
 * filemap (SIGBUS past the end of a file) needs a writable --root: run-guests-*.test.ts runs it.
 * The guests of one hart count run at the same time on one machine; no frame may leak.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootScheduled, leakedFrames, spawn, wait } from '../../scheduler/api.ts';
import type { Machine } from '../../scheduler/machine.ts';

interface Guest {
  name: string;
  binary: string;
  args: string[];
  env: Record<string, string>;
  stdout: string | null;
  exitStatus: number;
}

const ROOT = new URL('../../', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(ROOT, 'guests/manifest.json'), 'utf8')) as { guests: Guest[] };
const byName = (n: string): Guest => manifest.guests.find((g) => g.name === n)!;
const RUN: Record<number, string[]> = { 1: ['signals', 'segv', 'heap', 'mprotect', 'mmap'], 4: ['signals', 'segv', 'mprotect', 'mmap', 'tlbrace'] };

let scratch = '';
beforeAll(() => { scratch = mkdtempSync(join(tmpdir(), 'coherent-signals-')); });
afterAll(() => { rmSync(scratch, { recursive: true, force: true }); });

for (const cpus of [1, 4]) {
  describe(`signal guests on ${cpus} hart(s)`, () => {
    let m: Machine;
    const results = new Map<string, Promise<{ status: number; stdout: string }>>();
    beforeAll(async () => {
      m = await bootScheduled({ cpus, memory: 128 * 2 ** 20, root: scratch });
      for (const name of RUN[cpus]!) {
        const g = byName(name);
        const out = join(scratch, `${name}-${cpus}.out`);
        const fd = openSync(out, 'w');
        const nul = openSync('/dev/null', 'r+');
        const elf = new Uint8Array(readFileSync(join(ROOT, g.binary)));
        const envp = Object.entries(g.env).map(([k, v]) => `${k}=${v}`);
        const { pid } = spawn(m, { elf, argv: [name, ...g.args], envp, stdio: [nul, fd, nul] });
        results.set(name, wait(m, pid, 60_000).then((status) => ({ status, stdout: readFileSync(out, 'utf8') }))
          .finally(() => { closeSync(fd); closeSync(nul); }));
      }
    }, 30_000);
    afterAll(async () => { await m?.shutdown(); });

    for (const name of RUN[cpus]!) {
      const g = byName(name);
      it(`${name}: exact stdout, exit status ${g.exitStatus}`, async () => {
        const r = await results.get(name)!;
        expect(r.stdout).toBe(g.stdout);
        expect(r.status).toBe(g.exitStatus);
      }, 60_000);
    }
    it('no frame leaked', async () => {
      await Promise.all(results.values());
      expect(leakedFrames(m)).toBe(0);
    }, 60_000);
  });
}
