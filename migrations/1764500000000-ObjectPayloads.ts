import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Payloads in an S3-compatible object store beside PostgreSQL: a blob says where its bytes
 * are (`backend`); an object-store blob has no chunk rows, its bytes are one object (key from
 * the blob id) and, while staging, the multipart upload `upload_id`. Existing blobs stay in
 * PostgreSQL (the default fills the column without rewriting rows).
 */
export class ObjectPayloads1764500000000 implements MigrationInterface {
  name = 'ObjectPayloads1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE store_blobs ADD COLUMN backend text NOT NULL DEFAULT 'postgres' CHECK (backend IN ('postgres', 's3'))`);
    await q.query('ALTER TABLE store_blobs ADD COLUMN upload_id text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE store_blobs DROP COLUMN upload_id');
    await q.query('ALTER TABLE store_blobs DROP COLUMN backend');
  }
}
