import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import {
  EISDIR, ELOOP, ENOTDIR, ENOTEMPTY, HostRoot, PATH_MAX, STAT_SIZE, errnoFromNode, openFlagsToHost, statToLinux, type ResolvedPath,
} from '../../../kernel/fs/hostfs.ts';
import { EACCES, EEXIST, EINVAL, EIO, ENOENT, ENAMETOOLONG, EOPNOTSUPP } from '../../../kernel/errno.ts';
import * as lf from '../../../kernel/linux-flags.ts';

const abi = JSON.parse(readFileSync(new URL('../../fixtures/linux-abi.json', import.meta.url), 'utf8')) as Record<string, number>;

let top: string;
let rootDir: string;
let outside: string;
let hr: HostRoot;

beforeAll(() => {
  top = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'coherent-hostfs-')));
  rootDir = path.join(top, 'root');
  outside = path.join(top, 'outside');
  fs.mkdirSync(path.join(rootDir, 'sub', 'deep'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'secret');
  fs.writeFileSync(path.join(rootDir, 'file'), 'inside');
  fs.writeFileSync(path.join(rootDir, 'sub', 'deep', 'f'), 'deep');
  fs.mkdirSync(path.join(rootDir, 'etc'));
  fs.writeFileSync(path.join(rootDir, 'etc', 'secret'), 'guest etc');
  const link = (target: string, name: string) => fs.symlinkSync(target, path.join(rootDir, name));
  link(outside, 'abs-out'); // absolute host path of a real outside dir
  link('../outside/secret', 'rel-out'); // relative, one level above the root
  link('../../../../../etc/secret', 'dotdot-out');
  link('/etc/secret', 'abs-etc'); // means ROOT/etc/secret under chroot rules
  link('sub/deep', 'to-deep');
  link('to-deep/f', 'chain');
  link('loop-b', 'loop-a');
  link('loop-a', 'loop-b');
  link('file', 'to-file');
  hr = new HostRoot(rootDir);
});
afterAll(() => fs.rmSync(top, { recursive: true, force: true }));

const ok = (r: ResolvedPath | number): ResolvedPath => {
  if (typeof r === 'number') throw new Error(`resolve failed with ${r}`);
  return r;
};

describe('HostRoot.resolve: ordinary lookups', () => {
  it('absolute, relative to a base, with . and //', () => {
    expect(ok(hr.resolve('/file'))).toEqual({ hostPath: Buffer.from(path.join(rootDir, 'file')), guestPath: '/file' });
    expect(ok(hr.resolve('deep/./f', { base: '/sub' })).hostPath.toString()).toBe(path.join(rootDir, 'sub/deep/f'));
    expect(ok(hr.resolve('//sub///deep/')).guestPath).toBe('/sub/deep');
    expect(ok(hr.resolve('/')).hostPath.toString()).toBe(rootDir);
    expect(ok(hr.resolve('.', { base: '/sub' })).guestPath).toBe('/sub');
  });
  it('a missing final component resolves (for O_CREAT); a missing directory is ENOENT', () => {
    expect(ok(hr.resolve('/sub/new-file')).hostPath.toString()).toBe(path.join(rootDir, 'sub/new-file'));
    expect(hr.resolve('/nodir/new-file')).toBe(-ENOENT);
    expect(hr.resolve('')).toBe(-ENOENT);
  });
  it('a file used as a directory is ENOTDIR, also with a trailing slash', () => {
    expect(hr.resolve('/file/x')).toBe(-ENOTDIR);
    expect(hr.resolve('/file/')).toBe(-ENOTDIR);
    expect(hr.resolve('/to-file/')).toBe(-ENOTDIR);
  });
  it('names that are too long', () => {
    expect(hr.resolve('/' + 'a'.repeat(256))).toBe(-ENAMETOOLONG);
    expect(hr.resolve('/a'.repeat(2048))).toBe(-ENAMETOOLONG);
  });
});

