/**
 * mTLS listener benchmark with an in-run baseline.
 *
 * - tls_mtls_listener_conn_per_s: new mTLS connections per second through MtlsListener
 *   (TLS 1.3, P-256 leaf + intermediate on both sides): full handshake, SPIFFE
 *   verification against the bundle of the client's trust domain, peer registration,
 *   hand-over, close. The server writes one byte once it has admitted the connection and
 *   the client waits for it, so verification is inside the measured time.
 * - baseline tls_bare_node_mtls_conn_per_s: a bare node:tls server with the same
 *   certificates, `ca`, requestCert + rejectUnauthorized, ALPN h2 and no session tickets,
 *   writing its byte on secureConnection.
 *   ratio = listener / bare (target >= 0.8).
 * - tls_mtls_listener_server_capacity: connections per second of busy time of the server's
 *   event loop (the client thread can be the bottleneck of the plain rate on small
 *   machines; this one isolates the server's cost per connection). Same baseline.
 * Clients run in a worker thread with a fixed concurrency and one reused client context;
 * phases alternate so drift hits both sides alike.
 *
 * Run on its own: compile with SWC and `node dist/bench/tls.bench.js`, or call `run()`.
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

import type { BenchResult } from './bench-result';
export type { BenchResult };

const CONCURRENCY = 4;
const PHASE_MS = 2_000;
const ROUNDS = 3;

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The load generator runs in a worker thread (plain JS, so it needs no build step) and
 * reuses one client SecureContext, the way real clients do: the server's thread then does
 * nothing but the server side of the handshakes, where the listener's extra work shows.
 */
const CLIENT_WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const tls = require('node:tls');
const secureContext = tls.createSecureContext({ key: w.key, cert: w.cert, ca: w.ca });
const one = () => new Promise((resolve, reject) => {
  const socket = tls.connect({ host: '127.0.0.1', port: w.port, secureContext, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
  socket.once('data', () => { socket.destroy(); resolve(); });
  socket.once('error', reject);
  socket.once('close', () => reject(new Error('closed before admission')));
});
(async () => {
  const start = performance.now();
  const until = start + w.ms;
  let done = 0;
  await Promise.all(Array.from({ length: w.concurrency }, async () => {
    while (performance.now() < until) { await one(); done++; }
  }));
  parentPort.postMessage({ done, rate: (done * 1000) / (performance.now() - start) });
})().catch((err) => parentPort.postMessage({ error: String(err && err.message || err) }));
`;

interface Phase {
  /** Connections per second seen by the clients. */
  rate: number;
  connections: number;
  /** Busy time of the server's event loop (this thread) during the phase. */
  serverBusyMs: number;
}

/** Opens connections back to back (CONCURRENCY at a time) for `ms` from a worker thread. */
async function hammer(port: number, client: { key: string; cert: string; ca: string }, ms: number): Promise<Phase> {
  const elu = performance.eventLoopUtilization();
  const worker = new Worker(CLIENT_WORKER, { eval: true, workerData: { port, ms, concurrency: CONCURRENCY, ...client } });
  try {
    const [result] = (await once(worker, 'message')) as [{ rate?: number; done?: number; error?: string }];
    if (result.error !== undefined || result.rate === undefined || result.done === undefined) throw new Error(`bench client: ${result.error ?? 'no result'}`);
    return { rate: result.rate, connections: result.done, serverBusyMs: performance.eventLoopUtilization(elu).active };
  } finally {
    await worker.terminate();
  }
}

function total(phases: Phase[]): { rate: number; capacity: number } {
  const connections = phases.reduce((n, p) => n + p.connections, 0);
  const busy = phases.reduce((n, p) => n + p.serverBusyMs, 0);
  return { rate: phases.reduce((n, p) => n + p.rate, 0) / phases.length, capacity: (connections * 1000) / busy };
}

export async function run(): Promise<BenchResult[]> {
  const root = await TestCa.create({ trustDomain: 'bench.test', keyAlg: 'P-256' });
  const int = await root.intermediate({ keyAlg: 'P-256' });
  const serverSvid = await int.issueSvid({ id: 'spiffe://bench.test/parley/gateway' });
  const clientSvid = await int.issueSvid({ id: 'spiffe://bench.test/ns/ml/sa/trainer' });
  const client = { key: clientSvid.keyPem, cert: clientSvid.chainPem, ca: root.certPem };

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

  const bare: Server = createServer({
    key: serverSvid.keyPem,
    cert: serverSvid.chainPem,
    ca: [root.certPem],
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
  const barePort = (bare.address() as { port: number }).port;

  try {
    await hammer(barePort, client, 300);
    await hammer(mtls.port, client, 300);
    const barePhases: Phase[] = [];
    const mtlsPhases: Phase[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      barePhases.push(await hammer(barePort, client, PHASE_MS));
      mtlsPhases.push(await hammer(mtls.port, client, PHASE_MS));
    }
    const stats = listener.stats();
    if (Object.keys(stats.refused).length > 0) throw new Error(`bench: listener refused connections: ${JSON.stringify(stats.refused)}`);
    const b = total(barePhases);
    const m = total(mtlsPhases);
    return [
      { name: 'tls_mtls_listener_conn_per_s', value: m.rate, unit: 'conn/s', baseline: 'tls_bare_node_mtls_conn_per_s', ratio: m.rate / b.rate, target: '>= 0.8' },
      { name: 'tls_bare_node_mtls_conn_per_s', value: b.rate, unit: 'conn/s' },
      // Connections per second of server-thread busy time: what one server core can admit.
      { name: 'tls_mtls_listener_server_capacity', value: m.capacity, unit: 'conn/busy-s', baseline: 'tls_bare_node_mtls_server_capacity', ratio: m.capacity / b.capacity, target: '>= 0.8' },
      { name: 'tls_bare_node_mtls_server_capacity', value: b.capacity, unit: 'conn/busy-s' },
    ];
  } finally {
    await listener.close();
    await new Promise<void>((resolve) => bare.close(() => resolve()));
  }
}

if (require.main === module) {
  run().then(
    (results) => {
      for (const r of results) {
        const ratio = r.ratio === undefined ? '' : `  ratio ${r.ratio.toFixed(2)} vs ${r.baseline}`;
        process.stdout.write(`${r.name.padEnd(40)} ${r.value.toFixed(0).padStart(8)} ${r.unit.padEnd(12)}${ratio}\n`);
      }
    },
    (err: unknown) => {
      process.stderr.write(`tls bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
