import type { Server as HttpServer } from 'node:http';
import type { Logger } from 'pino';
import { MtlsListener, type TlsMinVersion } from '../tls';
import type { RefusalReason } from '../tls';
import type { PeerIdentity } from '../tls';
import type { SvidProvider } from '../tls';
import type { TrustStore } from '../trust';
import type { PeerRegistry } from './peer-registry';

export interface AdminListenerOptions {
  host: string;
  port: number;
  minVersion: TlsMinVersion;
  handshakeTimeoutMs: number;
  identity: SvidProvider;
  trustStore: TrustStore;
  /** Where each admitted socket's peer is recorded for the admin gate. */
  peers: PeerRegistry;
  /** A plain (not listening) HTTP server serving the NestJS/express app. */
  httpServer: HttpServer;
  logger: Logger;
  onRefused?(reason: RefusalReason, claimedId?: string): void;
}

/**
 * The admin REST listener. Peers are admitted by the same MtlsListener as the gRPC
 * listener (per-trust-domain signature check, no session tickets, resumed sessions refused,
 * handshake timeout, connections closed when their trust goes), with ALPN http/1.1; each
 * admitted socket is handed to the HTTP server of the NestJS app, its peer recorded for the
 * admin gate. The HTTP server itself never listens.
 */
export class AdminListener {
  readonly listener: MtlsListener;

  constructor(o: AdminListenerOptions) {
    this.listener = new MtlsListener({
      host: o.host,
      port: o.port,
      minVersion: o.minVersion,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      alpn: 'http/1.1',
      identity: o.identity,
      trustStore: o.trustStore,
      logger: o.logger,
      onRefused: o.onRefused,
      onConnection: (socket, peer) => {
        o.peers.set(socket, peer);
        o.httpServer.emit('connection', socket);
      },
    });
  }

  listen(): Promise<{ host: string; port: number }> {
    return this.listener.listen();
  }

  /** Closes the open admin connections of matching peers (revocation); returns how many. */
  closeConnections(matches: (peer: PeerIdentity) => boolean, why: string): number {
    return this.listener.closeWhere(matches, why);
  }

  /** No new connections; open ones are closed. */
  async close(): Promise<void> {
    this.listener.stopAccepting();
    await this.listener.close();
  }
}
