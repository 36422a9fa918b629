/**
 * AF_UNIX socket pairs (socketpair(2)): SOCK_STREAM, SOCK_SEQPACKET and SOCK_DGRAM, with
 * SCM_RIGHTS descriptor passing. One record per pair in ctl (kernel/fs/layout.ts SK_*, SD_*, SM_*):
 * direction d carries data readable by end d (written by end 1 - d) as a byte ring plus a queue
 * of message records; a message record holds its length, the bytes of it already read (streams)
 * and the open file descriptions it passes — each with one reference, from the sender's fdGet
 * to the receiver's fd table (or ofilePut when it is never received). So a passed fd refers to
 * the same open file description (one offset), as in Linux.
 *
 * Linux semantics (net/unix/af_unix.c):
 * - stream: a send blocks until everything is queued (partial count on a signal after progress;
 *   its re-run resumes after what was sent, as pipe writes do); writes without fds merge into one
 *   record; a receive reads across records but stops after one that carried fds;
 * - seqpacket / dgram: one record per send, read whole by one receive (the rest of a longer one
 *   is dropped: MSG_TRUNC in msg_flags); a record larger than the ring is EMSGSIZE;
 * - shutdown and close as sk_shutdown: SHUT_RD/SHUT_WR set bits on this end and the mirror
 *   bits on the peer (stream, seqpacket); a closed end's peer sees both. A receive with nothing
 *   queued returns 0 once its end cannot receive any more (EOF), a send that cannot be delivered
 *   is EPIPE (+SIGPIPE unless MSG_NOSIGNAL; dgram to a closed peer: ECONNREFUSED);
 * - MSG_DONTWAIT / O_NONBLOCK: EAGAIN instead of blocking; MSG_PEEK reads without consuming.
 * Blocking is the Waiter on SK_SEQ (bumped after every change, pollers told: kernel/fs/pollwait.ts),
 * read before the check under SK_LOCK as in kernel/fs/pipe.ts.
 * Known gap: a socket passed over itself (or a cycle of sockets) and then closed is never
 * collected (Linux's unix_gc); its descriptions stay until the machine stops.
 */
import type { KernelContext } from '../context.ts';
import { EAGAIN, EINVAL, ENFILE } from '../errno.ts';
import { SpinLock } from '../sync/lock.ts';
import { PARKED, raiseSigpipe, type Waiter } from './pipe.ts';
import { EPIPE } from './hostfs.ts';
import { pollNotify } from './pollwait.ts';
import { POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM } from './poll-abi.ts';
import {
  pollioLayout, SD_COUNT, SD_HEAD, SD_MCOUNT, SD_MHEAD, SD_MSGS, SD_RING_BYTE, SK_DIR_BYTE, SK_LOCK, SK_OPEN, SK_SEQ, SK_SHUT,
  SK_STATE, SK_TYPE, SLOT_FREE, SLOT_LIVE, SM_FDS, SM_LEN, SM_NFDS, SM_OFF, SM_WORDS, SOCK_CAPACITY, SOCK_DIR_BYTES, SOCK_MSG_FDS,
  SOCK_MSGS, SOCKPAIR_BYTES,
} from './layout.ts';

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
export const EMSGSIZE = 90;
export const ECONNREFUSED = 111;
/** sk_shutdown bits. */
export const RCV_SHUTDOWN = 1;
export const SEND_SHUTDOWN = 2;

const base = (ctx: KernelContext, s: number): number =>
  ctx.ctl.layout.pollio + pollioLayout(ctx.ctl.layout.fs, ctx.ctl.layout.sched.maxThreads).sockets + s * SOCKPAIR_BYTES;
