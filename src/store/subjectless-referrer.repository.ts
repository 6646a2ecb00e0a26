import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { subjectlessAdditions, type SubjectlessKind as Kind } from './domain/subjectless';
import { byteaFromBase64, inTransaction, sql, sqlOn } from './sql';

/** A document kept by digest: a referrer manifest or a blob it names. */
export interface DigestDocument {
  /** `sha256:<hex>` of `data` (computed by the caller from the bytes it checked). */
  readonly digest: string;
  readonly mediaType: string;
  readonly data: Buffer;
}

/** A referrer pushed before its subject, with the blobs it names. */
export interface SubjectlessReferrer {
  readonly namespace: string;
  readonly subjectDigest: string;
  readonly manifest: DigestDocument;
  readonly blobs: readonly DigestDocument[];
  readonly creatorSpiffeId: string;
  readonly creatorTrustDomain: string;
}

/** How many rows (manifests and blobs together) one subject digest, and one namespace, may hold. */
export interface SubjectlessCaps {
  readonly perSubject: number;
  readonly perNamespace: number;
}

/** Second key of pg_advisory_xact_lock(int, int) (its own key space): the namespace's hash. */
const LOCK_CLASS = 0x5355424a; // 'SUBJ'

/**
 * Referrers whose subject is a digest, not a record (store_subjectless_referrers): the OCI
 * registry face keeps a manifest with a subject that is not (yet) there, and its blobs. Rows
 * belong to a namespace and a subject digest; they do not go with any record.
 */
export class SubjectlessReferrerRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Keeps a referrer and its blobs at once; keeping the same manifest again changes nothing.
   * Puts to one namespace are serialized (a transaction-level advisory lock: every replica
   * shares the database) so the caps hold.
   * @throws ParleyError resource_exhausted (a cap would be exceeded)
   */
  async put(r: SubjectlessReferrer, caps: SubjectlessCaps): Promise<void> {
    await inTransaction(this.ds, async (q) => {
      await sqlOn(q, 'SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [LOCK_CLASS, r.namespace]);
      const { rows: held } = await sqlOn<{ kind: Kind; digest: string }>(
        q,
        'SELECT kind, digest FROM store_subjectless_referrers WHERE namespace = $1 AND subject_digest = $2',
        [r.namespace, r.subjectDigest],
      );
      const wanted = [{ kind: 'manifest' as const, digest: r.manifest.digest, doc: r.manifest }, ...r.blobs.map((doc) => ({ kind: 'blob' as const, digest: doc.digest, doc }))];
      const fresh = subjectlessAdditions(held, wanted);
      if (fresh.length === 0) return;
      if (held.length + fresh.length > caps.perSubject) {
        throw new ParleyError('resource_exhausted', `push referrer: subject ${r.subjectDigest} of namespace ${r.namespace} would hold more than the maximum of ${caps.perSubject} referrer documents (manifests and their blobs)`);
      }
      const { rows: count } = await sqlOn<{ n: string }>(q, 'SELECT count(*) AS n FROM store_subjectless_referrers WHERE namespace = $1', [r.namespace]);
      if (Number(count[0].n) + fresh.length > caps.perNamespace) {
        throw new ParleyError('resource_exhausted', `push referrer: namespace ${r.namespace} would hold more than the maximum of ${caps.perNamespace} documents of referrers whose subject is not there`);
      }
      for (const { kind, doc } of fresh) {
        await sqlOn(
          q,
          `INSERT INTO store_subjectless_referrers (namespace, subject_digest, kind, digest, media_type, data, creator_spiffe_id, creator_trust_domain)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [r.namespace, r.subjectDigest, kind, doc.digest, doc.mediaType, doc.data, r.creatorSpiffeId, r.creatorTrustDomain],
        );
      }
    });
  }

  /** The referrer manifest of `namespace` with this digest (whatever its subject). */
  manifest(namespace: string, digest: string): Promise<DigestDocument | undefined> {
    return this.byDigest(namespace, 'manifest', digest);
  }

  /** A blob of `namespace` with this digest, kept with a subjectless referrer. */
  blob(namespace: string, digest: string): Promise<DigestDocument | undefined> {
    return this.byDigest(namespace, 'blob', digest);
  }

  /**
   * Removes the referrer manifest of `namespace` with this digest (under every subject it is
   * kept for), and the blobs kept with it that no other manifest of the same subject names
   * (`blobsOf` reads a manifest's blob digests). Serialized with puts to the namespace.
   * @returns false when there is no such manifest
   */
  async removeManifest(namespace: string, digest: string, blobsOf: (manifest: Buffer) => readonly string[]): Promise<boolean> {
    return inTransaction(this.ds, async (q) => {
      await sqlOn(q, 'SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [LOCK_CLASS, namespace]);
      const { rows: gone } = await sqlOn<{ subject_digest: string }>(
        q,
        `DELETE FROM store_subjectless_referrers WHERE namespace = $1 AND kind = 'manifest' AND digest = $2 RETURNING subject_digest`,
        [namespace, digest],
      );
      for (const subject of new Set(gone.map((r) => r.subject_digest))) {
        const { rows: left } = await sqlOn<{ data: string }>(
          q,
          `SELECT encode(data, 'base64') AS data FROM store_subjectless_referrers WHERE namespace = $1 AND subject_digest = $2 AND kind = 'manifest'`,
          [namespace, subject],
        );
        const named = new Set(left.flatMap((r) => blobsOf(byteaFromBase64(r.data))));
        await sqlOn(
          q,
          `DELETE FROM store_subjectless_referrers WHERE namespace = $1 AND subject_digest = $2 AND kind = 'blob' AND NOT (digest = ANY($3::text[]))`,
          [namespace, subject, [...named]],
        );
      }
      return gone.length > 0;
    });
  }

  /** Removes the blob of `namespace` with this digest from every referrer it is kept with; false when there is none. */
  async removeBlob(namespace: string, digest: string): Promise<boolean> {
    const { count } = await sql(this.ds, `DELETE FROM store_subjectless_referrers WHERE namespace = $1 AND kind = 'blob' AND digest = $2`, [namespace, digest]);
    return count > 0;
  }

  /** The referrer manifests of `namespace` whose subject is `subjectDigest`, oldest first, at most `limit`. */
  async manifestsOf(namespace: string, subjectDigest: string, limit: number): Promise<DigestDocument[]> {
    const { rows } = await sql<{ digest: string; media_type: string; data: string }>(
      this.ds,
      `SELECT digest, media_type, encode(data, 'base64') AS data FROM store_subjectless_referrers
       WHERE namespace = $1 AND subject_digest = $2 AND kind = 'manifest' ORDER BY seq LIMIT $3`,
      [namespace, subjectDigest, limit],
    );
    return rows.map((row) => ({ digest: row.digest, mediaType: row.media_type, data: byteaFromBase64(row.data) }));
  }

  private async byDigest(namespace: string, kind: Kind, digest: string): Promise<DigestDocument | undefined> {
    const { rows } = await sql<{ media_type: string; data: string }>(
      this.ds,
      `SELECT media_type, encode(data, 'base64') AS data FROM store_subjectless_referrers
       WHERE namespace = $1 AND digest = $2 AND kind = $3 ORDER BY seq LIMIT 1`,
      [namespace, digest, kind],
    );
    return rows.length === 0 ? undefined : { digest, mediaType: rows[0].media_type, data: byteaFromBase64(rows[0].data) };
  }
}
