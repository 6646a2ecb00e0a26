import { status as GrpcStatus } from '@grpc/grpc-js';
import { ParleyError, type ErrorCode, toParleyError } from './errors';

/** gRPC status for every error code (exhaustive: a new code does not compile until mapped). */
export const GRPC_STATUS_BY_CODE = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  not_found: GrpcStatus.NOT_FOUND,
  conflict: GrpcStatus.ALREADY_EXISTS,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  precondition_failed: GrpcStatus.FAILED_PRECONDITION,
  cancelled: GrpcStatus.CANCELLED,
  timeout: GrpcStatus.DEADLINE_EXCEEDED,
  unavailable: GrpcStatus.UNAVAILABLE,
  config_invalid: GrpcStatus.FAILED_PRECONDITION,
  internal: GrpcStatus.INTERNAL,
} as const satisfies Record<ErrorCode, GrpcStatus>;

/** HTTP status for every error code (exhaustive). */
export const HTTP_STATUS_BY_CODE = {
  invalid_argument: 400,
  not_found: 404,
  conflict: 409,
  unauthenticated: 401,
  permission_denied: 403,
  resource_exhausted: 429,
  precondition_failed: 412,
  cancelled: 499,
  timeout: 504,
  unavailable: 503,
  config_invalid: 500,
  internal: 500,
} as const satisfies Record<ErrorCode, number>;

const TITLE_BY_CODE = {
  invalid_argument: 'Invalid argument',
  not_found: 'Not found',
  conflict: 'Conflict',
  unauthenticated: 'Unauthenticated',
  permission_denied: 'Permission denied',
  resource_exhausted: 'Resource exhausted',
  precondition_failed: 'Precondition failed',
  cancelled: 'Cancelled',
  timeout: 'Timeout',
  unavailable: 'Unavailable',
  config_invalid: 'Configuration invalid',
  internal: 'Internal error',
} as const satisfies Record<ErrorCode, string>;

/** Problem details document (RFC 9457), served as application/problem+json. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  /** Field-level errors for invalid input: JSON-pointer-ish path and what is wrong. */
  errors?: Array<{ field: string; message: string }>;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function toProblem(err: unknown, instance?: string): ProblemDetails {
  const e = toParleyError(err);
  const problem: ProblemDetails = {
    type: `https://parley.dev/problems/${e.code.replace(/_/g, '-')}`,
    title: TITLE_BY_CODE[e.code],
    status: HTTP_STATUS_BY_CODE[e.code],
    detail: e.publicMessage,
    code: e.code,
  };
  if (instance !== undefined) problem.instance = instance;
  const fieldErrors = fieldErrorsOf(e);
  if (fieldErrors.length > 0) problem.errors = fieldErrors;
  return problem;
}

/** gRPC status object as grpc-js expects it in a callback or `call.emit('error')`. */
export function toGrpcStatus(err: unknown): { code: GrpcStatus; details: string } {
  const e = toParleyError(err);
  return { code: GRPC_STATUS_BY_CODE[e.code], details: e.publicMessage };
}

/** Errors that carry field-level problems (validation) expose them through this class. */
export class ValidationError extends ParleyError {
  readonly fieldErrors: ReadonlyArray<{ field: string; message: string }>;
  constructor(message: string, fieldErrors: Array<{ field: string; message: string }>) {
    super('invalid_argument', message, {
      publicMessage: `${message}: ${fieldErrors.map((f) => `${f.field}: ${f.message}`).join('; ')}`,
    });
    this.fieldErrors = Object.freeze([...fieldErrors]);
  }
}

/** A ValidationError's fields, or the one field an invalid_argument error names in `details.field` (e.g. a CID). */
function fieldErrorsOf(e: ParleyError): Array<{ field: string; message: string }> {
  if (e instanceof ValidationError) return [...e.fieldErrors];
  const field = e.details.field;
  if (e.code !== 'invalid_argument' || typeof field !== 'string' || field === '') return [];
  const prefix = `${field}: `;
  const message = e.publicMessage.startsWith(prefix) ? e.publicMessage.slice(prefix.length) : e.publicMessage;
  return [{ field, message }];
}
