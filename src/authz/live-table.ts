/**
 * Tables that every replica keeps in memory: loaded at start and again whenever the change
 * feed says the table changed (or after the feed reconnects). Writes notify inside their
 * transaction; the writing replica reloads before its write returns, so it enforces what it
 * just wrote.
 */
import type { Logger } from 'pino';
import type { ChangeFeed } from '../database';

export interface LiveTableOptions {
  changes: ChangeFeed;
  logger: Logger;
  /** Delay before retrying a failed reload. Default 1 s. */
  retryMs?: number;
}

/**
 * The start/stop/reload life of one such table; a subclass loads its rows into memory in
 * `load()` and calls `replaced()` when it swapped in the new state.
 */
export abstract class LiveTable {
  /** Bumped by every `replaced()` (see RevocationCheck.version); a field, read on every call. */
  version = 0;
  private readonly reload: LiveReload;
  private unsubscribe: (() => void) | undefined;

  protected constructor(
    private readonly feed: LiveTableOptions,
    private readonly channel: string,
    what: string,
  ) {
    this.reload = new LiveReload(() => this.load(), feed.logger, what, feed.retryMs);
  }

  /** Loads the table and follows changes. Throws when the first load fails. */
  async start(): Promise<void> {
    this.unsubscribe = this.feed.changes.subscribe(this.channel, () => this.reload.trigger());
    await this.reload.request();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.reload.stop();
  }

  /** Changes whenever the loaded state is replaced: a cache of answers is valid while it is unchanged. */

  /** Reloads now (tests, and callers that must see their own write at once). */
  refresh(): Promise<void> {
    return this.reload.request();
  }

  /** After a committed write: reload; if this fails, the feed's notification retries it. */
  protected async reloadAfterWrite(): Promise<void> {
    await this.reload.request().catch(() => undefined);
  }

  /** Marks the in-memory state as replaced. */
  protected replaced(): void {
    this.version++;
  }

  protected abstract load(): Promise<void>;
}

/**
 * Reloads of shared state: one at a time; requests made while one runs are served by one
 * more run after it; a failed run triggered by a notification is retried after `retryMs`.
 */
export class LiveReload {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly load: () => Promise<void>,
    private readonly logger: Logger,
    private readonly what: string,
    private readonly retryMs = 1000,
  ) {}

  /** Resolves after a load that started after this call has finished (rejects when it failed). */
  request(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running === undefined) return this.start();
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  /** Fire and forget (change notifications): failures are logged and retried. */
  trigger(): void {
    this.request().catch((err: unknown) => {
      this.logger.warn({ reason: err instanceof Error ? err.message : String(err) }, `${this.what}: reload failed; retrying`);
      if (this.stopped) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.trigger(), this.retryMs);
      this.timer.unref();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.queued?.catch(() => undefined);
    await this.running?.catch(() => undefined);
  }

  private start(): Promise<void> {
    const run = (this.running ??= this.load().finally(() => {
      if (this.running === run) this.running = undefined;
    }));
    return run;
  }
}
