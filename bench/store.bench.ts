/**
 * Store benchmarks against the gateway users run, each with a bare baseline in a process of
 * its own doing the same work without Parley.
 *
 * One PostgreSQL (embedded, started by the bench) serves everything. The gateway is a
 * `parley serve` process with the default config (audit, metrics, authorization with the
 * default policy, record cache of 10,000 entries) except that its identity comes from files
 * (the test CA's SVID, so gateway and baseline present the same chain) and it uses that
 * PostgreSQL (DATABASE_URL). The baselines are bare-store-server.ts processes: a bare grpc-js
 * mTLS server with the store's proto and the gateway's message size limit. The client is the
 * same for all (store-load.ts: a worker thread, one grpc-js channel per server).
 *
 * - store_pull_<n>: MiB/s of a Pull of an n-byte record the gateway stored (default 256 MiB,
 *   BENCH_PULL_BYTES). Baselines: bare_grpc_mtls_pull_pg_copy_<n> streams the same chunks
 *   from the same tables as one binary COPY; bare_grpc_mtls_pull_memory_<n> streams them from
 *   memory. store_gateway_rss_*: VmRSS of the gateway process before and during its Pulls.
 * - store_gateway_gc_percent_{pull,push}_<n>: the gateway's GC pauses over its CPU time
 *   during each timed Pull and Push (bench/gateway-gc.ts).
 * - store_gateway_rss_peak_pull_<n>_{one,four}: VmRSS peak of the gateway through one Pull
 *   of a BENCH_LARGE_PULL_BYTES record (default 1 GiB; 0 skips it) and four at once, with
 *   the GC share of each (bench/store-large-pull.ts).
 * - store_push_<n>: MiB/s of a Push (BENCH_PUSH_BYTES, default 256 MiB; the gateway hashes,
 *   stages and commits). Baseline bare_grpc_mtls_push_pg_copy_<n>: the same stream written
 *   with one binary COPY FROM STDIN into a table of store_chunks' layout. Before every Push
 *   the previous one's rows are gone, the tables VACUUMed and a CHECKPOINT taken, so each
 *   starts from the same database state.
 * - store_lookup_calls_per_s: Lookup of one CID, 16 calls in flight for BENCH_LOOKUP_MS
 *   (default 3,000) per round, record cache on; baseline bare_grpc_mtls_unary_echo: the same
 *   reply from memory. store_lookup_uncached_calls_per_s: a gateway with
 *   store.recordCacheEntries 0; baseline bare_grpc_mtls_unary_pg_read: the gateway's Lookup
 *   SELECT (unique-index read joined by primary key) as a prepared statement per call.
 * - *_server_cpu_us_per_call: CPU time (user + system, all threads, /proc/<pid>/stat) of the
 *   server process per Lookup in the same rounds; PostgreSQL's own CPU is in neither.
 * - store_s3_pull_<n>, store_s3_push_<n>: the same Pull and Push with store.payloads s3 on a
 *   SeaweedFS the bench starts, against the AWS SDK's GetObject/PutObject of the same bytes on
 *   the same server (bench/store-s3.ts; skipped, saying why, when SeaweedFS is not built).
 * BENCH_STORE_PARTS (comma-separated pull, large, push, lookup, s3; default all) runs only those parts.
 * Every part runs BENCH_ROUNDS rounds (default 5), the sides one after the other within a
 * round, the order turning every round; values are medians with the rounds' min–max, ratios
 * Parley / baseline are the median of the rounds' ratios.
 *
 * Run: `npm run bench -- store` (needs the built dist/, which `npm run bench` compiles).
 */
import { Client } from 'pg';
import { TestCa, type IssuedSvid } from '../test/support/test-ca';
import { BARE_PUSH_TABLE, BARE_PUSH_TABLE_DDL, startBareStoreServer, type BareMode, type BareStoreServer } from './bare-store-server';
import { runCleanup, startBenchPostgres } from './bench-postgres';
import { comparedResult, roundsResult, type BenchResult, envInt } from './bench-result';
import { startGatewayProcess, type GatewayProcess } from './gateway-process';
import { cpuMs, rssBytes, sampleRss } from './proc-stats';
import { withGcShare } from './gateway-gc';
import { largePullPart } from './store-large-pull';
import { StoreLoad } from './store-load';
import { s3Part } from './store-s3';

export type { BenchResult };

