import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sync sources other than a partner gateway: an OCI registry repository.
 *
 * - syncs.source: the source as validated JSON (`{kind: 'oci', url, repository, tags, auth,
 *   username, caPem, insecure}`); NULL for a sync from a partner gateway.
 * - syncs.source_secret: its credential (the basic password or the bearer token, JSON); read
 *   by the worker only, never listed, shown or logged.
 */
export class SyncSources1764700000000 implements MigrationInterface {
  name = 'SyncSources1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE syncs ADD COLUMN source jsonb, ADD COLUMN source_secret text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE syncs DROP COLUMN source_secret, DROP COLUMN source');
  }
}
