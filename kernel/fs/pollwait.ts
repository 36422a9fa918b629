/**
 * Waiting on many channels at once: what poll, ppoll, select, pselect6 and epoll_pwait block on.
 *
 * A thread blocks on ONE wait channel (scheduler/block.ts). A poller needs to wake when any of
 * its sources changes, so the channel it blocks on is its own signal word (ST_SEQ of
 * kernel/signal/layout.ts: every signal queued for the thread already bumps it), and every
 * source that changes bumps the ST_SEQ of each thread polling it. Sources find their pollers
 * through poll buckets: a source's channel key hashes to one of POLL_BUCKETS buckets, and each
 * bucket holds a bitmap of the threads polling some key of that bucket (kernel/fs/layout.ts
 * pollio region). So:
 *
 *   poller: seen := ST_SEQ(self); register: set own bit in the bucket of every source key;
 *           check every source (under its lock); anything ready / a signal pending / timed
 *           out → unregister and return; else block on ST_SEQ(self) expecting `seen`.
 *   waker:  change the source (under its lock), bump its own wake word; pollNotify(key): for
 *           every thread whose bit is set in the key's bucket, Atomics.add its ST_SEQ and wake
 *           the thread's channel.
 *
 * No lost wake-up: the poller's bit store (Atomics.or) comes before its check, the waker's
 * change before its bitmap load (Atomics.load); all are sequentially consistent, so either the
 * check sees the change, or the waker sees the bit and bumps ST_SEQ, which the block then finds
 * changed (-EAGAIN: check again) or wakes the blocked thread. A signal is the same: its sender
 * bumps ST_SEQ after queueing it. Collisions (two keys, one bucket) only cost a spurious wake-up
 * and a re-check; so do stale bits of a poll that was interrupted (its next poll clears them).
 *
 * The block is restartable (BlockOptions.restart + poll): a wake or the timeout re-runs the
 * syscall from its ecall with the same arguments. The re-run finds its deadline in the
 * thread's poll record (PT_DEADLINE), recognised by the restart marker T_RESTART_DONE = -1 at the
 * same pc and sp (kernel/proc/layout.ts): an interruption (-EINTR) clears the marker
 * (scheduler/block.ts cancel), so a poll called again after EINTR starts a fresh timeout; the
 * marker also tells cancel that a signal never restarts this call (SA_RESTART or not: EINTR).
 * Host streams (the host's stdin) have no wake-up: a poll that includes one re-runs every
 * POLL_MS (kernel/fs/host-stdin.ts).
 */
import type { KernelContext } from '../context.ts';
import { EINTR } from '../errno.ts';
import { NO_RETURN, type SyscallEnv } from '../syscall.ts';
import { PARKED, type Waiter } from './pipe.ts';
import { PB_BITS, PB_COUNT, POLL_BUCKETS, PT_BYTES, PT_DEADLINE, PT_MASK, PT_PC, PT_SP, pollBucketBytes, pollioLayout } from './layout.ts';
import { ST_SEQ, SIGTHREAD_BYTES } from '../signal/layout.ts';
import { T_RESTART_DONE, T_RESTART_PC, T_RESTART_SP, THREAD_BYTES } from '../proc/layout.ts';
import { signalState } from '../signal/send.ts';
import { procOfThread } from '../signal/state.ts';
import { sigBit, SIGKILL, SIGSTOP } from '../signal/signals.ts';
import { POLL_MS } from './host-stdin.ts';
import { INJ, inject } from '../lab/inject.ts';
import { timeMs, virtualTime } from '../../cpu/vclock.ts';

/** Monotonic ms shared by every worker (the scheduler's deadlines use the same clock). */
export const nowMs = (): number => virtualTime() ? timeMs() : performance.timeOrigin + performance.now();

/** Poll bucket of channel key `key` (the scheduler's wait-bucket hash, over POLL_BUCKETS). */
export function pollBucketOf(key: number): number {
  const k = Math.abs(key) % 2 ** 31;
  return (Math.imul(k ^ (k >>> 12), 0x9e3779b1) >>> 24) % POLL_BUCKETS;
}

const regionOf = (ctx: KernelContext) => pollioLayout(ctx.ctl.layout.fs, ctx.ctl.layout.sched.maxThreads);
const bucketWord = (ctx: KernelContext, b: number): number =>
  (ctx.ctl.layout.pollio + b * pollBucketBytes(ctx.ctl.layout.sched.maxThreads)) / 4;
