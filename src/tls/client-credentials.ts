import type { X509Certificate } from 'node:crypto';
import type { ConnectionOptions, DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../common';
import { authorizeMemberOf, authorizeOneOf, isSpiffeError, verifyX509Svid, type SpiffeId, type TrustDomain, type X509BundleSource } from '../spiffe';
import { detailedChainDer } from './peer-chain';

type CaCertificateUpdateListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityCertificateUpdateListener = grpc.experimental.IdentityCertificateUpdateListener;
import type { PemKeyPair, SvidProvider } from './server-identity';

/** Bundles per trust domain; `allX509Authorities` feeds the handshake pre-filter only. */
export interface ClientTrust extends X509BundleSource {
  allX509Authorities(): readonly X509Certificate[];
  /** When present, new connections pick up changed bundles (a TrustStore has it). */
  onChange?(listener: () => void): () => void;
}

/** Which server identity a call accepts: one exact SPIFFE ID, or any member of a trust domain. */
export type ExpectedServer = { id: SpiffeId } | { memberOf: TrustDomain };

export interface ServerAuthorization {
  authorizeServer: (id: SpiffeId) => boolean;
  /** Names what was expected, for the error message. */
  expected: string;
}

export interface SpiffeClientOptions {
  /** Our SVID: a fixed pair, or a provider (rotation reaches new connections). */
  svid: PemKeyPair | SvidProvider;
  trust: ClientTrust;
  server: ExpectedServer | ServerAuthorization;
}

export function serverAuthorization(server: ExpectedServer | ServerAuthorization): ServerAuthorization {
  if ('authorizeServer' in server) return server;
  if ('id' in server) return { authorizeServer: authorizeOneOf(server.id), expected: server.id.toString() };
  return { authorizeServer: authorizeMemberOf(server.memberOf), expected: `a member of ${server.memberOf.name}` };
}

/**
 * The server check both helpers install as `checkServerIdentity` (it replaces Node's host
 * name check: SVIDs carry no DNS names). Node passes the chain it linked by name, possibly
 * ending in certificates from our own roots; the SPIFFE verifier proves each link by
 * signature against the bundle of the server leaf's own trust domain, then the expected
 * identity is enforced. Returns the error that fails the connection.
 */
export function serverIdentityCheck(trust: X509BundleSource, server: ExpectedServer | ServerAuthorization) {
  const { authorizeServer, expected } = serverAuthorization(server);
  return (_hostname: string, cert: PeerCertificate): Error | undefined => {
    let id: SpiffeId;
    try {
      id = verifyX509Svid(detailedChainDer(cert as DetailedPeerCertificate), trust, { role: 'server' }).id;
    } catch (err) {
      const code = isSpiffeError(err) ? err.code : 'internal';
      const claimed = isSpiffeError(err) && err.details.spiffeId ? ` ${err.details.spiffeId}` : '';
      return new ParleyError('unauthenticated', `server identity${claimed} cannot be verified (${code}): ${(err as Error).message}`, {
        cause: err,
        details: { reason: code },
      });
    }
    if (!authorizeServer(id)) {
      return new ParleyError('permission_denied', `server identity ${id.toString()} is not the expected ${expected}`, {
        details: { spiffeId: id.toString(), expected },
      });
    }
    return undefined;
  };
}

/**
 * gRPC channel credentials that present our SVID, verify the server per trust domain and
 * authorize its SPIFFE ID. With a fixed SVID and fixed bundles this is `createSsl`; when
 * either can change, a certificate provider hands every new connection the current pair
 * and roots (grpc-js reads them per connection attempt).
 */
export function spiffeChannelCredentials(o: SpiffeClientOptions): grpc.ChannelCredentials {
  const checkServerIdentity = serverIdentityCheck(o.trust, o.server);
  if (!isProvider(o.svid) && o.trust.onChange === undefined) {
    return grpc.credentials.createSsl(rootsPem(o.trust), Buffer.from(o.svid.keyPem), Buffer.from(o.svid.certChainPem), { checkServerIdentity });
  }
  const svid = isProvider(o.svid) ? o.svid : fixed(o.svid);
  const provider = new SpiffeCertificateProvider(svid, o.trust);
  return grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, { checkServerIdentity });
}

/** `tls.connect` options for non-gRPC clients (HTTPS admin client, bundle fetches over mTLS). */
export function spiffeTlsConnectOptions(o: SpiffeClientOptions & { minVersion?: 'TLSv1.3' | 'TLSv1.2' }): ConnectionOptions {
  const pair = isProvider(o.svid) ? o.svid.current() : o.svid;
  if (pair === undefined) throw new ParleyError('unavailable', 'tls client: no x509-svid available yet');
  return {
    key: pair.keyPem,
    cert: pair.certChainPem,
    ca: o.trust.allX509Authorities().map((c) => c.toString()),
    checkServerIdentity: serverIdentityCheck(o.trust, o.server),
    rejectUnauthorized: true,
    minVersion: o.minVersion ?? 'TLSv1.3',
  };
}

function rootsPem(trust: ClientTrust): Buffer {
  return Buffer.from(trust.allX509Authorities().map((c) => c.toString()).join(''));
}

function isProvider(svid: PemKeyPair | SvidProvider): svid is SvidProvider {
  return typeof (svid as SvidProvider).current === 'function';
}

function fixed(pair: PemKeyPair): SvidProvider {
  return { current: () => pair, onUpdate: () => () => undefined };
}

/** Current SVID and roots for grpc-js, re-announced when either changes. */
class SpiffeCertificateProvider {
  private readonly caListeners = new Set<CaCertificateUpdateListener>();
  private readonly idListeners = new Set<IdentityCertificateUpdateListener>();
  private unsubscribe: Array<() => void> = [];

  constructor(
    private readonly svid: SvidProvider,
    private readonly trust: ClientTrust,
  ) {}

  addCaCertificateListener(listener: CaCertificateUpdateListener): void {
    this.caListeners.add(listener);
    this.subscribe();
    listener(this.caUpdate());
  }

  removeCaCertificateListener(listener: CaCertificateUpdateListener): void {
    this.caListeners.delete(listener);
    this.maybeUnsubscribe();
  }

  addIdentityCertificateListener(listener: IdentityCertificateUpdateListener): void {
    this.idListeners.add(listener);
    this.subscribe();
    listener(this.identityUpdate());
  }

  removeIdentityCertificateListener(listener: IdentityCertificateUpdateListener): void {
    this.idListeners.delete(listener);
    this.maybeUnsubscribe();
  }

  private caUpdate() {
    const roots = rootsPem(this.trust);
    return roots.length === 0 ? null : { caCertificate: roots };
  }

  private identityUpdate() {
    const pair = this.svid.current();
    return pair === undefined ? null : { certificate: Buffer.from(pair.certChainPem), privateKey: Buffer.from(pair.keyPem) };
  }

  private subscribe(): void {
    if (this.unsubscribe.length > 0) return;
    this.unsubscribe.push(this.svid.onUpdate(() => this.idListeners.forEach((l) => l(this.identityUpdate()))));
    const onTrust = this.trust.onChange?.(() => this.caListeners.forEach((l) => l(this.caUpdate())));
    if (onTrust !== undefined) this.unsubscribe.push(onTrust);
  }

  private maybeUnsubscribe(): void {
    if (this.caListeners.size > 0 || this.idListeners.size > 0) return;
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
  }
}
