/**
 * Two FederationService replicas on one real PostgreSQL database, each with its own pool,
 * change feed and trust store, and a scripted fetch function: only the lock holder polls,
 * both apply what was stored, the deny list and failures behave, and a stopped poller is
 * replaced.
 */
import { Client } from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { ChangeFeed } from '../../../src/database/change-feed';
import { connectDataSource, runMigrations } from '../../../src/database/data-source';
import type { FetchOutcome } from '../../../src/federation/bundle-fetcher';
import type { FederationRelationship } from '../../../src/federation/domain';
import { FederationService } from '../../../src/federation/federation.service';
import { SpiffeBundle, TrustDomain } from '../../../src/spiffe';
import { TrustStore } from '../../../src/trust/trust-store';
import { createTestDatabase } from '../../support/pg';
import { waitFor } from '../../support/ports';
import { TestCa } from '../../support/test-ca';

jest.setTimeout(60_000);

const DB_CONFIG = { url: undefined, migrationsRun: true, poolSize: 3, connectTimeoutMs: 5000, embedded: { port: 0, startTimeoutMs: 60_000 } };
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const OWN = TrustDomain.parse('acme.test');
const PARTNER = 'partner.test';
const PARTNER_TD = TrustDomain.parse(PARTNER);

/** What the scripted partner endpoint answers now (shared by both replicas' fetch functions). */
const endpoint: { answer: () => FetchOutcome } = { answer: () => ({ ok: false, reason: 'connect', detail: 'not scripted' }) };

interface Replica {
  name: string;
  service: FederationService;
  trust: TrustStore;
  fetches: string[];
  metrics: Registry;
  stop(): Promise<void>;
}

async function startReplica(name: string, url: string, ownCa: TestCa, relationships?: unknown[]): Promise<Replica> {
  const ds: DataSource = await connectDataSource(url, DB_CONFIG);
  const changes = new ChangeFeed({ url, logger });
  await changes.start();
  const trust = new TrustStore();
  trust.set(SpiffeBundle.fromX509Authorities(OWN, [ownCa.certificate]));
  const fetches: string[] = [];
  const metrics = new Registry();
  const service = new FederationService({
    dataSource: ds,
    databaseUrl: url,
    changes,
    trustStore: trust,
    ownTrustDomain: OWN,
    logger,
    metrics,
    replicaId: name,
    relationships,
    poll: { minIntervalMs: 1000, lockRetryMs: 200, timeoutMs: 2000 },
    ownRefreshHintSeconds: 120,
    fetch: async (rel: FederationRelationship) => {
      fetches.push(rel.trustDomain);
      return endpoint.answer();
    },
  });
  try {
    await service.start();
  } catch (err) {
    await service.stop();
    await changes.stop();
    await ds.destroy();
    throw err;
  }
  let stopped = false;
  return {
    name,
    service,
    trust,
    fetches,
    metrics,
    async stop() {
      if (stopped) return;
      stopped = true;
      await service.stop();
      await changes.stop();
      await ds.destroy();
    },
  };
}

function bundleOf(cas: TestCa[], sequence: bigint, refreshHint = 1): SpiffeBundle {
  return SpiffeBundle.fromX509Authorities(PARTNER_TD, cas.map((c) => c.certificate), { sequence, refreshHint });
}

function serve(bundle: SpiffeBundle): void {
  endpoint.answer = () => ({ ok: true, bundle, url: 'https://127.0.0.1:9/', skipped: [], httpStatus: 200 });
}

const fingerprints = (trust: TrustStore) => (trust.getX509Authorities(PARTNER_TD) ?? []).map((c) => c.fingerprint256).sort();
const fp = (ca: TestCa) => ca.certificate.fingerprint256;

