/**
 * Trace export: a snapshot of the per-hart rings (kernel/lab/trace.ts readTrace) as Chrome
 * trace-event JSON (JSON Object Format), which ui.perfetto.dev and chrome://tracing open.
 *
 *   process 1 "Coherent machine"; one thread track per hart (tid = hartId, "hart N")
 *   - thread runs        "X" slices  cat sched      switch-in .. switch-out
 *   - page faults        "X" slices  cat fault      fault-begin .. fault-end (outcome in args)
 *   - syscalls           "X" slices  cat syscall    syscall-begin .. syscall-end, named "syscall
 *                        <name>" (kernel/syscalls-table.ts); args.ret, or args.left when the thread
 *                        left the hart inside it (blocked, exited: ended at its switch-out)
 *   - TLB flushes        "i" instants, scope thread, cat tlb
 *   - shootdowns         "X" slice at the initiator (start .. every ack in) and one at each
 *                        target (receive .. ack), joined by one flow per target: "s" in the
 *                        initiator's slice, "t" at the receive, "f" (bp "e") at the ack; flow
 *                        id = shootdownId * 64 + target hartId; cat shootdown
 *   - sanitizer reports  "i" instants named "STALE ACCESS", cat sanitizer, cname "terrible"
 *   - otherData / metadata: policy, machine config, events kept and lost per hart
 * Timestamps are µs from the earliest surviving record. A begin whose end was not recorded
 * (the run ended) closes at the hart's last record; an end whose begin was overwritten opens
 * at the hart's first surviving record; both carry args.truncated = true.
 * Ordering is deterministic: metadata, then events by (ts, track, phase, longer first).
 */
import { writeFile } from 'node:fs/promises';
import {
  ACCESS_NAMES, CAUSE_NAMES, FAULT_NAMES, FLUSH_NAMES, SWITCH_NAMES, TE_FAULT_BEGIN, TE_FAULT_END, TE_FLUSH,
  TE_SANITIZER, TE_SHOOTDOWN_ACK, TE_SHOOTDOWN_DONE, TE_SHOOTDOWN_RECV, TE_SHOOTDOWN_START, TE_SWITCH_IN,
  TE_SWITCH_OUT, TE_SYSCALL_BEGIN, TE_SYSCALL_END, type HartTrace, type TraceEvent,
} from './trace.ts';
import { syscallName } from '../syscalls-table.ts';

export const TRACE_PID = 1;
export const TRACE_PROCESS_NAME = 'Coherent machine';
export const SANITIZER_EVENT_NAME = 'STALE ACCESS';
/** Smallest slice and the inset of flow events inside their slice, in µs (1 ns). */
const EPS_US = 0.001;

/** One Chrome trace event (the fields this exporter uses). */
export interface ChromeTraceEvent {
  name: string;
  ph: 'X' | 'i' | 's' | 't' | 'f' | 'M';
  pid: number;
  tid: number;
  ts: number;
  cat?: string;
  dur?: number;
  s?: 't' | 'p' | 'g';
  id?: number;
  bp?: 'e';
  cname?: string;
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: ChromeTraceEvent[];
  displayTimeUnit: 'ns';
  otherData: Record<string, unknown>;
}

/** What the export records about the run (policy and machine configuration, and anything else). */
export interface TraceMeta {
  policy?: string;
  cpus?: number;
  memory?: number;
  [key: string]: unknown;
}

const hex = (va: number): string => '0x' + Math.max(0, va).toString(16);
const round = (us: number): number => Math.round(us * 1000) / 1000;

interface Open { ts: number; ev: TraceEvent }
interface Shootdown { id: number; start?: TraceEvent; done?: TraceEvent; recv: Map<number, TraceEvent>; ack: Map<number, TraceEvent> }

/**
 * Build the Chrome trace of `harts` (readTrace's snapshot). Pure and deterministic: the same
 * snapshot and meta give the same object.
 */
