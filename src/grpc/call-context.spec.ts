import { Metadata } from '@grpc/grpc-js';
import { bindCallContext, callContextOf, decidedContext } from './call-interceptor';
import type { PeerIdentity } from '../tls';

describe('call contexts on request metadata', () => {
  const peer = { spiffeId: 'spiffe://acme.test/w' } as unknown as PeerIdentity;

  it('gives a handler the context bound to its very metadata object, and refuses any other call', () => {
    const metadata = new Metadata();
    const context = decidedContext(peer, '/p.S/M');
    bindCallContext(metadata, context);
    expect(callContextOf({ metadata })).toBe(context);
    expect(() => callContextOf({ metadata: metadata.clone() })).toThrow(expect.objectContaining({ code: 'unauthenticated' }));
    expect(() => callContextOf({ metadata: new Metadata() })).toThrow(expect.objectContaining({ code: 'unauthenticated' }));
    expect(() => callContextOf({ metadata: undefined as unknown as Metadata })).toThrow(expect.objectContaining({ code: 'unauthenticated' }));
  });

  it('cannot be named by anything a client sends', () => {
    const metadata = new Metadata();
    metadata.set('parley.callcontext', 'x');
    metadata.set('context', 'x');
    expect(() => callContextOf({ metadata })).toThrow(expect.objectContaining({ code: 'unauthenticated' }));
    expect(Object.keys(metadata.toJSON())).toEqual(['parley.callcontext', 'context']);
    bindCallContext(metadata, decidedContext(peer, '/p.S/M'));
    expect(Object.keys(metadata.toJSON())).toEqual(['parley.callcontext', 'context']);
  });
});
