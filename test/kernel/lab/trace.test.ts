import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { computeLayout, createCtl, layoutRegions } from '../../../kernel/layout.ts';
import {
  CAUSE_LOCAL, CAUSE_SHOOTDOWN, FAULT_COW_COPY, FLUSH_ALL, FLUSH_PAGE, FLUSH_RANGE, initializeTrace, openTraceWriter,
  readTrace, SWITCH_PREEMPT, TE_FLUSH, TE_SWITCH_OUT, TE_SYSCALL_END, traceEmitFaultBegin, traceEmitFaultEnd,
  traceEmitFlush, traceEmitSanitizer, traceEmitShootdownAck, traceEmitShootdownDone, traceEmitShootdownRecv,
  traceEmitShootdownStart, traceEmitSwitchIn, traceEmitSwitchOut, traceEmitSyscallBegin, traceEmitSyscallEnd,
  type HartTrace, type TraceEvent,
} from '../../../kernel/lab/trace.ts';
import {
  exportChromeTrace, SANITIZER_EVENT_NAME, TRACE_PROCESS_NAME, writeChromeTrace, type ChromeTraceEvent,
} from '../../../kernel/lab/trace-export.ts';
import { traceRingBytes } from '../../../kernel/lab/trace-layout.ts';
import { Machine } from '../../../scheduler/machine.ts';
import { TRACE_TEST_COMMANDS } from './trace-commands.ts';

const ACCESS_LOAD = 1, ACCESS_STORE = 2;

describe('trace rings in ctl', () => {
  it('adds a per-hart region that neither overlaps nor misaligns, sized from traceEvents', () => {
    for (const traceEvents of [0, 16, 1000]) {
      const l = computeLayout({ cpus: 3, frames: 4096, traceEvents });
      const rs = layoutRegions(l).sort((a, b) => a.offset - b.offset);
      for (let i = 1; i < rs.length; i++) expect(rs[i - 1]!.offset + rs[i - 1]!.bytes).toBeLessThanOrEqual(rs[i]!.offset);
      const r = rs.find((x) => x.name === 'traceRings')!;
      expect(r.bytes).toBe(3 * traceRingBytes(traceEvents));
      expect(r.offset % 64).toBe(0);
      expect(l.traceEvents).toBe(traceEvents);
    }
    expect(() => computeLayout({ cpus: 1, frames: 4096, traceEvents: -1 })).toThrow(/traceEvents/);
  });

  it('is off by default: no writer, emits do nothing', () => {
    const ctl = createCtl({ cpus: 2, frames: 4096 });
    initializeTrace(ctl);
    const w = openTraceWriter(ctl, 0);
    expect(w).toBeNull();
    traceEmitFlush(w, FLUSH_ALL, CAUSE_LOCAL, -1, 0, 0);
    expect(readTrace(ctl).map((h) => h.events.length)).toEqual([0, 0]);
  });

  it('wraps and keeps the newest N records of each hart, oldest first', () => {
    const ctl = createCtl({ cpus: 2, frames: 4096, traceEvents: 16 });
    initializeTrace(ctl);
    const w = openTraceWriter(ctl, 1)!;
    for (let i = 0; i < 40; i++) w.record(TE_FLUSH, i, 0, 0, 0, i * 4096, 0, 0);
    const [h0, h1] = readTrace(ctl);
    expect(h0!.events).toEqual([]);
    expect(h1!.emitted).toBe(40);
    expect(h1!.events.map((e) => e.a[0])).toEqual(Array.from({ length: 16 }, (_, k) => 24 + k));
    expect(h1!.events.map((e) => e.f[0])).toEqual(Array.from({ length: 16 }, (_, k) => (24 + k) * 4096));
    for (let k = 1; k < 16; k++) expect(h1!.events[k]!.ts).toBeGreaterThanOrEqual(h1!.events[k - 1]!.ts);
    // exactly full, no wrap yet
    const w0 = openTraceWriter(ctl, 0)!;
    for (let i = 0; i < 16; i++) w0.record(TE_FLUSH, i, 0, 0, 0, 0, 0, 0);
    expect(readTrace(ctl)[0]!.events.map((e) => e.a[0])).toEqual(Array.from({ length: 16 }, (_, k) => k));
  });

  it('stamps records with the hart and the thread switched in', () => {
    const ctl = createCtl({ cpus: 1, frames: 4096, traceEvents: 64 });
    initializeTrace(ctl);
    const w = openTraceWriter(ctl, 0);
    traceEmitSwitchIn(w, 7, 3, 5);
    traceEmitSyscallBegin(w, 215, 0x1000, 8192, 0);
    traceEmitSyscallEnd(w, 215, -22);
    traceEmitSwitchOut(w, SWITCH_PREEMPT);
    traceEmitFlush(w, FLUSH_ALL, CAUSE_LOCAL, -1, 0, 0);
    const ev = readTrace(ctl)[0]!.events;
    expect(ev.map((e) => [e.tid, e.pid, e.hart])).toEqual([[7, 3, 0], [7, 3, 0], [7, 3, 0], [7, 3, 0], [0, 0, 0]]);
    expect(ev[2]!.kind).toBe(TE_SYSCALL_END);
    expect(ev[2]!.f[0]).toBe(-22);
    expect(ev[3]!.kind).toBe(TE_SWITCH_OUT);
  });

  it('several worker harts write their rings at once; each ring holds its own newest records intact', async () => {
    const cpus = 4, cap = 256, count = 5000;
    const ctl = createCtl({ cpus, frames: 4096, traceEvents: cap });
    initializeTrace(ctl);
    const start = ctl.layout.scratch / 4;
    const workers = Array.from({ length: cpus }, (_, hartId) => new Worker(new URL('./trace.worker.mjs', import.meta.url), {
      workerData: { ctlSab: ctl.sab, hartId, count, start },
    }));
    const done = workers.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }));
    Atomics.store(ctl.i32, start, 1);
    Atomics.notify(ctl.i32, start);
    await Promise.all(done);
    await Promise.all(workers.map((w) => w.terminate()));
    const harts = readTrace(ctl);
    for (const h of harts) {
      expect(h.emitted).toBe(count);
      expect(h.events).toHaveLength(cap);
      h.events.forEach((e, k) => {
        expect(e.hart).toBe(h.hartId);
        expect(e.a[1]).toBe(h.hartId);
        expect(e.a[0]).toBe(count - cap + k);
        expect(e.f[0]).toBe((count - cap + k) * 4096);
        if (k > 0) expect(e.ts).toBeGreaterThanOrEqual(h.events[k - 1]!.ts);
      });
    }
    // One epoch for all workers: their timestamps overlap in time (they ran together).
    const spans = harts.map((h) => [h.events[0]!.ts, h.events[cap - 1]!.ts]);
    const latestStart = Math.max(...spans.map((s) => s[0]!));
    expect(latestStart).toBeLessThan(60e9); // ns since the epoch, not absolute time
    expect(Math.min(...spans.map((s) => s[0]!))).toBeGreaterThan(0);
  }, 30_000);
});

