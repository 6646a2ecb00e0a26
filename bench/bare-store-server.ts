/**
 * The store benchmark's baseline: a bare grpc-js mTLS server with the store's proto, in a
 * process of its own, doing the work of each measured call without Parley (no SPIFFE
 * verification beyond OpenSSL's chain check, no authorization, audit, metrics, limits or
 * digests). Two modes:
 *
 * - `postgres`: Pull reads the record's row (the gateway's Lookup SELECT) and streams the
 *   chunks the gateway stored, from the same tables of the same PostgreSQL, as one binary
 *   COPY; Push writes each message as a row of `bench_chunks` (store_chunks' layout) with one
 *   binary COPY FROM STDIN; Lookup runs the gateway's Lookup SELECT (a prepared statement on
 *   a pool the size of database.poolSize) and answers with the row.
 * - `memory`: reads the record and its chunks once at start, closes the database, then
 *   Pull streams them from memory and Lookup answers the record from memory (an echo).
 * - `echo`: as `memory` without the chunks (Lookup only, no payload held).
 *
 * Run as `node dist/bench/bare-store-server.js <config.json>` (startBareStoreServer does);
 * it binds 127.0.0.1:0 and prints `{"ready":true,"port":N}` on stdout.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { Pool, type PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { STORE_SERVICE, storePackageDefinition, type WireLookupRequest, type WirePullRequest, type WirePushRequest, type WireRecord } from '../src/store/store-wire';
import { chunkRowPrefix, copyHeader, CopyBinaryRows, copyTrailer } from './copy-binary-codec';

const MiB = 1024 * 1024;
/** The gateway's defaults: grpc.maxMessageBytes, database.poolSize, store.pullConnections. */
const MAX_MESSAGE_BYTES = 8 * MiB;
const POOL_SIZE = 10;
const PULL_CONNECTIONS = 16;
const READY_TIMEOUT_MS = 60_000;

export type BareMode = 'postgres' | 'memory' | 'echo';

export interface BareServerConfig {
  mode: BareMode;
  databaseUrl: string;
  /** The record served from memory (`memory` and `echo` modes). */
  cid?: string;
  caPem: string;
  certChainPem: string;
  keyPem: string;
}

/** The table Push writes (store_chunks' layout, without its foreign key). */
export const BARE_PUSH_TABLE = 'bench_chunks';
export const BARE_PUSH_TABLE_DDL = [
  `CREATE TABLE IF NOT EXISTS ${BARE_PUSH_TABLE} (blob_id bigint NOT NULL, seq integer NOT NULL CHECK (seq >= 0), data bytea NOT NULL, PRIMARY KEY (blob_id, seq))`,
  `ALTER TABLE ${BARE_PUSH_TABLE} ALTER COLUMN data SET STORAGE EXTERNAL`,
];

/** The gateway's Lookup and Pull metadata query (src/store/store.repository.ts FIND_ONE). */
const FIND_ONE = `SELECT r.cid, r.blob_id, r.namespace, r.media_type, r.size, r.annotations, r.creator_spiffe_id, r.creator_trust_domain,
  (extract(epoch FROM r.created_at) * 1000000)::bigint AS created_us, b.chunk_bytes
  FROM store_records r JOIN store_blobs b ON b.id = r.blob_id WHERE r.cid = $1`;

interface RecordRow {
  cid: string;
  blob_id: string;
  namespace: string;
  media_type: string;
  size: string;
  annotations: Record<string, string> | null;
  creator_spiffe_id: string;
  creator_trust_domain: string;
  created_us: string;
}

function wireRecord(row: RecordRow): WireRecord {
  const us = BigInt(row.created_us);
  return {
    cid: row.cid,
    namespace: row.namespace,
    media_type: row.media_type,
    size: row.size,
    annotations: row.annotations ?? {},
    creator_spiffe_id: row.creator_spiffe_id,
    creator_trust_domain: row.creator_trust_domain,
    created_at: { seconds: (us / 1_000_000n).toString(), nanos: Number(us % 1_000_000n) * 1000 },
  };
}

