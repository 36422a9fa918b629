/**
 * The host's stdin as a poll / epoll source (kernel/fs/host-stdin.ts hostStreamPoll): `coherent run
 * guests/bin/pollio stdin` with an open pipe as stdin (through `cat |`: Node's own child pipes are
 * sockets), silent until the guest says "ready for input", then "hello\nworld\n" and EOF. The
 * guest checks nothing is readable before, waits with epoll_wait and poll (woken by the host's
 * data: the wait re-looks every POLL_MS), reads 12 bytes, then sees POLLHUP — on 1 and 4 harts
 * and under qemu-riscv64. Before, ppoll was ENOSYS and epoll_ctl on stdin did not exist.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasTool } from '../../helpers/tools.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const EXPECTED = 'pollio: stdin: nothing to read yet\npollio: ready for input\n'
  + 'pollio: stdin: 12 bytes through epoll_wait and poll, then POLLHUP\npollio: OK\n';

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const c = spawn('sh', ['-c', 'cat | exec "$0" "$@"', cmd, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    let stdout = '', answered = false, timedOut = false;
    c.stdout!.on('data', (d) => {
      stdout += d;
      if (!answered && stdout.includes('ready for input')) {
        answered = true;
        c.stdin!.end('hello\nworld\n');
      }
    });
    const t = setTimeout(() => { timedOut = true; process.kill(-c.pid!, 'SIGKILL'); }, 40_000);
    c.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, timedOut }); });
  });
}

describe("the host's stdin in poll and epoll", () => {
  for (const cpus of ['1', '4']) {
    it(`pollio stdin on ${cpus} hart(s)`, async () => {
      const r = await run(process.execPath, [join(ROOT, 'bin/coherent'), 'run', '--cpus', cpus, 'guests/bin/pollio', 'stdin']);
      expect(r.timedOut).toBe(false);
      expect(r.stdout).toBe(EXPECTED);
      expect(r.code).toBe(0);
    }, 60_000);
  }
  it.skipIf(!hasTool('qemu-riscv64'))('qemu-riscv64 agrees', async () => {
    const r = await run('qemu-riscv64', ['guests/bin/pollio', 'stdin']);
    expect(r.stdout).toBe(EXPECTED);
    expect(r.code).toBe(0);
  }, 60_000);
});
