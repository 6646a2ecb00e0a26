import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Referrers whose subject is not (yet) a record: the OCI registry face must accept a manifest
 * with a `subject` before the subject exists (Distribution Spec v1.1). store_referrers cannot
 * hold them: there a document belongs to a record (record_cid references store_records and
 * its rows go with the record). Here a row belongs to a namespace and a subject digest.
 *
 * - kind 'manifest': the referrer manifest, byte for byte, under `digest` (its sha256);
 * - kind 'blob': a blob it names (config or layer), copied in with it, so it stays readable.
 *
 * The referrers API lists the manifests of a subject digest together with the referrers of
 * the subject's record when that record exists (read time; nothing is moved). Rows do not go
 * with a record (no manifest DELETE is built); the writer caps them per subject digest and per
 * namespace.
 */
export class SubjectlessReferrers1764800000000 implements MigrationInterface {
  name = 'SubjectlessReferrers1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE store_subjectless_referrers (
      seq bigserial PRIMARY KEY,
      namespace text COLLATE "C" NOT NULL,
      subject_digest text COLLATE "C" NOT NULL,
      kind text COLLATE "C" NOT NULL CHECK (kind IN ('manifest', 'blob')),
      digest text COLLATE "C" NOT NULL,
      media_type text COLLATE "C" NOT NULL,
      data bytea NOT NULL,
      creator_spiffe_id text NOT NULL,
      creator_trust_domain text COLLATE "C" NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (namespace, subject_digest, kind, digest)
    )`);
    // By digest (GET of a manifest or blob) within a namespace.
    await q.query(`CREATE INDEX store_subjectless_referrers_digest_idx ON store_subjectless_referrers (namespace, digest)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE store_subjectless_referrers');
  }
}
