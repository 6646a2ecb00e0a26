import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { ChunkParts } from './domain/chunk-parts';
import type { ObjectPayloads } from './object-payloads';
import type { BeginUpload, PayloadBackend, PayloadChunk, PayloadUpload } from './payload-backend';
import { claimStaleBlobs } from './blob-sweep';
import { S3Upload } from './s3-upload';
import { sql } from './sql';

const DIGITS = /^[0-9]{1,19}$/;

/**
 * Payloads in an S3-compatible object store (store.payloads: s3): the blob row in
 * PostgreSQL (backend `s3`) is the upload's lifecycle marker, its bytes one object
 * (ObjectPayloads.keyOf). A record's object is removed only by the purge of its own blob:
 * a concurrent Push of the same bytes stages a blob and object of its own, so a Delete
 * never removes an object another record references.
 */
export class S3Payloads implements PayloadBackend {
  constructor(
    private readonly ds: DataSource,
    readonly objects: ObjectPayloads,
  ) {}

  async begin(options: BeginUpload): Promise<PayloadUpload> {
    const { rows } = await sql<{ id: string }>(this.ds, `INSERT INTO store_blobs (chunk_bytes, creator_spiffe_id, backend) VALUES ($1, $2, 's3') RETURNING id`, [
      options.chunkBytes,
      options.creatorSpiffeId,
    ]);
    const id = String(rows[0]!.id);
    try {
      const uploadId = await this.objects.createUpload(id);
      await sql(this.ds, 'UPDATE store_blobs SET upload_id = $2, touched_at = now() WHERE id = $1', [id, uploadId]);
      return new S3Upload(this.ds, this.objects, id, uploadId, this.discarder);
    } catch (err) {
      await this.discard(id).catch(() => undefined);
      throw err;
    }
  }

  /** An object-store upload is never resumed: the stale one is removed and the import starts over. */
  async resume(uploadId: string): Promise<PayloadUpload | undefined> {
    if (DIGITS.test(uploadId)) await this.discard(uploadId).catch(() => undefined);
    return undefined;
  }

  private readonly discarder = (blobId: string) => this.discard(blobId);

  /** Chunks `from` <= seq < `to` cut from one ranged GET of the object (S3 ends the range at the object's end). */
  async *read(blobId: string, from: number, to: number, chunkBytes: number, allocData?: (len: number) => Buffer): AsyncGenerator<PayloadChunk> {
    if (!DIGITS.test(blobId) || !Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0) throw new ParleyError('internal', 'stream chunks: invalid blob id or range');
    const { rows } = await sql<{ size: string }>(this.ds, `SELECT size FROM store_blobs WHERE id = $1 AND state = 'committed'`, [blobId]);
    if (rows.length === 0) return;
    const end = Math.min(Number(rows[0]!.size), to * chunkBytes);
    const parts = new ChunkParts(chunkBytes);
    let seq = from;
    for await (const piece of this.objects.read(blobId, from * chunkBytes, end)) {
      for (const chunk of parts.push(piece)) yield { seq: seq++, data: joined(chunk, allocData) };
    }
    const last = parts.flush();
    if (last !== undefined) yield { seq, data: joined(last, allocData) };
  }

  async discard(blobId: string): Promise<void> {
    const { count } = await sql(this.ds, `UPDATE store_blobs SET state = 'purging', touched_at = now() WHERE id = $1 AND state <> 'committed' AND backend = 's3'`, [blobId]);
    if (count === 1) await this.purge(blobId);
  }

  /** Aborts the blob's multipart upload (if any), removes its object, then the blob row. */
  async purge(blobId: string): Promise<void> {
    const { rows } = await sql<{ upload_id: string | null }>(this.ds, `SELECT upload_id FROM store_blobs WHERE id = $1 AND state = 'purging' AND backend = 's3'`, [blobId]);
    if (rows.length === 0) return;
    if (rows[0]!.upload_id !== null) await this.objects.abortUpload(blobId, rows[0]!.upload_id);
    await this.objects.remove(blobId);
    await sql(this.ds, `DELETE FROM store_blobs WHERE id = $1 AND state = 'purging'`, [blobId]);
  }

  /**
   * Stale staging blobs and abandoned purges (as the PostgreSQL backend), then what has no
   * blob row at all: multipart uploads and objects older than `stagingTtlMs` whose blob is
   * gone (a crash between the object store's answer and the database's).
   */
  async sweep(stagingTtlMs: number, purgeStaleMs: number, max = 100): Promise<number> {
    const ids = await claimStaleBlobs(this.ds, 's3', stagingTtlMs, purgeStaleMs, max);
    for (const id of ids) await this.purge(id);
    return ids.length + (await this.sweepOrphans(stagingTtlMs));
  }

  private async sweepOrphans(stagingTtlMs: number): Promise<number> {
    const before = new Date(Date.now() - stagingTtlMs);
    const uploads = await this.objects.staleUploads(before);
    const objects = await this.objects.staleObjects(before);
    const ids = [...new Set([...uploads.map((u) => u.blobId), ...objects])];
    if (ids.length === 0) return 0;
    const { rows } = await sql<{ id: string; upload_id: string | null }>(this.ds, `SELECT id, upload_id FROM store_blobs WHERE id = ANY($1::bigint[])`, [ids]);
    const known = new Map(rows.map((r) => [String(r.id), r.upload_id]));
    let removed = 0;
    for (const u of uploads) {
      if (known.get(u.blobId) === u.uploadId) continue; // its blob is staging: swept above once stale
      await this.objects.abortUpload(u.blobId, u.uploadId);
      removed++;
    }
    for (const blobId of objects) {
      if (known.has(blobId)) continue;
      await this.objects.remove(blobId);
      removed++;
    }
    return removed;
  }

  async unfinishedCount(): Promise<number> {
    const { rows } = await sql<{ n: string }>(this.ds, `SELECT count(*) AS n FROM store_blobs WHERE state <> 'committed' AND backend = 's3'`);
    return Number(rows[0]!.n);
  }
}

/** A chunk's pieces in one buffer: the caller's (`allocData`, reused by Pull) or a new one. */
function joined(pieces: readonly Buffer[], allocData?: (len: number) => Buffer): Buffer {
  if (allocData === undefined) return Buffer.concat(pieces);
  let len = 0;
  for (const p of pieces) len += p.length;
  const out = allocData(len);
  let at = 0;
  for (const p of pieces) at += p.copy(out, at);
  return out;
}
