/**
 * Run one program on a booted machine with its stdout captured through a host file (fd 1),
 * stdin and stderr on /dev/null; shared by the guest tests that keep one machine for many runs.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, wait } from '../../scheduler/api.ts';
import type { Machine } from '../../scheduler/machine.ts';

/** Spawn `elf` with `argv`/`envp` on `m`, stdout to `<dir>/<tag>.out`; resolve with its exit status and stdout. */
export async function runCaptured(
  m: Machine, elf: Uint8Array, argv: string[], o: { dir: string; tag: string; envp?: string[]; timeoutMs?: number },
): Promise<{ status: number; stdout: string }> {
  const out = join(o.dir, `${o.tag}.out`);
  const fd = openSync(out, 'w');
  const nul = openSync('/dev/null', 'r+');
  try {
    const { pid } = spawn(m, { elf, argv, envp: o.envp ?? [], stdio: [nul, fd, nul] });
    const status = await wait(m, pid, o.timeoutMs ?? 60_000);
    return { status, stdout: readFileSync(out, 'utf8') };
  } finally {
    closeSync(fd);
    closeSync(nul);
  }
}
