import type { TransportLogger } from '../tls';
import type { PayloadBackend } from './payload-backend';
import type { StoreLimits } from './domain/limits';

/** A purge untouched for this long was abandoned (its process died) and is finished by the janitor. */
const PURGE_STALE_MS = 10 * 60_000;

/**
 * Removes what crashed pushes and deletes left behind: staging blobs untouched for
 * `stagingTtlMs` (a live push touches its blob with every chunk and fails after
 * `pushIdleTimeoutMs` without data, far below the TTL) and purges abandoned half-way.
 * In-process failures clean up after themselves; this is only for crashes.
 */
export class StoreJanitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly payloads: PayloadBackend,
    private readonly limits: StoreLimits,
    private readonly logger: TransportLogger,
  ) {}

  /** One sweep; returns the number of blobs removed. */
  async sweep(): Promise<number> {
    const removed = await this.payloads.sweep(this.limits.stagingTtlMs, PURGE_STALE_MS);
    if (removed > 0) this.logger.info({ removed }, 'store janitor removed abandoned uploads');
    return removed;
  }

  start(intervalMs: number): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      if (this.running !== undefined) return;
      this.running = this.sweep()
        .catch((err: unknown) => this.logger.warn({ err }, 'store janitor: sweep failed'))
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
