import { constants } from 'node:crypto';
import type { Socket } from 'node:net';
import { createServer, type SecureContextOptions, type Server, type TLSSocket } from 'node:tls';
import { ParleyError } from '../common';
import { ConnectionTracker } from './connection-tracker';
import { awaitHttp2Preface, type PrefaceOutcome } from './http2-preface';
import { admitPeer, stillVerifies, type RefusalReason } from './peer-admission';
import { refusalAlert } from './domain/refusal-alert';
import { PeerDirectory } from './peer-directory';
import { answerRefused } from './refusal-answer';
import { peerLogFields, type PeerIdentity } from './peer-identity';
import type { SvidProvider } from './server-identity';
import type { TransportLogger } from './tls-logger';
import type { TrustChange, TrustStore } from '../trust';

export type TlsMinVersion = 'TLSv1.3' | 'TLSv1.2';

/**
 * The application protocol a listener speaks: 'h2' (gRPC) requires h2 by ALPN; 'http/1.1'
 * (admin REST) offers http/1.1 and also admits clients that send no ALPN (RFC 7301: HTTP/1.1
 * is then the protocol), never one that negotiated another protocol.
 */
export type ListenerAlpn = 'h2' | 'http/1.1';

export interface MtlsListenerOptions {
  host: string;
  /** 0 picks a free port; `listen()` returns the real one. */
  port: number;
  /** Default TLSv1.3. */
  minVersion?: TlsMinVersion;
  /** Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Default 'h2'. */
  alpn?: ListenerAlpn;
  /**
   * After the handshake, a client must send the HTTP/2 preface this soon or it is closed
   * (refusal `http2_preface_timeout`); it is handed on only once it did. Default: no wait.
   */
  http2PrefaceTimeoutMs?: number;
  identity: SvidProvider;
  trustStore: TrustStore;
  /** Receives every admitted connection (verified, registered in `peers`). */
  onConnection(socket: TLSSocket, peer: PeerIdentity): void;
  logger: TransportLogger;
  /** Where admitted peers are registered by address; a new directory when omitted. */
  peers?: PeerDirectory;
  /**
   * Called for every refused connection (metrics; early federation refresh). `claimedId` is
   * the SPIFFE ID the peer claimed (unverified) when the refusal happened after the handshake.
   */
  onRefused?(reason: RefusalReason, claimedId?: string): void;
}

export interface MtlsListenerStats {
  accepted: number;
  open: number;
  openByTrustDomain: Record<string, number>;
  refused: Partial<Record<RefusalReason, number>>;
  /** Connections closed because their trust domain's bundle was removed or changed. */
  closedByTrustChange: number;
}

/** TLS 1.3 suites, and for TLS 1.2 (when enabled) only ECDHE key exchange with AEAD ciphers. */
const CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** No session resumption (every connection presents and verifies its chain), no renegotiation. */
const SECURE_OPTIONS = constants.SSL_OP_NO_TICKET | constants.SSL_OP_NO_RENEGOTIATION;

/**
 * The gateway's own mTLS listener. The handshake asks for a client certificate without
 * naming any CA; each client is then verified as an X509-SVID against the bundle of its own
 * trust domain before its socket is handed on, and a refused gRPC client is told why
 * (UNAUTHENTICATED, see refusal-answer). Certificate, key and
 * bundles rotate for new connections without a restart; removing a trust domain's bundle
 * closes its open connections, and a changed bundle closes those that no longer verify.
 */
export class MtlsListener {
  readonly peers: PeerDirectory;
  private server: Server | undefined;
  private starting = false;
  private readonly tracker = new ConnectionTracker();
  private readonly handshaking = new Set<Socket>();
  private readonly refusals = new Map<RefusalReason, number>();
  private accepted = 0;
  private closedByTrustChange = 0;
  private unsubscribe: Array<() => void> = [];
  private readonly minVersion: TlsMinVersion;
  private readonly handshakeTimeoutMs: number;
  private readonly alpn: ListenerAlpn;

