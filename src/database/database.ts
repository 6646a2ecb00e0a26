import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { ShutdownSequence } from '../common';
import type { ParleyConfig } from '../config';
import type { ReadinessRegistry } from '../ops';
import { connectDataSource, runMigrations } from './data-source';
import { databaseReadinessCheck, registerPoolMetrics } from './database-health';
import type { DatabaseMonitor } from './database-monitor';
import { superviseDatabase } from './database-supervision';
import { EmbeddedPostgres } from './embedded-postgres';

/** The gateway's PostgreSQL: where it is, the connection pool, and whether it is up. */
export class Database {
  constructor(
    /** Connection URL (the embedded server's, or `database.url`). */
    readonly url: string,
    readonly dataSource: DataSource,
    /** Probes the server; Health and /readyz follow it. */
    readonly monitor: DatabaseMonitor,
  ) {}

  /** The installation's id (parley_meta), written by the first migration; undefined when unreadable. */
  async installationId(): Promise<string | undefined> {
    const rows: Array<{ value: string }> = await this.dataSource.query("SELECT value #>> '{}' AS value FROM parley_meta WHERE key = 'installation_id'").catch(() => []);
    return rows[0]?.value;
  }
}

/** Connection to the configured database, starting the embedded one when no URL is set. */
export async function openDatabase(config: ParleyConfig, logger: Logger): Promise<{ url: string; embedded?: EmbeddedPostgres }> {
  if (config.database.url) return { url: config.database.url };
  mkdirSync(config.dataDir, { recursive: true, mode: 0o711 });
  const embedded = new EmbeddedPostgres({
    dir: join(config.dataDir, 'postgres'),
    port: config.database.embedded.port,
    startTimeoutMs: config.database.embedded.startTimeoutMs,
    log: (line) => logger.debug({ component: 'embedded-postgres' }, line),
    notice: (line) => logger.warn({ component: 'embedded-postgres' }, line),
  });
  logger.info({ dataDir: config.dataDir }, 'starting embedded PostgreSQL');
  const url = await embedded.start();
  return { url, embedded };
}

export interface DatabaseStartDeps {
  config: ParleyConfig;
  logger: Logger;
  metrics: Registry;
  readiness: ReadinessRegistry;
  shutdown: ShutdownSequence;
}

/**
 * Starts the database side of the gateway: the embedded server (or the configured URL), the
 * pool, pending migrations, and the supervision that restarts a dead embedded server and
 * drives readiness. Each part registers its stop as soon as it runs.
 */
export async function startDatabase(d: DatabaseStartDeps): Promise<Database> {
  const { config, logger, shutdown } = d;
  const { url, embedded } = await shutdown.step('embedded PostgreSQL', () => openDatabase(config, logger), (db) => db.embedded?.stop());
  const dataSource = await shutdown.step('database pool', () => connectDataSource(url, config.database), async (ds) => {
    if (ds.isInitialized) await ds.destroy();
  });
  if (config.database.migrationsRun) {
    const applied = await runMigrations(dataSource);
    if (applied.length > 0) logger.info({ applied }, 'database migrations applied');
  }
  const supervision = await shutdown.step(
    'database supervision',
    () => superviseDatabase({ url, embedded, config: config.database, logger: logger.child({ component: 'database' }), metrics: d.metrics }),
    (s) => s.stop(),
  );
  d.readiness.register('database', databaseReadinessCheck(dataSource, supervision.monitor));
  registerPoolMetrics(dataSource, d.metrics);
  return new Database(url, dataSource, supervision.monitor);
}
