import type { Rows } from './sql';

/** One stored chunk of a payload: chunk `seq` holds bytes [seq x chunkBytes, (seq + 1) x chunkBytes). */
export interface PayloadChunk {
  readonly seq: number;
  readonly data: Buffer;
}

/** Runs one SQL statement in the transaction that completes an upload. */
export type Statement = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<Rows<T>>;

/**
 * Runs inside the database transaction that completes an upload: inserts the record that
 * references the payload. Returns false when that record exists already (the same bytes
 * were stored before): then the upload keeps nothing.
 */
export type AttachRecord = (statement: Statement) => Promise<boolean>;

/**
 * An upload in progress. Bytes are appended in order and cut into chunks of the backend's
 * chunk size; nothing of it is visible to readers until `commit` attached it to a record.
 */
export interface PayloadUpload {
  /** The payload's id (store_records.blob_id once committed). */
  readonly id: string;
  /** Appends payload bytes; resolves when the upload can take more (backpressure). */
  write(data: Buffer): Promise<void>;
  /**
   * Makes every whole chunk written so far durable, so that a later `resume` continues
   * after them (resumable uploads only). Resolves with the bytes now staged.
   */
  checkpoint(): Promise<number>;
  /**
   * Stores what is left, then completes the upload and runs `attach` in the same
   * transaction. False when `attach` found the record already there (nothing is kept).
   * @throws ParleyError unavailable when the upload's staging area is gone (expired)
   */
  commit(size: number, attach: AttachRecord): Promise<boolean>;
  /**
   * Gives up: removes what the upload stored, or with `keep` (resumable uploads) ends it
   * and keeps what its checkpoints staged for a later `resume` (the janitor removes it
   * after store.stagingTtl). Never throws (leftovers are the janitor's).
   */
  abort(options?: { keep?: boolean }): Promise<void>;
}

export interface BeginUpload {
  readonly creatorSpiffeId: string;
  readonly chunkBytes: number;
  /**
   * Resumable (a sync's import): chunks survive the process at each `checkpoint` and the
   * janitor removes the upload after `store.stagingTtl` without one. Otherwise (a Push)
   * nothing of the upload outlives a failure or a crash.
   */
  readonly resumable: boolean;
}

/**
 * Where payload bytes live. The PostgreSQL backend (postgres-payloads.ts) keeps them as
 * bytea chunks beside the records; another backend implements the same contract.
 */
export interface PayloadBackend {
  begin(options: BeginUpload): Promise<PayloadUpload>;
  /** Continues a resumable upload after its first `chunks` chunks; undefined when it is gone (swept, committed or purged). */
  resume(uploadId: string, chunks: number, chunkBytes: number): Promise<PayloadUpload | undefined>;
  /**
   * Streams chunks `from` <= seq < `to` in order, reading only as fast as the caller
   * iterates. A missing chunk ends the stream early (callers check sequence numbers).
   */
  read(payloadId: string, from: number, to: number, chunkBytes: number): AsyncGenerator<PayloadChunk>;
  /** Removes an upload that was not committed (a failed resumable import). */
  discard(payloadId: string): Promise<void>;
  /** Removes the payload of a deleted record (marked for purging in the delete's transaction). */
  purge(payloadId: string): Promise<void>;
  /** Removes what crashed processes left (stale uploads, half-done purges); returns how many. */
  sweep(stagingTtlMs: number, purgeStaleMs: number, max?: number): Promise<number>;
  /** Uploads not committed (staging or purging): for tests and metrics. */
  unfinishedCount(): Promise<number>;
}
