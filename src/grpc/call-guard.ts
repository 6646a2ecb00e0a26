import * as grpc from '@grpc/grpc-js';
import { toGrpcStatus } from '../common';
import type { TransportLogger } from '../tls';

/** A grpc-js handler as NestJS builds them: (call) for streams, (call, callback) otherwise. */
export type GrpcHandler = (call: unknown, callback?: unknown) => unknown;

interface StreamLike {
  emit(event: 'error', err: unknown): boolean;
  writableEnded?: boolean;
  destroyed?: boolean;
}

/**
 * Wraps a gRPC handler so that nothing it throws or rejects with escapes: the error becomes
 * the call's status (through the callback for unary and client-streaming calls, as the
 * stream's error otherwise). A status-shaped error (numeric `code`, as exception filters
 * produce) keeps its code and details; anything else is mapped by `toGrpcStatus`.
 */
export function guardHandler(handler: GrpcHandler, logger: TransportLogger, name: string): (call: unknown, callback?: unknown) => void {
  return (call: unknown, callback?: unknown): void => {
    let result: unknown;
    try {
      result = handler(call, callback);
    } catch (err) {
      failCall(call, callback, err, logger, name);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(undefined, (err: unknown) => failCall(call, callback, err, logger, name));
    }
  };
}

/** Ends a call with the status for `err`, unless it has ended already. */
export function failCall(call: unknown, callback: unknown, err: unknown, logger: TransportLogger, name: string): void {
  const status = statusOf(err);
  if (status.code === grpc.status.INTERNAL || status.code === grpc.status.UNKNOWN) logger.error({ err, method: name }, 'grpc handler failed');
  else logger.debug({ method: name, code: status.code, detail: status.details }, 'grpc handler ended the call with an error');
  try {
    if (typeof callback === 'function') {
      (callback as grpc.sendUnaryData<unknown>)(status, null);
      return;
    }
    const stream = call as StreamLike;
    if (stream !== null && typeof stream === 'object' && typeof stream.emit === 'function' && !stream.writableEnded && !stream.destroyed) {
      stream.emit('error', status);
    }
  } catch (reportErr) {
    logger.error({ err: reportErr, method: name }, 'cannot report the status of a failed grpc call');
  }
}

function statusOf(err: unknown): grpc.StatusObject {
  const metadata = new grpc.Metadata();
  if (err !== null && typeof err === 'object') {
    const { code, details, message } = err as { code?: unknown; details?: unknown; message?: unknown };
    if (typeof code === 'number' && Number.isInteger(code) && code > 0 && code <= 16) {
      const text = typeof details === 'string' ? details : typeof message === 'string' ? message : 'error';
      return { code, details: text, metadata };
    }
  }
  const mapped = toGrpcStatus(err);
  return { code: mapped.code, details: mapped.details, metadata };
}
