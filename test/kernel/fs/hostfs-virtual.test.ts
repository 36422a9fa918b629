/**
 * HostRoot.resolve with virtual trees (ResolveOptions.virtual, kernel/fs/procfs.ts) and a
 * mounted host directory (HostRoot.mount, /dev/shm): the walk consults the lookup before the
 * host, follows virtual links itself, keeps a re-opening link as the last component, and
 * confines a mount like the root.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ENOTDIR, HostRoot, VIRTUAL_HOST_PATH, type ResolvedPath, type VirtualLookup } from '../../../kernel/fs/hostfs.ts';
import { ENOENT } from '../../../kernel/errno.ts';

let top: string, rootDir: string, shm: string, hr: HostRoot;

beforeAll(() => {
  top = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'coherent-hostfs-virt-')));
  rootDir = path.join(top, 'root');
  shm = path.join(top, 'shm');
  fs.mkdirSync(path.join(rootDir, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(rootDir, 'etc', 'passwd'), 'guest');
  fs.mkdirSync(shm);
  fs.writeFileSync(path.join(shm, 'obj'), 'shared');
  fs.symlinkSync('/etc/passwd', path.join(shm, 'abs'));
  fs.symlinkSync('../../..', path.join(shm, 'up'));
  hr = new HostRoot(rootDir);
  hr.mount('/dev/shm', shm);
});
afterAll(() => fs.rmSync(top, { recursive: true, force: true }));

/** A small virtual tree: /v (dir), /v/file, /v/self -> 7, /v/7 (dir), /v/7/f, /v/abs -> /etc/passwd, /v/pipe (re-opening link). */
const lookup: VirtualLookup = (c) => {
  if (c[0] !== 'v') return undefined;
  const p = c.join('/');
  const nodes: Record<string, ReturnType<VirtualLookup>> = {
    v: { type: 'dir' }, 'v/file': { type: 'file' }, 'v/self': { type: 'link', target: '7' }, 'v/7': { type: 'dir' },
    'v/7/f': { type: 'file' }, 'v/abs': { type: 'link', target: '/etc/passwd' }, 'v/pipe': { type: 'link', target: 'pipe:[3]', reopen: true },
  };
  return nodes[p] ?? null;
};
const ok = (r: ResolvedPath | number): ResolvedPath => {
  if (typeof r === 'number') throw new Error(`resolve failed: ${r}`);
  return r;
};

describe('virtual trees in resolve', () => {
  it('resolves a virtual node without touching the host, with a host path no host call can use', () => {
    const r = ok(hr.resolve('/v/file', { virtual: lookup }));
    expect(r.guestPath).toBe('/v/file');
    expect(r.virt?.type).toBe('file');
    expect(r.hostPath.equals(VIRTUAL_HOST_PATH)).toBe(true);
    expect(() => fs.statSync(r.hostPath)).toThrow(/ENOTDIR/);
  });

  it('follows a relative virtual link inside the tree, an absolute one to the host', () => {
    expect(ok(hr.resolve('/v/self/f', { virtual: lookup })).guestPath).toBe('/v/7/f');
    const abs = ok(hr.resolve('/v/abs', { virtual: lookup }));
    expect(abs.virt).toBeUndefined();
    expect(abs.hostPath.toString()).toBe(path.join(rootDir, 'etc', 'passwd'));
    expect(ok(hr.resolve('/v/self', { virtual: lookup, followFinal: false })).virt).toEqual({ type: 'link', target: '7' });
  });

  it('answers ENOENT for an absent name, ENOTDIR for a file used as a directory', () => {
    expect(hr.resolve('/v/none', { virtual: lookup })).toBe(-ENOENT);
    expect(hr.resolve('/v/none/x', { virtual: lookup })).toBe(-ENOENT);
    expect(hr.resolve('/v/file/x', { virtual: lookup })).toBe(-ENOTDIR);
    expect(hr.resolve('/v/file/', { virtual: lookup })).toBe(-ENOTDIR);
  });

  it('keeps a re-opening link as the last component, follows it inside a path', () => {
    expect(ok(hr.resolve('/v/pipe', { virtual: lookup })).virt).toMatchObject({ type: 'link', reopen: true });
    expect(hr.resolve('/v/pipe/x', { virtual: lookup })).toBe(-ENOENT); // /v/pipe:[3]/x
  });

  it('is what withVirtual gives every resolve of the view, and nothing without it', () => {
    const view = hr.withVirtual(lookup);
    expect(ok(view.resolve('/v/7')).virt?.type).toBe('dir');
    expect(ok(view.resolve('7/f', { base: '/v' })).guestPath).toBe('/v/7/f');
    expect(hr.resolve('/v/7')).toBe(-ENOENT); // the root itself: host paths only (there is no host /v)
  });
});

describe('a mounted host directory (/dev/shm)', () => {
  // /dev itself is virtual (as kernel/fs/procfs.ts has it); its shm entry is left to the host: the mount.
  const dev: VirtualLookup = (c) => (c[0] !== 'dev' ? undefined : c.length === 1 ? { type: 'dir' } : c[1] === 'shm' ? undefined : null);
  let v: HostRoot;
  beforeAll(() => { v = hr.withVirtual(dev); });

  it('resolves below the mount into its host directory and maps guest paths back', () => {
    const r = ok(v.resolve('/dev/shm/obj'));
    expect(r.hostPath.toString()).toBe(path.join(shm, 'obj'));
    expect(ok(v.resolve('/dev/shm')).hostPath.toString()).toBe(shm);
    expect(v.hostOfGuest('/dev/shm/obj').toString()).toBe(path.join(shm, 'obj'));
    expect(ok(v.resolve('/dev/shm/new')).hostPath.toString()).toBe(path.join(shm, 'new')); // O_CREAT's name
  });

  it('confines the mount like the root: links restart at the guest root, .. leaves the mount in guest terms', () => {
    expect(ok(v.resolve('/dev/shm/abs')).hostPath.toString()).toBe(path.join(rootDir, 'etc', 'passwd'));
    expect(ok(v.resolve('/dev/shm/up')).guestPath).toBe('/');
    expect(ok(v.resolve('/dev/shm/../shm/obj')).hostPath.toString()).toBe(path.join(shm, 'obj'));
    expect(ok(v.resolve('/dev/shm/..')).virt?.type).toBe('dir'); // /dev
  });
});
