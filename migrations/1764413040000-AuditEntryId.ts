import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Audit entry ids: every decision gets a UUID when it is made, and the writer inserts with
 * `ON CONFLICT (entry_id) DO NOTHING`, so an entry written twice (a spool replayed again
 * after a crash, a batch retried after its commit was not acknowledged) is stored once.
 * Rows written before this migration keep a NULL id (NULLs never conflict). The column is
 * added without a default, so existing rows are not rewritten.
 */
export class AuditEntryId1764413040000 implements MigrationInterface {
  name = 'AuditEntryId1764413040000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE authz_audit ADD COLUMN entry_id uuid');
    await q.query('CREATE UNIQUE INDEX authz_audit_entry_id_idx ON authz_audit (entry_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX authz_audit_entry_id_idx');
    await q.query('ALTER TABLE authz_audit DROP COLUMN entry_id');
  }
}
