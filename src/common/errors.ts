/**
 * The one error base class of Parley (STYLE.md §4). Every failure that crosses a module
 * boundary is a ParleyError with a code from a closed union; the transport filters map
 * codes with exhaustive tables, so adding a code does not compile until it is mapped.
 *
 * Messages are lowercase "what failed: why", carry identifiers but never key material,
 * secrets or configuration values. `publicMessage` is what a remote client may see; it
 * defaults to a generic text for authentication and authorization failures.
 *
 * Errors of the SPIFFE core (`SpiffeError`, a closed code union of its own) become
 * ParleyErrors through `ERROR_CODE_BY_SPIFFE_CODE` when they reach `toParleyError` unwrapped.
 */
import { databaseUnavailableReason } from './connection-errors';
import { SpiffeError, type SpiffeErrorCode } from '../spiffe';

export const ERROR_CODES = [
  'invalid_argument',
  'not_found',
  'conflict',
  'unauthenticated',
  'permission_denied',
  'resource_exhausted',
  'precondition_failed',
  'cancelled',
  'timeout',
  'unavailable',
  'config_invalid',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ParleyErrorOptions {
  cause?: unknown;
  /** Typed context for logs and audit (identifiers only, never secrets). */
  details?: Record<string, string | number | boolean | undefined>;
  /** Text safe to return to a remote caller; defaults per code. */
  publicMessage?: string;
}

const GENERIC_PUBLIC: Partial<Record<ErrorCode, string>> = {
  unauthenticated: 'authentication failed',
  permission_denied: 'permission denied',
  internal: 'internal error',
};

export class ParleyError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly publicMessage: string;

  constructor(code: ErrorCode, message: string, options: ParleyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ParleyError';
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
    this.publicMessage = options.publicMessage ?? GENERIC_PUBLIC[code] ?? message;
  }

  static is(value: unknown, code?: ErrorCode): value is ParleyError {
    return value instanceof ParleyError && (code === undefined || value.code === code);
  }
}

/**
 * The gateway code of every SPIFFE error code (exhaustive: a new SPIFFE code does not compile
 * until mapped). Malformed identifiers, certificates, keys and bundles are bad input; an SVID
 * that breaks the X509-SVID rules or does not verify against the bundles is a failed
 * authentication (clients get the generic text, the reason stays in the message for logs);
 * a bad Workload API address is the gateway's own configuration.
 */
export const ERROR_CODE_BY_SPIFFE_CODE = {
  // identifiers
  invalid_spiffe_id: 'invalid_argument',
  invalid_trust_domain: 'invalid_argument',
  invalid_path: 'invalid_argument',
  // certificates and keys
  malformed_certificate: 'invalid_argument',
  malformed_key: 'invalid_argument',
  no_certificates: 'invalid_argument',
  no_private_key: 'invalid_argument',
  key_mismatch: 'invalid_argument',
  // X509-SVID leaf rules
  leaf_no_uri_san: 'unauthenticated',
  leaf_multiple_uri_sans: 'unauthenticated',
  leaf_empty_path: 'unauthenticated',
  leaf_is_ca: 'unauthenticated',
  leaf_key_usage_missing: 'unauthenticated',
  leaf_no_digital_signature: 'unauthenticated',
  leaf_key_cert_sign: 'unauthenticated',
  leaf_crl_sign: 'unauthenticated',
  // chain of trust
  unknown_trust_domain: 'unauthenticated',
  chain_unverified: 'unauthenticated',
  certificate_expired: 'unauthenticated',
  certificate_not_yet_valid: 'unauthenticated',
  intermediate_not_ca: 'unauthenticated',
  intermediate_no_key_cert_sign: 'unauthenticated',
  path_length_exceeded: 'unauthenticated',
  name_constraints_violated: 'unauthenticated',
  unsupported_critical_extension: 'unauthenticated',
  eku_missing_purpose: 'unauthenticated',
  // bundles and endpoints
  malformed_bundle: 'invalid_argument',
  invalid_workload_endpoint: 'config_invalid',
} as const satisfies Record<SpiffeErrorCode, ErrorCode>;

/**
 * A SpiffeError as a ParleyError of the mapped code. Its message names identifiers only
 * (never key material), so it is the message; `publicMessage` follows the code's default
 * (generic for authentication failures). The SPIFFE code is kept in `details.spiffeCode`.
 */
export function fromSpiffeError(err: SpiffeError): ParleyError {
  return new ParleyError(ERROR_CODE_BY_SPIFFE_CODE[err.code], err.message, { cause: err, details: { ...err.details, spiffeCode: err.code } });
}

/** What a client sees when its call needed the database and the database cannot be reached. */
export const DATABASE_UNAVAILABLE_PUBLIC = 'database unavailable; retry later';

/**
 * Wraps anything thrown into a ParleyError. A connection-level database failure (refused,
 * reset, server shutting down, pool timeout; also as the cause of an `internal` error) is
 * `unavailable`, so clients retry; a SpiffeError gets its mapped code
 * (ERROR_CODE_BY_SPIFFE_CODE); other unknown errors become `internal`.
 */
export function toParleyError(err: unknown): ParleyError {
  if (err instanceof ParleyError && err.code !== 'internal') return err;
  if (err instanceof SpiffeError) return fromSpiffeError(err);
  const reason = databaseUnavailableReason(err instanceof ParleyError ? err.cause : err);
  if (reason !== undefined) return new ParleyError('unavailable', `database unavailable: ${reason}`, { cause: err, publicMessage: DATABASE_UNAVAILABLE_PUBLIC });
  if (err instanceof ParleyError) return err;
  return new ParleyError('internal', 'unexpected error', { cause: err });
}
