import type { DataSource } from 'typeorm';
import { ParleyError } from '../common/errors';
import { eachRow, sql } from './sql';

/** Bytes per base64 row when a chunk is read (64 KiB: an 88 KB string, below V8's large-object size). */
const READ_SLICE_BYTES = 64 * 1024;

/** Chunks removed per statement when a blob is purged (bounded statement time). */
const PURGE_BATCH_CHUNKS = 32;

/**
 * Payload storage: blobs of fixed-size bytea chunks. A push stages chunks under a blob in
 * `staging` state with short autocommit inserts (each also refreshes the blob's
 * `touched_at`, so the janitor never takes a live upload); the record insert that commits
 * it lives in StoreRepository. Failed uploads and deleted records are purged in batches.
 */
export class BlobRepository {
  constructor(private readonly ds: DataSource) {}

  /** Starts an upload; returns the blob id. */
  async begin(creatorSpiffeId: string, chunkBytes: number): Promise<string> {
    const { rows } = await sql<{ id: string }>(this.ds, 'INSERT INTO store_blobs (chunk_bytes, creator_spiffe_id) VALUES ($1, $2) RETURNING id', [
      chunkBytes,
      creatorSpiffeId,
    ]);
    return String(rows[0].id);
  }

  /**
   * Stores chunk `seq` of a staging blob.
   * @throws ParleyError unavailable when the blob is no longer staging (swept as abandoned)
   */
  async writeChunk(blobId: string, seq: number, data: Buffer): Promise<void> {
    const { count } = await sql(
      this.ds,
      `WITH blob AS (UPDATE store_blobs SET touched_at = now() WHERE id = $1 AND state = 'staging' RETURNING id)
       INSERT INTO store_chunks (blob_id, seq, data) SELECT id, $2::integer, $3::bytea FROM blob`,
      [blobId, seq, data],
    );
    if (count !== 1) throw new ParleyError('unavailable', `push: staging area of upload ${blobId} is gone (expired); retry the push`);
  }

  /**
   * Chunk `seq` of a blob; undefined when it does not exist (any more). node-postgres has no
   * binary results, so the chunk comes as base64 rows of READ_SLICE_BYTES each, decoded into
   * one buffer as they arrive: every row string is garbage at once and dies in V8's young
   * generation, where a megabyte string per chunk would pile up in large-object space
   * until a full GC (measured: ~80 MiB of heap during a 256 MiB pull).
   */
  async readChunk(blobId: string, seq: number): Promise<Buffer | undefined> {
    let out: Buffer | undefined;
    let at = 0;
    await eachRow<{ total: number; part: string }>(
      this.ds,
      `SELECT octet_length(c.data) AS total, encode(substring(c.data FROM s.off + 1 FOR $3), 'base64') AS part
         FROM store_chunks c, generate_series(0, octet_length(c.data) - 1, $3) AS s(off)
        WHERE c.blob_id = $1 AND c.seq = $2
        ORDER BY s.off`,
      [blobId, seq, READ_SLICE_BYTES],
      (row) => {
        out ??= Buffer.allocUnsafe(Number(row.total));
        at += out.write(row.part, at, 'base64');
      },
    );
    if (out !== undefined && at !== out.length) throw new Error(`database: decoded ${at} bytes of a ${out.length}-byte chunk`);
    return out;
  }

  /** Marks a blob for removal (unless committed to a record) and removes it. */
  async discard(blobId: string): Promise<void> {
    const { count } = await sql(this.ds, `UPDATE store_blobs SET state = 'purging', touched_at = now() WHERE id = $1 AND state <> 'committed'`, [blobId]);
    if (count === 1) await this.purge(blobId);
  }

  /** Removes the chunks of a blob in `purging` state in batches, then the blob. */
  async purge(blobId: string): Promise<void> {
    const { rows } = await sql<{ last: number | null }>(this.ds, 'SELECT max(seq) AS last FROM store_chunks WHERE blob_id = $1', [blobId]);
    const last = rows[0]?.last ?? -1;
    for (let from = 0; from <= last; from += PURGE_BATCH_CHUNKS) {
      await sql(this.ds, `UPDATE store_blobs SET touched_at = now() WHERE id = $1 AND state = 'purging'`, [blobId]);
      await sql(this.ds, 'DELETE FROM store_chunks WHERE blob_id = $1 AND seq >= $2 AND seq < $3', [blobId, from, from + PURGE_BATCH_CHUNKS]);
    }
    await sql(this.ds, `DELETE FROM store_blobs WHERE id = $1 AND state = 'purging'`, [blobId]);
  }

  /**
   * Removes what crashed processes left: staging blobs untouched for `stagingTtlMs` and
   * purges abandoned half-way for `purgeStaleMs`. Returns how many blobs were removed.
   * Safe to run on several replicas at once.
   */
  async sweep(stagingTtlMs: number, purgeStaleMs: number, max = 100): Promise<number> {
    const { rows } = await sql<{ id: string }>(
      this.ds,
      `UPDATE store_blobs SET state = 'purging', touched_at = now()
        WHERE id IN (SELECT id FROM store_blobs
                      WHERE (state = 'staging' AND touched_at < now() - interval '1 millisecond' * $1::float8)
                         OR (state = 'purging' AND touched_at < now() - interval '1 millisecond' * $2::float8)
                      ORDER BY touched_at LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING id`,
      [stagingTtlMs, purgeStaleMs, max],
    );
    for (const { id } of rows) await this.purge(String(id));
    return rows.length;
  }

  /** Blobs that are not committed (staging or purging): for tests and metrics. */
  async unfinishedCount(): Promise<number> {
    const { rows } = await sql<{ n: string }>(this.ds, `SELECT count(*) AS n FROM store_blobs WHERE state <> 'committed'`);
    return Number(rows[0].n);
  }
}
