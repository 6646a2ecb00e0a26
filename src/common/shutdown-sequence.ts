/**
 * The gateway's stops, run in the reverse order of the starts that registered them: what
 * started last (the listeners) stops first, what everything depends on (the database) last.
 * A start registers its stop once it succeeded, so a failed startup stops exactly what had
 * started: `run` first waits for the starts still under way (`step`), and once it ran, a
 * start that completes later is stopped at once. A failing stop is reported; the rest run.
 */
export class ShutdownSequence {
  private readonly steps: Array<{ readonly name: string; readonly stop: () => unknown }> = [];
  private readonly starting = new Set<Promise<unknown>>();
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly onError: (step: string, err: unknown) => void) {}

  /** Registers the stop of something that just started. */
  add(name: string, stop: () => unknown): void {
    this.steps.push({ name, stop });
    if (this.closed) void this.run();
  }

  /** Runs `start`, then registers `stop` for what it started; `run` waits for it while it is under way. */
  async step<T>(name: string, start: () => Promise<T>, stop: (started: T) => unknown): Promise<T> {
    const started = start();
    this.starting.add(started);
    try {
      const value = await started;
      this.add(name, () => stop(value));
      return value;
    } finally {
      this.starting.delete(started);
    }
  }

  /** Names of the registered stops, in the order they will run. */
  pending(): string[] {
    return this.steps.map((s) => s.name).reverse();
  }

  /** Runs every registered stop, last registered first; idempotent. */
  run(): Promise<void> {
    this.closed = true;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      if (this.steps.length > 0) void this.run();
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.starting.size > 0) await Promise.allSettled([...this.starting]);
      const step = this.steps.pop();
      if (step === undefined) {
        if (this.starting.size > 0) continue;
        return;
      }
      try {
        await step.stop();
      } catch (err) {
        this.onError(step.name, err);
      }
    }
  }
}
