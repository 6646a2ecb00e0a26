import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { ChunkParts } from './domain/chunk-parts';
import { SendWindow } from './domain/send-window';
import type { ObjectPayloads, UploadedPart } from './object-payloads';
import type { AttachRecord, PayloadUpload } from './payload-backend';
import { inTransaction, sql, sqlOn } from './sql';

function gone(blobId: string): ParleyError {
  return new ParleyError('unavailable', `push: staging area of upload ${blobId} is gone (expired); retry the push`);
}

/**
 * An upload into the object store: a multipart upload of `partBytes` parts, up to
 * `partsInFlight` of them uploading while the next fills (SendWindow). `write` waits while
 * the window is full, so the push reads nothing meanwhile; memory: (partsInFlight + 1) parts,
 * what the push reserved from the upload buffer. Parts are numbered in the order of their
 * bytes whatever order they finish in. Every part touches the blob row (staging, committed
 * at once), so the janitor never takes a live upload. The first failed part aborts the
 * others. `commit` completes the multipart upload, then marks the blob committed and
 * attaches the record in one transaction: the object exists from the completion on, but no
 * record names it before the digest was checked and the transaction committed. Any failure
 * removes the upload and the blob (`discard`, once no part is uploading any more); after a
 * crash the janitor does.
 */
export class S3Upload implements PayloadUpload {
  private readonly parts: ChunkParts;
  private readonly window: SendWindow<UploadedPart>;
  private finished = false;

  constructor(
    private readonly ds: DataSource,
    private readonly objects: ObjectPayloads,
    readonly id: string,
    private readonly uploadId: string,
    private readonly discard: (blobId: string) => Promise<void>,
  ) {
    this.parts = new ChunkParts(objects.partBytes);
    this.window = new SendWindow(objects.partsInFlight);
  }

  async write(data: Buffer): Promise<void> {
    for (const part of this.parts.push(data)) await this.send(part);
  }

  /** Object-store uploads are not resumed part by part: nothing counts as staged for a later resume. */
  async checkpoint(): Promise<number> {
    await this.window.settled();
    return 0;
  }

  async commit(size: number, attach: AttachRecord): Promise<boolean> {
    const last = this.parts.flush();
    // S3 completes no upload without parts: an empty payload is one empty part.
    if (last !== undefined || this.window.count === 0) await this.send(last ?? []);
    const uploaded = await this.window.drain(); // in part number order
    await this.objects.completeUpload(this.id, this.uploadId, uploaded);
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
    // No part may still be uploading when the upload is aborted, or its bytes could outlive the abort.
    await this.window.cancel(new ParleyError('cancelled', `push: upload ${this.id} aborted`));
    await this.discard(this.id).catch(() => undefined); // else the janitor's
  }

  /** Sends one part once the window has room; the part's pieces are joined only then (and let go). */
  private send(pieces: Buffer[]): Promise<void> {
    return this.window.submit(async (signal, index) => {
      const body = Buffer.concat(pieces);
      pieces.length = 0; // the received messages' bytes are copied: free them while the part uploads
      const part = await this.objects.uploadPart(this.id, this.uploadId, index + 1, body, signal);
      const { count } = await sql(this.ds, `UPDATE store_blobs SET touched_at = now() WHERE id = $1 AND state = 'staging'`, [this.id]);
      if (count !== 1) throw gone(this.id);
      return part;
    });
  }
}

/** The record exists already: roll back, keep nothing. */
class NotAttached extends Error {}
