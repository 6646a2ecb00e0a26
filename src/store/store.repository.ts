import type { DataSource } from 'typeorm';
import type { PayloadUpload } from './payload-backend';
import { PostgresPayloads, type PayloadPools } from './postgres-payloads';
import type { ObjectPayloads } from './object-payloads';
import { RoutedPayloads, type PayloadBackendName } from './routed-payloads';
import { S3Payloads } from './s3-payloads';
import { ContentId } from './domain/content-id';
import type { ListQuery } from './domain/list-query';
import type { Annotations } from './domain/names';
import type { RecordDraft, RecordMeta } from './domain/record';
import { ReferrerRepository } from './referrer.repository';
import { SubjectlessReferrerRepository } from './subjectless-referrer.repository';
import { RegistryTagRepository } from './registry-tag.repository';
import { RegistryManifestRepository } from './registry-manifest.repository';
import { inTransaction, prepared, sql, sqlOn } from './sql';
import { RecordCache } from './domain/record-cache';
import { notifyChange } from '../database';

/** Change-feed channel announcing deleted records (payload: the CID). */
export const STORE_RECORDS_CHANNEL = 'parley_store_records';

/** A visible record with where its payload lives. */
export interface StoredRecord extends RecordMeta {
  /** Position in List order. */
  readonly seq: bigint;
  readonly blobId: string;
  readonly chunkBytes: number;
}

interface RecordRow {
  seq: string;
  cid: string;
  blob_id: string;
  namespace: string;
  media_type: string;
  size: string;
  annotations: Annotations;
  creator_spiffe_id: string;
  creator_trust_domain: string;
  created_us: string;
  chunk_bytes: number;
}

const RECORD_COLUMNS = `r.seq, r.cid, r.blob_id, r.namespace, r.media_type, r.size, r.annotations, r.creator_spiffe_id,
  r.creator_trust_domain, (extract(epoch FROM r.created_at) * 1000000)::bigint AS created_us, b.chunk_bytes`;
const RECORD_FROM = 'store_records r JOIN store_blobs b ON b.id = r.blob_id';
const FIND_ONE = `SELECT ${RECORD_COLUMNS} FROM ${RECORD_FROM} WHERE r.cid = $1`;
const FIND_MANY = `SELECT ${RECORD_COLUMNS} FROM ${RECORD_FROM} WHERE r.cid = ANY($1::text[])`;

/**
 * The store's database code (with its payload backend and ReferrerRepository): raw SQL through
 * the TypeORM DataSource's query runners. Records are the commit marker of a push: a
 * record row exists only once its blob holds every chunk and the digest was checked.
 */
export class StoreRepository {
  readonly payloads: RoutedPayloads;
  readonly referrers: ReferrerRepository;
  /** Referrers pushed through the registry face before their subject (by namespace and subject digest). */
  readonly subjectless: SubjectlessReferrerRepository;
  /** Named tags of the registry face (mutable pointers to manifest digests; they go with their record). */
  readonly tags: RegistryTagRepository;
  /** Manifests of the registry face that are not one record (several layers or none, image indexes), kept as pushed. */
  readonly manifests: RegistryManifestRepository;

  /** Record metadata by CID (records never change, only disappear); absent = always ask the database. */
  private readonly cache: RecordCache<StoredRecord> | undefined;

  constructor(
    private readonly ds: DataSource,
    options: { recordCacheEntries?: number; pools?: PayloadPools; objects?: ObjectPayloads; payloads?: PayloadBackendName } = {},
  ) {
    const s3 = options.objects === undefined ? undefined : new S3Payloads(ds, options.objects);
    this.payloads = new RoutedPayloads(ds, new PostgresPayloads(ds, options.pools), s3, options.payloads);
    this.referrers = new ReferrerRepository(ds);
    this.subjectless = new SubjectlessReferrerRepository(ds);
    this.tags = new RegistryTagRepository(ds);
    this.manifests = new RegistryManifestRepository(ds);
    this.cache = options.recordCacheEntries ? new RecordCache(options.recordCacheEntries) : undefined;
  }

  /**
   * A record was deleted (here or on another replica: STORE_RECORDS_CHANNEL); `undefined`
   * after a lost connection to the change feed: forget everything.
   */
  forget(cid?: string): void {
    if (cid === undefined) this.cache?.clear();
    else this.cache?.evict(cid);
  }

  /**
   * Makes a fully written and verified upload visible as a record, in the transaction that
   * completes the upload. When a record with this CID exists already (also one committed a
   * moment ago by a concurrent push of the same bytes: the unique CID serializes them), the
   * upload keeps nothing and `created` is false. `beforeCommit` runs last inside the
   * transaction; throwing rolls it back (the caller then aborts the upload).
   */
  async commit(upload: PayloadUpload, cid: ContentId, size: number, draft: RecordDraft, beforeCommit: () => void = () => undefined): Promise<{ created: boolean }> {
    const created = await upload.commit(size, async (statement) => {
      const inserted = await statement(
        `INSERT INTO store_records (cid, blob_id, namespace, media_type, size, annotations, creator_spiffe_id, creator_trust_domain)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) ON CONFLICT (cid) DO NOTHING RETURNING seq`,
        [cid.toString(), upload.id, draft.namespace, draft.mediaType, size, JSON.stringify(draft.annotations), draft.creatorSpiffeId, draft.creatorTrustDomain],
      );
      if (inserted.rows.length === 0) return false;
      beforeCommit(); // throws (rolling back) when the push was cancelled meanwhile
      return true;
    });
    return { created };
  }

