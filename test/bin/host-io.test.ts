/**
 * Issue 13, host I/O of `bin/coherent run` as a child process, on 1 and 4 harts:
 *  - item 10: a guest that ignores write errors (guests/spew) behind a reader that goes away
 *    dies of SIGPIPE (status 141) — before, it only got EPIPE and ran forever; with SIGPIPE
 *    ignored its write fails with EPIPE;
 *  - item 11: descriptors opened on one hart and closed on another (guests/fdhop): nothing of
 *    the emulator in the guest's stderr — before, Node printed "File descriptor N closed but
 *    not opened in unmanaged mode" there (hart workers tracked their host fds).
 * Each is checked under qemu-riscv64 (the reference) when installed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasTool } from '../helpers/tools.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/coherent');
const hasQemu = hasTool('qemu-riscv64');

interface Ended { code: number | null; signal: string | null; stdout: string; stderr: string; timedOut: boolean }

/**
 * Run `cmd args` with stdout and stderr piped; `stdin` 'ignore' or a string written then
 * closed. With `closeAfter`, stdout is closed once that many bytes arrived (a `| head -c`).
 * Killed after `timeoutMs` (timedOut).
 */
function runChild(cmd: string, args: string[], o: { cwd?: string; closeAfter?: number; timeoutMs?: number; stdin?: string } = {}): Promise<Ended> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { cwd: o.cwd ?? ROOT, stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (o.stdin !== undefined) c.stdin!.end(o.stdin);
    let stdout = '', stderr = '', timedOut = false;
    c.stderr!.on('data', (d) => { stderr += d; });
    c.stdout!.on('data', (d) => {
      stdout += d;
      if (o.closeAfter !== undefined && stdout.length >= o.closeAfter) c.stdout!.destroy();
    });
    const t = setTimeout(() => { timedOut = true; c.kill('SIGKILL'); }, o.timeoutMs ?? 30_000);
    c.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout, stderr, timedOut }); });
  });
}
const coherent = (args: string[], o?: Parameters<typeof runChild>[2]): Promise<Ended> =>
  runChild(process.execPath, [CLI, 'run', ...args], o);

describe('SIGPIPE on a host write without a reader (issue 13 item 10)', () => {
  for (const cpus of ['1', '4']) {
    it(`spew behind a reader that leaves: killed by SIGPIPE, status 141 (${cpus} hart(s))`, async () => {
      const r = await coherent(['--cpus', cpus, 'guests/bin/spew'], { closeAfter: 10 });
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(141);
      expect(r.stderr).toBe('');
    }, 60_000);
    it(`spew with SIGPIPE ignored: the write fails with EPIPE (${cpus} hart(s))`, async () => {
      const r = await coherent(['--cpus', cpus, 'guests/bin/spew', '0', 'ign'], { closeAfter: 10 });
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/^spew: write failed after \d+ lines: EPIPE\n$/);
    }, 60_000);
  }
  it.skipIf(!hasQemu)(`${hasQemu ? '' : '(skipped: qemu-riscv64 not installed) '}qemu-riscv64 agrees: 141, and EPIPE when ignored`, async () => {
    const a = await runChild('qemu-riscv64', ['guests/bin/spew'], { closeAfter: 10 });
    expect(a.signal).toBe('SIGPIPE');
    const b = await runChild('qemu-riscv64', ['guests/bin/spew', '0', 'ign'], { closeAfter: 10 });
    expect(b.code).toBe(0);
    expect(b.stderr).toMatch(/EPIPE/);
  }, 60_000);
});

describe('nothing of the emulator in the guest\'s stderr (issue 13 item 11)', () => {
  for (const cpus of ['1', '4']) {
    it(`fdhop: descriptors closed on another hart than their opener's, stderr empty (${cpus} hart(s))`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'coherent-fdhop-'));
      try {
        const r = await coherent(['--cpus', cpus, '--root', dir, join(ROOT, 'guests/bin/fdhop')]);
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe('fdhop: 288 descriptors closed by a thread other than their opener\nfdhop: OK\n');
        expect(r.code).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  }
});