describe('FederationService on two replicas', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: Replica;
  let b: Replica;
  let ownCa: TestCa;
  let ca1: TestCa;
  let ca2: TestCa;
  const holder = () => [a, b].find((r) => r.service.polling);
  const other = () => [a, b].find((r) => !r.service.polling)!;

  beforeAll(async () => {
    db = await createTestDatabase('fed');
    const ds = await connectDataSource(db.url, DB_CONFIG);
    await runMigrations(ds);
    await ds.destroy();
    [ownCa, ca1, ca2] = await Promise.all([TestCa.create({ trustDomain: 'acme.test' }), TestCa.create({ trustDomain: PARTNER }), TestCa.create({ trustDomain: PARTNER })]);
    serve(bundleOf([ca1, ca2], 5n));
    a = await startReplica('replica-a', db.url, ownCa);
    b = await startReplica('replica-b', db.url, ownCa);
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it('lets exactly one replica poll and applies the stored bundle on both', async () => {
    await waitFor(() => holder(), 5000);
    await a.service.create({ trustDomain: PARTNER, profile: 'https_web', endpointUrls: ['https://127.0.0.1:9/'] });
    await waitFor(() => fingerprints(a.trust).length === 2 && fingerprints(b.trust).length === 2, 5000);
    expect(fingerprints(b.trust)).toEqual([fp(ca1), fp(ca2)].sort());
    // refresh hint 1 s with minInterval 1 s: the holder polls about every second, the other never.
    await new Promise((r) => setTimeout(r, 2500));
    const h = holder()!;
    expect(h.fetches.length).toBeGreaterThanOrEqual(2);
    expect(other().fetches).toEqual([]);
    const status = await other().service.status(PARTNER);
    expect(status).toMatchObject({ state: 'ready', sequence: '5', refreshHint: 1, polledBy: h.name, source: 'api', consecutiveFailures: 0 });
    expect(status.authorities.map((x) => x.fingerprint).sort()).toEqual([fp(ca1), fp(ca2)].map((f) => f.split(':').join('').toLowerCase()).sort());
    expect(await h.metrics.getSingleMetricAsString('parley_federation_fetches_total')).toContain(`parley_federation_fetches_total{trust_domain="${PARTNER}",result="ok"}`);
    const gauges = await other().metrics.metrics();
    expect(gauges).toContain(`parley_federation_bundle_sequence{trust_domain="${PARTNER}"} 5`);
    expect(gauges).toMatch(new RegExp(`parley_federation_seconds_since_success\\{trust_domain="${PARTNER}"\\} \\d`));
    const earliest = Math.min(...[ca1, ca2].map((c) => Date.parse(c.certificate.validTo)));
    const expiry = (await other().metrics.getSingleMetric('parley_federation_earliest_authority_expiry_seconds')!.get()).values[0];
    expect(expiry.labels).toEqual({ trust_domain: PARTNER });
    expect(Math.abs(expiry.value - (earliest - Date.now()) / 1000)).toBeLessThan(5);
  });

  it('removes a denied authority on every replica', async () => {
    const denied = ca2.certificate.fingerprint256;
    const updated = await b.service.update(PARTNER, { profile: 'https_web', endpointUrls: ['https://127.0.0.1:9/'], deniedAuthorities: [denied] });
    expect(updated.deniedInBundle).toEqual([denied.split(':').join('').toLowerCase()]);
    await waitFor(() => fingerprints(a.trust).length === 1 && fingerprints(b.trust).length === 1, 5000);
    expect(fingerprints(a.trust)).toEqual([fp(ca1)]);
    expect(fingerprints(b.trust)).toEqual([fp(ca1)]);
  });

  it('keeps the last good bundle when a poll fails, and says why (refresh through the non-polling replica)', async () => {
    endpoint.answer = () => ({ ok: false, reason: 'timeout', detail: 'no answer within 2000 ms', url: 'https://127.0.0.1:9/' });
    const status = await other().service.refreshNow(PARTNER);
    expect(status.lastError).toMatchObject({ reason: 'timeout', detail: 'no answer within 2000 ms' });
    expect(status.state).toBe('stale');
    expect(status.consecutiveFailures).toBeGreaterThanOrEqual(1);
    expect(status.authorities.map((x) => x.fingerprint)).toHaveLength(1);
    expect(fingerprints(a.trust)).toEqual([fp(ca1)]);
    expect(fingerprints(b.trust)).toEqual([fp(ca1)]);
  });

  it('flags a decreasing sequence but accepts the document', async () => {
    serve(bundleOf([ca1], 3n));
    const status = await holder()!.service.refreshNow(PARTNER);
    expect(status.state).toBe('ready');
    expect(status.sequence).toBe('3');
    expect(status.warning).toContain('decreased from 5 to 3');
  });

  it('rate-limits early refresh requests per partner', async () => {
    const r = other();
    const count = holder()!.fetches.length;
    expect(r.service.requestEarlyRefresh(PARTNER)).toBe(true);
    expect(r.service.requestEarlyRefresh(PARTNER)).toBe(false);
    expect(r.service.requestEarlyRefresh('unknown.test')).toBe(false);
    await waitFor(() => holder()!.fetches.length > count, 5000);
  });

  it('treats {"keys": []} as revoking every authority of the partner', async () => {
    serve(bundleOf([], 4n));
    await holder()!.service.refreshNow(PARTNER);
    await waitFor(() => fingerprints(a.trust).length === 0 && fingerprints(b.trust).length === 0, 5000);
    expect(a.trust.get(PARTNER_TD)).toBeDefined();
    expect(b.trust.get(PARTNER_TD)!.x509Authorities).toEqual([]);
    serve(bundleOf([ca1, ca2], 6n));
    await holder()!.service.refreshNow(PARTNER);
    await waitFor(() => fingerprints(a.trust).length === 1 && fingerprints(b.trust).length === 1, 5000);
  });

  it('publishes our own bundle with a sequence that grows when its authorities change', async () => {
    const first = SpiffeBundle.parse(a.service.ownBundleDocument()!, OWN);
    expect(first.refreshHint).toBe(120);
    expect(first.x509Authorities.map((c) => c.fingerprint256)).toEqual([ownCa.certificate.fingerprint256]);
    const next = await TestCa.create({ trustDomain: 'acme.test' });
    b.trust.set(SpiffeBundle.fromX509Authorities(OWN, [ownCa.certificate, next.certificate]));
    const updated = await waitFor(() => {
      const doc = a.service.ownBundleDocument();
      const parsed = doc === undefined ? undefined : SpiffeBundle.parse(doc, OWN);
      return parsed !== undefined && parsed.x509Authorities.length === 2 ? parsed : undefined;
    }, 5000);
    expect(updated.sequence).toBe(first.sequence! + 1n);
    expect(b.service.heldBundle('acme.test')?.sequence).toBe(first.sequence! + 1n);
  });

  it('gives up polling when the lock session dies, and polling resumes on exactly one replica', async () => {
    const previous = holder()!;
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    try {
      const killed = await admin.query(
        `SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
         WHERE l.locktype = 'advisory' AND a.datname = current_database() AND a.application_name = 'parley-federation-poller'`,
      );
      expect(killed.rowCount).toBe(1);
    } finally {
      await admin.end();
    }
    // The holder notices at once (it stays off for at least one retry interval) or the other took over.
    await waitFor(() => !previous.service.polling || [a, b].some((r) => r !== previous && r.service.polling), 5000, 5);
    await waitFor(() => holder(), 5000);
    expect([a, b].filter((r) => r.service.polling)).toHaveLength(1);
    const count = holder()!.fetches.length;
    await waitFor(() => holder()!.fetches.length > count, 5000);
  });

  it('hands polling over when the polling replica stops, and a deletion reaches the trust store', async () => {
    const stopped = holder()!;
    const survivor = other();
    const before = survivor.fetches.length;
    const t0 = Date.now();
    await stopped.stop();
    await waitFor(() => survivor.service.polling, 5000);
    expect(Date.now() - t0).toBeLessThan(5000);
    await waitFor(() => survivor.fetches.length > before, 5000);
    await survivor.service.remove(PARTNER);
    expect(survivor.trust.get(PARTNER_TD)).toBeUndefined();
    await expect(survivor.service.status(PARTNER)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses invalid relationships with field errors and duplicates with conflict', async () => {
    const r = [a, b].find((x) => x.service.polling)!;
    await expect(r.service.create({ trustDomain: 'acme.test', profile: 'static' })).rejects.toMatchObject({ code: 'invalid_argument', fieldErrors: [{ field: 'trustDomain' }] });
    await expect(r.service.create({ trustDomain: 'x.test', profile: 'https_web', endpointUrls: ['http://x.test/'] })).rejects.toMatchObject({
      fieldErrors: [{ field: 'endpointUrls[0]', message: 'must use https' }],
    });
    await r.service.create({ trustDomain: 'x.test', profile: 'static' });
    await expect(r.service.create({ trustDomain: 'x.test', profile: 'static' })).rejects.toMatchObject({ code: 'conflict' });
    await expect(r.service.refreshNow('x.test')).rejects.toMatchObject({ code: 'precondition_failed' });
  });

  it('declares configured relationships at start (source config) and refuses invalid ones', async () => {
    await expect(startReplica('replica-bad', db.url, ownCa, [{ trustDomain: 'y.test', profile: 'https_web' }])).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringContaining('federation.relationships[0].endpointUrls'),
    });
    const c = await startReplica('replica-c', db.url, ownCa, [{ trustDomain: 'x.test', profile: 'https_web', endpointUrls: ['https://127.0.0.1:9/'] }]);
    try {
      const r = [a, b].find((x) => x.service.polling)!;
      expect(await r.service.status('x.test')).toMatchObject({ source: 'config', profile: 'https_web' });
      await waitFor(() => r.fetches.includes('x.test'), 5000);
      expect(c.fetches).toEqual([]);
    } finally {
      await c.stop();
    }
  });

  it('holds the bundle a static relationship is declared with (config or API), on every replica', async () => {
    const staticCa = await TestCa.create({ trustDomain: 'static.test' });
    const d = await startReplica('replica-d', db.url, ownCa, [{ trustDomain: 'static.test', profile: 'static', bootstrapBundle: staticCa.bundlePem() }]);
    try {
      // The polling replica (the other of a, b was stopped by the hand-over test) and the new one.
      const running = [holder()!, d];
      await waitFor(() => running.every((x) => x.trust.get(TrustDomain.parse('static.test'))?.x509Authorities.length === 1), 5000);
      expect(await d.service.status('static.test')).toMatchObject({ source: 'config', profile: 'static' });
      const apiCa = await TestCa.create({ trustDomain: 'static-api.test' });
      await d.service.create({ trustDomain: 'static-api.test', profile: 'static', bootstrapBundle: apiCa.bundlePem() });
      await waitFor(() => running.every((x) => x.trust.get(TrustDomain.parse('static-api.test'))?.x509Authorities.length === 1), 5000);
    } finally {
      await d.stop();
    }
  });
});
