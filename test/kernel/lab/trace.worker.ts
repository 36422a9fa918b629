// One hart's trace writer on a shared ctl: writes `count` records (a0 = sequence number, a1 =
// hartId), yielding now and then so the harts interleave, then reports.
import { parentPort, workerData } from 'node:worker_threads';
import { attachCtl } from '../../../kernel/layout.ts';
import { openTraceWriter, TE_FLUSH } from '../../../kernel/lab/trace.ts';

const { ctlSab, hartId, count, start } = workerData as { ctlSab: SharedArrayBuffer; hartId: number; count: number; start: number };
const ctl = attachCtl(ctlSab);
const w = openTraceWriter(ctl, hartId)!;
// Start together: spin-wait on the shared start word (bounded by Atomics.wait).
while (Atomics.load(ctl.i32, start) === 0) Atomics.wait(ctl.i32, start, 0, 10);
for (let i = 0; i < count; i++) w.record(TE_FLUSH, i, hartId, 0, 0, i * 4096, 1, 0);
parentPort!.postMessage({ done: true });
