import { ArgumentsHost, Catch, Logger, RpcExceptionFilter } from '@nestjs/common';
import { Observable, throwError } from 'rxjs';
import { toGrpcStatus } from './error-mapping';
import { toParleyError } from './errors';

/**
 * Maps every exception of a gRPC handler to a gRPC status. Clients see the public message
 * (generic for authn/authz failures); the reason goes to the log.
 */
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter<unknown> {
  private readonly logger = new Logger('grpc');

  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    const err = toParleyError(exception);
    if (err.code === 'internal') this.logger.error({ err }, err.message);
    else this.logger.debug?.({ code: err.code, reason: err.message }, 'call failed');
    const status = toGrpcStatus(err);
    return throwError(() => ({ code: status.code, message: status.details, details: status.details }));
  }
}
