/**
 * `parley migrate-payloads` (the built CLI) against a real PostgreSQL and a real S3 server
 * (SeaweedFS, built pinned by setup.sh) while a store gateway keeps serving: payloads pushed
 * to PostgreSQL move to the object store (one run killed with SIGKILL midway, then run
 * again) and back, a Pull in progress when its blob moves still gets every byte, a Delete
 * during the run leaves nothing behind. The copy into the object store uploads up to
 * store.s3.partsInFlight parts at once; a part failing mid-copy aborts the upload, and the
 * blob stays where it was until a run moves it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { ContentId } from '../../src/store/domain/content-id';
import { ObjectPayloads } from '../../src/store/object-payloads';
import type { StoreClient } from '../../src/store/store-client';
import { PayloadMover } from '../../src/store/payload-mover';
import { startSeaweedS3, watchUploadParts, type PartWatch, type SeaweedS3 } from '../support/seaweedfs';
import { runParley, runParleyToEnd, stopAllParley } from '../support/parley-process';
import { patternBytes, startStoreHarness, type StoreHarness } from '../integration/store/store-harness';

const MiB = 1024 * 1024;
const BUCKET = 'parley-migrate';
const CHUNK = 256 * 1024;

let pg: EmbeddedPostgres;
let weed: SeaweedS3;
let objects: ObjectPayloads;
let h: StoreHarness;
let cwd: string;

beforeAll(async () => {
  pg = new EmbeddedPostgres({ dir: mkdtempSync(join(tmpdir(), 'parley-migrate-pg-')), port: 0, startTimeoutMs: 60_000 });
  process.env.TEST_DATABASE_URL = await pg.start();
  weed = await startSeaweedS3();
  await weed.createBucket(BUCKET);
  const s3 = { endpoint: weed.endpoint, region: 'us-east-1', bucket: BUCKET, keyPrefix: 'parley/', forcePathStyle: true, partBytes: 5 * MiB, partsInFlight: 3 };
  objects = ObjectPayloads.fromConfig({ ...s3, accessKeyId: weed.accessKeyId, secretAccessKey: weed.secretAccessKey, requestTimeout: 10_000 });
  // The gateway writes to PostgreSQL and reads from both (store.payloads: postgres with store.s3 set).
  h = await startStoreHarness({ limits: { chunkBytes: CHUNK, pullStallTimeoutMs: 280_000 }, objects, payloads: 'postgres' });
  cwd = mkdtempSync(join(tmpdir(), 'parley-migrate-cli-'));
  writeFileSync(join(cwd, 'parley.yaml'), JSON.stringify({ log: { level: 'warn' }, store: { payloads: 'postgres', s3 } }));
});
afterAll(async () => {
  await stopAllParley();
  await h?.stop();
  objects?.close();
  await weed?.close();
  await pg?.stop();
});

const cliEnv = () => ({ DATABASE_URL: h.url, PARLEY_STORE_S3_ACCESS_KEY_ID: weed.accessKeyId, PARLEY_STORE_S3_SECRET_ACCESS_KEY: weed.secretAccessKey });

async function migrate(...args: string[]): Promise<Record<string, unknown>> {
  const run = await runParleyToEnd(['migrate-payloads', ...args, '--json'], { cwd, env: cliEnv(), timeoutMs: 240_000 });
  if (run.code !== 0) throw new Error(`migrate-payloads ${args.join(' ')} exited ${run.code ?? run.signal}:\n${run.output}`);
  return JSON.parse(run.output.trim().split('\n').pop()!) as Record<string, unknown>;
}

async function keysInBucket(): Promise<string[]> {
  const c = weed.client();
  try {
    return ((await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'parley/' }))).Contents ?? []).map((o) => o.Key!).sort();
  } finally {
    c.destroy();
  }
}

/** Multipart uploads left open under the store's prefix. */
function uploadsInBucket(): Promise<number> {
  return weed.openUploads(BUCKET, 'parley/');
}

async function placement(): Promise<{ s3: number; postgres: number; copies: number; blobs: number }> {
  const rows: Array<Record<string, string>> = await h.ds.query(
    `SELECT count(*) FILTER (WHERE backend = 's3') AS s3, count(*) FILTER (WHERE backend = 'postgres') AS postgres, count(*) FILTER (WHERE copy_in IS NOT NULL) AS copies, count(*) AS blobs FROM store_blobs`,
  );
  return { s3: Number(rows[0]!.s3), postgres: Number(rows[0]!.postgres), copies: Number(rows[0]!.copies), blobs: Number(rows[0]!.blobs) };
}