describe('HostRoot.resolve: nothing escapes the root (chroot semantics)', () => {
  it('.. at the root stays at the root', () => {
    expect(ok(hr.resolve('/..')).hostPath.toString()).toBe(rootDir);
    expect(ok(hr.resolve('/../../../file')).hostPath.toString()).toBe(path.join(rootDir, 'file'));
    expect(ok(hr.resolve('../../..', { base: '/sub/deep' })).guestPath).toBe('/');
    // The host's <top>/outside/secret exists; the guest's /outside does not.
    expect(hr.resolve('sub/../../../outside/secret')).toBe(-ENOENT);
  });
  it('an absolute symlink restarts at the guest root, never the host root', () => {
    expect(hr.resolve('/abs-out/secret')).toBe(-ENOENT); // ROOT/<top>/outside does not exist
    expect(ok(hr.resolve('/abs-etc')).hostPath.toString()).toBe(path.join(rootDir, 'etc/secret'));
    expect(fs.readFileSync(ok(hr.resolve('/abs-etc')).hostPath, 'utf8')).toBe('guest etc');
  });
  it('relative symlinks climbing out stop at the root', () => {
    expect(hr.resolve('/rel-out')).toBe(-ENOENT); // ROOT/outside/secret, not <top>/outside/secret
    fs.mkdirSync(path.join(rootDir, 'outside'));
    expect(ok(hr.resolve('/rel-out')).hostPath.toString()).toBe(path.join(rootDir, 'outside/secret'));
    fs.rmdirSync(path.join(rootDir, 'outside'));
    expect(ok(hr.resolve('/dotdot-out')).hostPath.toString()).toBe(path.join(rootDir, 'etc/secret'));
  });
  it('every result stays inside the root', () => {
    for (const p of ['/abs-out', '/rel-out', '/dotdot-out', '/abs-etc', '/..', 'x/../../..', '/chain', '/to-deep/../..']) {
      const r = hr.resolve(p);
      if (typeof r === 'number') continue;
      const host = r.hostPath.toString();
      expect(host === rootDir || host.startsWith(rootDir + '/'), p).toBe(true);
    }
  });
  it('follows chains of links inside the root; loops are ELOOP', () => {
    expect(ok(hr.resolve('/chain')).hostPath.toString()).toBe(path.join(rootDir, 'sub/deep/f'));
    expect(ok(hr.resolve('/to-deep/../deep/f')).guestPath).toBe('/sub/deep/f');
    expect(hr.resolve('/loop-a')).toBe(-ELOOP);
  });
  it('followFinal false names the link itself, whatever it points at', () => {
    expect(ok(hr.resolve('/abs-out', { followFinal: false })).hostPath.toString()).toBe(path.join(rootDir, 'abs-out'));
    expect(ok(hr.resolve('/loop-a', { followFinal: false })).guestPath).toBe('/loop-a');
    expect(ok(hr.resolve('/to-deep/', { followFinal: false })).hostPath.toString()).toBe(path.join(rootDir, 'sub/deep'));
  });
  it('contains() checks host realpaths of the deepest existing prefix', () => {
    expect(hr.contains(rootDir)).toBe(true);
    expect(hr.contains(path.join(rootDir, 'sub/missing/deeper'))).toBe(true);
    expect(hr.contains(outside)).toBe(false);
    expect(hr.contains(top)).toBe(false);
    expect(hr.contains(path.join(rootDir, 'abs-out', 'secret'))).toBe(false); // through a host-followed link
    expect(hr.contains(rootDir + '-sibling')).toBe(false);
  });
  it('the root must be a directory', () => {
    expect(() => new HostRoot(path.join(rootDir, 'file'))).toThrow(/HostRoot/);
  });
});