/** A 3-hart run: hart 0 unmaps (shootdown to harts 1 and 2), hart 1 flushes, hart 2 is caught up. */
function scenario(): { harts: HartTrace[]; id: number } {
  const ctl = createCtl({ cpus: 3, frames: 4096, traceEvents: 128 });
  initializeTrace(ctl);
  const [w0, w1, w2] = [0, 1, 2].map((h) => openTraceWriter(ctl, h));
  traceEmitSwitchIn(w0, 10, 1, 1);
  traceEmitSwitchIn(w1, 11, 1, 1);
  traceEmitSwitchIn(w2, 20, 2, 2);
  traceEmitSyscallBegin(w0, 215, 0x20000, 8192, 0);
  const id = w0!.nextShootdownId();
  traceEmitShootdownStart(w0, id, 0b110, 0x20000, 2);
  traceEmitFlush(w0, FLUSH_RANGE, CAUSE_LOCAL, 1, 0x20000, 2);
  traceEmitShootdownRecv(w1, id, 0, true);
  traceEmitFlush(w1, FLUSH_PAGE, CAUSE_SHOOTDOWN, 1, 0x20000, 1);
  traceEmitFlush(w1, FLUSH_PAGE, CAUSE_SHOOTDOWN, 1, 0x21000, 1);
  traceEmitShootdownRecv(w2, id, 0, false);
  traceEmitShootdownAck(w2, id, 0);
  traceEmitShootdownAck(w1, id, 0);
  traceEmitShootdownDone(w0, id);
  traceEmitSyscallEnd(w0, 215, 0);
  traceEmitFaultBegin(w1, 0x30000, ACCESS_STORE);
  traceEmitFaultEnd(w1, FAULT_COW_COPY);
  traceEmitSanitizer(w2, 0x20008, ACCESS_LOAD, 77, -1, 1500);
  traceEmitSwitchOut(w0, SWITCH_PREEMPT);
  return { harts: readTrace(ctl), id };
}

