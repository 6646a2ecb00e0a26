import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { Registry } from 'prom-client';
import { ParleyError } from '../common';
import type { S3Config } from '../config';
import { ObjectStoreMetrics } from './object-metrics';

const BLOB_ID = /^[0-9]{1,19}$/;

/** One uploaded part, for CompleteMultipartUpload. */
export interface UploadedPart {
  PartNumber: number;
  ETag: string;
}

/**
 * Payloads as objects in an S3-compatible store, one object per blob (a CID has one record,
 * a record one blob: one object per CID), key `<keyPrefix>blobs/<blob id>`. Uploads are
 * multipart; an object exists only once its upload completed, and the record that makes it
 * visible is written after that (by StoreRepository.commit). Every failure of the object
 * store is UNAVAILABLE; the message names the operation and the key, never a credential.
 */
export class ObjectPayloads {
  readonly bucket: string;
  readonly partBytes: number;
  /** Parts of one upload sent at once (S3Upload). */
  readonly partsInFlight: number;
  private readonly prefix: string;
  private readonly metrics: ObjectStoreMetrics | undefined;

  constructor(
    private readonly client: S3Client,
    config: Pick<S3Config, 'bucket' | 'keyPrefix' | 'partBytes' | 'partsInFlight'>,
    metrics?: Registry,
  ) {
    this.bucket = config.bucket;
    this.prefix = config.keyPrefix;
    this.partBytes = config.partBytes;
    this.partsInFlight = config.partsInFlight;
    this.metrics = metrics === undefined ? undefined : new ObjectStoreMetrics(metrics);
  }

