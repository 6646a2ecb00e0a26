/**
 * The store over real mTLS and a real PostgreSQL: a SecureGrpcServer with TestCa
 * certificates, an isolated database with the migrations run, and StoreClients for
 * workloads of the own trust domain (acme.test) or a partner (partner.test).
 */
import { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { connectDataSource, runMigrations } from '../../../src/database/data-source';
import { SecureGrpcServer } from '../../../src/grpc/secure-grpc-server';
import { requireSpiffeId, requireTrustDomain } from '../../../src/spiffe';
import { storeLimits, type StoreLimits } from '../../../src/store/domain/limits';
import { StoreClient, storeChannelOptions } from '../../../src/store/store-client';
import { registerStoreService, type StoreServiceHandle } from '../../../src/store/store.grpc-service';
import type { ObjectPayloads } from '../../../src/store/object-payloads';
import { StoreRepository } from '../../../src/store/store.repository';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { FixedSvidProvider } from '../../../src/tls/server-identity';
import type { TrustStore } from '../../../src/trust/trust-store';
import { createTestDatabase } from '../../support/pg';
import { TestCa } from '../../support/test-ca';
import { captureLogger, pairOf, trustStoreOf, type CapturingLogger } from '../../support/tls-clients';

export const GATEWAY_ID = 'spiffe://acme.test/parley/gateway';
export const TRAINER_ID = 'spiffe://acme.test/ns/ml/sa/trainer';
export const PARTNER_ID = 'spiffe://partner.test/ns/ml/sa/puller';
const MiB = 1024 * 1024;

export const DB_CONFIG = { url: undefined, migrationsRun: true, poolSize: 10, connectTimeoutMs: 5000, embedded: { port: 0, startTimeoutMs: 60_000 } };

/** An isolated database with the migrations run. */
export async function migratedDatabase(prefix = 'store'): Promise<{ ds: DataSource; url: string; drop(): Promise<void> }> {
  const db = await createTestDatabase(prefix);
  const ds = await connectDataSource(db.url, DB_CONFIG);
  await runMigrations(ds);
  return {
    ds,
    url: db.url,
    async drop() {
      await ds.destroy().catch(() => undefined);
      await db.drop();
    },
  };
}

export interface StoreHarness {
  port: number;
  ds: DataSource;
  /** The harness database's URL (for a CLI run against it). */
  url: string;
  repository: StoreRepository;
  service: StoreServiceHandle;
  server: SecureGrpcServer;
  logger: CapturingLogger;
  trust: TrustStore;
  acme: TestCa;
  partner: TestCa;
  limits: StoreLimits;
  /** A client presenting `id` (acme.test or partner.test), to the server or to `viaPort` (a relay). */
  client(id?: string, viaPort?: number): Promise<StoreClient>;
  count(table: 'store_records' | 'store_blobs' | 'store_chunks' | 'store_referrers'): Promise<number>;
  stop(): Promise<void>;
}

/** `objects` + `payloads: 's3'`: payloads in that object store (store.payloads: s3). */
export async function startStoreHarness(
  o: {
    limits?: Partial<StoreLimits>;
    maxMessageBytes?: number;
    objects?: ObjectPayloads;
    payloads?: 'postgres' | 's3';
    /** Uploads get a pool of their own with this many connections, as the gateway's store.pushConnections (else they share the data source's pool). */
    pushConnections?: number;
  } = {},
): Promise<StoreHarness> {
  const db = await migratedDatabase();
  const acme = await TestCa.create({ trustDomain: 'acme.test' });
  const partner = await TestCa.create({ trustDomain: 'partner.test' });
  const trust = trustStoreOf(acme, partner);
  const logger = captureLogger();
  const limits = storeLimits(o.limits);
  const server = new SecureGrpcServer({
    host: '127.0.0.1',
    port: 0,
    ownTrustDomain: requireTrustDomain('acme.test'),
    authorize: () => ({ allowed: true, reason: 'test: everyone' }),
    maxMessageBytes: o.maxMessageBytes ?? 8 * MiB,
    identity: new FixedSvidProvider(pairOf(await acme.issueSvid({ id: GATEWAY_ID }))),
    trustStore: trust,
    logger,
  });
  const uploads = o.pushConnections === undefined ? undefined : new Pool({ connectionString: db.url, max: o.pushConnections, connectionTimeoutMillis: 30_000 });
  const repository = new StoreRepository(db.ds, { objects: o.objects, payloads: o.payloads, ...(uploads === undefined ? {} : { pools: { uploads } }) });
  const service = registerStoreService(server.server, { repository, limits, logger, sweepIntervalMs: 0 });
  server.addProtos(service.packageDefinition);
  const { port } = await server.start();
  const clients: StoreClient[] = [];
  return {
    port,
    ds: db.ds,
    url: db.url,
    repository,
    service,
    server,
    logger,
    trust,
    acme,
    partner,
    limits,
    async client(id = TRAINER_ID, viaPort = port) {
      const ca = id.startsWith('spiffe://partner.test/') ? partner : acme;
      const svid = await ca.issueSvid({ id });
      const creds = spiffeChannelCredentials({ svid: pairOf(svid), trust, server: { id: requireSpiffeId(GATEWAY_ID) } });
      const client = new StoreClient(`127.0.0.1:${viaPort}`, creds, { ...storeChannelOptions(), 'grpc.ssl_target_name_override': 'parley.test' });
      clients.push(client);
      return client;
    },
    async count(table) {
      const rows: Array<{ n: string }> = await db.ds.query(`SELECT count(*) AS n FROM ${table}`);
      return Number(rows[0].n);
    },
    async stop() {
      for (const c of clients) c.close();
      await service.close();
      await server.stop(500);
      await uploads?.end();
      await db.drop();
    },
  };
}

/** Deterministic pseudo-random bytes (fast; not crypto). */
export function patternBytes(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  for (; i < size; i++) out[i] = i & 0xff;
  return out;
}

/** Polls until `check` returns true (cleanup after a cancel happens after the client saw the status). */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
