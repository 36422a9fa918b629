import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsTest, type FsTest } from './harness.ts';
import {
  sysClose, sysLseek, sysOpenat, sysPread, sysPwrite, sysRead, sysReadv, sysWrite, sysWritev,
} from '../../../kernel/fs/sys-fs.ts';
import { sysFstat, sysGetdents64, sysMkdirat, sysNewfstatat, sysUnlinkat, sysFtruncate, sysGetcwd, sysChdir, sysReadlinkat, sysIoctl } from '../../../kernel/fs/sys-fs-meta.ts';
import { EBADF, EEXIST, EFAULT, EINVAL, ENOENT, ERANGE } from '../../../kernel/errno.ts';
import { EISDIR, ENOTDIR, ENOTEMPTY, ENOTTY, ESPIPE, ELOOP } from '../../../kernel/fs/hostfs.ts';
import {
  AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC,
  O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET, S_IFDIR, S_IFMT, S_IFREG, TCGETS,
} from '../../../kernel/linux-flags.ts';
import { KERNEL_PROBE_VA } from '../../../kernel/mm/aspace.ts';
import { ofilesLive } from '../../../kernel/fs/ofile.ts';

let t: FsTest;
beforeEach(() => { t = fsTest(); });
afterEach(() => t.cleanup());

const P = 0x1000_0000; // path strings
const B = 0x1010_0000; // data buffer
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const open = (p: string, flags: number, mode = 0o644): number => t.call(sysOpenat, AT_FDCWD, t.str(P, p), flags, mode);

