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
 * compares it. FUTEX_REQUEUE / FUTEX_CMP_REQUEUE move waiters from one key to another without
 * waking them (SchedOps.requeue: both buckets locked, CMP_REQUEUE's compare of *uaddr under
 * them, so it is atomic with respect to waiters blocking on uaddr); FUTEX_WAKE_OP modifies
 * *uaddr2 with a compare-and-swap on the word in RAM (the page made writable and dirty first, as
 * the user's store would) and wakes on both. The PI commands (LOCK_PI, LOCK_PI2, TRYLOCK_PI,
 * UNLOCK_PI) are in kernel/proc/futex-pi.ts; WAIT_REQUEUE_PI / CMP_REQUEUE_PI return -ENOSYS.
 */
import { PTE_D, PTE_V, PTE_W } from '../../cpu/pte.ts';
import { ACCESS_STORE } from '../../cpu/trap.ts';
import { handlePageFault } from '../mm/fault.ts';
import { PAGE_SIZE } from '../../cpu/ram.ts';
import type { VirtualAddressSpace } from '../mm/aspace.ts';
import type { KernelContext } from '../context.ts';
import { EFAULT, EINVAL, ENOSYS } from '../errno.ts';
import {
  CLOCK_MONOTONIC, CLOCK_REALTIME, FUTEX_BITSET_MATCH_ANY, FUTEX_CLOCK_REALTIME, FUTEX_CMD_MASK, FUTEX_PRIVATE_FLAG,
  FUTEX_CMP_REQUEUE, FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_REQUEUE, FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI, FUTEX_WAIT,
  FUTEX_WAIT_BITSET, FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_WAKE_OP,
} from '../linux-flags.ts';
import { futexLockPi, futexTrylockPi, futexUnlockPi } from './futex-pi.ts';
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
  kctx: KernelContext, as: VirtualAddressSpace, va: number, shared: boolean, fn: (chan: WaitChannel) => T, write = false,
): T | number {
  if (va % 4 !== 0) return -EINVAL;
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = copyFromUser(kctx, as, va, 4); // faults the page in as a user load would
    if (typeof r === 'number') return -EFAULT;
    as.lock.readLock();
    let needWrite = false;
    try {
      const vpn = Math.floor(va / PAGE_SIZE);
      const leaf = findLeaf(kctx, as.rootPpn, vpn);
      // Unmapped again meanwhile, or not valid now (a COW break between clear and set, a
      // PROT_NONE page): fault it back in (the fault waits for a change in progress).
      if (leaf < 0 || (found.lo & PTE_V) === 0) continue;
      if (write) {
        // FUTEX_WAKE_OP stores to the word: the page must be writable here (a COW page is
        // broken first, as the user's store would), and the store marks it dirty as the MMU would.
        if ((found.lo & PTE_W) === 0) { needWrite = true; continue; }
        if ((found.lo & PTE_D) === 0) Atomics.or(kctx.ram.i32, found.ptePa / 4, PTE_D);
      }
      const pa = (loPpn(found.lo) + (found.level === 0 ? 0 : vpn % 512 ** found.level)) * PAGE_SIZE + (va % PAGE_SIZE);
      let key = privateKey(as.slot, va);
      if (shared) {
        const i = as.regions.find(vpn);
        if (i >= 0 && (as.regions.get(i).flags & RF_SHARED) !== 0) key = pa;
      }
      return fn({ key, i32: kctx.ram.i32, index: pa / 4 });
    } finally {
      as.lock.readUnlock();
      if (needWrite && handlePageFault(kctx, as, va, ACCESS_STORE) !== null) attempt = 4; // not writable: EFAULT
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
  if (op & FUTEX_CLOCK_REALTIME && cmd !== FUTEX_WAIT_BITSET && cmd !== FUTEX_LOCK_PI2) return -ENOSYS;
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
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      // a[3] is val2 (nr_requeue) here, not a timeout; a[5] is val3 (the expected *uaddr).
      const nrWake = val, nrRequeue = argInt(a[3]!);
      if (nrWake < 0 || nrRequeue < 0) return -EINVAL;
      const va2 = argU(a[4]!);
      const cmp = cmd === FUTEX_CMP_REQUEUE ? argInt(a[5]!) : null;
      const r = withFutex(env.kctx, env.as, va2, shared, (to) => {
        const key2 = to.key;
        return withFutex(env.kctx, env.as, va, shared, (from) => {
          if (from.key === key2 && cmp === null) return env.sched.wake(from.key, nrWake); // requeue onto itself
          return env.sched.requeue(from, cmp, key2, nrWake, nrRequeue);
        });
      });
      return r;
    }
    case FUTEX_LOCK_PI:
      return futexLockPi(env, va, shared, argU(a[3]!), CLOCK_REALTIME);
    case FUTEX_LOCK_PI2:
      return futexLockPi(env, va, shared, argU(a[3]!), op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC);
    case FUTEX_TRYLOCK_PI:
      return futexTrylockPi(env, va, shared);
    case FUTEX_UNLOCK_PI:
      return futexUnlockPi(env, va, shared);
    case FUTEX_WAKE_OP:
      return futexWakeOp(env, va, shared, val, argInt(a[3]!), argU(a[4]!), argInt(a[5]!));
    default:
      return -ENOSYS;
  }
}

/**
 * FUTEX_WAKE_OP: old := *uaddr2; *uaddr2 := old OP oparg (atomically, on the word in RAM); wake
 * up to nrWake waiters of uaddr, and, when (old CMP cmparg), up to nrWake2 of uaddr2. The
 * number woken, -EFAULT, -ENOSYS (unknown op or comparison, as Linux).
 */
function futexWakeOp(env: SyscallEnv, va: number, shared: boolean, nrWake: number, nrWake2: number, va2: number, encoded: number): number {
  let op = (encoded >>> 28) & 0xf;
  const cmp = (encoded >>> 24) & 0xf;
  let oparg = ((encoded << 8) >> 20); // bits 12-23, sign-extended
  const cmparg = ((encoded << 20) >> 20); // bits 0-11, sign-extended
  if (op & 8) { // FUTEX_OP_OPARG_SHIFT
    op &= 7;
    oparg = oparg < 0 || oparg > 31 ? 0 : 1 << oparg; // Linux: out-of-range shifts are warned about and masked
  }
  if (op > 4 || cmp > 5) return -ENOSYS;
  const old = withFutex(env.kctx, env.as, va2, shared, (c) => {
    for (;;) {
      const cur = Atomics.load(c.i32, c.index);
      const next = [oparg, cur + oparg, cur | oparg, cur & ~oparg, cur ^ oparg][op]! | 0;
      if (Atomics.compareExchange(c.i32, c.index, cur, next) === cur) return { old: cur, key: c.key };
    }
  }, true);
  if (typeof old === 'number') return old;
  const woken = withFutex(env.kctx, env.as, va, shared, (c) => env.sched.wake(c.key, Math.max(0, nrWake)));
  if (typeof woken === 'number' && woken < 0) return woken;
  const o = old.old;
  const hit = [o === cmparg, o !== cmparg, o < cmparg, o <= cmparg, o > cmparg, o >= cmparg][cmp]!;
  return (woken as number) + (hit ? env.sched.wake(old.key, Math.max(0, nrWake2)) : 0);
}

registerSyscall(N.SYS_futex, 'futex', sysFutex);
