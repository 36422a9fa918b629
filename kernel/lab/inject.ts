/**
 * Fault injection: a configurable delay at named points of the coherence protocol, so a test
 * can widen a race window (the time between a page-table change and the moment every hart is
 * flushed, say) instead of hoping the host's scheduler hits it. Off in normal runs: each point
 * costs one array read.
 *
 * Configure at boot (`bootScheduled({ inject: { 'shootdown.before-remote': 2000 } })`, CLI
 * `--inject shootdown.before-remote=2000`), delays in microseconds. The delay sleeps the hart's
 * worker (Atomics.wait with a timeout): bounded, so a hart waiting for this one's
 * acknowledgement only waits longer. Each delay is counted (injectHits) so a test can prove the
 * point was reached.
 *
 * Shared state: kernel/lab/layout.ts LH_INJECT (delays, host-written) and LH_INJECT_HITS.
 */
import type { Ctl } from '../layout.ts';
import { INJECT_SLOTS, LH_INJECT, LH_INJECT_HITS } from './layout.ts';
import { activeBaton } from '../../cpu/baton.ts';
import { advanceTime } from '../../cpu/vclock.ts';

/**
 * The injection points, in slot order (each has exactly one call site; slots are indices into LH_INJECT, never persisted). Each names where the hart sleeps:
 * - shootdown.before-remote: completeShootdown, after the PTE edits and the local flush, before
 *   the policy's remote step (other harts still hold the old translation).
 * - shootdown.before-release: completeShootdown, after the remote step, before frames are freed.
 * - writeback.before: before dirty MAP_SHARED file pages are written back to the page cache/file
 *   (kernel/mm/shootdown.ts releaseFrames: after the change was invalidated on every hart).
 * - cow.before-install: a COW break (kernel/mm/fault.ts), after the copy, the clear and the
 *   shootdown, before the new PTE is set: the PTE is in the "change in progress" state, so
 *   concurrent faulters on the page wait (kernel/mm/pte-change.ts).
 * - cow.after-install: a COW break, after the new PTE is set, before returning to the guest
 *   (with set-before-flush ordering the readers of the old frame were not flushed yet — the
 *   window of issue 12 bug 2).
 * - deferred.before-epoch: the deferred policy's poll point, just before the hart announces its
 *   flush point (advances its epoch). Before issue 12's fix the hart had already read what to
 *   flush there, so a change landing during the delay was counted as flushed (bug 3).
 * - deferred.after-epoch: the deferred policy's poll point, after the epoch is announced and
 *   before the hart reads tlb_generation and flushes what it owes (the window of the fixed order).
 * - exec.before-switch: execve, after the new address space is built, before the hart switches to it.
 * - truncate.before-lock: truncation's walk over every address space mapping the file
 *   (kernel/mm/file-unmap.ts), after picking a space, before taking its mmap lock (the space's
 *   process may exit and its slot be reused meanwhile).
 * - truncate.locked: the same walk, with the space's mmap lock held, before its regions are scanned.
 * - poll.before-park: a multi-fd wait (kernel/fs/pollwait.ts pollWait: poll, select, epoll_wait),
 *   after it registered on every source and found nothing ready, before it parks: a source that
 *   becomes ready here must still end the wait (its bump of the poller's wake-up word makes the
 *   park fail and the check run again) — the lost wake-up window between check and park.
 * - fs.open.after-resolve: openat (kernel/fs/sys-fs.ts), after the guest path was resolved
 *   under the root, before the host opens the result (a directory on the way may be swapped
 *   for a symlink meanwhile: the host would follow it).
 * - broadcast.before-tlbsync: the broadcast policy (scheduler/policy-broadcast.ts), after the
 *   invalidation was broadcast and before tlbsync: other harts may still hold the old
 *   translation (they apply the broadcast at their next batch boundary); with the tlbsync-skip
 *   knob (negative control) the change is then reported complete without waiting for them.
 * - fifo.before-park: a blocking FIFO open (kernel/fs/fifo.ts fifoOpen), after it found no
 *   partner under the FIFO's lock and released it, before it parks: a partner that opens here
 *   must still end the wait (its bump of FF_SEQ makes the park fail) — the lost wake-up window.
 * - sched.before-park: every blocking syscall (scheduler/hart-loop.ts block), after the syscall
 *   looked at its condition and its signals, before the thread is parked: a signal sent here
 *   finds the thread still running (the sender only kicks its hart) and must still end the
 *   wait (signalsAfterPark in kernel/signal/send.ts looks again once the thread is parked).
 * - exit.before-notify: a process's death (kernel/proc/sys-proc-table.ts), after it became a
 *   zombie (or was auto-reaped) under the process lock and released it, before its exit signal
 *   is sent: the parent may already have seen ECHILD and changed its SIGCHLD action, so what
 *   the signal does must have been decided under the lock, at the death.
 * - sched.before-expire: a hart's timeout scan (scheduler/block.ts expireTimeouts), after it
 *   read an expired deadline of a blocked thread without the lock, before it cancels that
 *   wait: meanwhile the thread may be woken, run and block again (with another deadline or
 *   none), and that new wait must not be timed out.
 * - signal.before-interrupt: a signal's sender (kernel/signal/send.ts wakeForSignal), after it
 *   found the target thread blocked, before it interrupts that wait: meanwhile the thread may
 *   be woken, take the signal, and block again; the new wait must not end with EINTR unless a
 *   signal is still there to deliver.
 * - sched.before-cancel-drop: a cancelled wait that held something (a FIFO open's end,
 *   scheduler/block.ts cancel), after the thread left its wait queue, before the end is dropped
 *   and the thread made runnable: the thread must not run on (and find its own end) before the drop.
 */
