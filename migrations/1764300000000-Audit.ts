import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The authorization audit trail (authz_audit). */
export class Audit1764300000000 implements MigrationInterface {
  name = 'Audit1764300000000';

  async up(_q: QueryRunner): Promise<void> {
    // filled in by the Audit change
  }

  async down(_q: QueryRunner): Promise<void> {
    // filled in by the Audit change
  }
}
