import { status } from '@grpc/grpc-js';
import { SPIFFE_ERROR_CODES, SpiffeError, SpiffeId } from '../spiffe';
import { ERROR_CODE_BY_SPIFFE_CODE, ERROR_CODES, ParleyError, toParleyError } from './errors';
import { GRPC_STATUS_BY_CODE, HTTP_STATUS_BY_CODE, toGrpcStatus, toProblem, ValidationError } from './error-mapping';

describe('error mapping', () => {
  it.each(ERROR_CODES)('maps %s to a gRPC status and an HTTP problem', (code) => {
    const err = new ParleyError(code, `${code}: something specific`);
    const problem = toProblem(err, '/v1/x');
    expect(problem.status).toBe(HTTP_STATUS_BY_CODE[code]);
    expect(problem.code).toBe(code);
    expect(problem.type).toMatch(/^https:\/\/parley\.dev\/problems\/[a-z-]+$/);
    expect(problem.title.length).toBeGreaterThan(0);
    expect(problem.instance).toBe('/v1/x');
    expect(toGrpcStatus(err).code).toBe(GRPC_STATUS_BY_CODE[code]);
  });

  it('hides the reason of authentication, authorization and internal failures from clients', () => {
    for (const code of ['unauthenticated', 'permission_denied', 'internal'] as const) {
      const err = new ParleyError(code, `${code}: spiffe://acme.test/x revoked by rule 7`);
      expect(toProblem(err).detail).not.toContain('rule 7');
      expect(toGrpcStatus(err).details).not.toContain('rule 7');
    }
    expect(toGrpcStatus(new ParleyError('permission_denied', 'x')).code).toBe(status.PERMISSION_DENIED);
  });

  it('turns unknown throwables into internal errors without leaking their text', () => {
    const problem = toProblem(new Error('password=abc'));
    expect(problem).toMatchObject({ status: 500, code: 'internal', detail: 'internal error' });
  });

  it('carries field-level errors of validation failures', () => {
    const err = new ValidationError('invalid rule', [{ field: 'methods[0]', message: 'unknown method' }]);
    expect(toProblem(err)).toMatchObject({ status: 400, errors: [{ field: 'methods[0]', message: 'unknown method' }] });
  });
});

describe('error mapping of a database outage', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

  it('maps connection-level database failures to UNAVAILABLE and 503, not INTERNAL', () => {
    expect(toGrpcStatus(refused)).toEqual({ code: status.UNAVAILABLE, details: 'database unavailable; retry later' });
    expect(toProblem(new Error('Connection terminated unexpectedly'))).toMatchObject({ status: 503, code: 'unavailable', detail: 'database unavailable; retry later' });
    const wrapped = new ParleyError('internal', 'store: commit failed', { cause: Object.assign(new Error('terminating connection'), { code: '57P01' }) });
    expect(toGrpcStatus(wrapped).code).toBe(status.UNAVAILABLE);
  });

  it('keeps statement errors internal and other codes as they are', () => {
    expect(toGrpcStatus(Object.assign(new Error('duplicate key'), { code: '23505' })).code).toBe(status.INTERNAL);
    expect(toGrpcStatus(new ParleyError('not_found', 'record x: not found', { cause: refused })).code).toBe(status.NOT_FOUND);
  });
});

describe('error mapping of an unwrapped SpiffeError', () => {
  function thrownBy(fn: () => unknown): unknown {
    try {
      fn();
    } catch (err) {
      return err;
    }
    throw new Error('expected a throw');
  }

  it('maps a malformed SPIFFE ID to INVALID_ARGUMENT with its message', () => {
    const err = thrownBy(() => SpiffeId.parse('https://example.org/w'));
    expect(err).toBeInstanceOf(SpiffeError);
    const message = (err as SpiffeError).message;
    expect(message).toMatch(/^invalid spiffe id: /);
    expect(toGrpcStatus(err)).toEqual({ code: status.INVALID_ARGUMENT, details: message });
  });

  it('maps a malformed SPIFFE ID to an HTTP 400 problem with its message', () => {
    const err = new SpiffeError('invalid_trust_domain', 'invalid trust domain: trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores');
    expect(toProblem(err, '/v1/federations')).toMatchObject({ status: 400, code: 'invalid_argument', detail: err.message, instance: '/v1/federations' });
  });

  it('maps verification failures to UNAUTHENTICATED and 401, with the generic text for the client', () => {
    const err = new SpiffeError('chain_unverified', 'cannot verify x509-svid: no path to an authority of "partner.test"', { spiffeId: 'spiffe://partner.test/w' });
    expect(toGrpcStatus(err)).toEqual({ code: status.UNAUTHENTICATED, details: 'authentication failed' });
    expect(toProblem(err)).toMatchObject({ status: 401, code: 'unauthenticated', detail: 'authentication failed' });
    const mapped = toParleyError(err);
    expect(mapped).toMatchObject({ code: 'unauthenticated', message: err.message, cause: err });
    expect(mapped.details).toEqual({ spiffeId: 'spiffe://partner.test/w', spiffeCode: 'chain_unverified' });
  });

  it.each(SPIFFE_ERROR_CODES)('maps %s through the table, never to internal', (code) => {
    const expected = ERROR_CODE_BY_SPIFFE_CODE[code];
    expect(expected).not.toBe('internal');
    const err = new SpiffeError(code, `${code}: something specific`);
    expect(toGrpcStatus(err).code).toBe(GRPC_STATUS_BY_CODE[expected]);
    expect(toProblem(err)).toMatchObject({ status: HTTP_STATUS_BY_CODE[expected], code: expected });
  });
});
