import { z } from 'zod';

/**
 * The configuration schema: one strict object per module slice. Later modules add their
 * slice here; unknown keys are rejected everywhere so a typo never silently becomes a default.
 */

/** How a secret is shown by `parley config print` and in errors. */
export type SecretKind = 'value' | 'url-password';
export const secretRegistry = z.registry<{ secret: SecretKind }>();
function secret<T extends z.ZodType>(schema: T, kind: SecretKind = 'value'): T {
  secretRegistry.add(schema, { secret: kind });
  return schema;
}

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);

const postgresUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be a postgres:// or postgresql:// URL with a host');

export const databaseSchema = z.strictObject({
  /** Any PostgreSQL server; when unset (and DATABASE_URL is unset) an embedded one is started. */
  url: secret(postgresUrl.optional(), 'url-password'),
  /** Run pending migrations at start. */
  migrationsRun: z.boolean().default(true),
  poolSize: z.number().int().min(1).max(200).default(10),
  /** How long to wait for a connection from the server (ms). */
  connectTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
  embedded: z
    .strictObject({
      /** TCP port of the embedded server on 127.0.0.1; 0 picks a free port at each start. */
      port: port.default(0),
      /** How long to wait for the embedded server to accept connections (ms). */
      startTimeoutMs: z.number().int().min(1000).max(600_000).default(60_000),
    })
    .prefault({}),
});

export const opsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  host: host.default('127.0.0.1'),
  port: port.default(9464),
  /** Per-check timeout of /readyz (ms). */
  readinessTimeoutMs: z.number().int().min(50).max(60_000).default(2000),
});

export const logSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** auto: human-readable on a terminal, JSON otherwise. */
  format: z.enum(['auto', 'json', 'pretty']).default('auto'),
});

export const configSchema = z.strictObject({
  /** Where the gateway keeps its state (embedded database, keys). */
  dataDir: z.string().min(1).default('./.parley'),
  database: databaseSchema.prefault({}),
  ops: opsSchema.prefault({}),
  log: logSchema.prefault({}),
});

export type ParleyConfig = z.output<typeof configSchema>;
export type DatabaseConfig = ParleyConfig['database'];
export type OpsConfig = ParleyConfig['ops'];
export type LogConfig = ParleyConfig['log'];
