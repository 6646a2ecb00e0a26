/**
 * Robustness properties of the bundle and workload-endpoint parsers: given random input,
 * every parser returns a value or throws a SpiffeError, never TypeError/RangeError/library
 * errors. Run counts are in the test names (certificate parsers: fuzz-certificates.spec.ts).
 *
 * Predicates return booleans (jest's expect() is too slow for 100,000 calls).
 */
import fc from 'fast-check';
import { TestCa } from '../../test/support/test-ca';
import { JwtBundle, parseWorkloadEndpoint, SpiffeBundle, TrustDomain } from './index';
import { onlySpiffeErrors } from '../../test/support/spiffe-errors';
import { topLevelMemberRaw } from './json-scan';
import { mutated } from '../../test/support/spiffe-errors';

const TD = TrustDomain.parse('acme.test');
const NOW = new Date('2030-01-01T00:00:00Z');


let leafDer: Buffer;
let bundleJson: string;

beforeAll(async () => {
  const root = await TestCa.create({ trustDomain: 'acme.test', now: NOW });
  leafDer = (await root.issueSvid({ id: 'spiffe://acme.test/w' })).certDer;
  bundleJson = root.spiffeBundleJson({ sequence: 3, refreshHint: 60 });
});

/** A copy of `base` with 1–4 bytes overwritten, and sometimes truncated. */

const randomBytes = fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u));
describe('bundle parsers on random JSON and strings', () => {
  const entry = fc.record(
    {
      use: fc.constantFrom('x509-svid', 'jwt-svid', 'wit-svid', 5, null),
      kty: fc.constantFrom('EC', 'RSA', 'OKP', 'oct', 1),
      crv: fc.constantFrom('P-256', 'P-384', 'Ed25519', 'nope'),
      kid: fc.oneof(fc.string(), fc.integer()),
      x: fc.oneof(fc.base64String(), fc.constant('AAAA')),
      y: fc.base64String(),
      x5c: fc.oneof(
        fc.array(fc.base64String(), { maxLength: 2 }),
        fc.constant([] as string[]),
        mutated(() => leafDer).map((b) => [b.toString('base64')]),
        fc.string(),
      ),
    },
    { requiredKeys: [] },
  );
  const nearBundle = fc
    .record(
      {
        keys: fc.oneof(fc.array(fc.oneof(entry, fc.jsonValue()), { maxLength: 4 }), fc.jsonValue()),
        spiffe_sequence: fc.oneof(fc.bigInt({ min: -1n, max: 2n ** 65n }).map(String), fc.constantFrom('1.0', '-0', '1e2', '"1"', 'null')),
        spiffe_refresh_hint: fc.oneof(fc.integer().map(String), fc.constantFrom('0.5', '1e400', 'true')),
      },
      { requiredKeys: [] },
    )
    .map(({ keys, spiffe_sequence, spiffe_refresh_hint }) => {
      const parts: string[] = [];
      if (keys !== undefined) parts.push(`"keys":${JSON.stringify(keys)}`);
      if (spiffe_sequence !== undefined) parts.push(`"spiffe_sequence":${spiffe_sequence}`);
      if (spiffe_refresh_hint !== undefined) parts.push(`"spiffe_refresh_hint":${spiffe_refresh_hint}`);
      return `{${parts.join(',')}}`;
    });
  const spiffe = (s: string | Uint8Array) => onlySpiffeErrors(() => SpiffeBundle.parse(s, TD));
  const both = (s: string | Uint8Array) => spiffe(s) && onlySpiffeErrors(() => JwtBundle.parse(s, TD));
  const randomText = fc.oneof(fc.string({ unit: 'binary', maxLength: 100 }), randomBytes, fc.constantFrom('{"keys":', '{"keys":[{}]}'));
  const randomJson = fc.json({ maxDepth: 4 });

  it('SpiffeBundle.parse on random JSON documents, near-valid bundles, strings and bytes (100,000 runs)', () => {
    const input = fc.oneof(
      { arbitrary: randomJson, weight: 4 },
      { arbitrary: randomText, weight: 4 },
      { arbitrary: nearBundle, weight: 2 },
    );
    fc.assert(fc.property(input, spiffe), { numRuns: 100_000 });
  });

  it('JwtBundle.parse (and SpiffeBundle.parse) on random JSON, near-valid bundles, strings and bytes (10,000 runs)', () => {
    fc.assert(fc.property(fc.oneof(randomJson, randomText, nearBundle), both), { numRuns: 10_000 });
  });

  it('SpiffeBundle.parse on mutated real bundle text (10,000 runs)', () => {
    fc.assert(
      fc.property(mutated(() => Buffer.from(bundleJson)), (b) => both(b) && both(b.toString('latin1'))),
      { numRuns: 10_000 },
    );
  });

  it('spiffe_sequence is read exactly from the source text for any u64 (10,000 runs)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.json(), (seq, other) => {
        const text = `{"a":${other},"spiffe_sequence":${seq},"keys":[]}`;
        return topLevelMemberRaw(text, 'spiffe_sequence') === String(seq) && SpiffeBundle.parse(text, TD).sequence === seq;
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('other parsers', () => {
  it('parseWorkloadEndpoint on random strings (100,000 runs)', () => {
    const near = fc
      .tuple(fc.constantFrom('unix://', 'unix:', 'tcp://', 'tcp:', ''), fc.string({ unit: 'binary-ascii', maxLength: 30 }))
      .map(([a, b]) => a + b);
    fc.assert(
      fc.property(fc.oneof(near, fc.string({ unit: 'binary', maxLength: 40 })), (s) => onlySpiffeErrors(() => parseWorkloadEndpoint(s))),
      { numRuns: 100_000 },
    );
  });
});
