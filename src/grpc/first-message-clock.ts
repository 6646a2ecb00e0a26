/**
 * The first-message limit of every call, on one timer: calls wait in a list ordered by their
 * deadline (all share one limit, so appending keeps the order), the timer is set for the
 * earliest, and a call whose message arrives leaves the list in O(1). No timer is made or
 * cleared per call, and a waiting call allocates nothing: the list links live on the call.
 */

/** A call as the clock keeps it; the clock owns the `clock*` fields. */
export interface ClockWaiter {
  clockPrev: ClockWaiter | undefined;
  clockNext: ClockWaiter | undefined;
  /** When the first message is late (the clock's `now`), while waiting; NaN otherwise. */
  clockDeadline: number;
  /** The limit passed before `stop`: called once, after the call left the list. */
  firstMessageLate(): void;
}

export interface ClockTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): { unref?(): unknown };
}

const REAL_TIMERS: ClockTimers = { now: () => performance.now(), setTimeout: (fn, ms) => setTimeout(fn, ms) };

export class FirstMessageClock {
  private head: ClockWaiter | undefined;
  private tail: ClockWaiter | undefined;
  /** When the pending timer fires (NaN: none pending). */
  private timerAt = Number.NaN;

  /** @throws TypeError when `limitMs` is not a positive integer */
  constructor(
    readonly limitMs: number,
    private readonly timers: ClockTimers = REAL_TIMERS,
  ) {
    if (!Number.isInteger(limitMs) || limitMs <= 0) throw new TypeError('FirstMessageClock: limitMs must be a positive integer');
  }

  /** Starts the call's clock (no-op while it runs). */
  start(w: ClockWaiter): void {
    if (this.isWaiting(w)) return;
    w.clockDeadline = this.timers.now() + this.limitMs;
    w.clockPrev = this.tail;
    w.clockNext = undefined;
    if (this.tail === undefined) this.head = w;
    else this.tail.clockNext = w;
    this.tail = w;
    if (Number.isNaN(this.timerAt)) this.schedule(w.clockDeadline);
  }

  /** Stops the call's clock (its message arrived, or it ended); no-op when not running. */
  stop(w: ClockWaiter): void {
    if (!this.isWaiting(w)) return;
    this.unlink(w);
  }

  /** Calls waiting now. */
  get size(): number {
    let n = 0;
    for (let w = this.head; w !== undefined; w = w.clockNext) n++;
    return n;
  }

  private isWaiting(w: ClockWaiter): boolean {
    return !Number.isNaN(w.clockDeadline) && w.clockDeadline !== undefined;
  }

  private unlink(w: ClockWaiter): void {
    if (w.clockPrev === undefined) this.head = w.clockNext;
    else w.clockPrev.clockNext = w.clockNext;
    if (w.clockNext === undefined) this.tail = w.clockPrev;
    else w.clockNext.clockPrev = w.clockPrev;
    w.clockPrev = undefined;
    w.clockNext = undefined;
    w.clockDeadline = Number.NaN;
  }

  private schedule(at: number): void {
    this.timerAt = at;
    const timer = this.timers.setTimeout(() => this.fire(), Math.max(1, Math.ceil(at - this.timers.now())));
    timer.unref?.();
  }

  /** Ends every call past its deadline, then sets the timer for the earliest left. */
  private fire(): void {
    this.timerAt = Number.NaN;
    const now = this.timers.now();
    let w = this.head;
    while (w !== undefined && w.clockDeadline <= now) {
      this.unlink(w);
      try {
        w.firstMessageLate();
      } catch {
        // one call's failure does not stop the clock of the others
      }
      w = this.head;
    }
    if (w !== undefined && Number.isNaN(this.timerAt)) this.schedule(w.clockDeadline);
  }
}
