/**
 * Bundles that are not fetched: a static relationship's uploaded or declared bundle, and the
 * trust an https_spiffe endpoint is verified with before its first fetch.
 */
import { ValidationError } from '../common';
import { isSpiffeError, SpiffeBundle, SpiffeId, TrustDomain, type X509BundleSource } from '../spiffe';
import type { TrustStore } from '../trust';
import { parseBootstrapBundle, type FederationRelationship } from './domain';
import type { BundleRow } from './federation.repository';

const MAX_STATIC_BUNDLE_BYTES = 1024 * 1024;

/** A static relationship's bundle (SPIFFE JSON or PEM). @throws ValidationError (field `bundle`) */
export function parseStaticBundle(td: string, text: string): SpiffeBundle {
  if (Buffer.byteLength(text) > MAX_STATIC_BUNDLE_BYTES) throw new ValidationError('federation: invalid bundle', [{ field: 'bundle', message: 'is larger than 1 MiB' }]);
  try {
    return parseBootstrapBundle(text, TrustDomain.parse(td));
  } catch (err) {
    if (!isSpiffeError(err)) throw err;
    throw new ValidationError('federation: invalid bundle', [{ field: 'bundle', message: err.message }]);
  }
}

/** What to store for an uploaded bundle: its own sequence, else one more than the previous. */
export function staticBundleRecord(bundle: SpiffeBundle, previous: BundleRow | undefined, polledBy: string) {
  const sequence = bundle.sequence ?? (previous?.sequence ?? 0n) + 1n;
  const warning = previous?.sequence !== undefined && sequence < previous.sequence ? `spiffe_sequence decreased from ${previous.sequence} to ${sequence}` : undefined;
  return {
    document: bundle.withMetadata({ sequence, refreshHint: bundle.refreshHint ?? 0 }).serialize(),
    sequence,
    refreshHint: bundle.refreshHint,
    skipped: bundle.skipped,
    warning,
    polledBy,
  };
}

/** Whether a held document and a declared bundle (SPIFFE JSON or PEM) carry the same X.509 authorities, in order. */
export function sameAuthorities(heldDocument: string, declared: string, td: string): boolean {
  const a = SpiffeBundle.parse(heldDocument, TrustDomain.parse(td)).x509Authorities;
  const b = parseBootstrapBundle(declared, TrustDomain.parse(td)).x509Authorities;
  return a.length === b.length && a.every((c, i) => c.fingerprint256 === b[i]?.fingerprint256);
}

/** https_spiffe: the bundle held for the endpoint ID's trust domain, else (before the first fetch) the bootstrap bundle. */
export function endpointTrust(trustStore: TrustStore, rel: FederationRelationship): X509BundleSource | undefined {
  if (rel.endpointSpiffeId === undefined) return undefined;
  const endpointTd = SpiffeId.parse(rel.endpointSpiffeId).trustDomain;
  return {
    getX509Authorities(td: TrustDomain) {
      if (!td.equals(endpointTd)) return undefined;
      const held = trustStore.getX509Authorities(td);
      if (held !== undefined) return held;
      return rel.bootstrapBundle === undefined ? undefined : parseBootstrapBundle(rel.bootstrapBundle, td).x509Authorities;
    },
  };
}