const MiB = 1024 * 1024;
const LOOKUP_CONCURRENCY = 16;
const LOOKUP_WARMUP_MS = 1_000;
const TRUST_DOMAIN = 'parley.local';


function sizeLabel(bytes: number): string {
  return bytes % MiB === 0 ? `${bytes / MiB}mib` : `${bytes}b`;
}

/** Runs `sides` one after the other, starting with side `round % sides.length`. */
async function inTurn(round: number, sides: ReadonlyArray<() => Promise<void>>): Promise<void> {
  for (let k = 0; k < sides.length; k++) await sides[(round + k) % sides.length]!();
}

interface Servers {
  url: string;
  ca: TestCa;
  server: IssuedSvid;
}

/** `parley serve` on the bench's PostgreSQL with the default config, its identity from the test CA's files. */
function startGateway(s: Servers, store: Record<string, unknown> = {}): Promise<GatewayProcess> {
  const files = { cert: 'identity/svid.pem', key: 'identity/svid.key', bundle: 'identity/bundle.pem' };
  return startGatewayProcess(
    'parley-store-bench',
    {},
    {
      databaseUrl: s.url,
      files: { [files.cert]: s.server.chainPem, [files.key]: s.server.keyPem, [files.bundle]: s.ca.bundlePem() },
      config: { identity: { trustDomain: TRUST_DOMAIN, source: 'files', files }, ...(Object.keys(store).length > 0 ? { store } : {}) },
    },
  );
}

function startBare(s: Servers, mode: BareMode, cid?: string): Promise<BareStoreServer> {
  return startBareStoreServer({ mode, cid, databaseUrl: s.url, caPem: s.ca.bundlePem(), certChainPem: s.server.chainPem, keyPem: s.server.keyPem });
}

const target = (port: number) => `127.0.0.1:${port}`;

async function pullPart(load: StoreLoad, gateway: GatewayProcess, barePg: BareStoreServer, bareMemory: BareStoreServer, cid: string, bytes: number, rounds: number): Promise<BenchResult[]> {
  const rate = async (port: number) => {
    const p = await load.pull(target(port), cid);
    if (p.bytes !== bytes) throw new Error(`bench: pulled ${p.bytes} of ${bytes} bytes from ${port}`);
    return bytes / MiB / (p.ms / 1000);
  };
  for (const port of [gateway.grpcPort, barePg.port, bareMemory.port]) await rate(port); // warm-up
  const idle = rssBytes(gateway.pid) ?? 0;
  const parley: number[] = [];
  const pg: number[] = [];
  const memory: number[] = [];
  const gatewayPeak: number[] = [];
  const barePeak: number[] = [];
  const gcPercent: number[] = [];
  for (let round = 0; round < rounds; round++) {
    await inTurn(round, [
      async () => {
        const rss = sampleRss(gateway.pid);
        try {
          const measured = await withGcShare(gateway, () => rate(gateway.grpcPort));
          parley.push(measured.result);
          gcPercent.push(measured.gcPercent);
        } finally {
          gatewayPeak.push(rss.stop());
        }
      },
      async () => {
        const rss = sampleRss(barePg.pid);
        try {
          pg.push(await rate(barePg.port));
        } finally {
          barePeak.push(rss.stop());
        }
      },
      async () => void memory.push(await rate(bareMemory.port)),
    ]);
  }
  const n = sizeLabel(bytes);
  return [
    comparedResult(`store_pull_${n}`, 'MiB/s', parley, `bare_grpc_mtls_pull_pg_copy_${n}`, pg),
    comparedResult(`store_pull_${n}`, 'MiB/s', parley, `bare_grpc_mtls_pull_memory_${n}`, memory),
    roundsResult(`bare_grpc_mtls_pull_pg_copy_${n}`, 'MiB/s', pg),
    roundsResult(`bare_grpc_mtls_pull_memory_${n}`, 'MiB/s', memory),
    { name: 'store_gateway_rss_idle_mib', value: idle / MiB, unit: 'MiB (parley serve before the timed Pulls, after the seeding Push and a warm-up Pull)' },
    roundsResult('store_gateway_rss_peak_pull_mib', 'MiB', gatewayPeak.map((b) => b / MiB), 'VmRSS every 100 ms during each Pull'),
    roundsResult(`store_gateway_gc_percent_pull_${n}`, '% of the gateway CPU in GC pauses', gcPercent, 'target < 10'),
    roundsResult('bare_pg_copy_rss_peak_pull_mib', 'MiB', barePeak.map((b) => b / MiB), 'the bare server, for scale'),
  ];
}