async function findRecord(pool: Pool, cid: string): Promise<RecordRow | undefined> {
  const { rows } = await pool.query<RecordRow>({ name: 'bare_find_record', text: FIND_ONE, values: [cid] });
  return rows[0];
}

/** The chunks of a blob in order, as binary COPY (the socket is read only as fast as the caller takes chunks). */
async function* copyChunks(client: PoolClient, blobId: string): AsyncGenerator<Buffer> {
  if (!/^[0-9]{1,19}$/.test(blobId)) throw new Error(`bare: bad blob id ${blobId}`);
  const stream = client.query(copyTo(`COPY (SELECT seq, data FROM store_chunks WHERE blob_id = ${blobId} ORDER BY seq) TO STDOUT (FORMAT binary)`));
  const rows = new CopyBinaryRows();
  for await (const piece of stream as AsyncIterable<Buffer>) {
    for (const row of rows.push(piece)) yield row[1]!;
  }
  rows.finish();
}

async function write<T>(call: grpc.ServerWritableStream<unknown, T>, message: T): Promise<void> {
  if (!call.write(message)) await once(call, 'drain');
}

type Handlers = grpc.UntypedServiceImplementation;

function notFound(cid: string): grpc.ServiceError {
  return Object.assign(new Error(`record ${cid} not found`), { code: grpc.status.NOT_FOUND, details: 'not found', metadata: new grpc.Metadata() });
}

function failed(err: unknown): grpc.ServiceError {
  const message = err instanceof Error ? err.message : String(err);
  return Object.assign(new Error(message), { code: grpc.status.INTERNAL, details: message, metadata: new grpc.Metadata() });
}

/** Pull, Push and Lookup on the database (`postgres` mode). */
function postgresHandlers(pool: Pool, pullPool: Pool): Handlers {
  let nextBlob = 0;
  return {
    Pull: async (call: grpc.ServerWritableStream<WirePullRequest, unknown>) => {
      try {
        const cid = call.request.ref?.cid ?? '';
        const row = await findRecord(pool, cid);
        if (row === undefined) throw notFound(cid);
        await write(call, { record: wireRecord(row) });
        const client = await pullPool.connect();
        let clean = false;
        try {
          for await (const chunk of copyChunks(client, String(row.blob_id))) await write(call, { chunk });
          clean = true;
        } finally {
          client.release(clean ? undefined : new Error('copy abandoned'));
        }
        call.end();
      } catch (err) {
        call.destroy(err instanceof Error && 'code' in err ? err : failed(err));
      }
    },
    Push: async (call: grpc.ServerReadableStream<WirePushRequest, unknown>, done: grpc.sendUnaryData<unknown>) => {
      const blobId = ++nextBlob;
      let client: PoolClient | undefined;
      let clean = false;
      try {
        client = await pool.connect();
        const copy = client.query(copyFrom(`COPY ${BARE_PUSH_TABLE} (blob_id, seq, data) FROM STDIN (FORMAT binary)`));
        const finished = once(copy, 'finish');
        finished.catch(() => undefined); // awaited below; a failure before that must not go unhandled
        const put = async (bytes: Buffer) => {
          if (!copy.write(bytes)) await once(copy, 'drain');
        };
        await put(copyHeader());
        let seq = 0;
        for await (const message of call as AsyncIterable<WirePushRequest>) {
          if (message.chunk === undefined || message.chunk.length === 0) continue;
          await put(chunkRowPrefix(blobId, seq++, message.chunk.length));
          await put(message.chunk);
        }
        copy.end(copyTrailer());
        await finished;
        clean = true;
        done(null, { cid: `bare-${blobId}` });
      } catch (err) {
        done(failed(err));
      } finally {
        client?.release(clean ? undefined : new Error('copy abandoned'));
      }
    },
    Lookup: (call: grpc.ServerUnaryCall<WireLookupRequest, unknown>, done: grpc.sendUnaryData<unknown>) => {
      const cids = (call.request.refs ?? []).map((r) => r.cid);
      Promise.all(cids.map((cid) => findRecord(pool, cid))).then(
        (rows) => {
          const missing = cids.filter((_c, i) => rows[i] === undefined);
          if (missing.length > 0 && !call.request.allow_missing) done(notFound(missing[0]!));
          else done(null, { records: rows.filter((r) => r !== undefined).map(wireRecord), missing: missing.map((cid) => ({ cid })) });
        },
        (err: unknown) => done(failed(err)),
      );
    },
  };
}

