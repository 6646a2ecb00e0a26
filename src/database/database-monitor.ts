import { Client } from 'pg';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { reasonOf } from './data-source';

export interface DatabaseMonitorOptions {
  url: string;
  /** How often the database is probed (ms). */
  intervalMs: number;
  /** Connect and query timeout of one probe (ms). */
  timeoutMs: number;
  logger: Logger;
  metrics: Registry;
}

export type DatabaseState = { up: true } | { up: false; reason: string };

/**
 * Whether the database answers now, as one shared state: gRPC Health and /readyz both follow
 * it. Probes run on one dedicated connection (never waiting behind a busy pool), every
 * `intervalMs`, on demand (`check()`), and a lost connection or an exited embedded server
 * (`markDown`) turns the state down at once. Transitions are logged once each.
 */
export class DatabaseMonitor {
  private current: DatabaseState = { up: false, reason: 'not checked yet' };
  private readonly listeners = new Set<(state: DatabaseState) => void>();
  private client: Client | undefined;
  private inflight: Promise<DatabaseState> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private downSince = Date.now();
  private probed = false;
  private readonly upGauge: Gauge;

  constructor(private readonly o: DatabaseMonitorOptions) {
    this.upGauge = new Gauge({ name: 'parley_db_up', help: '1 while the database answers the health probe, 0 while it is down (gRPC Health is NOT_SERVING then)', registers: [o.metrics] });
    this.upGauge.set(0);
  }

  get state(): DatabaseState {
    return this.current;
  }

  /** Calls `listener` on every change of state; returns the unsubscribe function. */
  onChange(listener: (state: DatabaseState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** First probe (awaited), then one every `intervalMs`. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.inflight?.catch(() => undefined);
    this.dropClient();
  }

  /** Probes now (one probe at a time; concurrent callers share it) and returns the resulting state. */
  check(): Promise<DatabaseState> {
    this.inflight ??= this.probe().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** The database is known to be gone (e.g. the embedded server exited): down at once. */
  markDown(reason: string): void {
    this.dropClient();
    this.set({ up: false, reason });
  }

  private async probe(): Promise<DatabaseState> {
    if (this.stopped) return this.current;
    try {
      const client = this.client ?? (await this.connect());
      await client.query('SELECT 1');
      this.set({ up: true });
    } catch (err) {
      this.dropClient();
      this.set({ up: false, reason: reasonOf(err) });
    }
    return this.current;
  }

  private async connect(): Promise<Client> {
    const client = new Client({ connectionString: this.o.url, connectionTimeoutMillis: this.o.timeoutMs, query_timeout: this.o.timeoutMs, application_name: 'parley-health' });
    client.on('error', (err) => {
      if (this.client !== client) return;
      this.dropClient();
      if (!this.stopped) this.set({ up: false, reason: reasonOf(err) });
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      throw new Error('database monitor stopped');
    }
    this.client = client;
    return client;
  }

  private dropClient(): void {
    const client = this.client;
    this.client = undefined;
    void client?.end().catch(() => undefined);
  }

  private set(next: DatabaseState): void {
    const previous = this.current;
    const first = !this.probed;
    this.current = next;
    this.probed = true;
    if (previous.up === next.up && !first) return;
    this.upGauge.set(next.up ? 1 : 0);
    if (next.up && !first) this.o.logger.info({ downMs: Date.now() - this.downSince }, 'database reachable again');
    if (!next.up) {
      this.downSince = Date.now();
      this.o.logger.warn({ reason: next.reason }, 'database unreachable: gRPC Health is NOT_SERVING until it answers again');
    }
    for (const listener of [...this.listeners]) listener(next);
  }
}
