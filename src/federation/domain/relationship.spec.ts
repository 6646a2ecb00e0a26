import fc from 'fast-check';
import { SpiffeBundle, TrustDomain } from '../../spiffe';
import { TestCa } from '../../../test/support/test-ca';
import { applyDenyList, validateRelationship, type FieldError } from './relationship';
import { normalizeAuthorityRef, subjectKeyIdentifier } from './authority-ids';

const OWN = 'acme.test';
const PARTNER = 'partner.test';

let partnerCa: TestCa;
let otherCa: TestCa;
let partnerJson: string;

beforeAll(async () => {
  partnerCa = await TestCa.create({ trustDomain: PARTNER });
  otherCa = await TestCa.create({ trustDomain: PARTNER });
  partnerJson = partnerCa.spiffeBundleJson({ sequence: 1, refreshHint: 60 });
});

const spiffe = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  trustDomain: PARTNER,
  profile: 'https_spiffe',
  endpointUrls: ['https://bundle.partner.test:8446/'],
  endpointSpiffeId: 'spiffe://partner.test/spire/server',
  bootstrapBundle: partnerJson,
  ...over,
});
const web = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  trustDomain: PARTNER,
  profile: 'https_web',
  endpointUrls: ['https://bundles.partner.test/partner.json'],
  ...over,
});

function fields(errors: FieldError[]): string[] {
  return errors.map((e) => e.field);
}