async function pushPart(load: StoreLoad, direct: Client, gateway: GatewayProcess, barePg: BareStoreServer, bytes: number, rounds: number): Promise<BenchResult[]> {
  // Every Push starts from the same state: the last one's rows gone, dead rows vacuumed, a checkpoint taken.
  const settle = async () => {
    await direct.query(`TRUNCATE ${BARE_PUSH_TABLE}`);
    await direct.query(`VACUUM store_chunks, store_blobs, store_records, ${BARE_PUSH_TABLE}`);
    await direct.query('CHECKPOINT');
  };
  let seed = 1_000;
  const parley: number[] = [];
  const bare: number[] = [];
  const gcPercent: number[] = [];
  const pushTo = async (port: number, out: number[] | undefined) => {
    await settle();
    const measured = await withGcShare(gateway, () => load.push(target(port), seed++, bytes));
    const pushed = measured.result;
    if (port === gateway.grpcPort && out !== undefined) gcPercent.push(measured.gcPercent);
    out?.push(bytes / MiB / (pushed.ms / 1000));
    if (port === gateway.grpcPort) await load.delete(target(port), pushed.cid);
    else {
      const { rows } = await direct.query<{ bytes: string | null }>(`SELECT sum(octet_length(data)) AS bytes FROM ${BARE_PUSH_TABLE}`);
      if (Number(rows[0]?.bytes) !== bytes) throw new Error(`bench: the bare Push stored ${rows[0]?.bytes} of ${bytes} bytes`);
    }
  };
  await pushTo(gateway.grpcPort, undefined); // warm-up
  await pushTo(barePg.port, undefined);
  for (let round = 0; round < rounds; round++) {
    await inTurn(round, [() => pushTo(gateway.grpcPort, parley), () => pushTo(barePg.port, bare)]);
  }
  await settle();
  const n = sizeLabel(bytes);
  return [
    comparedResult(`store_push_${n}`, 'MiB/s', parley, `bare_grpc_mtls_push_pg_copy_${n}`, bare, { target: '>= 0.7' }),
    roundsResult(`bare_grpc_mtls_push_pg_copy_${n}`, 'MiB/s', bare),
    roundsResult(`store_gateway_gc_percent_push_${n}`, '% of the gateway CPU in GC pauses', gcPercent, 'target < 10'),
  ];
}

interface LookupRounds {
  rate: number[];
  cpuUsPerCall: number[];
}

/** Lookup rounds against the gateway and a bare server in turn, with each server's CPU per call. */
async function lookupRounds(load: StoreLoad, cid: string, servers: Array<{ port: number; pid: number }>, ms: number, rounds: number): Promise<LookupRounds[]> {
  for (const s of servers) await load.lookup(target(s.port), cid, LOOKUP_WARMUP_MS, LOOKUP_CONCURRENCY);
  const out = servers.map((): LookupRounds => ({ rate: [], cpuUsPerCall: [] }));
  for (let round = 0; round < rounds; round++) {
    await inTurn(
      round,
      servers.map((s, i) => async () => {
        const cpuBefore = cpuMs(s.pid);
        const r = await load.lookup(target(s.port), cid, ms, LOOKUP_CONCURRENCY);
        const cpu = cpuMs(s.pid) - cpuBefore;
        out[i]!.rate.push((r.calls * 1000) / r.ms);
        out[i]!.cpuUsPerCall.push((cpu * 1000) / r.calls);
      }),
    );
  }
  return out;
}

function lookupResults(name: string, baseline: string, note: string, [parley, bare]: LookupRounds[]): BenchResult[] {
  return [
    comparedResult(`${name}_calls_per_s`, 'calls/s', parley!.rate, `${baseline}_calls_per_s`, bare!.rate, { note }),
    roundsResult(`${baseline}_calls_per_s`, 'calls/s', bare!.rate),
    comparedResult(`${name}_server_cpu_us_per_call`, 'µs CPU per call', parley!.cpuUsPerCall, `${baseline}_cpu_us_per_call`, bare!.cpuUsPerCall, {
      note: 'server process, all threads; lower is better',
    }),
    roundsResult(`${baseline}_cpu_us_per_call`, 'µs CPU per call', bare!.cpuUsPerCall),
  ];
}

const STORE_PARTS = ['pull', 'large', 'push', 'lookup', 's3'] as const;

