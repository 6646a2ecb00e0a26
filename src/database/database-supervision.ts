import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DatabaseConfig } from '../config';
import { DatabaseMonitor } from './database-monitor';
import type { EmbeddedPostgres } from './embedded-postgres';
import { EmbeddedSupervisor } from './embedded-supervisor';

export interface DatabaseSupervision {
  /** Whether the database answers; gRPC Health and /readyz follow it. */
  readonly monitor: DatabaseMonitor;
  /** Stops restarting and probing (before the embedded server is stopped). */
  stop(): Promise<void>;
}

/**
 * Watches the database the gateway uses: a monitor that probes it (any database), and for the
 * embedded one a supervisor that restarts it when it exits unexpectedly, marking it down at once.
 */
export async function superviseDatabase(o: { url: string; embedded?: EmbeddedPostgres; config: DatabaseConfig; logger: Logger; metrics: Registry }): Promise<DatabaseSupervision> {
  const monitor = new DatabaseMonitor({ url: o.url, intervalMs: o.config.healthInterval, timeoutMs: o.config.connectTimeoutMs, logger: o.logger, metrics: o.metrics });
  let supervisor: EmbeddedSupervisor | undefined;
  if (o.embedded !== undefined) {
    supervisor = new EmbeddedSupervisor({
      server: o.embedded,
      backoffMs: o.config.embedded.restartBackoff,
      maxBackoffMs: o.config.embedded.restartMaxBackoff,
      logger: o.logger,
      metrics: o.metrics,
      onDown: (reason) => monitor.markDown(reason),
      onUp: () => void monitor.check(),
    });
    supervisor.start();
  }
  await monitor.start();
  return {
    monitor,
    async stop() {
      supervisor?.stop();
      await monitor.stop();
    },
  };
}
