/**
 * mTLS listener benchmark with an in-run baseline.
 *
 * - tls_mtls_listener_conn_per_s: new mTLS connections per second through MtlsListener
 *   (TLS 1.3, P-256 leaf + intermediate on both sides), each with a client leaf of its own
 *   (minted before the timed part; every leaf is used once), so the listener verifies a
 *   certificate it has never seen: full handshake, SPIFFE verification against the bundle of
 *   the client's trust domain (the leaf's signature proven afresh; the intermediate's, the
 *   same for every leaf, is remembered as it is for real clients), peer registration,
 *   hand-over, close. The server writes one byte once it has admitted the connection and the
 *   client waits for it, so verification is inside the measured time.
 * - baseline tls_bare_node_mtls_conn_per_s: a bare node:tls server with the same
 *   certificates, `ca`, requestCert + rejectUnauthorized, ALPN h2 and no session tickets,
 *   writing its byte on secureConnection, given the same kind of fresh leaves.
 *   ratio = listener / bare (target >= 0.9 for the server capacity with fresh leaves, 0.8 for the connection rate).
 * - tls_mtls_listener_server_capacity: connections per second of busy time of the server's
 *   event loop (the client thread can be the bottleneck of the plain rate on small
 *   machines; this one isolates the server's cost per connection). Same baseline.
 * - tls_mtls_listener_server_cpu_capacity: connections per second of CPU time of the server's
 *   thread (/proc, 10 ms resolution): busy time also counts the time a loaded machine keeps
 *   the busy thread off a core; CPU time does not. Same baseline.
 * - *_reused_leaf: the same with one client leaf for every connection (a workload
 *   reconnecting with its SVID), where the listener's proof of the leaf's signature is
 *   remembered.
 * Each phase opens BENCH_TLS_CONNECTIONS connections (default 400), 4 at a time, from a worker
 * thread whose secure contexts are built before the phase starts. BENCH_ROUNDS rounds (default
 * 5), the phases in turn with the order turning every round; medians with the rounds' spread,
 * ratios the median of the rounds' ratios.
 *
 * Run: `npm run bench -- tls`.
 */
import { constants } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { Worker } from 'node:worker_threads';
import { X509Bundle, TrustDomain } from '../src/spiffe';
import { MtlsListener } from '../src/tls/mtls-listener';
import { FixedSvidProvider } from '../src/tls/server-identity';
import { TrustStore } from '../src/trust/trust-store';
import { TestCa } from '../test/support/test-ca';
import { comparedResult, roundsResult, type BenchResult, envInt } from './bench-result';
import { mainThreadCpuMs } from './proc-stats';

export type { BenchResult };

const CONCURRENCY = 4;
const WARMUP_CONNECTIONS = 100;
/** Leaves minted at once (WebCrypto's key generation and signing use the thread pool). */
const MINT_BATCH = 20;
const CLIENT_ID = 'spiffe://bench.test/ns/ml/sa/trainer';

const silent = { debug() {}, info() {}, warn() {}, error() {} };


/**
 * The load generator runs in a worker thread (plain JS, so it needs no build step). It builds
 * one SecureContext per leaf first and says so; on 'go' it opens one connection per context
 * (the same context for every connection when given one leaf and a count).
 */
