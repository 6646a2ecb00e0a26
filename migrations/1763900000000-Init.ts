import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Gateway-wide key/value facts (installation id, schema notes) that later modules may read. */
export class Init1763900000000 implements MigrationInterface {
  name = 'Init1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE parley_meta (
      key text PRIMARY KEY,
      value jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`INSERT INTO parley_meta (key, value) VALUES ('installation_id', to_jsonb(gen_random_uuid()::text))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE parley_meta');
  }
}
