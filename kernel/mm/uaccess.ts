/**
 * User access for syscalls: copy to and from user memory, strncpy of a user string, and
 * accessOk. A user pointer can never make the kernel touch the kernel half, another process's
 * memory or an unmapped/protected range: every byte is translated through this address
 * space's own page tables with U-mode permission checks (exactly what the MMU would allow),
 * and the answer is a clean -EFAULT.
 *
 * Pages not yet present are faulted in through kernel/mm/fault.ts, as a user access would. The
 * translation and the copy of each page happen under the mmap lock held shared, so a
 * concurrent munmap cannot free the frame in between.
 */
import { PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W } from '../../cpu/pte.ts';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import { ACCESS_LOAD, ACCESS_STORE } from '../../cpu/trap.ts';
import { USER_TOP, type VirtualAddressSpace } from './aspace.ts';
import type { KernelContext } from '../context.ts';
import { EFAULT, EINVAL, ENAMETOOLONG } from '../errno.ts';
import { handlePageFault, protAllows } from './fault.ts';
import { casPte, findLeaf, found, loPpn } from './pagetable.ts';

/**
 * accessOk: true when [va, va + len) lies in user space inside regions whose protection
 * allows the access. Does not fault anything in (KeOS's access_ok).
 */
export function accessOk(as: VirtualAddressSpace, va: number, len: number, write: boolean): boolean {
  if (!(va >= 0 && len >= 0 && va + len <= USER_TOP)) return false;
  if (len === 0) return true;
  as.lock.readLock();
  try {
    const s = Math.floor(va / PAGE_SIZE), e = Math.ceil((va + len) / PAGE_SIZE);
    const rl = as.regions;
    let at = s;
    for (let i = rl.lowerBound(s); i >= 0 && at < e; i = rl.next(i)) {
      const r = rl.get(i);
      if (r.start > at || !protAllows(r.prot, write ? ACCESS_STORE : ACCESS_LOAD)) return false;
      at = r.start + r.npages;
    }
    return at >= e;
  } finally {
    as.lock.readUnlock();
  }
}

/** Physical address of user va for a U-mode access (setting A/D as the MMU does), or -1. Caller holds the mmap lock shared. */
function userPa(ctx: KernelContext, as: VirtualAddressSpace, va: number, write: boolean): number {
  const vpn = Math.floor(va / PAGE_SIZE);
  for (;;) {
    const pa = findLeaf(ctx, as.rootPpn, vpn);
    if (pa < 0) return -1;
    const lo = found.lo, level = found.level;
    const need = PTE_V | PTE_U | (write ? PTE_W : PTE_R);
    if ((lo & need) !== need) return -1;
    const ad = write ? PTE_A | PTE_D : PTE_A;
    if ((lo & ad) !== ad && !casPte(ctx, pa, lo, lo | ad)) continue;
    const pageBase = (loPpn(lo) + (level === 0 ? 0 : vpn % 512 ** level)) * PAGE_SIZE;
    return pageBase + (va % PAGE_SIZE);
  }
}

/** Run `fn(pa, n)` over each page piece of [va, va + len), faulting pages in; 0 or -EFAULT. */
function eachPiece(ctx: KernelContext, as: VirtualAddressSpace, va: number, len: number, write: boolean, fn: (pa: number, off: number, n: number) => boolean): number {
  if (!(va >= 0 && len >= 0 && va + len <= USER_TOP)) return -EFAULT;
  let off = 0;
  while (off < len) {
    const at = va + off;
    const n = Math.min(len - off, PAGE_SIZE - (at % PAGE_SIZE));
    let done = false;
    for (let attempt = 0; attempt < 4 && !done; attempt++) {
      as.lock.readLock();
      let pa: number;
      let more = true;
      try {
        pa = userPa(ctx, as, at, write);
        if (pa >= 0) {
          more = fn(pa, off, n);
          done = true;
        }
      } finally {
        as.lock.readUnlock();
      }
      if (done && !more) return 0;
      if (!done && handlePageFault(ctx, as, at, write ? ACCESS_STORE : ACCESS_LOAD) !== null) return -EFAULT;
    }
    if (!done) return -EFAULT;
    off += n;
  }
  return 0;
}

/** Copy `data` to user va. 0 or -EFAULT (possibly after copying a prefix, like Linux). */
export function copyToUser(ctx: KernelContext, as: VirtualAddressSpace, va: number, data: Uint8Array): number {
  const u8 = ctx.ram.u8;
  return eachPiece(ctx, as, va, data.length, true, (pa, off, n) => {
    u8.set(data.subarray(off, off + n), pa);
    return true;
  });
}

/** Copy `len` bytes from user va. The bytes, or -EFAULT. */
export function copyFromUser(ctx: KernelContext, as: VirtualAddressSpace, va: number, len: number): Uint8Array | number {
  const out = new Uint8Array(len);
  const u8 = ctx.ram.u8;
  const r = eachPiece(ctx, as, va, len, false, (pa, off, n) => {
    out.set(u8.subarray(pa, pa + n), off);
    return true;
  });
  return r < 0 ? r : out;
}

/**
 * A NUL-terminated user string of at most `max` bytes before the NUL, as a byte string (one
 * char per byte, char codes 0–255: never UTF-8 decoded — Linux names and argv are bytes).
 * -EFAULT when a byte before the NUL is not readable, -ENAMETOOLONG when no NUL within `max` + 1 bytes.
 */
export function strncpyFromUser(ctx: KernelContext, as: VirtualAddressSpace, va: number, max: number): string | number {
  const bytes: number[] = [];
  let found0 = false;
  const u8 = ctx.ram.u8;
  const limit = Math.max(0, Math.min(max + 1, USER_TOP - va));
  const r = eachPiece(ctx, as, va, limit, false, (pa, _off, n) => {
    for (let k = 0; k < n; k++) {
      const b = u8[pa + k]!;
      if (b === 0) { found0 = true; return false; }
      bytes.push(b);
    }
    return true;
  });
  if (r < 0 && !found0) return r;
  if (!found0) return va + limit >= USER_TOP && limit <= max ? -EFAULT : -ENAMETOOLONG;
  return Buffer.from(bytes).toString('latin1');
}

/** Linux UIO_MAXIOV: the most iovecs one call takes. */
export const UIO_MAXIOV = 1024;

/**
 * The `cnt` iovecs (struct iovec: base, len; 16 bytes each) at `va` of `as` as [base, len]
 * pairs, or -EINVAL (cnt negative or above UIO_MAXIOV, a negative length, a total beyond
 * ssize_t) or -EFAULT (the array is not readable). Shared by readv/writev, sendmsg/recvmsg and
 * process_vm_readv/writev.
 */
export function readIovecs(ctx: KernelContext, as: VirtualAddressSpace, va: number, cnt: number): [number, number][] | number {
  if (cnt < 0 || cnt > UIO_MAXIOV) return -EINVAL;
  if (cnt === 0) return [];
  const raw = copyFromUser(ctx, as, va, cnt * 16);
  if (typeof raw === 'number') return -EFAULT;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: [number, number][] = [];
  let total = 0;
  for (let i = 0; i < cnt; i++) {
    const len = dv.getBigInt64(i * 16 + 8, true);
    if (len < 0n) return -EINVAL;
    total += Number(len);
    if (total > 0x7fffffffffff) return -EINVAL; // past ssize_t in any realistic sense
    out.push([Number(dv.getBigUint64(i * 16, true)), Number(len)]);
  }
  return out;
}
