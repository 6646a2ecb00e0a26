import { createHash, randomUUID, type Hash } from 'node:crypto';
import { ParleyError } from '../common';
import type { StoreService } from '../store';
import { OciError } from './domain/oci-errors';

/** An upload in progress: its bytes staged in the store's chunks as they arrive, hashed on the way. */
interface Session {
  readonly id: string;
  readonly namespace: string;
  readonly owner: string;
  readonly blobId: string;
  readonly hash: Hash;
  /** Bytes received. */
  size: number;
  nextSeq: number;
  /** The bytes of the chunk being filled (less than one chunk). */
  pending: Buffer[];
  pendingBytes: number;
  touchedMs: number;
  /** A request is writing into it (a second one at once is refused). */
  busy: boolean;
}

/** A finished upload whose digest checked: staged, waiting for the manifest that makes it a record. */
export interface StagedBlob {
  readonly blobId: string;
  readonly size: number;
  readonly owner: string;
  readonly atMs: number;
}

export const MAX_SESSIONS = 64;
const MAX_STAGED = 1024;

/**
 * The blob uploads of this replica (a client finishes its upload on the connection it began
 * it on: sessions live in memory; their bytes live in the store's staging area, which the
 * store's janitor removes when an upload is abandoned). Memory per upload: at most one chunk.
 */
export class UploadSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly staged = new Map<string, StagedBlob>();

  constructor(private readonly store: StoreService) {}

  private get ttlMs(): number {
    return this.store.limits.stagingTtlMs;
  }

  async start(namespace: string, owner: string): Promise<string> {
    this.expire();
    if (this.sessions.size >= MAX_SESSIONS) throw new OciError('TOOMANYREQUESTS', `uploads: ${MAX_SESSIONS} uploads are open on this replica; retry later`, 429);
    const blobId = await this.store.repository.blobs.begin(owner, this.store.limits.chunkBytes);
    const id = randomUUID();
    this.sessions.set(id, { id, namespace, owner, blobId, hash: createHash('sha256'), size: 0, nextSeq: 0, pending: [], pendingBytes: 0, touchedMs: Date.now(), busy: false });
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

  /**
   * Appends a request body at `offset` (when the client said where), staging whole chunks.
   * @throws OciError RANGE_INVALID (416) when offset is not where the upload stands; SIZE_INVALID past store.maxRecordBytes
   */
  async append(id: string, namespace: string, owner: string, body: AsyncIterable<Buffer>, offset?: number): Promise<number> {
    const s = this.session(id, namespace, owner);
    if (s.busy) throw new OciError('BLOB_UPLOAD_INVALID', `upload ${id}: another request is writing into it`);
    if (offset !== undefined && offset !== s.size) throw new OciError('RANGE_INVALID', `upload ${id}: it stands at ${s.size} bytes, not ${offset}`);
    s.busy = true;
    try {
      for await (const piece of body) {
        s.size += piece.length;
        if (s.size > this.store.limits.maxRecordBytes) throw new OciError('SIZE_INVALID', `upload ${id}: larger than ${this.store.limits.maxRecordBytes} bytes (store.maxRecordBytes)`, 413);
        s.hash.update(piece);
        s.pending.push(piece);
        s.pendingBytes += piece.length;
        await this.flushWhole(s);
      }
      s.touchedMs = Date.now();
      return s.size;
    } catch (err) {
      if (err instanceof OciError && err.code === 'SIZE_INVALID') await this.abandon(s);
      throw err;
    } finally {
      s.busy = false;
    }
  }

  private async flushWhole(s: Session): Promise<void> {
    const chunkBytes = this.store.limits.chunkBytes;
    if (s.pendingBytes < chunkBytes) return;
    let all = Buffer.concat(s.pending, s.pendingBytes);
    while (all.length >= chunkBytes) {
      await this.store.repository.blobs.writeChunk(s.blobId, s.nextSeq++, all.subarray(0, chunkBytes));
      all = all.subarray(chunkBytes);
    }
    s.pending = all.length > 0 ? [Buffer.from(all)] : [];
    s.pendingBytes = all.length;
  }

  /**
   * Ends an upload: the last chunk is staged and the digest checked; the blob then waits
   * (staged) for its manifest. A wrong digest discards everything.
   * @throws OciError DIGEST_INVALID
   */
  async finish(id: string, namespace: string, owner: string, digest: string): Promise<StagedBlob> {
    const s = this.session(id, namespace, owner);
    this.sessions.delete(id);
    if (s.pendingBytes > 0) await this.store.repository.blobs.writeChunk(s.blobId, s.nextSeq++, Buffer.concat(s.pending, s.pendingBytes));
    const actual = `sha256:${s.hash.digest('hex')}`;
    if (actual !== digest) {
      await this.store.repository.blobs.discard(s.blobId).catch(() => undefined);
      throw new OciError('DIGEST_INVALID', `upload ${id}: the bytes have digest ${actual}, not ${digest.slice(0, 80)}`);
    }
    const key = `${namespace} ${digest}`;
    const before = this.staged.get(key);
    if (before !== undefined) await this.store.repository.blobs.discard(before.blobId).catch(() => undefined);
    if (this.staged.size >= MAX_STAGED) await this.drop(this.staged.keys().next().value as string);
    const blob = { blobId: s.blobId, size: s.size, owner, atMs: Date.now() };
    this.staged.set(key, blob);
    return blob;
  }

  /** A finished upload of `digest` in `namespace` that no manifest used yet. */
  stagedBlob(namespace: string, digest: string): StagedBlob | undefined {
    const b = this.staged.get(`${namespace} ${digest}`);
    if (b !== undefined && Date.now() - b.atMs > this.ttlMs) return undefined;
    return b;
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
    await this.store.repository.blobs.discard(s.blobId).catch(() => undefined);
  }

  private async drop(key: string): Promise<void> {
    const b = this.staged.get(key);
    this.staged.delete(key);
    if (b !== undefined) await this.store.repository.blobs.discard(b.blobId).catch(() => undefined);
  }

  /** Forgets sessions idle for the staging time (the janitor removes their bytes). */
  private expire(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) if (!s.busy && now - s.touchedMs > this.ttlMs) this.sessions.delete(s.id);
    for (const [key, b] of this.staged) if (now - b.atMs > this.ttlMs) this.staged.delete(key);
  }

  /** Discards every open and staged upload (the listener stops). */
  async close(): Promise<void> {
    const blobs = [...[...this.sessions.values()].map((s) => s.blobId), ...[...this.staged.values()].map((b) => b.blobId)];
    this.sessions.clear();
    this.staged.clear();
    for (const id of blobs) await this.store.repository.blobs.discard(id).catch((err: unknown) => ParleyError.is(err));
  }
}