  /**
   * The cached record of a CID given as text in its canonical form (base32, as stored), or
   * undefined — then parse it and `find` it. Lets a repeated Lookup skip parsing the CID.
   */
  cachedByText(text: unknown): StoredRecord | undefined {
    return typeof text === 'string' ? this.cache?.get(text) : undefined;
  }

  async find(cid: ContentId): Promise<StoredRecord | undefined> {
    const key = cid.toString();
    const cached = this.cache?.get(key);
    if (cached !== undefined) return cached;
    const generation = this.cache?.generation ?? 0;
    const rows = await prepared<RecordRow>(this.ds, 'store_find_record', FIND_ONE, [key]);
    if (rows.length === 0) return undefined;
    // The row's CID is the one asked for (`cid = $1` on the canonical text): not parsed again.
    const record = toRecord(rows[0], rows[0].cid === key ? cid : undefined);
    this.cache?.setIfUnchanged(key, record, generation);
    return record;
  }

  /** The records of these CIDs that exist, in no particular order. */
  async findMany(cids: readonly ContentId[]): Promise<StoredRecord[]> {
    if (cids.length === 0) return [];
    // One CID (the usual Lookup): `= $1` runs ~2.7x the calls/s of `= ANY($1::text[])`.
    if (cids.length === 1) {
      const one = await this.find(cids[0]!);
      return one === undefined ? [] : [one];
    }
    const rows = await prepared<RecordRow>(this.ds, 'store_find_records', FIND_MANY, [cids.map((c) => c.toString())]);
    return rows.map((row) => toRecord(row));
  }

  /** Removes a record and its referrers at once, then its payload in batches. False when unknown. */
  async delete(cid: ContentId): Promise<boolean> {
    const blobId = await inTransaction(this.ds, async (q) => {
      const { rows } = await sqlOn<{ blob_id: string }>(q, 'DELETE FROM store_records WHERE cid = $1 RETURNING blob_id', [cid.toString()]);
      if (rows.length === 0) return undefined;
      // Every replica forgets the record when this commits.
      await notifyChange(q, STORE_RECORDS_CHANNEL, cid.toString());
      await sqlOn(q, `UPDATE store_blobs SET state = 'purging', touched_at = now() WHERE id = $1`, [rows[0].blob_id]);
      return String(rows[0].blob_id);
    });
    this.forget(cid.toString());
    if (blobId === undefined) return false;
    await this.payloads.purge(blobId);
    return true;
  }

  /**
   * One page of records matching the filter, in `seq` order (the order records became
   * visible), strictly after `afterSeq`. `hasMore` tells whether another page follows.
   */
  async list(query: ListQuery): Promise<{ records: StoredRecord[]; hasMore: boolean }> {
    const where: string[] = ['r.seq > $1'];
    const params: unknown[] = [query.afterSeq.toString()];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const f = query.filter;
    if (f.namespace !== undefined) {
      if (f.includeSubNamespaces) {
        // "/" (0x2f) is followed by "0" (0x30): [ns/, ns0) is exactly the names below ns (COLLATE "C").
        where.push(`(r.namespace = ${param(f.namespace)} OR (r.namespace >= ${param(`${f.namespace}/`)} AND r.namespace < ${param(`${f.namespace}0`)}))`);
      } else where.push(`r.namespace = ${param(f.namespace)}`);
    }
    if (Object.keys(f.annotations).length > 0) where.push(`r.annotations @> ${param(JSON.stringify(f.annotations))}::jsonb`);
    if (f.mediaType !== undefined) where.push(`r.media_type = ${param(f.mediaType)}`);
    if (f.creatorTrustDomain !== undefined) where.push(`r.creator_trust_domain = ${param(f.creatorTrustDomain)}`);
    if (f.createdAfterMicros !== undefined) {
      where.push(`r.created_at > timestamptz 'epoch' + interval '1 microsecond' * ${param(f.createdAfterMicros.toString())}::bigint`);
    }
    const limit = param(query.pageSize + 1);
    const { rows } = await sql<RecordRow>(this.ds, `SELECT ${RECORD_COLUMNS} FROM ${RECORD_FROM} WHERE ${where.join(' AND ')} ORDER BY r.seq LIMIT ${limit}`, params);
    const records = rows.slice(0, query.pageSize).map((row) => toRecord(row));
    return { records, hasMore: rows.length > query.pageSize };
  }
}

function toRecord(row: RecordRow, known?: ContentId): StoredRecord {
  return Object.freeze({
    seq: BigInt(row.seq),
    cid: known ?? ContentId.parse(row.cid),
    blobId: String(row.blob_id),
    chunkBytes: Number(row.chunk_bytes),
    namespace: row.namespace,
    mediaType: row.media_type,
    size: Number(row.size),
    annotations: Object.freeze({ ...(row.annotations ?? {}) }),
    creatorSpiffeId: row.creator_spiffe_id,
    creatorTrustDomain: row.creator_trust_domain,
    createdAtMicros: BigInt(row.created_us),
  });
}
