/**
 * Run one of the project's TypeScript scripts (bench/index.ts, bin/demo.ts) as a child Node
 * process with tsx loaded, its stdio the CLI's own. Those scripts run their main at import
 * time, so a child keeps them from running inside the CLI's process by accident.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Absolute path of `rel` (relative to the project root). */
export function projectPath(rel: string): string {
  return fileURLToPath(new URL(`../${rel}`, import.meta.url));
}

const tsxLoader = (): string => import.meta.resolve('tsx');

/** Run project script `rel` with `args`; resolves with its exit status (1 if a signal ended it). */
export function runScript(rel: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsxLoader(), projectPath(rel), ...args], { stdio: 'inherit' });
    child.once('error', (e) => reject(new Error(`runScript: cannot start ${rel}: ${e.message}`)));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Run `rel` with `args` to completion, capturing its output (for short queries only). */
export function runScriptCaptured(rel: string, args: string[], timeoutMs = 30_000): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', tsxLoader(), projectPath(rel), ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
