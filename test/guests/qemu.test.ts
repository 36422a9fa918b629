// The bundled guests (guests/manifest.json) checked two ways:
//  - always: the manifest is consistent with the committed sources, README and ELF files;
//  - when qemu-riscv64 is installed: every guest runs under it, the reference, and gives
//    the manifest's stdout (or final line) and exit status.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hasTool } from '../helpers/tools.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUESTS_DIR = join(ROOT, 'guests');

/** One guest run as guests/manifest.json describes it. */
interface GuestEntry {
  name: string;
  binary: string;
  kind: 'ok' | 'bad' | 'self-test';
  args: string[];
  env: Record<string, string>;
  deterministic: boolean;
  stdout: string | null;
  finalLine: string | null;
  finalLinePrefix?: string;
  multiThreaded: boolean;
  forks: boolean;
  writesFiles: boolean;
  exitStatus: number;
  signal: number | null;
  stderrDeterministic?: boolean;
  qemu?: { args: string[]; stdout: string };
  stressArgs: string[] | null;
}

const manifest = JSON.parse(readFileSync(join(GUESTS_DIR, 'manifest.json'), 'utf8')) as {
  guests: GuestEntry[];
  elsewhere?: Record<string, string>;
};
const entries = manifest.guests;
/** Guests run by their own tests, not from the manifest (name → where and why). */
const elsewhere: Record<string, string> = manifest.elsewhere ?? {};

const hasQemu = hasTool('qemu-riscv64');

const SIGNAL_NUMBERS: Record<string, number> = { SIGSEGV: 11, SIGBUS: 7, SIGABRT: 6, SIGKILL: 9, SIGILL: 4 };

const ELF_MAGIC = 0x464c457f;
const EM_RISCV = 243;
const ET_EXEC = 2;
const PT_INTERP = 3;

/** Header facts of an ELF file that matter to the loader: class, machine, type, interpreter. */
function elfFacts(path: string): { class64: boolean; machine: number; type: number; hasInterp: boolean } {
  const b = readFileSync(path);
  if (b.readUInt32LE(0) !== ELF_MAGIC) throw new Error(`elfFacts: ${path} is not an ELF file`);
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  let hasInterp = false;
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === PT_INTERP) hasInterp = true;
  return { class64: b[4] === 2, machine: b.readUInt16LE(18), type: b.readUInt16LE(16), hasInterp };
}

describe('guests manifest', () => {
  const sources = readdirSync(GUESTS_DIR)
    .filter((f) => f.endsWith('.c'))
    .map((f) => f.slice(0, -2));
  const readme = readFileSync(join(GUESTS_DIR, 'README.md'), 'utf8');

  it('has an entry, a README paragraph and a built ELF for every C source', () => {
    expect(sources.length).toBeGreaterThanOrEqual(15);
    for (const name of sources) {
      const listed = entries.some((e) => e.binary === `guests/bin/${name}`) || name in elsewhere;
      expect(listed, `${name} in manifest (guests or elsewhere)`).toBe(true);
      expect(readme.includes(`### ${name}`), `${name} in README`).toBe(true);
      expect(existsSync(join(GUESTS_DIR, 'bin', name)), `guests/bin/${name} built`).toBe(true);
    }
  });

  it('names unique entries whose binaries are static rv64 executables', () => {
    expect(new Set(entries.map((e) => e.name)).size).toBe(entries.length);
    for (const e of entries) {
      const facts = elfFacts(join(ROOT, e.binary));
      expect(facts, e.binary).toEqual({ class64: true, machine: EM_RISCV, type: ET_EXEC, hasInterp: false });
    }
  });

  it('gives every entry a consistent expectation', () => {
    for (const e of entries) {
      if (e.deterministic) {
        expect(e.stdout, e.name).toBeTypeOf('string');
        expect(e.stdout!.endsWith(`${e.finalLine}\n`), e.name).toBe(true);
      } else {
        expect(e.finalLinePrefix, e.name).toBeTypeOf('string');
      }
      if (e.signal !== null) expect(e.exitStatus, e.name).toBe(128 + e.signal);
      if (e.kind === 'ok') {
        expect(e.exitStatus, e.name).toBe(0);
        expect(e.finalLine!.startsWith(`${e.name}: OK`), e.name).toBe(true);
      }
    }
  });
});

describe.skipIf(!hasQemu)(
  hasQemu ? 'under qemu-riscv64' : 'under qemu-riscv64 (skipped: qemu-riscv64 not installed)',
  () => {
    for (const e of entries) {
      it(`${e.name} ${(e.qemu?.args ?? e.args).join(' ')}`.trim(), () => {
        const cwd = mkdtempSync(join(tmpdir(), `guest-${e.name}-`));
        try {
          const r = spawnSync('qemu-riscv64', [join(ROOT, e.binary), ...(e.qemu?.args ?? e.args)], {
            cwd,
            env: e.env,
            encoding: 'utf8',
            timeout: 20_000,
          });
          expect(r.error, `${e.name}: spawn`).toBeUndefined();
          const status = r.signal !== null ? 128 + (SIGNAL_NUMBERS[r.signal] ?? -1000) : r.status;
          const expectedStdout = e.qemu?.stdout ?? e.stdout;
          if (expectedStdout !== null) {
            expect(r.stdout).toBe(expectedStdout);
          } else {
            const lines = r.stdout.trimEnd().split('\n');
            expect(lines[lines.length - 1].startsWith(e.finalLinePrefix!), r.stdout).toBe(true);
          }
          expect(status, `${e.name} exit status; stderr: ${r.stderr}`).toBe(e.exitStatus);
          if (e.writesFiles) expect(readdirSync(cwd), `${e.name} left files behind`).toEqual([]);
        } finally {
          rmSync(cwd, { recursive: true, force: true });
        }
      });
    }
  },
);