const inside = (ts: number, s: ChromeTraceEvent): boolean => ts >= s.ts && ts <= s.ts + s.dur!;

describe('Chrome trace export', () => {
  it('has the process, a named track per hart, run/syscall/fault slices, flush and sanitizer instants', () => {
    const { harts } = scenario();
    const t = JSON.parse(JSON.stringify(exportChromeTrace(harts, { policy: 'ipi', cpus: 3, memory: 16 << 20 })));
    const ev: ChromeTraceEvent[] = t.traceEvents;
    expect(t.otherData).toMatchObject({ policy: 'ipi', cpus: 3 });
    expect(ev.find((e) => e.ph === 'M' && e.name === 'process_name')!.args).toEqual({ name: TRACE_PROCESS_NAME });
    const names = ev.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [e.tid, e.args!.name]);
    expect(names).toEqual([[0, 'hart 0'], [1, 'hart 1'], [2, 'hart 2']]);
    for (const e of ev) expect(e.pid).toBe(1);

    const slices = ev.filter((e) => e.ph === 'X');
    const run0 = slices.find((e) => e.tid === 0 && e.cat === 'sched')!;
    expect(run0.name).toBe('tid 10 (pid 1)');
    expect(run0.args).toMatchObject({ tid: 10, pid: 1, asid: 1, reason: 'preempt' });
    const sys = slices.find((e) => e.cat === 'syscall')!;
    expect(sys).toMatchObject({ tid: 0, name: 'syscall munmap', args: { nr: 215, ret: 0 } });
    expect(inside(sys.ts, run0) && inside(sys.ts + sys.dur!, run0)).toBe(true);
    const fault = slices.find((e) => e.cat === 'fault')!;
    expect(fault).toMatchObject({ tid: 1, args: { va: '0x30000', access: 'store', outcome: 'cow-copy' } });
    // hart 1's run never switched out: closed at its last record, marked truncated
    expect(slices.find((e) => e.tid === 1 && e.cat === 'sched')!.args).toMatchObject({ tid: 11, truncated: true });

    const flushes = ev.filter((e) => e.cat === 'tlb');
    expect(flushes.map((e) => [e.tid, e.ph, e.s, e.args!.kind, e.args!.cause])).toEqual([
      [0, 'i', 't', 'range', 'local'], [1, 'i', 't', 'page', 'shootdown'], [1, 'i', 't', 'page', 'shootdown'],
    ]);
    const san = ev.filter((e) => e.name === SANITIZER_EVENT_NAME);
    expect(san).toHaveLength(1);
    expect(san[0]).toMatchObject({ ph: 'i', s: 't', tid: 2, cat: 'sanitizer', cname: 'terrible' });
    expect(san[0]!.args).toMatchObject({ va: '0x20008', access: 'load', stalePpn: 77, currentPpn: null, policy: 'ipi' });
  });

  it('draws each shootdown as matched flows from the initiator to every target acknowledgement', () => {
    const { harts, id } = scenario();
    const ev: ChromeTraceEvent[] = exportChromeTrace(harts, { policy: 'ipi' }).traceEvents;
    const init = ev.find((e) => e.ph === 'X' && e.name === 'shootdown')!;
    expect(init).toMatchObject({ tid: 0, args: { id, targets: 2, targetMask: '0x6', pages: 2, complete: true, acked: 2 } });
    const acks = ev.filter((e) => e.ph === 'X' && e.name === 'shootdown ack');
    expect(acks.map((a) => [a.tid, a.args!.flushed])).toEqual([[1, true], [2, false]]);
    const flows = ev.filter((e) => e.ph === 's' || e.ph === 't' || e.ph === 'f');
    const ids = [...new Set(flows.map((f) => f.id!))].sort((a, b) => a - b);
    expect(ids).toEqual([id * 64 + 1, id * 64 + 2]);
    for (const fid of ids) {
      const mine = flows.filter((f) => f.id === fid);
      const s = mine.filter((f) => f.ph === 's'), fin = mine.filter((f) => f.ph === 'f');
      expect(s).toHaveLength(1);
      expect(fin).toHaveLength(1);
      expect(s[0]!.tid).toBe(0);
      expect(inside(s[0]!.ts, init)).toBe(true);
      expect(fin[0]!.bp).toBe('e');
      const target = fid - id * 64;
      expect(fin[0]!.tid).toBe(target);
      expect(inside(fin[0]!.ts, acks.find((a) => a.tid === target)!)).toBe(true);
      for (const f of mine) expect([f.cat, f.name]).toEqual(['shootdown', 'shootdown']);
      expect(s[0]!.ts).toBeLessThanOrEqual(fin[0]!.ts);
    }
  });

  it('orders events deterministically (metadata first, then by time) and writes parseable JSON', async () => {
    const { harts } = scenario();
    const a = exportChromeTrace(harts, { policy: 'off' });
    expect(exportChromeTrace(harts, { policy: 'off' })).toEqual(a);
    const firstNonMeta = a.traceEvents.findIndex((e) => e.ph !== 'M');
    expect(a.traceEvents.slice(firstNonMeta).every((e) => e.ph !== 'M')).toBe(true);
    const ts = a.traceEvents.slice(firstNonMeta).map((e) => e.ts);
    expect(ts).toEqual([...ts].sort((x, y) => x - y));
    expect(Math.min(...ts)).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'coherent-trace-'));
    try {
      const file = join(dir, 't.json');
      await writeChromeTrace(file, harts, { policy: 'off' });
      const parsed = JSON.parse(readFileSync(file, 'utf8'));
      expect(parsed.traceEvents).toEqual(JSON.parse(JSON.stringify(a.traceEvents)));
      expect(parsed.otherData.policy).toBe('off');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('recovers slices whose begin was overwritten and skips flows whose start was lost', () => {
    const ev = (ts: number, kind: number, hart: number, a0 = 0, f0 = 0): TraceEvent =>
      ({ ts, kind, hart, tid: 5, pid: 2, a: [a0, 0, 0, 0], f: [f0, 0, 0] });
    const harts: HartTrace[] = [
      { hartId: 0, emitted: 100, events: [ev(1000, TE_SYSCALL_END, 0, 63, 3), ev(5000, TE_SWITCH_OUT, 0)] },
      { hartId: 1, emitted: 2, events: [ev(2000, 9 /* recv */, 1, 0, 64), ev(3000, 10 /* ack */, 1, 0, 64)] },
    ];
    const t = exportChromeTrace(harts);
    const x = t.traceEvents.filter((e) => e.ph === 'X');
    expect(x.find((e) => e.cat === 'syscall')!.args).toMatchObject({ nr: 63, ret: 3, truncated: true });
    expect(x.find((e) => e.cat === 'sched')!.args).toMatchObject({ tid: 5, truncated: true, reason: 'preempt' });
    expect(x.find((e) => e.name === 'shootdown ack')).toBeDefined();
    expect(t.traceEvents.filter((e) => 'sft'.includes(e.ph))).toEqual([]);
    expect(t.otherData.harts).toEqual([{ hartId: 0, kept: 2, lost: 98 }, { hartId: 1, kept: 2, lost: 0 }]);
  });
});

