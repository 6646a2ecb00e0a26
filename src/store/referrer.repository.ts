import type { DataSource } from 'typeorm';
import { ParleyError } from '../common/errors';
import { ContentId } from './domain/content-id';
import type { Annotations } from './domain/names';
import { recordNotFound, type ReferrerDocument } from './domain/record';
import { byteaFromBase64, inTransaction, sql, sqlOn } from './sql';

export interface ReferrerInput {
  readonly type: string;
  readonly mediaType: string;
  readonly data: Buffer;
  readonly annotations: Annotations;
  readonly creatorSpiffeId: string;
  readonly creatorTrustDomain: string;
}

interface ReferrerRow {
  seq: string;
  cid: string;
  record_cid: string;
  type: string;
  media_type: string;
  data: string;
  annotations: Annotations;
  creator_spiffe_id: string;
  created_us: string;
}

/** Documents attached to records (signatures, attestations, provenance): small, stored inline. */
export class ReferrerRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Attaches a document; attaching the same bytes again returns the same CID. Pushes to one
   * record are serialized (row lock on the record) so the per-record limit holds.
   * @throws ParleyError not_found (no such record) | resource_exhausted (too many referrers)
   */
  async put(record: ContentId, input: ReferrerInput, maxPerRecord: number): Promise<ContentId> {
    const cid = ContentId.of(input.data);
    await inTransaction(this.ds, async (q) => {
      const found = await sqlOn(q, 'SELECT 1 FROM store_records WHERE cid = $1 FOR NO KEY UPDATE', [record.toString()]);
      if (found.rows.length === 0) throw recordNotFound(record);
      const existing = await sqlOn(q, 'SELECT 1 FROM store_referrers WHERE record_cid = $1 AND cid = $2', [record.toString(), cid.toString()]);
      if (existing.rows.length > 0) return;
      const { rows } = await sqlOn<{ n: string }>(q, 'SELECT count(*) AS n FROM store_referrers WHERE record_cid = $1', [record.toString()]);
      if (Number(rows[0].n) >= maxPerRecord) {
        throw new ParleyError('resource_exhausted', `push referrer: record ${record.toString()} has the maximum of ${maxPerRecord} referrers`);
      }
      await sqlOn(
        q,
        `INSERT INTO store_referrers (record_cid, cid, type, media_type, data, annotations, creator_spiffe_id, creator_trust_domain)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)`,
        [record.toString(), cid.toString(), input.type, input.mediaType, input.data, JSON.stringify(input.annotations), input.creatorSpiffeId, input.creatorTrustDomain],
      );
    });
    return cid;
  }

  /** Up to `limit` documents of a record after position `afterSeq`, oldest first. */
  async page(record: ContentId, type: string | undefined, afterSeq: bigint, limit: number): Promise<Array<ReferrerDocument & { seq: bigint }>> {
    const params: unknown[] = [record.toString(), afterSeq.toString(), limit];
    let typeClause = '';
    if (type !== undefined) {
      params.push(type);
      typeClause = 'AND type = $4';
    }
    const { rows } = await sql<ReferrerRow>(
      this.ds,
      `SELECT seq, cid, record_cid, type, media_type, encode(data, 'base64') AS data, annotations, creator_spiffe_id,
              (extract(epoch FROM created_at) * 1000000)::bigint AS created_us
         FROM store_referrers WHERE record_cid = $1 AND seq > $2 ${typeClause} ORDER BY seq LIMIT $3`,
      params,
    );
    return rows.map((row) => ({
      seq: BigInt(row.seq),
      cid: ContentId.parse(row.cid),
      recordCid: ContentId.parse(row.record_cid),
      type: row.type,
      mediaType: row.media_type,
      data: byteaFromBase64(row.data),
      annotations: Object.freeze({ ...(row.annotations ?? {}) }),
      creatorSpiffeId: row.creator_spiffe_id,
      createdAtMicros: BigInt(row.created_us),
    }));
  }

  /** @throws ParleyError not_found (no such record, or no such document on it) */
  async delete(record: ContentId, cid: ContentId): Promise<void> {
    const { count } = await sql(this.ds, 'DELETE FROM store_referrers WHERE record_cid = $1 AND cid = $2', [record.toString(), cid.toString()]);
    if (count > 0) return;
    const found = await sql(this.ds, 'SELECT 1 FROM store_records WHERE cid = $1', [record.toString()]);
    if (found.rows.length === 0) throw recordNotFound(record);
    throw new ParleyError('not_found', `delete referrer: record ${record.toString()} has no referrer ${cid.toString()}`, { details: { cid: cid.toString() } });
  }

  /** Whether a record exists (PullReferrer answers NOT_FOUND for unknown records). */
  async recordExists(record: ContentId): Promise<boolean> {
    const { rows } = await sql(this.ds, 'SELECT 1 FROM store_records WHERE cid = $1', [record.toString()]);
    return rows.length > 0;
  }
}
