import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  MIB, OptionError, parseCpus, parseMemory, parseRoot, parseJit, parseSanitize, parseShootdown, parseTlbEntries, parseTraceBuffer,
  resolveRunOptions, RUN_DEFAULTS, SHOOTDOWN_POLICIES,
} from '../../bin/options.ts';
import { rewriteSanitize, runOptionsFrom } from '../../bin/run-options.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COHERENT = join(ROOT, 'bin/coherent');
const HELLO = join(ROOT, 'guests/bin/hello');

interface Result { status: number; stdout: string; stderr: string }

/** Run bin/coherent as a child process (from `cwd`, default a directory outside the project). */
function coherent(args: string[], cwd = tmpdir()): Promise<Result> {
  return new Promise((resolve) => {
    execFile(COHERENT, args, { cwd, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

/** Run several CLI invocations two at a time (the machine has 2 cores). */
async function each(cases: string[][]): Promise<Result[]> {
  const out: Result[] = [];
  for (let i = 0; i < cases.length; i += 2) out.push(...await Promise.all(cases.slice(i, i + 2).map((c) => coherent(c))));
  return out;
}

const RUN_FLAGS = ['--cpus', '--memory', '--root', '--quantum', '--stats-json', '--shootdown', '--flush-ceiling',
  '--sanitize', '--trace', '--trace-buffer', '--tlb-entries', '--seed', '--jit'];

describe('bin/coherent --help', () => {
  it('every subcommand has --help that exits 0 and names its options', async () => {
    const [root, run, trace, bench, demo] = await each([['--help'], ['run', '--help'], ['trace', '--help'], ['bench', '--help'], ['demo', '--help']]);
    for (const r of [root, run, trace, bench, demo]) expect(r!.status, r!.stderr).toBe(0);
    for (const c of ['run', 'trace', 'bench', 'demo']) expect(root!.stdout).toContain(c);
    for (const f of RUN_FLAGS) expect(run!.stdout).toContain(f);
    for (const p of SHOOTDOWN_POLICIES) expect(run!.stdout).toContain(`"${p}"`);
    expect(run!.stdout).toContain('--sanitize=fatal');
    expect(run!.stdout).toMatch(/Usage: coherent run \[options\] <elf> \[args\.\.\.\]/);
    for (const f of ['-o, --output', ...RUN_FLAGS.filter((f) => f !== '--trace')]) expect(trace!.stdout).toContain(f);
    expect(bench!.stdout).toMatch(/Benchmarks: .*\bipi\b/);
    expect(demo!.stdout).toContain('npm start');
  }, 60_000);
});

describe('bin/coherent usage errors exit 2 and say what is allowed', () => {
  it('bad values, unknown flags, missing arguments, unknown commands', async () => {
    const cases: [string[], RegExp[]][] = [
      [['run', '--cpus', '0', HELLO], [/--cpus/, /'0'/, /1 to 64/]],
      [['run', '--cpus', 'many', HELLO], [/--cpus/, /1 to 64/]],
      [['run', '--shootdown', 'bogus', HELLO], [/--shootdown/, /bogus/, /ipi, per-page, lazy, deferred, off/]],
      [['run', '--memory', '8M', HELLO], [/--memory/, /16 MiB to 4 GiB/]],
      [['run', '--memory', '5G', HELLO], [/--memory/, /16 MiB to 4 GiB/]],
      [['run', '--memory', '33M', HELLO], [/--memory/, /multiple of 2 MiB/]],
      [['run', '--frob', HELLO], [/unknown option '--frob'/, /options: .*--cpus/]],
      [['run'], [/missing required argument 'elf'/, /Usage: coherent run/]],
      [['run', '--tlb-entries', '1000', HELLO], [/--tlb-entries/, /power of two/]],
      [['run', '--sanitize=sometimes', HELLO], [/--sanitize/, /--sanitize=fatal/]],
      [['run', '--root', '/no/such/dir', HELLO], [/--root/, /existing directory/]],
      [['run', join(tmpdir(), 'no-such-guest')], [/<elf>/, /not a file/]],
      [['trace', HELLO], [/--output/]],
      [['frobnicate'], [/unknown command 'frobnicate'/, /commands: run, trace, hunt, bench, demo/]],
      [['run', '--schedule', 'fifo', HELLO], [/--schedule/, /pct, random/]],
      [['run', '--pct-depth', '0', HELLO], [/--pct-depth/, /1 to 64/]],
      [['hunt', '--shard', '5/4', HELLO], [/--shard/, /1 <= i <= n/]],
      [['hunt', '--runs', '0', HELLO], [/--runs/]],
      [['bench', 'nosuch'], [/unknown benchmark 'nosuch'/, /known: .*ipi/]],
      // a benchmark's own options pass through, and a bad one is refused before anything runs
      [['bench', 'policies', '--bogus'], [/Unknown option '--bogus'/, /--policies a,b/]],
      [['bench', 'policies', '--cpus', 'x'], [/--cpus 'x'/]],
      [['bench', 'cpu', '--cpus', '2'], [/cpu takes no options/]],
    ];
    const results = await each(cases.map(([a]) => a));
    results.forEach((r, k) => {
      const [args, patterns] = cases[k]!;
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      for (const p of patterns) expect(r.stderr, args.join(' ')).toMatch(p);
      expect(r.stdout, args.join(' ')).toBe('');
    });
  }, 120_000);
});

describe('bin/coherent run', () => {
  it('passes the guest output through and exits with its status (128+N for signal N)', async () => {
    const [hello, segv] = await each([
      ['run', '--cpus', '1', '--memory', '64M', HELLO, 'one', 'two words'],
      ['run', '--cpus', '2', '--memory', '64M', join(ROOT, 'guests/bin/segv')],
    ]);
    expect(hello!.status, hello!.stderr).toBe(0);
    expect(hello!.stdout).toMatch(/^hello, world\nhello: argc=3\nhello: argv\[1\]=one\nhello: argv\[2\]=two words\n[^]*hello: OK\n$/);
    expect(segv!.status, segv!.stderr).toBe(128 + 11);
  }, 60_000);

  it('writes --stats-json and a --trace file that parses, with a track per hart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coherent-run-'));
    try {
      const r = await coherent(['run', '--cpus', '2', '--memory', '32M', '--stats-json', 'stats.json', '--trace', 't.json',
        '--trace-buffer', '64', HELLO], dir);
      expect(r.status, r.stderr).toBe(0);
      const stats = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8'));
      expect(stats).toMatchObject({ policy: 'ipi', exitStatus: 0, config: { cpus: 2, memory: 32 * MIB } });
      const t = JSON.parse(readFileSync(join(dir, 't.json'), 'utf8'));
      expect(t.otherData).toMatchObject({ policy: 'ipi', cpus: 2 });
      expect(t.traceEvents.filter((e: { name: string }) => e.name === 'thread_name').map((e: { args: { name: string } }) => e.args.name))
        .toEqual(['hart 0', 'hart 1']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
  it('--jit on and off run the guest alike; with on, --stats-json counts translated instructions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coherent-run-'));
    try {
      const compute = join(ROOT, 'guests/bin/compute');
      const [on, off] = await each([
        ['run', '--cpus', '1', '--memory', '32M', '--jit', 'on', '--stats-json', join(dir, 'on.json'), compute, '20000'],
        ['run', '--cpus', '1', '--memory', '32M', '--jit', 'off', '--stats-json', join(dir, 'off.json'), compute, '20000'],
      ]);
      expect(on!.status, on!.stderr).toBe(0);
      expect(on!.stdout).toBe(off!.stdout);
      const s = JSON.parse(readFileSync(join(dir, 'on.json'), 'utf8'));
      const t = JSON.parse(readFileSync(join(dir, 'off.json'), 'utf8'));
      expect(s.config.jit).toBe('on');
      expect(s.instructions).toBe(t.instructions);
      expect(s.jit.blocks).toBeGreaterThan(0);
      expect(s.jit.translated).toBeGreaterThan(s.instructions / 2);
      expect(s.jit.translated + s.jit.interpreted).toBe(s.instructions);
      expect(t.jit).toMatchObject({ blocks: 0, translated: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('bin/options.ts', () => {
  const bad = (f: () => unknown, ...res: RegExp[]): void => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OptionError);
    for (const re of res) expect((err as Error).message).toMatch(re);
  };

  it('parses RAM sizes with binary units and enforces 2 MiB multiples from 16 MiB to 4 GiB', () => {
    expect(parseMemory('512M')).toBe(512 * MIB);
    expect(parseMemory('1G')).toBe(1024 * MIB);
    expect(parseMemory('64MiB')).toBe(64 * MIB);
    expect(parseMemory('64mb')).toBe(64 * MIB);
    expect(parseMemory('1.5G')).toBe(1536 * MIB);
    expect(parseMemory('16384K')).toBe(16 * MIB);
    expect(parseMemory(String(32 * MIB))).toBe(32 * MIB);
    expect(parseMemory('4G')).toBe(4096 * MIB);
    for (const t of ['8M', '4098M', '5G', '17M', '', 'lots', '1T', '-64M']) bad(() => parseMemory(t), /^--memory: /);
  });

  it('parses integers in range and names the flag', () => {
    expect(parseCpus('1')).toBe(1);
    expect(parseCpus('64')).toBe(64);
    for (const t of ['0', '65', '1.5', '2x', '', '-1']) bad(() => parseCpus(t), /^--cpus: /, /1 to 64/);
    expect(parseTraceBuffer('16')).toBe(16);
    bad(() => parseTraceBuffer('15'), /--trace-buffer/);
    expect(parseTlbEntries('1024')).toBe(1024);
    expect(parseTlbEntries('8')).toBe(8);
    bad(() => parseTlbEntries('1000'), /power of two/);
    bad(() => parseTlbEntries('4'), /--tlb-entries/);
  });

  it('knows the policies and sanitize modes', () => {
    for (const p of SHOOTDOWN_POLICIES) expect(parseShootdown(p)).toBe(p);
    bad(() => parseShootdown('IPI'), /--shootdown: 'IPI'/, /ipi, per-page, lazy, deferred, off/);
    expect(parseSanitize('fatal')).toBe('fatal');
    bad(() => parseSanitize('loud'), /--sanitize/);
    expect(parseJit('on')).toBe('on');
    expect(parseJit('off')).toBe('off');
    bad(() => parseJit('yes'), /--jit: 'yes'/, /off, on/);
    bad(() => resolveRunOptions({ elf: 'x', jit: 'fast' as never }), /--jit/);
  });

  it('resolves --root to an existing directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coherent-root-'));
    try {
      expect(parseRoot(dir)).toBe(dir);
      expect(parseRoot('.', dir)).toBe(dir);
      bad(() => parseRoot(join(dir, 'missing')), /--root/);
      bad(() => parseRoot(HELLO), /existing directory/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('fills defaults and validates a RunOptions for the API', () => {
    const o = resolveRunOptions({ elf: 'guests/bin/hello' });
    expect(o).toMatchObject({ ...RUN_DEFAULTS, elf: 'guests/bin/hello', args: [], root: process.cwd() });
    expect(o.shootdown).toBe('ipi');
    expect(o.flushCeiling).toBe(33);
    bad(() => resolveRunOptions({ elf: 'x', cpus: 65 }), /--cpus: '65'/);
    bad(() => resolveRunOptions({ elf: 'x', memory: 3 * MIB }), /--memory/);
    bad(() => resolveRunOptions({ elf: 'x', shootdown: 'fast' as never }), /--shootdown/);
    bad(() => resolveRunOptions({ elf: '' }), /missing <elf>/);
  });

  it('turns parsed flags into RunOptions (sanitize modes, trace file)', () => {
    const base = { cpus: 2, memory: 64 * MIB, root: '.', quantum: 1000, shootdown: 'off', flushCeiling: 8, traceBuffer: 64, tlbEntries: 64, seed: 7 };
    expect(runOptionsFrom('g', ['a'], { ...base }).sanitize).toBe('off');
    expect(runOptionsFrom('g', [], { ...base, sanitize: true }).sanitize).toBe('report');
    expect(runOptionsFrom('g', [], { ...base, sanitize: true, sanitizeMode: 'fatal' }).sanitize).toBe('fatal');
    const t = runOptionsFrom('g', ['x'], { ...base, trace: 'a.json' }, 'b.json');
    expect(t).toMatchObject({ elf: 'g', args: ['x'], trace: 'b.json', cpus: 2, shootdown: 'off', seed: 7, statsJson: null });
  });

  it('rewrites --sanitize=MODE only among the options before <elf>', () => {
    expect(rewriteSanitize(['node', 'c', 'run', '--sanitize=fatal', '--cpus', '2', 'elf', '--sanitize=x'], 3))
      .toEqual(['node', 'c', 'run', '--sanitize', '--sanitize-mode', 'fatal', '--cpus', '2', 'elf', '--sanitize=x']);
    expect(rewriteSanitize(['node', 'c', 'run', '--root', '--sanitize=fatal', 'elf'], 3))
      .toEqual(['node', 'c', 'run', '--root', '--sanitize=fatal', 'elf']);
  });
});
