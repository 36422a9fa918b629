/**
 * File-syscall test harness: a main-thread VM (test/kernel/mm/harness.ts), one address space
 * with an anonymous read-write buffer mapped at `buf`, a temp host root, and an FsEnv whose
 * fd table has the host's stdio as fds 0-2. `call` runs a handler with number/bigint args.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootTestVm, type Vm } from '../mm/harness.ts';
import { HostRoot } from '../../../kernel/fs/hostfs.ts';
import { mmap } from '../../../kernel/mm/mmap.ts';
import { hartWaiter } from '../../../kernel/fs/pipe.ts';
import { fdTableWithStdio, type FsEnv } from '../../../kernel/fs/sys-fs-env.ts';
import { copyFromUser, copyToUser } from '../../../kernel/mm/uaccess.ts';
import type { VirtualAddressSpace } from '../../../kernel/mm/aspace.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../kernel/linux-flags.ts';

export interface FsTest {
  vm: Vm;
  as: VirtualAddressSpace;
  f: FsEnv;
  dir: string;
  /** Start of a BUF_BYTES read-write user buffer. */
  buf: number;
  call(fn: (f: FsEnv, a: readonly bigint[]) => number, ...args: (number | bigint)[]): number;
  /** Put a NUL-terminated string at user va. */
  str(va: number, s: string): number;
  poke(va: number, bytes: Uint8Array): void;
  peek(va: number, n: number): Uint8Array;
  cleanup(): void;
}

export const BUF_BYTES = 4 * 2 ** 20;
export const BUF_VA = 0x1000_0000;

export function fsTest(): FsTest {
  const vm = bootTestVm(48);
  const as = vm.newSpace();
  const r = mmap(vm.ctx, as, BUF_VA, BUF_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | 0x10);
  if (r !== BUF_VA) throw new Error(`fsTest: mmap ${r}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coherent-fs-'));
  const fdt = fdTableWithStdio(vm.ctx, 1);
  if (fdt < 0) throw new Error(`fsTest: fd table ${fdt}`);
  const f: FsEnv = { kctx: vm.ctx, as, fdt, root: new HostRoot(dir), waiter: hartWaiter(() => {}), pid: 1, sched: null };
  return {
    vm, as, f, dir, buf: BUF_VA,
    call: (fn, ...args) => fn(f, args.map((x) => BigInt(x))),
    str(va, s) {
      const b = new TextEncoder().encode(s + '\0');
      if (copyToUser(vm.ctx, as, va, b) < 0) throw new Error('str: EFAULT');
      return va;
    },
    poke(va, bytes) {
      if (copyToUser(vm.ctx, as, va, bytes) < 0) throw new Error('poke: EFAULT');
    },
    peek(va, n) {
      const b = copyFromUser(vm.ctx, as, va, n);
      if (typeof b === 'number') throw new Error('peek: EFAULT');
      return b;
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
