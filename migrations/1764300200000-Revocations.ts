import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Revocations and per-trust-domain IP allowlists.
 *
 * A revocation names a SPIFFE ID (canonical text) or the SHA-256 fingerprint of one leaf
 * certificate (64 lowercase hex digits); values are normalized by the application before
 * they are stored, so the unique key compares canonical forms. An expired revocation stops
 * applying but stays listed until removed.
 *
 * An allowlist is the set of CIDR blocks a trust domain's workloads may connect from; a
 * trust domain without a row is not restricted by address.
 */
export class Revocations1764300200000 implements MigrationInterface {
  name = 'Revocations1764300200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE authz_revocations (
      id bigserial PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('spiffe_id', 'fingerprint')),
      value text COLLATE "C" NOT NULL CHECK (value <> ''),
      reason text NOT NULL DEFAULT '',
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz,
      UNIQUE (kind, value)
    )`);

    await q.query(`CREATE TABLE authz_allowlists (
      trust_domain text COLLATE "C" PRIMARY KEY,
      cidrs text[] NOT NULL,
      updated_by text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE authz_allowlists');
    await q.query('DROP TABLE authz_revocations');
  }
}