describe('openFlagsToHost', () => {
  const c = fs.constants;
  it('access modes and creation flags', () => {
    const r = openFlagsToHost(lf.O_RDONLY);
    expect(r).toMatchObject({ nodeFlags: c.O_RDONLY, readable: true, writable: false });
    const w = openFlagsToHost(lf.O_WRONLY | lf.O_CREAT | lf.O_TRUNC | lf.O_CLOEXEC);
    expect(w).toMatchObject({ nodeFlags: c.O_WRONLY | c.O_CREAT | c.O_TRUNC, readable: false, writable: true, cloexec: true });
    const a = openFlagsToHost(lf.O_RDWR | lf.O_APPEND | lf.O_EXCL | lf.O_CREAT);
    expect(a).toMatchObject({ nodeFlags: c.O_RDWR | c.O_APPEND | c.O_EXCL | c.O_CREAT, append: true, readable: true, writable: true });
    const d = openFlagsToHost(lf.O_RDONLY | lf.O_DIRECTORY | lf.O_NOFOLLOW | lf.O_NONBLOCK);
    expect(d).toMatchObject({ nodeFlags: c.O_RDONLY | c.O_DIRECTORY | c.O_NOFOLLOW, nonblock: true });
    expect(openFlagsToHost(lf.O_PATH | lf.O_CREAT)).toMatchObject({ nodeFlags: c.O_RDONLY, pathOnly: true, readable: false });
  });
  it('refusals', () => {
    expect(openFlagsToHost(lf.O_TMPFILE | lf.O_RDWR)).toBe(-EOPNOTSUPP);
    expect(openFlagsToHost(3 | lf.O_CREAT)).toBe(-EINVAL);
  });
  it('the translated flags really behave on the host', () => {
    const f = path.join(rootDir, 'created');
    const flags = openFlagsToHost(lf.O_WRONLY | lf.O_CREAT | lf.O_EXCL) as { nodeFlags: number };
    fs.closeSync(fs.openSync(f, flags.nodeFlags, 0o644));
    let code = 0;
    try { fs.openSync(f, flags.nodeFlags); } catch (e) { code = errnoFromNode(e); }
    expect(code).toBe(EEXIST);
    const nofollow = openFlagsToHost(lf.O_RDONLY | lf.O_NOFOLLOW) as { nodeFlags: number };
    try { fs.openSync(path.join(rootDir, 'to-file'), nofollow.nodeFlags); code = 0; } catch (e) { code = errnoFromNode(e); }
    expect(code).toBe(ELOOP);
  });
});

describe('statToLinux', () => {
  it('offsets match the C struct stat', () => {
    expect(STAT_SIZE).toBe(abi['sizeof struct stat']);
    const want: Record<string, number> = { ST_DEV: abi['struct stat.st_dev'], ST_INO: abi['struct stat.st_ino'], ST_MODE: abi['struct stat.st_mode'],
      ST_NLINK: abi['struct stat.st_nlink'], ST_UID: abi['struct stat.st_uid'], ST_GID: abi['struct stat.st_gid'],
      ST_RDEV: abi['struct stat.st_rdev'], ST_SIZE: abi['struct stat.st_size'], ST_BLKSIZE: abi['struct stat.st_blksize'],
      ST_BLOCKS: abi['struct stat.st_blocks'], ST_ATIME: abi['struct stat.st_atim'], ST_MTIME: abi['struct stat.st_mtim'],
      ST_CTIME: abi['struct stat.st_ctim'] };
    return import('../../../kernel/fs/hostfs.ts').then((m) => {
      for (const [k, v] of Object.entries(want)) expect((m as unknown as Record<string, number>)[k], k).toBe(v);
    });
  });
  it('encodes a real file', () => {
    const file = path.join(rootDir, 'sub/deep/f');
    fs.utimesSync(file, new Date(1_700_000_000_250), new Date(1_600_000_000_500));
    const st = fs.statSync(file, { bigint: true });
    const b = statToLinux(st);
    const dv = new DataView(b.buffer);
    expect(dv.getBigUint64(8, true)).toBe(st.ino);
    expect(dv.getUint32(16, true) & lf.S_IFMT).toBe(lf.S_IFREG);
    expect(dv.getUint32(16, true) & 0o777).toBe(Number(st.mode) & 0o777);
    expect(dv.getUint32(20, true)).toBe(1);
    expect(dv.getBigInt64(48, true)).toBe(4n);
    expect(dv.getBigInt64(72, true)).toBe(1_700_000_000n);
    expect(dv.getBigUint64(80, true)).toBe(250_000_000n);
    expect(dv.getBigInt64(88, true)).toBe(1_600_000_000n);
    expect(dv.getBigUint64(96, true)).toBe(500_000_000n);
    const plain = statToLinux(fs.statSync(file));
    expect([...plain.subarray(0, 104)]).toEqual([...b.subarray(0, 104)]);
    const dir = new DataView(statToLinux(fs.statSync(rootDir)).buffer);
    expect(dir.getUint32(16, true) & lf.S_IFMT).toBe(lf.S_IFDIR);
  });
});

