/**
 * The one error type of the SPIFFE core. Every parser and verifier in this module throws
 * only `SpiffeError` on untrusted input; programming misuse (bad options) throws `TypeError`.
 */

/** Every error code, in a closed list. Callers map codes with `satisfies Record<SpiffeErrorCode, …>`. */
export const SPIFFE_ERROR_CODES = [
  // identifiers
  'invalid_spiffe_id',
  'invalid_trust_domain',
  'invalid_path',
  // certificates and keys
  'malformed_certificate',
  'malformed_key',
  'no_certificates',
  'no_private_key',
  'key_mismatch',
  // X509-SVID leaf rules (CONFORMANCE §2.1–2.3)
  'leaf_no_uri_san',
  'leaf_multiple_uri_sans',
  'leaf_empty_path',
  'leaf_is_ca',
  'leaf_key_usage_missing',
  'leaf_no_digital_signature',
  'leaf_key_cert_sign',
  'leaf_crl_sign',
  // chain of trust (CONFORMANCE §2.4–2.6)
  'unknown_trust_domain',
  'chain_unverified',
  'certificate_expired',
  'certificate_not_yet_valid',
  'intermediate_not_ca',
  'intermediate_no_key_cert_sign',
  'path_length_exceeded',
  'name_constraints_violated',
  'unsupported_critical_extension',
  'eku_missing_purpose',
  // bundles and endpoints
  'malformed_bundle',
  'invalid_workload_endpoint',
] as const;

export type SpiffeErrorCode = (typeof SPIFFE_ERROR_CODES)[number];

/** Identifiers that help an operator; never key material. */
export interface SpiffeErrorDetails {
  readonly spiffeId?: string;
  readonly trustDomain?: string;
  /** Hex serial number of the certificate the error is about. */
  readonly serial?: string;
  /** Subject DN of the certificate the error is about. */
  readonly subject?: string;
  /** Position in the presented chain or in a bundle's key list. */
  readonly index?: number;
  /** Object identifier, e.g. of an unsupported critical extension. */
  readonly oid?: string;
}

export class SpiffeError extends Error {
  override readonly name = 'SpiffeError';
  readonly code: SpiffeErrorCode;
  readonly details: SpiffeErrorDetails;

  constructor(code: SpiffeErrorCode, message: string, details: SpiffeErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = Object.freeze({ ...details });
  }
}

export function isSpiffeError(err: unknown, code?: SpiffeErrorCode): err is SpiffeError {
  return err instanceof SpiffeError && (code === undefined || err.code === code);
}
