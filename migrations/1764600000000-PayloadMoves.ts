import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Moving payloads between backends (`parley migrate-payloads`): `copy_in` names the backend
 * that holds a second copy of a blob's bytes while it is moved — the target's copy before the
 * verified switch of `backend`, the source's copy after it, until that copy is removed. Reads
 * follow `backend` only; a run that was killed finds its leftovers by this column and
 * removes them before it continues.
 */
export class PayloadMoves1764600000000 implements MigrationInterface {
  name = 'PayloadMoves1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE store_blobs ADD COLUMN copy_in text CHECK (copy_in IN ('postgres', 's3') AND copy_in <> backend)`);
    await q.query('CREATE INDEX store_blobs_copy_in_idx ON store_blobs (id) WHERE copy_in IS NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX store_blobs_copy_in_idx');
    await q.query('ALTER TABLE store_blobs DROP COLUMN copy_in');
  }
}