const word = (ctx: KernelContext, s: number, f: number): number => base(ctx, s) / 4 + f;
const dirWord = (ctx: KernelContext, s: number, d: number, f: number): number => (base(ctx, s) + SK_DIR_BYTE + d * SOCK_DIR_BYTES) / 4 + f;
const msgWord = (ctx: KernelContext, s: number, d: number, m: number, f: number): number => dirWord(ctx, s, d, SD_MSGS + m * SM_WORDS + f);
const ring = (ctx: KernelContext, s: number, d: number): Uint8Array =>
  new Uint8Array(ctx.ctl.sab, base(ctx, s) + SK_DIR_BYTE + d * SOCK_DIR_BYTES + SD_RING_BYTE, SOCK_CAPACITY);
const lockOf = (ctx: KernelContext, s: number): SpinLock => new SpinLock(ctx.ctl.i32, word(ctx, s, SK_LOCK), ctx.whileWaiting);
/** The wait channel key of pair `s` (both ends; pollers register on it). */
export const socketKey = (ctx: KernelContext, s: number): number => -1 - word(ctx, s, SK_SEQ);

function bump(ctx: KernelContext, s: number, waiter: Waiter | null): void {
  const i = word(ctx, s, SK_SEQ);
  Atomics.add(ctx.ctl.i32, i, 1);
  Atomics.notify(ctx.ctl.i32, i);
  waiter?.wake(ctx.ctl.i32, i);
  pollNotify(ctx, -1 - i, waiter);
}

/** Create a connected pair of type `type`; its index, or -ENFILE when all are in use. */
export function socketPairCreate(ctx: KernelContext, type: number): number {
  const i32 = ctx.ctl.i32;
  const n = pollioLayout(ctx.ctl.layout.fs, ctx.ctl.layout.sched.maxThreads).socketCount;
  for (let s = 0; s < n; s++) {
    if (Atomics.compareExchange(i32, word(ctx, s, SK_STATE), SLOT_FREE, SLOT_LIVE) !== SLOT_FREE) continue;
    lockOf(ctx, s).with(() => {
      i32[word(ctx, s, SK_TYPE)] = type;
      i32[word(ctx, s, SK_OPEN)] = 3;
      i32[word(ctx, s, SK_SHUT)] = 0;
      i32[word(ctx, s, SK_SHUT + 1)] = 0;
      for (const d of [0, 1]) for (const f of [SD_HEAD, SD_COUNT, SD_MHEAD, SD_MCOUNT]) i32[dirWord(ctx, s, d, f)] = 0;
    });
    return s;
  }
  return -ENFILE;
}

export const socketType = (ctx: KernelContext, s: number): number => ctx.ctl.i32[word(ctx, s, SK_TYPE)]!;

/** Lock held: drop every queued record of direction `d`, collecting the descriptions they pass. */
function drain(ctx: KernelContext, s: number, d: number, out: number[]): void {
  const i32 = ctx.ctl.i32;
  const mc = i32[dirWord(ctx, s, d, SD_MCOUNT)]!, mh = i32[dirWord(ctx, s, d, SD_MHEAD)]!;
  for (let k = 0; k < mc; k++) {
    const m = (mh + k) % SOCK_MSGS;
    for (let j = 0; j < i32[msgWord(ctx, s, d, m, SM_NFDS)]!; j++) out.push(i32[msgWord(ctx, s, d, m, SM_FDS + j)]!);
  }
  for (const f of [SD_HEAD, SD_COUNT, SD_MHEAD, SD_MCOUNT]) i32[dirWord(ctx, s, d, f)] = 0;
}

/**
 * Close end `e` of pair `s` (its description's last reference went away): the peer of a stream or
 * seqpacket pair sees both directions shut; records nobody can read any more are dropped. Returns
 * the descriptions they passed (the caller releases them: ofilePut), and frees the pair with its last end.
 */
