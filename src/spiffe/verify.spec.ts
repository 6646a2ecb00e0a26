/**
 * Peer verification against chains minted by the test CA: what must pass and every way a
 * chain must fail, each asserting its error code. The clock is frozen at NOW.
 */
import { X509Certificate } from 'node:crypto';
import { Eku, KeyUsage, TestCa } from '../../test/support/test-ca';
import { BundleSet, SpiffeError, SpiffeErrorCode, TrustDomain, verifyX509Svid, X509Bundle } from './index';
import { MAX_SIGNATURE_CHECKS } from './verify';
import { codeOf } from '../../test/support/spiffe-errors';

const NOW = new Date('2030-06-01T12:00:00Z');
const HOUR = 3_600_000;
const ACME = TrustDomain.parse('acme.test');
const PARTNER = TrustDomain.parse('partner.test');
const ID = 'spiffe://acme.test/ns/ml/sa/trainer';

let root: TestCa;
let partner: TestCa;
let bundles: BundleSet;

beforeAll(async () => {
  root = await TestCa.create({ trustDomain: 'acme.test', now: NOW });
  // Same subject DN as our root, so name-based chaining alone would link to either.
  partner = await TestCa.create({ trustDomain: 'partner.test', now: NOW, subject: root.subject });
  bundles = set([root], [partner]);
});

function set(acme: TestCa[], partners: TestCa[] = []): BundleSet {
  const out = new BundleSet([X509Bundle.fromAuthorities(ACME, acme.map((c) => c.certificate))]);
  if (partners.length > 0) out.set(X509Bundle.fromAuthorities(PARTNER, partners.map((c) => c.certificate)));
  return out;
}

function verify(chain: Array<Buffer | X509Certificate>, source = bundles, role: 'client' | 'server' = 'client', now = NOW) {
  return verifyX509Svid(chain, source, { role, now });
}


