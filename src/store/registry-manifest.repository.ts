import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { byteaFromBase64, inTransaction, sql, sqlOn, sqlState } from './sql';

/** A manifest of the registry face kept as pushed (not one record): an image of several layers or none, or an image index. */
export interface KeptManifest {
  readonly namespace: string;
  /** `sha256:<hex>` of `data` (computed by the caller from the bytes it checked). */
  readonly digest: string;
  readonly mediaType: string;
  readonly data: Buffer;
  /** The digest of its subject, for one listed by the referrers API. */
  readonly subjectDigest?: string;
  /** The CIDs of the records it stands on (its blobs', its children's). */
  readonly recordCids: readonly string[];
  readonly creatorSpiffeId: string;
  readonly creatorTrustDomain: string;
}

/** A kept manifest as read back: whole (every record it stands on is there). */
export interface WholeManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly data: Buffer;
  readonly recordCids: readonly string[];
}

/** Second key of pg_advisory_xact_lock(int, int) (its own key space): the namespace's hash. */
const LOCK_CLASS = 0x4d414e49; // 'MANI'

interface Row {
  digest: string;
  media_type: string;
  data: string;
  record_refs: number;
  cids: string[] | null;
}

const WHOLE = `SELECT m.digest, m.media_type, encode(m.data, 'base64') AS data, m.record_refs,
  (SELECT array_agg(r.record_cid ORDER BY r.record_cid) FROM registry_manifest_refs r WHERE r.namespace = m.namespace AND r.digest = m.digest) AS cids
  FROM registry_manifests m`;

function whole(row: Row): WholeManifest | undefined {
  const cids = row.cids ?? [];
  if (cids.length < row.record_refs) return undefined;
  return { digest: row.digest, mediaType: row.media_type, data: byteaFromBase64(row.data), recordCids: cids };
}

/**
 * Manifests of the registry face kept byte for byte (registry_manifests) with the records they
 * stand on (registry_manifest_refs). A record's delete takes its rows with it; a manifest that
 * lost one is no longer whole and is not read back.
 */
export class RegistryManifestRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Keeps a manifest (the same digest again, whole, changes nothing). Puts to one namespace are
   * serialized (a transaction-level advisory lock shared by every replica) so the cap holds;
   * each first removes the namespace's manifests that are no longer whole, and their named tags.
   * @throws ParleyError resource_exhausted (beyond `maxPerNamespace`); not_found (a record it stands on was deleted meanwhile)
   */
  async put(m: KeptManifest, maxPerNamespace: number): Promise<void> {
    const cids = [...new Set(m.recordCids)];
    try {
      await inTransaction(this.ds, async (q) => {
        await sqlOn(q, 'SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [LOCK_CLASS, m.namespace]);
        // Manifests no longer whole (a record they stood on was deleted) are not served: they go now, with their named tags,
        // so they count against no cap and the same manifest pushed again is kept whole again.
        const { rows: broken } = await sqlOn<{ digest: string }>(
          q,
          `DELETE FROM registry_manifests m WHERE m.namespace = $1
             AND m.record_refs > (SELECT count(*) FROM registry_manifest_refs r WHERE r.namespace = m.namespace AND r.digest = m.digest)
           RETURNING m.digest`,
          [m.namespace],
        );
        if (broken.length > 0) {
          await sqlOn(q, `DELETE FROM registry_tags WHERE namespace = $1 AND kind = 'manifest' AND digest = ANY($2::text[])`, [m.namespace, broken.map((b) => b.digest)]);
        }
        const { rows } = await sqlOn<{ held: boolean; n: string }>(q, 'SELECT bool_or(digest = $2) AS held, count(*) AS n FROM registry_manifests WHERE namespace = $1', [m.namespace, m.digest]);
        if (rows[0]?.held === true) return;
        if (Number(rows[0]?.n ?? 0) >= maxPerNamespace) {
          throw new ParleyError('resource_exhausted', `put manifest: namespace ${m.namespace} would hold more than the maximum of ${maxPerNamespace} manifests kept as pushed (registry.maxManifests)`);
        }
        await sqlOn(
          q,
          `INSERT INTO registry_manifests (namespace, digest, media_type, data, subject_digest, record_refs, creator_spiffe_id, creator_trust_domain)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [m.namespace, m.digest, m.mediaType, m.data, m.subjectDigest ?? null, cids.length, m.creatorSpiffeId, m.creatorTrustDomain],
        );
        if (cids.length > 0) {
          await sqlOn(q, 'INSERT INTO registry_manifest_refs (namespace, digest, record_cid) SELECT $1, $2, unnest($3::text[])', [m.namespace, m.digest, cids]);
        }
      });
    } catch (err) {
      if (sqlState(err) === '23503') throw new ParleyError('not_found', `put manifest: a record ${m.digest} stands on was deleted meanwhile; push it again`);
      throw err;
    }
  }

  /** Removes the manifest of `namespace` with this digest (the records it stood on stay); false when there is none. */
  async remove(namespace: string, digest: string): Promise<boolean> {
    const { count } = await sql(this.ds, 'DELETE FROM registry_manifests WHERE namespace = $1 AND digest = $2', [namespace, digest]);
    return count > 0;
  }

  /** The whole manifest of `namespace` with this digest; undefined when there is none (or a record it stood on is gone). */
  async find(namespace: string, digest: string): Promise<WholeManifest | undefined> {
    const { rows } = await sql<Row>(this.ds, `${WHOLE} WHERE m.namespace = $1 AND m.digest = $2`, [namespace, digest]);
    return rows[0] === undefined ? undefined : whole(rows[0]);
  }

  /** The whole manifests of `namespace` whose subject is `subjectDigest`, oldest first, at most `limit`. */
  async referrersOf(namespace: string, subjectDigest: string, limit: number): Promise<WholeManifest[]> {
    const { rows } = await sql<Row>(this.ds, `${WHOLE} WHERE m.namespace = $1 AND m.subject_digest = $2 ORDER BY m.created_at, m.digest LIMIT $3`, [namespace, subjectDigest, limit]);
    return rows.map(whole).filter((m): m is WholeManifest => m !== undefined);
  }
}
