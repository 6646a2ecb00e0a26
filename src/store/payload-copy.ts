import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { ChunkParts } from './domain/chunk-parts';
import type { PayloadStoreName } from './domain/payload-move';
import { SendWindow } from './domain/send-window';
import type { ObjectPayloads, UploadedPart } from './object-payloads';
import type { PostgresPayloads } from './postgres-payloads';
import { inTransaction, sql, sqlOn } from './sql';

/** A committed blob being moved: its id, size, chunk size and the SHA-256 its record's CID names. */
export interface MovingBlob {
  readonly id: string;
  readonly size: number;
  readonly chunkBytes: number;
  readonly digest: Buffer;
}

/** Bytes and SHA-256 of what was read. */
interface Hashed {
  readonly bytes: number;
  readonly sha256: Buffer;
}

/**
 * The copies of a blob's bytes in either backend, addressed by blob id (chunk rows of
 * store_chunks, or the object ObjectPayloads.keyOf names): written, read back and removed by
 * `parley migrate-payloads` while the blob's `backend` still points at the other copy.
 */
export class PayloadCopies {
  constructor(
    private readonly ds: DataSource,
    private readonly postgres: PostgresPayloads,
    private readonly objects: ObjectPayloads,
  ) {}

  /** Copies the blob's bytes from `from` to the other backend, hashing what it read; `onBytes` counts them. */
  async copy(blob: MovingBlob, from: PayloadStoreName, onBytes: (n: number) => void): Promise<Hashed> {
    const source = this.bytesOf(blob, from, onBytes);
    return from === 'postgres' ? this.writeObject(blob, source) : this.writeChunks(blob, source);
  }

  /** Reads the copy in `where` back and hashes it. */
  async readBack(blob: MovingBlob, where: PayloadStoreName): Promise<Hashed> {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const piece of this.bytesOf(blob, where, () => undefined)) {
      hash.update(piece);
      bytes += piece.length;
    }
    return { bytes, sha256: hash.digest() };
  }

  /** Removes the blob's copy in `where` (absent is fine); the caller made sure reads do not use it. */
  async remove(blobId: string, where: PayloadStoreName): Promise<void> {
    if (where === 's3') {
      const { rows } = await sql<{ upload_id: string | null }>(this.ds, 'SELECT upload_id FROM store_blobs WHERE id = $1', [blobId]);
      if (rows[0]?.upload_id) await this.objects.abortUpload(blobId, rows[0].upload_id);
      await this.objects.remove(blobId);
      return;
    }
    // Never the chunks reads use: only while the blob's bytes are in the object store.
    for (;;) {
      const { count } = await sql(
        this.ds,
        `DELETE FROM store_chunks WHERE blob_id = $1 AND seq IN (SELECT seq FROM store_chunks WHERE blob_id = $1 ORDER BY seq DESC LIMIT 32)
            AND EXISTS (SELECT 1 FROM store_blobs WHERE id = $1 AND backend = 's3')`,
        [blobId],
      );
      if (count === 0) return;
    }
  }

  /** The bytes of the blob's copy in `where`, in order; fewer than its size when that copy is (being) removed. */
  private async *bytesOf(blob: MovingBlob, where: PayloadStoreName, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
    if (where === 's3') {
      for await (const piece of this.objects.read(blob.id, 0, blob.size)) {
        onBytes(piece.length);
        yield piece;
      }
      return;
    }
    const chunks = Math.ceil(blob.size / blob.chunkBytes);
    let seq = 0;
    for await (const chunk of this.postgres.read(blob.id, 0, chunks, blob.chunkBytes)) {
      if (chunk.seq !== seq++) break;
      onBytes(chunk.data.length);
      yield chunk.data;
    }
  }

  /**
   * One multipart upload of the blob's object (its upload id on the blob row, so a Delete
   * meanwhile aborts it): up to `partsInFlight` parts uploading while the next fills
   * (SendWindow, as a push into the object store), numbered in byte order. The first failed
   * part stops the reads and the other parts; no part is uploading any more when the upload
   * is aborted.
   */
  private async writeObject(blob: MovingBlob, source: AsyncGenerator<Buffer>): Promise<Hashed> {
    const uploadId = await this.objects.createUpload(blob.id);
    const hash = createHash('sha256');
    let bytes = 0;
    const window = new SendWindow<UploadedPart>(this.objects.partsInFlight);
    try {
      await sql(this.ds, `UPDATE store_blobs SET upload_id = $2 WHERE id = $1 AND copy_in = 's3'`, [blob.id, uploadId]);
      const parts = new ChunkParts(this.objects.partBytes);
      const send = (pieces: Buffer[]) =>
        window.submit(async (signal, index) => {
          const body = Buffer.concat(pieces);
          pieces.length = 0; // the chunks read are copied into the part: let them go while it uploads
          return this.objects.uploadPart(blob.id, uploadId, index + 1, body, signal);
        });
      for await (const piece of source) {
        hash.update(piece);
        bytes += piece.length;
        for (const part of parts.push(piece)) await send(part);
      }
      const last = parts.flush();
      if (last !== undefined || window.count === 0) await send(last ?? []); // S3 completes no upload without a part
      const uploaded = await window.drain(); // in part number order
      shortRead(blob, bytes, 'postgres');
      await this.objects.completeUpload(blob.id, uploadId, uploaded);
      await sql(this.ds, 'UPDATE store_blobs SET upload_id = NULL WHERE id = $1 AND upload_id = $2', [blob.id, uploadId]);
    } catch (err) {
      await window.cancel(new ParleyError('cancelled', `migrate-payloads: copy of blob ${blob.id} stopped`));
      await this.objects.abortUpload(blob.id, uploadId).catch(() => undefined);
      throw err;
    }
    return { bytes, sha256: hash.digest() };
  }

  /** The blob's chunks in one transaction: a run killed meanwhile leaves none. */
  private async writeChunks(blob: MovingBlob, source: AsyncGenerator<Buffer>): Promise<Hashed> {
    const hash = createHash('sha256');
    let bytes = 0;
    await inTransaction(this.ds, async (q) => {
      await sqlOn(q, `DELETE FROM store_chunks WHERE blob_id = $1 AND EXISTS (SELECT 1 FROM store_blobs WHERE id = $1 AND backend = 's3')`, [blob.id]);
      const parts = new ChunkParts(blob.chunkBytes);
      let seq = 0;
      const insert = (part: Buffer[]) => sqlOn(q, 'INSERT INTO store_chunks (blob_id, seq, data) VALUES ($1, $2, $3)', [blob.id, seq++, Buffer.concat(part)]);
      for await (const piece of source) {
        hash.update(piece);
        bytes += piece.length;
        for (const part of parts.push(piece)) await insert(part);
      }
      const last = parts.flush();
      if (last !== undefined) await insert(last);
      shortRead(blob, bytes, 's3');
    });
    return { bytes, sha256: hash.digest() };
  }
}

function shortRead(blob: MovingBlob, bytes: number, from: PayloadStoreName): void {
  if (bytes !== blob.size) throw new ParleyError('unavailable', `migrate-payloads: read ${bytes} of ${blob.size} bytes of blob ${blob.id} from ${from}`);
}
