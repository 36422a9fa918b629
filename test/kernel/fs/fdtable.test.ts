import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsTest, type FsTest } from './harness.ts';
import { sysClose, sysLseek, sysOpenat, sysRead, sysWrite } from '../../../kernel/fs/sys-fs.ts';
import { sysDup, sysDup3, sysFcntl } from '../../../kernel/fs/sys-fs-meta.ts';
import { EBADF, EINVAL } from '../../../kernel/errno.ts';
import { EMFILE } from '../../../kernel/fs/hostfs.ts';
import {
  AT_FDCWD, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, F_SETFL, FD_CLOEXEC, O_APPEND, O_CLOEXEC, O_CREAT,
  O_NONBLOCK, O_RDWR, SEEK_CUR, RLIMIT_NOFILE,
} from '../../../kernel/linux-flags.ts';
import {
  fdCloseOnExec, fdList, fdTableFork, fdTablePut, fdTableRlimit, fdTableSetRlimit, fdTableShare, fdTablesLive,
} from '../../../kernel/fs/fdtable.ts';
import { ofileRefs, ofilesLive } from '../../../kernel/fs/ofile.ts';
import type { FsEnv } from '../../../kernel/fs/sys-fs-env.ts';

let t: FsTest;
beforeEach(() => { t = fsTest(); });
afterEach(() => t.cleanup());
const P = 0x1000_0000, B = 0x1010_0000;
const open = (p: string, flags: number): number => t.call(sysOpenat, AT_FDCWD, t.str(P, p), flags, 0o644);

describe('dup, dup3, fcntl', () => {
  it('dup shares the offset and status flags; F_SETFL changes both fds', () => {
    fs.writeFileSync(path.join(t.dir, 'x'), 'abcdef');
    const a = open('/x', O_RDWR);
    const b = t.call(sysDup, a);
    expect(b).toBe(a + 1);
    expect(t.call(sysRead, a, B, 2)).toBe(2);
    expect(t.call(sysLseek, b, 0, SEEK_CUR)).toBe(2); // one offset
    expect(t.call(sysRead, b, B, 2)).toBe(2);
    expect(new TextDecoder().decode(t.peek(B, 2))).toBe('cd');
    expect(t.call(sysFcntl, a, F_SETFL, O_APPEND | O_NONBLOCK)).toBe(0);
    expect(t.call(sysFcntl, b, F_GETFL) & (O_APPEND | O_NONBLOCK | 3)).toBe(O_APPEND | O_NONBLOCK | O_RDWR);
    expect(t.call(sysFcntl, b, F_GETFD)).toBe(0); // FD_CLOEXEC is per fd
  });

  it('dup3 replaces the target atomically, honours O_CLOEXEC, refuses oldfd == newfd and bad flags', () => {
    const a = open('/y', O_CREAT | O_RDWR);
    const c = open('/z', O_CREAT | O_RDWR);
    const zId = fdList(t.vm.ctx, t.f.fdt).find(([fd]) => fd === c)![1];
    expect(t.call(sysDup3, a, c, O_CLOEXEC)).toBe(c);
    expect(t.call(sysFcntl, c, F_GETFD)).toBe(FD_CLOEXEC);
    expect(() => ofileRefs(t.vm.ctx, zId)).not.toThrow();
    t.poke(B, new TextEncoder().encode('Q'));
    expect(t.call(sysWrite, c, B, 1)).toBe(1);
    expect(fs.readFileSync(path.join(t.dir, 'y'), 'utf8')).toBe('Q'); // c now names /y
    expect(t.call(sysDup3, a, a, 0)).toBe(-EINVAL);
    expect(t.call(sysDup3, a, 50, 0x1)).toBe(-EINVAL);
    expect(t.call(sysDup3, 99, 50, 0)).toBe(-EBADF);
    expect(t.call(sysDup3, a, 5000, 0)).toBe(-EBADF);
  });

  it('F_DUPFD finds the lowest fd >= arg; F_SETFD toggles FD_CLOEXEC; unknown cmd is EINVAL', () => {
    const a = open('/d', O_CREAT | O_RDWR);
    expect(t.call(sysFcntl, a, F_DUPFD, 10)).toBe(10);
    expect(t.call(sysFcntl, a, F_DUPFD, 10)).toBe(11);
    expect(t.call(sysFcntl, a, F_DUPFD_CLOEXEC, 0)).toBe(a + 1);
    expect(t.call(sysFcntl, a + 1, F_GETFD)).toBe(FD_CLOEXEC);
    expect(t.call(sysFcntl, a, F_SETFD, FD_CLOEXEC)).toBe(0);
    expect(t.call(sysFcntl, a, F_GETFD)).toBe(FD_CLOEXEC);
    expect(t.call(sysFcntl, a, F_DUPFD, -1)).toBe(-EINVAL);
    expect(t.call(sysFcntl, a, 9999)).toBe(-EINVAL);
    expect(t.call(sysFcntl, 77, F_GETFD)).toBe(-EBADF);
  });

  it('RLIMIT_NOFILE bounds the table: EMFILE, and the description is not leaked', () => {
    fdTableSetRlimit(t.vm.ctx, t.f.fdt, RLIMIT_NOFILE, 6, 1024);
    const live = ofilesLive(t.vm.ctx);
    const fds = [open('/m', O_CREAT | O_RDWR), open('/m', O_RDWR), open('/m', O_RDWR)];
    expect(fds).toEqual([3, 4, 5]);
    expect(open('/m', O_RDWR)).toBe(-EMFILE);
    expect(t.call(sysDup, 3)).toBe(-EMFILE);
    expect(ofilesLive(t.vm.ctx)).toBe(live + 3);
    expect(fdTableRlimit(t.vm.ctx, t.f.fdt, RLIMIT_NOFILE)).toEqual([6, 1024]);
  });
});

