import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Revocations and per-trust-domain IP allowlists. */
export class Revocations1764300200000 implements MigrationInterface {
  name = 'Revocations1764300200000';

  async up(_q: QueryRunner): Promise<void> {
    // filled in by the Revocations change
  }

  async down(_q: QueryRunner): Promise<void> {
    // filled in by the Revocations change
  }
}
