import { ParleyError } from '../common';
import { ContentDigest } from './domain/content-digest';
import type { ContentId } from './domain/content-id';
import type { RecordDraft } from './domain/record';
import type { BudgetLease } from './domain/byte-budget';
import type { PayloadBackend, PayloadUpload } from './payload-backend';
import type { StoreCapacity } from './store-capacity';
import type { StoreRepository } from './store.repository';

/** Where an interrupted import stands: its staged upload and the bytes it holds (whole chunks). */
export interface StagedImport {
  readonly uploadId: string;
  readonly stagedBytes: number;
}

export interface ImportRequest {
  /** The CID the bytes must hash to: nothing becomes visible otherwise. */
  readonly cid: ContentId;
  readonly size: number;
  readonly draft: RecordDraft;
  /** Bytes already staged by an earlier, interrupted import of the same record. */
  readonly resume?: StagedImport;
  /** The payload from `offset` on (the source resumes where the staged bytes end). */
  source(offset: number): AsyncIterable<Uint8Array>;
  /** Called after whole chunks are durably staged, so a later import can resume from there. */
  onStaged?(staged: StagedImport): Promise<void>;
  /** Stops the import at the next chunk (the staged bytes stay for a resume). */
  readonly signal?: AbortSignal;
}

export interface ImportResult {
  readonly created: boolean;
  /** Payload bytes fetched from the source by this import (a resume fetches fewer). */
  readonly fetchedBytes: number;
}

export interface ImporterOptions {
  /** Most bytes between checkpoints (rounded up to whole chunks): each is a commit, and what a resume may fetch again. Default 16 MiB. */
  readonly checkpointBytes?: number;
  /**
   * The gateway's store capacity (the one Store.Push reserves from): each import reserves
   * what its upload stages (StoreCapacity.uploadStagingBytes) before it fetches a byte, and
   * gives it back when it ends. Without it nothing is reserved.
   */
  readonly capacity?: StoreCapacity;
}

/**
 * Imports a record whose CID is known in advance (a sync from a partner): the bytes are
 * staged in the store's backend as a push stages them, hashed on the way, and the record
 * becomes visible only when size and digest match the CID. An interrupted import resumes
 * from its staged chunks (they are hashed again from the database, not fetched again).
 * A mismatch discards everything staged: `invalid_argument` with code details
 * `integrity_mismatch`. No more upload buffer is spent than the store's budget: an import
 * waits for its share as a push does, and is refused (`resource_exhausted`, details reason
 * `upload_buffer`) after store.uploadBufferWait, before it began an upload.
 */
export class RecordImporter {
  private readonly checkpointBytes: number;
  private readonly capacity: StoreCapacity | undefined;

  constructor(
    private readonly repository: StoreRepository,
    private readonly maxRecordBytes: number,
    private readonly chunkBytes: number,
    options: ImporterOptions = {},
  ) {
    this.checkpointBytes = Math.max(1, Math.ceil((options.checkpointBytes ?? 16 * 1024 * 1024) / chunkBytes)) * chunkBytes;
    this.capacity = options.capacity;
  }

  /** The gap to the next checkpoint: one chunk first, then doubling up to checkpointBytes (a small record resumes early, a large one commits rarely). */
  private nextGap(gap: number): number {
    return Math.min(this.checkpointBytes, gap * 2);
  }

  private get payloads(): PayloadBackend {
    return this.repository.payloads;
  }

  async import(req: ImportRequest): Promise<ImportResult> {
    if ((await this.repository.find(req.cid)) !== undefined) return { created: false, fetchedBytes: 0 };
    const lease: BudgetLease | undefined = await this.capacity?.reserveImport(req.cid.toString(), req.signal);
    try {
      return await this.importReserved(req);
    } finally {
      lease?.release();
    }
  }

