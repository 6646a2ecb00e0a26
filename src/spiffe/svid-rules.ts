/**
 * X509-SVID certificate rules shared by `parseX509Svid` (our own SVID) and
 * `verifyX509Svid` (a peer's): CONFORMANCE §2.1–2.3 for the leaf, and cA + keyCertSign for
 * every signing certificate.
 */
import { SpiffeError } from './errors';
import { SpiffeId } from './spiffe-id';
import { CertInfo, certDetails, KU } from './x509-parse';

/**
 * Checks the leaf rules and returns its SPIFFE ID.
 * Order: one URI SAN, ID syntax, cA, key usage (present (DECIDED), has digitalSignature
 * (DECIDED), no keyCertSign, no cRLSign), then the non-empty path (DECIDED) — so a CA
 * certificate presented as a leaf is reported as `leaf_is_ca`.
 */
export function checkLeaf(leaf: CertInfo): SpiffeId {
  const details = certDetails(leaf, 0);
  if (leaf.uris.length === 0) {
    throw new SpiffeError('leaf_no_uri_san', 'invalid x509-svid leaf: certificate contains no uri san', details);
  }
  if (leaf.uris.length > 1) {
    throw new SpiffeError(
      'leaf_multiple_uri_sans',
      `invalid x509-svid leaf: certificate contains ${leaf.uris.length} uri sans, expected exactly one`,
      details,
    );
  }
  let id: SpiffeId;
  try {
    id = SpiffeId.parse(leaf.uris[0]);
  } catch (err) {
    const why = err instanceof Error ? err.message : 'invalid';
    throw new SpiffeError('invalid_spiffe_id', `invalid x509-svid leaf: uri san is not a spiffe id (${why})`, details, {
      cause: err,
    });
  }
  const withId = { ...details, spiffeId: id.toString(), trustDomain: id.trustDomain.name };
  if (leaf.isCa) {
    throw new SpiffeError('leaf_is_ca', 'invalid x509-svid leaf: leaf certificate must not have the ca flag set', withId);
  }
  const ku = leaf.keyUsage;
  if (ku === undefined) {
    throw new SpiffeError('leaf_key_usage_missing', 'invalid x509-svid leaf: key usage extension is missing', withId);
  }
  if ((ku & KU.digitalSignature) === 0) {
    throw new SpiffeError(
      'leaf_no_digital_signature',
      "invalid x509-svid leaf: key usage must include 'digitalSignature'",
      withId,
    );
  }
  if ((ku & KU.keyCertSign) !== 0) {
    throw new SpiffeError('leaf_key_cert_sign', "invalid x509-svid leaf: key usage must not include 'keyCertSign'", withId);
  }
  if ((ku & KU.cRLSign) !== 0) {
    throw new SpiffeError('leaf_crl_sign', "invalid x509-svid leaf: key usage must not include 'cRLSign'", withId);
  }
  if (id.path === '') {
    throw new SpiffeError('leaf_empty_path', 'invalid x509-svid leaf: spiffe id has an empty path', withId);
  }
  return id;
}

/** Every certificate that signs another one in an SVID chain: cA true and keyCertSign. */
export function checkSigningCert(cert: CertInfo, index: number): void {
  if (!cert.isCa) {
    throw new SpiffeError(
      'intermediate_not_ca',
      'invalid x509-svid chain: signing certificate must have the ca flag set',
      certDetails(cert, index),
    );
  }
  if (cert.keyUsage === undefined || (cert.keyUsage & KU.keyCertSign) === 0) {
    throw new SpiffeError(
      'intermediate_no_key_cert_sign',
      "invalid x509-svid chain: signing certificate must have 'keyCertSign' key usage",
      certDetails(cert, index),
    );
  }
}
