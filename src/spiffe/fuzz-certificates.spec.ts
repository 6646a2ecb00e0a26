/**
 * Robustness properties of the certificate parsers: given random input, every parser
 * returns a value or throws a SpiffeError, never TypeError/RangeError/library errors. Run
 * counts are in the test names: 100,000 for the byte parsers, fewer where a run costs an
 * OpenSSL certificate parse (~0.3 ms here) plus an extension parse.
 *
 * Predicates return booleans (jest's expect() is too slow for 100,000 calls).
 */
import fc from 'fast-check';
import { TestCa } from '../../test/support/test-ca';
import {
  BundleSet,
  parseDerCertificates,
  parsePemCertificates,
  parseX509Svid,
  TrustDomain,
  verifyX509Svid,
  X509Bundle,
} from './index';
import { onlySpiffeErrors } from '../../test/support/spiffe-errors';
import { decodePemBlocks, encodePem } from './pem';
import { mutated } from '../../test/support/spiffe-errors';

const TD = TrustDomain.parse('acme.test');
const NOW = new Date('2030-01-01T00:00:00Z');


let leafDer: Buffer;
let intDer: Buffer;
let keyDer: Buffer;
let bundles: BundleSet;

beforeAll(async () => {
  const root = await TestCa.create({ trustDomain: 'acme.test', now: NOW });
  const int = await root.intermediate({ pathLen: 0, nameConstraints: { permittedUris: ['acme.test'], excludedDns: ['x.test'] } });
  const svid = await int.issueSvid({ id: 'spiffe://acme.test/w', dnsNames: ['w.acme.test'] });
  [leafDer, intDer] = svid.chain;
  keyDer = svid.keyDer;
  bundles = new BundleSet([X509Bundle.parse(TD, root.bundlePem())]);
});

/** A copy of `base` with 1–4 bytes overwritten, and sometimes truncated. */

const randomBytes = fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u));
/**
 * Random bytes, random bytes behind a SEQUENCE header, and (1 in 16) mutated certificates;
 * the verifier and SVID properties below use mutated certificates far more often.
 */
const derish = fc.oneof(
  { arbitrary: randomBytes, weight: 10 },
  { arbitrary: randomBytes.map((b) => Buffer.concat([Buffer.from([0x30, 0x82, b.length >> 8, b.length & 0xff]), b])), weight: 4 },
  { arbitrary: mutated(() => leafDer), weight: 1 },
  { arbitrary: mutated(() => intDer), weight: 1 },
);
const lightDerish = fc.oneof({ arbitrary: derish, weight: 1 }, { arbitrary: randomBytes, weight: 1 });
const pemish = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', maxLength: 200 }), weight: 3 },
  { arbitrary: randomBytes, weight: 2 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom('CERTIFICATE', 'PRIVATE KEY', 'X'), fc.oneof(randomBytes, mutated(() => leafDer)), fc.nat(400))
      .map(([type, der, cut]) => {
        const pem = encodePem(type, der);
        return cut > 350 ? pem.slice(0, cut % pem.length) : pem;
      }),
    weight: 1,
  },
);

describe('certificate parsers on random bytes', () => {
  it('parsePemCertificates and X509Bundle.parse: value or SpiffeError (100,000 runs)', () => {
    fc.assert(
      fc.property(pemish, (input) => onlySpiffeErrors(() => parsePemCertificates(input)) && onlySpiffeErrors(() => X509Bundle.parse(TD, input))),
      { numRuns: 100_000 },
    );
  });

  it('parseDerCertificates: value or SpiffeError (100,000 runs)', () => {
    fc.assert(fc.property(lightDerish, (input) => onlySpiffeErrors(() => parseDerCertificates(input))), { numRuns: 100_000 });
  });

  it('parseX509Svid with mutated/random chain and key: value or SpiffeError (5,000 runs)', () => {
    const keyish = fc.oneof(mutated(() => keyDer), randomBytes, fc.constant(keyDer));
    const chainish = fc.oneof(derish, fc.tuple(mutated(() => leafDer), fc.constant(intDer)).map((p) => Buffer.concat(p)));
    fc.assert(
      fc.property(chainish, keyish, (chain, key) => onlySpiffeErrors(() => parseX509Svid(chain, key))),
      { numRuns: 5_000 },
    );
  });

  it('verifyX509Svid with random/mutated chains: SpiffeError, and never accepts a modified leaf (10,000 runs)', () => {
    const chainArb = fc.oneof(
      fc.array(derish, { minLength: 0, maxLength: 3 }),
      fc.tuple(mutated(() => leafDer), fc.constant(intDer)).map((c) => [...c]),
      fc.tuple(fc.constant(leafDer), mutated(() => intDer)).map((c) => [...c]),
    );
    fc.assert(
      fc.property(chainArb, fc.constantFrom<'client' | 'server'>('client', 'server'), (chain, role) => {
        let accepted: ReturnType<typeof verifyX509Svid> | undefined;
        const ok = onlySpiffeErrors(() => (accepted = verifyX509Svid(chain, bundles, { role, now: NOW })));
        return ok && (accepted === undefined || accepted.chain[0].raw.equals(leafDer));
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('PEM', () => {
  it('PEM encode/decode round trip (10,000 runs)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.constantFrom('CERTIFICATE', 'PRIVATE KEY'), (der, type) => {
        const [block] = decodePemBlocks(encodePem(type, der));
        return block.type === type && block.der !== undefined && Buffer.from(der).equals(block.der);
      }),
      { numRuns: 10_000 },
    );
  });
});
