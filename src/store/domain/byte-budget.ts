/**
 * A global budget of bytes (upload buffers): a caller takes a fixed number of bytes before
 * it reads, and gives them back when it is done. When the budget is spent, callers queue
 * first come, first served; a caller that stops waiting leaves the queue. Nothing is ever
 * granted beyond the capacity. Pure bookkeeping: the caller owns the clock and the timeout.
 */

/** A queued request; `cancel()` removes it (true when it was still waiting). */
export interface BudgetWaiter {
  cancel(): boolean;
}

/** Bytes held by one caller; `release()` gives them back once (later calls do nothing). */
export interface BudgetLease {
  readonly bytes: number;
  release(): void;
}

interface Waiting {
  readonly bytes: number;
  readonly grant: (lease: BudgetLease) => void;
  done: boolean;
}

export class ByteBudget {
  private usedBytes = 0;
  private readonly queue: Waiting[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) throw new TypeError('ByteBudget: capacity must be a positive integer');
  }

  get used(): number {
    return this.usedBytes;
  }

  /** Requests still waiting. */
  get waiting(): number {
    return this.queue.length;
  }

  /** A lease at once when nobody waits and the bytes fit; undefined otherwise (never more than the capacity). */
  tryTake(bytes: number): BudgetLease | undefined {
    this.check(bytes);
    if (this.queue.length > 0 || this.usedBytes + bytes > this.capacity) return undefined;
    return this.lease(bytes);
  }

  /** Queues a request; `grant` runs (synchronously, inside a release) when its bytes fit, in arrival order. */
  enqueue(bytes: number, grant: (lease: BudgetLease) => void): BudgetWaiter {
    this.check(bytes);
    const entry: Waiting = { bytes, grant, done: false };
    this.queue.push(entry);
    this.drain();
    return {
      cancel: () => {
        if (entry.done) return false;
        entry.done = true;
        this.queue.splice(this.queue.indexOf(entry), 1);
        this.drain(); // a large request at the head may have held back smaller ones
        return true;
      },
    };
  }

  private lease(bytes: number): BudgetLease {
    this.usedBytes += bytes;
    let released = false;
    return {
      bytes,
      release: () => {
        if (released) return;
        released = true;
        this.usedBytes -= bytes;
        this.drain();
      },
    };
  }

  private drain(): void {
    while (this.queue.length > 0 && this.usedBytes + this.queue[0].bytes <= this.capacity) {
      const next = this.queue.shift()!;
      next.done = true;
      next.grant(this.lease(next.bytes));
    }
  }

  private check(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes > this.capacity) throw new TypeError('ByteBudget: bytes must be a positive integer no larger than the capacity');
  }
}
