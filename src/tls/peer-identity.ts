import type { X509Certificate } from 'node:crypto';
import type { SpiffeId, TrustDomain } from '../spiffe';

/** Who is on the other end of a verified mTLS connection. */
export interface PeerIdentity {
  readonly id: SpiffeId;
  /** `id` as text, made once per connection (the audit trail and logs read it on every call). */
  readonly spiffeId: string;
  readonly trustDomain: TrustDomain;
  /** SHA-256 fingerprint of the peer's leaf certificate, colon-separated hex (as Node prints it). */
  readonly fingerprint256: string;
  /** Hex serial number of the leaf certificate. */
  readonly serial: string;
  readonly notAfter: Date;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

export function peerIdentity(id: SpiffeId, leaf: X509Certificate, remoteAddress: string, remotePort: number): PeerIdentity {
  return Object.freeze({
    id,
    spiffeId: id.toString(),
    trustDomain: id.trustDomain,
    fingerprint256: leaf.fingerprint256,
    serial: leaf.serialNumber,
    notAfter: new Date(leaf.validTo),
    remoteAddress,
    remotePort,
  });
}

/** The fields of a peer that go into log lines (no certificate material). */
export function peerLogFields(peer: PeerIdentity): Record<string, string | number> {
  return {
    spiffeId: peer.spiffeId,
    trustDomain: peer.trustDomain.name,
    remoteAddress: peer.remoteAddress,
    remotePort: peer.remotePort,
    serial: peer.serial,
  };
}