describe('open, read, write, lseek', () => {
  it('creates, writes, seeks and reads back through one shared offset', () => {
    const fd = open('/a.txt', O_CREAT | O_RDWR);
    expect(fd).toBe(3); // lowest free after stdio
    t.poke(B, enc('hello, world'));
    expect(t.call(sysWrite, fd, B, 12)).toBe(12);
    expect(fs.readFileSync(path.join(t.dir, 'a.txt'), 'utf8')).toBe('hello, world');
    expect(t.call(sysLseek, fd, 0, SEEK_CUR)).toBe(12);
    expect(t.call(sysRead, fd, B + 100, 10)).toBe(0); // EOF
    expect(t.call(sysLseek, fd, 7, SEEK_SET)).toBe(7);
    expect(t.call(sysRead, fd, B + 100, 100)).toBe(5);
    expect(dec(t.peek(B + 100, 5))).toBe('world');
    expect(t.call(sysLseek, fd, -5, SEEK_END)).toBe(7);
    expect(t.call(sysLseek, fd, -100, SEEK_CUR)).toBe(-EINVAL);
    expect(t.call(sysLseek, fd, 0, 9)).toBe(-EINVAL);
    expect(t.call(sysClose, fd)).toBe(0);
    expect(t.call(sysClose, fd)).toBe(-EBADF);
  });

  it('pread/pwrite leave the offset alone; O_APPEND appends; O_TRUNC truncates', () => {
    fs.writeFileSync(path.join(t.dir, 'b'), '0123456789');
    const fd = open('/b', O_RDWR);
    expect(t.call(sysPread, fd, B, 4, 3)).toBe(4);
    expect(dec(t.peek(B, 4))).toBe('3456');
    expect(t.call(sysLseek, fd, 0, SEEK_CUR)).toBe(0);
    t.poke(B, enc('XY'));
    expect(t.call(sysPwrite, fd, B, 2, 8)).toBe(2);
    expect(t.call(sysPread, fd, B, 4, -1)).toBe(-EINVAL);
    expect(fs.readFileSync(path.join(t.dir, 'b'), 'utf8')).toBe('01234567XY');
    const ap = open('/b', O_WRONLY | O_APPEND);
    t.poke(B, enc('!!'));
    expect(t.call(sysWrite, ap, B, 2)).toBe(2);
    expect(t.call(sysLseek, ap, 0, SEEK_CUR)).toBe(12);
    expect(fs.readFileSync(path.join(t.dir, 'b'), 'utf8')).toBe('01234567XY!!');
    expect(open('/b', O_WRONLY | O_TRUNC)).toBeGreaterThan(0);
    expect(fs.statSync(path.join(t.dir, 'b')).size).toBe(0);
  });

  it('readv/writev gather and scatter', () => {
    const fd = open('/v', O_CREAT | O_RDWR);
    t.poke(B, enc('abc'));
    t.poke(B + 64, enc('defgh'));
    const iov = new DataView(new ArrayBuffer(32));
    iov.setBigUint64(0, BigInt(B), true); iov.setBigUint64(8, 3n, true);
    iov.setBigUint64(16, BigInt(B + 64), true); iov.setBigUint64(24, 5n, true);
    t.poke(B + 1024, new Uint8Array(iov.buffer));
    expect(t.call(sysWritev, fd, B + 1024, 2)).toBe(8);
    expect(fs.readFileSync(path.join(t.dir, 'v'), 'utf8')).toBe('abcdefgh');
    t.call(sysLseek, fd, 0, SEEK_SET);
    t.poke(B, new Uint8Array(128));
    expect(t.call(sysReadv, fd, B + 1024, 2)).toBe(8);
    expect(dec(t.peek(B, 3)) + dec(t.peek(B + 64, 5))).toBe('abcdefgh');
    expect(t.call(sysReadv, fd, B + 1024, -1)).toBe(-EINVAL);
  });

  it('open errors: ENOENT, EEXIST, ENOTDIR, EISDIR, ELOOP with O_NOFOLLOW', () => {
    expect(open('/nope', O_RDONLY)).toBe(-ENOENT);
    fs.writeFileSync(path.join(t.dir, 'f'), 'x');
    expect(open('/f', O_CREAT | O_EXCL | O_WRONLY)).toBe(-EEXIST);
    expect(open('/f/x', O_RDONLY)).toBe(-ENOTDIR);
    expect(open('/f', O_RDONLY | O_DIRECTORY)).toBe(-ENOTDIR);
    fs.mkdirSync(path.join(t.dir, 'd'));
    expect(open('/d', O_WRONLY)).toBe(-EISDIR);
    fs.symlinkSync('f', path.join(t.dir, 'l'));
    expect(open('/l', O_RDONLY | O_NOFOLLOW)).toBe(-ELOOP);
    const dfd = open('/d', O_RDONLY | O_DIRECTORY);
    expect(t.call(sysRead, dfd, B, 10)).toBe(-EISDIR);
  });

  it('paths cannot escape the root: ../../etc/passwd stays inside and is ENOENT', () => {
    expect(open('../../etc/passwd', O_RDONLY)).toBe(-ENOENT);
    expect(open('/../../../etc/passwd', O_RDONLY)).toBe(-ENOENT);
    fs.symlinkSync('/etc/passwd', path.join(t.dir, 'evil'));
    expect(open('/evil', O_RDONLY)).toBe(-ENOENT); // names ROOT/etc/passwd
    fs.mkdirSync(path.join(t.dir, 'etc'));
    fs.writeFileSync(path.join(t.dir, 'etc', 'passwd'), 'guest');
    const fd = open('../../etc/passwd', O_RDONLY);
    expect(t.call(sysRead, fd, B, 100)).toBe(5);
    expect(dec(t.peek(B, 5))).toBe('guest');
  });

  it('EFAULT for wild and kernel-half buffers and paths; EBADF for bad fds; nothing leaks', () => {
    const live = ofilesLive(t.vm.ctx);
    fs.writeFileSync(path.join(t.dir, 'e'), 'data');
    const fd = open('/e', O_RDWR);
    expect(t.call(sysRead, fd, 0x4000_0000, 4)).toBe(-EFAULT); // unmapped
    expect(t.call(sysRead, fd, KERNEL_PROBE_VA, 4)).toBe(-EFAULT); // kernel half
    expect(t.call(sysWrite, fd, 0x4000_0000, 4)).toBe(-EFAULT);
    expect(t.call(sysWrite, fd, 0xffff_ffff_ffff_f000n, 4)).toBe(-EFAULT);
    expect(t.call(sysOpenat, AT_FDCWD, 0x4000_0000, O_RDONLY, 0)).toBe(-EFAULT);
    expect(t.call(sysFstat, fd, KERNEL_PROBE_VA)).toBe(-EFAULT);
    expect(t.call(sysLseek, fd, 0, SEEK_CUR)).toBe(0); // failed read consumed nothing
    expect(t.call(sysRead, 99, B, 1)).toBe(-EBADF);
    expect(t.call(sysRead, -1, B, 1)).toBe(-EBADF);
    expect(t.call(sysWrite, 5000, B, 1)).toBe(-EBADF);
    const ro = open('/e', O_RDONLY);
    expect(t.call(sysWrite, ro, B, 1)).toBe(-EBADF);
    t.call(sysClose, fd);
    t.call(sysClose, ro);
    expect(ofilesLive(t.vm.ctx)).toBe(live);
  });
});

