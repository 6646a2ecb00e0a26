import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Manifests of the OCI registry face that are not one record: an image of several layers or of
 * none, and image indexes (Distribution Spec v1.1). Each is kept byte for byte under the digest
 * the client computed; the blobs it names are records of their own (a layer's CID is its
 * sha256), and `registry_manifest_refs` lists the records it stands on, its children's too.
 *
 * - a manifest is whole while all `record_refs` of its rows are there: a record deleted over
 *   gRPC takes its rows with it (ON DELETE CASCADE), and the manifest is no longer served;
 * - `subject_digest`: an index with a subject is listed by the referrers API under that digest.
 *
 * Named tags gain the kind 'manifest' (no record: record_cid is NULL).
 */
export class RegistryManifests1765000000000 implements MigrationInterface {
  name = 'RegistryManifests1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE registry_manifests (
      namespace text COLLATE "C" NOT NULL,
      digest text COLLATE "C" NOT NULL,
      media_type text COLLATE "C" NOT NULL,
      data bytea NOT NULL,
      subject_digest text COLLATE "C",
      record_refs integer NOT NULL CHECK (record_refs >= 0),
      creator_spiffe_id text NOT NULL,
      creator_trust_domain text COLLATE "C" NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (namespace, digest)
    )`);
    await q.query(`CREATE INDEX registry_manifests_subject_idx ON registry_manifests (namespace, subject_digest) WHERE subject_digest IS NOT NULL`);
    await q.query(`CREATE TABLE registry_manifest_refs (
      namespace text COLLATE "C" NOT NULL,
      digest text COLLATE "C" NOT NULL,
      record_cid text COLLATE "C" NOT NULL REFERENCES store_records (cid) ON DELETE CASCADE,
      PRIMARY KEY (namespace, digest, record_cid),
      FOREIGN KEY (namespace, digest) REFERENCES registry_manifests (namespace, digest) ON DELETE CASCADE
    )`);
    // The cascade of a record's delete.
    await q.query(`CREATE INDEX registry_manifest_refs_record_idx ON registry_manifest_refs (record_cid)`);
    await q.query(`ALTER TABLE registry_tags
      DROP CONSTRAINT registry_tags_kind_check,
      DROP CONSTRAINT registry_tags_check,
      ADD CONSTRAINT registry_tags_kind_check CHECK (kind IN ('record', 'referrer', 'subjectless', 'manifest')),
      ADD CONSTRAINT registry_tags_check CHECK ((kind IN ('subjectless', 'manifest')) = (record_cid IS NULL))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM registry_tags WHERE kind = 'manifest'`);
    await q.query(`ALTER TABLE registry_tags
      DROP CONSTRAINT registry_tags_kind_check,
      DROP CONSTRAINT registry_tags_check,
      ADD CONSTRAINT registry_tags_kind_check CHECK (kind IN ('record', 'referrer', 'subjectless')),
      ADD CONSTRAINT registry_tags_check CHECK ((kind = 'subjectless') = (record_cid IS NULL))`);
    await q.query('DROP TABLE registry_manifest_refs');
    await q.query('DROP TABLE registry_manifests');
  }
}
