import type { SpiffeErrorCode } from '../../spiffe';

/** The TLS alert (RFC 8446 §6.2) that names why a client certificate was refused. */
export type RefusalAlert = 'certificate_required' | 'unknown_ca' | 'certificate_expired' | 'bad_certificate';

const BY_CODE = {
  invalid_spiffe_id: 'bad_certificate',
  invalid_trust_domain: 'bad_certificate',
  invalid_path: 'bad_certificate',
  malformed_certificate: 'bad_certificate',
  malformed_key: 'bad_certificate',
  no_certificates: 'certificate_required',
  no_private_key: 'bad_certificate',
  key_mismatch: 'bad_certificate',
  leaf_no_uri_san: 'bad_certificate',
  leaf_multiple_uri_sans: 'bad_certificate',
  leaf_empty_path: 'bad_certificate',
  leaf_is_ca: 'bad_certificate',
  leaf_key_usage_missing: 'bad_certificate',
  leaf_no_digital_signature: 'bad_certificate',
  leaf_key_cert_sign: 'bad_certificate',
  leaf_crl_sign: 'bad_certificate',
  unknown_trust_domain: 'unknown_ca',
  chain_unverified: 'unknown_ca',
  certificate_expired: 'certificate_expired',
  certificate_not_yet_valid: 'certificate_expired',
  intermediate_not_ca: 'bad_certificate',
  intermediate_no_key_cert_sign: 'bad_certificate',
  path_length_exceeded: 'bad_certificate',
  name_constraints_violated: 'bad_certificate',
  unsupported_critical_extension: 'bad_certificate',
  eku_missing_purpose: 'bad_certificate',
  malformed_bundle: 'bad_certificate',
  invalid_workload_endpoint: 'bad_certificate',
} as const satisfies Record<SpiffeErrorCode, RefusalAlert>;

/**
 * The alert name for a refusal reason: SPIFFE verification codes map to the four alerts a
 * client can act on; transport reasons (no h2, resumed session, ...) have none. As coarse as
 * a TLS alert on purpose: the precise code and detail go to the log only.
 */
export function refusalAlert(reason: string): RefusalAlert | undefined {
  return Object.hasOwn(BY_CODE, reason) ? BY_CODE[reason as SpiffeErrorCode] : undefined;
}

/** The gRPC status message a refused client reads (lowercase "what failed: why"). */
export function refusalMessage(alert: RefusalAlert): string {
  return `client certificate refused: ${alert}`;
}
