import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Named tags of the OCI registry face (`:v1`, `:latest`): mutable pointers from a tag of a
 * namespace to a manifest digest. A record's CID is its own tag and is not kept here (it
 * never moves); a named tag is any other tag.
 *
 * - kind 'record': a record's manifest (rendered, or kept as pushed); `record_cid` is the record;
 * - kind 'referrer': a referrer manifest kept with its subject's record `record_cid`;
 * - kind 'subjectless': a referrer manifest kept in store_subjectless_referrers (no record).
 *
 * A tag goes with its record in the record's delete (ON DELETE CASCADE, same statement), so no
 * tag points at a deleted record. The writer caps the tags of a namespace.
 */
export class RegistryTags1764900000000 implements MigrationInterface {
  name = 'RegistryTags1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE registry_tags (
      namespace text COLLATE "C" NOT NULL,
      tag text COLLATE "C" NOT NULL,
      digest text COLLATE "C" NOT NULL,
      kind text COLLATE "C" NOT NULL CHECK (kind IN ('record', 'referrer', 'subjectless')),
      record_cid text COLLATE "C" REFERENCES store_records (cid) ON DELETE CASCADE,
      creator_spiffe_id text NOT NULL,
      creator_trust_domain text COLLATE "C" NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (namespace, tag),
      CHECK ((kind = 'subjectless') = (record_cid IS NULL))
    )`);
    // The cascade of a record's delete.
    await q.query(`CREATE INDEX registry_tags_record_idx ON registry_tags (record_cid) WHERE record_cid IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE registry_tags');
  }
}
