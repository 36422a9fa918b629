/**
 * Issue 14's file-system calls below the guest (guests/fscalls.c runs them end to end on 1 and
 * 4 harts and under qemu-riscv64 through guests/manifest.json):
 * - fsync writes the caller's dirty MAP_SHARED pages to the host file (a real flush);
 * - open gives EMFILE, not ENFILE, when both the fd table and the description table are full;
 * - the lock table: conflicts, EDEADLK for a cycle of waiting processes, release on close of
 *   any fd (POSIX) and with the description (OFD, flock), nothing left afterwards;
 * - mlock against RLIMIT_MEMLOCK (ENOMEM past it, EPERM at 0), pages made resident (mincore);
 * - the sandbox, on a real machine: links to outside, rename and link across the root, and a
 *   directory swapped for a symlink to outside while another process opens through it, with
 *   the window between the walk and the host open widened by fault injection.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fsTest, type FsTest } from './harness.ts';
import { store } from '../mm/harness.ts';
import { sysOpenat, sysClose } from '../../../kernel/fs/sys-fs.ts';
import { sysFtruncate } from '../../../kernel/fs/sys-fs-meta.ts';
import { sysMmap } from '../../../kernel/fs/sys-fs-register.ts';
import { sysFsync } from '../../../kernel/fs/sys-fs-copy.ts';
import { fcntlLock, sysFlock, F_OFD_SETLK, LOCK_EX, LOCK_NB } from '../../../kernel/fs/sys-fs-lock.ts';
import { EDEADLK, F_RDLCK, F_UNLCK, F_WRLCK, locksLive } from '../../../kernel/fs/locks.ts';
import { fdTableFork, fdTablePut, fdTableSetRlimit, fdDupTo } from '../../../kernel/fs/fdtable.ts';
import { ofileCreate, ofilePut } from '../../../kernel/fs/ofile.ts';
import { PARKED, type Waiter } from '../../../kernel/fs/pipe.ts';
import { OK_STDIO } from '../../../kernel/fs/layout.ts';
import { lockedBytes, mincore, mlock } from '../../../kernel/mm/mlock.ts';
import { mmap } from '../../../kernel/mm/mmap.ts';
import { EAGAIN, ENFILE, ENOMEM, EPERM } from '../../../kernel/errno.ts';
import { EMFILE } from '../../../kernel/fs/hostfs.ts';
import {
  AT_FDCWD, F_SETLK, F_SETLKW, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_CREAT, O_RDWR, PROT_READ, PROT_WRITE, RLIMIT_NOFILE,
} from '../../../kernel/linux-flags.ts';
import type { FsEnv } from '../../../kernel/fs/sys-fs-env.ts';
import { runGuest } from '../../lab/guest-runs.ts';

let t: FsTest;
afterEach(() => t?.cleanup());

const open = (name: string, flags = O_RDWR | O_CREAT): number => t.call(sysOpenat, AT_FDCWD, t.str(t.buf, name), flags, 0o644);

/** A struct flock at `va`: type, SEEK_SET, start, len. */
function flock(va: number, type: number, start: number, len: number): number {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setInt16(0, type, true);
  dv.setBigInt64(8, BigInt(start), true);
  dv.setBigInt64(16, BigInt(len), true);
  t.poke(va, b);
  return va;
}
/** A Waiter that parks at once, as the scheduler's restarting waiter does (records nothing). */
const parking: Waiter = { wait: () => PARKED, wake: () => {}, restarts: true };
/** `t.f` as another process: its own fd table (a fork's copy) and pid. */
function otherProcess(pid: number): FsEnv {
  const fdt = fdTableFork(t.vm.ctx, t.f.fdt);
  if (fdt < 0) throw new Error(`fork table ${fdt}`);
  return { ...t.f, fdt, pid, waiter: parking };
}

