/**
 * Run one static fixture program (test/fixtures/proc/*) on a machine with a temporary guest
 * root that holds a copy of it at "/<name>" (so it can exec itself), its stdout captured.
 */
import { closeSync, copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootScheduled, leakedFrames, spawn, wait } from '../../scheduler/api.ts';

export interface FixtureResult {
  status: number;
  stdout: string;
  /** Frames not back after the run. */
  leaked: number;
  /** Files left in the guest root besides the program and its output. */
  leftover: string[];
}

/** Boot `cpus` harts, run fixture `name` with `args`, shut down; the result. */
export async function runFixture(name: string, cpus: number, args: string[] = []): Promise<FixtureResult> {
  const bin = new URL(`../fixtures/proc/${name}`, import.meta.url).pathname;
  const root = mkdtempSync(join(tmpdir(), `coherent-${name}-`));
  copyFileSync(bin, join(root, name));
  const m = await bootScheduled({ cpus, memory: 64 * 2 ** 20, root });
  const out = join(root, 'out');
  const fd = openSync(out, 'w');
  const nul = openSync('/dev/null', 'r+');
  try {
    const { pid } = spawn(m, { elf: new Uint8Array(readFileSync(bin)), argv: [`/${name}`, ...args], envp: [], stdio: [nul, fd, nul] });
    const status = await wait(m, pid, 30_000);
    for (let i = 0; i < 100 && leakedFrames(m) > 0; i++) await new Promise((r) => setTimeout(r, 10)); // reaped grandchildren
    return { status, stdout: readFileSync(out, 'utf8'), leaked: leakedFrames(m), leftover: readdirSync(root).filter((f) => f !== name && f !== 'out') };
  } finally {
    closeSync(fd);
    closeSync(nul);
    await m.shutdown();
    rmSync(root, { recursive: true, force: true });
  }
}
