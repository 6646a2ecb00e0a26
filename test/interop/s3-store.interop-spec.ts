/**
 * The store with payloads in a real S3-compatible server (SeaweedFS, built pinned by
 * setup.sh) beside the PostgreSQL backend: the same tests for both, then what only the
 * object store has (multipart uploads, orphans, the server going away mid-pull).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Registry } from 'prom-client';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { ContentId } from '../../src/store/domain/content-id';
import type { RecordDraft } from '../../src/store/domain/record';
import { objectPartsBytes, storeLimits } from '../../src/store/domain/limits';
import { ObjectPayloads } from '../../src/store/object-payloads';
import { RecordImporter } from '../../src/store/record-importer';
import { StoreCapacity } from '../../src/store/store-capacity';
import { StoreRepository } from '../../src/store/store.repository';
import { captureLogger } from '../support/tls-clients';
import { startSeaweedS3, watchUploadParts, type PartWatch, type SeaweedS3 } from '../support/seaweedfs';
import { eventually, patternBytes, startStoreHarness, type StoreHarness } from '../integration/store/store-harness';

const MiB = 1024 * 1024;
const BUCKET = 'parley-test';
const CHUNK = 256 * 1024;

let pg: EmbeddedPostgres;
let weed: SeaweedS3;
let metrics: Registry;
let objects: ObjectPayloads;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-s3-pg-'));
  pg = new EmbeddedPostgres({ dir, port: 0, startTimeoutMs: 60_000 });
  process.env.TEST_DATABASE_URL = await pg.start();
  weed = await startSeaweedS3();
  await weed.createBucket(BUCKET);
  metrics = new Registry();
  objects = ObjectPayloads.fromConfig(
    { endpoint: weed.endpoint, region: 'us-east-1', bucket: BUCKET, keyPrefix: 'parley/', forcePathStyle: true, partBytes: 5 * MiB, partsInFlight: 3, accessKeyId: weed.accessKeyId, secretAccessKey: weed.secretAccessKey, requestTimeout: 10_000 },
    metrics,
  );
});
afterAll(async () => {
  objects?.close();
  await weed?.close();
  await pg?.stop();
});

async function keysInBucket(): Promise<string[]> {
  const c = weed.client();
  try {
    const out = await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'parley/' }));
    return (out.Contents ?? []).map((o) => o.Key!);
  } finally {
    c.destroy();
  }
}

/** Multipart uploads left open under the store's prefix. */
function uploadsInBucket(): Promise<number> {
  return weed.openUploads(BUCKET, 'parley/');
}

