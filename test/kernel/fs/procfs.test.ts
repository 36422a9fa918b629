/**
 * procfs and /dev (kernel/fs/procfs.ts, docs/procfs.md) on real worker-thread harts: the
 * procfs guest checks /proc against its own state on 1 and 4 harts (its expected stdout is the
 * manifest's, the same as under qemu-riscv64); its `cat` mode shows the files' exact text,
 * checked here against Linux's formats; its `errnos` mode the errno of each refused operation.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../lab/guest-runs.ts';
import { expectCleanRun } from '../../helpers/guest-expect.ts';
import { runOnFreshMachine } from '../../helpers/spawn-capture.ts';

/** stdout of `procfs ARGS` on a 1-hart machine booted with `seed`. */
async function runSeeded(seed: number, args: string[]): Promise<string> {
  const elf = new Uint8Array(readFileSync(new URL('../../../guests/bin/procfs', import.meta.url)));
  const r = await runOnFreshMachine({ cpus: 1, memory: 64 * 2 ** 20, seed }, elf, ['procfs', ...args]);
  expect(r.status).toBe(0);
  return r.stdout;
}

const manifest = JSON.parse(readFileSync(new URL('../../../guests/manifest.json', import.meta.url), 'utf8')) as {
  guests: Array<{ name: string; stdout: string }>;
};
const expected = manifest.guests.find((g) => g.name === 'procfs')!.stdout;

/** The "==> PATH" sections of a `procfs cat` run. */
function sections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of stdout.split(/^==> /m).slice(1)) {
    const nl = part.indexOf('\n');
    out.set(part.slice(0, nl), part.slice(nl + 1));
  }
  return out;
}

describe('procfs guest: /proc and /dev checked against the process state', () => {
  for (const cpus of [1, 4]) {
    it(`passes on ${cpus} hart(s) with the manifest's stdout, no sanitizer report, no leak`, async () => {
      const r = await runGuest({ policy: 'ipi', guest: 'procfs', args: [], cpus });
      expectCleanRun(r, expected);
    }, 120_000);
  }
});

describe('procfs readers racing a process that changes its address space', () => {
  for (const policy of ['ipi', 'deferred'] as const) {
    it(`${policy}: every snapshot of a churning child's maps/status/stat/cmdline is well-formed, no report, no leak`, async () => {
      const r = await runGuest({ policy, guest: 'procfs', args: ['race', '300'], cpus: 4 });
      expectCleanRun(r, "procfs: race: snapshots of a churning process's maps, status, stat and cmdline all well-formed\nprocfs: OK\n");
    }, 120_000);
  }
});

