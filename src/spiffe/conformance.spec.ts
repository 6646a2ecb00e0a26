/**
 * Every vector of test/fixtures/spiffe/vectors (MANIFEST.tsv): the outcome the manifest states, or
 * the CONFORMANCE.md DECIDED outcome where Parley deliberately differs from go-spiffe/SPIRE
 * (such tests say "DECIDED" in their name). Error codes are asserted, not just failure.
 * The X.509 vectors are in conformance-x509.spec.ts; the coverage check below spans both.
 */
import * as fs from 'node:fs';
import {
  JwtBundle,
  parseWorkloadEndpoint,
  SpiffeBundle,
  SpiffeId,
  TrustDomain,
  validatePath,
  validatePathSegment,
} from './index';
import { MAX_ID_BYTES, MAX_TRUST_DOMAIN_BYTES } from './index';
import { codeOf } from '../../test/support/spiffe-errors';

import { readTsv, readVector, readVectorText, VECTORS } from '../../test/support/spiffe-vectors';
import { errorOf } from '../../test/support/spiffe-errors';
const read = readVector;
const readText = readVectorText;
const tsv = readTsv;




const EXAMPLE = TrustDomain.parse('example.org');

const v = (name: string): string => `goSpiffe__x509svid__${name}.pem`;

describe('MANIFEST coverage', () => {
  // Every vector file exercised here or in conformance-x509.spec.ts; the test below fails if
  // the manifest or the directory gains a vector that is not listed here.
  const covered = new Set([
    'MANIFEST.tsv',
    'spiffeid-cases.tsv',
    'workload-endpoint-address-cases.tsv',
    'derived__spiffebundle_valid_1__x509-root.pem',
    ...[
      'good-leaf-only', 'good-leaf-and-intermediate', 'good-cert-and-key', 'good-key-and-cert', 'key-pkcs8-rsa',
      'key-pkcs8-ecdsa', 'corrupt-cert', 'corrupt-key', 'wrong-leaf-empty-id', 'wrong-leaf-ca-true',
      'wrong-leaf-cert-sign', 'wrong-leaf-crl-sign', 'wrong-leaf-no-digital-signature', 'wrong-intermediate-no-ca',
      'wrong-intermediate-no-key-cert-sign',
    ].map(v),
    'spire__fixture_certs__svid.pem',
    'spire__fixture_certs__ca.pem',
    'spire__fixture_certs__bundle.der',
    ...['cert', 'certs', 'empty', 'not-pem', 'corrupted'].map((n) => `goSpiffe__x509bundle__${n}.pem`),
    ...['valid_1', 'valid_2', 'valid_with_wit', 'missing_kid', 'no_keys', 'multiple_x509'].map(
      (n) => `goSpiffe__spiffebundle__spiffebundle_${n}.json`,
    ),
    ...['valid_1', 'valid_2', 'missing_kid'].map((n) => `goSpiffe__jwtbundle__jwks_${n}.json`),
    ...['empty-object', 'entry-missing-use', 'unrecognized-use', 'x509-svid-without-x5c', 'jwt-svid-no-keyid', 'wit-svid-no-keyid'].map(
      (n) => `spire__bundleutil__unmarshal_${n}.json`,
    ),
  ]);

  it('every file in the vectors directory is exercised', () => {
    expect(fs.readdirSync(VECTORS).filter((f) => !covered.has(f))).toEqual([]);
  });

  it('every MANIFEST row names a covered vector (51 rows)', () => {
    const rows = tsv('MANIFEST.tsv');
    expect(rows).toHaveLength(51);
    expect(rows.map((r) => r.file.split(' ')[0]).filter((f) => !covered.has(f))).toEqual([]);
  });
});

