import type { Pool, PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { CopyBinaryDecoder, int4Field } from './domain/copy-binary';
import { DatabaseError, sql } from './sql';

const DIGITS = /^[0-9]{1,19}$/;

/** Chunks removed per statement when a blob is purged (bounded statement time). */
const PURGE_BATCH_CHUNKS = 32;

/**
 * Payload storage: blobs of fixed-size bytea chunks. A push stages chunks under a blob in
 * `staging` state with short autocommit inserts (each also refreshes the blob's
 * `touched_at`, so the janitor never takes a live upload); the record insert that commits
 * it lives in StoreRepository. Failed uploads and deleted records are purged in batches.
 */
export class BlobRepository {
  /**
   * @param streamPool connections for payload streams (Pull), apart from the main pool so
   *   that slow readers, which hold a connection while they read, never starve other queries
   */
  constructor(
    private readonly ds: DataSource,
    private readonly streamPool?: Pool,
  ) {}

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
   * Streams chunks `from` ≤ seq < `to` of a blob in order, as PostgreSQL's binary COPY (raw
   * bytes: ~6x the throughput of SELECTing bytea as text, measured 147–214 vs 28–35 MiB/s).
   * One pooled connection is held while the caller iterates, so it reads in windows of
   * `windowChunks` and takes a connection per window. Backpressure: the COPY socket is only
   * read while the caller asks for the next chunk, so memory stays at about one chunk plus
   * socket buffers. A chunk missing from the range ends the stream early: the caller checks
   * sequence numbers. Breaking out of the iteration closes the connection (a COPY cannot be
   * left half-read on a pooled connection).
   */
  async *streamChunks(blobId: string, from: number, to: number, maxChunkBytes: number, windowChunks = 64): AsyncGenerator<{ seq: number; data: Buffer }> {
    if (!DIGITS.test(blobId) || !Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || windowChunks < 1) {
      throw new ParleyError('internal', 'stream chunks: invalid blob id or range');
    }
    for (let lo = from; lo < to; lo += windowChunks) {
      const hi = Math.min(to, lo + windowChunks);
      const pool = this.streamPool ?? (this.ds.driver as unknown as { master: Pool }).master;
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw new ParleyError('unavailable', 'pull: every payload stream connection is busy (store.pullConnections); retry later', { cause: err });
      }
      let clean = false;
      try {
        // COPY takes no parameters: every value below is checked to be a decimal integer.
        const stream = client.query(copyTo(`COPY (SELECT seq, data FROM store_chunks WHERE blob_id = ${blobId} AND seq >= ${lo} AND seq < ${hi} ORDER BY seq) TO STDOUT (FORMAT binary)`));
        const decoder = new CopyBinaryDecoder(maxChunkBytes);
        let rows = 0;
        for await (const piece of stream as AsyncIterable<Buffer>) {
          for (const [seq, data] of decoder.push(piece)) {
            if (data === null || data === undefined) throw new ParleyError('internal', `stream chunks: chunk of blob ${blobId} has no data`);
            rows++;
            yield { seq: int4Field(seq ?? null), data };
          }
        }
        decoder.finish();
        clean = true;
        if (rows < hi - lo) return;
      } catch (err) {
        if (err instanceof ParleyError) throw err;
        throw new DatabaseError(err);
      } finally {
        client.release(clean ? undefined : new Error('copy abandoned'));
      }
    }
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

  /** Whether an upload is still staging (not committed, not swept). */
  async isStaging(blobId: string): Promise<boolean> {
    if (!DIGITS.test(blobId)) return false;
    const { rows } = await sql(this.ds, `SELECT 1 FROM store_blobs WHERE id = $1 AND state = 'staging'`, [blobId]);
    return rows.length === 1;
  }

  /** Blobs that are not committed (staging or purging): for tests and metrics. */
  async unfinishedCount(): Promise<number> {
    const { rows } = await sql<{ n: string }>(this.ds, `SELECT count(*) AS n FROM store_blobs WHERE state <> 'committed'`);
    return Number(rows[0].n);
  }
}