const CLIENT_WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const tls = require('node:tls');
const contexts = w.leaves.map((l) => tls.createSecureContext({ key: l.key, cert: l.cert, ca: w.ca }));
const contextOf = (i) => contexts[contexts.length === 1 ? 0 : i];
const one = (secureContext) => new Promise((resolve, reject) => {
  const socket = tls.connect({ host: '127.0.0.1', port: w.port, secureContext, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
  socket.once('data', () => { socket.destroy(); resolve(); });
  socket.once('error', reject);
  socket.once('close', () => reject(new Error('closed before admission')));
});
parentPort.once('message', async () => {
  try {
    const start = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: w.concurrency }, async () => {
      while (next < w.connections) await one(contextOf(next++));
    }));
    parentPort.postMessage({ done: w.connections, ms: performance.now() - start });
  } catch (err) { parentPort.postMessage({ error: String(err && err.message || err) }); }
});
parentPort.postMessage({ ready: true });
`;

interface Leaf {
  key: string;
  cert: string;
}

interface Phase {
  /** Connections per second seen by the clients. */
  rate: number;
  /** Connections per second of busy time of the server's event loop (this thread). */
  capacity: number;
  /** Connections per second of CPU time of this thread (the server's). */
  cpuCapacity: number;
}

/** Opens `connections` connections (CONCURRENCY at a time) from a worker thread: one per leaf, or all with the one leaf given. */
async function hammer(port: number, ca: string, leaves: Leaf[], connections: number): Promise<Phase> {
  const worker = new Worker(CLIENT_WORKER, { eval: true, workerData: { port, ca, leaves, connections, concurrency: CONCURRENCY } });
  try {
    const [ready] = (await once(worker, 'message')) as [{ ready?: boolean; error?: string }];
    if (ready.ready !== true) throw new Error(`bench client: ${ready.error ?? 'not ready'}`);
    const elu = performance.eventLoopUtilization();
    const cpuBefore = mainThreadCpuMs();
    worker.postMessage('go');
    const [result] = (await once(worker, 'message')) as [{ ms?: number; done?: number; error?: string }];
    const busyMs = performance.eventLoopUtilization(elu).active;
    const cpuMs = mainThreadCpuMs() - cpuBefore;
    if (result.error !== undefined || result.ms === undefined || result.done === undefined) throw new Error(`bench client: ${result.error ?? 'no result'}`);
    return { rate: (result.done * 1000) / result.ms, capacity: (result.done * 1000) / busyMs, cpuCapacity: (result.done * 1000) / Math.max(cpuMs, 10) };
  } finally {
    await worker.terminate();
  }
}

/** `count` fresh client leaves (each with its own key) from `ca`. */
async function mintLeaves(ca: TestCa, count: number): Promise<Leaf[]> {
  const leaves: Leaf[] = [];
  while (leaves.length < count) {
    const batch = await Promise.all(Array.from({ length: Math.min(MINT_BATCH, count - leaves.length) }, () => ca.issueSvid({ id: CLIENT_ID })));
    leaves.push(...batch.map((s) => ({ key: s.keyPem, cert: s.chainPem })));
  }
  return leaves;
}

async function startBare(server: { keyPem: string; chainPem: string }, rootPem: string): Promise<{ server: Server; port: number }> {
  const bare: Server = createServer({
    key: server.keyPem,
    cert: server.chainPem,
    ca: [rootPem],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['h2'],
    secureOptions: constants.SSL_OP_NO_TICKET | constants.SSL_OP_NO_RENEGOTIATION,
  });
  bare.on('secureConnection', (socket: TLSSocket) => {
    socket.on('error', () => undefined);
    socket.write('k');
  });
  bare.listen(0, '127.0.0.1');
  await once(bare, 'listening');
  return { server: bare, port: (bare.address() as { port: number }).port };
}

export async function run(): Promise<BenchResult[]> {
  const connections = envInt('BENCH_TLS_CONNECTIONS', 400, 10);
  const rounds = envInt('BENCH_ROUNDS', 5, 1);
  const root = await TestCa.create({ trustDomain: 'bench.test', keyAlg: 'P-256' });
  const int = await root.intermediate({ keyAlg: 'P-256' });
  const serverSvid = await int.issueSvid({ id: 'spiffe://bench.test/parley/gateway' });
  const reused = await mintLeaves(int, 1);

  const trustStore = new TrustStore();
  trustStore.set(X509Bundle.parsePem(TrustDomain.parse('bench.test'), root.certPem));
  const listener = new MtlsListener({
    host: '127.0.0.1',
    port: 0,
    minVersion: 'TLSv1.3',
    identity: new FixedSvidProvider({ certChainPem: serverSvid.chainPem, keyPem: serverSvid.keyPem }),
    trustStore,
    logger: silent,
    onConnection: (socket) => socket.write('k'),
  });
  const mtls = await listener.listen();
  const bare = await startBare(serverSvid, root.certPem);

  try {
    // Every leaf of the fresh phases, minted before anything is timed.
    const fresh = await mintLeaves(int, 2 * (WARMUP_CONNECTIONS + rounds * connections));
    let used = 0;
    const take = (n: number) => fresh.slice(used, (used += n));
    await hammer(bare.port, root.certPem, take(WARMUP_CONNECTIONS), WARMUP_CONNECTIONS);
    await hammer(mtls.port, root.certPem, take(WARMUP_CONNECTIONS), WARMUP_CONNECTIONS);
    const phases = { bareFresh: [] as Phase[], mtlsFresh: [] as Phase[], bareReused: [] as Phase[], mtlsReused: [] as Phase[] };
    const sides: Array<() => Promise<void>> = [
      async () => void phases.bareFresh.push(await hammer(bare.port, root.certPem, take(connections), connections)),
      async () => void phases.mtlsFresh.push(await hammer(mtls.port, root.certPem, take(connections), connections)),
      async () => void phases.bareReused.push(await hammer(bare.port, root.certPem, reused, connections)),
      async () => void phases.mtlsReused.push(await hammer(mtls.port, root.certPem, reused, connections)),
    ];
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < sides.length; k++) await sides[(round + k) % sides.length]!();
    }
    const stats = listener.stats();
    if (Object.keys(stats.refused).length > 0) throw new Error(`bench: listener refused connections: ${JSON.stringify(stats.refused)}`);
    const rate = (p: Phase[]) => p.map((x) => x.rate);
    const capacity = (p: Phase[]) => p.map((x) => x.capacity);
    const cpuCapacity = (p: Phase[]) => p.map((x) => x.cpuCapacity);
    const note = `a fresh client leaf per connection, ${connections} per round`;
    const reusedNote = `one client leaf for all, ${connections} per round`;
    return [
      comparedResult('tls_mtls_listener_conn_per_s', 'conn/s', rate(phases.mtlsFresh), 'tls_bare_node_mtls_conn_per_s', rate(phases.bareFresh), { note, target: '>= 0.8' }),
      roundsResult('tls_bare_node_mtls_conn_per_s', 'conn/s', rate(phases.bareFresh), note),
      // Connections per second of server-thread busy time: what one server core can admit.
      comparedResult('tls_mtls_listener_server_capacity', 'conn/busy-s', capacity(phases.mtlsFresh), 'tls_bare_node_mtls_server_capacity', capacity(phases.bareFresh), {
        note,
        target: '>= 0.9',
      }),
      roundsResult('tls_bare_node_mtls_server_capacity', 'conn/busy-s', capacity(phases.bareFresh), note),
      comparedResult('tls_mtls_listener_server_cpu_capacity', 'conn/cpu-s', cpuCapacity(phases.mtlsFresh), 'tls_bare_node_mtls_server_cpu_capacity', cpuCapacity(phases.bareFresh), {
        note,
        target: '>= 0.9',
      }),
      roundsResult('tls_bare_node_mtls_server_cpu_capacity', 'conn/cpu-s', cpuCapacity(phases.bareFresh), note),
      comparedResult('tls_mtls_listener_conn_per_s_reused_leaf', 'conn/s', rate(phases.mtlsReused), 'tls_bare_node_mtls_conn_per_s_reused_leaf', rate(phases.bareReused), {
        note: reusedNote,
      }),
      comparedResult('tls_mtls_listener_server_capacity_reused_leaf', 'conn/busy-s', capacity(phases.mtlsReused), 'tls_bare_node_mtls_server_capacity_reused_leaf', capacity(phases.bareReused), {
        note: reusedNote,
      }),
      comparedResult('tls_mtls_listener_server_cpu_capacity_reused_leaf', 'conn/cpu-s', cpuCapacity(phases.mtlsReused), 'tls_bare_node_mtls_server_cpu_capacity_reused_leaf', cpuCapacity(phases.bareReused), {
        note: reusedNote,
      }),
    ];
  } finally {
    await listener.close();
    await new Promise<void>((resolve) => bare.server.close(() => resolve()));
  }
}
