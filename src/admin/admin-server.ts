import type { Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { INestApplication } from '@nestjs/common';
import type { Logger } from 'pino';
import { verifyX509Svid } from '../spiffe';
import type { IdentitySource } from '../identity/domain/identity';
import type { TrustStore } from '../tls/trust-store';
import { peerChainDer } from '../tls/peer-chain';
import type { PeerRegistry } from './peer-registry';

export interface AdminTlsOptions {
  identity: IdentitySource;
  trustStore: TrustStore;
  minVersion: 'TLSv1.3' | 'TLSv1.2';
}

/** TLS options for the admin listener: our SVID, every trusted bundle as the handshake pre-filter, client certificate required. */
export function adminHttpsOptions(o: AdminTlsOptions) {
  const s = o.identity.current();
  if (!s) throw new Error('admin listener: no X509-SVID yet');
  return {
    key: s.svid.privateKeyPem(),
    cert: s.svid.certChainPem(),
    ca: o.trustStore.allX509Authorities().map((c) => c.toString()),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: o.minVersion,
  };
}

/**
 * After the handshake, verifies each admin client against the bundle of its own trust domain
 * (the handshake only checked it against the union of bundles) and records its identity;
 * refused connections are closed before any HTTP is read. Rotates certificate and bundles for
 * new connections when the identity or the trust store changes.
 */
export function secureAdminServer(app: INestApplication, o: AdminTlsOptions & { peers: PeerRegistry; logger: Logger }): () => void {
  const server = app.getHttpServer() as HttpsServer;
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    try {
      const verified = verifyX509Svid(peerChainDer(socket), o.trustStore, { role: 'client' });
      const leaf = verified.chain[0];
      o.peers.set(socket, { id: verified.id, fingerprint256: leaf.fingerprint256 });
    } catch (err) {
      o.logger.warn({ remote: socket.remoteAddress, code: (err as { code?: string }).code, reason: (err as Error).message }, 'admin connection refused');
      socket.destroy();
    }
  });
  const refresh = () => {
    try {
      const { key, cert, ca, minVersion } = adminHttpsOptions(o);
      server.setSecureContext({ key, cert, ca, minVersion });
    } catch (err) {
      o.logger.error({ err }, 'admin listener: cannot rotate TLS context');
    }
  };
  const offIdentity = o.identity.onUpdate(refresh);
  const offTrust = o.trustStore.onChange(refresh);
  return () => {
    offIdentity();
    offTrust();
  };
}
