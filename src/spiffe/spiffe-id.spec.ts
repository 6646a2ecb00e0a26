import fc from 'fast-check';
import {
  requireSpiffeId,
  requireTrustDomain,
  SpiffeError,
  SpiffeId,
  TrustDomain,
  validatePath,
  validatePathSegment,
} from './index';

const TD_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789.-_';
const PATH_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_';

const tdName = fc.string({ unit: fc.constantFrom(...TD_CHARS), minLength: 1, maxLength: 40 });
const segment = fc
  .string({ unit: fc.constantFrom(...PATH_CHARS), minLength: 1, maxLength: 20 })
  .filter((s) => s !== '.' && s !== '..');
/** Strings near the grammar: mostly valid pieces with some noise, to reach deep branches. */
const nearId = fc
  .tuple(
    fc.constantFrom('spiffe://', 'spiffe:/', 'SPIFFE://', '', 'spiffe://spiffe://', 'http://'),
    fc.string({ unit: fc.constantFrom(...TD_CHARS, 'A', ':', '@', '%', '[', '/'), maxLength: 12 }),
    fc.string({ unit: fc.constantFrom(...PATH_CHARS, '/', '/', '.', '%', '?', '#', ' ', 'é'), maxLength: 30 }),
  )
  .map(([a, b, c]) => a + b + c);
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  nearId,
);

function outcome(fn: () => unknown): 'ok' | string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof SpiffeError) return err.code;
    throw err; // anything else fails the property
  }
}

describe('SpiffeId', () => {
  it('parses and exposes trust domain and path', () => {
    const id = SpiffeId.parse('spiffe://acme.test/ns/ml/sa/trainer');
    expect(id.trustDomain.name).toBe('acme.test');
    expect(id.path).toBe('/ns/ml/sa/trainer');
    expect(id.toString()).toBe('spiffe://acme.test/ns/ml/sa/trainer');
    expect(JSON.stringify({ id })).toBe('{"id":"spiffe://acme.test/ns/ml/sa/trainer"}');
    expect(Object.isFrozen(id)).toBe(true);
  });

  it('equality is exact; path is case-sensitive; no trimming', () => {
    const a = SpiffeId.parse('spiffe://acme.test/Svc');
    expect(a.equals(SpiffeId.parse('spiffe://acme.test/Svc'))).toBe(true);
    expect(a.equals(SpiffeId.parse('spiffe://acme.test/svc'))).toBe(false);
    expect(a.equals(undefined)).toBe(false);
    expect(() => SpiffeId.parse(' spiffe://acme.test/Svc')).toThrow(SpiffeError);
    expect(a.compare(SpiffeId.parse('spiffe://acme.test/T'))).toBe(-1);
  });

  it('fromSegments and fromPath validate', () => {
    const td = TrustDomain.parse('acme.test');
    expect(SpiffeId.fromSegments(td, 'ns', 'ml').toString()).toBe('spiffe://acme.test/ns/ml');
    expect(SpiffeId.fromSegments(td).toString()).toBe('spiffe://acme.test');
    expect(SpiffeId.fromPath(td, '/a/b').path).toBe('/a/b');
    expect(SpiffeId.fromPath(td, '').path).toBe('');
    for (const bad of ['a/b', '', '.', '..', 'a b', 'é']) {
      expect(outcome(() => SpiffeId.fromSegments(td, bad))).toBe('invalid_path');
    }
    for (const bad of ['a', '/', '/a/', '//a', '/./a', '/a/..', '/a?b']) {
      expect(outcome(() => SpiffeId.fromPath(td, bad))).toBe('invalid_path');
    }
    expect(outcome(() => SpiffeId.fromPath(td, '/' + 'a'.repeat(2048)))).toBe('invalid_spiffe_id');
  });

  it('memberOf compares the trust domain exactly', () => {
    const id = SpiffeId.parse('spiffe://example.org.evil.com/x');
    expect(id.memberOf(TrustDomain.parse('example.org'))).toBe(false);
    expect(id.memberOf(TrustDomain.parse('example.org.evil.com'))).toBe(true);
  });

  it('tryParse returns undefined instead of throwing', () => {
    expect(SpiffeId.tryParse('nope')).toBeUndefined();
    expect(SpiffeId.tryParse('spiffe://a/b')?.path).toBe('/b');
  });

  it('DECIDED length limits: 2048-byte ID accepted, 2049 rejected; 255-byte trust domain accepted, 256 rejected', () => {
    const prefix = 'spiffe://acme.test/';
    expect(SpiffeId.parse(prefix + 'a'.repeat(2048 - prefix.length)).toString()).toHaveLength(2048);
    expect(outcome(() => SpiffeId.parse(prefix + 'a'.repeat(2049 - prefix.length)))).toBe('invalid_spiffe_id');
    expect(TrustDomain.parse('a'.repeat(255)).name).toHaveLength(255);
    expect(outcome(() => TrustDomain.parse('a'.repeat(256)))).toBe('invalid_trust_domain');
    expect(outcome(() => SpiffeId.parse(`spiffe://${'a'.repeat(256)}/x`))).toBe('invalid_spiffe_id');
  });

  it('require* helpers throw on invalid input', () => {
    expect(requireSpiffeId('spiffe://a/b').path).toBe('/b');
    expect(requireTrustDomain('a').name).toBe('a');
    expect(() => requireSpiffeId('x')).toThrow(SpiffeError);
    expect(() => requireTrustDomain('A')).toThrow(SpiffeError);
  });

  it('non-string input is rejected with a SpiffeError', () => {
    expect(outcome(() => SpiffeId.parse(42 as unknown as string))).toBe('invalid_spiffe_id');
    expect(outcome(() => TrustDomain.parse(null as unknown as string))).toBe('invalid_trust_domain');
    expect(outcome(() => validatePath({} as unknown as string))).toBe('invalid_path');
  });
});