  private async importReserved(req: ImportRequest): Promise<ImportResult> {
    const { upload, digest } = await this.resumeOrBegin(req);
    let fetched = 0;
    let committed = false;
    // Whole chunks are made durable every checkpointBytes, so that a later import resumes after them.
    let staged = digest.size;
    let gap = this.chunkBytes;
    try {
      for await (const piece of req.source(digest.size)) {
        if (req.signal?.aborted) throw new ParleyError('cancelled', `import of ${req.cid.toString()}: stopped`);
        fetched += piece.length;
        updateDigest(digest, piece, req.cid);
        await upload.write(Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
        if (digest.size - staged >= gap) {
          staged = await upload.checkpoint();
          gap = this.nextGap(gap);
          await req.onStaged?.({ uploadId: upload.id, stagedBytes: staged });
        }
      }
      const { cid, size } = finishDigest(digest, req.cid);
      const { created } = await this.repository.commit(upload, cid, size, req.draft);
      committed = true;
      return { created, fetchedBytes: fetched };
    } catch (err) {
      if (!committed) await this.release(req, upload, ParleyError.is(err) && err.details.reason === 'integrity_mismatch');
      throw err;
    }
  }

  /** Ends a failed import's upload: removed on an integrity mismatch, else its whole chunks kept for a resume. */
  private async release(req: ImportRequest, upload: PayloadUpload, discard: boolean): Promise<void> {
    if (discard) return upload.abort();
    try {
      const stagedBytes = await upload.checkpoint();
      await req.onStaged?.({ uploadId: upload.id, stagedBytes });
    } catch {
      // What the last checkpoint staged stays; the janitor removes it if no import resumes it.
    }
    await upload.abort({ keep: true });
  }

  /** A resumable staged upload (its chunks hashed again into the digest), or a new one. */
  private async resumeOrBegin(req: ImportRequest): Promise<{ upload: PayloadUpload; digest: ContentDigest }> {
    const resume = req.resume;
    if (resume !== undefined && resume.stagedBytes > 0 && resume.stagedBytes % this.chunkBytes === 0 && resume.stagedBytes < req.size) {
      const resumed = await this.rehash(req, resume);
      if (resumed !== undefined) return resumed;
    }
    const upload = await this.payloads.begin({ creatorSpiffeId: req.draft.creatorSpiffeId, chunkBytes: this.chunkBytes, resumable: true });
    await req.onStaged?.({ uploadId: upload.id, stagedBytes: 0 });
    return { upload, digest: this.newDigest(req) };
  }

  /** The staged chunks of an interrupted import hashed from the database; undefined when they are gone (swept) or incomplete. */
  private async rehash(req: ImportRequest, resume: StagedImport): Promise<{ upload: PayloadUpload; digest: ContentDigest } | undefined> {
    const chunks = resume.stagedBytes / this.chunkBytes;
    const upload = await this.payloads.resume(resume.uploadId, chunks, this.chunkBytes);
    if (upload === undefined) return undefined;
    const digest = this.newDigest(req);
    let seq = 0;
    try {
      for await (const chunk of this.payloads.read(resume.uploadId, 0, chunks, this.chunkBytes)) {
        if (chunk.seq !== seq || chunk.data.length !== this.chunkBytes) break;
        digest.update(chunk.data);
        seq++;
      }
    } catch (err) {
      await upload.abort({ keep: true });
      throw err;
    }
    if (seq === chunks) return { upload, digest };
    await upload.abort();
    return undefined;
  }

  private newDigest(req: ImportRequest): ContentDigest {
    return new ContentDigest({ maxBytes: this.maxRecordBytes, expectedSize: req.size, expectedDigest: req.cid });
  }
}

function integrityMismatch(err: ParleyError, expected: ContentId): ParleyError {
  return new ParleyError('invalid_argument', `import of ${expected.toString()}: ${err.message.replace(/^push: /, '')}`, { details: { reason: 'integrity_mismatch', cid: expected.toString() } });
}

function updateDigest(digest: ContentDigest, piece: Uint8Array, expected: ContentId): void {
  try {
    digest.update(piece);
  } catch (err) {
    throw ParleyError.is(err) ? integrityMismatch(err, expected) : err;
  }
}

function finishDigest(digest: ContentDigest, expected: ContentId): { cid: ContentId; size: number } {
  try {
    return digest.finish();
  } catch (err) {
    throw ParleyError.is(err, 'invalid_argument') ? integrityMismatch(err, expected) : err;
  }
}
