import { createHash, randomUUID, type Hash } from 'node:crypto';
import { ParleyError } from '../common';
import type { PayloadUpload, RoutedPayloads, StoreService } from '../store';
import { OciError } from './domain/oci-errors';

/**
 * An upload in progress: whole chunks staged in the store (a resumable payload upload,
 * checkpointed at the end of each request, so no database connection is held between
 * requests), the last partial chunk in memory, hashed on the way.
 */
interface Session {
  readonly id: string;
  readonly namespace: string;
  readonly owner: string;
  readonly uploadId: string;
  readonly hash: Hash;
  /** Bytes received. */
  size: number;
  /** Whole chunks durably staged. */
  stagedChunks: number;
  /** The bytes of the chunk being filled (less than one chunk). */
  pending: Buffer[];
  pendingBytes: number;
  touchedMs: number;
  /** A request is writing into it (a second one at once is refused). */
  busy: boolean;
}

/** A finished upload whose digest checked: staged chunks and its last partial chunk, waiting for the manifest that makes it a record. */
export interface StagedBlob {
  readonly uploadId: string;
  readonly size: number;
  readonly stagedChunks: number;
  readonly tail: Buffer;
  readonly owner: string;
  readonly atMs: number;
}

export const MAX_SESSIONS = 64;
const MAX_STAGED = 256;
/** Memory the staged blobs' last partial chunks may hold together; past it the oldest are dropped. */
const MAX_STAGED_TAIL_BYTES = 64 * 1024 * 1024;

/**
 * The blob uploads of this replica (a client finishes its upload on the connection it began
 * it on: sessions live in memory; their bytes live in the store's staging area, which the
 * store's janitor removes when an upload is abandoned). Memory per upload: at most one chunk.
 * Uploads need a payload backend that resumes them between requests (PostgreSQL): with
 * store.payloads s3 the push routes answer UNSUPPORTED.
 */
