/**
 * The store's Pull and Push with payloads in an S3-compatible object store (store.payloads:
 * s3), against SeaweedFS started here (the binary test/interop/setup.sh builds; without it
 * the rows are skipped, saying why). Baselines in the same rounds: the AWS SDK's S3 client
 * doing a GetObject of the very object the gateway stored (bare_s3_get_object_<n>) and a
 * PutObject of the same bytes (bare_s3_put_object_<n>) directly against the same SeaweedFS,
 * in the bench's process.
 *
 * - store_s3_pull_<n>: MiB/s of a Pull of an n-byte record (BENCH_PULL_BYTES) whose payload
 *   is one object; store_s3_push_<n>: MiB/s of a Push (BENCH_PUSH_BYTES; the gateway hashes
 *   and uploads it as a multipart upload of store.s3.partBytes parts), each record deleted
 *   (its object removed) before the next round.
 * BENCH_S3_PARTS_IN_FLIGHT sets the gateway's store.s3.partsInFlight (default: the
 * configuration's default), to compare windows in one run.
 */
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Client } from 'pg';
import { startSeaweedS3, WEED_BIN } from '../test/support/seaweedfs';
import { comparedResult, envInt, roundsResult, type BenchResult } from './bench-result';
import type { GatewayProcess } from './gateway-process';
import type { StoreLoad } from './store-load';

const MiB = 1024 * 1024;
const BUCKET = 'parley-bench';

export interface S3PartOptions {
  load: StoreLoad;
  direct: Client;
  /** Starts `parley serve` with these store settings. */
  startGateway(store: Record<string, unknown>): Promise<GatewayProcess>;
  pullBytes: number;
  pushBytes: number;
  rounds: number;
  sizeLabel(bytes: number): string;
  inTurn(round: number, sides: ReadonlyArray<() => Promise<void>>): Promise<void>;
}

/** The bytes store-load.ts pushes for `seed` (1 MiB pieces of 7s, seed and piece index in front). */
function pushedBytes(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size, 7);
  for (let i = 0; i * MiB < size; i++) {
    if (i * MiB + 8 > size) break;
    out.writeUInt32LE(seed, i * MiB);
    out.writeUInt32LE(i, i * MiB + 4);
  }
  return out;
}

async function getObjectRate(s3: S3Client, key: string, bytes: number): Promise<number> {
  const start = performance.now();
  const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  let got = 0;
  for await (const piece of out.Body as Readable) got += (piece as Buffer).length;
  if (got !== bytes) throw new Error(`bench: GetObject gave ${got} of ${bytes} bytes`);
  return bytes / MiB / ((performance.now() - start) / 1000);
}

export async function s3Part(o: S3PartOptions): Promise<BenchResult[]> {
  if (!existsSync(WEED_BIN)) {
    process.stdout.write(`  store_s3_* rows skipped: SeaweedFS is not built (${WEED_BIN}); run bash test/interop/setup.sh\n`);
    return [];
  }
  // Room for every round's bytes: SeaweedFS does not reclaim deleted objects' space while it runs.
  const needMiB = ((o.pullBytes * 2 + (o.pushBytes * 2) * (o.rounds + 1)) / MiB) * 1.5;
  // The master grows volumes 7 at a time: a multiple of 7, one growth to spare.
  const weed = await startSeaweedS3({ volumes: 7 * (Math.ceil(needMiB / 256 / 7) + 1), volumeSizeLimitMB: 256 });
  const s3 = weed.client();
  let gateway: GatewayProcess | undefined;
  try {
    await weed.createBucket(BUCKET);
    const partsInFlight = process.env.BENCH_S3_PARTS_IN_FLIGHT ? envInt('BENCH_S3_PARTS_IN_FLIGHT', 3, 1) : undefined;
    gateway = await o.startGateway({
      payloads: 's3',
      s3: {
        endpoint: weed.endpoint,
        bucket: BUCKET,
        forcePathStyle: true,
        accessKeyId: weed.accessKeyId,
        secretAccessKey: weed.secretAccessKey,
        ...(partsInFlight === undefined ? {} : { partsInFlight }),
      },
    });
    const target = `127.0.0.1:${gateway.grpcPort}`;
    const results = await pullRounds(o, s3, target);
    results.push(...(await pushRounds(o, s3, target)));
    return results;
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- weed output ---\n${weed.output().slice(-3000)}${gateway ? `\n--- parley serve output ---\n${gateway.output().slice(-3000)}` : ''}`, { cause: err });
  } finally {
    await gateway?.stop();
    s3.destroy();
    await weed.close();
  }
}

async function pullRounds(o: S3PartOptions, s3: S3Client, target: string): Promise<BenchResult[]> {
  const { cid } = await o.load.push(target, 1, o.pullBytes);
  const { rows } = await o.direct.query<{ blob_id: string }>('SELECT blob_id FROM store_records WHERE cid = $1', [cid]);
  const key = `parley/blobs/${rows[0]!.blob_id}`; // the object the gateway stored: the same bytes
  const pull = async () => {
    const p = await o.load.pull(target, cid);
    if (p.bytes !== o.pullBytes) throw new Error(`bench: pulled ${p.bytes} of ${o.pullBytes} bytes`);
    return o.pullBytes / MiB / (p.ms / 1000);
  };
  await pull(); // warm-up
  await getObjectRate(s3, key, o.pullBytes);
  const parley: number[] = [];
  const bare: number[] = [];
  for (let round = 0; round < o.rounds; round++) {
    await o.inTurn(round, [async () => void parley.push(await pull()), async () => void bare.push(await getObjectRate(s3, key, o.pullBytes))]);
  }
  await o.load.delete(target, cid);
  const n = o.sizeLabel(o.pullBytes);
  return [comparedResult(`store_s3_pull_${n}`, 'MiB/s', parley, `bare_s3_get_object_${n}`, bare), roundsResult(`bare_s3_get_object_${n}`, 'MiB/s', bare)];
}

async function pushRounds(o: S3PartOptions, s3: S3Client, target: string): Promise<BenchResult[]> {
  let seed = 2_000;
  const viaGateway = async () => {
    const pushed = await o.load.push(target, seed++, o.pushBytes);
    await o.load.delete(target, pushed.cid);
    return o.pushBytes / MiB / (pushed.ms / 1000);
  };
  const direct = async () => {
    const body = pushedBytes(seed++, o.pushBytes);
    const start = performance.now();
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'bare/push', Body: body, ContentLength: body.length }));
    const rate = o.pushBytes / MiB / ((performance.now() - start) / 1000);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'bare/push' }));
    return rate;
  };
  await viaGateway(); // warm-up
  await direct();
  const parley: number[] = [];
  const bare: number[] = [];
  for (let round = 0; round < o.rounds; round++) {
    await o.inTurn(round, [async () => void parley.push(await viaGateway()), async () => void bare.push(await direct())]);
  }
  const n = o.sizeLabel(o.pushBytes);
  return [comparedResult(`store_s3_push_${n}`, 'MiB/s', parley, `bare_s3_put_object_${n}`, bare), roundsResult(`bare_s3_put_object_${n}`, 'MiB/s', bare)];
}
