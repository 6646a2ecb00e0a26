/**
 * The one error base class of Parley (STYLE.md §4). Every failure that crosses a module
 * boundary is a ParleyError with a code from a closed union; the transport filters map
 * codes with exhaustive tables, so adding a code does not compile until it is mapped.
 *
 * Messages are lowercase "what failed: why", carry identifiers but never key material,
 * secrets or configuration values. `publicMessage` is what a remote client may see; it
 * defaults to a generic text for authentication and authorization failures.
 */
import { databaseUnavailableReason } from './connection-errors';

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

/** What a client sees when its call needed the database and the database cannot be reached. */
export const DATABASE_UNAVAILABLE_PUBLIC = 'database unavailable; retry later';

/**
 * Wraps anything thrown into a ParleyError. A connection-level database failure (refused,
 * reset, server shutting down, pool timeout; also as the cause of an `internal` error) is
 * `unavailable`, so clients retry; other unknown errors become `internal`.
 */
export function toParleyError(err: unknown): ParleyError {
  if (err instanceof ParleyError && err.code !== 'internal') return err;
  const reason = databaseUnavailableReason(err instanceof ParleyError ? err.cause : err);
  if (reason !== undefined) return new ParleyError('unavailable', `database unavailable: ${reason}`, { cause: err, publicMessage: DATABASE_UNAVAILABLE_PUBLIC });
  if (err instanceof ParleyError) return err;
  return new ParleyError('internal', 'unexpected error', { cause: err });
}
