import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import type { BeginUpload, PayloadBackend, PayloadChunk, PayloadUpload } from './payload-backend';
import type { S3Payloads } from './s3-payloads';
import { sql } from './sql';

export type PayloadBackendName = 'postgres' | 's3';

/**
 * The store's payloads across backends: new uploads go to the configured one
 * (store.payloads); reads, purges and resumes go to the backend each blob names
 * (store_blobs.backend), so records stored before a change of store.payloads stay readable
 * and reads follow a blob that `parley migrate-payloads` moves while they run.
 */
export class RoutedPayloads implements PayloadBackend {
  constructor(
    private readonly ds: DataSource,
    readonly postgres: PayloadBackend,
    readonly s3: S3Payloads | undefined,
    readonly writeTo: PayloadBackendName = 'postgres',
  ) {
    if (writeTo === 's3' && s3 === undefined) throw new TypeError('store.payloads is s3 but store.s3 is not configured');
  }

  begin(options: BeginUpload): Promise<PayloadUpload> {
    return this.backend(this.writeTo).begin(options);
  }

  async resume(uploadId: string, chunks: number, chunkBytes: number): Promise<PayloadUpload | undefined> {
    return (await this.backendOf(uploadId)).resume(uploadId, chunks, chunkBytes);
  }

  /**
   * Reads from the backend the blob names; when that backend's stream ends early, skips a
   * chunk or fails, and meanwhile the blob was moved (`parley migrate-payloads` switched
   * `backend`, then removed the old copy), the rest comes from the new backend, from the
   * first chunk not yet given: a Pull in progress outlives a move.
   */
  async *read(payloadId: string, from: number, to: number, chunkBytes: number, allocData?: (len: number) => Buffer): AsyncGenerator<PayloadChunk> {
    let next = from;
    let name = await this.backendNameOf(payloadId);
    for (let moves = 0; ; moves++) {
      let failure: unknown;
      try {
        for await (const chunk of this.backend(name).read(payloadId, next, to, chunkBytes, allocData)) {
          if (chunk.seq !== next) break;
          next++;
          yield chunk;
        }
      } catch (err) {
        failure = err;
      }
      if (failure === undefined && next >= to) return;
      const now = await this.backendNameOf(payloadId).catch(() => name);
      if (now === name || moves >= 2) {
        if (failure !== undefined) throw failure;
        return; // ended early where it is: the caller checks sequence numbers
      }
      name = now;
    }
  }

  async discard(payloadId: string): Promise<void> {
    await (await this.backendOf(payloadId)).discard(payloadId);
  }

  async purge(payloadId: string): Promise<void> {
    await (await this.backendOf(payloadId)).purge(payloadId);
  }

  async sweep(stagingTtlMs: number, purgeStaleMs: number, max?: number): Promise<number> {
    const swept = await this.postgres.sweep(stagingTtlMs, purgeStaleMs, max);
    return swept + (this.s3 === undefined ? 0 : await this.s3.sweep(stagingTtlMs, purgeStaleMs, max));
  }

  unfinishedCount(): Promise<number> {
    return this.postgres.unfinishedCount(); // counts the blobs of every backend
  }

  /** The object store's reachability (for /readyz); undefined when none is configured. */
  objectStoreReady(): Promise<void> | undefined {
    return this.s3?.objects.ready();
  }

  private backend(name: PayloadBackendName): PayloadBackend {
    if (name === 'postgres') return this.postgres;
    if (this.s3 === undefined) throw new ParleyError('unavailable', 'store: a payload is in the object store, which is not configured (store.s3)');
    return this.s3;
  }

  private async backendOf(payloadId: string): Promise<PayloadBackend> {
    return this.backend(await this.backendNameOf(payloadId));
  }

  /** The backend a blob names (asked even without store.s3: a blob moved there is unavailable, not empty). */
  private async backendNameOf(payloadId: string): Promise<PayloadBackendName> {
    if (!/^[0-9]{1,19}$/.test(payloadId)) return 'postgres';
    const { rows } = await sql<{ backend: PayloadBackendName }>(this.ds, 'SELECT backend FROM store_blobs WHERE id = $1', [payloadId]);
    return rows[0]?.backend ?? 'postgres';
  }
}
