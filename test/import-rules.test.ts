/**
 * The layering rule of DESIGN.md section 1 and kernel/README.md, checked on every source file:
 *
 *   1. `cpu/` (the hardware) imports nothing of `kernel/`, `scheduler/`, `bin/` or `bench/`.
 *   2. `kernel/` imports nothing of `scheduler/`, `bin/` or `bench/`.
 *   3. `scheduler/` imports nothing of `bin/` or `bench/`.
 *   4. Every kernel file lives at the top of `kernel/` (what every subsystem shares) or in one of
 *      the subsystem folders below, and each subsystem folder has a README.md.
 *   5. A file outside subsystem S (another subsystem, the top of kernel/, scheduler/, bin/,
 *      bench/) imports S only through S's public entry files (PUBLIC below, also listed in S's
 *      README). Tests may reach anything.
 *
 * An exception is a named (importer, target) pair with the reason; keep the list short.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Subsystem folder → its public entry files (what other folders may import). */
const PUBLIC: Record<string, string[]> = {
  mm: ['aspace.ts', 'mmap.ts', 'fault.ts', 'cow.ts', 'pagecache.ts', 'pagetable.ts', 'uaccess.ts', 'stale.ts',
    'shootdown.ts', 'frames.ts', 'layout.ts', 'abi.ts', 'sys-mm.ts', 'sys-mremap.ts', 'file-unmap.ts', 'mlock.ts'],
  fs: ['fdtable.ts', 'hostfs.ts', 'pipe.ts', 'sys-fs-env.ts', 'sys-fs.ts', 'sys-fs-register.ts', 'layout.ts',
    'procinfo.ts', 'special.ts', 'fifo.ts', 'poll-abi.ts'],
  proc: ['elf.ts', 'exec.ts', 'initstack.ts', 'futex.ts', 'sys-proc.ts', 'sys-proc-table.ts', 'sys-info.ts', 'layout.ts',
    'cputime.ts', 'sys-rusage.ts', 'sys-priority.ts'],
  signal: ['signals.ts', 'state.ts', 'send.ts', 'deliver.ts', 'sigframe.ts', 'sys-signal.ts', 'layout.ts', 'oom.ts',
    'timers.ts', 'sys-timer.ts'],
  sync: ['lock.ts', 'mutex.ts', 'rwlock.ts'],
  lab: ['inject.ts', 'sanitizer.ts', 'stats.ts', 'trace.ts', 'trace-export.ts', 'trace-layout.ts', 'layout.ts'],
};

/** Known crossings of rule 5, each with its reason. */
const EXCEPTIONS: Array<[importer: string, target: string, reason: string]> = [];

const FOLDERS = ['cpu', 'kernel', 'scheduler', 'bin', 'bench'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sources(rel));
    else if (/\.(ts|mjs)$/.test(name)) out.push(rel);
  }
  return out;
}

/** Relative import targets of one file, repo-relative. */
function importsOf(file: string): string[] {
  // Comment lines may show example imports; only code counts.
  const src = readFileSync(join(ROOT, file), 'utf8').split('\n').filter((l) => !/^\s*(\*|\/\*|\/\/)/.test(l)).join('\n');
  const specs = [...src.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => normalize(join(dirname(file), s)));
}

const top = (p: string): string => p.split('/')[0]!;
/** The kernel subsystem of a path, '' for the top of kernel/, undefined outside kernel/. */
const subsystem = (p: string): string | undefined => {
  const parts = p.split('/');
  if (parts[0] !== 'kernel') return undefined;
  return parts.length > 2 ? parts[1]! : '';
};

const files = FOLDERS.flatMap(sources);
const edges = files.flatMap((f) => importsOf(f).map((t) => [f, t] as const));

/** Edges that reach a subsystem's private file from outside it (minus EXCEPTIONS). */
function crossings(list: ReadonlyArray<readonly [string, string]>): string[] {
  const allowed = new Set(EXCEPTIONS.map(([f, t]) => `${f} -> ${t}`));
  return list.filter(([f, t]) => {
    const st = subsystem(t);
    if (st === undefined || st === '') return false; // not a subsystem file
    if (subsystem(f) === st) return false; // inside the same subsystem
    return !PUBLIC[st]?.includes(relative(join('kernel', st), t)) && !allowed.has(`${f} -> ${t}`);
  }).map(([f, t]) => `${f} -> ${t}`);
}

describe('import rules (DESIGN.md section 1, kernel/README.md)', () => {
  it('sees the source tree', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(edges.length).toBeGreaterThan(300);
  });

  it('every relative import resolves to a file', () => {
    const missing = edges.filter(([, t]) => !existsSync(join(ROOT, t))).map(([f, t]) => `${f} -> ${t}`);
    expect(missing).toEqual([]);
  });

  it('layers: cpu/ stands alone, kernel/ never reaches scheduler/, bin/ or bench/, scheduler/ never bin/ or bench/', () => {
    const forbidden: Record<string, string[]> = {
      cpu: ['kernel', 'scheduler', 'bin', 'bench'],
      kernel: ['scheduler', 'bin', 'bench'],
      scheduler: ['bin', 'bench'],
    };
    const bad = edges.filter(([f, t]) => forbidden[top(f)]?.includes(top(t))).map(([f, t]) => `${f} -> ${t}`);
    expect(bad).toEqual([]);
  });

  it('every kernel file is at the top or in a subsystem folder with a README', () => {
    const known = new Set(Object.keys(PUBLIC));
    const stray = files.filter((f) => subsystem(f) !== undefined && subsystem(f) !== '' && !known.has(subsystem(f)!));
    expect(stray).toEqual([]);
    for (const s of known) expect(existsSync(join(ROOT, 'kernel', s, 'README.md')), `kernel/${s}/README.md`).toBe(true);
  });

  it('PUBLIC names real files, and each subsystem README lists its entry files', () => {
    for (const [s, entries] of Object.entries(PUBLIC)) {
      const readme = readFileSync(join(ROOT, 'kernel', s, 'README.md'), 'utf8');
      for (const e of entries) {
        expect(existsSync(join(ROOT, 'kernel', s, e)), `kernel/${s}/${e}`).toBe(true);
        expect(readme.includes(e), `kernel/${s}/README.md names ${e}`).toBe(true);
      }
    }
  });

  it('other folders reach a subsystem only through its public entry files', () => {
    expect(crossings(edges)).toEqual([]);
  });

  it('the rule catches a crossing (self-check on synthetic edges)', () => {
    expect(crossings([['kernel/proc/exec.ts', 'kernel/mm/mremap.ts']])).toEqual(['kernel/proc/exec.ts -> kernel/mm/mremap.ts']);
    expect(crossings([['scheduler/switch.ts', 'kernel/fs/ofile.ts']])).toHaveLength(1);
    expect(crossings([['kernel/mm/mmap.ts', 'kernel/mm/regions.ts'], ['scheduler/x.ts', 'kernel/mm/aspace.ts']])).toEqual([]);
  });
});
