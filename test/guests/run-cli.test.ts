/**
 * `bin/coherent run` as a child process: the guest's exact stdout with exactly the environment
 * the CLI was given (the guest inherits it), 139 for a segfault, and exit 2 with the loader's
 * reason for a file that is not a runnable ELF.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { byName, ROOT } from './run-harness.ts';

describe('bin/coherent run (child process)', () => {
  const run = promisify(execFile);
  const cli = join(ROOT, 'bin/coherent');
  const exec = async (args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const r = await run(process.execPath, [cli, 'run', ...args], { env, cwd: ROOT, timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };

  it('hello with exactly the manifest environment: exact stdout, status 0 (the guest inherits the environment)', async () => {
    const g = byName('hello');
    const r = await exec(['--cpus', '2', g.binary, ...g.args], g.env);
    expect(r.stdout).toBe(g.stdout);
    expect(r.code).toBe(0);
  }, 60_000);

  it('segv exits 139 (128 + SIGSEGV) after its output', async () => {
    const r = await exec(['--cpus', '1', 'guests/bin/segv'], {});
    expect(r.stdout).toBe(byName('segv').stdout);
    expect(r.code).toBe(139);
  }, 60_000);

  it('a refused ELF is a usage error (exit 2) naming the reason', async () => {
    const r = await exec(['guests/hello.c'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/guests\/hello\.c' cannot run: elf: not elf/);
  }, 60_000);
});
