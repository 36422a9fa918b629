/**
 * Waiting on many fds and passing fds (issue 14 item 4): the poll buckets of kernel/fs/pollwait.ts,
 * eventfd counters, socket-pair records holding passed descriptions, and the pollio / fdpass
 * guests on real worker-thread harts (1 and 4), each against the stdout qemu-riscv64 gives
 * (guests/manifest.json), with the sanitizer on, no leaked frames. The lost wake-up window
 * between a poller's check and its park is widened with the poll.before-park injection point.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsTest, type FsTest } from './harness.ts';
import { pollKeyOf, pollNotify, pollRegister, pollUnregister, sigSeqIndex } from '../../../kernel/fs/pollwait.ts';
import { eventfdCount, eventfdCreate, eventfdRead, eventfdRelease, eventfdWrite } from '../../../kernel/fs/eventfd.ts';
import { socketCloseEnd, socketPairCreate, socketRecv, socketSend, SOCK_SEQPACKET, SOCK_STREAM } from '../../../kernel/fs/socket.ts';
import { ofileCreate, ofileGet, ofileRefs, ofilesLive, ofilePut } from '../../../kernel/fs/ofile.ts';
import { OK_PIPE_READ } from '../../../kernel/fs/layout.ts';
import { pipeCreate } from '../../../kernel/fs/pipe.ts';
import { EAGAIN } from '../../../kernel/errno.ts';
import { runGuest } from '../../lab/guest-runs.ts';
import { expectCleanRun } from '../../helpers/guest-expect.ts';
import type { Waiter } from '../../../kernel/fs/pipe.ts';

let t: FsTest;
beforeEach(() => { t = fsTest(); });
afterEach(() => { t.cleanup(); });

const seq = (tix: number): number => Atomics.load(t.vm.ctx.ctl.i32, sigSeqIndex(t.vm.ctx, tix));
const woken: number[] = [];
const recorder: Waiter = { wait: () => 0, wake: () => {}, wakeKey: (k) => { woken.push(k); } };

describe('poll buckets (kernel/fs/pollwait.ts)', () => {
  it('a source change bumps and wakes exactly the threads registered on its key, until they unregister', () => {
    const ctx = t.vm.ctx;
    const key = -12345, other = -99999;
    woken.length = 0;
    pollRegister(ctx, 3, [key]);
    pollRegister(ctx, 40, [key, other]);
    pollRegister(ctx, 40, [key]); // idempotent: one registration per bucket
    const s3 = seq(3), s40 = seq(40), s7 = seq(7);
    pollNotify(ctx, key, recorder);
    expect([seq(3) - s3, seq(40) - s40, seq(7) - s7]).toEqual([1, 1, 0]);
    expect(woken.sort()).toEqual([pollKeyOf(sigSeqIndex(ctx, 3)), pollKeyOf(sigSeqIndex(ctx, 40))].sort());
    pollUnregister(ctx, 3);
    pollNotify(ctx, key, recorder);
    expect([seq(3) - s3, seq(40) - s40]).toEqual([1, 2]);
    pollUnregister(ctx, 40);
    pollNotify(ctx, key, recorder);
    pollNotify(ctx, other, recorder);
    expect([seq(3) - s3, seq(40) - s40]).toEqual([1, 2]); // nobody polls: nothing happens
  });

  it("a pipe write notifies its pollers (the pipe's bump calls pollNotify)", () => {
    const ctx = t.vm.ctx;
    const p = pipeCreate(ctx);
    const r = ofileCreate(ctx, { kind: OK_PIPE_READ, flags: 0, hostFd: p });
    expect(r).toBeGreaterThan(0);
    const key = -1 - ((ctx.ctl.layout.pipes + p * (128 + 65536)) / 4 + 16); // PP_SEQ of pipe p
    pollRegister(ctx, 5, [key]);
    const s5 = seq(5);
    ofilePut(ctx, r); // closing the read end bumps the pipe
    expect(seq(5)).toBe(s5 + 1);
    pollUnregister(ctx, 5);
  });
});

describe('eventfd counters (kernel/fs/eventfd.ts)', () => {
  it('64-bit counter: add, read-and-reset, semaphore reads, EAGAIN at 0 and on overflow', () => {
    const ctx = t.vm.ctx;
    const e = eventfdCreate(ctx, 7);
    const sem = eventfdCreate(ctx, 2, true);
    expect(eventfdRead(ctx, sem, true, t.f.waiter)).toBe(1n);
    expect(eventfdCount(ctx, sem)).toBe(1n);
    eventfdRelease(ctx, sem);
    expect(e).toBeGreaterThanOrEqual(0);
    expect(eventfdWrite(ctx, e, (1n << 63n), true, t.f.waiter)).toBe(0);
    expect(eventfdCount(ctx, e)).toBe((1n << 63n) + 7n);
    expect(eventfdWrite(ctx, e, (1n << 63n), true, t.f.waiter)).toBe(-EAGAIN); // would pass 2^64 - 2
    expect(eventfdRead(ctx, e, true, t.f.waiter)).toBe((1n << 63n) + 7n);
    expect(eventfdRead(ctx, e, true, t.f.waiter)).toBe(-EAGAIN);
    eventfdRelease(ctx, e);
  });
});

describe('socket pairs hold the descriptions they pass (kernel/fs/socket.ts)', () => {
  it('a passed description is referenced while in flight, handed over on receive, released when never received', () => {
    const ctx = t.vm.ctx;
    const live = ofilesLive(ctx);
    const p = pipeCreate(ctx);
    const id = ofileCreate(ctx, { kind: OK_PIPE_READ, flags: 0, hostFd: p });
    const s = socketPairCreate(ctx, SOCK_STREAM);
    const bytes = (n: number) => () => new Uint8Array(n).fill(65);
    ofileGet(ctx, id); // the sender's fdGet
    expect(socketSend(ctx, s, 0, 3, bytes(3), { nonblock: true, nosignal: true, fds: [id], resume: 0 }, t.f.waiter)).toBe(3);
    expect(ofileRefs(ctx, id)).toBe(2);
    expect(socketSend(ctx, s, 0, 2, bytes(2), { nonblock: true, nosignal: true, fds: [], resume: 0 }, t.f.waiter)).toBe(2);
    // The first read stops after the record that carried the fd (Linux: fds end a read).
    const got = socketRecv(ctx, s, 1, 100, false, true, t.f.waiter);
    expect(typeof got === 'object' && [got.bytes.length, got.fds]).toEqual([3, [id]]);
    ofilePut(ctx, id); // the receiver installed it and closed it again
    // Passed again, never received: closing the receiving end releases it.
    ofileGet(ctx, id);
    expect(socketSend(ctx, s, 0, 1, bytes(1), { nonblock: true, nosignal: true, fds: [id], resume: 0 }, t.f.waiter)).toBe(1);
    for (const orphan of socketCloseEnd(ctx, s, 1, t.f.waiter)) ofilePut(ctx, orphan);
    expect(ofileRefs(ctx, id)).toBe(1);
    expect(socketCloseEnd(ctx, s, 0, t.f.waiter)).toEqual([]);
    ofilePut(ctx, id);
    expect(ofilesLive(ctx)).toBe(live);
  });

  it('seqpacket keeps boundaries and EAGAINs when empty', () => {
    const ctx = t.vm.ctx;
    const s = socketPairCreate(ctx, SOCK_SEQPACKET);
    const src = (text: string) => () => new TextEncoder().encode(text);
    expect(socketSend(ctx, s, 1, 2, src('ab'), { nonblock: true, nosignal: true, fds: [], resume: 0 }, t.f.waiter)).toBe(2);
    expect(socketSend(ctx, s, 1, 3, src('cde'), { nonblock: true, nosignal: true, fds: [], resume: 0 }, t.f.waiter)).toBe(3);
    const a = socketRecv(ctx, s, 0, 100, false, true, t.f.waiter);
    const b = socketRecv(ctx, s, 0, 1, false, true, t.f.waiter);
    expect(typeof a === 'object' && new TextDecoder().decode(a.bytes)).toBe('ab');
    expect(typeof b === 'object' && [new TextDecoder().decode(b.bytes), b.full]).toEqual(['c', 3]);
    expect(socketRecv(ctx, s, 0, 100, false, true, t.f.waiter)).toBe(-EAGAIN);
    socketCloseEnd(ctx, s, 0, null);
    socketCloseEnd(ctx, s, 1, null);
  });
});

const POLLIO = (n: number): string => [
  'pollio: pipe readiness ok', 'pollio: eventfd counter ok', 'pollio: timeouts ok', 'pollio: pause woken by a signal',
  'pollio: ppoll/pselect/epoll_pwait signal masks ok', 'pollio: blocking eventfd read EINTR; SIGKILL ends epoll_wait, ppoll, eventfd waits',
  `pollio: poll consumed ${n} rounds from pipe+eventfd+socketpair`,
  `pollio: select consumed ${n} rounds from pipe+eventfd+socketpair`, 'pollio: epoll level/edge/oneshot/hup/err ok',
  `pollio: epoll level consumed ${n} rounds from pipe+eventfd+socketpair`, `pollio: epoll edge consumed ${n} rounds from pipe+eventfd+socketpair`,
  'pollio: OK', '',
].join('\n');

const FDPASS = [
  'fdpass: stream: merge, peek, EAGAIN, shutdown EOF/EPIPE, ENOTSOCK', 'fdpass: seqpacket: boundaries, MSG_TRUNC, empty records',
  'fdpass: dgram: boundaries, MSG_TRUNC, empty records',
  'fdpass: SCM_RIGHTS parent<->child: one description, one offset; MSG_CMSG_CLOEXEC; EBADF',
  'fdpass: MSG_CTRUNC closes the fds that did not fit', 'fdpass: OK', '',
].join('\n');

describe('guests on worker-thread harts (sanitizer on)', () => {
  for (const cpus of [1, 4]) {
    it(`pollio on ${cpus} hart(s): poll, select, epoll, eventfd, pause and ppoll masks as Linux`, async () => {
      const r = await runGuest({ policy: 'ipi', guest: 'pollio', args: ['8'], cpus });
      expectCleanRun(r, POLLIO(8));
    }, 120_000); // above runGuest's own 60 s bound on the guest plus a boot on a loaded host

    it(`fdpass on ${cpus} hart(s): socket pairs, SCM_RIGHTS between processes`, async () => {
      const r = await runGuest({ policy: 'ipi', guest: 'fdpass', args: [], cpus });
      expectCleanRun(r, FDPASS);
    }, 120_000);
  }

  it('no lost wake-up when a source becomes ready between the check and the park (poll.before-park widened)', async () => {
    // 30 single wake-ups (poll, select, epoll_wait in turn), each with nothing after it to end a
    // wait that missed it: a 3 ms window before every park, the writer's delay seeded over 0-4 ms.
    const r = await runGuest({ policy: 'ipi', guest: 'pollio', args: ['race', '30'], cpus: 2, inject: { 'poll.before-park': 3000 }, timeoutMs: 30_000 });
    expect(r.stdout).toBe('pollio: race: 30 single wake-ups, none lost\npollio: OK\n');
    expect(r.injectHits['poll.before-park']).toBeGreaterThan(10);
  }, 90_000);
});
