/**
 * Turns Workload API messages into Parley values. Every message carries the full state
 * (CONFORMANCE §5): an absent federated bundle means it was removed.
 */
import { ParleyError } from '../../common';
import { BundleSet, parseX509Svid, TrustDomain, X509Bundle } from '../../spiffe';
import type { IdentitySnapshot } from '../domain/identity';
import type { X509BundlesResponseMessage, X509SvidResponseMessage } from './workload-proto';

/**
 * The snapshot of an X509SVIDResponse: the default SVID (`svids[0]`), its own trust
 * domain's bundle, and one bundle per federated trust domain (kept apart, never merged).
 * @throws ParleyError `invalid_argument` when anything in the message does not parse
 */
export function snapshotFromX509Response(msg: X509SvidResponseMessage, receivedAt = new Date()): IdentitySnapshot {
  const first = msg.svids?.[0];
  if (!first) throw invalid('x509-svid response: no svids');
  let svid;
  try {
    svid = parseX509Svid(bytes(first.x509_svid), bytes(first.x509_svid_key));
  } catch (err) {
    throw invalid(`x509-svid response: svid does not parse: ${reason(err)}`, err);
  }
  const td = svid.id.trustDomain;
  const own = parseBundle(td, first.bundle, 'own bundle');
  if (own.authorities.length === 0) throw invalid(`x509-svid response: own bundle of ${td.name} is empty`);
  const bundles = new BundleSet([own]);
  for (const bundle of parseBundleMap(msg.federated_bundles, 'federated bundle')) {
    // The own trust domain's bundle comes with the SVID; a federated entry never replaces it.
    if (!bundle.trustDomain.equals(td)) bundles.set(bundle);
  }
  return Object.freeze({ svid, trustDomain: td, bundles, source: 'workload-api' as const, receivedAt });
}

/**
 * The bundles of an X509BundlesResponse, one per trust domain.
 * @throws ParleyError `invalid_argument`
 */
export function bundleSetFromX509BundlesResponse(msg: X509BundlesResponseMessage): BundleSet {
  return new BundleSet(parseBundleMap(msg.bundles, 'bundle'));
}

function parseBundleMap(map: Record<string, Buffer> | undefined, what: string): X509Bundle[] {
  const out: X509Bundle[] = [];
  for (const [key, der] of Object.entries(map ?? {})) {
    let td: TrustDomain;
    try {
      td = TrustDomain.parse(key);
    } catch (err) {
      throw invalid(`x509 response: ${what} key is not a trust domain id: ${reason(err)}`, err);
    }
    out.push(parseBundle(td, der, what));
  }
  return out;
}

function parseBundle(td: TrustDomain, der: Buffer | undefined, what: string): X509Bundle {
  try {
    return X509Bundle.parseDer(td, bytes(der));
  } catch (err) {
    throw invalid(`x509 response: ${what} of ${td.name} does not parse: ${reason(err)}`, err);
  }
}

function bytes(b: Buffer | undefined): Buffer {
  return b ?? Buffer.alloc(0);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function invalid(message: string, cause?: unknown): ParleyError {
  return new ParleyError('invalid_argument', message, { cause });
}