  constructor(private readonly opts: MtlsListenerOptions) {
    if (typeof opts.host !== 'string' || opts.host.length === 0) throw new TypeError('MtlsListener: host is required');
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new TypeError('MtlsListener: port must be 0..65535');
    this.minVersion = opts.minVersion ?? 'TLSv1.3';
    if (this.minVersion !== 'TLSv1.3' && this.minVersion !== 'TLSv1.2') throw new TypeError('MtlsListener: minVersion must be TLSv1.3 or TLSv1.2');
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 10_000;
    if (!Number.isInteger(this.handshakeTimeoutMs) || this.handshakeTimeoutMs <= 0) throw new TypeError('MtlsListener: handshakeTimeoutMs must be a positive integer');
    const prefaceMs = opts.http2PrefaceTimeoutMs;
    if (prefaceMs !== undefined && (!Number.isInteger(prefaceMs) || prefaceMs <= 0)) throw new TypeError('MtlsListener: http2PrefaceTimeoutMs must be a positive integer');
    if (typeof opts.onConnection !== 'function') throw new TypeError('MtlsListener: onConnection is required');
    this.alpn = opts.alpn ?? 'h2';
    if (this.alpn !== 'h2' && this.alpn !== 'http/1.1') throw new TypeError("MtlsListener: alpn must be 'h2' or 'http/1.1'");
    this.peers = opts.peers ?? new PeerDirectory();
  }

  /** Starts listening; resolves with the bound address, rejects with Node's listen error. */
  async listen(): Promise<{ host: string; port: number }> {
    if (this.server !== undefined || this.starting) throw new Error('MtlsListener: already listening');
    this.starting = true;
    try {
      return await this.start();
    } finally {
      this.starting = false;
    }
  }