describe('metadata', () => {
  it('fstat and newfstatat fill struct stat; AT_SYMLINK_NOFOLLOW stats the link', () => {
    fs.writeFileSync(path.join(t.dir, 's'), 'x'.repeat(1234));
    fs.symlinkSync('s', path.join(t.dir, 'sl'));
    const fd = open('/s', O_RDONLY);
    expect(t.call(sysFstat, fd, B)).toBe(0);
    const dv = new DataView(t.peek(B, 128).buffer);
    expect(dv.getUint32(16, true) & S_IFMT).toBe(S_IFREG);
    expect(Number(dv.getBigInt64(48, true))).toBe(1234);
    expect(dv.getBigUint64(8, true)).toBe(fs.statSync(path.join(t.dir, 's'), { bigint: true }).ino);
    expect(t.call(sysNewfstatat, AT_FDCWD, t.str(P, 'sl'), B, 0)).toBe(0);
    expect(Number(new DataView(t.peek(B, 128).buffer).getBigInt64(48, true))).toBe(1234);
    expect(t.call(sysNewfstatat, AT_FDCWD, t.str(P, 'sl'), B, AT_SYMLINK_NOFOLLOW)).toBe(0);
    expect(new DataView(t.peek(B, 128).buffer).getUint32(16, true) & S_IFMT).toBe(0o120000);
    expect(t.call(sysNewfstatat, AT_FDCWD, t.str(P, '/'), B, 0)).toBe(0);
    expect(new DataView(t.peek(B, 128).buffer).getUint32(16, true) & S_IFMT).toBe(S_IFDIR);
    expect(t.call(sysNewfstatat, AT_FDCWD, t.str(P, '/missing'), B, 0)).toBe(-ENOENT);
    expect(t.call(sysReadlinkat, AT_FDCWD, t.str(P, '/sl'), B, 100)).toBe(1);
    expect(t.call(sysReadlinkat, AT_FDCWD, t.str(P, '/s'), B, 100)).toBe(-EINVAL);
  });

  it('mkdirat, unlinkat (files and AT_REMOVEDIR), dirfd-relative paths, getdents64', () => {
    expect(t.call(sysMkdirat, AT_FDCWD, t.str(P, '/dir'), 0o755)).toBe(0);
    expect(t.call(sysMkdirat, AT_FDCWD, t.str(P, '/dir'), 0o755)).toBe(-EEXIST);
    const dfd = open('/dir', O_RDONLY | O_DIRECTORY);
    const fd = t.call(sysOpenat, dfd, t.str(P, 'inner'), O_CREAT | O_WRONLY, 0o600);
    expect(fd).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(t.dir, 'dir', 'inner'))).toBe(true);
    expect(t.call(sysOpenat, fd, t.str(P, 'x'), O_RDONLY, 0)).toBe(-ENOTDIR);
    const n = t.call(sysGetdents64, dfd, B, 4096);
    expect(n).toBeGreaterThan(0);
    const names: string[] = [];
    const raw = t.peek(B, n);
    const dv = new DataView(raw.buffer);
    for (let at = 0; at < n; at += dv.getUint16(at + 16, true)) {
      const end = raw.indexOf(0, at + 19);
      names.push(dec(raw.subarray(at + 19, end)));
    }
    expect(names.sort()).toEqual(['.', '..', 'inner']);
    expect(t.call(sysGetdents64, dfd, B, 4096)).toBe(0);
    expect(t.call(sysUnlinkat, AT_FDCWD, t.str(P, '/dir'), AT_REMOVEDIR)).toBe(-ENOTEMPTY);
    expect(t.call(sysUnlinkat, AT_FDCWD, t.str(P, '/dir'), 0)).toBe(-EISDIR);
    expect(t.call(sysUnlinkat, dfd, t.str(P, 'inner'), 0)).toBe(0);
    expect(t.call(sysUnlinkat, AT_FDCWD, t.str(P, '/dir'), AT_REMOVEDIR)).toBe(0);
    expect(fs.existsSync(path.join(t.dir, 'dir'))).toBe(false);
    expect(t.call(sysUnlinkat, AT_FDCWD, t.str(P, '/dir'), 0)).toBe(-ENOENT);
  });

  it('getcwd and chdir; relative opens follow the cwd', () => {
    fs.mkdirSync(path.join(t.dir, 'w'));
    fs.writeFileSync(path.join(t.dir, 'w', 'f'), 'in w');
    expect(t.call(sysGetcwd, B, 100)).toBe(2);
    expect(t.call(sysChdir, t.str(P, '/w'))).toBe(0);
    expect(t.call(sysGetcwd, B, 100)).toBe(3);
    expect(dec(t.peek(B, 2))).toBe('/w');
    expect(t.call(sysGetcwd, B, 2)).toBe(-ERANGE);
    expect(open('f', O_RDONLY)).toBeGreaterThan(0);
    expect(t.call(sysChdir, t.str(P, '/w/f'))).toBe(-ENOTDIR);
  });

  it('ftruncate; ioctl TCGETS is ENOTTY on files; lseek on a non-tty stdio is ESPIPE', () => {
    const fd = open('/t', O_CREAT | O_RDWR);
    expect(t.call(sysFtruncate, fd, 5000)).toBe(0);
    expect(fs.statSync(path.join(t.dir, 't')).size).toBe(5000);
    expect(t.call(sysFtruncate, fd, -1)).toBe(-EINVAL);
    expect(t.call(sysIoctl, fd, TCGETS, B)).toBe(-ENOTTY);
    expect(t.call(sysIoctl, 77, TCGETS, B)).toBe(-EBADF);
    expect(t.call(sysLseek, 1, 0, SEEK_CUR)).toBe(-ESPIPE);
  });
});
