import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as table from '../../kernel/syscalls-table.ts';
import { allSyscalls, syscallName, syscallNumber } from '../../kernel/syscalls-table.ts';

// Generated from the cross toolchain's headers by test/fixtures/gen/linux-abi.sh.
const numbers = JSON.parse(readFileSync(new URL('../fixtures/syscall-numbers.json', import.meta.url), 'utf8')) as Record<string, number>;
const abi = JSON.parse(readFileSync(new URL('../fixtures/linux-abi.json', import.meta.url), 'utf8')) as Record<string, number>;
const exported = table as unknown as Record<string, unknown>;

describe('syscall numbers', () => {
  it('every SYS_* constant matches <asm/unistd.h>', () => {
    const sys = Object.entries(exported).filter(([k]) => k.startsWith('SYS_'));
    expect(sys.length).toBeGreaterThan(90);
    const wrong = sys.filter(([k, v]) => k.slice(4) in numbers && numbers[k.slice(4)] !== v);
    expect(wrong).toEqual([]);
    // Only the calls newer than the toolchain's 6.1 headers are absent from the fixture.
    expect(sys.filter(([k]) => !(k.slice(4) in numbers)).map(([k]) => k)).toEqual(['SYS_riscv_hwprobe']);
  });
  it('the name table knows every number of the headers, and nothing contradicts them', () => {
    for (const [name, nr] of Object.entries(numbers)) {
      expect(syscallName(nr)).toBe(name);
      expect(syscallNumber(name)).toBe(nr);
    }
    const list = allSyscalls();
    expect(list.length).toBe(Object.keys(numbers).length + 3);
    for (let i = 1; i < list.length; i++) expect(list[i][0]).toBeGreaterThan(list[i - 1][0]);
  });
  it('covers issue 6 and glibc start-up by name', () => {
    const needed = ['read', 'write', 'readv', 'writev', 'openat', 'close', 'lseek', 'pread64', 'pwrite64', 'newfstatat',
      'fstat', 'readlinkat', 'unlinkat', 'ftruncate', 'pipe2', 'dup', 'dup3', 'fcntl', 'ioctl', 'mmap', 'munmap',
      'mprotect', 'brk', 'madvise', 'msync', 'mremap', 'clone', 'execve', 'exit', 'exit_group', 'wait4', 'futex',
      'set_tid_address', 'set_robust_list', 'sched_yield', 'getpid', 'gettid', 'getppid', 'rt_sigaction',
      'rt_sigprocmask', 'rt_sigreturn', 'kill', 'tgkill', 'sigaltstack', 'getrandom', 'prlimit64', 'uname',
      'clock_gettime', 'clock_nanosleep', 'nanosleep', 'gettimeofday', 'rseq', 'riscv_flush_icache', 'riscv_hwprobe'];
    for (const n of needed) expect(exported[`SYS_${n}`], n).toBe(syscallNumber(n));
    expect([table.SYS_set_tid_address, table.SYS_set_robust_list, table.SYS_rseq, table.SYS_prlimit64]).toEqual([96, 99, 293, 261]);
    expect([table.SYS_getrandom, table.SYS_riscv_hwprobe, table.SYS_riscv_flush_icache, table.SYS_brk]).toEqual([278, 258, 259, 214]);
    expect([table.SYS_mmap, table.SYS_munmap, table.SYS_mprotect]).toEqual([222, 215, 226]);
  });
  it('an unknown number still gets a name for statistics', () => {
    expect(syscallName(1000)).toBe('sys_1000');
    expect(syscallName(244)).toBe('sys_244');
    expect(syscallNumber('open')).toBeUndefined(); // riscv64 has only openat
  });
});

describe('flag constants', () => {
  it('every exported flag the C fixture printed has the same value', () => {
    const checked: string[] = [];
    for (const [k, v] of Object.entries(exported)) {
      if (k.startsWith('SYS_') || typeof v === 'function' || !(k in abi) || k === 'O_LARGEFILE') continue;
      const want = k === 'RLIM_INFINITY' ? 0xffffffffffffffffn : abi[k];
      expect(v, k).toBe(typeof v === 'bigint' ? BigInt(want) : want);
      checked.push(k);
    }
    expect(checked.length).toBeGreaterThan(150);
    for (const k of ['MAP_FIXED', 'O_CLOEXEC', 'CLONE_SETTLS', 'FUTEX_WAIT_BITSET', 'AT_FDCWD', 'TCGETS', 'CLOCK_MONOTONIC', 'MADV_DONTNEED', 'MREMAP_MAYMOVE', 'WNOHANG', 'SEEK_END', 'F_DUPFD_CLOEXEC']) {
      expect(checked).toContain(k);
    }
  });
  it('O_LARGEFILE is the kernel value (glibc shows 0 on 64-bit)', () => {
    expect(abi.O_LARGEFILE).toBe(0);
    expect(table.O_LARGEFILE).toBe(0o100000);
  });
  it('FUTEX_CMD_MASK strips PRIVATE and CLOCK_REALTIME', () => {
    expect((table.FUTEX_WAIT_BITSET | table.FUTEX_PRIVATE_FLAG | table.FUTEX_CLOCK_REALTIME) & table.FUTEX_CMD_MASK).toBe(table.FUTEX_WAIT_BITSET);
  });
});
