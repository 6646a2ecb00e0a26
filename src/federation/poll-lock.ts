/**
 * "Only one replica polls": a PostgreSQL session-level advisory lock held on a dedicated
 * connection. Replicas that do not hold it try again every `retryMs`; when the holder stops
 * or dies its session ends, the server releases the lock and the next try takes it over.
 * The holder checks its connection on the same rhythm and gives up polling the moment the
 * connection is lost (it can no longer be sure it holds the lock).
 */
import { Client } from 'pg';
import type { Logger } from 'pino';

/** Key of the poller lock (any constant shared by every replica of one database). */
export const POLL_LOCK_KEY = '7265637001';

export interface PollLockOptions {
  url: string;
  logger: Logger;
  retryMs: number;
  onAcquired(): void;
  onLost(): void;
  connectTimeoutMs?: number;
}

export class PollLock {
  private client: Client | undefined;
  private holding = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;

  constructor(private readonly o: PollLockOptions) {}

  get held(): boolean {
    return this.holding;
  }

  /** Tries at once, then every `retryMs`. */
  start(): Promise<void> {
    this.stopped = false;
    return this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.busy?.catch(() => undefined);
    this.release('stopped');
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private tick(): Promise<void> {
    this.busy ??= this.attempt()
      .catch((err: unknown) => this.dropConnection(err))
      .finally(() => {
        this.busy = undefined;
        this.schedule();
      });
    return this.busy;
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), this.o.retryMs);
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const client = await this.connection();
    if (this.holding) {
      await client.query('SELECT 1'); // still connected, so still holding
      return;
    }
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [POLL_LOCK_KEY]);
    if (rows[0]?.locked !== true || this.stopped) return;
    this.holding = true;
    this.o.logger.info('federation: this replica polls partner bundle endpoints now');
    this.o.onAcquired();
  }

  private async connection(): Promise<Client> {
    if (this.client) return this.client;
    const client = new Client({ connectionString: this.o.url, connectionTimeoutMillis: this.o.connectTimeoutMs ?? 5_000, application_name: 'parley-federation-poller' });
    client.on('error', (err) => this.dropConnection(err));
    client.on('end', () => this.dropConnection(new Error('connection ended')));
    try {
      await client.connect();
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }

  private dropConnection(err: unknown): void {
    const c = this.client;
    this.client = undefined;
    if (c) {
      c.removeAllListeners('end');
      c.end().catch(() => undefined);
    }
    if (!this.stopped) this.release(err instanceof Error ? err.message : String(err));
  }

  private release(why: string): void {
    if (!this.holding) return;
    this.holding = false;
    this.o.logger.info({ reason: why }, 'federation: this replica stopped polling partner bundle endpoints');
    this.o.onLost();
  }
}