const recordWord = (ctx: KernelContext, tix: number): number => (ctx.ctl.layout.pollio + regionOf(ctx).pollThreads + tix * PT_BYTES) / 4;
/** Word index of thread `tix`'s signal wake-up word (the channel a poller blocks on). */
export const sigSeqIndex = (ctx: KernelContext, tix: number): number => (ctx.ctl.layout.sigThreads + tix * SIGTHREAD_BYTES) / 4 + ST_SEQ;
const threadWord = (ctx: KernelContext, tix: number, f: number): number => (ctx.ctl.layout.threads + tix * THREAD_BYTES) / 4 + f;

/**
 * The channel key a poller blocks with: its ST_SEQ word, under a key of its own (-1.5 - index,
 * never a ctl channel's -1 - index), so pollNotify wakes pollers only, never the same thread in
 * sigsuspend or sigtimedwait on that word. Signals reach it by thread (cancel), not by key.
 */
export const pollKeyOf = (seqIndex: number): number => -1.5 - seqIndex;

/** Register thread `tix` on the bucket of every key in `keys` (idempotent). */
export function pollRegister(ctx: KernelContext, tix: number, keys: Iterable<number>): void {
  const i32 = ctx.ctl.i32;
  const rec = recordWord(ctx, tix);
  for (const key of keys) {
    const b = pollBucketOf(key);
    const mw = rec + PT_MASK + (b >>> 5), mbit = 1 << (b & 31);
    if (i32[mw]! & mbit) continue;
    i32[mw] = i32[mw]! | mbit;
    const bw = bucketWord(ctx, b);
    Atomics.or(i32, bw + PB_BITS + (tix >>> 5), 1 << (tix & 31)); // before the caller's check (see the header)
    Atomics.add(i32, bw + PB_COUNT, 1);
  }
}

/** Take thread `tix` off every bucket it is registered on. */
export function pollUnregister(ctx: KernelContext, tix: number): void {
  const i32 = ctx.ctl.i32;
  const rec = recordWord(ctx, tix);
  for (let m = 0; m < POLL_BUCKETS / 32; m++) {
    let bits = i32[rec + PT_MASK + m]!;
    if (bits === 0) continue;
    i32[rec + PT_MASK + m] = 0;
    while (bits !== 0) {
      const low = bits & -bits;
      const b = m * 32 + 31 - Math.clz32(low);
      bits ^= low;
      const bw = bucketWord(ctx, b);
      Atomics.and(i32, bw + PB_BITS + (tix >>> 5), ~(1 << (tix & 31)));
      Atomics.sub(i32, bw + PB_COUNT, 1);
    }
  }
}

/**
 * A source changed: bump its ctl wake word `i` (its channel key is -1 - i), wake the threads
 * blocked on it (Atomics.notify and the scheduler's `waiter`), then its pollers (pollNotify).
 * Pipes, eventfds and socket pairs announce every change through this.
 */
export function bumpSource(ctx: KernelContext, i: number, waiter: Waiter | null): void {
  Atomics.add(ctx.ctl.i32, i, 1);
  Atomics.notify(ctx.ctl.i32, i);
  waiter?.wake(ctx.ctl.i32, i);
  pollNotify(ctx, -1 - i, waiter);
}

/**
 * A source whose channel key is `key` changed (call after the change is published and its own
 * wake word bumped): bump and wake every thread polling the key's bucket. `waiter`: the
 * scheduler's wake (null: Atomics.notify only, for hart-blocking tests). Cheap when nobody polls.
 */
export function pollNotify(ctx: KernelContext, key: number, waiter: Pick<Waiter, 'wakeKey'> | null): void {
  const i32 = ctx.ctl.i32;
  const bw = bucketWord(ctx, pollBucketOf(key));
  if (Atomics.load(i32, bw + PB_COUNT) === 0) return;
  const words = Math.ceil(ctx.ctl.layout.sched.maxThreads / 32);
  for (let w = 0; w < words; w++) {
    let bits = Atomics.load(i32, bw + PB_BITS + w);
    while (bits !== 0) {
      const low = bits & -bits;
      bits ^= low;
      const tix = w * 32 + 31 - Math.clz32(low);
      const seq = sigSeqIndex(ctx, tix);
      Atomics.add(i32, seq, 1);
      Atomics.notify(i32, seq);
      waiter?.wakeKey?.(pollKeyOf(seq));
    }
  }
}

/** The deadline (ms, Infinity = none) of the calling thread `tix`'s current or last poll (its time left for the caller). */
export function pollDeadlineOf(ctx: KernelContext, tix: number): number {
  return ctx.ctl.f64[(recordWord(ctx, tix) + PT_DEADLINE) / 2]!;
}