/** Pull and Lookup from memory: the record and (unless `withChunks` is false) its chunks, read once. */
async function memoryHandlers(databaseUrl: string, cid: string, withChunks: boolean): Promise<Handlers> {
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  let record: WireRecord;
  const chunks: Buffer[] = [];
  try {
    const row = await findRecord(pool, cid);
    if (row === undefined) throw new Error(`bare: record ${cid} not found`);
    record = wireRecord(row);
    const client = await pool.connect();
    try {
      if (withChunks) for await (const chunk of copyChunks(client, String(row.blob_id))) chunks.push(chunk);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
  return {
    Pull: async (call: grpc.ServerWritableStream<WirePullRequest, unknown>) => {
      await write(call, { record });
      for (const chunk of chunks) await write(call, { chunk });
      call.end();
    },
    Lookup: (_call: unknown, done: grpc.sendUnaryData<unknown>) => done(null, { records: [record], missing: [] }),
  };
}

async function serve(config: BareServerConfig): Promise<void> {
  const pools: Pool[] = [];
  let handlers: Handlers;
  if (config.mode !== 'postgres') handlers = await memoryHandlers(config.databaseUrl, config.cid ?? '', config.mode === 'memory');
  else {
    const pool = new Pool({ connectionString: config.databaseUrl, max: POOL_SIZE });
    const pullPool = new Pool({ connectionString: config.databaseUrl, max: PULL_CONNECTIONS });
    pools.push(pool, pullPool);
    handlers = postgresHandlers(pool, pullPool);
  }
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES });
  server.addService(storePackageDefinition()[STORE_SERVICE] as ServiceDefinition as grpc.ServiceDefinition, handlers);
  const creds = grpc.ServerCredentials.createSsl(Buffer.from(config.caPem), [{ private_key: Buffer.from(config.keyPem), cert_chain: Buffer.from(config.certChainPem) }], true);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
  const stop = () => {
    server.forceShutdown();
    void Promise.allSettled(pools.map((p) => p.end())).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
}

export interface BareStoreServer {
  readonly pid: number;
  readonly port: number;
  /** Its last output (stderr and stdout). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts the bare server as a child process (from the built dist/bench) and waits for its port. */
export async function startBareStoreServer(config: BareServerConfig): Promise<BareStoreServer> {
  const script = join(__dirname, 'bare-store-server.js');
  if (!existsSync(script)) throw new Error(`bench: ${script} is not built (npm run bench compiles it)`);
  const dir = mkdtempSync(join(tmpdir(), 'parley-bare-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
  const child = spawn(process.execPath, [script, configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const keep = (c: Buffer) => (text = (text + c.toString()).slice(-8192));
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench: bare ${config.mode} server not ready within ${READY_TIMEOUT_MS} ms: ${text}`)), READY_TIMEOUT_MS);
      let pending = '';
      child.stdout.on('data', (c: Buffer) => {
        keep(c);
        pending += c.toString();
        const line = pending.split('\n').find((l) => l.startsWith('{"ready"'));
        if (line === undefined) return;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`bench: bare ${config.mode} server exited before it was ready: ${text}`));
      });
    });
    return { pid: child.pid!, port, output: () => text, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

if (require.main === module) {
  serve(JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as BareServerConfig).catch((err: unknown) => {
    process.stderr.write(`bare store server failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
