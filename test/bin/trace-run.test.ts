/**
 * Traces of real runs: bundled guests on a 2-hart machine, through the CLI (`coherent trace -o`
 * and `coherent run --trace`), with the hart loop, fault handler, syscall dispatcher, flushes
 * and shootdown policy emitting. The file must be Chrome trace-event JSON with a track per
 * hart, thread-run / syscall / fault slices, flush instants, and every shootdown drawn as flows
 * from its initiator to each target's acknowledgement, ids pairing up; slices nest per track.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChromeTrace, ChromeTraceEvent } from '../../kernel/lab/trace-export.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COHERENT = join(ROOT, 'bin/coherent');
const dir = mkdtempSync(join(tmpdir(), 'coherent-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function coherent(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(COHERENT, args, { cwd: ROOT, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const slices = (ev: ChromeTraceEvent[], cat: string, tid?: number): ChromeTraceEvent[] =>
  ev.filter((e) => e.ph === 'X' && e.cat === cat && (tid === undefined || e.tid === tid));

/** What every real trace must satisfy: tracks, nothing lost or truncated, no B/E, slices nested per track. */
function checkCommon(t: ChromeTrace): ChromeTraceEvent[] {
  const ev = t.traceEvents;
  const names = ev.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [e.tid, e.args!.name]);
  expect(names).toEqual([[0, 'hart 0'], [1, 'hart 1']]);
  const harts = t.otherData.harts as { hartId: number; kept: number; lost: number }[];
  expect(harts.map((h) => h.lost)).toEqual([0, 0]);
  expect(harts.every((h) => h.kept > 0)).toBe(true);
  // Only complete slices, instants, flows and metadata: no B/E pair to leave unmatched.
  expect(ev.filter((e) => !['M', 'X', 'i', 's', 't', 'f'].includes(e.ph))).toEqual([]);
  // Every begin met its end: no slice closed by the exporter for want of one.
  expect(ev.filter((e) => e.ph === 'X' && e.args?.truncated)).toEqual([]);
  for (const tid of [0, 1]) {
    // Slices of one track nest (Perfetto rejects overlapping ones): a stack sweep in time order.
    const xs = ev.filter((e) => e.ph === 'X' && e.tid === tid).sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
    const stack: ChromeTraceEvent[] = [];
    for (const x of xs) {
      while (stack.length && stack[stack.length - 1]!.ts + stack[stack.length - 1]!.dur! <= x.ts + 1e-9) stack.pop();
      const top = stack[stack.length - 1];
      if (top) expect(x.ts + x.dur!, `${x.name}@${x.ts} inside ${top.name}@${top.ts}`).toBeLessThanOrEqual(top.ts + top.dur! + 1e-6);
      stack.push(x);
    }
  }
  // Thread runs: switch-in .. switch-out with a reason, on both harts.
  const runs = slices(ev, 'sched');
  expect(new Set(runs.map((e) => e.tid))).toEqual(new Set([0, 1]));
  for (const r of runs) expect(['preempt', 'yield', 'block', 'exit']).toContain(r.args!.reason);
  return ev;
}

