import type { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

/** One more than the verifier accepts, so an over-long chain is refused, never truncated. */
const MAX_READ = 17;

const presented = new WeakMap<TLSSocket, readonly X509Certificate[]>();

/**
 * The certificates a TLS peer sent, leaf first, in the order it sent them.
 *
 * Node builds the `issuerCertificate` links of `getPeerX509Certificate()` from OpenSSL's
 * peer chain in wire order, without looking at names or at our own `ca` list. That call
 * *consumes* OpenSSL's chain (Node 20–24 remove each certificate they wrap), so a second
 * call returns the leaf alone: the chain is read once per socket and cached here, and every
 * reader must come through this function.
 *
 * `getPeerCertificate(true)` is not used: it links certificates by issuer name and key id,
 * drops presented certificates it cannot link, and appends issuers found in our own `ca`
 * list. Either way, safety comes from the verifier, which proves each link by signature and
 * takes trust anchors only from the bundle of the leaf's own trust domain.
 */
export function presentedChain(socket: TLSSocket): readonly X509Certificate[] {
  const cached = presented.get(socket);
  if (cached !== undefined) return cached;
  const chain: X509Certificate[] = [];
  let cert: X509Certificate | undefined = socket.getPeerX509Certificate();
  while (cert !== undefined && chain.length < MAX_READ) {
    chain.push(cert);
    cert = cert.issuerCertificate;
  }
  const frozen = Object.freeze(chain);
  presented.set(socket, frozen);
  return frozen;
}

/** The presented chain as DER (see `presentedChain`). */
export function presentedChainDer(socket: TLSSocket): Buffer[] {
  return presentedChain(socket).map((c) => c.raw);
}

/** The presented chain of a TLS peer as DER (see `presentedChain`); kept for existing callers. */
export function peerChainDer(socket: TLSSocket, max = 16): Buffer[] {
  return presentedChainDer(socket).slice(0, max + 1);
}

/**
 * The chain Node hands to `checkServerIdentity` (from `getPeerCertificate(true)`), as DER,
 * leaf first. Linked by name and possibly ending in certificates from our own `ca` list:
 * only safe because verification proves links by signature against the bundle of the
 * leaf's own trust domain. Self-links (a root is its own issuer) end the walk.
 */
export function detailedChainDer(cert: DetailedPeerCertificate | undefined): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  let next: DetailedPeerCertificate | undefined = cert;
  while (next !== undefined && next.raw !== undefined && chain.length < MAX_READ) {
    if (seen.has(next.fingerprint256)) break;
    seen.add(next.fingerprint256);
    chain.push(next.raw);
    next = next.issuerCertificate;
  }
  return chain;
}
