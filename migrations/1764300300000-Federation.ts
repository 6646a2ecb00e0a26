import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Federation relationships, partner bundles and our published bundle. */
export class Federation1764300300000 implements MigrationInterface {
  name = 'Federation1764300300000';

  async up(_q: QueryRunner): Promise<void> {
    // filled in by the Federation change
  }

  async down(_q: QueryRunner): Promise<void> {
    // filled in by the Federation change
  }
}
