/**
 * Store benchmarks with in-run baselines (its own embedded PostgreSQL, real mTLS).
 *
 * - store_pull_256mib: MiB/s of a Pull of a 256 MiB record (database -> Parley -> client).
 *   baseline bare_grpc_mtls_stream_256mib: a bare grpc-js server with mTLS credentials
 *   streaming the same bytes from memory in 1 MiB messages of the same proto, write/drain.
 * - store_push_256mib: MiB/s of a Push of 256 MiB (client -> Parley -> database, digest,
 *   commit). baseline pg_bulk_write_256mib: node-postgres writing the same bytes directly
 *   as 1 MiB bytea rows of an equivalent table in one transaction (no gRPC, TLS or hashing).
 * - store_lookup_calls_per_s: Lookup of one CID, 16 calls in flight, as the gateway runs it
 *   (call authorization, namespace check, record metadata cache). baseline
 *   bare_grpc_mtls_unary_echo_calls_per_s: the same call answered from memory by a bare
 *   grpc-js mTLS server. store_lookup_uncached_calls_per_s: the same with the cache off,
 *   so every call queries PostgreSQL.
 * ratio = Parley / baseline. Clients run in a worker thread (plain JS, no build step) so
 * the server's event loop is measured alone; each pair runs ROUNDS times alternately and
 * the best round of each side counts. Numbers depend on the machine (disk, cores).
 *
 * Run on its own: compile with SWC and `node dist/bench/store.bench.js`, or call `run()`.
 */
import { runCleanup, startBenchPostgres } from './bench-postgres';
import { Worker } from 'node:worker_threads';
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { Client } from 'pg';
import { CallAuthorizer } from '../src/authz/call-authorizer';
import { compilePolicy, defaultPolicy } from '../src/authz/domain';
import { connectDataSource, runMigrations } from '../src/database/data-source';
import { protoFile } from '../src/common/proto-files';
import { SecureGrpcServer } from '../src/grpc/secure-grpc-server';
import { TrustDomain, X509Bundle } from '../src/spiffe';
import { ContentId } from '../src/store/domain/content-id';
import { storeLimits } from '../src/store/domain/limits';
import { registerStoreService } from '../src/store/store.grpc-service';
import { STORE_PROTO, STORE_SERVICE, storeMethodNames, storePackageDefinition } from '../src/store/store-wire';
import { StoreRepository } from '../src/store/store.repository';
import { FixedSvidProvider } from '../src/tls/server-identity';
import { TrustStore } from '../src/trust/trust-store';
import { TestCa } from '../test/support/test-ca';
import type { BenchResult } from './bench-result';

export type { BenchResult };

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
const ROUNDS = 2;
const LOOKUP_MS = 3_000;
const LOOKUP_CONCURRENCY = 16;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Piece `i` of the payload of round `seed`: 1 MiB, different for every round and piece. */
function piece(base: Buffer, seed: number, i: number): Buffer {
  const out = Buffer.from(base);
  out.writeUInt32LE(seed, 0);
  out.writeUInt32LE(i, 4);
  return out;
}

