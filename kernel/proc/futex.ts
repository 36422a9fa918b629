/**
 * futex(2): FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET, with
 * FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME — what glibc 2.36's mutexes, condition
 * variables, pthread_join and sem_* use. Blocking is the scheduler's wait channels
 * (SchedOps.block/wake, scheduler/block.ts): the channel's word is the futex word in RAM
 * (compared under the bucket lock, so a wake between the user's check and the wait is never
 * lost) and its key names the futex as Linux's get_futex_key does:
 *   FUTEX_PRIVATE_FLAG, or a private mapping  → (address space, va): privateKey below;
 *   no flag and a MAP_SHARED mapping           → the physical address (shared across fork).
 * So a wake keyed the same way as the wait always finds it; a private futex on a COW page is
 * still found after either side broke the COW (the va is the same, the frame is not).
 *
 * The word's page is faulted in first (as the user's access would) and the translation is
 * used under the mmap lock held shared, so the frame cannot be freed while the bucket lock
 * compares it. Other commands (REQUEUE, WAKE_OP, PI) return -ENOSYS; glibc 2.36 does not
 * issue them for the guests' mutexes, condvars and joins.
 */
import { PTE_V } from '../../cpu/pte.ts';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import type { VirtualAddressSpace } from '../mm/aspace.ts';
import type { KernelContext } from '../context.ts';
import { EFAULT, EINVAL, ENOSYS } from '../errno.ts';
import {
  CLOCK_MONOTONIC, CLOCK_REALTIME, FUTEX_BITSET_MATCH_ANY, FUTEX_CLOCK_REALTIME, FUTEX_CMD_MASK, FUTEX_PRIVATE_FLAG,
  FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAKE, FUTEX_WAKE_BITSET,
} from '../linux-flags.ts';
import { findLeaf, found, loPpn } from '../mm/pagetable.ts';
import { clockNs } from './sys-info.ts';
import * as N from '../syscalls-table.ts';
import { argInt, argU, NO_RETURN, registerSyscall, type SyscallEnv, type SyscallResult, type WaitChannel } from '../syscall.ts';
import { copyFromUser } from '../mm/uaccess.ts';
import { RF_SHARED } from '../mm/layout.ts';

/** Keys of private futexes start here (above every physical address; ctl channels are negative). */
const PRIVATE_KEY_BASE = 2 ** 45;
/** Address-space slots told apart in private keys (beyond: keys of slots k and k + 255 coincide — a spurious wake-up at worst). */
const PRIVATE_KEY_SPACES = 255;

/** The key of the private futex at `va` (4-aligned) of address space slot `slot`. */
export function privateKey(slot: number, va: number): number {
  return ((slot % PRIVATE_KEY_SPACES) + 1) * PRIVATE_KEY_BASE + va / 4;
}

/**
 * Run `fn` with the wait channel of the futex word at user `va`, under the mmap lock held
 * shared (the frame stays put). `shared`: the caller did not give FUTEX_PRIVATE_FLAG.
 * Returns fn's result, or -EINVAL (misaligned), -EFAULT (not a readable user word).
 */
export function withFutex<T>(
  kctx: KernelContext, as: VirtualAddressSpace, va: number, shared: boolean, fn: (chan: WaitChannel) => T,
): T | number {
  if (va % 4 !== 0) return -EINVAL;
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = copyFromUser(kctx, as, va, 4); // faults the page in as a user load would
    if (typeof r === 'number') return -EFAULT;
    as.lock.readLock();
    try {
      const vpn = Math.floor(va / PAGE_SIZE);
      const leaf = findLeaf(kctx, as.rootPpn, vpn);
      // Unmapped again meanwhile, or not valid now (a COW break between clear and set, a
      // PROT_NONE page): fault it back in (the fault waits for a change in progress).
      if (leaf < 0 || (found.lo & PTE_V) === 0) continue;
      const pa = (loPpn(found.lo) + (found.level === 0 ? 0 : vpn % 512 ** found.level)) * PAGE_SIZE + (va % PAGE_SIZE);
      let key = privateKey(as.slot, va);
      if (shared) {
        const i = as.regions.find(vpn);
        if (i >= 0 && (as.regions.get(i).flags & RF_SHARED) !== 0) key = pa;
      }
      return fn({ key, i32: kctx.ram.i32, index: pa / 4 });
    } finally {
      as.lock.readUnlock();
    }
  }
  return -EFAULT;
}

/**
 * Wake up to `count` waiters of the futex at `va` keyed the non-private way (what thread
 * exit does for CLONE_CHILD_CLEARTID, like Linux's mm_release). Woken count or -errno.
 */
export function futexWake(env: SyscallEnv, va: number, count: number, shared = true, bitset = -1): number {
  return withFutex(env.kctx, env.as, va, shared, (chan) => env.sched.wake(chan.key, count, bitset));
}

/** A timespec {i64 sec, i64 nsec} at user `va` in ns, or -EFAULT / -EINVAL. */
export function readTimespec(env: SyscallEnv, va: number): bigint | number {
  const b = copyFromUser(env.kctx, env.as, va, 16);
  if (typeof b === 'number') return -EFAULT;
  const dv = new DataView(b.buffer, b.byteOffset, 16);
  const sec = dv.getBigInt64(0, true), nsec = dv.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) return -EINVAL;
  return sec * 1_000_000_000n + nsec;
}

/** futex(uaddr, op, val, timeout, uaddr2, val3). */
export function sysFutex(env: SyscallEnv, a: readonly bigint[]): SyscallResult {
  const va = argU(a[0]!), op = argInt(a[1]!), val = argInt(a[2]!);
  const cmd = op & FUTEX_CMD_MASK;
  const shared = (op & FUTEX_PRIVATE_FLAG) === 0;
  if (op & FUTEX_CLOCK_REALTIME && cmd !== FUTEX_WAIT_BITSET) return -ENOSYS;
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      const bitset = cmd === FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY | 0 : argInt(a[5]!);
      if (bitset === 0) return -EINVAL;
      let timeoutNs: number | undefined;
      const tva = argU(a[3]!);
      if (tva !== 0) {
        const t = readTimespec(env, tva);
        if (typeof t === 'number') return t;
        if (cmd === FUTEX_WAIT) timeoutNs = Number(t);
        else {
          const now = clockNs(op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC)!;
          timeoutNs = Math.max(0, Number(t - now));
        }
      }
      const r = withFutex(env.kctx, env.as, va, shared, (chan) => env.sched.block(chan, val, timeoutNs, { bitset }));
      return r === NO_RETURN ? NO_RETURN : r;
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      const bitset = cmd === FUTEX_WAKE ? -1 : argInt(a[5]!);
      if (bitset === 0) return -EINVAL;
      return futexWake(env, va, Math.max(0, val), shared, bitset);
    }
    default:
      return -ENOSYS;
  }
}

registerSyscall(N.SYS_futex, 'futex', sysFutex);