/** A Pull that takes its first message, then waits (holding its stream) until `finish` reads the rest. */
function pausedPull(client: StoreClient, cid: string): { started: Promise<void>; finish(): Promise<Buffer> } {
  const stream = client.pull(cid);
  const received: Buffer[] = [];
  let started!: () => void;
  const first = new Promise<void>((r) => (started = r));
  const done = new Promise<Buffer>((resolve, reject) => {
    stream.on('data', (m: { chunk?: Buffer; encoded?: Buffer }) => {
      if (m.chunk) received.push(m.chunk);
      if (received.length === 1) {
        stream.pause();
        started();
      }
    });
    stream.on('error', (err: grpc.ServiceError) => reject(err));
    stream.on('end', () => resolve(Buffer.concat(received)));
  });
  return {
    started: first,
    async finish() {
      stream.resume();
      return done;
    },
  };
}

async function pullsIdentical(client: StoreClient, records: Map<string, Buffer>): Promise<void> {
  for (const [cid, payload] of records) {
    const { data } = await client.pullAll(cid);
    expect({ cid, identical: data.equals(payload) }).toEqual({ cid, identical: true });
  }
}

it('moves every payload to s3 (one run killed midway, then run again) and back to postgres while pulls and deletes go on', async () => {
  const client = await h.client();
  const records = new Map<string, Buffer>();
  const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * MiB + 3, 24 * MiB + 11, ...Array.from({ length: 14 }, (_, i) => 6 * MiB + i * 4099)];
  for (const [i, size] of sizes.entries()) {
    const payload = patternBytes(size, 100 + i);
    records.set(await client.push({ namespace: 'ml/models' }, payload), payload);
  }
  const total = records.size;
  expect(await placement()).toEqual({ s3: 0, postgres: total, copies: 0, blobs: total });

  const dry = await migrate('--to', 's3', '--dry-run');
  expect(dry).toMatchObject({ to: 's3', dryRun: true, moved: total, remaining: total });
  expect(await placement()).toMatchObject({ s3: 0, copies: 0 });
  expect(await migrate('--to', 's3', '--limit', '2')).toMatchObject({ moved: 2, remaining: total - 2 });

  // A pull of the 24 MiB record holds its stream while its blob moves (its first window read from PostgreSQL).
  const bigCid = [...records].find(([, p]) => p.length === 24 * MiB + 11)![0];
  const pull = pausedPull(client, bigCid);
  await pull.started;

  const killed = runParley(['migrate-payloads', '--to', 's3', '-q'], { cwd, env: cliEnv() });
  let deleted: string | undefined;
  for (;;) {
    const p = await placement();
    if (deleted === undefined && p.s3 >= 3 && p.copies >= 1) {
      // Delete the record whose blob is being copied this moment (a Delete racing the move).
      const rows: Array<{ cid: string }> = await h.ds.query('SELECT r.cid FROM store_records r JOIN store_blobs b ON b.id = r.blob_id WHERE b.copy_in IS NOT NULL AND r.cid <> $1', [bigCid]);
      if (rows[0] !== undefined) {
        deleted = rows[0].cid;
        await client.delete(deleted);
      }
    }
    if (deleted !== undefined && p.s3 >= 8 && p.copies >= 1) break; // midway, a blob half-moved
    if (killed.child.exitCode !== null) throw new Error(`the run ended before it could be killed: ${killed.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  killed.child.kill('SIGKILL');
  expect((await killed.exited).signal).toBe('SIGKILL');
  records.delete(deleted);
  const stopped = await placement();
  expect(stopped.postgres).toBeGreaterThan(0);

  const rerun = await migrate('--to', 's3');
  expect(rerun).toMatchObject({ to: 's3', dryRun: false, remaining: 0 });
  expect(records.size).toBe(total - 1);
  expect(await placement()).toEqual({ s3: records.size, postgres: 0, copies: 0, blobs: records.size });
  expect(await h.count('store_chunks')).toBe(0);
  const ids: Array<{ id: string }> = await h.ds.query('SELECT blob_id AS id FROM store_records');
  expect(await keysInBucket()).toEqual(ids.map((r) => objects.keyOf(String(r.id))).sort());

  const pulled = await pull.finish();
  expect(pulled.equals(records.get(bigCid)!)).toBe(true);
  await pullsIdentical(client, records);

  // And back, a pull of the big record (now in the object store) in progress again.
  const back = pausedPull(client, bigCid);
  await back.started;
  expect(await migrate('--to', 'postgres')).toMatchObject({ to: 'postgres', moved: records.size, remaining: 0, leftovers: 0 });
  expect((await back.finish()).equals(records.get(bigCid)!)).toBe(true);
  expect(await placement()).toEqual({ s3: 0, postgres: records.size, copies: 0, blobs: records.size });
  expect(await keysInBucket()).toEqual([]);
  expect(await h.count('store_chunks')).toBeGreaterThan(0);
  await pullsIdentical(client, records);
  expect(ContentId.parse(bigCid).toString()).toBe(bigCid);
});

it('--to accepts only postgres or s3; without store.s3 it says what is missing', async () => {
  const bad = await runParleyToEnd(['migrate-payloads', '--to', 'disk'], { cwd, env: cliEnv() });
  expect(bad.code).toBe(1);
  expect(bad.output).toMatch(/--to must be postgres or s3/);
  const bare = mkdtempSync(join(tmpdir(), 'parley-migrate-nos3-'));
  const none = await runParleyToEnd(['migrate-payloads', '--to', 's3'], { cwd: bare, env: { DATABASE_URL: h.url } });
  expect(none.code).toBe(78);
  expect(none.output).toMatch(/store\.s3 is not configured/);
  const help = await runParleyToEnd(['migrate-payloads', '--help'], { cwd, env: cliEnv() });
  expect(help.output).toMatch(/parley migrate-payloads --to s3 --dry-run/);
});

describe('the copy into s3 (store.s3.partsInFlight 3)', () => {
  /** A mover to s3 whose object store client's UploadParts are watched (each held 200 ms, so that overlapping ones are seen). */
  function watchedMover(o: { failPart?: number } = {}): { mover: PayloadMover; watch: PartWatch; close(): void } {
    const client = weed.client();
    const watch = watchUploadParts(client, { holdMs: 200, ...o });
    const watched = new ObjectPayloads(client, { bucket: BUCKET, keyPrefix: 'parley/', partBytes: 5 * MiB, partsInFlight: 3 });
    return { mover: new PayloadMover(h.ds, watched, 's3'), watch, close: () => client.destroy() };
  }

  /** Deletes every record, then pushes `sizes` (to PostgreSQL). */
  async function freshRecords(client: StoreClient, sizes: number[], seed: number): Promise<Map<string, Buffer>> {
    const cids: Array<{ cid: string }> = await h.ds.query('SELECT cid FROM store_records');
    for (const { cid } of cids) await client.delete(cid);
    const records = new Map<string, Buffer>();
    for (const [i, size] of sizes.entries()) {
      const payload = patternBytes(size, seed + i);
      records.set(await client.push({ namespace: 'ml/window' }, payload), payload);
    }
    return records;
  }

  it('uploads up to 3 parts of a blob at once, numbered in byte order, and the object is the blob', async () => {
    const client = await h.client();
    const records = await freshRecords(client, [27 * MiB + 3, 11 * MiB], 300); // 6 parts, then 3
    const { mover, watch, close } = watchedMover();
    try {
      const bytes: number[] = [];
      const summary = await mover.run({ onBytes: (n) => bytes.push(n) });
      expect(summary).toMatchObject({ to: 's3', moved: 2, remaining: 0 });
      expect(watch.most).toBe(3); // the parts really overlapped, never more than the window
      expect(watch.started.filter((n) => n === 1)).toHaveLength(2);
      expect(watch.started.slice().sort((a, b) => a - b)).toEqual([1, 1, 2, 2, 3, 3, 4, 5, 6]);
      expect(bytes.reduce((a, b) => a + b, 0)).toBe(38 * MiB + 3); // the progress counts every byte read
    } finally {
      close();
    }
    expect(await placement()).toEqual({ s3: 2, postgres: 0, copies: 0, blobs: 2 });
    expect(await h.count('store_chunks')).toBe(0);
    await pullsIdentical(client, records);
    expect(await migrate('--to', 'postgres')).toMatchObject({ moved: 2, remaining: 0 });
  });

  it('a part failing mid-copy aborts the upload (no part starts after it, none still uploading); the blob stays in postgres and a rerun moves it', async () => {
    const client = await h.client();
    const records = await freshRecords(client, [36 * MiB + 5], 400); // 8 parts
    const { mover, watch, close } = watchedMover({ failPart: 3 });
    try {
      await expect(mover.run()).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/^object store: upload_part of parley\/blobs\/[0-9]+ failed \(InternalError, HTTP 500\)/) });
      expect(watch.most).toBeGreaterThanOrEqual(2);
      expect(watch.startedAfterFailure).toBe(0);
      expect(watch.running).toBe(0);
      expect(watch.started.length).toBeLessThan(8);
    } finally {
      close();
    }
    expect(await uploadsInBucket()).toBe(0);
    expect(await keysInBucket()).toEqual([]);
    expect(await placement()).toEqual({ s3: 0, postgres: 1, copies: 0, blobs: 1 });
    await pullsIdentical(client, records);

    expect(await migrate('--to', 's3')).toMatchObject({ to: 's3', moved: 1, remaining: 0, leftovers: 0 });
    expect(await placement()).toEqual({ s3: 1, postgres: 0, copies: 0, blobs: 1 });
    expect(await uploadsInBucket()).toBe(0);
    await pullsIdentical(client, records);
  });
});