const CLIENT_WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const grpc = require(w.grpcPath);
const protoLoader = require(w.protoLoaderPath);
const def = protoLoader.loadSync(w.proto, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [w.protoRoot] });
const Ctor = grpc.makeGenericClientConstructor(def[w.service], 'StoreService');
const creds = grpc.credentials.createSsl(Buffer.from(w.ca), Buffer.from(w.key), Buffer.from(w.cert), { checkServerIdentity: () => undefined });
const options = { 'grpc.max_receive_message_length': 16 << 20, 'grpc.max_send_message_length': 16 << 20, 'grpc-node.flow_control_window': 16 << 20, 'grpc.ssl_target_name_override': 'parley.test' };
const clients = new Map();
const client = (target) => { if (!clients.has(target)) clients.set(target, new Ctor(target, creds, options)); return clients.get(target); };
const base = Buffer.alloc(1 << 20, 7);
function pull(target, cid) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let bytes = 0;
    const call = client(target).Pull({ ref: { cid }, offset: '0', length: '0' });
    call.on('data', (m) => { if (m.chunk) bytes += m.chunk.length; });
    call.on('error', reject);
    call.on('end', () => resolve({ bytes, ms: performance.now() - start }));
  });
}
async function push(target, seed, size) {
  const start = performance.now();
  let call;
  const done = new Promise((resolve, reject) => { call = client(target).Push((err, res) => (err ? reject(err) : resolve(res.cid))); });
  const write = (m) => call.write(m) ? undefined : new Promise((r) => call.once('drain', r));
  await write({ header: { namespace: 'bench/push', expected_size: String(size) } });
  for (let i = 0; i * (1 << 20) < size; i++) {
    const p = Buffer.from(base); p.writeUInt32LE(seed, 0); p.writeUInt32LE(i, 4);
    await write({ chunk: p });
  }
  call.end();
  const cid = await done;
  return { cid, ms: performance.now() - start };
}
async function lookup(target, cid, ms, concurrency) {
  const c = client(target);
  const one = () => new Promise((resolve, reject) => c.Lookup({ refs: [{ cid }] }, (err) => (err ? reject(err) : resolve())));
  for (let i = 0; i < 200; i++) await one();
  const start = performance.now();
  const until = start + ms;
  let calls = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < until) { await one(); calls++; } }));
  return { rate: (calls * 1000) / (performance.now() - start) };
}
parentPort.on('message', async (m) => {
  try {
    if (m.op === 'pull') parentPort.postMessage(await pull(m.target, m.cid));
    else if (m.op === 'push') parentPort.postMessage(await push(m.target, m.seed, m.size));
    else if (m.op === 'lookup') parentPort.postMessage(await lookup(m.target, m.cid, m.ms, m.concurrency));
    else if (m.op === 'close') { for (const c of clients.values()) c.close(); parentPort.postMessage({}); }
  } catch (err) { parentPort.postMessage({ error: String((err && err.message) || err) }); }
});
`;

class ClientWorker {
  private readonly worker: Worker;
  constructor(workerData: object) {
    this.worker = new Worker(CLIENT_WORKER, { eval: true, workerData });
  }
  ask<T>(message: object): Promise<T> {
    return new Promise((resolve, reject) => {
      this.worker.once('message', (reply: T & { error?: string }) => (reply.error ? reject(new Error(reply.error)) : resolve(reply)));
      this.worker.postMessage(message);
    });
  }
  async close(): Promise<void> {
    await this.ask({ op: 'close' });
    await this.worker.terminate();
  }
}

/** A bare grpc-js mTLS server with the store's proto: Pull streams `payload` from memory, Lookup echoes a canned record. */
async function bareServer(ca: TestCa, svid: { chainPem: string; keyPem: string }, payload: Buffer[], lookupReply: object): Promise<{ port: number; stop(): void }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * MiB, 'grpc.max_send_message_length': 16 * MiB });
  server.addService(storePackageDefinition()[STORE_SERVICE] as ServiceDefinition as grpc.ServiceDefinition, {
    Pull: async (call: grpc.ServerWritableStream<unknown, unknown>) => {
      for (const chunk of payload) {
        if (!call.write({ chunk })) await new Promise((r) => call.once('drain', r));
      }
      call.end();
    },
    Lookup: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, lookupReply),
  });
  const creds = grpc.ServerCredentials.createSsl(Buffer.from(ca.bundlePem()), [{ private_key: Buffer.from(svid.keyPem), cert_chain: Buffer.from(svid.chainPem) }], true);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
  return { port, stop: () => server.forceShutdown() };
}

const best = (xs: number[]) => Math.max(...xs);

export async function run(): Promise<BenchResult[]> {
  const { url, cleanup } = await startBenchPostgres('parley-store-bench');
  try {
    const ds = await connectDataSource(url, { url: undefined, migrationsRun: true, poolSize: 10, connectTimeoutMs: 5000, embedded: { port: 0, startTimeoutMs: 60_000 } });
    cleanup.unshift(() => ds.destroy().then(() => undefined));
    await runMigrations(ds);
    const ca = await TestCa.create({ trustDomain: 'acme.test' });
    const serverSvid = await ca.issueSvid({ id: 'spiffe://acme.test/parley/gateway' });
    const clientSvid = await ca.issueSvid({ id: 'spiffe://acme.test/bench/client' });
    const trust = new TrustStore();
    trust.set(X509Bundle.parsePem(TrustDomain.parse('acme.test'), ca.bundlePem()));
    // As the gateway runs it (record metadata cache on), and without the cache for comparison.
    const repository = new StoreRepository(ds, { recordCacheEntries: 10_000 });
    const uncachedRepository = new StoreRepository(ds);
    const compiled = compilePolicy(defaultPolicy('acme.test'), { ownTrustDomain: 'acme.test' });
    const startParley = async (repo: StoreRepository): Promise<number> => {
      // The gateway's call authorization (default policy, namespace checks) on every call.
      const authorizer = new CallAuthorizer({ policy: { compiled }, namespacedMethods: new Set(storeMethodNames()) });
      const server = new SecureGrpcServer({
        authorize: authorizer.authorize,
        host: '127.0.0.1',
        port: 0,
        ownTrustDomain: TrustDomain.parse('acme.test'),
        maxMessageBytes: 8 * MiB,
        identity: new FixedSvidProvider({ certChainPem: serverSvid.chainPem, keyPem: serverSvid.keyPem }),
        trustStore: trust,
        logger: silent,
      });
      const service = registerStoreService(server.server, { repository: repo, limits: storeLimits(), logger: silent, sweepIntervalMs: 0 });
      const { port } = await server.start();
      cleanup.unshift(async () => {
        await service.close();
        await server.stop(500);
      });
      return port;
    };
    const port = await startParley(repository);
    const uncachedTarget = `127.0.0.1:${await startParley(uncachedRepository)}`;

    const base = Buffer.alloc(MiB, 7);
    const pieces = Array.from({ length: SIZE / MiB }, (_v, i) => piece(base, 0, i));
    const protoPath = protoFile(STORE_PROTO);
    const worker = new ClientWorker({
      grpcPath: require.resolve('@grpc/grpc-js'),
      protoLoaderPath: require.resolve('@grpc/proto-loader'),
      proto: STORE_PROTO,
      protoRoot: protoPath.slice(0, protoPath.length - STORE_PROTO.length - 1),
      service: STORE_SERVICE,
      ca: ca.bundlePem(),
      key: clientSvid.keyPem,
      cert: clientSvid.chainPem,
    });
    cleanup.unshift(() => worker.close());
    const parleyTarget = `127.0.0.1:${port}`;

    // The record Pull reads: round 0's bytes, pushed once.
    const { cid } = await worker.ask<{ cid: string }>({ op: 'push', target: parleyTarget, seed: 0, size: SIZE });
    const lookupReply = { records: [{ cid, namespace: 'bench/push', media_type: 'application/octet-stream', size: String(SIZE), annotations: {}, creator_spiffe_id: 'spiffe://acme.test/bench/client', creator_trust_domain: 'acme.test', created_at: { seconds: '0', nanos: 0 } }], missing: [] };
    const bare = await bareServer(ca, serverSvid, pieces, lookupReply);
    cleanup.unshift(() => bare.stop());
    const bareTarget = `127.0.0.1:${bare.port}`;

    const direct = new Client({ connectionString: url });
    await direct.connect();
    cleanup.unshift(() => direct.end());
    await direct.query('CREATE TABLE bench_chunks (blob_id bigint, seq integer, data bytea NOT NULL, PRIMARY KEY (blob_id, seq))');
    await direct.query('ALTER TABLE bench_chunks ALTER COLUMN data SET STORAGE EXTERNAL');

    const pull: number[] = [];
    const barePull: number[] = [];
    const push: number[] = [];
    const pgBulk: number[] = [];
    const lookup: number[] = [];
    const echo: number[] = [];
    const uncached: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const p = await worker.ask<{ bytes: number; ms: number }>({ op: 'pull', target: parleyTarget, cid });
      if (p.bytes !== SIZE) throw new Error(`bench: pulled ${p.bytes} bytes`);
      pull.push(SIZE / MiB / (p.ms / 1000));
      const b = await worker.ask<{ bytes: number; ms: number }>({ op: 'pull', target: bareTarget, cid });
      barePull.push(SIZE / MiB / (b.ms / 1000));

      const pushed = await worker.ask<{ cid: string; ms: number }>({ op: 'push', target: parleyTarget, seed: round, size: SIZE });
      push.push(SIZE / MiB / (pushed.ms / 1000));
      await repository.delete(ContentId.parse(pushed.cid));
      const start = performance.now();
      await direct.query('BEGIN');
      for (let i = 0; i < SIZE / MiB; i++) await direct.query('INSERT INTO bench_chunks VALUES ($1, $2, $3)', [round, i, piece(base, round, i)]);
      await direct.query('COMMIT');
      pgBulk.push(SIZE / MiB / ((performance.now() - start) / 1000));
      await direct.query('TRUNCATE bench_chunks');

      lookup.push((await worker.ask<{ rate: number }>({ op: 'lookup', target: parleyTarget, cid, ms: LOOKUP_MS, concurrency: LOOKUP_CONCURRENCY })).rate);
      echo.push((await worker.ask<{ rate: number }>({ op: 'lookup', target: bareTarget, cid, ms: LOOKUP_MS, concurrency: LOOKUP_CONCURRENCY })).rate);
      uncached.push((await worker.ask<{ rate: number }>({ op: 'lookup', target: uncachedTarget, cid, ms: LOOKUP_MS, concurrency: LOOKUP_CONCURRENCY })).rate);
    }
    return [
      { name: 'store_pull_256mib', value: best(pull), unit: 'MiB/s', baseline: 'bare_grpc_mtls_stream_256mib', ratio: best(pull) / best(barePull) },
      { name: 'bare_grpc_mtls_stream_256mib', value: best(barePull), unit: 'MiB/s' },
      { name: 'store_push_256mib', value: best(push), unit: 'MiB/s', baseline: 'pg_bulk_write_256mib', ratio: best(push) / best(pgBulk) },
      { name: 'pg_bulk_write_256mib', value: best(pgBulk), unit: 'MiB/s' },
      { name: 'store_lookup_calls_per_s', value: best(lookup), unit: 'calls/s', baseline: 'bare_grpc_mtls_unary_echo_calls_per_s', ratio: best(lookup) / best(echo) },
      { name: 'bare_grpc_mtls_unary_echo_calls_per_s', value: best(echo), unit: 'calls/s' },
      { name: 'store_lookup_uncached_calls_per_s', value: best(uncached), unit: 'calls/s (record cache off: every Lookup asks PostgreSQL)', baseline: 'bare_grpc_mtls_unary_echo_calls_per_s', ratio: best(uncached) / best(echo) },
    ];
  } finally {
    await runCleanup(cleanup);
  }
}

if (require.main === module) {
  run().then(
    (results) => {
      for (const r of results) process.stdout.write(`${r.name.padEnd(44)} ${r.value.toFixed(1).padStart(10)} ${r.unit}${r.ratio === undefined ? '' : `  ratio ${r.ratio.toFixed(2)} vs ${r.baseline}`}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`store bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