describe('validateRelationship', () => {
  it('accepts and normalizes an https_spiffe relationship', () => {
    const { value, errors } = validateRelationship(spiffe({ endpointUrls: ['HTTPS://Bundle.Partner.test:8446'] }), OWN);
    expect(errors).toEqual([]);
    expect(value).toEqual({
      trustDomain: PARTNER,
      profile: 'https_spiffe',
      endpointUrls: ['https://bundle.partner.test:8446/'],
      endpointSpiffeId: 'spiffe://partner.test/spire/server',
      bootstrapBundle: partnerJson,
    });
  });

  it('accepts a PEM bootstrap bundle and a spiffe:// trust domain', () => {
    const { value, errors } = validateRelationship(spiffe({ trustDomain: `spiffe://${PARTNER}`, bootstrapBundle: partnerCa.bundlePem() }), OWN);
    expect(errors).toEqual([]);
    expect(value?.trustDomain).toBe(PARTNER);
  });

  it('accepts an endpoint in another trust domain without a bootstrap bundle (the poller needs that bundle held)', () => {
    const { value, errors } = validateRelationship(spiffe({ endpointSpiffeId: 'spiffe://hub.test/bundle-server', bootstrapBundle: undefined }), OWN);
    expect(errors).toEqual([]);
    expect(value?.bootstrapBundle).toBeUndefined();
  });

  it('accepts https_web with and without CA roots, and static', () => {
    expect(validateRelationship(web(), OWN).errors).toEqual([]);
    expect(validateRelationship(web({ caRootsPem: partnerCa.bundlePem() }), OWN).value?.caRootsPem).toBe(partnerCa.bundlePem());
    expect(validateRelationship({ trustDomain: PARTNER, profile: 'static' }, OWN).value).toEqual({ trustDomain: PARTNER, profile: 'static', endpointUrls: [] });
    const withBundle = validateRelationship({ trustDomain: PARTNER, profile: 'static', endpointUrls: [], bootstrapBundle: '{"keys":[]}' }, OWN);
    expect(withBundle.errors).toEqual([]);
  });

  it('normalizes and deduplicates denied authorities', () => {
    const fp = 'AB'.repeat(32);
    const colon = Array.from({ length: 32 }, () => 'ab').join(':');
    const { value, errors } = validateRelationship(spiffe({ deniedAuthorities: [fp, colon, ' SKI:0A:1B ', 'ski:0a1b'] }), OWN);
    expect(errors).toEqual([]);
    expect(value?.deniedAuthorities).toEqual(['ab'.repeat(32), 'ski:0a1b']);
  });

  it.each<[string, () => unknown, string[]]>([
    ['not an object', () => 'x', ['']],
    ['array', () => [], ['']],
    ['null', () => null, ['']],
    ['unknown field', () => spiffe({ colour: 'blue' }), ['colour']],
    ['missing trust domain', () => spiffe({ trustDomain: undefined }), ['trustDomain']],
    ['invalid trust domain', () => spiffe({ trustDomain: 'Partner.Test' }), ['trustDomain']],
    ['trust domain with a path', () => spiffe({ trustDomain: 'spiffe://partner.test/x' }), ['trustDomain']],
    ['our own trust domain', () => spiffe({ trustDomain: OWN, endpointSpiffeId: 'spiffe://acme.test/x', bootstrapBundle: undefined }), ['trustDomain']],
    ['unknown profile', () => spiffe({ profile: 'https' }), ['profile']],
    ['no urls', () => spiffe({ endpointUrls: [] }), ['endpointUrls']],
    ['urls not a list', () => spiffe({ endpointUrls: 'https://a.test/' }), ['endpointUrls']],
    ['nine urls', () => spiffe({ endpointUrls: Array.from({ length: 9 }, (_, i) => `https://b${i}.test/`) }), ['endpointUrls']],
    ['http url', () => spiffe({ endpointUrls: ['https://a.test/', 'http://b.test/'] }), ['endpointUrls[1]']],
    ['userinfo', () => spiffe({ endpointUrls: ['https://user:pw@a.test/'] }), ['endpointUrls[0]']],
    ['fragment', () => spiffe({ endpointUrls: ['https://a.test/#x'] }), ['endpointUrls[0]']],
    ['empty fragment', () => spiffe({ endpointUrls: ['https://a.test/#'] }), ['endpointUrls[0]']],
    ['not a url', () => spiffe({ endpointUrls: ['bundle.partner.test'] }), ['endpointUrls[0]']],
    ['duplicate url', () => spiffe({ endpointUrls: ['https://a.test/', 'https://A.test'] }), ['endpointUrls[1]']],
    ['non-string url', () => spiffe({ endpointUrls: [42] }), ['endpointUrls[0]']],
    ['missing endpoint id', () => spiffe({ endpointSpiffeId: undefined }), ['endpointSpiffeId']],
    ['invalid endpoint id', () => spiffe({ endpointSpiffeId: 'spiffe://Partner.test/x' }), ['endpointSpiffeId']],
    ['endpoint id without path', () => spiffe({ endpointSpiffeId: 'spiffe://partner.test' }), ['endpointSpiffeId']],
    ['missing bootstrap for the partner domain', () => spiffe({ bootstrapBundle: undefined }), ['bootstrapBundle']],
    ['bootstrap not a bundle', () => spiffe({ bootstrapBundle: 'hello' }), ['bootstrapBundle']],
    ['bootstrap invalid json', () => spiffe({ bootstrapBundle: '{"keys":' }), ['bootstrapBundle']],
    ['bootstrap without authorities', () => spiffe({ bootstrapBundle: '{"keys":[]}' }), ['bootstrapBundle']],
    ['ca roots on https_spiffe', () => spiffe({ caRootsPem: 'x' }), ['caRootsPem']],
    ['endpoint id on https_web', () => web({ endpointSpiffeId: 'spiffe://partner.test/x' }), ['endpointSpiffeId']],
    ['bootstrap on https_web', () => web({ bootstrapBundle: '{"keys":[]}' }), ['bootstrapBundle']],
    ['bad ca roots', () => web({ caRootsPem: 'not pem' }), ['caRootsPem']],
    ['urls on static', () => ({ trustDomain: PARTNER, profile: 'static', endpointUrls: ['https://a.test/'] }), ['endpointUrls']],
    ['ca roots on static', () => ({ trustDomain: PARTNER, profile: 'static', caRootsPem: 'x' }), ['caRootsPem']],
    ['denied not a list', () => spiffe({ deniedAuthorities: 'ab' }), ['deniedAuthorities']],
    ['denied short hex', () => spiffe({ deniedAuthorities: ['ab'.repeat(32), 'abcd'] }), ['deniedAuthorities[1]']],
    ['denied not hex', () => spiffe({ deniedAuthorities: ['zz'.repeat(32)] }), ['deniedAuthorities[0]']],
    ['denied empty ski', () => spiffe({ deniedAuthorities: ['ski:'] }), ['deniedAuthorities[0]']],
    ['denied odd ski', () => spiffe({ deniedAuthorities: ['ski:abc'] }), ['deniedAuthorities[0]']],
  ])('rejects %s', (_name, input, expected) => {
    const { value, errors } = validateRelationship(input(), OWN);
    expect(value).toBeUndefined();
    expect(fields(errors)).toEqual(expected);
    for (const e of errors) expect(e.message.length).toBeGreaterThan(0);
  });

  it('reports every bad field at once', () => {
    const { errors } = validateRelationship({ trustDomain: 'BAD', profile: 'https_web', endpointUrls: ['http://a/'], endpointSpiffeId: 'x' }, OWN);
    expect(fields(errors).sort()).toEqual(['endpointSpiffeId', 'endpointUrls[0]', 'trustDomain']);
  });

  it('never throws on random input, including hostile objects', () => {
    const hostile = new Proxy({}, { ownKeys: () => { throw new Error('boom'); } });
    expect(validateRelationship(hostile, OWN).errors).toHaveLength(1);
    const field = fc.oneof(fc.anything(), fc.string(), fc.array(fc.oneof(fc.string(), fc.webUrl(), fc.anything()), { maxLength: 10 }));
    const input = fc.oneof(
      fc.anything(),
      fc.record(
        {
          trustDomain: fc.oneof(fc.constantFrom(PARTNER, OWN, 'spiffe://x.test'), fc.string()),
          profile: fc.oneof(fc.constantFrom('https_spiffe', 'https_web', 'static'), fc.anything()),
          endpointUrls: field,
          endpointSpiffeId: fc.oneof(fc.constantFrom('spiffe://partner.test/s', 'spiffe://hub.test/s'), fc.string(), fc.anything()),
          bootstrapBundle: fc.oneof(fc.constant('{"keys":[]}'), fc.string(), fc.anything()),
          caRootsPem: field,
          deniedAuthorities: field,
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(input, (i) => {
        const result = validateRelationship(i, OWN);
        expect(Array.isArray(result.errors)).toBe(true);
        expect(result.value === undefined).toBe(result.errors.length > 0);
      }),
      { numRuns: 500 },
    );
  });
});

describe('normalizeAuthorityRef', () => {
  it.each([
    ['AB'.repeat(32), 'ab'.repeat(32)],
    [Array.from({ length: 32 }, () => 'Ab').join(':'), 'ab'.repeat(32)],
    ['SKI:01:02:0A', 'ski:01020a'],
    ['ski:ff', 'ski:ff'],
    ['ab'.repeat(31), undefined],
    ['ab'.repeat(33), undefined],
    ['sha256:' + 'ab'.repeat(32), undefined],
    ['', undefined],
    ['ski:' + 'ab'.repeat(65), undefined],
  ])('%s → %s', (input, expected) => {
    expect(normalizeAuthorityRef(input)).toBe(expected);
  });
});

describe('applyDenyList', () => {
  const fingerprint = (ca: TestCa): string => ca.certificate.fingerprint256.split(':').join('').toLowerCase();
  let bundle: SpiffeBundle;
  beforeAll(() => {
    bundle = SpiffeBundle.parse(TestCa.spiffeBundleJson([partnerCa, otherCa], { sequence: 7, refreshHint: 120 }), TrustDomain.parse(PARTNER));
  });

  it('reads the subject key identifier the CA was made with', () => {
    expect(subjectKeyIdentifier(partnerCa.certificate.raw)).toBe(partnerCa.ski.toLowerCase());
  });

  it('removes an authority by fingerprint and keeps metadata', () => {
    const { bundle: out, removed } = applyDenyList(bundle, [fingerprint(partnerCa)]);
    expect(removed).toEqual([fingerprint(partnerCa)]);
    expect(out.x509Authorities.map((c) => c.fingerprint256)).toEqual([otherCa.certificate.fingerprint256]);
    expect(out.sequence).toBe(7n);
    expect(out.refreshHint).toBe(120);
    expect(out.trustDomain.name).toBe(PARTNER);
  });

  it('removes an authority by subject key identifier (any case, colons)', () => {
    const ski = `SKI:${(otherCa.ski.toUpperCase().match(/../g) ?? []).join(':')}`;
    const { bundle: out, removed } = applyDenyList(bundle, [ski]);
    expect(removed).toEqual([fingerprint(otherCa)]);
    expect(out.x509Authorities.map((c) => c.fingerprint256)).toEqual([partnerCa.certificate.fingerprint256]);
  });

  it('returns the same bundle when nothing matches', () => {
    const { bundle: out, removed } = applyDenyList(bundle, ['00'.repeat(32), 'ski:00']);
    expect(removed).toEqual([]);
    expect(out).toBe(bundle);
  });

  it('can remove every authority', () => {
    const { bundle: out, removed } = applyDenyList(bundle, [fingerprint(partnerCa), `ski:${otherCa.ski}`]);
    expect(removed).toHaveLength(2);
    expect(out.x509Authorities).toEqual([]);
  });
});