/** The parts BENCH_STORE_PARTS names (all when unset). @throws Error for a part that does not exist */
function storeParts(value: string | undefined): ReadonlySet<string> {
  if (value === undefined || value.trim() === '') return new Set(STORE_PARTS);
  const named = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const unknown = named.filter((p) => !(STORE_PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`BENCH_STORE_PARTS: unknown part ${unknown.join(', ')} (parts: ${STORE_PARTS.join(', ')})`);
  return new Set(named);
}

export async function run(): Promise<BenchResult[]> {
  const pullBytes = envInt('BENCH_PULL_BYTES', 256 * MiB, 1);
  const pushBytes = envInt('BENCH_PUSH_BYTES', 256 * MiB, 1);
  const rounds = envInt('BENCH_ROUNDS', 5, 1);
  const largePullBytes = envInt('BENCH_LARGE_PULL_BYTES', 1024 * MiB, 0);
  const lookupMs = envInt('BENCH_LOOKUP_MS', 3_000, 100);
  const parts = storeParts(process.env.BENCH_STORE_PARTS);
  // The database first: every server after it binds port 0.
  const { url, cleanup } = await startBenchPostgres('parley-store-bench');
  let gateway: GatewayProcess | undefined;
  try {
    const ca = await TestCa.create({ trustDomain: TRUST_DOMAIN });
    const server = await ca.issueSvid({ id: `spiffe://${TRUST_DOMAIN}/parley/gateway` });
    const client = await ca.issueSvid({ id: `spiffe://${TRUST_DOMAIN}/ns/bench/sa/client` });
    const s: Servers = { url, ca, server };
    gateway = await startGateway(s);
    const loadCredentials = { caPem: ca.bundlePem(), keyPem: client.keyPem, certChainPem: client.chainPem };
    const load = new StoreLoad(loadCredentials);
    cleanup.unshift(() => load.close());
    const direct = new Client({ connectionString: url });
    await direct.connect();
    cleanup.unshift(() => direct.end());
    for (const ddl of BARE_PUSH_TABLE_DDL) await direct.query(ddl);

    // The record every Pull and Lookup reads, pushed once through the gateway.
    const { cid } = await load.push(target(gateway.grpcPort), 0, pullBytes);
    const barePg = await startBare(s, 'postgres');
    cleanup.unshift(() => barePg.stop());
    const bareMemory = await startBare(s, 'memory', cid);
    cleanup.unshift(() => bareMemory.stop());

    const results: BenchResult[] = [];
    if (parts.has('pull')) results.push(...(await pullPart(load, gateway, barePg, bareMemory, cid, pullBytes, rounds)));
    if (parts.has('large') && largePullBytes > 0) results.push(...(await largePullPart(load, gateway, largePullBytes, loadCredentials)));
    await bareMemory.stop(); // its copy of the record is not needed any more
    const bareEcho = await startBare(s, 'echo', cid);
    cleanup.unshift(() => bareEcho.stop());
    if (parts.has('push')) results.push(...(await pushPart(load, direct, gateway, barePg, pushBytes, rounds)));
    if (parts.has('lookup')) {
      const cached = await lookupRounds(load, cid, [{ port: gateway.grpcPort, pid: gateway.pid }, bareEcho], lookupMs, rounds);
      results.push(...lookupResults('store_lookup', 'bare_grpc_mtls_unary_echo', `${LOOKUP_CONCURRENCY} in flight, record cache on`, cached));
      await gateway.stop();
      gateway = await startGateway(s, { recordCacheEntries: 0 });
      const uncached = await lookupRounds(load, cid, [{ port: gateway.grpcPort, pid: gateway.pid }, barePg], lookupMs, rounds);
      results.push(...lookupResults('store_lookup_uncached', 'bare_grpc_mtls_unary_pg_read', `${LOOKUP_CONCURRENCY} in flight, store.recordCacheEntries 0`, uncached));
    }

    await gateway.stop();
    gateway = undefined;
    if (parts.has('s3')) results.push(...(await s3Part({ load, direct, startGateway: (store) => startGateway(s, store), pullBytes, pushBytes, rounds, sizeLabel, inTurn })));
    return results;
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}${gateway ? `\n--- parley serve output ---\n${gateway.output()}` : ''}`, { cause: err });
  } finally {
    await gateway?.stop();
    await runCleanup(cleanup);
  }
}