export function socketCloseEnd(ctx: KernelContext, s: number, e: number, waiter: Waiter | null): number[] {
  const i32 = ctx.ctl.i32;
  const orphans: number[] = [];
  const free = lockOf(ctx, s).with(() => {
    const open = i32[word(ctx, s, SK_OPEN)]! & ~(1 << e);
    i32[word(ctx, s, SK_OPEN)] = open;
    if (socketType(ctx, s) !== SOCK_DGRAM) i32[word(ctx, s, SK_SHUT + (1 - e))] = RCV_SHUTDOWN | SEND_SHUTDOWN;
    drain(ctx, s, e, orphans); // what was on its way to the closed end
    if (open === 0) drain(ctx, s, 1 - e, orphans);
    return open === 0;
  });
  bump(ctx, s, waiter);
  if (free) Atomics.store(i32, word(ctx, s, SK_STATE), SLOT_FREE);
  return orphans;
}

/** shutdown(2) of end `e`: `mode` sk_shutdown bits (RCV_SHUTDOWN, SEND_SHUTDOWN). */
export function socketShutdown(ctx: KernelContext, s: number, e: number, mode: number, waiter: Waiter | null): void {
  const i32 = ctx.ctl.i32;
  lockOf(ctx, s).with(() => {
    i32[word(ctx, s, SK_SHUT + e)] = i32[word(ctx, s, SK_SHUT + e)]! | mode;
    if (socketType(ctx, s) !== SOCK_DGRAM && i32[word(ctx, s, SK_OPEN)]! & (1 << (1 - e))) {
      const peer = (mode & RCV_SHUTDOWN ? SEND_SHUTDOWN : 0) | (mode & SEND_SHUTDOWN ? RCV_SHUTDOWN : 0);
      i32[word(ctx, s, SK_SHUT + 1 - e)] = i32[word(ctx, s, SK_SHUT + 1 - e)]! | peer;
    }
  });
  bump(ctx, s, waiter);
}

/** Options of one send. */
export interface SendOptions {
  nonblock: boolean;
  /** MSG_NOSIGNAL: no SIGPIPE with EPIPE. */
  nosignal: boolean;
  /** Descriptions passed (SCM_RIGHTS), one reference each; set to [] once the socket owns them. */
  fds: number[];
  /** Bytes sent before the syscall parked (its re-run carries on after them; fds went with the first). */
  resume: number;
}

/**
 * Send `len` bytes from end `e` of pair `s` (`source(off, n)` gives user bytes, or -EFAULT).
 * Returns the count (including `resume`), -errno, or PARKED.
 */