describe('accepted chains', () => {
  it('leaf issued by the root (0 intermediates); chain is leaf, anchor', async () => {
    const svid = await root.issueSvid({ id: ID });
    const result = verify(svid.chain);
    expect(result.id.toString()).toBe(ID);
    expect(result.chain.map((c) => c.fingerprint256)).toEqual([svid.certificate.fingerprint256, root.certificate.fingerprint256]);
  });

  it('1 intermediate, as DER buffers and as X509Certificates', async () => {
    const svid = await (await root.intermediate()).issueSvid({ id: ID });
    expect(verify(svid.chain).chain).toHaveLength(3);
    expect(verify(svid.chain.map((d) => new X509Certificate(d))).id.toString()).toBe(ID);
  });

  it('2 intermediates, in order and shuffled, with the root appended, and with duplicates', async () => {
    const i1 = await root.intermediate();
    const i2 = await i1.intermediate();
    const svid = await i2.issueSvid({ id: ID });
    const [leaf, c2, c1] = svid.chain;
    expect(verify([leaf, c2, c1]).chain).toHaveLength(4);
    expect(verify([leaf, c1, c2]).chain).toHaveLength(4);
    expect(verify([leaf, c1, c2, root.certDer]).chain).toHaveLength(4);
    expect(verify([leaf, c1, c1, c2, leaf]).chain).toHaveLength(4);
  });

  it('root rotation: two roots in one bundle (even with the same subject DN)', async () => {
    const next = await TestCa.create({ trustDomain: 'acme.test', now: NOW, subject: root.subject });
    const both = set([root, next]);
    expect(verify((await root.issueSvid({ id: ID })).chain, both).id.toString()).toBe(ID);
    expect(verify((await (await next.intermediate()).issueSvid({ id: ID })).chain, both).id.toString()).toBe(ID);
  });

  it('mixed key algorithms: RSA leaf under P-384 intermediate under P-256 root', async () => {
    const int = await root.intermediate({ keyAlg: 'P-384' });
    const svid = await int.issueSvid({ id: ID, keyAlg: 'RSA' });
    expect(verify(svid.chain).id.toString()).toBe(ID);
  });

  it('EKU absent, anyExtendedKeyUsage, or the role purpose alone', async () => {
    expect(verify((await root.issueSvid({ id: ID, ekus: null })).chain, bundles, 'server').id.toString()).toBe(ID);
    expect(verify((await root.issueSvid({ id: ID, ekus: ['2.5.29.37.0'] })).chain, bundles, 'server').id.toString()).toBe(ID);
    expect(verify((await root.issueSvid({ id: ID, ekus: [Eku.serverAuth] })).chain, bundles, 'server').id.toString()).toBe(ID);
    expect(verify((await root.issueSvid({ id: ID, ekus: [Eku.clientAuth] })).chain, bundles, 'client').id.toString()).toBe(ID);
  });

  it('a partner SVID verifies against the partner bundle', async () => {
    const svid = await partner.issueSvid({ id: 'spiffe://partner.test/sync' });
    expect(verify(svid.chain).id.trustDomain.equals(PARTNER)).toBe(true);
  });

  it('anchor-only bundle with a non-self-signed anchor (the intermediate)', async () => {
    const int = await root.intermediate();
    const svid = await int.issueSvid({ id: ID });
    expect(verify([svid.certDer], set([int])).chain).toHaveLength(2);
  });

  it('leaf with one URI SAN plus DNS SANs', async () => {
    expect(verify((await root.issueSvid({ id: ID, dnsNames: ['trainer.acme.test'] })).chain).id.toString()).toBe(ID);
  });

  it('search is bounded: 14 same-name decoy intermediates still find the real issuer within the budget', async () => {
    const real = await root.intermediate({ subject: 'CN=acme issuing,O=Acme' });
    const decoys = await Promise.all(
      Array.from({ length: 14 }, () => root.intermediate({ subject: 'CN=acme issuing,O=Acme', omitAki: true })),
    );
    const svid = await real.issueSvid({ id: ID, omitAki: true });
    const spy = jest.spyOn(X509Certificate.prototype, 'verify');
    try {
      const result = verify([svid.certDer, ...decoys.map((d) => d.certDer), real.certDer]);
      expect(result.chain[1].fingerprint256).toBe(real.certificate.fingerprint256);
      expect(spy.mock.calls.length).toBeLessThanOrEqual(MAX_SIGNATURE_CHECKS);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('a partner CA cannot vouch for our trust domain', () => {
  const EVIL = 'spiffe://acme.test/admin';
  const awaitedChain = {} as Record<'plain' | 'noAki' | 'forged' | 'viaIntermediate', Buffer[]>;
  beforeAll(async () => {
    awaitedChain.plain = (await partner.issueSvid({ id: EVIL })).chain;
    awaitedChain.noAki = (await partner.issueSvid({ id: EVIL, omitAki: true })).chain;
    awaitedChain.forged = (await partner.issueSvid({ id: EVIL, forgeAkiFrom: root })).chain;
    const pInt = await partner.intermediate({ subject: 'CN=acme issuing,O=Acme', uri: 'spiffe://acme.test' });
    awaitedChain.viaIntermediate = (await pInt.issueSvid({ id: EVIL, forgeAkiFrom: root })).chain;
  });

  it('partner-signed acme.test ID: chain_unverified', async () => {
    expect(codeOf(() => verify(awaitedChain.plain))).toBe('chain_unverified');
  });
  it('same, without AKI', () => {
    expect(codeOf(() => verify(awaitedChain.noAki))).toBe('chain_unverified');
  });
  it('same, with our root appended to the presented chain', () => {
    expect(codeOf(() => verify([...awaitedChain.plain, root.certDer]))).toBe('chain_unverified');
    expect(codeOf(() => verify([...awaitedChain.noAki, root.certDer]))).toBe('chain_unverified');
  });
  it("same, with the AKI forged to our root's SKI (and our root appended)", () => {
    expect(codeOf(() => verify(awaitedChain.forged))).toBe('chain_unverified');
    expect(codeOf(() => verify([...awaitedChain.forged, root.certDer]))).toBe('chain_unverified');
  });
  it('same, through a partner intermediate, with the partner root presented too', () => {
    expect(codeOf(() => verify([...awaitedChain.viaIntermediate, partner.certDer, root.certDer]))).toBe('chain_unverified');
  });
  it('never falls back to the union of bundles: no acme.test bundle at all gives unknown_trust_domain', () => {
    const onlyPartner = new BundleSet([X509Bundle.fromAuthorities(PARTNER, [partner.certificate, root.certificate])]);
    expect(codeOf(() => verify(awaitedChain.plain, onlyPartner))).toBe('unknown_trust_domain');
  });

});

describe('rejected leaves', () => {
  it.each<[string, Parameters<TestCa['issueSvid']>[0], SpiffeErrorCode]>([
    ['cA true', { id: ID, isCa: true }, 'leaf_is_ca'],
    ['keyCertSign', { id: ID, keyUsage: KeyUsage.digitalSignature | KeyUsage.keyCertSign }, 'leaf_key_cert_sign'],
    ['cRLSign', { id: ID, keyUsage: KeyUsage.digitalSignature | KeyUsage.cRLSign }, 'leaf_crl_sign'],
    ['no digitalSignature', { id: ID, keyUsage: KeyUsage.keyEncipherment }, 'leaf_no_digital_signature'],
    ['no key usage extension', { id: ID, keyUsage: null }, 'leaf_key_usage_missing'],
    ['no URI SAN', { uris: [], dnsNames: ['trainer.acme.test'] }, 'leaf_no_uri_san'],
    ['two URI SANs', { uris: [ID, 'spiffe://acme.test/other'] }, 'leaf_multiple_uri_sans'],
    ['a SPIFFE and an https URI SAN', { uris: [ID, 'https://acme.test/'] }, 'leaf_multiple_uri_sans'],
    ['a non-spiffe URI SAN', { uris: ['https://acme.test/ns/ml'] }, 'invalid_spiffe_id'],
    ['an uppercase trust domain', { uris: ['spiffe://ACME.test/x'] }, 'invalid_spiffe_id'],
    ['an empty path (DECIDED)', { id: 'spiffe://acme.test' }, 'leaf_empty_path'],
    ['expired', { id: ID, notAfter: new Date(NOW.getTime() - 1000) }, 'certificate_expired'],
    ['not yet valid', { id: ID, notBefore: new Date(NOW.getTime() + 1000) }, 'certificate_not_yet_valid'],
    ['EKU without clientAuth (role client)', { id: ID, ekus: [Eku.serverAuth] }, 'eku_missing_purpose'],
    ['EKU codeSigning only', { id: ID, ekus: [Eku.codeSigning] }, 'eku_missing_purpose'],
    ['an unknown trust domain', { id: 'spiffe://unknown.test/x' }, 'unknown_trust_domain'],
    [
      'an unknown critical extension',
      { id: ID, extensions: [TestCa.extension('1.3.6.1.4.1.99999.1', true)] },
      'unsupported_critical_extension',
    ],
  ])('%s -> %s', async (_name, opts, code) => {
    const svid = await root.issueSvid(opts);
    expect(codeOf(() => verify(svid.chain))).toBe(code);
  });

  it('EKU without serverAuth when the peer is a server', async () => {
    const svid = await root.issueSvid({ id: ID, ekus: [Eku.clientAuth] });
    expect(codeOf(() => verify(svid.chain, bundles, 'server'))).toBe('eku_missing_purpose');
  });

  it('an unknown non-critical extension is fine', async () => {
    const svid = await root.issueSvid({ id: ID, extensions: [TestCa.extension('1.3.6.1.4.1.99999.1', false)] });
    expect(verify(svid.chain).id.toString()).toBe(ID);
  });
});

describe('rejected chains', () => {
  const minus = (ms: number) => new Date(NOW.getTime() - ms);
  const plus = (ms: number) => new Date(NOW.getTime() + ms);

  it.each<[string, Parameters<TestCa['intermediate']>[0], SpiffeErrorCode]>([
    ['expired intermediate', { notBefore: minus(2 * HOUR), notAfter: minus(1000) }, 'certificate_expired'],
    ['not-yet-valid intermediate', { notBefore: plus(1000), notAfter: plus(HOUR) }, 'certificate_not_yet_valid'],
    ['intermediate without cA', { ca: false }, 'intermediate_not_ca'],
    ['intermediate without keyCertSign', { keyCertSign: false }, 'intermediate_no_key_cert_sign'],
    ['intermediate with no keyUsage extension at all', { omitKeyUsage: true }, 'intermediate_no_key_cert_sign'],
    ['intermediate with an unknown critical extension', { extensions: [TestCa.extension('1.2.3.4.5', true)] }, 'unsupported_critical_extension'],
  ])('%s -> %s', async (_name, opts, code) => {
    const int = await root.intermediate(opts);
    const svid = await int.issueSvid({ id: ID, notBefore: minus(HOUR), notAfter: plus(HOUR) });
    const err = (() => {
      try {
        verify(svid.chain);
      } catch (e) {
        return e as SpiffeError;
      }
      return undefined;
    })();
    expect(err?.code).toBe(code);
    expect(err?.details.index).toBe(1);
  });

  it('expired trust anchor -> certificate_expired', async () => {
    const old = await TestCa.create({ trustDomain: 'acme.test', now: NOW, notBefore: minus(48 * HOUR), notAfter: minus(1000) });
    const svid = await old.issueSvid({ id: ID });
    expect(codeOf(() => verify(svid.chain, set([old])))).toBe('certificate_expired');
  });

  it('expired non-self-signed anchor (anchor-only bundle) -> certificate_expired', async () => {
    const int = await root.intermediate({ notBefore: minus(2 * HOUR), notAfter: minus(1000) });
    const svid = await int.issueSvid({ id: ID });
    expect(codeOf(() => verify([svid.certDer], set([int])))).toBe('certificate_expired');
  });

  it('pathLen: root pathLen 0 with one intermediate is exceeded; pathLen 1 is fine', async () => {
    const strict = await TestCa.create({ trustDomain: 'acme.test', now: NOW, pathLen: 0 });
    const ok = await TestCa.create({ trustDomain: 'acme.test', now: NOW, pathLen: 1 });
    const tooDeep = (await (await strict.intermediate()).issueSvid({ id: ID })).chain;
    expect(codeOf(() => verify(tooDeep, set([strict])))).toBe('path_length_exceeded');
    expect(verify((await strict.issueSvid({ id: ID })).chain, set([strict])).chain).toHaveLength(2);
    expect(verify((await (await ok.intermediate()).issueSvid({ id: ID })).chain, set([ok])).chain).toHaveLength(3);
  });

  it('pathLen: intermediate pathLen 0 with a sub-intermediate is exceeded', async () => {
    const i1 = await root.intermediate({ pathLen: 0 });
    const i2 = await i1.intermediate();
    const chain = (await i2.issueSvid({ id: ID })).chain;
    expect(codeOf(() => verify(chain))).toBe('path_length_exceeded');
  });

  it('bad input: empty chain, garbage bytes, too many certificates, bad options', async () => {
    expect(codeOf(() => verify([]))).toBe('no_certificates');
    expect(codeOf(() => verify([Buffer.from('garbage')]))).toBe('malformed_certificate');
    const svid = await root.issueSvid({ id: ID });
    expect(codeOf(() => verify([svid.certDer, Buffer.from([0x30, 0x03, 1, 2, 3])]))).toBe('malformed_certificate');
    expect(codeOf(() => verify(Array.from({ length: 17 }, () => svid.certDer)))).toBe('chain_unverified');
    expect(() => verifyX509Svid(svid.chain, bundles, { role: 'peer' as 'client' })).toThrow(TypeError);
    expect(() => verifyX509Svid(svid.chain, {} as BundleSet, { role: 'client' })).toThrow(TypeError);
    expect(() => verifyX509Svid(svid.chain, bundles, { role: 'client', now: new Date(NaN) })).toThrow(TypeError);
  });
});

describe('name constraints (fail closed)', () => {
  async function chainUnder(nc: Parameters<TestCa['intermediate']>[0], leaf: Parameters<TestCa['issueSvid']>[0] = { id: ID }) {
    const int = await root.intermediate(nc);
    return (await int.issueSvid(leaf)).chain;
  }

  it('permitted URI subtree equal to the trust domain admits its IDs', async () => {
    expect(verify(await chainUnder({ nameConstraints: { permittedUris: ['acme.test'] } })).id.toString()).toBe(ID);
  });

  it('permitted URI subtree on the root applies too', async () => {
    const constrained = await TestCa.create({ trustDomain: 'acme.test', now: NOW, nameConstraints: { permittedUris: ['other.test'] } });
    const svid = await constrained.issueSvid({ id: ID });
    expect(codeOf(() => verify(svid.chain, set([constrained])))).toBe('name_constraints_violated');
  });

  it.each<[string, Parameters<TestCa['intermediate']>[0], Parameters<TestCa['issueSvid']>[0]]>([
    ['permitted URI subtree of another domain', { nameConstraints: { permittedUris: ['other.test'] } }, { id: ID }],
    ['excluded URI subtree of the trust domain', { nameConstraints: { excludedUris: ['acme.test'] } }, { id: ID }],
    ['excluded parent domain covers subdomains', { nameConstraints: { excludedUris: ['test'] } }, { id: ID }],
    ['permitted ".acme.test" admits subdomains only', { nameConstraints: { permittedUris: ['.acme.test'] } }, { id: ID }],
    [
      'permitted DNS subtree and a DNS SAN outside it',
      { nameConstraints: { permittedDns: ['svc.acme.test'] } },
      { id: ID, dnsNames: ['evil.example'] },
    ],
    [
      'unsupported IP constraint (fail closed)',
      { nameConstraints: { permittedIps: [Uint8Array.from([10, 0, 0, 0, 255, 0, 0, 0])] } },
      { id: ID },
    ],
  ])('%s -> name_constraints_violated', async (_name, nc, leaf) => {
    const chain = await chainUnder(nc, leaf);
    expect(codeOf(() => verify(chain))).toBe('name_constraints_violated');
  });

  it('permitted DNS subtree admits a DNS SAN below it', async () => {
    const chain = await chainUnder({ nameConstraints: { permittedDns: ['svc.acme.test'] } }, { id: ID, dnsNames: ['x.svc.acme.test'] });
    expect(verify(chain).id.toString()).toBe(ID);
  });
});