export function exportChromeTrace(harts: HartTrace[], meta: TraceMeta = {}): ChromeTrace {
  let t0 = Infinity;
  for (const h of harts) for (const e of h.events) t0 = Math.min(t0, e.ts);
  if (t0 === Infinity) t0 = 0;
  const us = (ns: number): number => round((ns - t0) / 1000);
  const out: ChromeTraceEvent[] = [];
  const shootdowns = new Map<number, Shootdown>();
  const sd = (id: number): Shootdown => {
    let s = shootdowns.get(id);
    if (!s) shootdowns.set(id, s = { id, recv: new Map(), ack: new Map() });
    return s;
  };

  for (const h of harts) {
    const tid = h.hartId;
    const evs = h.events;
    if (evs.length === 0) continue;
    const first = evs[0]!.ts, last = evs[evs.length - 1]!.ts;
    const slice = (name: string, cat: string, from: number, to: number, args: Record<string, unknown>): void => {
      const ts = us(from);
      out.push({ name, cat, ph: 'X', pid: TRACE_PID, tid, ts, dur: Math.max(EPS_US, round(us(to) - ts)), args });
    };
    let run: Open | null = null, fault: Open | null = null, sys: Open | null = null;
    const closeRun = (o: Open, to: number, reason: string | null): void => {
      slice(`tid ${o.ev.tid} (pid ${o.ev.pid})`, 'sched', o.ts, to, {
        tid: o.ev.tid, pid: o.ev.pid, ...(o.ev.kind === TE_SWITCH_IN ? { asid: o.ev.a[0] } : { truncated: true }),
        ...(reason === null ? { truncated: true } : { reason }),
      });
    };
    const closeFault = (o: Open, to: number, outcome: string | null): void => {
      slice(`fault ${ACCESS_NAMES[o.ev.a[0]] ?? '?'}`, 'fault', o.ts, to, {
        ...(o.ev.kind === TE_FAULT_BEGIN ? { va: hex(o.ev.f[0]), access: ACCESS_NAMES[o.ev.a[0]] ?? o.ev.a[0] } : { truncated: true }),
        ...(outcome === null ? { truncated: true } : { outcome }),
      });
    };
    const closeSys = (o: Open, to: number, nr: number, end: TraceEvent | null): void => {
      slice(`syscall ${syscallName(nr)}`, 'syscall', o.ts, to, {
        nr, ...(o.ev.kind === TE_SYSCALL_BEGIN ? { args: o.ev.f.slice() } : { truncated: true }),
        ...(end === null ? { truncated: true } : end.a[1] === 1 ? { left: true } : { ret: end.f[0] }),
      });
    };
    for (const e of evs) {
      switch (e.kind) {
        case TE_SWITCH_IN:
          if (run) closeRun(run, e.ts, null);
          run = { ts: e.ts, ev: e };
          break;
        case TE_SWITCH_OUT:
          closeRun(run ?? { ts: first, ev: e }, e.ts, SWITCH_NAMES[e.a[0]] ?? String(e.a[0]));
          run = null;
          break;
        case TE_FAULT_BEGIN:
          if (fault) closeFault(fault, e.ts, null);
          fault = { ts: e.ts, ev: e };
          break;
        case TE_FAULT_END:
          closeFault(fault ?? { ts: first, ev: e }, e.ts, FAULT_NAMES[e.a[0]] ?? String(e.a[0]));
          fault = null;
          break;
        case TE_SYSCALL_BEGIN:
          if (sys) closeSys(sys, e.ts, sys.ev.a[0], null);
          sys = { ts: e.ts, ev: e };
          break;
        case TE_SYSCALL_END:
          closeSys(sys ?? { ts: first, ev: e }, e.ts, e.a[0], e);
          sys = null;
          break;
        case TE_FLUSH:
          out.push({
            name: `flush ${FLUSH_NAMES[e.a[0]] ?? e.a[0]}`, cat: 'tlb', ph: 'i', s: 't', pid: TRACE_PID, tid, ts: us(e.ts),
            args: { kind: FLUSH_NAMES[e.a[0]] ?? e.a[0], cause: CAUSE_NAMES[e.a[1]] ?? e.a[1], asid: e.a[2], va: hex(e.f[0]), pages: e.f[1], tid: e.tid },
          });
          break;
        case TE_SANITIZER:
          out.push({
            name: SANITIZER_EVENT_NAME, cat: 'sanitizer', ph: 'i', s: 't', pid: TRACE_PID, tid, ts: us(e.ts), cname: 'terrible',
            args: {
              va: hex(e.f[0]), access: ACCESS_NAMES[e.a[0]] ?? e.a[0], stalePpn: e.a[1], currentPpn: e.a[2] < 0 ? null : e.a[2],
              sinceChangeNs: e.f[1], tid: e.tid, pid: e.pid, ...(meta.policy !== undefined ? { policy: meta.policy } : {}),
            },
          });
          break;
        case TE_SHOOTDOWN_START: sd(e.f[0]).start = e; break;
        case TE_SHOOTDOWN_DONE: sd(e.f[0]).done = e; break;
        case TE_SHOOTDOWN_RECV: sd(e.f[0]).recv.set(e.hart, e); break;
        case TE_SHOOTDOWN_ACK: sd(e.f[0]).ack.set(e.hart, e); break;
        default: break; // unknown kinds (a newer writer): skipped
      }
    }
    if (sys) closeSys(sys, last, sys.ev.a[0], null);
    if (fault) closeFault(fault, last, null);
    if (run) closeRun(run, last, null);
  }

  for (const s of [...shootdowns.values()].sort((a, b) => a.id - b.id)) emitShootdown(s, us, out);

  const rank: Record<string, number> = { X: 0, s: 1, t: 2, f: 3, i: 4 };
  const order = out.map((e, seq) => ({ e, seq }));
  order.sort((x, y) => x.e.ts - y.e.ts || x.e.tid - y.e.tid || rank[x.e.ph]! - rank[y.e.ph]! ||
    (y.e.dur ?? 0) - (x.e.dur ?? 0) || x.seq - y.seq);

  const metaEvents: ChromeTraceEvent[] = [
    { name: 'process_name', ph: 'M', pid: TRACE_PID, tid: 0, ts: 0, args: { name: TRACE_PROCESS_NAME } },
  ];
  for (const h of [...harts].sort((a, b) => a.hartId - b.hartId)) {
    metaEvents.push({ name: 'thread_name', ph: 'M', pid: TRACE_PID, tid: h.hartId, ts: 0, args: { name: `hart ${h.hartId}` } });
    metaEvents.push({ name: 'thread_sort_index', ph: 'M', pid: TRACE_PID, tid: h.hartId, ts: 0, args: { sort_index: h.hartId } });
  }
  const otherData: Record<string, unknown> = {
    ...meta,
    harts: harts.map((h) => ({ hartId: h.hartId, kept: h.events.length, lost: h.emitted - h.events.length })),
  };
  return { traceEvents: [...metaEvents, ...order.map((o) => o.e)], displayTimeUnit: 'ns', otherData };
}