describe('errnoFromNode', () => {
  const codeOf = (f: () => unknown) => { try { f(); } catch (e) { return errnoFromNode(e); } return 0; };
  it('maps real Node errors to Linux numbers', () => {
    expect(codeOf(() => fs.readFileSync(path.join(rootDir, 'nope')))).toBe(ENOENT);
    expect(codeOf(() => fs.readFileSync(rootDir))).toBe(EISDIR);
    expect(codeOf(() => fs.readdirSync(path.join(rootDir, 'file')))).toBe(ENOTDIR);
    expect(codeOf(() => fs.rmdirSync(path.join(rootDir, 'sub')))).toBe(ENOTEMPTY);
    expect(codeOf(() => fs.mkdirSync(path.join(rootDir, 'sub')))).toBe(EEXIST);
    expect(codeOf(() => fs.closeSync(987654))).toBe(9);
  });
  it('unknown or non-errors are EIO; EACCES is EACCES', () => {
    expect(errnoFromNode(new Error('x'))).toBe(EIO);
    expect(errnoFromNode(null)).toBe(EIO);
    expect(errnoFromNode({ code: 'EACCES' })).toBe(EACCES);
    expect(errnoFromNode({ code: 'ENOTSUP' })).toBe(95);
  });
});

describe('HostRoot.resolve: names are bytes', () => {
  const B = (s: string): string => Buffer.from(s, 'latin1').toString('latin1'); // a byte string
  it('a non-UTF-8 name and the name its UTF-8 decoding gives are two host files', () => {
    const raw = B('\xff\xfe'); // bytes ff fe
    const decoded = Buffer.from('\ufffd\ufffd').toString('latin1'); // bytes ef bf bd ef bf bd
    const a = ok(hr.resolve('/' + raw)), b = ok(hr.resolve('/' + decoded));
    expect([...a.hostPath.subarray(-2)]).toEqual([0xff, 0xfe]);
    expect(Buffer.compare(a.hostPath, b.hostPath)).not.toBe(0);
    fs.writeFileSync(a.hostPath, 'raw');
    fs.writeFileSync(b.hostPath, 'decoded');
    expect(fs.readFileSync(a.hostPath, 'utf8')).toBe('raw');
    const names = fs.readdirSync(rootDir, { encoding: 'buffer' }).map((n) => n.toString('latin1'));
    expect(names).toContain(raw);
    expect(names).toContain(decoded);
    expect(ok(hr.resolve('/' + raw)).guestPath).toBe('/' + raw);
    fs.unlinkSync(a.hostPath);
    fs.unlinkSync(b.hostPath);
  });
  it('a link whose target is not UTF-8 is followed byte for byte', () => {
    fs.mkdirSync(Buffer.from(path.join(rootDir, 'caf\xe9'), 'latin1'));
    fs.symlinkSync(Buffer.from('caf\xe9', 'latin1'), path.join(rootDir, 'to-cafe'));
    expect(ok(hr.resolve('/to-cafe/.')).guestPath).toBe(B('/caf\xe9'));
    fs.unlinkSync(path.join(rootDir, 'to-cafe'));
    fs.rmdirSync(Buffer.from(path.join(rootDir, 'caf\xe9'), 'latin1'));
  });
  it('lengths count bytes: NAME_MAX is 255 bytes, however they would decode', () => {
    expect(typeof hr.resolve('/' + B('\xe9').repeat(255))).toBe('object'); // 255 bytes: a legal (missing) name
    expect(hr.resolve('/' + B('\xe9').repeat(256))).toBe(-ENAMETOOLONG);
    expect(hr.resolve('/' + B('\xe9').repeat(PATH_MAX))).toBe(-ENAMETOOLONG);
  });
});