describe('a trace of a real 2-hart run', () => {
  it('coherent trace -o: tlbrace (threads racing munmap/remap) has every shootdown as flows to each target ack', async () => {
    const file = join(dir, 'tlbrace.json');
    const r = await coherent(['trace', '-o', file, '--cpus', '2', '--trace-buffer', '262144', 'guests/bin/tlbrace', '2', '30', '2']);
    expect(r.stderr + r.stdout).toMatch(/tlbrace: OK/);
    expect(r.code).toBe(0);
    const t = JSON.parse(readFileSync(file, 'utf8')) as ChromeTrace;
    expect(t.otherData.policy).toBe('ipi');
    const ev = checkCommon(t);

    const sys = slices(ev, 'syscall');
    const sysNames = new Set(sys.map((e) => e.name));
    for (const n of ['syscall mmap', 'syscall munmap', 'syscall clone', 'syscall exit_group']) expect(sysNames).toContain(n);
    const munmap = sys.find((e) => e.name === 'syscall munmap' && e.args!.ret === 0)!;
    expect(munmap.args).toMatchObject({ nr: 215 });
    expect((munmap.args!.args as number[])[1]).toBeGreaterThan(0); // the length argument
    expect(slices(ev, 'fault').length).toBeGreaterThan(0);
    const flushes = ev.filter((e) => e.ph === 'i' && e.cat === 'tlb');
    expect(flushes.some((e) => e.args!.cause === 'local')).toBe(true);
    expect(flushes.some((e) => e.args!.cause === 'shootdown')).toBe(true);

    // Shootdowns: each initiator slice (complete) has, per target in its mask, a flow s -> f
    // with id = shootdownId * 64 + target, ending at that target's ack slice of the same id.
    const starts = slices(ev, 'shootdown').filter((e) => e.name === 'shootdown');
    const acks = slices(ev, 'shootdown').filter((e) => e.name === 'shootdown ack');
    expect(starts.length).toBeGreaterThan(0);
    const flowsS = new Map(ev.filter((e) => e.ph === 's').map((e) => [e.id!, e]));
    const flowsF = new Map(ev.filter((e) => e.ph === 'f').map((e) => [e.id!, e]));
    expect([...flowsS.keys()].sort()).toEqual([...flowsF.keys()].sort());
    let flows = 0;
    for (const s of starts) {
      expect(s.args!.complete).toBe(true);
      const sid = s.args!.id as number;
      expect(sid % 64).toBe(s.tid); // ids name their initiator hart
      const mask = Number(s.args!.targetMask);
      const targets = [0, 1].filter((h) => mask & (1 << h));
      expect(targets).toEqual([1 - s.tid]); // two harts: the other one
      expect(s.args!.acked).toBe(targets.length);
      for (const tg of targets) {
        const id = sid * 64 + tg;
        const fs = flowsS.get(id)!, ff = flowsF.get(id)!;
        expect(fs.tid).toBe(s.tid);
        expect(ff.tid).toBe(tg);
        expect(ff.ts).toBeGreaterThanOrEqual(fs.ts);
        const ack = acks.find((a) => a.tid === tg && a.args!.id === sid)!;
        expect(ack.args).toMatchObject({ initiator: s.tid, acked: true });
        flows++;
      }
    }
    expect(flows).toBe(flowsS.size);
    expect(acks.length).toBe(flows); // no ack without its start
  }, 60_000);

  it('coherent run --trace: fork shows clone/wait4, copy-on-write faults, and switch-time flushes', async () => {
    const file = join(dir, 'fork.json');
    const r = await coherent(['run', '--trace', file, '--cpus', '2', 'guests/bin/fork']);
    expect(r.stdout).toMatch(/fork: OK/);
    expect(r.code).toBe(0);
    const ev = checkCommon(JSON.parse(readFileSync(file, 'utf8')) as ChromeTrace);
    const sysNames = new Set(slices(ev, 'syscall').map((e) => e.name));
    for (const n of ['syscall clone', 'syscall wait4', 'syscall exit_group']) expect(sysNames).toContain(n);
    const outcomes = new Set(slices(ev, 'fault').map((e) => e.args!.outcome));
    expect(outcomes).toContain('demand-zero');
    expect([...outcomes].some((o) => o === 'cow-copy' || o === 'cow-reuse')).toBe(true);
    for (const f of slices(ev, 'fault')) expect(f.args!.va).toMatch(/^0x[0-9a-f]+$/);
    // The parent blocks in wait4: its syscall slice ends where its thread leaves the hart.
    expect(slices(ev, 'syscall').some((e) => e.name === 'syscall wait4' && e.args!.left === true)).toBe(true);
    expect(slices(ev, 'sched').some((e) => e.args!.reason === 'block')).toBe(true);
    const flushes = ev.filter((e) => e.ph === 'i' && e.cat === 'tlb');
    expect(flushes.some((e) => e.args!.cause === 'switch')).toBe(true);
  }, 60_000);
});
