/**
 * The demo (`npm start`, `coherent demo`): boot a machine (4 harts by default), run the bundled
 * workload mix at once — threads racing unmap/remap (guests/bin/tlbrace), fork and
 * copy-on-write (guests/bin/fork), mmap/munmap/mprotect churn with threads and forks
 * (guests/bin/mix) — under one shootdown policy, with a live display (a progress bar for the
 * run and a line per hart: thread, MIPS, TLB hit rate, shootdowns; plain lines when the output
 * is not a terminal), then a summary table and a hint how to watch an unsafe policy break it.
 *
 *   const r = await runDemo({ cpus: 2, scale: 1 });   // r.status: 0 when every guest passed
 *
 * The machine runs in a child process (bin/demo-machine.ts), so the guests' own output, which
 * the harts write straight to the process's stdout, cannot tear the display; it is collected
 * and each failed guest's lines are shown under the summary.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DemoGuest, DemoGuestExit, DemoJob, DemoMessage, DemoRunResult } from './demo-machine.ts';
import { hartLine, hitRate, type MachineSample } from './demo-stats.ts';
import { MIB, OptionError, parseIntIn, SHOOTDOWN_POLICIES, type PolicyName, type SanitizeMode } from './options.ts';
import { ProgressDisplay } from './progress.ts';

export const SCALE_MIN = 1;
export const SCALE_MAX = 100;

export interface DemoOptions {
  /** Harts (default 4). */
  cpus: number;
  /** Shootdown policy (default 'ipi'). */
  shootdown: PolicyName;
  /** Stale-access sanitizer (default 'off'). */
  sanitize: SanitizeMode;
  /** Workload size: multiplies each guest's work (default 1). */
  scale: number;
  /** RAM bytes (default 256 MiB). */
  memory: number;
  /** A guest still running after this many ms fails (default 120 s). */
  timeoutMs: number;
  /** Where the display and the summary go (default process.stdout). */
  out: NodeJS.WritableStream;
  /** Live terminal display, or plain lines (default: whether `out` is a TTY). */
  tty?: boolean;
  /** The workload (default demoWorkload(scale)). */
  guests?: DemoGuest[];
}

export const DEMO_DEFAULTS = {
  cpus: 4, shootdown: 'ipi', sanitize: 'off', scale: 1, memory: 256 * MIB, timeoutMs: 120_000,
} as const satisfies Partial<DemoOptions>;

/** One guest's line of the summary. */
export interface DemoGuestResult extends DemoGuestExit {
  args: string[];
  ok: boolean;
}

export interface DemoResult {
  /** 0 when every guest exited 0, the frames balanced and the sanitizer (if on) reported nothing; 1 otherwise. */
  status: number;
  guests: DemoGuestResult[];
  sample: MachineSample;
  leakedFrames: number;
  wallMs: number;
  /** The guests' own stdout and stderr, as the harts wrote them (with the sanitizer's stderr lines). */
  guestOutput: string;
  /** Sanitizer reports in total and the first few as lines (none when it is off). */
  sanitizer: DemoRunResult['sanitizer'];
}

export const RERUN_HINT = 'rerun with: npx coherent demo --shootdown off --sanitize  to watch it break';

/** The hint after the unsafe run itself. */
export const SAFE_HINT = 'compare with the default policy: npx coherent demo --sanitize  (ipi: zero reports)';

const root = (rel: string): string => fileURLToPath(new URL(`../${rel}`, import.meta.url));

/**
 * The bundled workload at `scale` (guests/manifest.json documents each guest's arguments):
 * tlbrace [readers iterations pages], fork [children kib], mix [seed scale].
 */
export function demoWorkload(scale: number): DemoGuest[] {
  parseIntIn('--scale', String(scale), SCALE_MIN, SCALE_MAX);
  return [
    { name: 'tlbrace', binary: root('guests/bin/tlbrace'), args: ['3', String(100 * scale), '4'] },
    { name: 'fork', binary: root('guests/bin/fork'), args: ['3', String(64 * scale)] },
    { name: 'mix', binary: root('guests/bin/mix'), args: ['1', String(scale)] },
  ];
}

function checkPolicy(o: DemoOptions): PolicyName {
  if (!SHOOTDOWN_POLICIES.includes(o.shootdown)) throw new OptionError(`--shootdown: '${o.shootdown}' is not allowed; it must be one of ${SHOOTDOWN_POLICIES.join(', ')}`);
  if (!['off', 'report', 'fatal'].includes(o.sanitize)) throw new OptionError(`--sanitize: '${o.sanitize}' is not allowed; it must be off, report or fatal`);
  return o.shootdown;
}

