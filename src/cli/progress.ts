/**
 * Transfer progress on stderr: a bar (bytes done/total, rate, ETA) redrawn at most ~10×/s
 * when stderr is a TTY, and a one-line summary at the end. `quiet` silences both; on a
 * non-TTY only the summary is written. The formatting functions are pure (unit-tested).
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 KiB"; bytes below 1 KiB stay integral. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  let unit = 0;
  let value = n;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Bytes per second → "12.3 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  return Number.isFinite(bytesPerSecond) && bytesPerSecond >= 0 ? `${formatBytes(Math.round(bytesPerSecond))}/s` : '?/s';
}

/** Seconds → "0:07", "12:05", "1:02:03"; unknown → "--:--". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export interface ProgressState {
  label: string;
  done: number;
  /** Undefined when unknown. */
  total?: number;
  elapsedMs: number;
}

/** One line of at most `width` columns: "pull [#####-----]  42% 10.0 MiB/24.0 MiB 5.0 MiB/s ETA 0:03". */
export function renderProgressLine(p: ProgressState, width = 80): string {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? p.done / seconds : 0;
  const known = p.total !== undefined && p.total > 0;
  const fraction = known ? Math.min(1, p.done / (p.total as number)) : p.total === 0 ? 1 : 0;
  const eta = known && rate > 0 ? ((p.total as number) - p.done) / rate : Number.NaN;
  const amount = p.total !== undefined ? `${formatBytes(p.done)}/${formatBytes(p.total)}` : formatBytes(p.done);
  const pct = p.total !== undefined ? `${String(Math.floor(fraction * 100)).padStart(3)}% ` : '';
  const tail = `${pct}${amount} ${formatRate(rate)} ETA ${formatDuration(eta)}`;
  const barWidth = Math.max(0, Math.min(30, width - p.label.length - tail.length - 5));
  if (barWidth < 5) return `${p.label} ${tail}`.slice(0, Math.max(0, width));
  const filled = Math.round(fraction * barWidth);
  return `${p.label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${tail}`;
}

/** "pushed 64.0 MiB in 0:02 (30.1 MiB/s)". */
export function renderSummary(verb: string, bytes: number, elapsedMs: number): string {
  const seconds = elapsedMs / 1000;
  return `${verb} ${formatBytes(bytes)} in ${formatDuration(seconds)} (${formatRate(seconds > 0 ? bytes / seconds : 0)})`;
}

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): boolean;
}

export interface ProgressOptions {
  label: string;
  total?: number;
  /** Bytes already there before this run (a resumed download): counted as done, not in the rate. */
  initial?: number;
  quiet?: boolean;
  stream?: ProgressStream;
  /** Minimum time between redraws; default 100 ms. */
  intervalMs?: number;
  now?: () => number;
}

export class Progress {
  private done: number;
  private lastDraw = 0;
  private drawn = false;
  private readonly started: number;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly interval: number;
  private readonly now: () => number;

  constructor(private readonly o: ProgressOptions) {
    this.stream = o.stream ?? process.stderr;
    this.tty = !o.quiet && this.stream.isTTY === true;
    this.interval = o.intervalMs ?? 100;
    this.now = o.now ?? (() => performance.now());
    this.started = this.now();
    this.done = o.initial ?? 0;
  }

  /** Bytes done so far, those of an earlier run (`initial`) included. */
  get bytesDone(): number {
    return this.done;
  }

  /** Adds transferred bytes; redraws when the interval has passed. */
  add(bytes: number): void {
    this.done += bytes;
    if (!this.tty) return;
    const t = this.now();
    if (t - this.lastDraw < this.interval) return;
    this.lastDraw = t;
    this.draw(t);
  }

  /** Clears the bar; writes the summary unless quiet. */
  finish(verb: string): void {
    const elapsed = this.now() - this.started;
    this.clear();
    if (!this.o.quiet) this.stream.write(`${renderSummary(verb, this.done - (this.o.initial ?? 0), elapsed)}\n`);
  }

  /** Clears the bar (on failure) without a summary. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  private draw(t: number): void {
    const initial = this.o.initial ?? 0;
    // The rate covers this run only: scale the elapsed time to the bytes moved in it.
    const line = renderProgressLine({ label: this.o.label, done: this.done, total: this.o.total, elapsedMs: elapsedFor(t - this.started, this.done, initial) }, this.stream.columns ?? 80);
    this.stream.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }
}

/** Elapsed time such that done/elapsed equals this run's rate (moved/actual elapsed). */
function elapsedFor(actualMs: number, done: number, initial: number): number {
  const moved = done - initial;
  if (initial === 0 || moved <= 0) return actualMs;
  return (actualMs * done) / moved;
}