describe('fsync', () => {
  it('writes the dirty pages of the caller\'s shared mapping to the host file', () => {
    t = fsTest();
    const fd = open('f');
    expect(t.call(sysFtruncate, fd, 8192)).toBe(0);
    const va = t.call(sysMmap, 0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    expect(va).toBeGreaterThan(0);
    for (const [i, ch] of [...'mapped'].entries()) expect(store(t.vm, t.as, va + 4096 + i, ch.charCodeAt(0))).toBeNull();
    const host = (): string => fs.readFileSync(path.join(t.dir, 'f')).subarray(4096, 4102).toString('latin1');
    expect(host()).toBe('\0'.repeat(6)); // still only in RAM: the PTE is dirty
    expect(t.call(sysFsync, fd)).toBe(0);
    expect(host()).toBe('mapped');
    expect(t.call(sysClose, fd)).toBe(0);
  });
});

describe('EMFILE before ENFILE', () => {
  it('open with the fd table and the description table both full is EMFILE, as Linux', () => {
    t = fsTest();
    const { ctx } = t.vm;
    fdTableSetRlimit(ctx, t.f.fdt, RLIMIT_NOFILE, 4, 4);
    expect(open('a')).toBe(3); // fds 0-3 in use: the table is full
    const held: number[] = [];
    for (;;) {
      const id = ofileCreate(ctx, { kind: OK_STDIO, flags: 0, hostFd: 1 });
      if (id < 0) { expect(id).toBe(-ENFILE); break; }
      held.push(id);
    }
    expect(open('b')).toBe(-EMFILE);
    expect(fs.existsSync(path.join(t.dir, 'b'))).toBe(false);
    for (const id of held) ofilePut(ctx, id);
  });
});

describe('file locks between processes', () => {
  it('EAGAIN on conflict, EDEADLK for a cycle of two waiting processes, released on close and exit', () => {
    t = fsTest();
    const { ctx } = t.vm;
    const a: FsEnv = { ...t.f, waiter: parking };
    const fdA = open('lk');
    const b = otherProcess(2);
    const fl = t.buf + 4096;
    expect(fcntlLock(a, fdA, F_SETLK, flock(fl, F_WRLCK, 0, 1))).toBe(0);
    expect(fcntlLock(b, fdA, F_SETLK, flock(fl, F_WRLCK, 1, 1))).toBe(0); // b inherited fdA (a fork): its own POSIX owner
    expect(fcntlLock(b, fdA, F_SETLK, flock(fl, F_RDLCK, 0, 5))).toBe(-EAGAIN);
    expect(fcntlLock(b, fdA, F_SETLKW, flock(fl, F_WRLCK, 0, 1))).toBe(PARKED); // b now waits for a
    expect(fcntlLock(a, fdA, F_SETLKW, flock(fl, F_WRLCK, 1, 1))).toBe(-EDEADLK); // a waiting for b closes the cycle
    expect(fcntlLock(a, fdA, F_SETLK, flock(fl, F_UNLCK, 0, 0))).toBe(0);
    // Closing ANY fd of the file drops the process's POSIX locks: a's other fd, here.
    expect(fcntlLock(a, fdA, F_SETLK, flock(fl, F_WRLCK, 10, 5))).toBe(0);
    const fdA2 = open('lk');
    expect(t.call(sysClose, fdA2)).toBe(0);
    expect(fcntlLock(b, fdA, F_SETLK, flock(fl, F_WRLCK, 10, 5))).toBe(0);
    // b exits: its held lock and its waiting record go with its table.
    fdTablePut(ctx, b.fdt);
    expect(fcntlLock(a, fdA, F_SETLK, flock(fl, F_WRLCK, 0, 0))).toBe(0);
    expect(t.call(sysClose, fdA)).toBe(0);
    expect(locksLive(ctx)).toBe(0);
  });

  it('OFD and flock locks belong to the description: dup shares them, the last close releases them', () => {
    t = fsTest();
    const { ctx } = t.vm;
    const fd1 = open('ofd'), fd2 = open('ofd');
    const fl = t.buf + 4096;
    expect(fcntlLock(t.f, fd1, F_OFD_SETLK, flock(fl, F_WRLCK, 0, 4))).toBe(0);
    expect(fcntlLock(t.f, fd2, F_OFD_SETLK, flock(fl, F_WRLCK, 2, 1))).toBe(-EAGAIN);
    expect(t.call(sysFlock, fd1, LOCK_EX)).toBe(0);
    expect(t.call(sysFlock, fd2, LOCK_EX | LOCK_NB)).toBe(-EAGAIN);
    expect(fdDupTo(ctx, t.f.fdt, fd1, 9, false)).toBe(9);
    expect(t.call(sysClose, fd1)).toBe(0); // fd 9 still holds the description
    expect(t.call(sysFlock, fd2, LOCK_EX | LOCK_NB)).toBe(-EAGAIN);
    expect(t.call(sysClose, 9)).toBe(0);
    expect(t.call(sysFlock, fd2, LOCK_EX | LOCK_NB)).toBe(0);
    expect(fcntlLock(t.f, fd2, F_OFD_SETLK, flock(fl, F_WRLCK, 2, 1))).toBe(0);
    expect(t.call(sysClose, fd2)).toBe(0);
    expect(locksLive(ctx)).toBe(0);
  });
});

describe('mlock and mincore', () => {
  it('mlock makes pages resident and is bounded by RLIMIT_MEMLOCK (ENOMEM past it, EPERM at 0)', () => {
    t = fsTest();
    const { ctx } = t.vm;
    const va = mmap(ctx, t.as, 0, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const vec = t.buf + 8192;
    expect(mincore(ctx, t.as, va, 8 * 4096, vec)).toBe(0);
    expect([...t.peek(vec, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(mlock(ctx, t.as, va + 4096, 2 * 4096, 0, 4 * 4096)).toBe(0);
    expect(mincore(ctx, t.as, va, 8 * 4096, vec)).toBe(0);
    expect([...t.peek(vec, 8)]).toEqual([0, 1, 1, 0, 0, 0, 0, 0]);
    expect(lockedBytes(ctx, t.as)).toBe(2 * 4096);
    expect(mlock(ctx, t.as, va + 3 * 4096, 3 * 4096, 0, 4 * 4096)).toBe(-ENOMEM); // 5 pages > 4
    expect(mlock(ctx, t.as, va + 3 * 4096, 2 * 4096, 0, 4 * 4096)).toBe(0); // exactly 4
    expect(mlock(ctx, t.as, va, 4096, 0, 0)).toBe(-EPERM); // a limit of 0
  });
});

describe('the sandbox on a running machine', () => {
  it('links to outside (absolute, ../), rename and link across the root stay inside', async () => {
    const r = await runGuest({ policy: 'ipi', guest: 'fscalls', args: ['sandbox'], cpus: 2 });
    expect(r.stdout).toContain('fscalls: sandbox: links to outside');
    expect(r.status).toBe(0);
    expect(r.leaked).toBe(0);
  }, 60_000);

  it('a directory swapped for a symlink to outside while another process opens through it never lets the open escape', async () => {
    const r = await runGuest({ policy: 'ipi', guest: 'fscalls', args: ['swaprace'], cpus: 4, inject: { 'fs.open.after-resolve': 2000 } });
    expect(r.injectHits['fs.open.after-resolve']).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/swaprace: \d+ opens inside, \d+ ENOENT, 0 escaped/);
    expect(r.stdout).toContain('fscalls: OK');
    expect(r.status).toBe(0);
  }, 120_000);
});