export class UploadSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly staged = new Map<string, StagedBlob>();

  constructor(private readonly store: StoreService) {}

  private get payloads(): RoutedPayloads {
    return this.store.repository.payloads;
  }

  private get ttlMs(): number {
    return this.store.limits.stagingTtlMs;
  }

  async start(namespace: string, owner: string): Promise<string> {
    this.expire();
    if (this.sessions.size >= MAX_SESSIONS) throw new OciError('TOOMANYREQUESTS', `uploads: ${MAX_SESSIONS} uploads are open on this replica; retry later`, 429);
    if (this.payloads.writeTo !== 'postgres') throw new OciError('UNSUPPORTED', 'uploads: pushing through the registry needs store.payloads postgres; push with parley push (Store.Push) instead');
    const upload = await this.payloads.begin({ creatorSpiffeId: owner, chunkBytes: this.store.limits.chunkBytes, resumable: true });
    await upload.abort({ keep: true });
    const id = randomUUID();
    this.sessions.set(id, { id, namespace, owner, uploadId: upload.id, hash: createHash('sha256'), size: 0, stagedChunks: 0, pending: [], pendingBytes: 0, touchedMs: Date.now(), busy: false });
    return id;
  }

  /** The session of `id` in `namespace` owned by `owner`. @throws OciError BLOB_UPLOAD_UNKNOWN */
  private session(id: string, namespace: string, owner: string): Session {
    const s = this.sessions.get(id);
    if (s === undefined || s.namespace !== namespace || s.owner !== owner) throw new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${id.slice(0, 64)} is not open in repository ${namespace}`);
    return s;
  }

  size(id: string, namespace: string, owner: string): number {
    return this.session(id, namespace, owner).size;
  }

  /** The sessions `owner` holds open (busy, or touched within store.stagingTtl): its share of MAX_SESSIONS. */
  openBy(owner: string): number {
    const now = Date.now();
    let open = 0;
    for (const s of this.sessions.values()) if (s.owner === owner && (s.busy || now - s.touchedMs <= this.ttlMs)) open++;
    return open;
  }

  /**
   * Appends a request body at `offset` (when the client said where), staging whole chunks.
   * @throws OciError RANGE_INVALID (416) when offset is not where the upload stands; SIZE_INVALID past store.maxRecordBytes
   */
  async append(id: string, namespace: string, owner: string, body: AsyncIterable<Buffer>, offset?: number): Promise<number> {
    const s = this.session(id, namespace, owner);
    if (s.busy) throw new OciError('BLOB_UPLOAD_INVALID', `upload ${id}: another request is writing into it`);
    if (offset !== undefined && offset !== s.size) throw new OciError('RANGE_INVALID', `upload ${id}: it stands at ${s.size} bytes, not ${offset}`);
    s.busy = true;
    let upload: PayloadUpload | undefined;
    try {
      for await (const piece of body) {
        s.size += piece.length;
        if (s.size > this.store.limits.maxRecordBytes) throw new OciError('SIZE_INVALID', `upload ${id}: larger than ${this.store.limits.maxRecordBytes} bytes (store.maxRecordBytes)`, 413);
        s.hash.update(piece);
        s.pending.push(piece);
        s.pendingBytes += piece.length;
        if (s.pendingBytes >= this.store.limits.chunkBytes) upload = await this.flushWhole(s, upload);
      }
      s.touchedMs = Date.now();
      return s.size;
    } catch (err) {
      // The request's upload ends before the session is abandoned (its open transaction locks the staged blob).
      const held = upload;
      upload = undefined;
      if (held !== undefined) await this.release(s, held).catch(() => undefined);
      if (err instanceof OciError && err.code === 'SIZE_INVALID') await this.abandon(s);
      throw err;
    } finally {
      if (upload !== undefined) await this.release(s, upload);
      s.busy = false;
    }
  }

  /** Stages the whole chunks pending, on the upload this request holds (opened here at its first whole chunk). */
  private async flushWhole(s: Session, held: PayloadUpload | undefined): Promise<PayloadUpload> {
    const chunkBytes = this.store.limits.chunkBytes;
    const upload = held ?? (await this.reopen(s.uploadId, s.stagedChunks, s.id));
    let all = Buffer.concat(s.pending, s.pendingBytes);
    const whole = all.length - (all.length % chunkBytes);
    await upload.write(all.subarray(0, whole));
    all = all.subarray(whole);
    s.pending = all.length > 0 ? [Buffer.from(all)] : [];
    s.pendingBytes = all.length;
    return upload;
  }

  /** Makes the request's whole chunks durable and gives the database connection back. */
  private async release(s: Session, upload: PayloadUpload): Promise<void> {
    try {
      s.stagedChunks = (await upload.checkpoint()) / this.store.limits.chunkBytes;
    } finally {
      await upload.abort({ keep: true });
    }
  }

  /** The staged upload continued after its first `chunks` chunks. @throws OciError BLOB_UPLOAD_UNKNOWN when the janitor removed it */
  private async reopen(uploadId: string, chunks: number, label: string): Promise<PayloadUpload> {
    const upload = await this.payloads.resume(uploadId, chunks, this.store.limits.chunkBytes);
    if (upload === undefined) throw new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${label}: its staged bytes expired (store.stagingTtl); start it again`);
    return upload;
  }

  /**
   * The upload of a staged blob, opened with its last partial chunk written, for the
   * manifest that commits it as a record's payload.
   */
  async claim(blob: StagedBlob, label: string): Promise<PayloadUpload> {
    const upload = await this.reopen(blob.uploadId, blob.stagedChunks, label);
    if (blob.tail.length > 0) await upload.write(blob.tail);
    return upload;
  }

  /** A staged blob's bytes [start, end): its staged chunks read from the store, then its tail. */
  async *read(blob: StagedBlob, start: number, end: number): AsyncGenerator<Buffer> {
    const chunkBytes = this.store.limits.chunkBytes;
    const stagedEnd = blob.stagedChunks * chunkBytes;
    if (start < stagedEnd) {
      let seq = Math.floor(start / chunkBytes);
      for await (const chunk of this.payloads.read(blob.uploadId, seq, Math.min(blob.stagedChunks, Math.ceil(end / chunkBytes)), chunkBytes)) {
        if (chunk.seq !== seq) break;
        const at = seq++ * chunkBytes;
        yield chunk.data.subarray(Math.max(start - at, 0), Math.min(end - at, chunk.data.length));
      }
      if (seq * chunkBytes < Math.min(end, stagedEnd)) throw new OciError('BLOB_UNKNOWN', 'blob: its staged bytes expired (store.stagingTtl)');
    }
    if (end > stagedEnd) yield blob.tail.subarray(Math.max(start - stagedEnd, 0), end - stagedEnd);
  }

  /** Removes a staged blob's bytes (it became a document, or nothing will use it). */
  async discard(blob: StagedBlob): Promise<void> {
    await this.payloads.discard(blob.uploadId).catch(() => undefined);
  }

  /**
   * Ends an upload: the last chunk is staged and the digest checked; the blob then waits
   * (staged) for its manifest. A wrong digest discards everything.
   * @throws OciError DIGEST_INVALID
   */
  async finish(id: string, namespace: string, owner: string, digest: string): Promise<StagedBlob> {
    const s = this.session(id, namespace, owner);
    this.sessions.delete(id);
    const actual = `sha256:${s.hash.digest('hex')}`;
    if (actual !== digest) {
      await this.payloads.discard(s.uploadId).catch(() => undefined);
      throw new OciError('DIGEST_INVALID', `upload ${id}: the bytes have digest ${actual}, not ${digest.slice(0, 80)}`);
    }
    const key = `${namespace} ${digest}`;
    await this.drop(key);
    const blob: StagedBlob = { uploadId: s.uploadId, size: s.size, stagedChunks: s.stagedChunks, tail: Buffer.concat(s.pending, s.pendingBytes), owner, atMs: Date.now() };
    while (this.staged.size > 0 && (this.staged.size >= MAX_STAGED || this.tailBytes() + blob.tail.length > MAX_STAGED_TAIL_BYTES)) await this.drop(this.staged.keys().next().value as string);
    this.staged.set(key, blob);
    return blob;
  }

  /** A finished upload of `digest` in `namespace` that no manifest used yet. */
  stagedBlob(namespace: string, digest: string): StagedBlob | undefined {
    const b = this.staged.get(`${namespace} ${digest}`);
    if (b !== undefined && Date.now() - b.atMs > this.ttlMs) return undefined;
    return b;
  }

  private tailBytes(): number {
    let n = 0;
    for (const b of this.staged.values()) n += b.tail.length;
    return n;
  }

  /** The manifest made the staged blob a record (or found it one already): forget it. */
  taken(namespace: string, digest: string): void {
    this.staged.delete(`${namespace} ${digest}`);
  }

  async cancel(id: string, namespace: string, owner: string): Promise<void> {
    await this.abandon(this.session(id, namespace, owner));
  }

  private async abandon(s: Session): Promise<void> {
    this.sessions.delete(s.id);
    await this.payloads.discard(s.uploadId).catch(() => undefined);
  }

  private async drop(key: string): Promise<void> {
    const b = this.staged.get(key);
    this.staged.delete(key);
    if (b !== undefined) await this.discard(b);
  }

  /** Forgets sessions idle for the staging time (the janitor removes their bytes). */
  private expire(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) if (!s.busy && now - s.touchedMs > this.ttlMs) this.sessions.delete(s.id);
    for (const [key, b] of this.staged) if (now - b.atMs > this.ttlMs) this.staged.delete(key);
  }

  /** Discards every open and staged upload (the listener stops). */
  async close(): Promise<void> {
    const uploads = [...[...this.sessions.values()].map((s) => s.uploadId), ...[...this.staged.values()].map((b) => b.uploadId)];
    this.sessions.clear();
    this.staged.clear();
    for (const id of uploads) await this.payloads.discard(id).catch((err: unknown) => ParleyError.is(err));
  }
}
