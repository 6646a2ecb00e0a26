/** Exports on two replicas sharing PostgreSQL: validated, hot on both, deny by default. */
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { ChangeFeed } from '../../../src/database/change-feed';
import { connectDataSource, runMigrations } from '../../../src/database/data-source';
import { requireSpiffeId } from '../../../src/spiffe';
import { ExportRepository } from '../../../src/sync/export.repository';
import { ExportStore } from '../../../src/sync/export-store';
import { createTestDatabase } from '../../support/pg';
import { waitFor } from '../../support/ports';

jest.setTimeout(60_000);

const DB_CONFIG = { url: undefined, migrationsRun: false, poolSize: 4, connectTimeoutMs: 5000, embedded: { port: 0, startTimeoutMs: 60_000 } };
const logger = pino({ level: 'silent' });
const PARTNER = requireSpiffeId('spiffe://partner.test/parley/gateway');

describe('ExportStore on two replicas', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  const feeds: ChangeFeed[] = [];
  const stores: ExportStore[] = [];

  async function replica(): Promise<ExportStore> {
    const changes = new ChangeFeed({ url: db.url, logger });
    await changes.start();
    feeds.push(changes);
    const store = new ExportStore({ repository: new ExportRepository(ds), changes, logger, ownTrustDomain: 'acme.test' });
    await store.start();
    stores.push(store);
    return store;
  }

  beforeAll(async () => {
    db = await createTestDatabase('exports');
    ds = await connectDataSource(db.url, DB_CONFIG);
    await runMigrations(ds);
  });
  afterAll(async () => {
    for (const s of stores) await s.stop();
    for (const f of feeds) await f.stop();
    await ds?.destroy();
    await db?.drop();
  });

  it('exports nothing by default; an export written on one replica is enforced on both', async () => {
    const [a, b] = [await replica(), await replica()];
    expect(a.scopeFor(PARTNER)).toEqual([]);
    const { created } = await a.put({ id: 'ml-shared', partner: { trustDomain: 'partner.test' }, namespaces: ['ml/shared'], actions: ['list', 'pull'] }, 'spiffe://acme.test/ops');
    expect(created).toBe(true);
    expect(a.scopeFor(PARTNER).map((e) => e.exportId)).toEqual(['ml-shared']);
    await waitFor(() => b.scopeFor(PARTNER).length === 1, 5000);
    expect((await b.get('ml-shared'))?.createdBy).toBe('spiffe://acme.test/ops');

    expect((await b.put({ id: 'ml-shared', partner: { trustDomain: 'partner.test' }, namespaces: ['ml/other'], actions: ['pull'] }, 'spiffe://acme.test/ops')).created).toBe(false);
    await waitFor(() => a.scopeFor(PARTNER)[0]?.namespaces[0] === 'ml/other', 5000);

    expect(await a.remove('ml-shared')).toBe(true);
    expect(await a.remove('ml-shared')).toBe(false);
    await waitFor(() => b.scopeFor(PARTNER).length === 0, 5000);
  });

  it('refuses an invalid export with every problem, and writes nothing', async () => {
    const [a] = stores;
    await expect(a.put({ id: 'x', partner: { trustDomain: 'acme.test' }, namespaces: ['../etc'], actions: ['push'] }, 'spiffe://acme.test/ops')).rejects.toMatchObject({
      code: 'invalid_argument',
      fieldErrors: [
        { field: 'partner.trustDomain', message: expect.stringContaining('own trust domain') },
        { field: 'namespaces[0]', message: expect.any(String) },
        { field: 'actions[0]', message: 'must be one of list, lookup, pull, pull_referrer' },
      ],
    });
    expect(await a.list()).toEqual([]);
  });
});
