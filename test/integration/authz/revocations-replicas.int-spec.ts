/**
 * Two replicas (stores with their own pools and change feeds) on one database: what one
 * writes, the other enforces within a second, and the revocation hook fires there.
 */
import { createHash } from 'node:crypto';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { AllowlistStore } from '../../../src/authz/allowlist-store';
import { RevocationStore, revocationValue, type RevocationKind } from '../../../src/authz/revocation-store';
import { ChangeFeed } from '../../../src/database/change-feed';
import { connectDataSource, runMigrations } from '../../../src/database/data-source';
import { requireSpiffeId } from '../../../src/spiffe';
import type { PeerIdentity } from '../../../src/tls/peer-identity';
import { createTestDatabase } from '../../support/pg';

jest.setTimeout(60_000);

const DB_CONFIG = { url: undefined, migrationsRun: true, poolSize: 3, connectTimeoutMs: 5000, embedded: { port: 0, startTimeoutMs: 60_000 } };
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const ADMIN = 'spiffe://acme.test/parley/admin';

interface Replica {
  ds: DataSource;
  changes: ChangeFeed;
  revocations: RevocationStore;
  allowlists: AllowlistStore;
  /** The clock of `revocations` (ms), movable by tests. */
  clock: { now: number | undefined };
  stop(): Promise<void>;
}

async function startReplica(url: string): Promise<Replica> {
  const ds = await connectDataSource(url, DB_CONFIG);
  const changes = new ChangeFeed({ url, logger });
  await changes.start();
  const clock: { now: number | undefined } = { now: undefined };
  const revocations = new RevocationStore({ dataSource: ds, changes, logger, now: () => clock.now ?? Date.now() });
  await revocations.start();
  const allowlists = new AllowlistStore({ dataSource: ds, changes, logger });
  await allowlists.start();
  return {
    ds,
    changes,
    revocations,
    allowlists,
    clock,
    async stop() {
      await revocations.stop();
      await allowlists.stop();
      await changes.stop();
      await ds.destroy();
    },
  };
}

function fingerprintOf(seed: string): string {
  return createHash('sha256').update(seed).digest('hex').toUpperCase().match(/../g)!.join(':');
}

function peer(id: string, seed = id): PeerIdentity {
  const spiffeId = requireSpiffeId(id);
  return { id: spiffeId, spiffeId: spiffeId.toString(), trustDomain: spiffeId.trustDomain, fingerprint256: fingerprintOf(seed), serial: '01', notAfter: new Date(Date.now() + 3_600_000), remoteAddress: '127.0.0.1', remotePort: 1 };
}

function canonical(kind: RevocationKind, text: string): string {
  const v = revocationValue(kind, text);
  if (!('value' in v)) throw new Error(v.error);
  return v.value;
}

