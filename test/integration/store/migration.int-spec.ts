import { Store1764200000000 } from '../../../migrations/1764200000000-Store';
import { SubjectlessReferrers1764800000000 } from '../../../migrations/1764800000000-SubjectlessReferrers';
import { RegistryTags1764900000000 } from '../../../migrations/1764900000000-RegistryTags';
import { RegistryManifests1765000000000 } from '../../../migrations/1765000000000-RegistryManifests';
import { migratedDatabase } from './store-harness';

jest.setTimeout(60_000);

describe('store migration', () => {
  it('creates the store tables (payload chunks stored EXTERNAL, referrers pushed before their subject apart, registry tags and manifests), and their down() removes them', async () => {
    const db = await migratedDatabase('storemig');
    try {
      const tables = async () =>
        (await db.ds.query(`SELECT tablename FROM pg_tables WHERE tablename LIKE 'store_%' OR tablename LIKE 'registry_%' ORDER BY tablename`)).map((r: { tablename: string }) => r.tablename);
      expect(await tables()).toEqual(['registry_manifest_refs', 'registry_manifests', 'registry_tags', 'store_blobs', 'store_chunks', 'store_records', 'store_referrers', 'store_subjectless_referrers']);
      const [storage] = await db.ds.query(`SELECT attstorage FROM pg_attribute WHERE attrelid = 'store_chunks'::regclass AND attname = 'data'`);
      expect(storage.attstorage).toBe('e');
      const runner = db.ds.createQueryRunner();
      try {
        await new RegistryManifests1765000000000().down(runner);
        expect(await tables()).toHaveLength(6);
        await new RegistryTags1764900000000().down(runner);
        await new SubjectlessReferrers1764800000000().down(runner);
        expect(await tables()).toEqual(['store_blobs', 'store_chunks', 'store_records', 'store_referrers']);
        await new Store1764200000000().down(runner);
        expect(await tables()).toEqual([]);
        await new Store1764200000000().up(runner);
        await new SubjectlessReferrers1764800000000().up(runner);
        await new RegistryTags1764900000000().up(runner);
        await new RegistryManifests1765000000000().up(runner);
        expect(await tables()).toHaveLength(8);
      } finally {
        await runner.release();
      }
    } finally {
      await db.drop();
    }
  });

  it('a registry tag goes with its record (the delete cascades), and a subjectless tag names no record', async () => {
    const db = await migratedDatabase('tagmig');
    try {
      const cid = 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
      const [blob] = await db.ds.query(`INSERT INTO store_blobs (state, chunk_bytes, creator_spiffe_id) VALUES ('committed', 1024, 'spiffe://t/x') RETURNING id`);
      await db.ds.query(`INSERT INTO store_records (cid, blob_id, namespace, media_type, size, creator_spiffe_id, creator_trust_domain) VALUES ($1, $2, 'ml', 'text/plain', 0, 'spiffe://t/x', 't')`, [cid, blob.id]);
      const tag = (name: string, kind: string, record: string | null) =>
        db.ds.query(`INSERT INTO registry_tags (namespace, tag, digest, kind, record_cid, creator_spiffe_id, creator_trust_domain) VALUES ('ml', $1, 'sha256:00', $2, $3, 'spiffe://t/x', 't')`, [name, kind, record]);
      await tag('v1', 'record', cid);
      await tag('sig', 'subjectless', null);
      await tag('index', 'manifest', null);
      await expect(tag('bad', 'subjectless', cid)).rejects.toThrow(/check constraint/);
      await expect(tag('bad', 'manifest', cid)).rejects.toThrow(/check constraint/);
      await expect(tag('bad', 'record', null)).rejects.toThrow(/check constraint/);
      // A manifest kept as pushed loses the rows of the records it stands on with them (and so is no longer whole).
      await db.ds.query(`INSERT INTO registry_manifests (namespace, digest, media_type, data, record_refs, creator_spiffe_id, creator_trust_domain) VALUES ('ml', 'sha256:11', 'x', '\\x00', 1, 'spiffe://t/x', 't')`);
      await db.ds.query(`INSERT INTO registry_manifest_refs (namespace, digest, record_cid) VALUES ('ml', 'sha256:11', $1)`, [cid]);
      await db.ds.query('DELETE FROM store_records WHERE cid = $1', [cid]);
      expect((await db.ds.query('SELECT tag FROM registry_tags ORDER BY tag')).map((r: { tag: string }) => r.tag)).toEqual(['index', 'sig']);
      expect(await db.ds.query('SELECT record_cid FROM registry_manifest_refs')).toEqual([]);
      expect((await db.ds.query('SELECT digest FROM registry_manifests')).map((r: { digest: string }) => r.digest)).toEqual(['sha256:11']);
    } finally {
      await db.drop();
    }
  });
});