/** Start the machine child; resolves with its result, calling `onSample` for each live sample. */
function runChild(job: DemoJob, onSample: (msg: Extract<DemoMessage, { type: 'sample' }>) => void): Promise<{ result: DemoRunResult; output: string }> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = fork(root('bin/demo-machine.ts'), ['--coherent-demo-child'], {
    execArgv: ['--import', tsx], stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { output += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { output += d; });
  return new Promise((resolve, reject) => {
    let result: DemoRunResult | null = null;
    let error: string | null = null;
    child.on('message', (msg: DemoMessage) => {
      if (msg.type === 'sample') onSample(msg);
      else if (msg.type === 'done') result = msg.result;
      else error = msg.message;
    });
    child.once('error', (e) => reject(new Error(`demo: cannot start the machine: ${e.message}`)));
    child.once('close', (code, signal) => {
      if (result) resolve({ result, output });
      else reject(new Error(`demo: the machine failed: ${error ?? `exit ${code ?? signal}`}${output ? `\n${output.trimEnd().split('\n').slice(-10).join('\n')}` : ''}`));
    });
    child.send({ type: 'start', job });
  });
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');

/** The summary table of `r` (the lines printed after the run, without the hint). */
export function formatSummary(r: DemoResult, o: Pick<DemoOptions, 'cpus' | 'shootdown' | 'sanitize' | 'scale'>): string {
  const t = r.sample.totals;
  const secs = r.wallMs / 1000;
  const lines = [
    `Coherent demo: ${o.cpus} harts, shootdown policy ${o.shootdown}, sanitizer ${o.sanitize}, scale ${o.scale}: ${secs.toFixed(1)} s`,
    '',
    `  ${'guest'.padEnd(10)}${'arguments'.padEnd(14)}${'result'.padEnd(8)}${'status'.padEnd(8)}time`,
  ];
  for (const g of r.guests) {
    const status = g.status < 0 ? 'timeout' : g.status > 128 ? `${g.status} (signal ${g.status - 128})` : String(g.status);
    lines.push(`  ${g.name.padEnd(10)}${g.args.join(' ').padEnd(14)}${(g.ok ? 'OK' : 'FAIL').padEnd(8)}${status.padEnd(8)}${(g.ms / 1000).toFixed(1)} s`);
  }
  const f = t.frames;
  const frames = r.leakedFrames === 0 ? `balanced (${n(f.free)} of ${n(f.total)} free after every guest exited)`
    : r.leakedFrames < 0 ? 'not checked (a guest did not exit)' : `NOT balanced: ${n(r.leakedFrames)} frames leaked`;
  lines.push(
    '',
    `  ${'instructions'.padEnd(14)}${n(t.instructions)} (${(t.instructions / (r.wallMs * 1000)).toFixed(1)} MIPS over all harts)`,
    `  ${'TLB hit rate'.padEnd(14)}${hitRate(t.tlbHits, t.tlbMisses).toFixed(2)}% (${n(t.tlbMisses)} misses)`,
    `  ${'shootdowns'.padEnd(14)}${n(t.shootdowns)} initiated, ${n(t.shootdownIpis)} interrupts sent, ${n(t.shootdownsRecv)} received`,
    `  ${'interrupts'.padEnd(14)}${n(t.interrupts)} mailbox messages served`,
    `  ${'faults'.padEnd(14)}${n(t.faults)} page faults handled; ${n(t.syscalls)} syscalls; ${n(t.contextSwitches)} context switches`,
    `  ${'frames'.padEnd(14)}${frames}`,
  );
  const v = r.sanitizer.violations;
  if (o.sanitize === 'off') lines.push(`  ${'sanitizer'.padEnd(14)}off (--sanitize reports accesses through stale translations)`);
  else if (v === 0) lines.push(`  ${'sanitizer'.padEnd(14)}0 reports: no access through a stale translation`);
  else {
    lines.push(`  ${'sanitizer'.padEnd(14)}${n(v)} reports of accesses through stale translations${v > r.sanitizer.first.length ? `; the first ${r.sanitizer.first.length}:` : ':'}`);
    for (const l of r.sanitizer.first) lines.push(`    ${l}`);
  }
  return lines.join('\n');
}

/** One line saying why `r` failed ('' when it passed). */
export function verdict(r: DemoResult, o: Pick<DemoOptions, 'shootdown'>): string {
  if (r.status === 0) return '';
  const why: string[] = [];
  const failed = r.guests.filter((g) => !g.ok).map((g) => g.name);
  if (r.sanitizer.violations > 0) why.push(`${n(r.sanitizer.violations)} sanitizer reports`);
  if (failed.length) why.push(`guest${failed.length > 1 ? 's' : ''} failed: ${failed.join(', ')}`);
  if (r.leakedFrames !== 0) why.push(r.leakedFrames < 0 ? 'frames not checked' : `${n(r.leakedFrames)} frames leaked`);
  const unsafe = o.shootdown === 'off' || o.shootdown === 'lazy';
  return `BROKEN under shootdown policy ${o.shootdown}${unsafe ? ' (unsafe on purpose)' : ''}: ${why.join('; ')}`;
}

/** Lines of the guests' output that belong to guest `name` (they print "<name>: ..."). */
function linesOf(output: string, name: string): string[] {
  return output.split('\n').filter((l) => l.startsWith(`${name}:`));
}

/**
 * Run the demo with `options` (defaults: DEMO_DEFAULTS, output to process.stdout): the live
 * display while it runs, then the summary table and RERUN_HINT. Resolves with the result
 * (status 0 when every guest passed, the frames balanced and the sanitizer reported nothing;
 * otherwise a BROKEN line names why). Throws OptionError for a bad option and Error when the
 * machine fails (also `--sanitize=fatal` at its first report: the message is the report).
 */
export async function runDemo(options: Partial<DemoOptions> = {}): Promise<DemoResult> {
  const o: DemoOptions = { ...DEMO_DEFAULTS, out: process.stdout, ...options };
  parseIntIn('--cpus', String(o.cpus), 1, 64);
  parseIntIn('--scale', String(o.scale), SCALE_MIN, SCALE_MAX);
  const guests = o.guests ?? demoWorkload(o.scale);
  const job: DemoJob = {
    cpus: o.cpus, memory: o.memory, policy: checkPolicy(o), sanitize: o.sanitize, guests, timeoutMs: o.timeoutMs, intervalMs: 250,
  };
  const names = new Map<number, string>();
  let prev: MachineSample | null = null;
  let last: MachineSample | null = null;
  let done = 0;
  const display = new ProgressDisplay({
    title: 'demo', total: guests.length, stream: o.out, tty: o.tty, plainIntervalMs: 2000,
    poll: () => {
      if (!last) return { done, label: 'demo: booting' };
      const harts = last.harts.map((_, h) => hartLine(last!, prev, h, names));
      const reports = o.sanitize === 'off' ? '' : `, ${last.totals.sanitizerReports} sanitizer reports`;
      return { done, harts, label: `demo ${(last.elapsedMs / 1000).toFixed(1)} s${reports}, guests done` };
    },
  });
  display.start();
  let run: { result: DemoRunResult; output: string };
  try {
    run = await runChild(job, ({ sample: s, spawned, exited }) => {
      // MIPS per hart over a sliding window: `prev` is a sample between 0.25 and 2 s old (none at first: since the start).
      if (last && (!prev || s.elapsedMs - prev.elapsedMs > 2000)) prev = last;
      last = s;
      done = exited.length;
      for (const x of spawned) names.set(x.pid, x.name);
    });
    // The final frame shows the whole run, also one that ended before the first sample arrived.
    done = run.result.exits.length;
    if (last !== run.result.sample) { prev = last ?? null; last = run.result.sample; }
  } finally {
    display.stop();
  }
  const { result, output } = run;
  const gs: DemoGuestResult[] = result.exits.map((x) => ({ ...x, args: guests.find((g) => g.name === x.name)!.args, ok: x.status === 0 }));
  const status = gs.every((g) => g.ok) && result.leakedFrames === 0 && result.sanitizer.violations === 0 ? 0 : 1;
  const r: DemoResult = {
    status, guests: gs, sample: result.sample, leakedFrames: result.leakedFrames, wallMs: result.wallMs, guestOutput: output,
    sanitizer: result.sanitizer,
  };
  const out = [formatSummary(r, o)];
  for (const g of gs.filter((x) => !x.ok)) {
    const mine = linesOf(output, g.name);
    out.push('', `${g.name} failed${g.error ? ` (${g.error})` : ''}; its output:`, ...(mine.length ? mine : ['(none)']).slice(-10).map((l) => `  ${l}`));
  }
  if (status !== 0) out.push('', verdict(r, o));
  out.push('', o.shootdown === 'off' && o.sanitize !== 'off' ? SAFE_HINT : RERUN_HINT);
  o.out.write(out.join('\n') + '\n');
  return r;
}

// `npm start` runs this file: the demo with its defaults.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runDemo().then((r) => { process.exitCode = r.status; }, (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = e instanceof OptionError ? 2 : 1;
  });
}
