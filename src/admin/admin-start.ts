import type { Server as HttpServer } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import type { Logger } from 'pino';
import type { RevocationStore } from '../authz';
import { ParleyError } from '../common';
import type { ParleyConfig } from '../config';
import type { IdentitySource } from '../identity';
import { svidProviderFrom } from '../tls';
import type { TrustStore } from '../trust';
import { adminGate, AdminPolicy, type AdminGatekeeper } from './admin-auth';
import { AdminRoles, roleBindingsOf } from './domain/roles';
import { adminJsonBody, adminRequestText } from './admin-input';
import type { AdminMetrics } from './admin-metrics';
import { AdminListener } from './admin-server';
import type { PeerRegistry } from './peer-registry';

/**
 * The audit of admin actions first (it sees every answer), then the gate (peer, revocation,
 * a role), so nothing of a refused request is read; then its text and JSON body.
 */
export function mountAdminMiddleware(app: INestApplication, gatekeeper: AdminGatekeeper, config: ParleyConfig['admin'], metrics: AdminMetrics): void {
  const limits = { maxBodyBytes: config.maxBodyBytes, maxJsonDepth: config.maxJsonDepth, onRefused: metrics.requestRefused };
  app.use(gatekeeper.auditMiddleware());
  app.use(adminGate(gatekeeper));
  app.use(adminRequestText(limits));
  app.use(adminJsonBody(limits));
}

/** Who may call the admin API with which roles: `admin.admins` (role admin) and `admin.roles`; by default spiffe://<trust domain>/parley/admin is admin. */
export function adminPolicyFrom(config: ParleyConfig): AdminPolicy {
  return new AdminPolicy(AdminRoles.compile(roleBindingsOf(config.admin, config.identity.trustDomain)));
}

export interface AdminStartDeps {
  config: ParleyConfig;
  /** The NestJS app's HTTP server (never listening itself). */
  httpServer: HttpServer;
  identity: IdentitySource;
  trustStore: TrustStore;
  peers: PeerRegistry;
  revocations: RevocationStore;
  metrics: AdminMetrics;
  logger: Logger;
}

export interface StartedAdmin {
  host: string;
  port: number;
  listener: AdminListener;
  /** Stops closing revoked connections, closes the listener and its connections. */
  close(): Promise<void>;
}

/**
 * Listens on admin.host:admin.port through an AdminListener (the gRPC listener's admission);
 * a revocation closes the open admin connections it covers, on every replica, as for gRPC.
 * A taken port is a configuration error naming admin.port.
 */
export async function startAdminListener(d: AdminStartDeps): Promise<StartedAdmin> {
  const { host, port } = d.config.admin;
  const listener = new AdminListener({
    host,
    port,
    minVersion: d.config.tls.minVersion,
    handshakeTimeoutMs: d.config.tls.handshakeTimeout,
    identity: svidProviderFrom(d.identity),
    trustStore: d.trustStore,
    peers: d.peers,
    httpServer: d.httpServer,
    logger: d.logger,
    onRefused: (reason) => d.metrics.connectionRefused(reason),
  });
  d.metrics.watch(listener);
  let address: { host: string; port: number };
  try {
    address = await listener.listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ParleyError('config_invalid', `admin.port: ${host}:${port} is already in use`, { cause: err });
    throw new ParleyError('unavailable', `admin listener: cannot listen on ${host}:${port}: ${code ?? (err as Error).message}`, { cause: err });
  }
  const unhook = d.revocations.onRevoked((isRevoked) => {
    const closed = listener.closeConnections(isRevoked, 'revoked');
    d.metrics.connectionsClosed('revoked', closed);
    if (closed > 0) d.logger.warn({ closed }, 'closed admin connections of revoked identities');
  });
  return {
    ...address,
    listener,
    async close() {
      unhook();
      await listener.close();
    },
  };
}