export function socketSend(
  ctx: KernelContext, s: number, e: number, len: number, source: (off: number, n: number) => Uint8Array | number,
  o: SendOptions, waiter: Waiter,
): number {
  const i32 = ctx.ctl.i32;
  const type = socketType(ctx, s);
  const stream = type === SOCK_STREAM;
  const d = 1 - e; // the direction the peer reads
  if (!stream && len > SOCK_CAPACITY) return -EMSGSIZE;
  if (o.fds.length > SOCK_MSG_FDS) return -EINVAL;
  const seqIndex = word(ctx, s, SK_SEQ);
  const lock = lockOf(ctx, s);
  let sent = o.resume;
  let chunk: Uint8Array | null = null;
  do {
    if (chunk === null || chunk.length === 0) {
      const got = source(sent, stream ? Math.min(len - sent, SOCK_CAPACITY) : len);
      if (typeof got === 'number') return sent > 0 ? sent : got;
      chunk = got;
    }
    const seen = Atomics.load(i32, seqIndex);
    lock.lock();
    const open = i32[word(ctx, s, SK_OPEN)]!;
    const dead = (i32[word(ctx, s, SK_SHUT + e)]! & SEND_SHUTDOWN) !== 0 || (open & (1 << d)) === 0
      || (i32[word(ctx, s, SK_SHUT + d)]! & RCV_SHUTDOWN) !== 0;
    if (dead) {
      lock.unlock();
      if (type === SOCK_DGRAM && (open & (1 << d)) === 0) return -ECONNREFUSED;
      if (!o.nosignal) raiseSigpipe();
      return sent > 0 ? sent : -EPIPE;
    }
    const count = i32[dirWord(ctx, s, d, SD_COUNT)]!, mcount = i32[dirWord(ctx, s, d, SD_MCOUNT)]!;
    const room = SOCK_CAPACITY - count;
    const last = mcount > 0 ? (i32[dirWord(ctx, s, d, SD_MHEAD)]! + mcount - 1) % SOCK_MSGS : -1;
    const merge = stream && o.fds.length === 0 && last >= 0 && i32[msgWord(ctx, s, d, last, SM_NFDS)] === 0;
    const fits = stream ? room > 0 && (merge || mcount < SOCK_MSGS) : room >= chunk.length && mcount < SOCK_MSGS;
    if (fits) {
      const n = stream ? Math.min(room, chunk.length) : chunk.length;
      const r = ring(ctx, s, d);
      const tail = (i32[dirWord(ctx, s, d, SD_HEAD)]! + count) % SOCK_CAPACITY;
      const first = Math.min(n, SOCK_CAPACITY - tail);
      r.set(chunk.subarray(0, first), tail);
      if (first < n) r.set(chunk.subarray(first, n), 0);
      if (merge) {
        i32[msgWord(ctx, s, d, last, SM_LEN)] = i32[msgWord(ctx, s, d, last, SM_LEN)]! + n;
      } else {
        const m = (i32[dirWord(ctx, s, d, SD_MHEAD)]! + mcount) % SOCK_MSGS;
        i32[msgWord(ctx, s, d, m, SM_LEN)] = n;
        i32[msgWord(ctx, s, d, m, SM_OFF)] = 0;
        i32[msgWord(ctx, s, d, m, SM_NFDS)] = o.fds.length;
        o.fds.forEach((id, j) => { i32[msgWord(ctx, s, d, m, SM_FDS + j)] = id; });
        o.fds = []; // the record owns their references now
        i32[dirWord(ctx, s, d, SD_MCOUNT)] = mcount + 1;
      }
      i32[dirWord(ctx, s, d, SD_COUNT)] = count + n; // publishes the bytes (under the lock)
      lock.unlock();
      bump(ctx, s, waiter);
      sent += n;
      chunk = chunk.subarray(n);
      if (!stream) return n;
      continue;
    }
    lock.unlock();
    if (o.nonblock) return sent > 0 ? sent : -EAGAIN;
    const w = waiter.wait(i32, seqIndex, seen, sent);
    if (w === PARKED) return w;
    if (w < 0) return sent > 0 ? sent : w;
  } while (sent < len);
  return sent;
}

/** What one receive got. */
export interface Received {
  bytes: Uint8Array;
  /** Descriptions passed to the receiver (one reference each), in order. */
  fds: number[];
  /** The record was longer than the buffer (seqpacket, dgram): its full length. */
  full: number;
}

/**
 * Receive up to `len` bytes on end `e` of pair `s`. `peek`: leave everything queued (no fds
 * taken). Returns what was received (0 bytes at EOF), or -EAGAIN, or the waiter's result.
 */
