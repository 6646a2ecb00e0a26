import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { TestCa } from '../../test/support/test-ca';
import { BundleSet, SpiffeBundle, TrustDomain, X509Bundle } from './index';
import { codeOf } from '../../test/support/spiffe-errors';

const TD = TrustDomain.parse('acme.test');
const OTHER = TrustDomain.parse('partner.test');
let ca1: TestCa;
let ca2: TestCa;
let rsaCa: TestCa;
const jwtKey = (crv: 'P-256' | 'P-384' = 'P-256') => generateKeyPairSync('ec', { namedCurve: crv }).publicKey;

beforeAll(async () => {
  ca1 = await TestCa.create({ trustDomain: 'acme.test' });
  ca2 = await TestCa.create({ trustDomain: 'acme.test', keyAlg: 'P-384' });
  rsaCa = await TestCa.create({ trustDomain: 'acme.test', keyAlg: 'RSA' });
});


/** A parsed bundle without sequence and hint: {"keys": [x509 entry]}. */
const readFileVector = () => JSON.stringify({ keys: JSON.parse(ca1.spiffeBundleJson()).keys });
const doc = (members: string, keys: unknown[] = []) => `{${members}${members ? ',' : ''}"keys":${JSON.stringify(keys)}}`;

describe('X509Bundle', () => {
  it('parses PEM and DER, drops duplicates, round-trips through toPem/toDer', () => {
    const pem = TestCa.bundlePem(ca1, ca2, ca1);
    const bundle = X509Bundle.parse(TD, pem);
    expect(bundle.size).toBe(2);
    expect(X509Bundle.parse(TD, bundle.toPem()).equals(bundle)).toBe(true);
    expect(X509Bundle.parse(TD, bundle.toDer()).equals(bundle)).toBe(true);
    expect(bundle.has(ca2.certificate)).toBe(true);
    expect(bundle.has(rsaCa.certificate)).toBe(false);
    expect(Object.isFrozen(bundle.authorities)).toBe(true);
  });

  it('equals ignores order but not trust domain', () => {
    const a = X509Bundle.fromAuthorities(TD, [ca1.certificate, ca2.certificate]);
    expect(a.equals(X509Bundle.fromAuthorities(TD, [ca2.certificate, ca1.certificate]))).toBe(true);
    expect(a.equals(X509Bundle.fromAuthorities(OTHER, [ca1.certificate, ca2.certificate]))).toBe(false);
    expect(a.equals(X509Bundle.fromAuthorities(TD, [ca1.certificate]))).toBe(false);
  });

  it('input errors', () => {
    expect(X509Bundle.parse(TD, ' \n').size).toBe(0);
    expect(codeOf(() => X509Bundle.parse(TD, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'))).toBe(
      'malformed_bundle',
    );
    expect(codeOf(() => X509Bundle.parse(TD, Buffer.from([0x30, 0x05, 1])))).toBe('malformed_bundle');
    expect(codeOf(() => X509Bundle.parse(TD, Buffer.from([0x30, 0x01, 1])))).toBe('malformed_certificate');
  });
});

describe('SpiffeBundle.parse', () => {
  it('reads x509 and jwt authorities, sequence as BigInt and hint in seconds', () => {
    const kid = 'k1';
    const jwk = { use: 'jwt-svid', kid, ...jwtKey().export({ format: 'jwk' }) };
    const json = TestCa.spiffeBundleJson([ca1, rsaCa], { sequence: 18446744073709551615n, refreshHint: 300, extraKeys: [jwk] });
    const b = SpiffeBundle.parse(json, TD);
    expect(b.x509Authorities.map((c) => c.fingerprint256)).toEqual([ca1, rsaCa].map((c) => c.certificate.fingerprint256));
    expect(b.jwtAuthorities.get(kid)?.jwk).toEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
    expect(b.sequence).toBe(18446744073709551615n);
    expect(b.refreshHint).toBe(300);
    expect(b.skipped).toEqual([]);
    expect(SpiffeBundle.parse(Buffer.from(json), TD).equals(b)).toBe(true);
  });

  it('{"keys": []} is a valid empty bundle (everything revoked)', () => {
    const b = SpiffeBundle.parse('{"keys":[]}', TD);
    expect(b.x509Authorities).toHaveLength(0);
    expect(b.jwtAuthorities.size).toBe(0);
  });

  it.each([
    ['invalid json', '{"keys":[}'],
    ['a json array', '[]'],
    ['json null', 'null'],
    ['a json string', '"keys"'],
    ['keys missing', '{"spiffe_sequence":1}'],
    ['keys not an array', '{"keys":{}}'],
    ['sequence negative', doc('"spiffe_sequence":-1')],
    ['sequence 2^64', doc('"spiffe_sequence":18446744073709551616')],
    ['sequence fractional', doc('"spiffe_sequence":1.5')],
    ['sequence written as 1.0', doc('"spiffe_sequence":1.0')],
    ['sequence with exponent', doc('"spiffe_sequence":1e3')],
    ['sequence as a string', doc('"spiffe_sequence":"1"')],
    ['sequence null', doc('"spiffe_sequence":null')],
    ['refresh hint negative', doc('"spiffe_refresh_hint":-5')],
    ['refresh hint fractional', doc('"spiffe_refresh_hint":0.5')],
    ['invalid utf-8 bytes', Buffer.from([0x7b, 0xff, 0x7d])],
  ])('%s -> malformed_bundle', (_name, input) => {
    expect(codeOf(() => SpiffeBundle.parse(input, TD))).toBe('malformed_bundle');
  });

  it('reads large sequences exactly (beyond 2^53), including duplicate members (last wins, like JSON.parse)', () => {
    expect(SpiffeBundle.parse(doc('"spiffe_sequence":9007199254740993'), TD).sequence).toBe(9007199254740993n);
    expect(SpiffeBundle.parse(doc('"spiffe_sequence":5,"x":{"spiffe_sequence":7},"spiffe_sequence":6'), TD).sequence).toBe(6n);
    expect(SpiffeBundle.parse('{"keys":[],"spiffe\\u005fsequence":12}', TD).sequence).toBe(12n);
    expect(SpiffeBundle.parse(doc('"spiffe_sequence":0'), TD).sequence).toBe(0n);
    expect(SpiffeBundle.parse(doc('"other":[1,{"spiffe_sequence":-1}],"spiffe_refresh_hint":0'), TD).refreshHint).toBe(0);
  });

  it('skips (and reports) unusable entries, keeps the rest', () => {
    const good = JSON.parse(ca1.spiffeBundleJson()).keys[0];
    const otherCert = JSON.parse(ca2.spiffeBundleJson()).keys[0];
    const jwt = { use: 'jwt-svid', kid: 'a', ...jwtKey().export({ format: 'jwk' }) };
    const priv = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const keys = [
      good,
      'not an object',
      { ...good, use: undefined },
      { ...good, kty: 'oct' },
      { ...good, x5c: [] },
      { ...good, x5c: ['not base64!'] },
      { ...good, x5c: ['AAAA'] },
      { ...good, x5c: otherCert.x5c },
      { ...good, x: 'AAAA' },
      { ...jwt, kid: '' },
      { use: 'jwt-svid', kid: 'p', ...priv },
      { ...jwt, kid: 'bad', x: 5 },
      jwt,
      { ...jwt },
      good,
    ];
    const b = SpiffeBundle.parse(doc('', keys), TD);
    expect(b.x509Authorities).toHaveLength(1);
    expect([...b.jwtAuthorities.keys()]).toEqual(['a']);
    expect(b.skipped).toEqual([
      { index: 1, reason: 'entry is not a json object' },
      { index: 2, reason: 'missing use' },
      { index: 3, reason: 'unknown kty "oct"' },
      { index: 4, reason: 'x509-svid entry without x5c' },
      { index: 5, reason: 'x509-svid entry with malformed x5c' },
      { index: 6, reason: 'x509-svid entry with malformed x5c certificate' },
      { index: 7, reason: 'x509-svid entry key does not match its x5c certificate' },
      { index: 8, reason: 'jwk key parameters are invalid' },
      { index: 9, reason: 'jwt-svid entry without kid' },
      { index: 10, reason: 'jwk contains private key material' },
      { index: 11, reason: 'jwk member "x" is not a string' },
      { index: 13, reason: 'duplicate kid "a"' },
      { index: 14, reason: 'duplicate x509 authority' },
    ]);
    expect(JSON.stringify(b.skipped)).not.toContain(String(priv.d));
  });
});

describe('SpiffeBundle producing', () => {
  it('serialize is strict: one x5c per x509 entry with derived key params, kid on jwt entries, sequence and hint', () => {
    const key = jwtKey('P-384');
    const b = SpiffeBundle.fromX509Authorities(TD, [ca1.certificate, rsaCa.certificate], {
      sequence: 42n,
      refreshHint: 300,
      jwtAuthorities: [{ keyId: 'kid-1', publicKey: key }],
    });
    const out = JSON.parse(b.serialize());
    expect(out.spiffe_sequence).toBe(42);
    expect(out.spiffe_refresh_hint).toBe(300);
    expect(out.keys).toHaveLength(3);
    const [ec, rsa, jwt] = out.keys;
    expect(ec).toEqual({ use: 'x509-svid', ...ca1.certificate.publicKey.export({ format: 'jwk' }), x5c: [ca1.certDer.toString('base64')] });
    expect(rsa.kty).toBe('RSA');
    expect(rsa.x5c).toHaveLength(1);
    expect(rsa.kid).toBeUndefined();
    expect(jwt).toEqual({ use: 'jwt-svid', kid: 'kid-1', ...key.export({ format: 'jwk' }) });
    expect(b.serialize()).toContain('"spiffe_sequence":42,');
  });

  it('serializes sequences above 2^53 exactly', () => {
    const b = SpiffeBundle.fromX509Authorities(TD, [ca1.certificate], { sequence: 2n ** 64n - 1n, refreshHint: 1 });
    expect(b.serialize()).toContain('"spiffe_sequence":18446744073709551615');
    expect(SpiffeBundle.parse(b.serialize(), TD).sequence).toBe(2n ** 64n - 1n);
  });

  it('equals compares authorities only; sequence and hint are compared separately', () => {
    const a = SpiffeBundle.fromX509Authorities(TD, [ca1.certificate, ca2.certificate], { sequence: 1n, refreshHint: 60 });
    const b = SpiffeBundle.fromX509Authorities(TD, [ca2.certificate, ca1.certificate], { sequence: 2n, refreshHint: 30 });
    expect(a.equals(b)).toBe(true);
    expect(a.sequence === b.sequence).toBe(false);
    expect(a.equals(a.withMetadata({ sequence: 9n, refreshHint: 9 }))).toBe(true);
    expect(a.equals(SpiffeBundle.fromX509Authorities(OTHER, [ca1.certificate, ca2.certificate], { sequence: 1n, refreshHint: 60 }))).toBe(false);
    const withJwt = SpiffeBundle.fromX509Authorities(TD, [ca1.certificate, ca2.certificate], {
      sequence: 1n,
      refreshHint: 60,
      jwtAuthorities: [{ keyId: 'k', publicKey: jwtKey() }],
    });
    expect(a.equals(withJwt)).toBe(false);
    expect(a.x509Bundle().equals(X509Bundle.fromAuthorities(TD, [ca1.certificate, ca2.certificate]))).toBe(true);
  });

  it('metadata can come later; serialize refuses a bundle without sequence and refresh hint', () => {
    const bare = SpiffeBundle.fromX509Authorities(TD, [ca1.certificate]);
    expect(bare.sequence).toBeUndefined();
    expect(() => bare.serialize()).toThrow(TypeError);
    expect(() => bare.withMetadata({ sequence: 1n }).serialize()).toThrow(TypeError);
    const full = bare.withMetadata({ sequence: 1n }).withMetadata({ refreshHint: 60 });
    expect([full.sequence, full.refreshHint]).toEqual([1n, 60]);
    expect(SpiffeBundle.parse(full.serialize(), TD).equals(bare)).toBe(true);
    expect(() => SpiffeBundle.parse(readFileVector(), TD).serialize()).toThrow(TypeError);
  });

  it('misuse throws TypeError', () => {
    const certs = [ca1.certificate];
    expect(() => SpiffeBundle.fromX509Authorities(TD, certs, { sequence: -1n, refreshHint: 1 })).toThrow(TypeError);
    expect(() => SpiffeBundle.fromX509Authorities(TD, certs, { sequence: 2n ** 64n, refreshHint: 1 })).toThrow(TypeError);
    expect(() => SpiffeBundle.fromX509Authorities(TD, certs, { sequence: 1 as unknown as bigint, refreshHint: 1 })).toThrow(TypeError);
    expect(() => SpiffeBundle.fromX509Authorities(TD, certs, { sequence: 1n, refreshHint: 1.5 })).toThrow(TypeError);
    const dup = [{ keyId: 'k', publicKey: jwtKey() }, { keyId: 'k', publicKey: jwtKey() }];
    expect(() => SpiffeBundle.fromX509Authorities(TD, certs, { sequence: 1n, refreshHint: 1, jwtAuthorities: dup })).toThrow(TypeError);
  });

  it('round trip: fromX509Authorities -> serialize -> parse is equal, with the same metadata (500 runs)', () => {
    const certs = [ca1, ca2, rsaCa].map((c) => c.certificate);
    const keys = Array.from({ length: 4 }, (_, i) => ({ keyId: `kid-${i}`, publicKey: jwtKey(i % 2 ? 'P-384' : 'P-256') }));
    fc.assert(
      fc.property(
        fc.subarray(certs),
        fc.subarray(keys),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.nat(),
        (x509s, jwts, sequence, refreshHint) => {
          const b = SpiffeBundle.fromX509Authorities(TD, x509s, { sequence, refreshHint, jwtAuthorities: jwts });
          const again = SpiffeBundle.parse(b.serialize(), TD);
          return again.equals(b) && again.sequence === sequence && again.refreshHint === refreshHint && again.skipped.length === 0;
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('BundleSet', () => {
  it('keys bundles by trust domain; set replaces (never merges); views are immutable', () => {
    const set = new BundleSet([X509Bundle.fromAuthorities(TD, [ca1.certificate])]);
    set.set(X509Bundle.fromAuthorities(TD, [ca2.certificate]));
    expect(set.getX509Authorities(TD)?.map((c) => c.fingerprint256)).toEqual([ca2.certificate.fingerprint256]);
    expect(set.getX509Authorities(OTHER)).toBeUndefined();
    const view = set.getX509Authorities(TD) as X509Certificate[];
    expect(() => view.push(ca1.certificate)).toThrow(TypeError);
    expect(set.has(TD) && !set.has(OTHER)).toBe(true);
    set.set(SpiffeBundle.parse(rsaCa.spiffeBundleJson(), OTHER));
    expect(set.trustDomains().map(String)).toEqual(['acme.test', 'partner.test']);
    expect(set.size).toBe(2);
    expect(set.allX509Authorities()).toHaveLength(2);
    const copy = set.clone();
    expect(set.delete(OTHER)).toBe(true);
    expect(set.get(OTHER)).toBeUndefined();
    expect(copy.get(OTHER)?.trustDomain.name).toBe('partner.test');
  });

  it('an empty bundle ({"keys": []}) is kept as is: the trust domain has no authorities', () => {
    const set = new BundleSet([X509Bundle.fromAuthorities(TD, [ca1.certificate])]);
    set.set(SpiffeBundle.parse('{"keys":[]}', TD));
    expect(set.getX509Authorities(TD)).toEqual([]);
  });

  it('looks up JWT authorities by trust domain and kid', () => {
    const publicKey = jwtKey();
    const set = new BundleSet([
      SpiffeBundle.fromX509Authorities(TD, [], { sequence: 1n, refreshHint: 1, jwtAuthorities: [{ keyId: 'k', publicKey }] }),
    ]);
    expect(set.getJwtAuthority(TD, 'k')?.publicKey.equals(publicKey)).toBe(true);
    expect(set.getJwtAuthority(OTHER, 'k')).toBeUndefined();
  });
});
