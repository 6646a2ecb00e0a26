import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { reasonOf } from './data-source';
import { restartDelayMs } from './domain/restart-backoff';
import type { EmbeddedPostgres, ServerExit } from './embedded-postgres';

export interface EmbeddedSupervisorOptions {
  server: EmbeddedPostgres;
  /** First restart delay (ms); doubles after each failed attempt up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
  logger: Logger;
  metrics: Registry;
  /** The server went away (called at once, before the first restart attempt). */
  onDown?(reason: string): void;
  /** The server runs again. */
  onUp?(): void;
}

/**
 * Keeps the embedded PostgreSQL running: when the server exits while nobody stopped it
 * (kill -9, a crash), it is restarted on the same port and data with backoff. Each exit and
 * each failed attempt is one error line; restarts are counted by outcome. PostgreSQL itself
 * recovers from its WAL; the pool and the change feed reconnect on their own.
 */
export class EmbeddedSupervisor {
  private readonly restarts: Counter<'outcome'>;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private downSince = 0;

  constructor(private readonly o: EmbeddedSupervisorOptions) {
    this.restarts = new Counter({ name: 'parley_db_embedded_restarts_total', help: 'Restart attempts of the embedded PostgreSQL after it exited unexpectedly, by outcome', labelNames: ['outcome'], registers: [o.metrics] });
    this.restarts.inc({ outcome: 'ok' }, 0);
    this.restarts.inc({ outcome: 'failed' }, 0);
  }

  /** Watches the server; one that is not running at this point is restarted too. */
  start(): void {
    this.o.server.onUnexpectedExit((exit) => this.exited(exit));
    if (!this.o.server.running) this.exited({ code: null, signal: null });
  }

  /** No more restarts (call before stopping the server). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private exited(exit: ServerExit): void {
    if (this.stopped) return;
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code ?? 'unknown'}`;
    const delay = restartDelayMs(0, this.o.backoffMs, this.o.maxBackoffMs);
    this.downSince = Date.now();
    this.o.onDown?.(`embedded PostgreSQL exited (${how})`);
    this.o.logger.error({ code: exit.code, signal: exit.signal, retryInMs: delay }, `embedded database: postgres exited unexpectedly (${how}); restarting in ${delay} ms`);
    this.schedule(0, delay);
  }

  private schedule(failures: number, delay: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.attempt(failures), delay);
  }

  private async attempt(failures: number): Promise<void> {
    if (this.stopped) return;
    try {
      await this.o.server.restart();
    } catch (err) {
      if (this.stopped) return;
      this.restarts.inc({ outcome: 'failed' });
      const delay = restartDelayMs(failures + 1, this.o.backoffMs, this.o.maxBackoffMs);
      this.o.logger.error({ attempt: failures + 1, retryInMs: delay, reason: reasonOf(err) }, `embedded database: restart attempt ${failures + 1} failed; retrying in ${delay} ms`);
      this.schedule(failures + 1, delay);
      return;
    }
    if (this.stopped) return;
    this.restarts.inc({ outcome: 'ok' });
    this.o.logger.warn({ attempts: failures + 1, downMs: Date.now() - this.downSince, pid: this.o.server.pid }, 'embedded database: restarted');
    this.o.onUp?.();
  }
}
