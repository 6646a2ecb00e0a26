import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config/load';
import type { ParleyConfig } from '../../src/config/schema';
import { startGateway, type Gateway } from '../../src/gateway';
import { createTestDatabase } from './pg';
import { DevCa } from '../../src/identity/dev-ca/dev-ca';
import { requireTrustDomain } from '../../src/spiffe';

export interface TestGateway {
  gateway: Gateway;
  config: ParleyConfig;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Starts a real gateway in this process on a fresh database of the suite's PostgreSQL, with
 * every listener on 127.0.0.1 port 0 and a dev CA in a temp data directory.
 * `env` takes PARLEY_* overrides like a user would set them; a DATABASE_URL there is used
 * as is (no database is created or dropped). `o.replicaOf` starts another replica of a
 * running test gateway: same database and data directory (so the same dev CA), own ports.
 */
export async function startTestGateway(env: Record<string, string> = {}, o: { replicaOf?: TestGateway } = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-gw-'));
  chmodSync(dir, 0o755);
  const shared: Record<string, string> = o.replicaOf === undefined ? {} : { DATABASE_URL: o.replicaOf.config.database.url!, PARLEY_DATA_DIR: o.replicaOf.config.dataDir };
  const givenUrl = env.DATABASE_URL ?? shared.DATABASE_URL;
  const db = givenUrl === undefined ? await createTestDatabase('gw') : { url: givenUrl, drop: async () => undefined };
  const { config } = loadConfig({
    cwd: dir,
    env: {
      DATABASE_URL: db.url,
      ...shared,
      PARLEY_OPS_PORT: '0',
      PARLEY_ADMIN_PORT: '0',
      PARLEY_GRPC_PORT: '0',
      PARLEY_GRPC_HOST: '127.0.0.1',
      PARLEY_IDENTITY_TRUST_DOMAIN: 'acme.test',
      ...env,
    },
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const gateway = await startGateway(config, logger);
  return {
    gateway,
    config,
    dir,
    async stop() {
      await gateway.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The test gateway's own development CA (same files), to issue client SVIDs of its trust domain. */
export async function devCaOf(gw: TestGateway): Promise<DevCa> {
  const td = gw.config.identity.trustDomain;
  return DevCa.open({ dir: join(gw.config.dataDir, 'dev-ca', td), trustDomain: requireTrustDomain(td), caTtlMs: gw.config.identity.devCa.caTtl, svidTtlMs: 600_000, publishLeadMs: gw.config.identity.devCa.caPublishLead });
}
