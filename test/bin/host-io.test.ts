/**
 * Issue 13, host I/O of `bin/coherent run` as a child process, on 1 and 4 harts:
 *  - item 10: a guest that ignores write errors (guests/spew) behind a reader that goes away
 *    dies of SIGPIPE (status 141) — before, it only got EPIPE and ran forever; with SIGPIPE
 *    ignored its write fails with EPIPE;
 *  - item 9: threads blocked reading the host's stdin (an open pipe nobody writes yet,
 *    guests/stdinwait) do not hold their hart: SIGKILL, exit, shootdowns from other threads and
 *    a signal (EINTR) all get through; then the input arrives and is read — before, the read
 *    blocked the hart's worker thread and each run hung;
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

interface ChildOptions {
  cwd?: string;
  /** Close stdout once this many bytes arrived (a `| head -c`). */
  closeAfter?: number;
  timeoutMs?: number;
  /** Keep stdin an open pipe, silent until stdout contains `after`; then write `text` and close it. */
  stdin?: { after: string; text: string };
}

/** Run `cmd args` with stdout and stderr piped (see ChildOptions); killed after `timeoutMs` (timedOut). */
function runChild(cmd: string, args: string[], o: ChildOptions = {}): Promise<Ended> {
  return new Promise((resolve) => {
    // With `stdin`: through `cat |` so the command's stdin is a real pipe (Node's own child pipes are sockets).
    const argv = o.stdin === undefined ? [cmd, ...args] : ['sh', '-c', 'cat | exec "$0" "$@"', cmd, ...args];
    const c = spawn(argv[0]!, argv.slice(1), { cwd: o.cwd ?? ROOT, stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '', stderr = '', timedOut = false, answered = false;
    c.stderr!.on('data', (d) => { stderr += d; });
    c.stdout!.on('data', (d) => {
      stdout += d;
      if (o.closeAfter !== undefined && stdout.length >= o.closeAfter) c.stdout!.destroy();
      if (o.stdin && !answered && stdout.includes(o.stdin.after)) {
        answered = true;
        c.stdin!.end(o.stdin.text);
      }
    });
    const t = setTimeout(() => { timedOut = true; process.kill(-c.pid!, 'SIGKILL'); }, o.timeoutMs ?? 30_000); // its process group
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
    // Behind a real blocking pipe to `head` (Node's own child pipes may be non-blocking, and qemu
    // passes a full pipe's EAGAIN to the guest): the exit status of qemu is bash's PIPESTATUS.
    const piped = (args: string[]) => runChild('bash', ['-c', '"$@" | head -c 10 >/dev/null; exit ${PIPESTATUS[0]}', '_', 'qemu-riscv64', ...args]);
    const a = await piped(['guests/bin/spew']);
    expect(a.code).toBe(141); // killed by SIGPIPE
    const b = await piped(['guests/bin/spew', '0', 'ign']);
    expect(b.code).toBe(0);
    expect(b.stderr).toMatch(/EPIPE/);
  }, 60_000);
});

describe('reading the host\'s stdin does not block the hart (issue 13 item 9)', () => {
  const EXPECTED = 'stdinwait: a blocked reader died of SIGKILL\nstdinwait: exit with a thread blocked reading\n'
    + 'stdinwait: 200 munmaps while a thread read; a signal interrupted the read (EINTR)\nstdinwait: ready for input\n'
    + 'stdinwait: read 12 bytes of input, first line \'hello\'\nstdinwait: OK\n';
  const stdin = { after: 'ready for input', text: 'hello\nworld\n' };
  for (const cpus of ['1', '4']) {
    it(`stdinwait stdin: SIGKILL, exit, shootdowns and a signal get past readers of an open silent stdin; then its data (${cpus} hart(s))`, async () => {
      const r = await coherent(['--cpus', cpus, 'guests/bin/stdinwait', 'stdin'], { stdin, timeoutMs: 40_000 });
      expect(r.timedOut).toBe(false);
      expect(r.stdout).toBe(EXPECTED);
      expect(r.code).toBe(0);
    }, 60_000);
  }
  it.skipIf(!hasQemu)(`${hasQemu ? '' : '(skipped: qemu-riscv64 not installed) '}qemu-riscv64 agrees`, async () => {
    const r = await runChild('qemu-riscv64', ['guests/bin/stdinwait', 'stdin'], { stdin, timeoutMs: 40_000 });
    expect(r.stdout).toBe(EXPECTED);
    expect(r.code).toBe(0);
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