describe('spiffeid-cases.tsv (882 rows, none skipped)', () => {
  const rows = tsv('spiffeid-cases.tsv');
  it('has 882 rows', () => expect(rows).toHaveLength(882));

  const cases = rows.map((row, i) => {
    const input = JSON.parse(row.input_json) as string;
    const td = row.trust_domain_json === '' ? undefined : (JSON.parse(row.trust_domain_json) as string);
    // DECIDED (CONFORMANCE §1): go-spiffe has no length limits; Parley rejects a trust domain
    // over 255 bytes and an ID over 2048 bytes.
    const decided =
      row.expected === 'valid' &&
      (Buffer.byteLength(input) > MAX_ID_BYTES || (td !== undefined && Buffer.byteLength(td) > MAX_TRUST_DOMAIN_BYTES));
    const expected = decided ? 'invalid' : row.expected;
    const label = `${i + 2}: ${row.api} ${JSON.stringify(input).slice(0, 50)} -> ${expected}${decided ? ' (DECIDED length limit; go-spiffe accepts)' : ''}`;
    return { label, row, input, td, expected, goReason: row.reason.split(';')[0] };
  });

  it.each(cases)('$label', ({ row, input, td, expected, goReason }) => {
    const api = row.api;
    if (api === 'FromString' || api === 'FromURI(String())') {
      // FromURI(String()) rows: the URI's string form goes through the same parser.
      if (expected === 'valid') {
        const id = SpiffeId.parse(input);
        expect(id.trustDomain.name).toBe(td);
        expect(id.path).toBe(JSON.parse(row.path_json));
        expect(id.toString()).toBe(input);
      } else {
        const err = errorOf(() => SpiffeId.parse(input));
        expect(err.code).toBe('invalid_spiffe_id');
        if (row.expected === 'invalid') expect(err.message).toContain(goReason);
      }
    } else if (api === 'TrustDomainFromString') {
      if (expected === 'valid') {
        expect(TrustDomain.parse(input).name).toBe(td);
      } else {
        const err = errorOf(() => TrustDomain.parse(input));
        expect(err.code).toBe('invalid_trust_domain');
        if (row.expected === 'invalid') expect(err.message).toContain(goReason);
      }
    } else if (api === 'ValidatePath' || api === 'ValidatePathSegment') {
      const fn = api === 'ValidatePath' ? validatePath : validatePathSegment;
      if (expected === 'valid') expect(() => fn(input)).not.toThrow();
      else {
        const err = errorOf(() => fn(input));
        expect(err.code).toBe('invalid_path');
        expect(err.message).toContain(goReason);
      }
    } else {
      throw new Error(`unknown api column ${api}`);
    }
  });
});

describe('SPIFFE bundle JSON vectors', () => {
  const DOMAIN = TrustDomain.parse('domain.test');
  const parse = (name: string) => SpiffeBundle.parse(read(name), DOMAIN);
  const kids = (b: SpiffeBundle) => [...b.jwtAuthorities.keys()].sort();

  it('valid_1: 1 x509 + 1 jwt authority, no hint, no sequence', () => {
    const b = parse('goSpiffe__spiffebundle__spiffebundle_valid_1.json');
    expect(b.x509Authorities).toHaveLength(1);
    expect(kids(b)).toEqual(['C6vs25welZOx6WksNYfbMfiw9l96pMnD']);
    expect(b.sequence).toBeUndefined();
    expect(b.refreshHint).toBeUndefined();
    expect(b.skipped).toEqual([]);
  });

  it('valid_2: 1 x509 + 6 jwt, hint 60, sequence 1; serialize then parse round-trips', () => {
    const b = parse('goSpiffe__spiffebundle__spiffebundle_valid_2.json');
    expect(b.x509Authorities).toHaveLength(1);
    expect(b.jwtAuthorities.size).toBe(6);
    expect(b.refreshHint).toBe(60);
    expect(b.sequence).toBe(1n);
    const again = SpiffeBundle.parse(b.serialize(), DOMAIN);
    expect(again.equals(b)).toBe(true);
    expect([again.sequence, again.refreshHint]).toEqual([1n, 60]);
  });

  it('valid_with_wit: the 2 wit-svid entries are skipped (unknown use), 1 x509 + 2 jwt', () => {
    const b = parse('goSpiffe__spiffebundle__spiffebundle_valid_with_wit.json');
    expect(b.x509Authorities).toHaveLength(1);
    expect(b.jwtAuthorities.size).toBe(2);
    expect(b.skipped).toEqual([
      { index: 3, reason: 'unknown use "wit-svid"' },
      { index: 4, reason: 'unknown use "wit-svid"' },
    ]);
    expect([b.sequence, b.refreshHint]).toEqual([1n, 60]);
  });

  it('missing_kid: DECIDED the jwt entry without kid is skipped and reported (go-spiffe rejects the document)', () => {
    const b = parse('goSpiffe__spiffebundle__spiffebundle_missing_kid.json');
    expect(b.x509Authorities).toHaveLength(1);
    expect(b.jwtAuthorities.size).toBe(0);
    expect(b.skipped).toEqual([{ index: 1, reason: 'jwt-svid entry without kid' }]);
  });

  it('no_keys: malformed_bundle ("keys" is required)', () => {
    expect(codeOf(() => parse('goSpiffe__spiffebundle__spiffebundle_no_keys.json'))).toBe('malformed_bundle');
  });

  it('multiple_x509: DECIDED the first x5c certificate is used (go-spiffe and SPIRE reject)', () => {
    const b = parse('goSpiffe__spiffebundle__spiffebundle_multiple_x509.json');
    const doc = JSON.parse(readText('goSpiffe__spiffebundle__spiffebundle_multiple_x509.json'));
    expect(b.x509Authorities.map((c) => c.raw.toString('base64'))).toEqual([doc.keys[0].x5c[0]]);
    expect(kids(b)).toEqual(['C6vs25welZOx6WksNYfbMfiw9l96pMnD']);
    expect(b.skipped).toEqual([]);
  });

  it('spire empty-object {}: malformed_bundle (spec and go-spiffe; SPIRE accepts)', () => {
    expect(codeOf(() => parse('spire__bundleutil__unmarshal_empty-object.json'))).toBe('malformed_bundle');
  });

  it.each([
    ['entry-missing-use', 'missing use', 'spec and go-spiffe; SPIRE rejects'],
    ['unrecognized-use', 'unknown use "bad stuff"', 'spec and go-spiffe; SPIRE rejects'],
    ['x509-svid-without-x5c', 'x509-svid entry without x5c', 'DECIDED per spec; go-spiffe and SPIRE reject'],
    ['jwt-svid-no-keyid', 'jwt-svid entry without kid', 'DECIDED; go-spiffe and SPIRE reject'],
    ['wit-svid-no-keyid', 'unknown use "wit-svid"', 'no WIT support: unknown use'],
  ])('spire %s: valid empty bundle, entry skipped (%s; %s)', (name, reason) => {
    const b = parse(`spire__bundleutil__unmarshal_${name}.json`);
    expect(b.x509Authorities).toHaveLength(0);
    expect(b.jwtAuthorities.size).toBe(0);
    expect(b.skipped).toEqual([{ index: 0, reason }]);
  });
});

