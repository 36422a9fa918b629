/**
 * Live progress for long runs (demo, bench, run): one bar for the whole run plus one line per
 * hart, redrawn a few times a second on a terminal (cli-progress); on anything else (a pipe,
 * a CI log) plain lines, at most one batch per `plainIntervalMs`.
 *
 *   const p = new ProgressDisplay({ title: 'mix', total: 100, poll: () => ({ done, harts: lines }) });
 *   p.start();  ...  p.stop('done in 3.2 s');
 *
 * The display pulls a ProgressSnapshot from `poll` on its own timer (so a command reading
 * statistics from shared memory needs no timer of its own); `update` pushes one instead.
 */
import * as cliProgress from 'cli-progress';

export interface ProgressSnapshot {
  /** Work done, in the units of `total`. */
  done: number;
  /** One short line per hart ("hart 0: tid 3  41.2 MIPS  TLB 99.1%  2 shootdowns"). */
  harts?: string[];
  /** Replaces the title (e.g. the current phase). */
  label?: string;
}

export interface ProgressOptions {
  title: string;
  /** Amount of work for 100% (a bar with total 0 shows a count only). */
  total: number;
  /** Called on every refresh; its snapshot is drawn. */
  poll?: () => ProgressSnapshot;
  /** Output stream (default process.stderr, so guest output on stdout stays clean). */
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Force TTY or plain mode (default: the stream's isTTY). */
  tty?: boolean;
  /** Refreshes per second on a terminal (default 4). */
  fps?: number;
  /** Least ms between plain-mode batches (default 1000). */
  plainIntervalMs?: number;
}

/** A bar plus per-hart lines on a TTY, plain lines elsewhere. */
export class ProgressDisplay {
  readonly tty: boolean;
  private readonly o: Required<Omit<ProgressOptions, 'poll' | 'tty'>> & Pick<ProgressOptions, 'poll'>;
  private snap: ProgressSnapshot = { done: 0 };
  private multi: cliProgress.MultiBar | null = null;
  private main: cliProgress.SingleBar | null = null;
  private hartBars: cliProgress.SingleBar[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastPlain = -Infinity;
  private started = false;

  constructor(options: ProgressOptions) {
    const stream = options.stream ?? process.stderr;
    this.o = { fps: 4, plainIntervalMs: 1000, ...options, stream };
    this.tty = options.tty ?? Boolean((stream as NodeJS.WriteStream).isTTY);
  }

  /** Begin drawing (and polling, if a `poll` was given). */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.tty) {
      this.multi = new cliProgress.MultiBar({
        stream: this.o.stream as NodeJS.WritableStream, fps: this.o.fps, hideCursor: true, clearOnComplete: false,
        format: '{title} [{bar}] {percentage}% | {value}/{total}', barsize: 30, forceRedraw: false,
      }, cliProgress.Presets.shades_classic);
      this.main = this.multi.create(Math.max(1, this.o.total), 0, { title: this.o.title });
    }
    const period = this.tty ? 1000 / this.o.fps : Math.min(this.o.plainIntervalMs, 250);
    if (this.o.poll) {
      this.timer = setInterval(() => this.update(this.o.poll!()), period);
      this.timer.unref();
    }
  }

  /** Draw `snap` (TTY: at the next frame; plain: now, unless a batch went out too recently). */
  update(snap: ProgressSnapshot): void {
    if (!this.started) this.start();
    this.snap = snap;
    if (this.multi) {
      this.main!.update(Math.min(snap.done, Math.max(1, this.o.total)), { title: snap.label ?? this.o.title });
      const lines = snap.harts ?? [];
      while (this.hartBars.length < lines.length) {
        this.hartBars.push(this.multi.create(1, 0, { line: '' }, { format: '  {line}' }));
      }
      lines.forEach((line, h) => this.hartBars[h]!.update(0, { line }));
      return;
    }
    const now = performance.now();
    if (now - this.lastPlain < this.o.plainIntervalMs) return;
    this.lastPlain = now;
    this.printPlain();
  }

  private printPlain(): void {
    const s = this.snap;
    const pct = this.o.total > 0 ? ` ${Math.floor((100 * Math.min(s.done, this.o.total)) / this.o.total)}%` : '';
    const out = [`${s.label ?? this.o.title}:${pct} ${s.done}${this.o.total > 0 ? `/${this.o.total}` : ''}`];
    for (const line of s.harts ?? []) out.push(`  ${line}`);
    this.o.stream.write(out.join('\n') + '\n');
  }

  /** Final frame, stop timers, then print `summary` (if any) on its own line. */
  stop(summary?: string): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.o.poll && this.started) this.snap = this.o.poll();
    if (this.multi) {
      this.update(this.snap);
      this.multi.stop();
      this.multi = null;
    } else if (this.started) {
      this.printPlain();
    }
    this.started = false;
    if (summary) this.o.stream.write(summary + '\n');
  }
}
