import { once } from 'node:events';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Writable } from 'node:stream';
import { ParleyError } from '../common';
import { ChunkParts } from './domain/chunk-parts';
import { chunkRowPrefix, copyHeader, copyTrailer } from './domain/copy-binary';
import type { AttachRecord, PayloadUpload } from './payload-backend';
import { DatabaseError, sqlClient } from './sql';

function gone(blobId: string): ParleyError {
  return new ParleyError('unavailable', `push: staging area of upload ${blobId} is gone (expired); retry the push`);
}

/**
 * An upload into store_chunks on one connection, in one transaction: chunks go in with one
 * binary COPY FROM STDIN (each row's prefix, then the received buffers themselves, uncopied;
 * the socket's backpressure is the upload's), the record is attached in the same
 * transaction. A Push's blob row is inserted in that transaction too, so a failure or a
 * crash leaves nothing behind. A resumable upload's blob row is committed at once, and
 * every `checkpoint` commits the chunks so far and opens the next transaction. The blob
 * row stays locked (UPDATE) by the open transaction, so the janitor (SKIP LOCKED) never
 * sweeps a live upload however long it takes.
 */
export class PostgresUpload implements PayloadUpload {
  private readonly parts: ChunkParts;
  private copy: (Writable & { rowCount?: number }) | undefined;
  private copyDone: Promise<unknown> | undefined;
  private failure: unknown;
  private finished = false;

  private constructor(
    private readonly client: PoolClient,
    readonly id: string,
    private seq: number,
    chunkBytes: number,
    private readonly resumable: boolean,
    private readonly discardStaged: (blobId: string) => Promise<void>,
  ) {
    this.parts = new ChunkParts(chunkBytes);
  }

  /** A Push's upload: blob row and chunks in one transaction. */
  static async begin(client: PoolClient, creatorSpiffeId: string, chunkBytes: number, discard: (blobId: string) => Promise<void>): Promise<PostgresUpload> {
    return PostgresUpload.opened(client, async () => {
      await sqlClient(client, 'BEGIN');
      const { rows } = await sqlClient<{ id: string }>(client, 'INSERT INTO store_blobs (chunk_bytes, creator_spiffe_id) VALUES ($1, $2) RETURNING id', [chunkBytes, creatorSpiffeId]);
      return new PostgresUpload(client, String(rows[0]!.id), 0, chunkBytes, false, discard);
    });
  }

  /**
   * A resumable upload of a committed staging blob, continuing after chunk `seq - 1`:
   * chunks a crash left beyond it (committed, but never reported staged) are removed.
   * Undefined when the blob is no longer staging.
   */
  static async resume(client: PoolClient, blobId: string, seq: number, chunkBytes: number, discard: (blobId: string) => Promise<void>): Promise<PostgresUpload | undefined> {
    return PostgresUpload.opened(client, async () => {
      const upload = new PostgresUpload(client, blobId, seq, chunkBytes, true, discard);
      if (!(await upload.startTransaction())) {
        await sqlClient(client, 'ROLLBACK');
        client.release();
        return undefined;
      }
      await sqlClient(client, 'DELETE FROM store_chunks WHERE blob_id = $1 AND seq >= $2', [blobId, seq]);
      return upload;
    });
  }

  private static async opened<T>(client: PoolClient, open: () => Promise<T>): Promise<T> {
    try {
      return await open();
    } catch (err) {
      client.release(new Error('upload not opened'));
      throw err;
    }
  }

  async write(data: Buffer): Promise<void> {
    this.throwIfFailed();
    for (const chunk of this.parts.push(data)) await this.writeRow(chunk);
  }

  async checkpoint(): Promise<number> {
    if (!this.resumable) throw new TypeError('checkpoint: the upload is not resumable');
    await this.endCopy();
    await sqlClient(this.client, 'COMMIT');
    if (!(await this.startTransaction())) throw gone(this.id);
    return this.seq * this.parts.chunkBytes;
  }

  async commit(size: number, attach: AttachRecord): Promise<boolean> {
    const last = this.parts.flush();
    if (last !== undefined) await this.writeRow(last);
    await this.endCopy();
    const blob = await sqlClient(this.client, `UPDATE store_blobs SET state = 'committed', size = $2, touched_at = now() WHERE id = $1 AND state = 'staging'`, [this.id, size]);
    if (blob.count !== 1) throw gone(this.id);
    const attached = await attach((text, params) => sqlClient(this.client, text, params));
    await sqlClient(this.client, attached ? 'COMMIT' : 'ROLLBACK');
    this.finish();
    if (!attached && this.resumable) await this.discardStaged(this.id);
    return attached;
  }

  async abort(options: { keep?: boolean } = {}): Promise<void> {
    if (this.finished) return;
    const clean = this.copy === undefined && this.failure === undefined;
    if (clean) await sqlClient(this.client, 'ROLLBACK').catch(() => undefined);
    // A COPY cannot be left half-sent on a pooled connection: closing it rolls everything back.
    this.finish(clean ? undefined : new Error('upload aborted'));
    if (this.resumable && options.keep !== true) await this.discardStaged(this.id).catch(() => undefined);
  }

  /** Opens the next transaction of a resumable upload, locking its blob row; false when it is no longer staging. */
  private async startTransaction(): Promise<boolean> {
    await sqlClient(this.client, 'BEGIN');
    const { count } = await sqlClient(this.client, `UPDATE store_blobs SET touched_at = now() WHERE id = $1 AND state = 'staging'`, [this.id]);
    return count === 1;
  }

  private async writeRow(parts: readonly Buffer[]): Promise<void> {
    const copy = this.copy ?? this.openCopy();
    let bytes = 0;
    for (const p of parts) bytes += p.length;
    let ok = copy.write(chunkRowPrefix(BigInt(this.id), this.seq++, bytes));
    for (const p of parts) ok = copy.write(p) && ok;
    if (!ok) await this.drained(copy);
  }

  private openCopy(): Writable {
    const copy = this.client.query(copyFrom('COPY store_chunks (blob_id, seq, data) FROM STDIN (FORMAT binary)')) as Writable;
    copy.on('error', (err) => (this.failure ??= err));
    this.copyDone = once(copy, 'finish');
    this.copyDone.catch(() => undefined); // awaited in endCopy
    copy.write(copyHeader());
    this.copy = copy;
    return copy;
  }

  private async drained(copy: Writable): Promise<void> {
    await Promise.race([once(copy, 'drain'), this.copyDone]).catch((err: unknown) => (this.failure ??= err));
    this.throwIfFailed();
  }

  private async endCopy(): Promise<void> {
    const copy = this.copy;
    if (copy === undefined) return this.throwIfFailed();
    copy.end(copyTrailer());
    try {
      await this.copyDone;
    } catch (err) {
      this.failure ??= err;
    }
    this.throwIfFailed();
    this.copy = undefined;
    this.copyDone = undefined;
  }

  private throwIfFailed(): void {
    const err = this.failure;
    if (err === undefined) return;
    if (err instanceof ParleyError || err instanceof DatabaseError) throw err;
    throw new DatabaseError(err);
  }

  private finish(err?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.client.release(err);
  }
}
