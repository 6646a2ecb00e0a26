import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { RevocationStore } from '../authz';
import { ParleyError } from '../common';
import { MtlsListener, type PeerIdentity, type SvidProvider, type TlsMinVersion } from '../tls';
import type { TrustStore } from '../trust';

export interface RegistryListenerOptions {
  host: string;
  port: number;
  minVersion: TlsMinVersion;
  handshakeTimeoutMs: number;
  identity: SvidProvider;
  trustStore: TrustStore;
  revocations: RevocationStore;
  logger: Logger;
  /** Handles one request of an admitted peer. */
  onRequest(req: IncomingMessage, res: ServerResponse, peer: PeerIdentity): void;
}

/**
 * The registry's HTTPS listener. Peers are admitted by the same MtlsListener as the gRPC
 * and admin listeners (per-trust-domain signature check, no resumption, handshake timeout,
 * connections closed when their trust goes or their identity is revoked), ALPN http/1.1;
 * each admitted socket goes to a plain HTTP server that never listens itself, with its
 * verified peer. A request on a socket without one is never served (fail closed).
 */
export class RegistryListener {
  readonly listener: MtlsListener;
  private readonly http: Server;
  private readonly peers = new WeakMap<Socket, PeerIdentity>();
  private unhook: (() => void) | undefined;

  constructor(private readonly o: RegistryListenerOptions) {
    this.http = createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 30_000 }, (req, res) => {
      const peer = this.peers.get(req.socket);
      if (peer === undefined) {
        req.socket.destroy();
        return;
      }
      o.onRequest(req, res, peer);
    });
    this.http.on('clientError', (_err, socket: Socket) => socket.destroy());
    this.listener = new MtlsListener({
      host: o.host,
      port: o.port,
      minVersion: o.minVersion,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      alpn: 'http/1.1',
      identity: o.identity,
      trustStore: o.trustStore,
      logger: o.logger,
      onConnection: (socket, peer) => {
        this.peers.set(socket, peer);
        this.http.emit('connection', socket);
      },
    });
  }

  /** Listens; a revocation then closes the open connections it covers (on every replica). A taken port is a configuration error naming registry.port. */
  async listen(): Promise<{ host: string; port: number }> {
    let address: { host: string; port: number };
    try {
      address = await this.listener.listen();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new ParleyError('config_invalid', `registry.port: ${this.o.host}:${this.o.port} is already in use`, { cause: err });
      throw new ParleyError('unavailable', `registry listener: cannot listen on ${this.o.host}:${this.o.port}: ${code ?? (err as Error).message}`, { cause: err });
    }
    this.unhook = this.o.revocations.onRevoked((isRevoked) => {
      const closed = this.listener.closeWhere(isRevoked, 'revoked');
      if (closed > 0) this.o.logger.warn({ closed }, 'closed registry connections of revoked identities');
    });
    return address;
  }

  /** No new connections; open ones are closed. */
  async close(): Promise<void> {
    this.unhook?.();
    this.unhook = undefined;
    this.listener.stopAccepting();
    await this.listener.close();
    this.http.close();
  }
}