describe('JWT bundle (Workload API JWKS) vectors', () => {
  it('jwks_valid_1: 1 authority; jwks_valid_2: 2 authorities ("use" ignored)', () => {
    const one = JwtBundle.parse(read('goSpiffe__jwtbundle__jwks_valid_1.json'), EXAMPLE);
    expect([...one.authorities.keys()]).toEqual(['C6vs25welZOx6WksNYfbMfiw9l96pMnD']);
    expect(one.authorities.get('C6vs25welZOx6WksNYfbMfiw9l96pMnD')?.publicKey.asymmetricKeyType).toBe('ec');
    expect(JwtBundle.parse(read('goSpiffe__jwtbundle__jwks_valid_2.json'), EXAMPLE).authorities.size).toBe(2);
  });

  it('jwks_missing_kid: malformed_bundle (strict like go-spiffe jwtbundle.Parse)', () => {
    const err = errorOf(() => JwtBundle.parse(read('goSpiffe__jwtbundle__jwks_missing_kid.json'), EXAMPLE));
    expect(err.code).toBe('malformed_bundle');
    expect(err.message).toContain('authority 1 has no kid');
  });
});

describe('workload-endpoint-address-cases.tsv', () => {
  const rows = tsv('workload-endpoint-address-cases.tsv').map((row) => {
    const input = JSON.parse(row.input_json) as string;
    // DECIDED (CONFORMANCE §5 gives `unix:///abs/path`): `unix://foo` is rejected although go-spiffe accepts it.
    const decided = input === 'unix://foo';
    const label = `${JSON.stringify(input)} -> ${decided ? 'invalid (DECIDED strict unix:///path form; go-spiffe accepts)' : row.expected}`;
    return { label, input, expected: decided ? 'invalid' : row.expected };
  });

  it('has 19 rows', () => expect(rows).toHaveLength(19));

  it.each(rows)('$label', ({ input, expected }) => {
    if (expected === 'valid') expect(() => parseWorkloadEndpoint(input)).not.toThrow();
    else expect(codeOf(() => parseWorkloadEndpoint(input))).toBe('invalid_workload_endpoint');
  });

  it('gives the gRPC target', () => {
    expect(parseWorkloadEndpoint('tcp://1.2.3.4:5')).toEqual({ kind: 'tcp', host: '1.2.3.4', port: 5, target: '1.2.3.4:5' });
    expect(parseWorkloadEndpoint('unix:///tmp/agent.sock')).toEqual({
      kind: 'unix',
      path: '/tmp/agent.sock',
      target: 'unix:///tmp/agent.sock',
    });
    expect(parseWorkloadEndpoint('tcp://[::1]:8081').target).toBe('[::1]:8081');
  });
});
