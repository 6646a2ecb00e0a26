/**
 * Shared-state change notifications between replicas (PostgreSQL LISTEN/NOTIFY).
 *
 * One dedicated connection LISTENs on every subscribed channel. Writers call `notifyChange`
 * inside the transaction that changes the state, so the notification is delivered at
 * commit and never for a rolled-back change. Because notifications sent while the listener
 * is disconnected are lost, every subscriber is also called with `{ resync: true }` after
 * each (re)connection and must then reload its whole state from the tables; the tables
 * are the truth, notifications only say "look again now".
 */
import { Client } from 'pg';
import type { Logger } from 'pino';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { ParleyError } from '../common';

export interface ChangeEvent {
  /** The NOTIFY payload ('' when none); absent on resync. */
  readonly payload?: string;
  /** True after a (re)connection: reload everything, notifications may have been missed. */
  readonly resync: boolean;
}

export type ChangeHandler = (event: ChangeEvent) => void;

export interface ChangeFeedOptions {
  url: string;
  logger: Logger;
  /** First reconnect delay; doubles up to `maxReconnectMs`. Default 250 ms. */
  reconnectMs?: number;
  maxReconnectMs?: number;
  connectTimeoutMs?: number;
}

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

function checkChannel(channel: string): void {
  if (!CHANNEL.test(channel)) throw new ParleyError('internal', `change feed: invalid channel name "${channel}"`);
}

/**
 * Sends a change notification on `channel` as part of the caller's transaction (pass the
 * transaction's manager or query runner) or at once (a DataSource).
 */
export async function notifyChange(db: DataSource | EntityManager | QueryRunner, channel: string, payload = ''): Promise<void> {
  checkChannel(channel);
  await db.query('SELECT pg_notify($1, $2)', [channel, payload]);
}

export class ChangeFeed {
  private readonly handlers = new Map<string, Set<ChangeHandler>>();
  private client: Client | undefined;
  private connected = false;
  private everConnected = false;
  private listening: Promise<void> = Promise.resolve();
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private connecting: Promise<void> | undefined;

  constructor(private readonly o: ChangeFeedOptions) {
    this.delayMs = o.reconnectMs ?? 250;
  }

  /** Connects (waits for the first connection; later losses reconnect in the background). */
  async start(): Promise<void> {
    await this.connect();
    if (!this.connected) throw new ParleyError('unavailable', 'change feed: cannot connect to the database');
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /**
   * Calls `handler` for every notification on `channel` and with `{ resync: true }` after
   * each reconnection. Returns the unsubscribe function.
   */
  subscribe(channel: string, handler: ChangeHandler): () => void {
    checkChannel(channel);
    let set = this.handlers.get(channel);
    if (set === undefined) {
      this.handlers.set(channel, (set = new Set()));
      const client = this.client;
      if (this.connected && client !== undefined) {
        // One statement at a time on the listening connection.
        this.listening = this.listening.then(() => client.query(`LISTEN ${channel}`)).then(
          () => undefined,
          (err: unknown) => this.lost(err),
        );
      }
    }
    set.add(handler);
    return () => {
      set.delete(handler);
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.connecting?.catch(() => undefined);
    const c = this.client;
    this.client = undefined;
    this.connected = false;
    await c?.end().catch(() => undefined);
  }

  private connect(): Promise<void> {
    this.connecting ??= this.doConnect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({ connectionString: this.o.url, connectionTimeoutMillis: this.o.connectTimeoutMs ?? 5_000, application_name: 'parley-change-feed' });
    client.on('error', (err) => this.lost(err));
    client.on('end', () => this.lost(new Error('connection ended')));
    client.on('notification', (n) => this.dispatch(n.channel, { payload: n.payload ?? '', resync: false }));
    try {
      await client.connect();
      for (const channel of this.handlers.keys()) await client.query(`LISTEN ${channel}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.o.logger.warn({ reason: (err as Error).message }, 'change feed: cannot listen; retrying');
      this.schedule();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    const wasReconnect = this.everConnected;
    this.everConnected = true;
    this.client = client;
    this.connected = true;
    this.delayMs = this.o.reconnectMs ?? 250;
    if (wasReconnect) this.o.logger.info('change feed: listening again; reloading shared state');
    for (const channel of this.handlers.keys()) this.dispatch(channel, { resync: true });
  }

  private lost(err: unknown): void {
    if (this.stopped || !this.connected) return;
    this.connected = false;
    const c = this.client;
    c?.removeAllListeners('end');
    c?.end().catch(() => undefined);
    this.o.logger.warn({ reason: err instanceof Error ? err.message : String(err) }, 'change feed: connection lost; reconnecting');
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.o.maxReconnectMs ?? 5_000);
    this.timer = setTimeout(() => void this.connect(), delay);
    this.timer.unref();
  }

  private dispatch(channel: string, event: ChangeEvent): void {
    for (const h of this.handlers.get(channel) ?? []) {
      try {
        h(event);
      } catch (err) {
        this.o.logger.error({ err, channel }, 'change feed: handler failed');
      }
    }
  }
}