describe.each(['postgres', 's3'] as const)('store with payloads in %s', (backend) => {
  let h: StoreHarness;
  beforeAll(async () => {
    h = await startStoreHarness({ limits: { chunkBytes: CHUNK }, objects, payloads: backend });
  });
  afterAll(async () => h?.stop());

  it('push, pull whole and from an offset, push the same bytes again, delete', async () => {
    const payload = patternBytes(11 * MiB + 123, backend === 's3' ? 1 : 2);
    const client = await h.client();
    const cid = await client.push({ namespace: 'ml/models' }, payload);
    expect(cid).toBe(ContentId.of(payload).toString());
    expect((await client.pullAll(cid)).data.equals(payload)).toBe(true);
    const offset = 6 * MiB + 7;
    expect((await client.pullAll(cid, { offset })).data.equals(payload.subarray(offset))).toBe(true);
    expect((await client.pullAll(cid, { offset: 100, length: 1000 })).data.equals(payload.subarray(100, 1100))).toBe(true);
    expect(await client.push({ namespace: 'ml/models' }, payload)).toBe(cid);
    expect(await h.count('store_records')).toBe(1);
    const keys = await keysInBucket();
    if (backend === 's3') {
      expect(await h.count('store_chunks')).toBe(0);
      expect(keys).toHaveLength(1); // one object for the CID, though pushed twice
    } else {
      expect(keys).toHaveLength(0);
      expect(await h.count('store_chunks')).toBeGreaterThan(0);
    }
    await client.delete(cid);
    await expect(client.lookup([cid])).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(await keysInBucket()).toHaveLength(0);
    expect(await h.count('store_blobs')).toBe(0);
  });

  it('a push whose bytes do not match the announced digest stores nothing', async () => {
    const client = await h.client();
    const other = ContentId.of(Buffer.from('something else')).toString();
    const failed = await client.push({ namespace: 'ml/models', expected_digest: other }, patternBytes(7 * MiB, 3)).catch((err: grpc.ServiceError) => err);
    expect((failed as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    await eventually(async () => (await h.count('store_blobs')) === 0);
    expect(await keysInBucket()).toHaveLength(0);
    expect(await uploadsInBucket()).toBe(0);
  });

  it('an empty payload round-trips', async () => {
    const client = await h.client();
    const cid = await client.push({ namespace: 'ml/empty' }, Buffer.alloc(0));
    expect((await client.pullAll(cid)).data.length).toBe(0);
    await client.delete(cid);
  });
});

/** An object store client on SeaweedFS whose UploadPart requests are watched (watchUploadParts). */
function watchedObjects(o: { failPart?: number; holdMs?: number } = {}): { objects: ObjectPayloads; watch: PartWatch; client: S3Client } {
  const client = weed.client();
  const watch = watchUploadParts(client, o);
  return { objects: new ObjectPayloads(client, { bucket: BUCKET, keyPrefix: 'parley/', partBytes: 5 * MiB, partsInFlight: 3 }), watch, client };
}

const draft: RecordDraft = { namespace: 'ml/parts', mediaType: 'application/octet-stream', annotations: {}, creatorSpiffeId: 'spiffe://acme.test/x', creatorTrustDomain: 'acme.test' };

describe('store with payloads in s3: parts in flight (store.s3.partsInFlight 3)', () => {
  let h: StoreHarness;
  beforeAll(async () => {
    h = await startStoreHarness({ limits: { chunkBytes: CHUNK }, objects, payloads: 's3' });
  });
  afterAll(async () => h?.stop());

  /** Writes `payload` as a push does, in 1 MiB messages. */
  async function writeAll(upload: { write(data: Buffer): Promise<void> }, payload: Buffer): Promise<void> {
    for (let at = 0; at < payload.length; at += MiB) await upload.write(payload.subarray(at, at + MiB));
  }

  it('uploads up to 3 parts at once, numbered in byte order: the object is the bytes pushed', async () => {
    const { objects: watched, watch, client } = watchedObjects();
    try {
      const repository = new StoreRepository(h.ds, { objects: watched, payloads: 's3' });
      const payload = patternBytes(27 * MiB + 3, 8); // 5 parts of 5 MiB and one of 2 MiB + 3
      const upload = await repository.payloads.begin({ creatorSpiffeId: draft.creatorSpiffeId, chunkBytes: CHUNK, resumable: false });
      await writeAll(upload, payload);
      const cid = ContentId.of(payload);
      expect(await repository.commit(upload, cid, payload.length, draft)).toEqual({ created: true });
      expect(watch.most).toBeGreaterThanOrEqual(2); // the parts really overlapped
      expect(watch.most).toBeLessThanOrEqual(3);
      expect([...watch.started].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
      expect((await (await h.client()).pullAll(cid.toString())).data.equals(payload)).toBe(true);
      await repository.delete(cid);
      expect(await keysInBucket()).not.toContain(objects.keyOf(upload.id));
    } finally {
      client.destroy();
    }
  });

  it('a failed part fails the upload: UNAVAILABLE, no part starts after it, and abort leaves no upload, object or blob', async () => {
    const { objects: watched, watch, client } = watchedObjects({ failPart: 2 });
    try {
      const repository = new StoreRepository(h.ds, { objects: watched, payloads: 's3' });
      const payload = patternBytes(40 * MiB, 9);
      const upload = await repository.payloads.begin({ creatorSpiffeId: draft.creatorSpiffeId, chunkBytes: CHUNK, resumable: false });
      const failed = await writeAll(upload, payload)
        .then(() => repository.commit(upload, ContentId.of(payload), payload.length, draft))
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(failed).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/^object store: upload_part of parley\/blobs\/[0-9]+ failed \(InternalError, HTTP 500\)/) });
      await upload.abort(); // as the push handler does
      const key = objects.keyOf(upload.id);
      expect(watch.startedAfterFailure).toBe(0);
      expect(watch.started.length).toBeLessThan(8); // of 8 parts: the push stopped at the failure
      expect(watch.running).toBe(0);
      expect(await uploadsInBucket()).toBe(0);
      expect(await keysInBucket()).not.toContain(key);
      expect(await h.count('store_blobs')).toBe(0);
      expect(await h.count('store_records')).toBe(0);
    } finally {
      client.destroy();
    }
  });

  it('a sync import into s3 holds (partsInFlight + 1) x partBytes of the push budget while its parts upload, and gives it back', async () => {
    const { objects: watched, watch, client } = watchedObjects({ holdMs: 100 });
    try {
      const repository = new StoreRepository(h.ds, { objects: watched, payloads: 's3' });
      const parts = objectPartsBytes({ partBytes: 5 * MiB, partsInFlight: 3 });
      const capacity = new StoreCapacity(storeLimits({ chunkBytes: CHUNK, objectPartsBytes: parts, uploadBufferBytes: 64 * MiB, uploadBufferWaitMs: 300 }), captureLogger());
      const importer = new RecordImporter(repository, 1024 * MiB, CHUNK, { capacity });
      const payload = patternBytes(17 * MiB + 5, 11); // 4 parts
      const cid = ContentId.of(payload);
      const used: number[] = [];
      async function* source(offset: number): AsyncIterable<Uint8Array> {
        for (let at = offset; at < payload.length; at += MiB) {
          used.push(capacity.uploadBuffer.used);
          yield payload.subarray(at, at + MiB);
        }
      }
      expect(await importer.import({ cid, size: payload.length, draft, source })).toMatchObject({ created: true });
      expect(new Set(used)).toEqual(new Set([20 * MiB]));
      expect(watch.most).toBeGreaterThanOrEqual(2);
      expect(capacity.uploadBuffer.used).toBe(0);
      expect((await (await h.client()).pullAll(cid.toString())).data.equals(payload)).toBe(true);

      // With the budget spent (by pushes) the next import is refused before it begins an upload.
      const held = capacity.uploadBuffer.tryTake(50 * MiB)!;
      const other = patternBytes(MiB, 12);
      await expect(importer.import({ cid: ContentId.of(other), size: other.length, draft, source: async function* () { yield other; } })).rejects.toMatchObject({ code: 'resource_exhausted', details: { reason: 'upload_buffer' } });
      held.release();
      expect(await uploadsInBucket()).toBe(0);
      await repository.delete(cid);
    } finally {
      client.destroy();
    }
  });

  it('an abort while parts are uploading (a cancelled push) waits for them, then leaves nothing', async () => {
    const { objects: watched, watch, client } = watchedObjects({ holdMs: 500 });
    try {
      const repository = new StoreRepository(h.ds, { objects: watched, payloads: 's3' });
      const upload = await repository.payloads.begin({ creatorSpiffeId: draft.creatorSpiffeId, chunkBytes: CHUNK, resumable: false });
      await writeAll(upload, patternBytes(15 * MiB, 10)); // three parts sent, none waited for
      await eventually(async () => watch.running === 3);
      await upload.abort();
      expect(watch.running).toBe(0);
      expect(await uploadsInBucket()).toBe(0);
      expect(await keysInBucket()).not.toContain(objects.keyOf(upload.id));
      expect(await h.count('store_blobs')).toBe(0);
    } finally {
      client.destroy();
    }
  });
});

