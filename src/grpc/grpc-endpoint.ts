import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { ParleyError } from '../common';
import type { GrpcConfig, TlsConfig } from '../config';
import type { TrustDomain } from '../spiffe';
import { unheldAuthorityDomain, type SvidProvider } from '../tls';
import type { TrustStore } from '../trust';
import type { Authorize } from './call-interceptor';
import { SecureGrpcServer } from './secure-grpc-server';

export interface GrpcEndpointDeps {
  grpc: GrpcConfig;
  tls: TlsConfig;
  /** The gateway's own SVID, as presented to peers. */
  identity: SvidProvider;
  trustStore: TrustStore;
  ownTrustDomain: TrustDomain;
  logger: Logger;
  metrics: Registry;
  /** Call authorization (default: the own trust domain only). */
  authorize?: Authorize;
  /** Every method of a service registered on the server must be known here (fail closed). */
  requireKnownMethods?(paths: readonly string[]): void;
}

/** Builds the data-plane gRPC endpoint from configuration, with its transport metrics. */
export function createGrpcEndpoint(d: GrpcEndpointDeps): SecureGrpcServer {
  const firstMessageTimeouts = new Counter({
    name: 'parley_grpc_first_message_timeouts_total',
    help: 'gRPC calls ended because their first message did not arrive within grpc.firstMessageTimeout, by method',
    labelNames: ['method'],
    registers: [d.metrics],
  });
  const refused = new Counter({ name: 'parley_grpc_connections_refused_total', help: 'mTLS connections refused by the gRPC listener, by reason', labelNames: ['reason'], registers: [d.metrics] });
  const server = new SecureGrpcServer({
    host: d.grpc.host,
    port: d.grpc.port,
    minVersion: d.tls.minVersion,
    handshakeTimeoutMs: d.tls.handshakeTimeout,
    maxConnectionAgeMs: d.tls.maxConnectionAge,
    maxConnectionAgeGraceMs: d.tls.maxConnectionAgeGrace,
    maxMessageBytes: d.grpc.maxMessageBytes,
    maxConcurrentStreams: d.grpc.maxConcurrentStreams,
    firstMessageTimeoutMs: d.grpc.firstMessageTimeout,
    onFirstMessageTimeout: (method) => firstMessageTimeouts.inc({ method }),
    http2PrefaceTimeoutMs: d.tls.http2PrefaceTimeout,
    identity: d.identity,
    trustStore: d.trustStore,
    ownTrustDomain: d.ownTrustDomain,
    authorize: d.authorize,
    metrics: d.metrics,
    logger: d.logger,
    requireKnownMethods: d.requireKnownMethods,
    onRefused: (reason, claimedId) => {
      refused.inc({ reason });
      const td = unheldAuthorityDomain(reason, claimedId, d.ownTrustDomain);
      if (td !== undefined) server.emitUnheldAuthority(td);
    },
  });
  new Gauge({
    name: 'parley_grpc_connections_open',
    help: 'Open mTLS connections of the gRPC listener, by peer trust domain',
    labelNames: ['trust_domain'],
    registers: [d.metrics],
    collect() {
      this.reset();
      for (const [td, n] of Object.entries(server.listener.stats().openByTrustDomain)) this.set({ trust_domain: td }, n);
    },
  });
  return server;
}

/** Starts listening; a taken port is a configuration error naming grpc.port. */
export async function startGrpcEndpoint(server: SecureGrpcServer, config: GrpcConfig): Promise<{ host: string; port: number }> {
  try {
    return await server.start();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const where = `${config.host}:${config.port}`;
    if (code === 'EADDRINUSE') throw new ParleyError('config_invalid', `grpc.port: ${where} is already in use`, { cause: err });
    throw new ParleyError('unavailable', `grpc listener: cannot listen on ${where}: ${code ?? (err as Error).message}`, { cause: err });
  }
}
