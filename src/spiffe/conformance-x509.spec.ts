/**
 * The X.509 vectors of test/fixtures/spiffe/vectors (MANIFEST.tsv): X509-SVID files, authorities,
 * X.509 bundles and the peer-verification scenarios with their fixed clocks. The other
 * vectors, and the check that every vector is covered, are in conformance.spec.ts.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import {
  BundleSet,
  parseDerCertificates,
  parsePemCertificates,
  parseX509Svid,
  SpiffeBundle,
  SpiffeErrorCode,
  TrustDomain,
  verifyX509Svid,
  X509Bundle,
} from './index';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1 from '@peculiar/asn1-x509';
import { certInfo, KU } from './x509-parse';
import { codeOf } from '../../test/support/spiffe-errors';

import { readVector, readVectorText } from '../../test/support/spiffe-vectors';
import { errorOf } from '../../test/support/spiffe-errors';
const read = readVector;
const readText = readVectorText;



const EXAMPLE = TrustDomain.parse('example.org');

/** Hex SKI and AKI key identifier, read independently of the code under test. */
function keyIds(cert: X509Certificate): { ski?: string; aki?: string } {
  const exts = AsnConvert.parse(cert.raw, asn1.Certificate).tbsCertificate.extensions ?? [];
  const hex = (b: ArrayBuffer) => Buffer.from(b).toString('hex');
  const ski = exts.find((e) => e.extnID === asn1.id_ce_subjectKeyIdentifier);
  const aki = exts.find((e) => e.extnID === asn1.id_ce_authorityKeyIdentifier);
  return {
    ski: ski && hex(AsnConvert.parse(ski.extnValue, asn1.SubjectKeyIdentifier).buffer),
    aki: aki && hex(AsnConvert.parse(aki.extnValue, asn1.AuthorityKeyIdentifier).keyIdentifier?.buffer ?? new ArrayBuffer(0)),
  };
}
const at = (iso: string): Date => new Date(iso);
const v = (name: string): string => `goSpiffe__x509svid__${name}.pem`;

describe('x509svid vectors (parseX509Svid)', () => {
  it.each([
    ['good-leaf-only', 'key-pkcs8-rsa', 1],
    ['good-leaf-and-intermediate', 'key-pkcs8-ecdsa', 2],
    ['good-cert-and-key', 'good-cert-and-key', 1],
    ['good-key-and-cert', 'good-key-and-cert', 1],
  ])('%s + %s is valid (spiffe://example.org/workload-1, %i certs)', (certs, key, count) => {
    const svid = parseX509Svid(readText(v(certs)), readText(v(key)));
    expect(svid.id.toString()).toBe('spiffe://example.org/workload-1');
    expect(svid.certificates).toHaveLength(count);
    expect(createPublicKey(svid.privateKey).equals(svid.certificates[0].publicKey)).toBe(true);
    // Round trip through our own PEM output, and as bytes.
    expect(parseX509Svid(svid.certChainPem(), svid.privateKeyPem()).id.equals(svid.id)).toBe(true);
    expect(parseX509Svid(read(v(certs)), read(v(key))).certificates).toHaveLength(count);
  });

  it('key-pkcs8-rsa and key-pkcs8-ecdsa are valid unencrypted PKCS#8 keys (also as DER)', () => {
    const rsa = parseX509Svid(readText(v('good-leaf-only')), readText(v('key-pkcs8-rsa')));
    expect(rsa.privateKey.asymmetricKeyType).toBe('rsa');
    const ec = parseX509Svid(readText(v('good-leaf-and-intermediate')), readText(v('key-pkcs8-ecdsa')));
    expect(ec.privateKey.asymmetricKeyType).toBe('ec');
    const der = ec.privateKey.export({ format: 'der', type: 'pkcs8' });
    const chainDer = Buffer.concat(ec.certificates.map((c) => c.raw));
    expect(parseX509Svid(chainDer, der).id.toString()).toBe('spiffe://example.org/workload-1');
  });

  it.each<[string, string, SpiffeErrorCode]>([
    ['corrupt-cert', 'key-pkcs8-rsa', 'malformed_certificate'],
    ['good-leaf-only', 'corrupt-key', 'malformed_key'],
    ['wrong-leaf-empty-id', 'key-pkcs8-rsa', 'leaf_no_uri_san'],
    ['wrong-leaf-ca-true', 'key-pkcs8-rsa', 'leaf_is_ca'],
    ['wrong-leaf-cert-sign', 'key-pkcs8-rsa', 'leaf_key_cert_sign'],
    ['wrong-leaf-crl-sign', 'key-pkcs8-rsa', 'leaf_crl_sign'],
    ['wrong-leaf-no-digital-signature', 'key-pkcs8-rsa', 'leaf_no_digital_signature'],
    ['wrong-intermediate-no-ca', 'key-pkcs8-rsa', 'intermediate_not_ca'],
    ['wrong-intermediate-no-key-cert-sign', 'key-pkcs8-rsa', 'intermediate_no_key_cert_sign'],
    ['good-leaf-and-intermediate', 'key-pkcs8-rsa', 'key_mismatch'],
    ['key-pkcs8-rsa', 'key-pkcs8-rsa', 'no_certificates'],
    ['good-leaf-only', 'good-leaf-only', 'no_private_key'],
  ])('%s + %s is rejected with %s', (certs, key, code) => {
    expect(codeOf(() => parseX509Svid(readText(v(certs)), readText(v(key))))).toBe(code);
  });

  it.each<[string, SpiffeErrorCode]>([
    ['wrong-leaf-empty-id', 'leaf_no_uri_san'],
    ['wrong-leaf-ca-true', 'leaf_is_ca'],
    ['wrong-leaf-cert-sign', 'leaf_key_cert_sign'],
    ['wrong-leaf-crl-sign', 'leaf_crl_sign'],
    // DECIDED: digitalSignature is required (go-spiffe Verify does not check it).
    ['wrong-leaf-no-digital-signature', 'leaf_no_digital_signature'],
  ])('%s is also rejected by peer verification with %s', (name, code) => {
    const leaf = parsePemCertificates(read(v(name)))[0];
    const bundles = new BundleSet([X509Bundle.fromAuthorities(EXAMPLE, [leaf])]);
    expect(codeOf(() => verifyX509Svid([leaf], bundles, { role: 'client', now: at('2021-01-01T00:00:00Z') }))).toBe(code);
  });
});