describe('fd table lifetime', () => {
  it('fork copies entries and shares descriptions (offset shared, refs counted); exec closes CLOEXEC; exit closes all', () => {
    const ctx = t.vm.ctx;
    const baseTables = fdTablesLive(ctx), baseFiles = ofilesLive(ctx);
    fs.writeFileSync(path.join(t.dir, 'f'), '0123456789');
    const a = open('/f', O_RDWR);
    const c = open('/f', O_RDWR | O_CLOEXEC);
    const id = fdList(ctx, t.f.fdt).find(([fd]) => fd === a)![1];
    expect(ofileRefs(ctx, id)).toBe(1);
    const child = fdTableFork(ctx, t.f.fdt);
    expect(child).toBeGreaterThanOrEqual(0);
    expect(ofileRefs(ctx, id)).toBe(2);
    expect(fdList(ctx, child)).toEqual(fdList(ctx, t.f.fdt));
    const cf: FsEnv = { ...t.f, fdt: child };
    expect(sysRead(cf, [BigInt(a), BigInt(B), 3n])).toBe(3);
    expect(t.call(sysLseek, a, 0, SEEK_CUR)).toBe(3); // the parent sees the child's read
    // Closing in the child does not close in the parent.
    expect(sysClose(cf, [BigInt(a)])).toBe(0);
    expect(t.call(sysRead, a, B, 1)).toBe(1);
    fdCloseOnExec(ctx, child);
    expect(fdList(ctx, child).map(([fd]) => fd)).toEqual([0, 1, 2]);
    expect(fdList(ctx, t.f.fdt).map(([fd]) => fd)).toContain(c);
    // A thread shares the table: one put does not close.
    fdTableShare(ctx, child);
    fdTablePut(ctx, child);
    expect(fdList(ctx, child).length).toBe(3);
    fdTablePut(ctx, child);
    expect(fdTablesLive(ctx)).toBe(baseTables);
    expect(ofileRefs(ctx, id)).toBe(1);
    fdTablePut(ctx, t.f.fdt);
    expect(fdTablesLive(ctx)).toBe(baseTables - 1);
    expect(ofilesLive(ctx)).toBe(baseFiles - 3); // stdio + both files gone
  });
});