describe('TrustDomain', () => {
  it('accepts a bare name or a full ID', () => {
    expect(TrustDomain.parse('acme.test').name).toBe('acme.test');
    expect(TrustDomain.parse('spiffe://acme.test/x/y').name).toBe('acme.test');
    expect(TrustDomain.parse('acme.test').equals(TrustDomain.parse('spiffe://acme.test'))).toBe(true);
  });

  it('id() and idString()', () => {
    const td = TrustDomain.parse('acme.test');
    expect(td.id().toString()).toBe('spiffe://acme.test');
    expect(td.id().path).toBe('');
    expect(td.idString()).toBe('spiffe://acme.test');
    expect(td.toString()).toBe('acme.test');
  });
});

describe('properties', () => {
  // Predicates return booleans rather than calling expect(): expect() costs ~100 µs per call
  // under jest, which would dominate 100,000 runs.
  it('round trip: fromSegments -> toString -> parse gives an equal ID (10,000 runs)', () => {
    fc.assert(
      fc.property(tdName, fc.array(segment, { maxLength: 8 }), (name, segments) => {
        const td = TrustDomain.parse(name);
        const id = SpiffeId.fromSegments(td, ...segments);
        const again = SpiffeId.parse(id.toString());
        return (
          again.equals(id) &&
          again.trustDomain.equals(td) &&
          again.path === segments.map((x) => '/' + x).join('') &&
          TrustDomain.parse(id.toString()).name === name &&
          td.id().toString() === `spiffe://${name}`
        );
      }),
      { numRuns: 10_000 },
    );
  });

  it('SpiffeId.parse and TrustDomain.parse on random strings: a value or a SpiffeError (100,000 runs each)', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const id = outcome(() => SpiffeId.parse(s));
        const td = outcome(() => TrustDomain.parse(s));
        const idOk = id === 'ok' ? SpiffeId.parse(s).toString() === s : id === 'invalid_spiffe_id';
        // A valid ID always yields its trust domain.
        const tdOk = td === 'ok' || (td === 'invalid_trust_domain' && id !== 'ok');
        return idOk && tdOk;
      }),
      { numRuns: 100_000 },
    );
  });

  it('validatePath and validatePathSegment on random strings: ok or invalid_path (100,000 runs each)', () => {
    const pathish = fc.oneof(
      anyString,
      fc
        .array(fc.oneof(segment, fc.constantFrom('', '.', '..', 'a b')), { maxLength: 5 })
        .map((parts) => parts.map((x) => '/' + x).join('')),
    );
    const td = TrustDomain.parse('a');
    fc.assert(
      fc.property(pathish, (s) => {
        const path = outcome(() => validatePath(s));
        const pathOk =
          path === 'ok'
            ? SpiffeId.fromPath(td, s).path === s
            : path === 'invalid_path' && outcome(() => SpiffeId.fromPath(td, s)) === 'invalid_path';
        const segment = outcome(() => validatePathSegment(s));
        const segmentOk = segment === 'ok' ? !s.includes('/') && s !== '.' && s !== '..' : segment === 'invalid_path';
        return pathOk && segmentOk;
      }),
      { numRuns: 100_000 },
    );
  });
});