export const INJECT_POINTS = [
  'shootdown.before-remote',
  'shootdown.before-release',
  'writeback.before',
  'cow.before-install',
  'cow.after-install',
  'deferred.before-epoch',
  'exec.before-switch',
  'deferred.after-epoch',
  'truncate.before-lock',
  'truncate.locked',
  'poll.before-park',
  'fs.open.after-resolve',
  'broadcast.before-tlbsync',
  'fifo.before-park',
  'sched.before-park',
  'exit.before-notify',
  'sched.before-expire',
  'signal.before-interrupt',
  'sched.before-cancel-drop',
] as const;
export type InjectPoint = (typeof INJECT_POINTS)[number];
/** Delays in microseconds by point name. */
export type InjectConfig = Partial<Record<InjectPoint, number>>;

if (INJECT_POINTS.length > INJECT_SLOTS) throw new Error('inject: more points than INJECT_SLOTS');

/** Slot of a point name; throws RangeError naming the known points for an unknown one. */
export function injectSlot(name: string): number {
  const i = (INJECT_POINTS as readonly string[]).indexOf(name);
  if (i < 0) throw new RangeError(`unknown fault-injection point '${name}' (known: ${INJECT_POINTS.join(', ')})`);
  return i;
}

/** Maximum delay (1 s): a delay is a widened window, never a hang. */
export const INJECT_MAX_US = 1_000_000;

/** Check names and delays of `config`; RangeError naming the bad entry. */
export function validateInjection(config: InjectConfig): void {
  for (const [name, us] of Object.entries(config)) {
    injectSlot(name);
    if (!(Number.isInteger(us) && us! >= 0 && us! <= INJECT_MAX_US)) throw new RangeError(`inject ${name}=${us}: the delay must be an integer from 0 to ${INJECT_MAX_US} µs`);
  }
}

/** Write `config` into ctl (host, at boot or between runs; points not named keep their delay). Validates first. */
export function setInjection(ctl: Ctl, config: InjectConfig): void {
  validateInjection(config);
  const base = ctl.layout.lab / 4 + LH_INJECT;
  for (const [name, us] of Object.entries(config)) Atomics.store(ctl.i32, base + injectSlot(name), us!);
}

/** Parse `name=us[,name=us...]` (the CLI's --inject). */
export function parseInjection(text: string): InjectConfig {
  const out: Record<string, number> = {};
  for (const part of text.split(',').filter(Boolean)) {
    const m = /^([a-z.-]+)=(\d+)$/.exec(part.trim());
    if (!m) throw new RangeError(`--inject '${part}': use point=microseconds (points: ${INJECT_POINTS.join(', ')})`);
    injectSlot(m[1]!);
    out[m[1]!] = Number(m[2]);
  }
  return out as InjectConfig;
}

/** How many times `point` delayed a hart so far. */
export function injectHits(ctl: Ctl, point: InjectPoint): number {
  return Atomics.load(ctl.i32, ctl.layout.lab / 4 + LH_INJECT_HITS + injectSlot(point));
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** The injection point `point` (slot from injectSlot, resolved once by the caller's module). Sleeps when configured. */
export function inject(ctl: Ctl, slot: number): void {
  const base = ctl.layout.lab / 4;
  const us = ctl.i32[base + LH_INJECT + slot]!;
  if (us === 0) return;
  Atomics.add(ctl.i32, base + LH_INJECT_HITS + slot, 1);
  const baton = activeBaton();
  if (baton !== null) { // deterministic mode: the delay is a switch point and costs virtual time, not host time
    advanceTime(us * 1000);
    baton.waitTurn();
    return;
  }
  Atomics.wait(sleeper, 0, 0, us / 1000);
}

/** Slot constants for the call sites (one lookup at load time). */
export const INJ = Object.fromEntries(INJECT_POINTS.map((n, i) => [n, i])) as Record<InjectPoint, number>;
