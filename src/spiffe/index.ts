/**
 * Public API of the SPIFFE core. The rest of Parley imports only from here.
 * Pure module: node:* and @peculiar/asn1-* only; no framework, network or database code.
 */
export { SPIFFE_ERROR_CODES, SpiffeError, isSpiffeError } from './errors';
export type { SpiffeErrorCode, SpiffeErrorDetails } from './errors';

export { MAX_ID_BYTES, MAX_TRUST_DOMAIN_BYTES, validatePath, validatePathSegment } from './id-syntax';
export { SpiffeId, TrustDomain, requireSpiffeId, requireTrustDomain } from './spiffe-id';

export { parseDerCertificates, parsePemCertificates } from './certificates';
export { X509Svid, parseX509Svid } from './x509-svid';
export { verifyX509Svid } from './verify';
export type { VerifiedX509Svid, VerifyOptions, VerifyRole, X509BundleSource } from './verify';

export { X509Bundle } from './x509-bundle';
export { SpiffeBundle } from './spiffe-bundle';
export type { BundleMetadata, BundleSkip, JwtAuthority } from './spiffe-bundle';
export { JwtBundle } from './jwt-bundle';
export { BundleSet } from './bundle-set';

export {
  authorizeAll,
  authorizeAny,
  authorizeEither,
  authorizeMemberOf,
  authorizeOneOf,
  authorizePathPrefix,
} from './authorizers';
export type { Authorizer } from './authorizers';

export { parseWorkloadEndpoint } from './workload-endpoint';
export type { WorkloadEndpoint } from './workload-endpoint';
