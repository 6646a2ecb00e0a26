import {
  authorizeAll,
  authorizeAny,
  authorizeEither,
  authorizeMemberOf,
  authorizeOneOf,
  authorizePathPrefix,
  requireSpiffeId,
  requireTrustDomain,
  SpiffeError,
} from './index';

const id = requireSpiffeId;
const ACME = requireTrustDomain('acme.test');

describe('authorizers', () => {
  it('authorizeAny admits every ID', () => {
    expect(authorizeAny()(id('spiffe://x/y'))).toBe(true);
  });

  it('authorizeMemberOf matches the trust domain exactly (no suffix or substring tricks)', () => {
    const member = authorizeMemberOf(ACME);
    expect(member(id('spiffe://acme.test/a'))).toBe(true);
    expect(member(id('spiffe://acme.test'))).toBe(true);
    expect(member(id('spiffe://acme.test.evil.com/a'))).toBe(false);
    expect(member(id('spiffe://evilacme.test/a'))).toBe(false);
    expect(member(id('spiffe://x.acme.test/a'))).toBe(false);
  });

  it('authorizeOneOf matches whole IDs exactly', () => {
    const oneOf = authorizeOneOf(id('spiffe://acme.test/a'), id('spiffe://acme.test/b'));
    expect(oneOf(id('spiffe://acme.test/a'))).toBe(true);
    expect(oneOf(id('spiffe://acme.test/b'))).toBe(true);
    expect(oneOf(id('spiffe://acme.test/a/c'))).toBe(false);
    expect(oneOf(id('spiffe://acme.test/A'))).toBe(false);
    expect(authorizeOneOf()(id('spiffe://acme.test/a'))).toBe(false);
  });

  it('authorizePathPrefix matches on segment boundaries within one trust domain', () => {
    const ml = authorizePathPrefix(ACME, '/ns/ml');
    expect(ml(id('spiffe://acme.test/ns/ml'))).toBe(true);
    expect(ml(id('spiffe://acme.test/ns/ml/x'))).toBe(true);
    expect(ml(id('spiffe://acme.test/ns/ml/x/y'))).toBe(true);
    expect(ml(id('spiffe://acme.test/ns/mlx'))).toBe(false);
    expect(ml(id('spiffe://acme.test/ns'))).toBe(false);
    expect(ml(id('spiffe://acme.test/ns/ML'))).toBe(false);
    expect(ml(id('spiffe://partner.test/ns/ml'))).toBe(false);
    expect(ml(id('spiffe://acme.test/x/ns/ml'))).toBe(false);
    const all = authorizePathPrefix(ACME, '');
    expect(all(id('spiffe://acme.test'))).toBe(true);
    expect(all(id('spiffe://acme.test/a'))).toBe(true);
    expect(all(id('spiffe://acme.tester/a'))).toBe(false);
  });

  it('authorizePathPrefix validates the prefix as a SPIFFE path', () => {
    for (const bad of ['ns/ml', '/ns/ml/', '/', '/ns//ml', '/ns/*', '/ns/.*']) {
      expect(() => authorizePathPrefix(ACME, bad)).toThrow(SpiffeError);
    }
  });

  it('composition: all requires every authorizer, either any; no vacuous allow', () => {
    const both = authorizeAll(authorizeMemberOf(ACME), authorizePathPrefix(ACME, '/ns'));
    expect(both(id('spiffe://acme.test/ns/a'))).toBe(true);
    expect(both(id('spiffe://acme.test/other'))).toBe(false);
    const either = authorizeEither(authorizeOneOf(id('spiffe://a/b')), authorizePathPrefix(ACME, '/ns'));
    expect(either(id('spiffe://a/b'))).toBe(true);
    expect(either(id('spiffe://acme.test/x'))).toBe(false);
    expect(authorizeEither()(id('spiffe://a/b'))).toBe(false);
    expect(() => authorizeAll()).toThrow(TypeError);
  });
});