describe('store with payloads in s3: what only the object store has', () => {
  let h: StoreHarness;
  beforeAll(async () => {
    h = await startStoreHarness({ limits: { chunkBytes: CHUNK }, objects, payloads: 's3' });
  });
  afterAll(async () => h?.stop());

  it('an upload its process abandoned (no abort: as after kill -9) is invisible, and the janitor removes upload, object and blob', async () => {
    const upload = await h.repository.payloads.begin({ creatorSpiffeId: 'spiffe://acme.test/x', chunkBytes: CHUNK, resumable: false });
    await upload.write(patternBytes(6 * MiB, 4)); // one 5 MiB part uploaded
    await eventually(async () => (await objects.staleUploads(new Date(Date.now() + 60_000))).length === 1);
    expect(await h.count('store_records')).toBe(0);
    // An object with no blob row at all (a crash between the object store's answer and the database's).
    const c = weed.client();
    await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: objects.keyOf('999999999'), Body: Buffer.from('orphan') }));
    c.destroy();
    expect(await h.service.janitor.sweep()).toBe(0); // nothing is older than store.stagingTtl yet
    await new Promise((r) => setTimeout(r, 1100));
    expect(await h.repository.payloads.sweep(0, 0)).toBeGreaterThanOrEqual(2);
    expect(await uploadsInBucket()).toBe(0);
    expect(await keysInBucket()).toHaveLength(0);
    expect(await h.count('store_blobs')).toBe(0);
  });

  it('replicas deleting and pushing the same CID concurrently never lose a referenced object', async () => {
    const other = new StoreRepository(h.ds, { objects, payloads: 's3' }); // a second replica on the same database
    const payload = patternBytes(2 * MiB, 5);
    const client = await h.client();
    for (let round = 0; round < 6; round++) {
      const cid = await client.push({ namespace: 'ml/race' }, payload);
      await Promise.all([other.delete(ContentId.parse(cid)), client.push({ namespace: 'ml/race' }, payload).catch(() => undefined)]);
      const exists = await client.lookup([cid]).then(
        () => true,
        () => false,
      );
      if (exists) expect((await client.pullAll(cid)).data.equals(payload)).toBe(true);
      await other.delete(ContentId.parse(cid));
    }
    expect(await keysInBucket()).toHaveLength(0);
  });

  it('the object store stopped mid-pull: UNAVAILABLE; when it is back the pull resumes from its offset', async () => {
    // Far more than the buffers between SeaweedFS and the paused client can hold (loopback TCP
    // buffers, the SDK's stream, HTTP/2 windows): with 24 MiB the gateway had sometimes read the
    // whole object before the store stopped, and the pull ended OK.
    const payload = patternBytes(96 * MiB, 6);
    const client = await h.client();
    const cid = await client.push({ namespace: 'ml/outage' }, payload);
    const received: Buffer[] = [];
    const stream = client.pull(cid);
    let stopped: Promise<void> | undefined;
    const code = await new Promise<number>((resolve) => {
      stream.on('data', (m: { chunk?: Buffer }) => {
        if (m.chunk) received.push(m.chunk);
        if (stopped === undefined && received.length > 0) {
          stream.pause();
          stopped = weed.stop().then(() => void stream.resume());
        }
      });
      stream.on('error', (err: grpc.ServiceError) => resolve(err.code));
      stream.on('end', () => resolve(grpc.status.OK));
    });
    await stopped;
    expect(code).toBe(grpc.status.UNAVAILABLE);
    const got = Buffer.concat(received);
    expect(got.length).toBeLessThan(payload.length);
    await expect(client.pullAll(cid, { offset: got.length })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    await weed.start();
    const rest = await client.pullAll(cid, { offset: got.length });
    expect(Buffer.concat([got, rest.data]).equals(payload)).toBe(true);
    const text = await metrics.metrics();
    expect(text).toMatch(/parley_store_backend_errors_total\{backend="s3",operation="get"\} [1-9]/);
    expect(text).toMatch(/parley_store_backend_bytes_total\{backend="s3",direction="write"\} [1-9]/);
  });
});