/** What one wait looks at: the keys to register on, and the readiness check. */
export interface PollSpec {
  /** Channel keys of every source (registered before check runs). */
  keys(): Iterable<number>;
  /** Ready count (> 0, results written), 0 nothing ready, or -errno. */
  check(): number;
  /** True when a source has no wake-up (the host's stdin): the wait re-runs every POLL_MS. */
  readonly hostPoll?: boolean;
}

/**
 * The wait of poll/ppoll/select/pselect6/epoll_pwait for the calling thread `tix`:
 * `timeoutMs` null = forever, 0 = no wait. `sigmask` (ppoll, pselect6, epoll_pwait): the
 * blocked mask during the wait, applied atomically with it as Linux does (the old mask is the
 * saved mask: a handler interrupting the wait runs with it in its frame; any other return
 * restores it at once). Returns the ready count, 0 (timed out), -EINTR (a signal is pending:
 * delivered on the way out), -errno from check, or PARKED (the syscall re-runs when woken).
 */
export function pollWait(env: SyscallEnv, tix: number, timeoutMs: number | null, spec: PollSpec, sigmask: bigint | null): number {
  const ctx = env.kctx;
  const i32 = ctx.ctl.i32, f64 = ctx.ctl.f64;
  const rec = recordWord(ctx, tix);
  const sp = Number(BigInt.asUintN(64, env.getReg(2)));
  const mark = threadWord(ctx, tix, T_RESTART_DONE);
  const rerun = i32[mark] === -1 && f64[threadWord(ctx, tix, T_RESTART_PC) / 2] === env.pc
    && f64[threadWord(ctx, tix, T_RESTART_SP) / 2] === sp;
  i32[mark] = 0;
  let deadline: number;
  if (rerun) {
    deadline = f64[(rec + PT_DEADLINE) / 2]!;
  } else {
    pollUnregister(ctx, tix); // bits left by an interrupted poll
    deadline = timeoutMs === null ? Infinity : nowMs() + timeoutMs;
    f64[(rec + PT_DEADLINE) / 2] = deadline;
  }
  const st = signalState(ctx);
  const p = procOfThread(ctx.ctl, tix);
  if (sigmask !== null) {
    st.withProc(p, () => {
      st.claimThread(tix);
      if (st.savedMask(tix) === null) st.setSavedMask(tix, st.blocked(tix));
      st.setBlocked(tix, sigmask & ~(sigBit(SIGKILL) | sigBit(SIGSTOP)));
    });
  }
  const finish = (r: number): number => {
    pollUnregister(ctx, tix);
    if (sigmask !== null && r !== -EINTR) {
      st.withProc(p, () => {
        const saved = st.savedMask(tix);
        if (saved !== null) st.setBlocked(tix, saved);
        st.setSavedMask(tix, null);
      });
    }
    return r;
  };
  const seqIndex = sigSeqIndex(ctx, tix);
  for (;;) {
    const seen = Atomics.load(i32, seqIndex);
    pollRegister(ctx, tix, spec.keys());
    const n = spec.check();
    if (n !== 0) return finish(n);
    const pending = st.withProc(p, () => {
      st.claimThread(tix);
      return ((st.threadPending(tix) | st.procPending(p)) & ~st.blocked(tix)) !== 0n;
    });
    if (pending) return finish(-EINTR);
    const now = nowMs();
    if (deadline <= now) return finish(0);
    let waitMs = deadline - now;
    if (spec.hostPoll) waitMs = Math.min(waitMs, POLL_MS);
    inject(ctx.ctl, INJ['poll.before-park']); // the check-to-park window (fault injection)
    // The restart marker and the deadline, before the block: once parked the thread may run elsewhere.
    i32[mark] = -1;
    f64[threadWord(ctx, tix, T_RESTART_PC) / 2] = env.pc;
    f64[threadWord(ctx, tix, T_RESTART_SP) / 2] = sp;
    f64[(rec + PT_DEADLINE) / 2] = deadline;
    const r = env.sched.block({ key: pollKeyOf(seqIndex), i32, index: seqIndex }, seen,
      waitMs === Infinity ? undefined : Math.ceil(waitMs * 1e6), { restart: true, poll: true });
    if (r === NO_RETURN) return PARKED; // stays registered: wakers must find it
    i32[mark] = 0; // ST_SEQ moved (a source or a signal): look again
  }
}
