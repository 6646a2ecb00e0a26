import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { inTransaction, sql, sqlOn } from './sql';

/**
 * What a named tag points at: a record's manifest, a referrer kept with its subject's record, a
 * referrer kept without its subject, or a manifest kept as pushed (registry_manifests).
 */
export type TagTarget =
  | { readonly kind: 'record' | 'referrer'; readonly digest: string; readonly recordCid: string }
  | { readonly kind: 'subjectless' | 'manifest'; readonly digest: string };

export interface TagPointer {
  readonly namespace: string;
  readonly tag: string;
  readonly target: TagTarget;
  readonly creatorSpiffeId: string;
  readonly creatorTrustDomain: string;
}

/** Second key of pg_advisory_xact_lock(int, int) (its own key space): the namespace's hash. */
const LOCK_CLASS = 0x54414753; // 'TAGS'

/**
 * Named tags of the registry face (registry_tags): mutable pointers from (namespace, tag) to a
 * manifest digest. A tag pointing at a record's manifest goes with the record (the delete
 * cascades); record CIDs, the tags that never move, are not kept here.
 */
export class RegistryTagRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Points `tag` at `target` (a new tag, or one moved). Writes to one namespace are serialized
   * (a transaction-level advisory lock shared by every replica) so the cap holds.
   * @throws ParleyError resource_exhausted (a new tag beyond `maxPerNamespace`)
   */
  async point(p: TagPointer, maxPerNamespace: number): Promise<void> {
    await inTransaction(this.ds, async (q) => {
      await sqlOn(q, 'SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [LOCK_CLASS, p.namespace]);
      const { rows } = await sqlOn<{ held: boolean; n: string }>(
        q,
        'SELECT bool_or(tag = $2) AS held, count(*) AS n FROM registry_tags WHERE namespace = $1',
        [p.namespace, p.tag],
      );
      if (rows[0]?.held !== true && Number(rows[0]?.n ?? 0) >= maxPerNamespace) throw tooMany(p.namespace, maxPerNamespace);
      const recordCid = 'recordCid' in p.target ? p.target.recordCid : null;
      await sqlOn(
        q,
        `INSERT INTO registry_tags (namespace, tag, digest, kind, record_cid, creator_spiffe_id, creator_trust_domain)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (namespace, tag) DO UPDATE SET digest = EXCLUDED.digest, kind = EXCLUDED.kind, record_cid = EXCLUDED.record_cid,
           creator_spiffe_id = EXCLUDED.creator_spiffe_id, creator_trust_domain = EXCLUDED.creator_trust_domain, updated_at = now()`,
        [p.namespace, p.tag, p.target.digest, p.target.kind, recordCid, p.creatorSpiffeId, p.creatorTrustDomain],
      );
    });
  }

  /** Whether `tag` could be pointed now: it exists, or the namespace holds fewer than `maxPerNamespace` tags. @throws ParleyError resource_exhausted */
  async requireRoom(namespace: string, tag: string, maxPerNamespace: number): Promise<void> {
    const { rows } = await sql<{ held: boolean; n: string }>(this.ds, 'SELECT bool_or(tag = $2) AS held, count(*) AS n FROM registry_tags WHERE namespace = $1', [namespace, tag]);
    if (rows[0]?.held !== true && Number(rows[0]?.n ?? 0) >= maxPerNamespace) throw tooMany(namespace, maxPerNamespace);
  }

  /** What `tag` of `namespace` points at; undefined when it is no tag there. */
  async find(namespace: string, tag: string): Promise<TagTarget | undefined> {
    const { rows } = await sql<{ digest: string; kind: TagTarget['kind']; record_cid: string | null }>(
      this.ds,
      'SELECT digest, kind, record_cid FROM registry_tags WHERE namespace = $1 AND tag = $2',
      [namespace, tag],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    if (row.kind === 'manifest') return { kind: 'manifest', digest: row.digest };
    if (row.kind === 'subjectless' || row.record_cid === null) return { kind: 'subjectless', digest: row.digest };
    return { kind: row.kind, digest: row.digest, recordCid: row.record_cid };
  }

  /** Removes `tag` of `namespace`; false when it is no tag there. */
  async remove(namespace: string, tag: string): Promise<boolean> {
    const { count } = await sql(this.ds, 'DELETE FROM registry_tags WHERE namespace = $1 AND tag = $2', [namespace, tag]);
    return count > 0;
  }

  /** Removes the named tags of `namespace` pointing at `digest` (its manifest was deleted); how many. */
  async removeTo(namespace: string, digest: string): Promise<number> {
    const { count } = await sql(this.ds, 'DELETE FROM registry_tags WHERE namespace = $1 AND digest = $2', [namespace, digest]);
    return count;
  }

  /** The named tags of `namespace`, lexically (byte order), at most `limit`. */
  async names(namespace: string, limit: number): Promise<string[]> {
    const { rows } = await sql<{ tag: string }>(this.ds, 'SELECT tag FROM registry_tags WHERE namespace = $1 ORDER BY tag LIMIT $2', [namespace, limit]);
    return rows.map((r) => r.tag);
  }
}

function tooMany(namespace: string, max: number): ParleyError {
  return new ParleyError('resource_exhausted', `tag manifest: namespace ${namespace} would hold more than the maximum of ${max} named tags (registry.maxTags)`);
}
