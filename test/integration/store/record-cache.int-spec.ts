/**
 * The record metadata cache across replicas: a delete through one repository is forgotten
 * by another (which had the record cached) through the change feed, and a lost feed clears it.
 */
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { ChangeFeed } from '../../../src/database/change-feed';
import { connectDataSource, runMigrations } from '../../../src/database/data-source';
import { ContentDigest } from '../../../src/store/domain/content-digest';
import { STORE_RECORDS_CHANNEL, StoreRepository } from '../../../src/store';
import { createTestDatabase } from '../../support/pg';

jest.setTimeout(60_000);

const DB = { url: undefined, migrationsRun: true, poolSize: 3, connectTimeoutMs: 5000, embedded: { port: 0, startTimeoutMs: 60_000 } };
const logger = pino({ level: 'silent' });

describe('record metadata cache', () => {
  let db: { url: string; drop(): Promise<void> };
  const open: Array<{ ds: DataSource; feed: ChangeFeed }> = [];

  const replica = async () => {
    const ds = await connectDataSource(db.url, DB);
    const feed = new ChangeFeed({ url: db.url, logger });
    await feed.start();
    const repository = new StoreRepository(ds, { recordCacheEntries: 100 });
    feed.subscribe(STORE_RECORDS_CHANNEL, (e) => repository.forget(e.resync ? undefined : e.payload));
    open.push({ ds, feed });
    return { ds, repository };
  };

  beforeAll(async () => {
    db = await createTestDatabase('cache');
    const ds = await connectDataSource(db.url, DB);
    await runMigrations(ds);
    await ds.destroy();
  });
  afterAll(async () => {
    for (const o of open) {
      await o.feed.stop();
      await o.ds.destroy();
    }
    await db.drop();
  });

  it('a record deleted through one replica disappears from the other within a second', async () => {
    const a = await replica();
    const b = await replica();
    const digest = new ContentDigest({ maxBytes: 1024 });
    digest.update(Buffer.from('cached bytes'));
    const { cid, size } = digest.finish();
    const upload = await a.repository.payloads.begin({ creatorSpiffeId: 'spiffe://acme.test/w', chunkBytes: 1024, resumable: false });
    await upload.write(Buffer.from('cached bytes'));
    await a.repository.commit(upload, cid, size, { namespace: 'ns', mediaType: 'text/plain', annotations: {}, creatorSpiffeId: 'spiffe://acme.test/w', creatorTrustDomain: 'acme.test' });

    expect((await b.repository.find(cid))?.namespace).toBe('ns');
    // Cached: B answers even when its own row lookup would fail.
    await b.ds.query('ALTER TABLE store_records RENAME TO store_records_hidden');
    try {
      expect((await b.repository.find(cid))?.namespace).toBe('ns');
    } finally {
      await b.ds.query('ALTER TABLE store_records_hidden RENAME TO store_records');
    }

    const deletedAt = Date.now();
    expect(await a.repository.delete(cid)).toBe(true);
    expect(await a.repository.find(cid)).toBeUndefined();
    while ((await b.repository.find(cid)) !== undefined) {
      if (Date.now() - deletedAt > 1000) throw new Error('replica B still serves the deleted record after 1 s');
      await new Promise((r) => setTimeout(r, 10));
    }
  });
});