describe('x509 authorities and peer-verification scenarios', () => {
  const root = parsePemCertificates(read('derived__spiffebundle_valid_1__x509-root.pem'))[0];
  const [leaf, intermediate] = parsePemCertificates(read(v('good-leaf-and-intermediate')));
  const bundle1 = SpiffeBundle.parse(read('goSpiffe__spiffebundle__spiffebundle_valid_1.json'), EXAMPLE);
  const forExample = new BundleSet([bundle1]);
  const verify = (chain: X509Certificate[], set: BundleSet, now: string) =>
    verifyX509Svid(chain, set, { role: 'server', now: at(now) });

  it('derived root: self-signed P-384 CA, keyCertSign+cRLSign, spiffe://local, issuer of the intermediate', () => {
    const info = certInfo(root);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(root.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(info.isCa).toBe(true);
    expect(info.keyUsage).toBe(KU.keyCertSign | KU.cRLSign);
    expect(info.uris).toEqual(['spiffe://local']);
    expect(keyIds(root).ski?.startsWith('87a5f357')).toBe(true);
    expect(new Date(info.notBefore).toISOString()).toBe('2018-05-13T19:33:47.000Z');
    expect(intermediate.verify(root.publicKey)).toBe(true);
    expect(bundle1.x509Authorities[0].raw.equals(root.raw)).toBe(true);
  });

  it('leaf + intermediate verify to the bundle of example.org at 15:00Z', () => {
    const result = verify([leaf, intermediate], forExample, '2020-03-24T15:00:00Z');
    expect(result.id.toString()).toBe('spiffe://example.org/workload-1');
    expect(result.chain.map((c) => c.serialNumber)).toEqual([leaf, intermediate, root].map((c) => c.serialNumber));
  });

  it('validity boundaries: inclusive at notBefore and (pinned, RFC 5280) at notAfter', () => {
    expect(verify([leaf, intermediate], forExample, '2020-03-24T14:07:30Z').id.path).toBe('/workload-1');
    expect(verify([leaf, intermediate], forExample, '2020-03-24T15:07:40Z').id.path).toBe('/workload-1');
    expect(codeOf(() => verify([leaf, intermediate], forExample, '2020-03-24T14:07:29Z'))).toBe('certificate_not_yet_valid');
    expect(codeOf(() => verify([leaf, intermediate], forExample, '2020-03-24T15:07:41Z'))).toBe('certificate_expired');
    expect(codeOf(() => verifyX509Svid([leaf, intermediate], forExample, { role: 'server' }))).toBe('certificate_expired');
  });

  it('bundle registered only for another trust domain: unknown_trust_domain (union-pool regression)', () => {
    const onlyLocal = new BundleSet([SpiffeBundle.parse(read('goSpiffe__spiffebundle__spiffebundle_valid_1.json'), TrustDomain.parse('local'))]);
    expect(codeOf(() => verify([leaf, intermediate], onlyLocal, '2020-03-24T15:00:00Z'))).toBe('unknown_trust_domain');
  });

  it('leaf only (intermediate dropped): chain_unverified', () => {
    expect(codeOf(() => verify([leaf], forExample, '2020-03-24T15:00:00Z'))).toBe('chain_unverified');
  });

  it('order reversed (intermediate first): the CA taken as leaf is rejected with leaf_is_ca', () => {
    expect(codeOf(() => verify([intermediate, leaf], forExample, '2020-03-24T15:00:00Z'))).toBe('leaf_is_ca');
  });

  it('leaf only with bundle = [intermediate]: valid, a non-self-signed bundle certificate is an anchor', () => {
    const set = new BundleSet([X509Bundle.fromAuthorities(EXAMPLE, [intermediate])]);
    const result = verify([leaf], set, '2020-03-24T15:00:00Z');
    expect(result.chain).toHaveLength(2);
  });

  it('spire svid.pem: EC leaf, digitalSignature+keyEncipherment+keyAgreement, serverAuth+clientAuth, issued by ca.pem', () => {
    const [svid] = parsePemCertificates(read('spire__fixture_certs__svid.pem'));
    const info = certInfo(svid);
    expect(info.isCa).toBe(false);
    expect(info.keyUsage).toBe(KU.digitalSignature | 4 | 16);
    expect(info.extKeyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(info.uris).toEqual(['spiffe://example.org/spire/agent/join_token/2cf3538c-4f9c-46c0-a526-1ca679a92492']);
  });

  it('spire ca.pem: CA, not self-signed (AKI != SKI)', () => {
    const [ca] = parsePemCertificates(read('spire__fixture_certs__ca.pem'));
    const info = certInfo(ca);
    expect(info.isCa).toBe(true);
    expect(info.uris).toEqual(['spiffe://example.org']);
    expect(ca.verify(ca.publicKey)).toBe(false);
    const { ski, aki } = keyIds(ca);
    expect(aki).toBeDefined();
    expect(aki).not.toBe(ski);
  });

  it('spire svid + ca.pem as bundle: valid at 01:00Z (anchor need not be self-signed), expired CA at 01:35Z', () => {
    const [svid] = parsePemCertificates(read('spire__fixture_certs__svid.pem'));
    const set = new BundleSet([X509Bundle.parse(EXAMPLE, read('spire__fixture_certs__ca.pem'))]);
    expect(verify([svid], set, '2018-02-10T01:00:00Z').id.path).toBe(
      '/spire/agent/join_token/2cf3538c-4f9c-46c0-a526-1ca679a92492',
    );
    const err = errorOf(() => verify([svid], set, '2018-02-10T01:35:00Z'));
    expect(err.code).toBe('certificate_expired');
    expect(err.details.index).toBe(1);
  });

  it('spire bundle.der: 17 concatenated DER CA certificates for spiffe://example.org', () => {
    const certs = parseDerCertificates(read('spire__fixture_certs__bundle.der'));
    expect(certs).toHaveLength(17);
    for (const cert of certs) {
      expect(certInfo(cert).isCa).toBe(true);
      expect(certInfo(cert).uris).toEqual(['spiffe://example.org']);
    }
    expect(X509Bundle.parse(EXAMPLE, read('spire__fixture_certs__bundle.der')).size).toBe(17);
  });
});

describe('x509bundle PEM vectors', () => {
  it.each([
    ['cert', 1],
    ['certs', 2],
    ['empty', 0],
  ])('%s.pem: %i authorities', (name, count) => {
    expect(X509Bundle.parse(EXAMPLE, read(`goSpiffe__x509bundle__${name}.pem`)).authorities).toHaveLength(count);
    expect(X509Bundle.parse(EXAMPLE, readText(`goSpiffe__x509bundle__${name}.pem`)).authorities).toHaveLength(count);
  });

  it('not-pem.pem: malformed_bundle (no PEM blocks)', () => {
    const err = errorOf(() => X509Bundle.parse(EXAMPLE, read('goSpiffe__x509bundle__not-pem.pem')));
    expect(err.code).toBe('malformed_bundle');
    expect(err.message).toContain('no pem blocks found');
  });

  it('corrupted.pem: malformed_certificate', () => {
    expect(codeOf(() => X509Bundle.parse(EXAMPLE, read('goSpiffe__x509bundle__corrupted.pem')))).toBe('malformed_certificate');
  });
});
