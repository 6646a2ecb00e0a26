import { Store1764200000000 } from '../../../migrations/1764200000000-Store';
import { SubjectlessReferrers1764800000000 } from '../../../migrations/1764800000000-SubjectlessReferrers';
import { migratedDatabase } from './store-harness';

jest.setTimeout(60_000);

describe('store migration', () => {
  it('creates the store tables (payload chunks stored EXTERNAL, referrers pushed before their subject apart), and their down() removes them', async () => {
    const db = await migratedDatabase('storemig');
    try {
      const tables = async () =>
        (await db.ds.query(`SELECT tablename FROM pg_tables WHERE tablename LIKE 'store_%' ORDER BY tablename`)).map((r: { tablename: string }) => r.tablename);
      expect(await tables()).toEqual(['store_blobs', 'store_chunks', 'store_records', 'store_referrers', 'store_subjectless_referrers']);
      const [storage] = await db.ds.query(`SELECT attstorage FROM pg_attribute WHERE attrelid = 'store_chunks'::regclass AND attname = 'data'`);
      expect(storage.attstorage).toBe('e');
      const runner = db.ds.createQueryRunner();
      try {
        await new SubjectlessReferrers1764800000000().down(runner);
        expect(await tables()).toEqual(['store_blobs', 'store_chunks', 'store_records', 'store_referrers']);
        await new Store1764200000000().down(runner);
        expect(await tables()).toEqual([]);
        await new Store1764200000000().up(runner);
        await new SubjectlessReferrers1764800000000().up(runner);
        expect(await tables()).toHaveLength(5);
      } finally {
        await runner.release();
      }
    } finally {
      await db.drop();
    }
  });
});
