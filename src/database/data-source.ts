import { DataSource, type DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { ParleyError } from '../common';
import type { DatabaseConfig } from '../config';

/** Lock id for "one replica runs migrations at a time" (pg_advisory_lock). */
const MIGRATION_LOCK_ID = 0x7061726c; // 'parl'

/** The database settings the connection pool uses. */
export type PoolConfig = Pick<DatabaseConfig, 'poolSize' | 'connectTimeoutMs'> & Record<string, unknown>;

export function dataSourceOptions(url: string, config: PoolConfig, entities: DataSourceOptions['entities'] = []): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations: MIGRATIONS,
    migrationsTableName: 'parley_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    applicationName: 'parley',
    extra: {
      max: config.poolSize,
      connectionTimeoutMillis: config.connectTimeoutMs,
      // A statement never hangs the gateway for long; long transfers set their own limits.
      statement_timeout: 60_000,
      idle_in_transaction_session_timeout: 120_000,
    },
  } as DataSourceOptions;
}

/** Connects, turning connection failures into a clear error that names host and port only. */
export async function connectDataSource(url: string, config: PoolConfig, entities: DataSourceOptions['entities'] = []): Promise<DataSource> {
  const ds = new DataSource(dataSourceOptions(url, config, entities));
  try {
    await ds.initialize();
  } catch (err) {
    throw new ParleyError('unavailable', `database: cannot connect to ${describeUrl(url)}: ${reasonOf(err)}`, { cause: err });
  }
  return ds;
}

/** Runs pending migrations under an advisory lock so concurrent replicas never race. */
export async function runMigrations(ds: DataSource): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await runner.release();
  }
}

/** Names of migrations known to this build but not applied to the database. */
export async function pendingMigrations(ds: DataSource): Promise<string[]> {
  const rows: Array<{ name: string }> = await ds
    .query('SELECT name FROM parley_migrations')
    .catch((err: unknown) => {
      if ((err as { code?: string }).code === '42P01') return []; // table not created yet
      throw err;
    });
  const done = new Set(rows.map((r) => r.name));
  return MIGRATIONS.map((m) => m.name).filter((name) => !done.has(name));
}

export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

export function reasonOf(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = e?.message ?? String(err);
  // pg's messages do not contain the password; strip any URL that might have been echoed anyway.
  return msg.replace(/postgres(ql)?:\/\/\S+/g, '(url)').slice(0, 300) || e.code || 'unknown error';
}