/** The slices and flows of one shootdown (see the header); nothing without any record of it. */
function emitShootdown(s: Shootdown, us: (ns: number) => number, out: ChromeTraceEvent[]): void {
  const cat = 'shootdown';
  const targets = [...new Set([...s.recv.keys(), ...s.ack.keys()])].sort((a, b) => a - b);
  let sliceStart = 0;
  if (s.start) {
    const e = s.start;
    const lastAck = Math.max(e.ts, ...[...s.ack.values()].map((a) => a.ts));
    const end = s.done?.ts ?? lastAck;
    sliceStart = us(e.ts);
    out.push({
      name: 'shootdown', cat, ph: 'X', pid: TRACE_PID, tid: e.hart, ts: sliceStart,
      dur: Math.max(2 * EPS_US, round(us(end) - sliceStart)),
      args: {
        id: s.id, targets: e.a[0], targetMask: '0x' + ((BigInt(e.a[2] >>> 0) << 32n) | BigInt(e.a[1] >>> 0)).toString(16),
        va: hex(e.f[1]), pages: e.f[2], acked: s.ack.size, complete: s.done !== undefined, tid: e.tid, pid: e.pid,
      },
    });
  }
  for (const t of targets) {
    const recv = s.recv.get(t), ack = s.ack.get(t);
    const from = us((recv ?? ack)!.ts);
    const dur = Math.max(2 * EPS_US, round(us((ack ?? recv)!.ts) - from));
    out.push({
      name: 'shootdown ack', cat, ph: 'X', pid: TRACE_PID, tid: t, ts: from, dur,
      args: {
        id: s.id, initiator: (recv ?? ack)!.a[0], flushed: recv ? recv.a[1] === 1 : null, acked: ack !== undefined,
        ...(recv ? {} : { truncated: true }),
      },
    });
    if (!s.start) continue; // the start was overwritten: no flow to draw
    const id = s.id * 64 + t;
    out.push({ name: 'shootdown', cat, ph: 's', pid: TRACE_PID, tid: s.start.hart, ts: round(sliceStart + EPS_US), id });
    if (recv && ack) out.push({ name: 'shootdown', cat, ph: 't', pid: TRACE_PID, tid: t, ts: round(from + EPS_US), id });
    out.push({ name: 'shootdown', cat, ph: 'f', bp: 'e', pid: TRACE_PID, tid: t, ts: round(from + dur - EPS_US), id });
  }
}

/** Write `harts` as Chrome trace JSON to `path` (one event per line, for diffable files). */
export async function writeChromeTrace(path: string, harts: HartTrace[], meta: TraceMeta = {}): Promise<void> {
  const t = exportChromeTrace(harts, meta);
  const body = t.traceEvents.map((e) => JSON.stringify(e)).join(',\n');
  const text = `{"displayTimeUnit":"ns","otherData":${JSON.stringify(t.otherData)},\n"traceEvents":[\n${body}\n]}\n`;
  await writeFile(path, text);
}
