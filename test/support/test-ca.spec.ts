/**
 * The test CA produces what it promises, checked with node:crypto and @peculiar/x509
 * directly (not with src/spiffe, which it exists to test).
 */
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { Eku, KeyUsage, TestCa } from './test-ca';

const NOW = new Date('2031-03-01T00:00:00Z');
const peculiar = (der: Buffer) => new x509.X509Certificate(der);

describe('TestCa', () => {
  let root: TestCa;
  beforeAll(async () => {
    root = await TestCa.create({ trustDomain: 'acme.test', now: NOW });
  });

  it('creates a self-signed CA root with spiffe://<td>, keyCertSign and a validity around `now`', () => {
    const cert = root.certificate;
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe(cert.issuer);
    expect(cert.subjectAltName).toBe('URI:spiffe://acme.test');
    const p = peculiar(root.certDer);
    expect(p.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature,
    );
    expect(p.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toBe(root.ski);
    expect(p.notBefore.getTime()).toBeLessThan(NOW.getTime());
    expect(p.notAfter.getTime()).toBeGreaterThan(NOW.getTime());
    expect(root.root).toBe(root);
    expect(root.chainDer).toEqual([]);
    expect(root.bundlePem()).toBe(root.certPem);
    expect(new X509Certificate(root.certPem).fingerprint256).toBe(cert.fingerprint256);
  });

  it('issues intermediates and SVIDs linked by signature and AKI', async () => {
    const int = await root.intermediate({ pathLen: 0 });
    const svid = await int.issueSvid({ id: 'spiffe://acme.test/a' });
    expect(int.certificate.verify(root.certificate.publicKey)).toBe(true);
    expect(svid.certificate.verify(int.certificate.publicKey)).toBe(true);
    expect(peculiar(int.certDer).getExtension(x509.BasicConstraintsExtension)?.pathLength).toBe(0);
    expect(peculiar(svid.certDer).getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(int.ski);
    expect(svid.chain).toEqual([svid.certDer, int.certDer]);
    expect(int.chainDer).toEqual([int.certDer]);
    expect(int.root).toBe(root);
    expect(svid.id).toBe('spiffe://acme.test/a');
    expect(svid.chainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(createPublicKey(createPrivateKey(svid.keyPem)).equals(svid.certificate.publicKey)).toBe(true);
    expect(createPrivateKey({ key: svid.keyDer, format: 'der', type: 'pkcs8' }).asymmetricKeyType).toBe('ec');
  });

  it('SVID defaults: not CA, KU digitalSignature|keyEncipherment|keyAgreement, EKU server+client, 1h validity', async () => {
    const svid = await root.issueSvid();
    const p = peculiar(svid.certDer);
    expect(svid.certificate.ca).toBe(false);
    expect(svid.certificate.subjectAltName).toBe('URI:spiffe://acme.test/workload');
    expect(p.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      KeyUsage.digitalSignature | KeyUsage.keyEncipherment | KeyUsage.keyAgreement,
    );
    expect(p.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([Eku.serverAuth, Eku.clientAuth]);
    expect(p.notAfter.getTime() - NOW.getTime()).toBe(3_600_000);
  });

  it('knobs: no KU/EKU, several URIs, CA flag, forged AKI, extra critical extension', async () => {
    const other = await TestCa.create({ trustDomain: 'partner.test', now: NOW });
    const svid = await other.issueSvid({
      uris: ['spiffe://acme.test/x', 'https://acme.test'],
      keyUsage: null,
      ekus: null,
      isCa: true,
      forgeAkiFrom: root,
      extensions: [TestCa.extension('1.2.3.4', true)],
    });
    const p = peculiar(svid.certDer);
    expect(p.getExtension(x509.KeyUsagesExtension)).toBeNull();
    expect(p.getExtension(x509.ExtendedKeyUsageExtension)).toBeNull();
    expect(svid.certificate.ca).toBe(true);
    expect(p.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(root.ski);
    expect(svid.certificate.verify(other.certificate.publicKey)).toBe(true);
    expect(svid.certificate.verify(root.certificate.publicKey)).toBe(false);
    expect(p.getExtension('1.2.3.4')?.critical).toBe(true);
    expect(svid.id).toBeUndefined();
    const noAki = await root.issueSvid({ omitAki: true });
    expect(peculiar(noAki.certDer).getExtension(x509.AuthorityKeyIdentifierExtension)).toBeNull();
  });

  it('name constraints are encoded as a critical extension', async () => {
    const int = await root.intermediate({ nameConstraints: { permittedUris: ['acme.test'], excludedDns: ['bad.test'] } });
    const ext = peculiar(int.certDer).getExtension('2.5.29.30');
    expect(ext?.critical).toBe(true);
    expect(Buffer.from(ext?.value ?? new ArrayBuffer(0)).includes(Buffer.from('acme.test'))).toBe(true);
  });

  it('RSA and P-384 keys', async () => {
    const rsa = await TestCa.create({ trustDomain: 'acme.test', keyAlg: 'RSA', now: NOW });
    expect(rsa.certificate.publicKey.asymmetricKeyType).toBe('rsa');
    const svid = await rsa.issueSvid({ keyAlg: 'P-384' });
    expect(svid.certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(svid.certificate.verify(rsa.certificate.publicKey)).toBe(true);
    expect(createPrivateKey(await rsa.keyPem()).asymmetricKeyType).toBe('rsa');
  });

  it('root rotation: two roots for one trust domain, one bundle PEM and one SPIFFE bundle JSON', async () => {
    const next = await TestCa.create({ trustDomain: 'acme.test', now: NOW });
    expect(next.certificate.publicKey.equals(root.certificate.publicKey)).toBe(false);
    expect(TestCa.bundlePem(root, next).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const doc = JSON.parse(TestCa.spiffeBundleJson([root, next], { sequence: 7, refreshHint: 300 }));
    expect(doc.spiffe_sequence).toBe(7);
    expect(doc.spiffe_refresh_hint).toBe(300);
    expect(doc.keys.map((k: { x5c: string[] }) => k.x5c[0])).toEqual([root, next].map((c) => c.certDer.toString('base64')));
    expect(doc.keys[0]).toMatchObject({ use: 'x509-svid', kty: 'EC', crv: 'P-256' });
    expect(JSON.parse(root.spiffeBundleJson()).keys).toHaveLength(1);
  });

  it('serial numbers are unique and increasing', async () => {
    const a = await root.issueSvid();
    const b = await root.issueSvid();
    expect(BigInt(`0x${b.certificate.serialNumber}`)).toBeGreaterThan(BigInt(`0x${a.certificate.serialNumber}`));
  });
});