describe('a trace written by a real 2-hart machine', () => {
  it('has a track per hart and one matched flow per shootdown from hart 0 to hart 1', async () => {
    const m = await Machine.boot({ cpus: 2, memory: 16 << 20, traceEvents: 256, commandModules: [TRACE_TEST_COMMANDS] });
    let harts: HartTrace[];
    let ids: number[];
    try {
      await m.runOnAllHarts('trace.init');
      ({ ids } = await m.runOnHart<{ ids: number[] }>(0, 'trace.shootdown', { targets: [1], rounds: 5 }));
      harts = readTrace(m.ctl);
    } finally {
      await m.shutdown();
    }
    expect(harts.map((h) => h.events.length)).toEqual([2 + 2 * 5 + 2, 3 * 5]);
    const t = JSON.parse(JSON.stringify(exportChromeTrace(harts, { policy: 'test', cpus: 2 })));
    const ev: ChromeTraceEvent[] = t.traceEvents;
    expect(ev.filter((e) => e.name === 'thread_name').map((e) => e.args!.name)).toEqual(['hart 0', 'hart 1']);
    expect(ev.filter((e) => e.ph === 'X' && e.tid === 0).map((e) => e.cat).sort())
      .toEqual(['sched', 'shootdown', 'shootdown', 'shootdown', 'shootdown', 'shootdown', 'syscall']);
    expect(ev.filter((e) => e.cat === 'tlb' && e.tid === 1)).toHaveLength(5);
    for (const id of ids) {
      const flow = ev.filter((e) => e.id === id * 64 + 1);
      expect(flow.map((e) => [e.ph, e.tid])).toEqual([['s', 0], ['t', 1], ['f', 1]]);
      // one epoch across workers: the receive is not earlier than the initiation
      expect(flow[1]!.ts).toBeGreaterThanOrEqual(flow[0]!.ts);
    }
  }, 30_000);
});
