/**
 * Clients and helpers for tests of the mTLS listener and the gRPC transport: a capturing
 * logger, trust stores from TestCa roots, a health client over SPIFFE channel credentials,
 * and raw TLS connection attempts.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { loadProto } from '../../src/common/proto-files';
import { requireTrustDomain, X509Bundle } from '../../src/spiffe';
import type { PemKeyPair } from '../../src/tls/server-identity';
import type { TransportLogger } from '../../src/tls/tls-logger';
import { TrustStore } from '../../src/trust/trust-store';
import type { IssuedSvid, TestCa } from './test-ca';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

export type CapturingLogger = TransportLogger & { lines: LogLine[]; matching(msg: string): LogLine[] };

/** A logger that keeps every line; `PARLEY_TEST_LOG=1` also prints them. */
export function captureLogger(): CapturingLogger {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: object, msg: string) => {
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
    if (process.env.PARLEY_TEST_LOG) process.stderr.write(`${level} ${msg} ${JSON.stringify(obj, (_k, v: unknown) => (v instanceof Error ? v.message : v))}\n`);
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), matching: (msg) => lines.filter((l) => l.msg === msg) };
}

export function pairOf(svid: IssuedSvid): PemKeyPair {
  return { certChainPem: svid.chainPem, keyPem: svid.keyPem };
}

/** Sets the bundle of `ca`'s trust domain to the roots given (several during a rotation). */
export function setBundle(store: TrustStore, ...roots: TestCa[]): void {
  const td = requireTrustDomain(roots[0].trustDomain);
  store.set(X509Bundle.parsePem(td, roots.map((r) => r.root.certPem).join('')));
}

export function trustStoreOf(...roots: TestCa[]): TrustStore {
  const store = new TrustStore();
  for (const root of roots) setBundle(store, root);
  return store;
}

interface HealthReply {
  status: string;
}
type HealthClient = grpc.Client & {
  Check(req: { service: string }, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: HealthReply) => void): grpc.ClientUnaryCall;
  Watch(req: { service: string }, opts?: grpc.CallOptions): grpc.ClientReadableStream<HealthReply>;
};

let healthCtor: grpc.ServiceClientConstructor | undefined;

/** A grpc.health.v1 client for 127.0.0.1:port. */
export function healthClient(port: number, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): HealthClient {
  healthCtor ??= (grpc.loadPackageDefinition(loadProto('grpc/health/v1/health.proto')) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }).grpc.health.v1.Health;
  return new healthCtor(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': 'parley.test', ...options }) as unknown as HealthClient;
}

/** One Check call with a deadline; resolves with the status or rejects with the ServiceError. */
export function check(client: HealthClient, service = '', timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    client.Check({ service }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res?.status ?? '')));
  });
}

export interface RawAttempt {
  /** True when our side completed the handshake. */
  handshake: boolean;
  /** How the connection ended: 'closed' (by the server), or the client-side error code. */
  end: string;
}

/**
 * A raw TLS connection attempt with h2 ALPN that waits until the server closes it (or
 * `holdMs` passes, which means the server kept it open).
 */
export function rawAttempt(port: number, cert: PemKeyPair | undefined, roots: string, holdMs = 1_500): Promise<RawAttempt> {
  return new Promise((resolve) => {
    let handshake = false;
    let settled = false;
    const socket: TLSSocket = tlsConnect({
      host: '127.0.0.1',
      port,
      servername: 'parley.test',
      ca: roots,
      key: cert?.keyPem,
      cert: cert?.certChainPem,
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    const done = (end: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ handshake, end });
    };
    const timer = setTimeout(() => done('open'), holdMs);
    socket.on('secureConnect', () => {
      handshake = true;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    socket.on('close', () => done('closed'));
    socket.resume();
  });
}
