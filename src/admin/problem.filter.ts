import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ParleyError, PROBLEM_CONTENT_TYPE, toParleyError, toProblem, type ErrorCode } from '../common';

const CODE_BY_HTTP_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  405: 'invalid_argument',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'resource_exhausted',
  429: 'resource_exhausted',
  503: 'unavailable',
  504: 'timeout',
};

/** Turns every exception of an HTTP route into an RFC 9457 problem+json response. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const err = fromHttpException(exception);
    const problem = toProblem(err, req.originalUrl ?? req.url);
    if (problem.status >= 500) this.logger.error({ err, code: err.code, path: req.url }, err.message);
    else this.logger.debug?.({ code: err.code, path: req.url, reason: err.message }, 'request refused');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  }
}

function fromHttpException(exception: unknown): ParleyError {
  if (exception instanceof ParleyError) return exception;
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const code = CODE_BY_HTTP_STATUS[status] ?? (status >= 500 ? 'internal' : 'invalid_argument');
    const body = exception.getResponse();
    const message = typeof body === 'object' && body !== null && 'message' in body ? String((body as { message: unknown }).message) : exception.message;
    return new ParleyError(code, message.toLowerCase(), { cause: exception, publicMessage: code === 'internal' ? undefined : message });
  }
  // A SpiffeError gets its mapped code, a lost database `unavailable`, anything else `internal`.
  return toParleyError(exception);
}
