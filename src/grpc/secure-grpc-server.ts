import type * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import type { TrustDomain } from '../spiffe';
import { MtlsListener, type TlsMinVersion } from '../tls';
import type { RefusalReason } from '../tls';
import { PeerDirectory } from '../tls';
import type { PeerIdentity } from '../tls';
import type { SvidProvider } from '../tls';
import type { TransportLogger } from '../tls';
import type { TrustStore } from '../trust';
import { createGrpcServer, type GrpcServerHandle } from './grpc-server';
import { HealthService } from './health.service';
import { callInterceptor, CallMetrics, ownTrustDomainOnly, type Authorize } from './call-interceptor';
import { ReflectionService } from './reflection.service';
import type { Registry } from 'prom-client';

export interface SecureGrpcServerOptions {
  host: string;
  port: number;
  minVersion?: TlsMinVersion;
  handshakeTimeoutMs?: number;
  maxConnectionAgeMs?: number;
  maxConnectionAgeGraceMs?: number;
  /** Largest message received or sent; grpc-js defaults to 4 MiB received. */
  maxMessageBytes?: number;
  /** HTTP/2 streams one connection may have open at once; grpc-js sets no limit. */
  maxConcurrentStreams?: number;
  /** The first message of a call must arrive this soon after it is asked for (DEADLINE_EXCEEDED otherwise); no limit when omitted. */
  firstMessageTimeoutMs?: number;
  /** Each call ended by `firstMessageTimeoutMs` (metrics). */
  onFirstMessageTimeout?(method: string): void;
  /** After the TLS handshake the client must send the HTTP/2 preface this soon, or the connection is closed; no limit when omitted. */
  http2PrefaceTimeoutMs?: number;
  identity: SvidProvider;
  trustStore: TrustStore;
  ownTrustDomain: TrustDomain;
  /** Default: the own trust domain only. */
  authorize?: Authorize;
  /** Call metrics (parley_grpc_calls_total, …), counted outside authorization so refusals count too. */
  metrics?: Registry;
  /** Run after the identity interceptor, in order. */
  interceptors?: grpc.ServerInterceptor[];
  logger: TransportLogger;
  /** Every refused connection, with the (unverified) SPIFFE ID the peer claimed when known. */
  onRefused?(reason: RefusalReason, claimedId?: string): void;
  /** Checks the methods of every service added; throwing refuses the service (the gateway then refuses to start). */
  requireKnownMethods?(paths: readonly string[]): void;
}

/**
 * The data-plane gRPC endpoint: our mTLS listener (per-trust-domain verification, rotation,
 * trust removal) feeding a port-less grpc-js server whose first interceptor resolves the
 * verified peer and authorizes the call; health and reflection are registered. Add
 * services to `server` (their methods must be known to authorization) and their package
 * definitions to `addProtos` for reflection.
 */
export class SecureGrpcServer {
  readonly peers = new PeerDirectory();
  readonly health = new HealthService();
  readonly reflection: ReflectionService;
  readonly listener: MtlsListener;
  private readonly handle: GrpcServerHandle;
  private readonly served = new Set<string>();
  private readonly unheldAuthorityListeners = new Set<(trustDomain: TrustDomain) => void>();

  constructor(o: SecureGrpcServerOptions) {
    const authorize = o.authorize ?? ownTrustDomainOnly(o.ownTrustDomain);
    this.handle = createGrpcServer({
      interceptors: [
        callInterceptor({
          peers: this.peers,
          authorize,
          logger: o.logger,
          metrics: o.metrics === undefined ? undefined : new CallMetrics(o.metrics),
          firstMessageTimeoutMs: o.firstMessageTimeoutMs,
          onFirstMessageTimeout: o.onFirstMessageTimeout,
        }),
        ...(o.interceptors ?? []),
      ],
      maxConcurrentStreams: o.maxConcurrentStreams,
      maxConnectionAgeMs: o.maxConnectionAgeMs,
      maxConnectionAgeGraceMs: o.maxConnectionAgeGraceMs,
      maxReceiveMessageLength: o.maxMessageBytes,
      maxSendMessageLength: o.maxMessageBytes,
    });
    this.listener = new MtlsListener({
      host: o.host,
      port: o.port,
      minVersion: o.minVersion,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      http2PrefaceTimeoutMs: o.http2PrefaceTimeoutMs,
      identity: o.identity,
      trustStore: o.trustStore,
      peers: this.peers,
      logger: o.logger,
      onRefused: o.onRefused,
      onConnection: (socket) => this.handle.inject(socket),
    });
    // Record every method added, so the gateway can check each one has an authorization rule;
    // Health answers SERVING for every service added (grpc.health.v1 per-service checks).
    const server = this.handle.server;
    const addService = server.addService.bind(server);
    server.addService = (service, implementation) => {
      o.requireKnownMethods?.(Object.values(service).map((m) => m.path));
      addService(service, implementation);
      for (const m of Object.values(service)) {
        this.served.add(m.path);
        this.health.setStatus(m.path.slice(1, m.path.lastIndexOf('/')), 'SERVING');
      }
    };
    this.reflection = new ReflectionService([this.health.packageDefinition]);
    this.health.register(this.handle.server);
    this.reflection.register(this.handle.server);
  }

  get server(): grpc.Server {
    return this.handle.server;
  }

  /** Full names of every method registered on the server, sorted. */
  servedMethods(): string[] {
    return [...this.served].sort();
  }

  /** Makes the services of a package definition visible to reflection. */
  addProtos(definition: PackageDefinition): void {
    this.reflection.add(definition);
  }

  /** The verified peer of a call (interceptor or handler call object). */
  peerOf(call: { getPeer(): string }): PeerIdentity | undefined {
    return this.peers.peerOf(call);
  }

  /**
   * A peer of another trust domain was refused because no held authority signs its chain
   * (e.g. the partner rotated its CA); federation listens to fetch its bundle early.
   */
  onUnheldAuthority(listener: (trustDomain: TrustDomain) => void): () => void {
    this.unheldAuthorityListeners.add(listener);
    return () => this.unheldAuthorityListeners.delete(listener);
  }

  /** Tells the unheld-authority listeners (the endpoint's refusal handler). */
  emitUnheldAuthority(trustDomain: TrustDomain): void {
    for (const listener of [...this.unheldAuthorityListeners]) listener(trustDomain);
  }

  /** Closes the open connections of matching peers (revocation); returns how many. */
  closeConnections(matches: (peer: PeerIdentity) => boolean, why: string): number {
    return this.listener.closeWhere(matches, why);
  }

  start(): Promise<{ host: string; port: number }> {
    return this.listener.listen();
  }

  /** Health NOT_SERVING, no new connections, running calls get `graceMs`, then all is closed. */
  async stop(graceMs = 5_000): Promise<void> {
    this.health.shutdown();
    this.listener.stopAccepting();
    await this.handle.shutdown(graceMs);
    await this.listener.close();
  }
}
