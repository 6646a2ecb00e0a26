import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AppModule } from './app.module';
import type { ParleyConfig } from './config/schema';
import { registerPoolMetrics, databaseReadinessCheck } from './database/database-health';
import { connectDataSource, runMigrations } from './database/data-source';
import { EmbeddedPostgres } from './database/embedded-postgres';
import { createLogger, PinoNestLogger } from './logging/logger';
import { ReadinessRegistry } from './ops/domain/readiness';
import { createMetricsRegistry } from './ops/metrics';
import { OpsServer } from './ops/ops-server';
import { VERSION } from './version';

export interface Gateway {
  app: INestApplicationContext;
  dataSource: DataSource;
  readiness: ReadinessRegistry;
  logger: Logger;
  /** Where the ops listener really listens (port 0 in config resolves here). */
  ops?: { host: string; port: number };
  /** Stops listeners, closes the pool, then stops the embedded database. Idempotent. */
  close(): Promise<void>;
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
  });
  logger.info({ dataDir: config.dataDir }, 'starting embedded PostgreSQL');
  const url = await embedded.start();
  return { url, embedded };
}

export async function startGateway(config: ParleyConfig, logger: Logger = createLogger(config.log)): Promise<Gateway> {
  const started = performance.now();
  const { url, embedded } = await openDatabase(config, logger);
  const cleanup: Array<() => Promise<void>> = [];
  if (embedded) cleanup.push(() => embedded.stop());
  const close = async () => {
    while (cleanup.length > 0) {
      const step = cleanup.pop();
      await step?.().catch((err: unknown) => logger.error({ err }, 'shutdown step failed'));
    }
  };
  try {
    const dataSource = await connectDataSource(url, config.database);
    cleanup.push(async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
    });
    if (config.database.migrationsRun) {
      const applied = await runMigrations(dataSource);
      if (applied.length > 0) logger.info({ applied }, 'database migrations applied');
    }
    const readiness = new ReadinessRegistry();
    const metrics = createMetricsRegistry(VERSION);
    readiness.register('database', databaseReadinessCheck(dataSource));
    registerPoolMetrics(dataSource, metrics);

    const app = await NestFactory.createApplicationContext(AppModule.register({ config, dataSource, readiness, metrics, logger }), {
      logger: new PinoNestLogger(logger.child({ component: 'nest' })),
      abortOnError: false,
    });
    await app.init();
    cleanup.push(() => app.close());

    let ops: Gateway['ops'];
    if (config.ops.enabled) {
      const server = new OpsServer({ ...config.ops, readiness, metrics, logger: logger.child({ component: 'ops' }) });
      ops = await server.listen();
      cleanup.push(() => server.close());
    }
    const installationId = await readInstallationId(dataSource);
    logger.info({ version: VERSION, installationId, ops: ops ? `http://${ops.host}:${ops.port}` : 'disabled', startupMs: Math.round(performance.now() - started) }, 'parley gateway started');
    return { app, dataSource, readiness, logger, ops, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function readInstallationId(ds: DataSource): Promise<string | undefined> {
  const rows: Array<{ value: string }> = await ds.query("SELECT value #>> '{}' AS value FROM parley_meta WHERE key = 'installation_id'").catch(() => []);
  return rows[0]?.value;
}
