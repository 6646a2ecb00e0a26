/**
 * Which failures mean "the database cannot be reached right now" (retry later) rather than
 * "this statement is wrong". Pure: it reads the shape of node-postgres, pg-pool and TypeORM
 * errors (string `code`, `message`, wrapped `cause` / `driverError` / AggregateError
 * `errors`) without importing them.
 */

/** Socket-level failures of the connection to the server (Node's errno codes). */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ECONNABORTED']);

/**
 * PostgreSQL SQLSTATEs of a server that is going away or not accepting connections:
 * 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up,
 * shutting down, recovering), 53300 too_many_connections; class 08 is connection exceptions.
 */
const SERVER_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** Messages node-postgres and pg-pool use for a lost or never-made connection (they carry no code). */
const CONNECTION_MESSAGES: ReadonlyArray<RegExp> = [
  /^Connection terminated/, // "Connection terminated", "... unexpectedly", "... due to connection timeout"
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
  /^connect ECONNREFUSED /,
];

/** How deep wrapped errors are followed (cause chains of wrappers around the driver error). */
const MAX_DEPTH = 5;

/**
 * A short reason ("connection refused (ECONNREFUSED)", "server shutting down (57P01)") when
 * `err` or an error it wraps is a connection-level database failure; undefined otherwise.
 */
export function databaseUnavailableReason(err: unknown, depth = 0): string | undefined {
  if (err === null || typeof err !== 'object' || depth > MAX_DEPTH) return undefined;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (SOCKET_CODES.has(code)) return `connection failed (${code})`;
    if (SERVER_STATES.has(code)) return `server not accepting work (${code})`;
    if (/^08[0-9A-Z]{3}$/.test(code)) return `connection exception (${code})`;
  }
  if (typeof message === 'string' && CONNECTION_MESSAGES.some((pattern) => pattern.test(message))) return message.slice(0, 120);
  const wrapped = err as { cause?: unknown; driverError?: unknown; errors?: unknown };
  for (const inner of [wrapped.driverError, wrapped.cause, ...(Array.isArray(wrapped.errors) ? wrapped.errors.slice(0, 8) : [])]) {
    const reason = databaseUnavailableReason(inner, depth + 1);
    if (reason !== undefined) return reason;
  }
  return undefined;
}
