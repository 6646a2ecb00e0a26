/** A SecureGrpcServer on 127.0.0.1:0 with TestCa certificates, and clients for it. */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS } from '../../../src/common/proto-files';
import { SecureGrpcServer, type SecureGrpcServerOptions } from '../../../src/grpc/secure-grpc-server';
import { requireSpiffeId, requireTrustDomain } from '../../../src/spiffe';
import { spiffeChannelCredentials, type ClientTrust, type ExpectedServer } from '../../../src/tls/client-credentials';
import { FixedSvidProvider, type PemKeyPair, type SvidProvider } from '../../../src/tls/server-identity';
import type { TrustStore } from '../../../src/trust/trust-store';
import { captureLogger, pairOf, type CapturingLogger } from '../../support/tls-clients';
import type { IssuedSvid } from '../../support/test-ca';

export const GATEWAY_ID = 'spiffe://acme.test/parley/gateway';
export const ACME = requireTrustDomain('acme.test');

export interface TestServer {
  server: SecureGrpcServer;
  port: number;
  identity: FixedSvidProvider;
  trust: TrustStore;
  logger: CapturingLogger;
  stop(): Promise<void>;
}

export async function startServer(
  trust: TrustStore,
  svid: IssuedSvid,
  extra: Partial<Omit<SecureGrpcServerOptions, 'identity' | 'trustStore' | 'logger'>> = {},
): Promise<TestServer> {
  const logger = captureLogger();
  const identity = new FixedSvidProvider(pairOf(svid));
  const server = new SecureGrpcServer({ host: '127.0.0.1', port: 0, ownTrustDomain: ACME, handshakeTimeoutMs: 2_000, ...extra, identity, trustStore: trust, logger });
  const { port } = await server.start();
  return { server, port, identity, trust, logger, stop: () => server.stop(500) };
}

let echoDefinition: protoLoader.PackageDefinition | undefined;
export function echoProto(): protoLoader.PackageDefinition {
  echoDefinition ??= protoLoader.loadSync(join(__dirname, 'fixtures', 'echo.proto'), PROTO_LOADER_OPTIONS);
  return echoDefinition;
}
export const ECHO_PROTO_PATH = join(__dirname, 'fixtures', 'echo.proto');

export type EchoClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export function echoClient(port: number, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): EchoClient {
  const pkg = grpc.loadPackageDefinition(echoProto()) as unknown as { parley: { test: { v1: { Echo: grpc.ServiceClientConstructor } } } };
  return new pkg.parley.test.v1.Echo(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': 'parley.test', ...options }) as unknown as EchoClient;
}

/** Channel credentials for a client of the test gateway. */
export function credsFor(svid: IssuedSvid | PemKeyPair | SvidProvider, trust: ClientTrust, server: ExpectedServer = { id: requireSpiffeId(GATEWAY_ID) }): grpc.ChannelCredentials {
  const pair = 'chainPem' in svid ? pairOf(svid) : svid;
  return spiffeChannelCredentials({ svid: pair, trust, server });
}

export function unary<T>(client: EchoClient, method: string, request: object, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
  });
}
