import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { ChunkParts } from './domain/chunk-parts';
import type { ObjectPayloads, UploadedPart } from './object-payloads';
import type { AttachRecord, PayloadUpload } from './payload-backend';
import { inTransaction, sql, sqlOn } from './sql';

function gone(blobId: string): ParleyError {
  return new ParleyError('unavailable', `push: staging area of upload ${blobId} is gone (expired); retry the push`);
}

/**
 * An upload into the object store: a multipart upload of `partBytes` parts, one part
 * uploading while the next fills (memory: about two parts). Every part touches the blob
 * row (staging, committed at once), so the janitor never takes a live upload. `commit`
 * completes the multipart upload, then marks the blob committed and attaches the record in
 * one transaction: the object exists from the completion on, but no record names it before
 * the digest was checked and the transaction committed. Any failure removes the upload
 * and the blob (`discard`); after a crash the janitor does.
 */
export class S3Upload implements PayloadUpload {
  private readonly parts: ChunkParts;
  private readonly uploaded: UploadedPart[] = [];
  private inflight: Promise<void> | undefined;
  private nextPart = 1;
  private finished = false;

  constructor(
    private readonly ds: DataSource,
    private readonly objects: ObjectPayloads,
    readonly id: string,
    private readonly uploadId: string,
    private readonly discard: (blobId: string) => Promise<void>,
  ) {
    this.parts = new ChunkParts(objects.partBytes);
  }

  async write(data: Buffer): Promise<void> {
    for (const part of this.parts.push(data)) await this.send(Buffer.concat(part));
  }

  /** Object-store uploads are not resumed part by part: nothing counts as staged for a later resume. */
  async checkpoint(): Promise<number> {
    await this.inflight;
    return 0;
  }

  async commit(size: number, attach: AttachRecord): Promise<boolean> {
    const last = this.parts.flush();
    // S3 completes no upload without parts: an empty payload is one empty part.
    if (last !== undefined || this.nextPart === 1) await this.send(last === undefined ? Buffer.alloc(0) : Buffer.concat(last));
    await this.inflight;
    this.uploaded.sort((a, b) => a.PartNumber - b.PartNumber);
    await this.objects.completeUpload(this.id, this.uploadId, this.uploaded);
    const attached = await inTransaction(this.ds, async (q) => {
      const blob = await sqlOn(q, `UPDATE store_blobs SET state = 'committed', size = $2, upload_id = NULL, touched_at = now() WHERE id = $1 AND state = 'staging'`, [this.id, size]);
      if (blob.count !== 1) throw gone(this.id);
      const ok = await attach((text, params) => sqlOn(q, text, params));
      if (!ok) throw new NotAttached();
      return true;
    }).catch((err: unknown) => {
      if (err instanceof NotAttached) return false;
      throw err;
    });
    this.finished = true;
    if (!attached) await this.discard(this.id);
    return attached;
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.inflight?.catch(() => undefined);
    await this.discard(this.id).catch(() => undefined); // else the janitor's
  }

  private async send(part: Buffer): Promise<void> {
    await this.inflight; // one part in flight: its failure surfaces here or in commit()
    const partNumber = this.nextPart++;
    const upload = (async () => {
      this.uploaded.push(await this.objects.uploadPart(this.id, this.uploadId, partNumber, part));
      const { count } = await sql(this.ds, `UPDATE store_blobs SET touched_at = now() WHERE id = $1 AND state = 'staging'`, [this.id]);
      if (count !== 1) throw gone(this.id);
    })();
    upload.catch(() => undefined);
    this.inflight = upload;
  }
}

/** The record exists already: roll back, keep nothing. */
class NotAttached extends Error {}
