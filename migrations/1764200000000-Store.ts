import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The store: content-addressed records whose payloads are kept in fixed-size bytea chunks.
 *
 * A push writes its chunks under a `staging` blob (short autocommit inserts, so no long
 * transaction and no pooled connection is held while a client streams); one short
 * transaction then marks the blob `committed` and inserts the record, which is the commit
 * marker: nothing is visible before it. The unique CID makes concurrent pushes of the same
 * content race on that insert; the losers purge their staged chunks. Blobs of failed or
 * deleted pushes go to `purging` and are removed in batches (the janitor finishes what a
 * crash left behind). Chunks are stored EXTERNAL: payloads are mostly incompressible and
 * uncompressed TOAST keeps writes and reads cheap.
 */
export class Store1764200000000 implements MigrationInterface {
  name = 'Store1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE store_blobs (
      id bigserial PRIMARY KEY,
      state text NOT NULL DEFAULT 'staging' CHECK (state IN ('staging', 'committed', 'purging')),
      chunk_bytes integer NOT NULL CHECK (chunk_bytes > 0),
      size bigint NOT NULL DEFAULT 0,
      creator_spiffe_id text NOT NULL,
      started_at timestamptz NOT NULL DEFAULT now(),
      touched_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX store_blobs_unfinished_idx ON store_blobs (touched_at) WHERE state <> 'committed'`);

    await q.query(`CREATE TABLE store_chunks (
      blob_id bigint NOT NULL REFERENCES store_blobs (id) ON DELETE CASCADE,
      seq integer NOT NULL CHECK (seq >= 0),
      data bytea NOT NULL,
      PRIMARY KEY (blob_id, seq)
    )`);
    await q.query(`ALTER TABLE store_chunks ALTER COLUMN data SET STORAGE EXTERNAL`);

    await q.query(`CREATE TABLE store_records (
      seq bigserial PRIMARY KEY,
      cid text COLLATE "C" NOT NULL UNIQUE,
      blob_id bigint NOT NULL UNIQUE REFERENCES store_blobs (id),
      namespace text COLLATE "C" NOT NULL,
      media_type text COLLATE "C" NOT NULL,
      size bigint NOT NULL CHECK (size >= 0),
      annotations jsonb NOT NULL DEFAULT '{}'::jsonb,
      creator_spiffe_id text NOT NULL,
      creator_trust_domain text COLLATE "C" NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    // List filters; every index ends in seq so a filtered page is an index range in List order.
    await q.query(`CREATE INDEX store_records_namespace_idx ON store_records (namespace, seq)`);
    await q.query(`CREATE INDEX store_records_media_type_idx ON store_records (media_type, seq)`);
    await q.query(`CREATE INDEX store_records_creator_td_idx ON store_records (creator_trust_domain, seq)`);
    await q.query(`CREATE INDEX store_records_created_at_idx ON store_records (created_at, seq)`);
    await q.query(`CREATE INDEX store_records_annotations_idx ON store_records USING gin (annotations jsonb_path_ops)`);

    await q.query(`CREATE TABLE store_referrers (
      seq bigserial PRIMARY KEY,
      record_cid text COLLATE "C" NOT NULL REFERENCES store_records (cid) ON DELETE CASCADE,
      cid text COLLATE "C" NOT NULL,
      type text COLLATE "C" NOT NULL,
      media_type text COLLATE "C" NOT NULL,
      data bytea NOT NULL,
      annotations jsonb NOT NULL DEFAULT '{}'::jsonb,
      creator_spiffe_id text NOT NULL,
      creator_trust_domain text COLLATE "C" NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (record_cid, cid)
    )`);
    await q.query(`CREATE INDEX store_referrers_record_type_idx ON store_referrers (record_cid, type, seq)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE store_referrers');
    await q.query('DROP TABLE store_records');
    await q.query('DROP TABLE store_chunks');
    await q.query('DROP TABLE store_blobs');
  }
}
