/**
 * The bundle endpoint we serve to partners (CONFORMANCE §4): GET `/` answers the current
 * bundle document as `application/json`. No client authentication is requested. With the
 * https_spiffe profile the server presents our X509-SVID and rotates it for new connections
 * as it changes; with https_web it presents a configured web certificate.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { ParleyError } from '../common';
import type { SvidProvider } from '../tls';

export interface BundleEndpointServerOptions {
  host: string;
  /** 0 picks a free port; `listen()` returns the real one. */
  port: number;
  profile: 'https_spiffe' | 'https_web';
  /** https_spiffe: our SVID (rotates live). */
  identity: SvidProvider;
  /** https_web: the configured certificate chain and key (PEM files), read at `listen()`. */
  webCertFile?: string;
  webKeyFile?: string;
  /** Current bundle JSON (with spiffe_sequence and spiffe_refresh_hint); undefined → 503. */
  document(): string | undefined;
  logger: Logger;
}

const ALLOW = 'GET, HEAD';
/** Nothing we serve needs more; slow or idle clients are cut off. */
const TIMEOUTS = { handshakeMs: 10_000, headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 };
const MAX_CONNECTIONS = 1024;

export class BundleEndpointServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private offIdentity: (() => void) | undefined;

  constructor(private readonly o: BundleEndpointServerOptions) {
    if (o.profile !== 'https_spiffe' && o.profile !== 'https_web') throw new TypeError('bundle endpoint: profile must be https_spiffe or https_web');
    if (o.profile === 'https_web' && (o.webCertFile === undefined || o.webKeyFile === undefined)) {
      throw new TypeError('bundle endpoint: profile https_web needs webCertFile and webKeyFile');
    }
  }

  async listen(): Promise<{ host: string; port: number }> {
    if (this.server !== undefined) throw new TypeError('bundle endpoint: already listening');
    const server = createServer(
      {
        ...this.credentials(),
        minVersion: 'TLSv1.2',
        requestCert: false,
        handshakeTimeout: TIMEOUTS.handshakeMs,
        headersTimeout: TIMEOUTS.headersMs,
        requestTimeout: TIMEOUTS.requestMs,
        keepAliveTimeout: TIMEOUTS.keepAliveMs,
      },
      (req, res) => this.handle(req, res),
    );
    server.maxConnections = MAX_CONNECTIONS;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('tlsClientError', (err) => this.o.logger.debug({ reason: err.message }, 'bundle endpoint: tls handshake failed'));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      this.server = undefined;
      throw err;
    });
    server.on('error', (err) => this.o.logger.error({ err }, 'bundle endpoint: server error'));
    if (this.o.profile === 'https_spiffe') this.offIdentity = this.o.identity.onUpdate(() => this.rotate());
    const address = server.address() as AddressInfo;
    this.o.logger.info({ host: address.address, port: address.port, profile: this.o.profile }, 'bundle endpoint listening');
    return { host: address.address, port: address.port };
  }

  async close(): Promise<void> {
    this.offIdentity?.();
    this.offIdentity = undefined;
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  private credentials(): Pick<ServerOptions, 'key' | 'cert'> {
    if (this.o.profile === 'https_web') {
      return { cert: readFileSync(this.o.webCertFile as string, 'utf8'), key: readFileSync(this.o.webKeyFile as string, 'utf8') };
    }
    const pair = this.o.identity.current();
    if (pair === undefined) throw new ParleyError('unavailable', 'bundle endpoint: no x509-svid available yet');
    return { cert: pair.certChainPem, key: pair.keyPem };
  }

  /** New connections get the current SVID; open ones keep theirs. */
  private rotate(): void {
    const server = this.server;
    if (server === undefined) return;
    try {
      server.setSecureContext({ ...this.credentials(), minVersion: 'TLSv1.2' });
      this.o.logger.debug('bundle endpoint: x509-svid rotated');
    } catch (err) {
      this.o.logger.error({ err }, 'bundle endpoint: cannot rotate the x509-svid; keeping the previous one');
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/') return plain(res, 404, 'not found');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', ALLOW);
      return plain(res, 405, 'method not allowed');
    }
    let doc: string | undefined;
    try {
      doc = this.o.document();
    } catch (err) {
      this.o.logger.error({ err }, 'bundle endpoint: cannot build the bundle document');
      return plain(res, 500, 'internal error');
    }
    if (doc === undefined) {
      res.setHeader('retry-after', '30');
      return plain(res, 503, 'bundle not available yet');
    }
    const body = Buffer.from(doc, 'utf8');
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    this.o.logger.debug({ remote: req.socket.remoteAddress, method: req.method }, 'bundle endpoint: bundle served');
    return undefined;
  }
}

function plain(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(`${text}\n`);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
