/**
 * A real S3-compatible server for tests: SeaweedFS (`weed server -s3`, master, volume,
 * filer and S3 gateway in one process), built pinned by test/interop/setup.sh into
 * test/interop/.cache/bin/weed, on free 127.0.0.1 ports with its data in a temporary folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, ListBucketsCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './ports';

/** The binary setup.sh builds; from the compiled bench (dist/test/support) it is the source tree's. */
export const WEED_BIN = [resolve(__dirname, '../interop/.cache/bin/weed'), resolve(__dirname, '../../../test/interop/.cache/bin/weed')].find((p) => existsSync(p)) ?? resolve(__dirname, '../interop/.cache/bin/weed');

export interface SeaweedS3 {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly dir: string;
  /** A client of the server (path style, the test credentials). */
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  /** How many multipart uploads under `prefix` of `bucket` are open (not completed or aborted). */
  openUploads(bucket: string, prefix: string): Promise<number>;
  /** Stops the server (SIGKILL after 5 s); `start` brings it back on the same ports and data. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
  /** The last 8,000 characters the server printed (for a failure's message). */
  output(): string;
}

export interface SeaweedOptions {
  readonly readyTimeoutMs?: number;
  /** Volumes the server may create (default 8) and each one's size limit (default 64 MiB): its capacity. Deleted bytes are not reclaimed while it runs. */
  readonly volumes?: number;
  readonly volumeSizeLimitMB?: number;
}

/** Starts SeaweedFS; throws (naming the setup script) when the binary was not built. */
export async function startSeaweedS3(options: SeaweedOptions = {}): Promise<SeaweedS3> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  if (!existsSync(WEED_BIN)) {
    const error = join(resolve(__dirname, '../interop/.cache'), 'weed.build-error');
    const why = existsSync(error) ? `: ${readFileSync(error, 'utf8').slice(-2000)}` : '';
    throw new Error(`SeaweedFS is not built (${WEED_BIN}); run bash test/interop/setup.sh${why}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'parley-seaweedfs-'));
  const accessKeyId = `parley${randomBytes(4).toString('hex')}`;
  const secretAccessKey = randomBytes(20).toString('hex');
  const identities = { identities: [{ name: 'parley', credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }] };
  writeFileSync(join(dir, 's3.json'), JSON.stringify(identities));
  const ports: Record<string, number> = {};
  for (const name of ['master', 'master.grpc', 'volume', 'volume.grpc', 'filer', 'filer.grpc', 's3', 's3.grpc']) ports[name] = await freePort();
  const args = [
    'server',
    `-dir=${join(dir, 'data')}`,
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    '-filer',
    '-s3',
    `-s3.config=${join(dir, 's3.json')}`,
    `-volume.max=${options.volumes ?? 8}`,
    `-master.volumeSizeLimitMB=${options.volumeSizeLimitMB ?? 64}`,
    ...Object.entries(ports).map(([name, port]) => `-${name.replace(/^(\w+)\.grpc$/, '$1.port.grpc').replace(/^(\w+)$/, '$1.port')}=${port}`),
  ];
  const endpoint = `http://127.0.0.1:${ports.s3}`;
  const client = () => new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  let proc: ChildProcess | undefined;
  let output = '';

  async function start(): Promise<void> {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'data'), { recursive: true });
    const child = spawn(WEED_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = child;
    const keep = (b: Buffer) => (output = (output + b.toString()).slice(-8000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const probe = client();
    const deadline = Date.now() + readyTimeoutMs;
    try {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`weed exited with ${child.exitCode}: ${output}`);
        try {
          await probe.send(new ListBucketsCommand({}));
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`SeaweedFS S3 not ready after ${readyTimeoutMs} ms: ${output}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    } finally {
      probe.destroy();
    }
  }

  async function stop(): Promise<void> {
    const child = proc;
    proc = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  await start();
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    dir,
    client,
    output: () => output,
    async openUploads(bucket: string, prefix: string) {
      const c = client();
      try {
        return ((await c.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))).Uploads ?? []).length;
      } finally {
        c.destroy();
      }
    },
    async createBucket(name: string) {
      const c = client();
      // The filer may need a moment after the S3 port answers before buckets can be made.
      const deadline = Date.now() + 30_000;
      try {
        for (;;) {
          try {
            await c.send(new CreateBucketCommand({ Bucket: name }));
            return;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      } finally {
        c.destroy();
      }
    },
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** UploadPart requests as an object store client sends them: how many ran at once, which part numbers, one made to fail. */
export interface PartWatch {
  running: number;
  most: number;
  readonly started: number[];
  failed: boolean;
  startedAfterFailure: number;
}

/**
 * Watches the UploadPart requests of `client` (a middleware, before anything is sent): each
 * is held `holdMs` before it is sent, and part `failPart` fails after 100 ms (as a 500 would).
 */
export function watchUploadParts(client: S3Client, o: { failPart?: number; holdMs?: number } = {}): PartWatch {
  const watch: PartWatch = { running: 0, most: 0, started: [], failed: false, startedAfterFailure: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'UploadPartCommand') return next(args);
      const partNumber = (args.input as { PartNumber: number }).PartNumber;
      watch.started.push(partNumber);
      if (watch.failed) watch.startedAfterFailure++;
      watch.most = Math.max(watch.most, ++watch.running);
      try {
        if (partNumber === o.failPart) {
          await new Promise((r) => setTimeout(r, 100));
          watch.failed = true;
          throw Object.assign(new Error('injected part failure'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } });
        }
        if (o.holdMs !== undefined) await new Promise((r) => setTimeout(r, o.holdMs));
        return await next(args);
      } finally {
        watch.running--;
      }
    },
    { step: 'initialize', name: 'watchUploadParts' },
  );
  return watch;
}
