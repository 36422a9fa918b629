/**
 * PI futexes: FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI — what glibc's
 * PTHREAD_PRIO_INHERIT mutexes use (glibc probes FUTEX_UNLOCK_PI at pthread_mutex_init and
 * refuses such a mutex with ENOTSUP when the kernel answers ENOSYS: stress-ng's pthread
 * stressor failed that way).
 *
 * The word is Linux's: owner TID in FUTEX_TID_MASK, FUTEX_WAITERS set while the kernel may
 * have threads blocked on it (so the owner's unlock comes to the kernel), FUTEX_OWNER_DIED kept.
 * Every change of the word is a compare-and-swap on it in RAM, with the page made writable and
 * dirty first (withFutex's `write`). There are no real-time priorities here, so nothing is
 * boosted: "priority inheritance" reduces to the ownership protocol.
 *
 *   lock:   free (TID 0) → CAS to caller | WAITERS (the kernel path always sets WAITERS, so the
 *           owner's unlock wakes whoever queued meanwhile — spurious at worst); own → EDEADLK;
 *           held → CAS WAITERS in, block on the word with that value (restartable: a wake
 *           re-runs the call, which tries again); the timeout is absolute (LOCK_PI:
 *           CLOCK_REALTIME; LOCK_PI2: CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME) → ETIMEDOUT.
 *   trylock: free → CAS to caller (WAITERS kept); own → EDEADLK; held → EAGAIN.
 *   unlock: not the owner → EPERM; CAS to 0 (OWNER_DIED kept) and wake every waiter: each
 *           retries, the losers set WAITERS again and block. No waiter is left queued behind a
 *           word without WAITERS, so a later user-space unlock (no syscall) cannot strand one.
 *
 * A CAS that loses to a concurrent change of the word retries, at most PI_RETRIES times; past
 * that the call yields the hart and restarts (never an unbounded spin).
 */
import { EAGAIN, EDEADLK, EPERM } from '../errno.ts';
import { CLOCK_MONOTONIC, CLOCK_REALTIME, FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS } from '../linux-flags.ts';
import { NO_RETURN, type SyscallEnv, type SyscallResult, type WaitChannel } from '../syscall.ts';
import { clockNs } from './sys-info.ts';
import { readTimespec, withFutex } from './futex.ts';

/** CAS attempts per call before it yields and restarts. */
const PI_RETRIES = 64;
/** A lost CAS: try again. */
const RETRY = Symbol('retry');

function cas(chan: WaitChannel, from: number, to: number): boolean {
  return Atomics.compareExchange(chan.i32, chan.index, from | 0, to | 0) === (from | 0);
}

/** Run `step` on the futex word at `va` until it stops asking to retry (bounded; see the file comment). */
function piLoop(env: SyscallEnv, va: number, shared: boolean, step: (chan: WaitChannel) => number | typeof RETRY | typeof NO_RETURN): SyscallResult {
  for (let i = 0; i < PI_RETRIES; i++) {
    const r = withFutex(env.kctx, env.as, va, shared, step, true);
    if (r !== RETRY) return r;
  }
  env.sched.yieldAfter();
  return -EAGAIN;
}

/**
 * FUTEX_LOCK_PI / FUTEX_LOCK_PI2 on the word at `va`; `tva` the absolute timeout's timespec
 * (0: none) on clock `clock`. 0 once the caller owns it, NO_RETURN while blocked, or -errno
 * (EDEADLK: already the owner; ETIMEDOUT; EFAULT/EINVAL for the word or the timespec).
 */
export function futexLockPi(env: SyscallEnv, va: number, shared: boolean, tva: number, clock: typeof CLOCK_MONOTONIC | typeof CLOCK_REALTIME): SyscallResult {
  let timeoutNs: number | undefined;
  if (tva !== 0) {
    const t = readTimespec(env, tva);
    if (typeof t === 'number') return t;
    timeoutNs = Math.max(0, Number(t - clockNs(clock)!));
  }
  const tid = env.tid & FUTEX_TID_MASK;
  const r = piLoop(env, va, shared, (chan) => {
    const w = Atomics.load(chan.i32, chan.index);
    const owner = w & FUTEX_TID_MASK;
    if (owner === 0) return cas(chan, w, (w & FUTEX_OWNER_DIED) | FUTEX_WAITERS | tid) ? 0 : RETRY;
    if (owner === tid) return -EDEADLK;
    if (!(w & FUTEX_WAITERS) && !cas(chan, w, w | FUTEX_WAITERS)) return RETRY;
    const b = env.sched.block(chan, w | FUTEX_WAITERS, timeoutNs, { restart: true });
    return b === -EAGAIN ? RETRY : b; // the word changed before we slept: look again
  });
  // Out of retries: the restart after the yield tries again (the caller never sees EAGAIN).
  if (r === -EAGAIN) { env.pc -= 4; return NO_RETURN; }
  return r;
}

/** FUTEX_TRYLOCK_PI: 0 (now the owner), -EDEADLK (already), -EAGAIN (held), or -EFAULT/-EINVAL. */
export function futexTrylockPi(env: SyscallEnv, va: number, shared: boolean): SyscallResult {
  const tid = env.tid & FUTEX_TID_MASK;
  const r = piLoop(env, va, shared, (chan) => {
    const w = Atomics.load(chan.i32, chan.index);
    const owner = w & FUTEX_TID_MASK;
    if (owner === 0) return cas(chan, w, (w & (FUTEX_OWNER_DIED | FUTEX_WAITERS)) | tid) ? 0 : RETRY;
    return owner === tid ? -EDEADLK : -EAGAIN;
  });
  return r;
}

/** FUTEX_UNLOCK_PI: 0 (released, every waiter woken to retry), -EPERM (not the owner), -EFAULT/-EINVAL. */
export function futexUnlockPi(env: SyscallEnv, va: number, shared: boolean): SyscallResult {
  const tid = env.tid & FUTEX_TID_MASK;
  const r = piLoop(env, va, shared, (chan) => {
    const w = Atomics.load(chan.i32, chan.index);
    if ((w & FUTEX_TID_MASK) !== tid) return -EPERM;
    if (!cas(chan, w, w & FUTEX_OWNER_DIED)) return RETRY;
    env.sched.wake(chan.key, 0x7fffffff);
    return 0;
  });
  // Out of retries (the word keeps changing under us): restart the call after the yield.
  if (r === -EAGAIN) { env.pc -= 4; return NO_RETURN; }
  return r;
}
