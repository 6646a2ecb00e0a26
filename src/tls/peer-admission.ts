import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { isSpiffeError, SpiffeId, verifyX509Svid, type SpiffeErrorCode, type TrustDomain, type X509BundleSource } from '../spiffe';
import { presentedChain } from './peer-chain';
import { peerIdentity, type PeerIdentity } from './peer-identity';

/** Why a connection was refused: a SPIFFE verification code or a transport reason. */
export type RefusalReason =
  | SpiffeErrorCode
  | 'prefilter_rejected'
  | 'alpn_not_h2'
  | 'alpn_not_http1'
  | 'session_resumed'
  | 'no_peer_address'
  | 'handshake_timeout'
  | 'handshake_failed'
  | 'no_http2_preface'
  | 'internal';

export type Admission =
  | { readonly ok: true; readonly peer: PeerIdentity; readonly chain: readonly X509Certificate[] }
  | { readonly ok: false; readonly reason: RefusalReason; readonly detail: string; readonly claimedId?: string };

/**
 * Decides whether a freshly handshaken client may stay: its presented chain must verify as
 * an X509-SVID against the bundle of the leaf's own trust domain. There is no OpenSSL
 * pre-filter: giving OpenSSL the union of bundles (`ca`) would also send every CA's name in
 * the CertificateRequest. Resumed sessions carry no chain and are refused (resumption is
 * disabled on the listener anyway).
 */
export function admitPeer(socket: TLSSocket, bundles: X509BundleSource, alpn: 'h2' | 'http/1.1' = 'h2'): Admission {
  const remoteAddress = socket.remoteAddress;
  const remotePort = socket.remotePort;
  if (!remoteAddress || !remotePort) return refusal('no_peer_address', 'connection has no remote address');
  if (socket.isSessionReused()) return refusal('session_resumed', 'resumed tls sessions are not accepted');
  const chain = presentedChain(socket);
  let verified;
  try {
    verified = verifyX509Svid(chain, bundles, { role: 'client' });
  } catch (err) {
    if (isSpiffeError(err)) return refusal(err.code, err.message, err.details.spiffeId ?? claimedUris(chain));
    return refusal('internal', `verification failed unexpectedly: ${(err as Error)?.message ?? String(err)}`, claimedUris(chain));
  }
  const claimedId = verified.id.toString();
  if (alpn === 'h2' && socket.alpnProtocol !== 'h2') return refusal('alpn_not_h2', 'client did not negotiate h2 with alpn', claimedId);
  if (alpn === 'http/1.1' && socket.alpnProtocol !== false && socket.alpnProtocol !== 'http/1.1') {
    return refusal('alpn_not_http1', 'client negotiated an alpn protocol other than http/1.1', claimedId);
  }
  return { ok: true, peer: peerIdentity(verified.id, verified.chain[0], remoteAddress, remotePort), chain };
}

/** Re-checks an open connection's chain against the bundles as they are now. */
export function stillVerifies(chain: readonly X509Certificate[], bundles: X509BundleSource): { ok: true } | { ok: false; reason: RefusalReason; detail: string } {
  try {
    verifyX509Svid(chain, bundles, { role: 'client' });
    return { ok: true };
  } catch (err) {
    if (isSpiffeError(err)) return { ok: false, reason: err.code, detail: err.message };
    return { ok: false, reason: 'internal', detail: String(err) };
  }
}

/**
 * The foreign trust domain whose peer was refused because we hold no authority (or no bundle)
 * that signs its chain: a partner may have rotated to a CA we have not fetched yet. The ID is
 * only claimed (unverified): use the result to ask for an early, rate-limited bundle refresh,
 * never to trust anything.
 */
export function unheldAuthorityDomain(reason: RefusalReason, claimedId: string | undefined, own: TrustDomain): TrustDomain | undefined {
  if (reason !== 'chain_unverified' && reason !== 'unknown_trust_domain') return undefined;
  const id = claimedId === undefined ? undefined : SpiffeId.tryParse(claimedId);
  if (id === undefined || id.trustDomain.equals(own)) return undefined;
  return id.trustDomain;
}

function refusal(reason: RefusalReason, detail: string, claimedId?: string): Admission {
  return claimedId === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, claimedId };
}

/** The URI SANs of an unverifiable leaf, for the log only (truncated; attacker-controlled text). */
function claimedUris(chain: readonly X509Certificate[]): string | undefined {
  if (chain.length === 0) return undefined;
  try {
    const san = chain[0].subjectAltName;
    if (san === undefined) return undefined;
    const uris = san
      .split(', ')
      .filter((s) => s.startsWith('URI:'))
      .map((s) => s.slice(4));
    return uris.length === 0 ? undefined : uris.join(' ').slice(0, 512);
  } catch {
    return undefined;
  }
}