/** Milliseconds until `cond` holds; throws after `limitMs`. */
async function within(limitMs: number, cond: () => boolean): Promise<number> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > limitMs) throw new Error(`condition not met within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - start;
}

describe('revocations and allowlists across replicas', () => {
  let drop: () => Promise<void>;
  let a: Replica;
  let b: Replica;

  beforeAll(async () => {
    const db = await createTestDatabase('revoc');
    drop = db.drop;
    const ds = await connectDataSource(db.url, DB_CONFIG);
    await runMigrations(ds);
    await ds.destroy();
    a = await startReplica(db.url);
    b = await startReplica(db.url);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await drop?.();
  });

  it('a SPIFFE ID revoked on one replica is refused by the other within 1 s, and its hook fires there', async () => {
    const target = peer('spiffe://partner.test/ns/ml/sa/puller');
    const bystander = peer('spiffe://partner.test/ns/ml/sa/other');
    const seen: Array<{ target: boolean; bystander: boolean }> = [];
    const off = b.revocations.onRevoked((isRevoked) => seen.push({ target: isRevoked(target), bystander: isRevoked(bystander) }));
    expect(b.revocations.revokedReason(target)).toBeUndefined();

    const started = performance.now();
    const { revocation, created } = await a.revocations.add({ kind: 'spiffe_id', value: canonical('spiffe_id', target.id.toString()), reason: 'key leaked', createdBy: ADMIN });
    expect(created).toBe(true);
    expect(a.revocations.revokedReason(target)).toBeDefined(); // the writer enforces at once
    await within(1000, () => b.revocations.isRevoked(target));
    const ms = performance.now() - started;
    expect(ms).toBeLessThan(1000);
    await within(1000, () => seen.length > 0);
    off();

    expect(b.revocations.revokedReason(target)).toBe('spiffe id spiffe://partner.test/ns/ml/sa/puller is revoked (key leaked)');
    expect(b.revocations.revokedReason(bystander)).toBeUndefined();
    expect(seen[0]).toEqual({ target: true, bystander: false });
    expect((await b.revocations.list()).map((r) => r.id)).toContain(revocation.id);

    // Removal: the other replica admits the peer again; no hook call for a removal.
    expect(await a.revocations.remove(revocation.id)).toBe(true);
    await within(1000, () => !b.revocations.isRevoked(target));
    expect(await a.revocations.remove(revocation.id)).toBe(false);
  });

  it('revokes one certificate by fingerprint, whatever form the operator pasted', async () => {
    const leaked = peer('spiffe://partner.test/ns/ml/sa/trainer', 'leaked-cert');
    const renewed = peer('spiffe://partner.test/ns/ml/sa/trainer', 'renewed-cert');
    const value = canonical('fingerprint', leaked.fingerprint256.toLowerCase());
    expect(value).toBe(leaked.fingerprint256.split(':').join('').toLowerCase());
    const hooks: boolean[] = [];
    const off = b.revocations.onRevoked((isRevoked) => hooks.push(isRevoked(leaked)));

    const started = performance.now();
    await a.revocations.add({ kind: 'fingerprint', value, reason: '', createdBy: ADMIN });
    await within(1000, () => b.revocations.isRevoked(leaked));
    expect(performance.now() - started).toBeLessThan(1000);
    await within(1000, () => hooks.length > 0);
    off();
    expect(hooks[0]).toBe(true);
    expect(b.revocations.revokedReason(leaked)).toBe(`certificate ${value} of spiffe://partner.test/ns/ml/sa/trainer is revoked`);
    expect(b.revocations.revokedReason(renewed)).toBeUndefined();
  });

  it('revoking a target again replaces it (one row per target); expired revocations stop applying', async () => {
    const p = peer('spiffe://partner.test/ns/ci/sa/builder');
    const value = canonical('spiffe_id', p.id.toString());
    const first = await a.revocations.add({ kind: 'spiffe_id', value, reason: 'first', createdBy: ADMIN });
    const expiresAt = new Date(Date.now() + 60_000);
    const second = await a.revocations.add({ kind: 'spiffe_id', value, reason: 'second', createdBy: ADMIN, expiresAt });
    expect(second.created).toBe(false);
    expect(second.revocation.id).toBe(first.revocation.id);
    expect(second.revocation.expiresAt?.getTime()).toBe(expiresAt.getTime());
    const rows = (await a.revocations.list()).filter((r) => r.value === value);
    expect(rows.map((r) => r.reason)).toEqual(['second']);

    await within(1000, () => b.revocations.revokedReason(p) === `spiffe id ${value} is revoked (second)`);
    b.clock.now = expiresAt.getTime() + 1;
    try {
      expect(b.revocations.revokedReason(p)).toBeUndefined();
    } finally {
      b.clock.now = undefined;
    }
    expect(b.revocations.isRevoked(p)).toBe(true);
  });

  it('a replica whose change feed was down reloads on reconnection (the missed notification does not matter)', async () => {
    const p = peer('spiffe://partner.test/ns/ml/sa/missed');
    await a.ds.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'parley-change-feed' AND datname = current_database()");
    await within(2000, () => !b.changes.isConnected);
    await a.revocations.add({ kind: 'spiffe_id', value: p.id.toString(), reason: '', createdBy: ADMIN });
    expect(b.changes.isConnected).toBe(false); // the notification went out while b was not listening
    await within(5000, () => b.revocations.isRevoked(p));
  });

  it('refuses a value that is not in canonical form', async () => {
    await expect(a.revocations.add({ kind: 'fingerprint', value: 'AB:CD', reason: '', createdBy: ADMIN })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(a.revocations.add({ kind: 'spiffe_id', value: 'spiffe://Partner.test/x', reason: '', createdBy: ADMIN })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('an allowlist set on one replica restricts the trust domain on the other within 1 s', async () => {
    expect(b.allowlists.deniedReason('partner.test', '203.0.113.9')).toBeUndefined();
    const started = performance.now();
    const { created } = await a.allowlists.set('partner.test', ['192.0.2.0/24', '2001:db8::/32'], ADMIN);
    expect(created).toBe(true);
    await within(1000, () => b.allowlists.deniedReason('partner.test', '203.0.113.9') !== undefined);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(b.allowlists.deniedReason('partner.test', '::ffff:192.0.2.10')).toBeUndefined();
    expect(b.allowlists.deniedReason('partner.test', 'garbage')).toBeDefined();
    expect(b.allowlists.deniedReason('other.test', '203.0.113.9')).toBeUndefined();

    expect((await a.allowlists.set('partner.test', ['203.0.113.0/24'], ADMIN)).created).toBe(false);
    await within(1000, () => b.allowlists.deniedReason('partner.test', '203.0.113.9') === undefined);
    expect(b.allowlists.deniedReason('partner.test', '192.0.2.10')).toBeDefined();

    expect(await a.allowlists.remove('partner.test')).toBe(true);
    await within(1000, () => b.allowlists.deniedReason('partner.test', '192.0.2.10') === undefined);
    expect(await a.allowlists.remove('partner.test')).toBe(false);
  });
});
