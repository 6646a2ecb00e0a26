/**
 * Sends (multipart upload parts) with at most `limit` of them running at once, started in
 * submission order: `submit` resolves only once the send has started, so a producer that
 * awaits it is held back while the window is full (backpressure; memory bounded by `limit`
 * sends). The first failure aborts the others through their signal; every later `submit`,
 * `settled` and `drain` throws it, and no send's rejection is ever left unhandled. Results
 * come back in submission order whatever order the sends finish in. Pure scheduling: the
 * caller owns the sends, their retries and what an abort means to them.
 */

/** One send: its signal fires when another send failed or the window was cancelled; `index` counts from 0 in submission order. */
export type Send<T> = (signal: AbortSignal, index: number) => Promise<T>;

export class SendWindow<T> {
  private readonly controller = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private readonly results: T[] = [];
  private failure: { readonly error: unknown } | undefined;
  private submitted = 0;
  private peak = 0;
  private closed = false;

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError('SendWindow: limit must be a positive integer');
  }

  /** Sends running now. */
  get inFlight(): number {
    return this.running.size;
  }

  /** The most sends that ran at once so far. */
  get maxInFlight(): number {
    return this.peak;
  }

  /** Sends submitted so far (the next one's index). */
  get count(): number {
    return this.submitted;
  }

  /**
   * Starts `send` once fewer than `limit` sends run, then resolves (it does not wait for the send).
   * @throws the first failure of any send (the window aborted the others); TypeError after `drain` or `cancel`
   */
  async submit(send: Send<T>): Promise<void> {
    while (this.running.size >= this.limit && this.failure === undefined) await Promise.race(this.running);
    this.throwIfFailed();
    if (this.closed) throw new TypeError('SendWindow: submit after drain or cancel');
    const index = this.submitted++;
    const run = (async () => {
      try {
        this.results[index] = await send(this.controller.signal, index);
      } catch (err) {
        this.fail(err);
      }
    })(); // never rejects: a failure is recorded and thrown to the producer
    this.running.add(run);
    void run.then(() => this.running.delete(run));
    this.peak = Math.max(this.peak, this.running.size);
  }

  /**
   * Waits for the sends running now (more may be submitted later).
   * @throws the first failure of any send
   */
  async settled(): Promise<void> {
    await Promise.all(this.running);
    this.throwIfFailed();
  }

  /**
   * Waits for every send, then gives their results in submission order; nothing can be submitted after.
   * @throws the first failure of any send
   */
  async drain(): Promise<T[]> {
    this.closed = true;
    await this.settled();
    return this.results.slice();
  }

  /** Aborts the running sends (their signal fires with `reason`) and waits until each one ended; never throws. */
  async cancel(reason: unknown = new Error('send window cancelled')): Promise<void> {
    this.closed = true;
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    await Promise.all(this.running);
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return; // the others' failures are mostly the abort's consequence
    this.failure = { error };
    this.controller.abort(error);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }
}
