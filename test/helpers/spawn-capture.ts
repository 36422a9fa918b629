/**
 * Run one program on a machine with its output captured through a host file, the scaffolding
 * every guest test needs: `runCaptured` on a machine the test keeps for many runs (stdout to a
 * file, stdin and stderr on /dev/null), `runOnFreshMachine` boots a machine of its own rooted
 * in a fresh temporary directory, runs one program, lets the test inspect the machine before it
 * shuts down, and removes the directory.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootScheduled, spawn, wait, type SchedBootOptions } from '../../scheduler/api.ts';
import type { Machine } from '../../scheduler/machine.ts';

/** A captured run: its pid, exit status (128+N for signal N) and everything written to the capture file. */
export interface CapturedRun { pid: number; status: number; stdout: string }

/**
 * Spawn `elf` with `argv`/`envp` on `m`, stdout to `<o.dir>/<o.tag>.out` (o.out: that file name
 * instead); with `o.allToFile` stdin, stdout and stderr are all that file (as a shell's `>f 2>&1 <f`
 * would make them), else stdin and stderr are /dev/null. Resolves with its pid, exit status and the
 * file's text once it exited; rejects if it runs longer than `o.timeoutMs` (default 60 s).
 */
export async function runCaptured(
  m: Machine, elf: Uint8Array, argv: string[],
  o: { dir: string; tag?: string; out?: string; envp?: string[]; timeoutMs?: number; allToFile?: boolean },
): Promise<CapturedRun> {
  const out = join(o.dir, o.out ?? `${o.tag}.out`);
  const fd = openSync(out, 'w');
  const nul = openSync('/dev/null', 'r+');
  try {
    const stdio: [number, number, number] = o.allToFile ? [fd, fd, fd] : [nul, fd, nul];
    const { pid } = spawn(m, { elf, argv, envp: o.envp ?? [], stdio });
    const status = await wait(m, pid, o.timeoutMs ?? 60_000);
    return { pid, status, stdout: readFileSync(out, 'utf8') };
  } finally {
    closeSync(fd);
    closeSync(nul);
  }
}

/**
 * Boot a machine with `boot` (its `root` a fresh temporary directory), run `elf` there once as
 * runCaptured does (all three stdio to `<root>/stdout`), then call `inspect(m, root, run)` while
 * the machine is still up (kernel state after the exit: slots, leaks, files left in the root).
 * The machine is shut down and the directory removed whatever happens; resolves with the run.
 */
export async function runOnFreshMachine(
  boot: Omit<SchedBootOptions, 'root'>, elf: Uint8Array, argv: string[],
  o: { timeoutMs?: number; inspect?: (m: Machine, root: string, run: CapturedRun) => void | Promise<void> } = {},
): Promise<CapturedRun> {
  const dir = mkdtempSync(join(tmpdir(), 'coherent-fresh-'));
  try {
    const m = await bootScheduled({ ...boot, root: dir });
    try {
      const run = await runCaptured(m, elf, argv, { dir, out: 'stdout', allToFile: true, timeoutMs: o.timeoutMs });
      await o.inspect?.(m, dir, run);
      return run;
    } finally {
      await m.shutdown();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
