/**
 * The Linux process model (issue 14 item 1) with the bundled guests procgroup and procspawn,
 * on 1 and 4 harts with the sanitizer reporting: init is pid 1 and the first guest's parent;
 * process groups, sessions, kill(0 / -pgid), wait4(0 / -pgid), orphans (a subreaper, and init
 * reaping the rest); fork inheriting handlers, ignored signals and the mask; exec resetting
 * handlers but keeping SIG_IGN and the mask; vfork (a killable-only wait), vfork+exec and
 * posix_spawn. The guests' exec checks need their own file inside the guest root, so the
 * machine's root is a scratch directory holding a copy of guests/bin/procspawn.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../../helpers/spawn-capture.ts';
import { labStats } from '../../../kernel/lab/stats.ts';
import { P_STATE, PS_FREE } from '../../../kernel/proc/layout.ts';
import { procWord } from '../../../kernel/proc/sys-proc-table.ts';
import { bootScheduled, leakedFrames } from '../../../scheduler/api.ts';
import type { Machine } from '../../../scheduler/machine.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(ROOT, 'guests/manifest.json'), 'utf8')) as { guests: { name: string; stdout: string }[] };
const manifestStdout = (name: string): string => manifest.guests.find((g) => g.name === name)!.stdout;
const elf = (name: string): Uint8Array => new Uint8Array(readFileSync(join(ROOT, 'guests/bin', name)));

function usedSlots(m: Machine): number {
  let n = 0;
  for (let p = 0; p < m.ctl.layout.sched.maxProcesses; p++) if (Atomics.load(m.ctl.i32, procWord(m.ctl, p, P_STATE)) !== PS_FREE) n++;
  return n;
}

let root = '';
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'coherent-procmodel-'));
  copyFileSync(join(ROOT, 'guests/bin/procspawn'), join(root, 'procspawn')); // execve("/procspawn") inside the guest root
});
afterAll(() => { rmSync(root, { recursive: true, force: true }); });

for (const cpus of [1, 4]) {
  describe(`process model on ${cpus} hart(s)`, () => {
    let m: Machine;
    beforeAll(async () => { m = await bootScheduled({ cpus, memory: 128 * 2 ** 20, root, sanitize: 'report' }); });
    afterAll(async () => { await m?.shutdown(); });

    /** Run guest `name` with `args`; its pid, status and stdout, after every process slot is free again (bounded). */
    async function run(name: string, args: string[]): Promise<{ pid: number; status: number; stdout: string }> {
      const r = await runCaptured(m, elf(name), [name, ...args], { dir: root, out: `${name}-${cpus}-${args.join('_').replace(/[^a-z0-9_-]/gi, '')}`, timeoutMs: 50_000 });
      for (let i = 0; i < 200 && usedSlots(m) > 0; i++) await new Promise((r) => setTimeout(r, 10));
      return r;
    }

    function expectClean(): void {
      expect(usedSlots(m)).toBe(0); // every child, orphan and zombie reaped
      expect(leakedFrames(m)).toBe(0);
      expect(labStats(m.ctl).sanitizer.violations).toBe(0);
    }

    it('init is pid 1: the first guest has pid >= 2, parent 1, its own group in session 1', async () => {
      const r = await run('procgroup', ['print-ids']);
      expect(r.pid).toBeGreaterThanOrEqual(2);
      expect(r.stdout).toBe(`procgroup: pid ${r.pid} ppid 1 pgid ${r.pid} sid 1\nprocgroup: OK\n`);
      expect(r.status).toBe(0);
      expectClean();
    }, 60_000);

    it('procgroup: groups, sessions, kill(0 / -pgid), wait4(0 / -pgid), errnos, subreaper and parent-death signal', async () => {
      const r = await run('procgroup', []);
      expect(r.stdout).toBe(manifestStdout('procgroup'));
      expect(r.status).toBe(0);
      expectClean();
    }, 60_000);

    it('an orphan without a subreaper is re-parented to init (pid 1), which reaps it', async () => {
      const r = await run('procgroup', ['orphan-to-init']);
      expect(r.stdout).toBe("procgroup: orphan's parent is now pid 1\nprocgroup: OK\n");
      expect(r.status).toBe(0);
      expectClean();
    }, 60_000);

    it('procspawn: fork inherits handlers/SIG_IGN/mask, exec keeps SIG_IGN and mask, vfork, vfork+exec, posix_spawn', async () => {
      const r = await run('procspawn', ['exec=/procspawn']);
      expect(r.stdout).toBe([
        'procspawn: fork: handler, sa_flags, sa_mask, SIG_IGN and the blocked mask inherited; pending signals not',
        'procspawn: vfork: parent suspended until the child exited; posix_spawn of a missing file ENOENT',
        'procspawn: attrs: prctl name/dumpable, personality, getres[ug]id, capget as Linux answers them',
        "procspawn: exec: handlers reset to SIG_DFL, SIG_IGN and the blocked mask kept; setpgid then EACCES",
        'procspawn: vfork+exec: the parent resumed after the child\'s exec',
        'procspawn: posix_spawn: ran with its own group, the given mask and SIG_DFL',
        'procspawn: OK',
        '',
      ].join('\n'));
      expect(r.status).toBe(0);
      expectClean();
    }, 60_000);
  });
}