export function socketRecv(ctx: KernelContext, s: number, e: number, len: number, peek: boolean, nonblock: boolean, waiter: Waiter): Received | number {
  const i32 = ctx.ctl.i32;
  const stream = socketType(ctx, s) === SOCK_STREAM;
  const seqIndex = word(ctx, s, SK_SEQ);
  const lock = lockOf(ctx, s);
  for (;;) {
    const seen = Atomics.load(i32, seqIndex);
    lock.lock();
    const mcount = i32[dirWord(ctx, s, e, SD_MCOUNT)]!;
    if (mcount > 0 && (len > 0 || !stream)) {
      const out: number[] = [];
      const fds: number[] = [];
      const r = ring(ctx, s, e);
      let head = i32[dirWord(ctx, s, e, SD_HEAD)]!, count = i32[dirWord(ctx, s, e, SD_COUNT)]!;
      let mh = i32[dirWord(ctx, s, e, SD_MHEAD)]!, mc = mcount;
      let full = 0;
      let pos = head; // peek cursor
      for (let k = 0; k < mcount && out.length < len + (stream ? 0 : 1); k++) {
        const m = (i32[dirWord(ctx, s, e, SD_MHEAD)]! + k) % SOCK_MSGS;
        const mlen = i32[msgWord(ctx, s, e, m, SM_LEN)]!, off = i32[msgWord(ctx, s, e, m, SM_OFF)]!;
        const avail = mlen - off;
        const take = Math.min(avail, len - out.length);
        for (let j = 0; j < take; j++) out.push(r[(pos + j) % SOCK_CAPACITY]!);
        const nfds = i32[msgWord(ctx, s, e, m, SM_NFDS)]!;
        if (!peek && nfds > 0) {
          for (let j = 0; j < nfds; j++) fds.push(i32[msgWord(ctx, s, e, m, SM_FDS + j)]!);
          i32[msgWord(ctx, s, e, m, SM_NFDS)] = 0;
        }
        if (!stream) { // one record, whole: the rest of a longer one is dropped
          full = mlen;
          if (!peek) {
            head = (head + mlen) % SOCK_CAPACITY;
            count -= mlen;
            mh = (mh + 1) % SOCK_MSGS;
            mc--;
          }
          break;
        }
        pos = (pos + take) % SOCK_CAPACITY;
        if (!peek) {
          head = (head + take) % SOCK_CAPACITY;
          count -= take;
          if (take === avail) { mh = (mh + 1) % SOCK_MSGS; mc--; } else i32[msgWord(ctx, s, e, m, SM_OFF)] = off + take;
        }
        if (nfds > 0 || take < avail) break; // fds end a read (Linux: after the skb that carried them)
      }
      if (!peek) {
        i32[dirWord(ctx, s, e, SD_HEAD)] = head;
        i32[dirWord(ctx, s, e, SD_COUNT)] = count;
        i32[dirWord(ctx, s, e, SD_MHEAD)] = mh;
        i32[dirWord(ctx, s, e, SD_MCOUNT)] = mc;
      }
      lock.unlock();
      if (!peek) bump(ctx, s, waiter); // room for the sender
      return { bytes: Uint8Array.from(out), fds, full };
    }
    const eof = (i32[word(ctx, s, SK_SHUT + e)]! & RCV_SHUTDOWN) !== 0;
    lock.unlock();
    if (eof || (stream && len === 0)) return { bytes: new Uint8Array(0), fds: [], full: 0 };
    if (nonblock) return -EAGAIN;
    const w = waiter.wait(i32, seqIndex, seen);
    if (w < 0) return w;
  }
}

/** poll(2) readiness of end `e` of pair `s` (Linux unix_poll / unix_dgram_poll). */
export function socketPoll(ctx: KernelContext, s: number, e: number): { mask: number; key: number } {
  const i32 = ctx.ctl.i32;
  const mask = lockOf(ctx, s).with(() => {
    const shut = i32[word(ctx, s, SK_SHUT + e)]!;
    let m = 0;
    if (i32[dirWord(ctx, s, e, SD_MCOUNT)]! > 0) m |= POLLIN | POLLRDNORM;
    if (shut & RCV_SHUTDOWN) m |= POLLRDHUP | POLLIN | POLLRDNORM;
    if (shut === (RCV_SHUTDOWN | SEND_SHUTDOWN)) m |= POLLHUP;
    const d = 1 - e;
    const peerOpen = (i32[word(ctx, s, SK_OPEN)]! & (1 << d)) !== 0;
    const stream = socketType(ctx, s) === SOCK_STREAM;
    const room = SOCK_CAPACITY - i32[dirWord(ctx, s, d, SD_COUNT)]!;
    const slots = i32[dirWord(ctx, s, d, SD_MCOUNT)]! < SOCK_MSGS;
    if (!peerOpen || (room > 0 && (stream || slots))) m |= POLLOUT | POLLWRNORM;
    return m;
  });
  return { mask, key: socketKey(ctx, s) };
}