  /** A client for `store.s3`: credentials from the config, its files or the SDK's default chain; TLS verification on. */
  static fromConfig(config: S3Config, metrics?: Registry): ObjectPayloads {
    const options: S3ClientConfig = { region: config.region, forcePathStyle: config.forcePathStyle, maxAttempts: 3 };
    if (config.endpoint !== undefined) options.endpoint = config.endpoint;
    const credentials = credentialsOf(config);
    if (credentials !== undefined) options.credentials = credentials;
    const ca = config.caFile === undefined ? undefined : readFileSync(config.caFile);
    options.requestHandler = {
      requestTimeout: config.requestTimeout,
      connectionTimeout: Math.min(config.requestTimeout, 10_000),
      httpsAgent: new Agent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: true, ...(ca === undefined ? {} : { ca }) }),
    };
    return new ObjectPayloads(new S3Client(options), config, metrics);
  }

  keyOf(blobId: string): string {
    if (!BLOB_ID.test(blobId)) throw new ParleyError('internal', 'object store: invalid blob id');
    return `${this.prefix}blobs/${blobId}`;
  }

  /** The blob id of one of our object keys, or undefined for any other key. */
  blobIdOf(key: string): string | undefined {
    if (!key.startsWith(`${this.prefix}blobs/`)) return undefined;
    const id = key.slice(this.prefix.length + 'blobs/'.length);
    return BLOB_ID.test(id) ? id : undefined;
  }

  async createUpload(blobId: string): Promise<string> {
    const out = await this.call('create_upload', blobId, () => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.keyOf(blobId) })));
    if (!out.UploadId) throw new ParleyError('unavailable', `object store: no upload id for ${this.keyOf(blobId)}`);
    return out.UploadId;
  }

  /** Uploads one part; `signal` ends the request early (another part failed, the push was cancelled). */
  async uploadPart(blobId: string, uploadId: string, partNumber: number, body: Buffer, signal?: AbortSignal): Promise<UploadedPart> {
    const command = new UploadPartCommand({ Bucket: this.bucket, Key: this.keyOf(blobId), UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length });
    const out = await this.call('upload_part', blobId, () => this.client.send(command, signal === undefined ? {} : { abortSignal: signal }), signal);
    if (!out.ETag) throw new ParleyError('unavailable', `object store: no ETag for part ${partNumber} of ${this.keyOf(blobId)}`);
    this.metrics?.bytes('write', body.length);
    return { PartNumber: partNumber, ETag: out.ETag };
  }

  async completeUpload(blobId: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    await this.call('complete_upload', blobId, () =>
      this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.keyOf(blobId), UploadId: uploadId, MultipartUpload: { Parts: parts } })),
    );
  }

  async abortUpload(blobId: string, uploadId: string): Promise<void> {
    await this.call('abort_upload', blobId, async () => {
      try {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.keyOf(blobId), UploadId: uploadId }));
      } catch (err) {
        if (!isNotFound(err)) throw err; // already completed, aborted or expired
      }
    });
  }

  /** Removes the object of a blob (absent is fine). */
  async remove(blobId: string): Promise<void> {
    await this.call('delete', blobId, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(blobId) })));
  }

  /** Bytes `start` ≤ i < `end` of a blob's object (one ranged GET), read as the caller consumes them. */
  async *read(blobId: string, start: number, end: number): AsyncGenerator<Buffer> {
    if (end <= start) return;
    const out = await this.call('get', blobId, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(blobId), Range: `bytes=${start}-${end - 1}` })));
    const body = out.Body as Readable | undefined;
    if (body === undefined) throw new ParleyError('unavailable', `object store: no body for ${this.keyOf(blobId)}`);
    let got = 0;
    try {
      for await (const piece of body as AsyncIterable<Buffer>) {
        got += piece.length;
        this.metrics?.bytes('read', piece.length);
        yield piece;
      }
    } catch (err) {
      this.metrics?.failed('get');
      throw new ParleyError('unavailable', `object store: reading ${this.keyOf(blobId)} failed; retry the pull from offset ${start + got}`, { cause: err });
    } finally {
      body.destroy();
    }
    if (got !== end - start) throw new ParleyError('unavailable', `object store: ${this.keyOf(blobId)} gave ${got} of ${end - start} bytes`);
  }

  /** Whether the bucket answers (for /readyz). */
  async ready(): Promise<void> {
    await this.call('head_bucket', undefined, () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  /** Multipart uploads under our prefix started before `before` (blob id, upload id). */
  async staleUploads(before: Date, max = 1000): Promise<Array<{ blobId: string; uploadId: string }>> {
    const out = await this.call('list_uploads', undefined, () => this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: `${this.prefix}blobs/`, MaxUploads: max })));
    const found: Array<{ blobId: string; uploadId: string }> = [];
    for (const u of out.Uploads ?? []) {
      const blobId = u.Key === undefined ? undefined : this.blobIdOf(u.Key);
      if (blobId !== undefined && u.UploadId && u.Initiated !== undefined && u.Initiated < before) found.push({ blobId, uploadId: u.UploadId });
    }
    return found;
  }

  /** Blob ids of objects under our prefix last modified before `before` (one listing page). */
  async staleObjects(before: Date, max = 1000): Promise<string[]> {
    const out = await this.call('list_objects', undefined, () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.prefix}blobs/`, MaxKeys: max })));
    const found: string[] = [];
    for (const o of out.Contents ?? []) {
      const blobId = o.Key === undefined ? undefined : this.blobIdOf(o.Key);
      if (blobId !== undefined && o.LastModified !== undefined && o.LastModified < before) found.push(blobId);
    }
    return found;
  }

  close(): void {
    this.client.destroy();
  }

  /** Runs one request, timed; a failure becomes UNAVAILABLE and is counted unless we ended the request ourselves (`signal`). */
  private async call<T>(op: string, blobId: string | undefined, run: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const started = process.hrtime.bigint();
    try {
      const out = await run();
      this.metrics?.done(op, Number(process.hrtime.bigint() - started) / 1e9);
      return out;
    } catch (err) {
      if (signal?.aborted !== true) this.metrics?.failed(op);
      if (err instanceof ParleyError) throw err;
      const what = blobId === undefined ? `bucket ${this.bucket}` : this.keyOf(blobId);
      throw new ParleyError('unavailable', `object store: ${op} of ${what} failed (${errorName(err)}); retry later`, { cause: err });
    }
  }
}

function credentialsOf(config: S3Config): S3ClientConfig['credentials'] {
  if (config.accessKeyId !== undefined && config.secretAccessKey !== undefined) {
    return { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, ...(config.sessionToken === undefined ? {} : { sessionToken: config.sessionToken }) };
  }
  if (config.accessKeyIdFile !== undefined && config.secretAccessKeyFile !== undefined) {
    const read = (path: string) => {
      try {
        return readFileSync(path, 'utf8').trim();
      } catch {
        throw new TypeError(`store.s3: cannot read credentials file ${path}`);
      }
    };
    return { accessKeyId: read(config.accessKeyIdFile), secretAccessKey: read(config.secretAccessKeyFile) };
  }
  return undefined; // the SDK's default chain
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchUpload' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** The S3 error name or the network error code: never the message (it may quote the request). */
function errorName(err: unknown): string {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return [e?.code ?? e?.name ?? 'error', status === undefined ? undefined : `HTTP ${status}`].filter(Boolean).join(', ');
}
