/** Grant signing keys shared by two replicas through PostgreSQL: each verifies the other's grants, through a rotation. */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { ChangeFeed } from '../../../src/database/change-feed';
import { connectDataSource, runMigrations } from '../../../src/database/data-source';
import { certificateThumbprint, signGrant, verifyGrant } from '../../../src/sync/domain/grant';
import { GrantKeys } from '../../../src/sync/grant-keys';
import { SigningKeyRepository } from '../../../src/sync/signing-key.repository';
import { createTestDatabase } from '../../support/pg';
import { waitFor } from '../../support/ports';

jest.setTimeout(60_000);

const DB_CONFIG = { url: undefined, migrationsRun: false, poolSize: 4, connectTimeoutMs: 5000, embedded: { port: 0, startTimeoutMs: 60_000 } };
const ISSUER = 'spiffe://acme.test/parley/gateway';
const CALLER = 'spiffe://partner.test/parley/gateway';
const certificate = randomBytes(300);
const logger = pino({ level: 'silent' });

describe('GrantKeys on two replicas', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  const feeds: ChangeFeed[] = [];
  const replicas: GrantKeys[] = [];

  async function replica(o: { rotateAfterMs: number; publishLeadMs: number }): Promise<GrantKeys> {
    const changes = new ChangeFeed({ url: db.url, logger });
    await changes.start();
    feeds.push(changes);
    const keys = new GrantKeys({ repository: new SigningKeyRepository(ds), changes, logger, checkEveryMs: 3_600_000, ...o });
    await keys.start();
    replicas.push(keys);
    return keys;
  }

  const grant = async (keys: GrantKeys) => (await signGrant(keys.signer(), { issuer: ISSUER, audience: ISSUER, subject: CALLER, certificateThumbprint: certificateThumbprint(certificate), scope: [{ exportId: 'e', namespaces: ['ml'], actions: ['pull'] }], ttlMs: 60_000, nowMs: Date.now() })).token;
  const verifies = (keys: GrantKeys, token: string) => verifyGrant(token, keys.keyFor, { issuer: ISSUER, audience: ISSUER, peerId: CALLER, peerCertificateThumbprint: certificateThumbprint(certificate), nowMs: Date.now() }).sub === CALLER;

  beforeAll(async () => {
    db = await createTestDatabase('grantkeys');
    ds = await connectDataSource(db.url, DB_CONFIG);
    await runMigrations(ds);
  });
  afterAll(async () => {
    for (const r of replicas) await r.stop();
    for (const f of feeds) await f.stop();
    await ds?.destroy();
    await db?.drop();
  });

  it('makes one key for both replicas, and each verifies the grants the other signs', async () => {
    const [a, b] = await Promise.all([replica({ rotateAfterMs: 3_600_000, publishLeadMs: 500 }), replica({ rotateAfterMs: 3_600_000, publishLeadMs: 500 })]);
    expect(a.size).toBe(1);
    await waitFor(() => b.size === 1, 5000);
    expect(a.signer().kid).toBe(b.signer().kid);
    expect(verifies(b, await grant(a))).toBe(true);
    expect(verifies(a, await grant(b))).toBe(true);
  });

  it('rotates: the new key signs only after its publication lead, and the old key still verifies its grants', async () => {
    const repo = new SigningKeyRepository(ds);
    const [a, b] = replicas;
    const before = await grant(a);
    const oldKid = a.signer().kid;
    // Make the current key old enough to be replaced, then let replica a rotate.
    await ds.query("UPDATE sync_signing_keys SET created_at = now() - interval '2 hours'");
    await a.check();
    expect(a.size).toBe(2);
    await waitFor(() => b.size === 2, 5000);
    expect(a.signer().kid).toBe(oldKid); // the successor is not published long enough yet
    await new Promise((r) => setTimeout(r, 600));
    const newKid = a.signer().kid;
    expect(newKid).not.toBe(oldKid);
    expect(b.signer().kid).toBe(newKid);
    await a.check(); // retires the old key, which verifies until its last grant expires
    expect((await repo.verifiable()).map((k) => [k.kid, k.retiredAt !== undefined])).toEqual([
      [oldKid, true],
      [newKid, false],
    ]);
    expect(verifies(b, before)).toBe(true);
    expect(verifies(a, await grant(b))).toBe(true);
  });
});
