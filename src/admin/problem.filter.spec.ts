import { Logger, type ArgumentsHost } from '@nestjs/common';
import { SpiffeError } from '../spiffe';
import { ProblemFilter } from './problem.filter';

/** Runs the filter on `exception` and returns the status and problem it sent. */
function sent(exception: unknown): { status: number; body: Record<string, unknown> } {
  const out: { status: number; body: Record<string, unknown> } = { status: 0, body: {} };
  const res = {
    headersSent: false,
    status(code: number) {
      out.status = code;
      return this;
    },
    type() {
      return this;
    },
    send(text: string) {
      out.body = JSON.parse(text) as Record<string, unknown>;
      return this;
    },
  };
  const req = { url: '/v1/x', originalUrl: '/v1/x' };
  const host = { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) } as unknown as ArgumentsHost;
  new ProblemFilter().catch(exception, host);
  return out;
}

describe('ProblemFilter', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('answers an unwrapped malformed-ID SpiffeError with 400 and its message', () => {
    const err = new SpiffeError('invalid_spiffe_id', 'invalid spiffe id: scheme is missing or invalid');
    expect(sent(err)).toEqual({ status: 400, body: expect.objectContaining({ code: 'invalid_argument', detail: 'invalid spiffe id: scheme is missing or invalid', instance: '/v1/x' }) });
  });

  it('answers an unwrapped verification SpiffeError with 401 and the generic text', () => {
    const err = new SpiffeError('certificate_expired', 'cannot verify x509-svid: certificate 0 expired at 2020-01-01T00:00:00.000Z');
    expect(sent(err)).toEqual({ status: 401, body: expect.objectContaining({ code: 'unauthenticated', detail: 'authentication failed' }) });
  });

  it('keeps other errors internal without their text', () => {
    expect(sent(new Error('password=abc'))).toEqual({ status: 500, body: expect.objectContaining({ code: 'internal', detail: 'internal error' }) });
  });
});
