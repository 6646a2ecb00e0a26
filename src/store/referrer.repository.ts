import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { ContentId } from './domain/content-id';
import type { Annotations } from './domain/names';
import { recordNotFound, type ReferrerDocument, type ReferrerMeta } from './domain/record';
import { byteaFromBase64, inTransaction, sql, sqlOn } from './sql';

export interface ReferrerInput {
  readonly type: string;
  readonly mediaType: string;
  readonly data: Buffer;
  readonly annotations: Annotations;
  readonly creatorSpiffeId: string;
  readonly creatorTrustDomain: string;
}

/** A document's metadata and size, without its bytes (listings). */
export interface ReferrerSummary extends ReferrerMeta {
  /** Size of the document in bytes. */
  readonly size: number;
}

interface ReferrerMetaRow {
  seq: string;
  cid: string;
  record_cid: string;
  type: string;
  media_type: string;
  annotations: Annotations;
  creator_spiffe_id: string;
  created_us: string;
}

interface ReferrerRow extends ReferrerMetaRow {
  data: string;
}

interface ReferrerSummaryRow extends ReferrerMetaRow {
  size: number;
}

const META_COLUMNS = `seq, cid, record_cid, type, media_type, annotations, creator_spiffe_id,
       (extract(epoch FROM created_at) * 1000000)::bigint AS created_us`;

function metaOf(row: ReferrerMetaRow): ReferrerMeta & { seq: bigint } {
  return {
    seq: BigInt(row.seq),
    cid: ContentId.parse(row.cid),
    recordCid: ContentId.parse(row.record_cid),
    type: row.type,
    mediaType: row.media_type,
    annotations: Object.freeze({ ...(row.annotations ?? {}) }),
    creatorSpiffeId: row.creator_spiffe_id,
    createdAtMicros: BigInt(row.created_us),
  };
}

/** The WHERE clause and parameters of one page of a record's referrers. */
function pageQuery(record: ContentId, type: string | undefined, afterSeq: bigint, limit: number): { where: string; params: unknown[] } {
  const params: unknown[] = [record.toString(), afterSeq.toString(), limit];
  let where = 'record_cid = $1 AND seq > $2';
  if (type !== undefined) {
    params.push(type);
    where += ' AND type = $4';
  }
  return { where, params };
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

  /**
   * Up to `limit` documents of a record after position `afterSeq`, oldest first, with their
   * bytes (for PullReferrer, which returns them); listings use `pageSummaries`.
   */
  async page(record: ContentId, type: string | undefined, afterSeq: bigint, limit: number): Promise<Array<ReferrerDocument & { seq: bigint }>> {
    const { where, params } = pageQuery(record, type, afterSeq, limit);
    const { rows } = await sql<ReferrerRow>(
      this.ds,
      `SELECT ${META_COLUMNS}, encode(data, 'base64') AS data FROM store_referrers WHERE ${where} ORDER BY seq LIMIT $3`,
      params,
    );
    return rows.map((row) => ({ ...metaOf(row), data: byteaFromBase64(row.data) }));
  }

  /**
   * Like `page`, but metadata and sizes only: the documents are not read (octet_length of a
   * bytea comes from its header, so TOASTed documents are not fetched either).
   */
  async pageSummaries(record: ContentId, type: string | undefined, afterSeq: bigint, limit: number): Promise<Array<ReferrerSummary & { seq: bigint }>> {
    const { where, params } = pageQuery(record, type, afterSeq, limit);
    const { rows } = await sql<ReferrerSummaryRow>(
      this.ds,
      `SELECT ${META_COLUMNS}, octet_length(data) AS size FROM store_referrers WHERE ${where} ORDER BY seq LIMIT $3`,
      params,
    );
    return rows.map((row) => ({ ...metaOf(row), size: Number(row.size) }));
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