  private async start(): Promise<{ host: string; port: number }> {
    const server = createServer({
      ...this.contextOptions(),
      requestCert: true,
      // Decided in secureConnection, where the reason can be logged (see peer-admission).
      rejectUnauthorized: false,
      ALPNProtocols: [this.alpn],
      handshakeTimeout: this.handshakeTimeoutMs,
    });
    server.on('connection', (raw: Socket) => {
      this.handshaking.add(raw);
      raw.once('close', () => this.handshaking.delete(raw));
    });
    server.on('secureConnection', (socket: TLSSocket) => this.onSecureConnection(socket));
    server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => this.onHandshakeError(err, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    }); // rejects with Node's own error (e.g. code EADDRINUSE): the caller names the config key
    server.on('error', (err) => this.opts.logger.error({ err }, 'mtls listener error'));
    this.server = server;
    this.unsubscribe = [
      this.opts.identity.onUpdate(() => this.refreshContext('identity')),
      this.opts.trustStore.onChange((change) => this.onTrustChange(change)),
    ];
    return this.address();
  }

  address(): { host: string; port: number } {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === 'string') throw new Error('MtlsListener: not listening');
    return { host: address.address, port: address.port };
  }

  stats(): MtlsListenerStats {
    return {
      accepted: this.accepted,
      open: this.tracker.size,
      openByTrustDomain: this.tracker.countByDomain(),
      refused: Object.fromEntries(this.refusals),
      closedByTrustChange: this.closedByTrustChange,
    };
  }

  /** Stops accepting new connections; open ones stay (drain them, then `close()`). */
  stopAccepting(): void {
    const server = this.server;
    if (server?.listening) server.close();
  }

  /** Stops accepting, closes every open and handshaking connection. Idempotent. */
  async close(): Promise<void> {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => {
      if (server.listening) server.close(() => resolve());
      else resolve();
    });
    for (const raw of this.handshaking) raw.destroy();
    for (const conn of this.tracker.all()) conn.socket.destroy();
    await closed;
  }

  private onSecureConnection(socket: TLSSocket): void {
    const admission = admitPeer(socket, this.opts.trustStore, this.alpn);
    if (!admission.ok) {
      this.countRefusal(admission.reason, admission.claimedId);
      this.opts.logger.warn(
        { reason: admission.reason, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, claimedId: admission.claimedId, detail: admission.detail },
        'tls connection refused',
      );
      const alert = refusalAlert(admission.reason);
      if (alert !== undefined && socket.alpnProtocol === 'h2') answerRefused(socket, alert);
      else socket.destroy();
      return;
    }
    const { peer, chain } = admission;
    const unregister = this.peers.add(peer);
    this.tracker.add({ socket, peer, chain }, unregister);
    this.accepted++;
    socket.on('error', (err: Error & { code?: string }) => this.opts.logger.debug({ ...peerLogFields(peer), code: err.code, detail: err.message }, 'tls connection error'));
    this.opts.logger.debug(peerLogFields(peer), 'tls connection accepted');
    const prefaceMs = this.opts.http2PrefaceTimeoutMs;
    if (prefaceMs === undefined) this.handOn(socket, peer);
    else void awaitHttp2Preface(socket, prefaceMs).then((outcome) => this.afterPreface(outcome, socket, peer, prefaceMs));
  }

  private afterPreface(outcome: PrefaceOutcome, socket: TLSSocket, peer: PeerIdentity, prefaceMs: number): void {
    if (outcome === 'ok' && !socket.destroyed) {
      this.handOn(socket, peer);
      return;
    }
    if (outcome === 'timeout' || outcome === 'invalid') {
      this.countRefusal('no_http2_preface', peer.id.toString());
      const detail = outcome === 'timeout' ? `no http/2 preface within ${prefaceMs} ms` : 'the first bytes are not the http/2 preface';
      this.opts.logger.info({ ...peerLogFields(peer), reason: 'no_http2_preface', detail }, 'tls connection closed');
    }
    socket.destroy();
  }

  private handOn(socket: TLSSocket, peer: PeerIdentity): void {
    try {
      this.opts.onConnection(socket, peer);
    } catch (err) {
      this.opts.logger.error({ err, ...peerLogFields(peer) }, 'tls connection handler failed; closing the connection');
      socket.destroy();
    }
  }

  private onHandshakeError(err: Error & { code?: string }, socket: TLSSocket): void {
    const reason: RefusalReason = err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake_timeout' : 'handshake_failed';
    this.countRefusal(reason);
    this.opts.logger.info({ reason, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, code: err.code, detail: err.message }, 'tls handshake failed');
    socket.destroy();
  }

  /** Closes every open connection whose peer matches (e.g. revoked identities); returns how many. */
  closeWhere(matches: (peer: PeerIdentity) => boolean, why: string): number {
    let closed = 0;
    for (const conn of this.tracker.all()) {
      if (!matches(conn.peer)) continue;
      conn.socket.destroy();
      closed++;
      this.opts.logger.info({ ...peerLogFields(conn.peer), reason: why }, 'tls connection closed');
    }
    return closed;
  }

  private onTrustChange(change: TrustChange): void {
    this.refreshContext('trust');
    const td = change.trustDomain;
    let closed = 0;
    for (const conn of this.tracker.inDomain(td)) {
      const check = change.kind === 'removed' ? { ok: false as const, reason: 'unknown_trust_domain', detail: 'bundle removed' } : stillVerifies(conn.chain, this.opts.trustStore);
      if (check.ok) continue;
      conn.socket.destroy();
      closed++;
      this.opts.logger.info({ ...peerLogFields(conn.peer), reason: check.reason, detail: check.detail }, 'tls connection closed after a trust change');
    }
    this.closedByTrustChange += closed;
    if (closed > 0) this.opts.logger.warn({ trustDomain: td.name, change: change.kind, closed }, 'closed connections that the changed trust no longer admits');
  }

  /** New connections get the current SVID and bundles; open ones keep theirs. */
  private refreshContext(why: 'identity' | 'trust'): void {
    const server = this.server;
    if (server === undefined) return;
    try {
      server.setSecureContext(this.contextOptions());
    } catch (err) {
      this.opts.logger.error({ err, why }, 'mtls listener: cannot rotate the tls context; keeping the previous one');
    }
  }

  private contextOptions(): SecureContextOptions {
    const pair = this.opts.identity.current();
    if (pair === undefined) throw new ParleyError('unavailable', 'mtls listener: no x509-svid available yet');
    return {
      key: pair.keyPem,
      cert: pair.certChainPem,
      // No `ca`: Node would list every held CA's name in the CertificateRequest (partners
      // included). Admission verifies each client against its own trust domain's bundle.
      minVersion: this.minVersion,
      ciphers: CIPHERS,
      secureOptions: SECURE_OPTIONS,
    };
  }

  private countRefusal(reason: RefusalReason, claimedId?: string): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
    try {
      this.opts.onRefused?.(reason, claimedId);
    } catch (err) {
      this.opts.logger.error({ err }, 'onRefused callback failed');
    }
  }
}
