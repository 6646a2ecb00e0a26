import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Authorization rules (authz_rules). */
export class Policies1764300100000 implements MigrationInterface {
  name = 'Policies1764300100000';

  async up(_q: QueryRunner): Promise<void> {
    // filled in by the Policies change
  }

  async down(_q: QueryRunner): Promise<void> {
    // filled in by the Policies change
  }
}