describe('procfs files in Linux text formats', () => {
  it('maps, stat, status, cpuinfo, meminfo and the directories read as Linux prints them', async () => {
    const files = ['/proc/self/maps', '/proc/self/stat', '/proc/self/status', '/proc/cpuinfo', '/proc/meminfo', '/proc', '/dev',
      '/proc/sys/kernel/pid_max', '/proc/mounts', '/proc/self/task', '/proc/self/fd'];
    const r = await runGuest({ policy: 'ipi', guest: 'procfs', args: ['cat', ...files], cpus: 2 });
    expect(r.status).toBe(0);
    const s = sections(r.stdout);

    // maps: show_map_vma's "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu " with the name at column 73
    const maps = s.get('/proc/self/maps')!.split('\n').filter((l) => l !== '');
    expect(maps.length).toBeGreaterThanOrEqual(4);
    for (const l of maps) {
      expect(l).toMatch(/^[0-9a-f]{8,}-[0-9a-f]{8,} [r-][w-][x-][ps] [0-9a-f]{8} [0-9a-f]{2}:[0-9a-f]{2} \d+ /);
      if (l.length > 73) expect(l[72] === ' ' && l[73] !== ' ').toBe(true);
    }
    expect(maps.filter((l) => l.endsWith('[stack]'))).toHaveLength(1);
    expect(maps.filter((l) => l.endsWith('[heap]'))).toHaveLength(1);
    // the program's text, as Linux's ELF loader maps it: from offset 0 of the file, named by it
    expect(maps[0]).toMatch(/^00010000-[0-9a-f]{8} r-xp 00000000 00:00 0 {2,}\/procfs$/);
    expect(maps.some((l) => / r-xp /.test(l))).toBe(true);
    const starts = maps.map((l) => parseInt(l, 16));
    expect([...starts].sort((a, b) => a - b)).toEqual(starts); // ascending

    // stat: 52 fields, comm in parentheses, state R (it is reading), parent init
    const stat = s.get('/proc/self/stat')!.trimEnd();
    const [, pid, comm, rest] = /^(\d+) \((.*)\) (.*)$/.exec(stat)!;
    const f = rest!.split(' ');
    expect(comm).toBe('procfs');
    expect(2 + f.length).toBe(52);
    expect(f[0]).toBe('R');
    expect(f[1]).toBe('1'); // ppid: the kernel's init
    expect(f[2]).toBe(pid); // pgrp: a host-spawned process leads its own group
    expect(f[17]).toBe('1'); // num_threads

    // status: Linux's keys in Linux's order; Vm lines "%8lu kB"
    const status = s.get('/proc/self/status')!;
    const keys = status.split('\n').filter((l) => l).map((l) => l.slice(0, l.indexOf(':')));
    expect(keys.slice(0, 22)).toEqual(['Name', 'Umask', 'State', 'Tgid', 'Ngid', 'Pid', 'PPid', 'TracerPid', 'Uid', 'Gid', 'FDSize',
      'Groups', 'NStgid', 'NSpid', 'NSpgid', 'NSsid', 'VmPeak', 'VmSize', 'VmLck', 'VmPin', 'VmHWM', 'VmRSS']);
    expect(status).toContain(`Pid:\t${pid}\n`);
    expect(status).toContain('State:\tR (running)\n');
    for (const l of status.split('\n').filter((x) => /^(Vm|Rss)/.test(x))) expect(l).toMatch(/^\w+:\t[ \d]{8} kB$/);
    expect(status).toContain('Cpus_allowed_list:\t0-1\n');

    // cpuinfo: one riscv64 block per hart
    const cpuinfo = s.get('/proc/cpuinfo')!;
    expect(cpuinfo.split('\n\n').filter((b) => b)).toEqual([0, 1].map((h) =>
      `processor\t: ${h}\nhart\t\t: ${h}\nisa\t\t: rv64imafdc_zicsr_zifencei\nmmu\t\t: sv48\nmvendorid\t: 0x0\nmarchid\t\t: 0x0\nmimpid\t\t: 0x0`));

    // meminfo: the 128 MiB machine in fs/proc/meminfo.c's 16-character labels and "%8lu kB"
    const meminfo = s.get('/proc/meminfo')!;
    expect(meminfo.startsWith('MemTotal:         131072 kB\nMemFree:  ')).toBe(true);
    expect(meminfo).toContain('\nHugePages_Total:       0\nHugePages_Free:        0\n');
    expect(meminfo).toContain('\nHugepagesize:       2048 kB\n');
    const free = Number(/MemFree:\s+(\d+) kB/.exec(meminfo)![1]);
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThan(131072);

    const names = (dir: string): string[] => s.get(dir)!.split('\n').filter((l) => l).map((l) => l.split(' ')[0]!);
    expect(names('/proc')).toEqual(expect.arrayContaining(['.', '..', pid, 'self', 'meminfo', 'cpuinfo', 'stat', 'uptime', 'sys']));
    expect(names('/dev')).toEqual(expect.arrayContaining(['null', 'zero', 'random', 'urandom', 'shm', 'tty', 'fd']));
    expect(names('/proc/self/task')).toEqual(['.', '..', pid]);
    expect(names('/proc/self/fd')).toEqual(expect.arrayContaining(['0', '1', '2']));
    expect(Number(s.get('/proc/sys/kernel/pid_max'))).toBe(4194304);
    expect(s.get('/proc/mounts')).toContain('proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n');
  }, 120_000);

  it('after an execve through /proc/self/exe, maps names the file with its device and inode, cmdline the new argv', async () => {
    const r = await runGuest({ policy: 'ipi', guest: 'procfs', args: ['exec', 'cat', '/proc/self/maps', '/proc/self/cmdline'], cpus: 2 });
    expect(r.status).toBe(0);
    const s = sections(r.stdout);
    const maps = s.get('/proc/self/maps')!.split('\n').filter((l) => l);
    const text = /^00010000-[0-9a-f]{8} r-xp 00000000 ([0-9a-f]{2}):([0-9a-f]{2}) (\d+) +\/procfs$/.exec(maps[0]!);
    expect(text, maps[0]).not.toBeNull();
    expect(Number(text![3])).toBeGreaterThan(0); // the host file's inode
    const data = maps.filter((l) => l.endsWith('/procfs'));
    expect(data.length).toBeGreaterThanOrEqual(2);
    for (const l of data.slice(1)) expect(l).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8} r[w-]-p [0-9a-f]{8} /);
    expect(s.get('/proc/self/cmdline')).toBe('procfs\0cat\0/proc/self/maps\0/proc/self/cmdline\0');
  }, 60_000);

  it('/dev/urandom and /dev/random are the kernel getrandom stream: the same bytes for the same --seed', async () => {
    const a = await runSeeded(7, ['urandom']);
    const b = await runSeeded(7, ['urandom']);
    const c = await runSeeded(8, ['urandom']);
    expect(a).toMatch(/^[0-9a-f]{64}\n[0-9a-f]{64}\n$/);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  }, 60_000);

  it('refuses changes with the errnos Linux gives for procfs and /dev', async () => {
    const r = await runGuest({ policy: 'ipi', guest: 'procfs', args: ['errnos'], cpus: 1 });
    expect(r.status).toBe(0);
    const got = Object.fromEntries(r.stdout.split('\n').filter((l) => l).map((l) => {
      const i = l.lastIndexOf(': ');
      return [l.slice(0, i), Number(l.slice(i + 2))];
    }));
    expect(got).toEqual({
      'open-write /proc/self/status': 13, // EACCES: the tree is read-only
      'open-creat-excl /proc/meminfo': 17, // EEXIST
      'open-write /proc': 21, // EISDIR
      'open-directory /proc/meminfo': 20, // ENOTDIR
      'open /proc/999999/stat': 2, // ENOENT
      'open /proc/self/nothing': 2,
      'open /dev/tty': 6, // ENXIO: no controlling terminal
      'mkdir /proc/x': 2,
      'mkdir /proc/self': 17,
      'unlink /proc/self/maps': 1, // EPERM
      'readlink /proc/self/maps': 22, // EINVAL: not a link
      'lseek-end /proc/self/stat': 22, // seq_lseek: EINVAL
      'mmap /proc/self/stat': 19, // ENODEV
      'write /proc/self/stat': 9, // EBADF: opened read-only
      'mmap /dev/null': 19,
      'access-write /proc/self/status': 13,
    });
  }, 60_000);
});
