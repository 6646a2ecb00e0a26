import { createHmac, generateKeyPairSync } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AuthenticatedSafe, PFX, SafeContents } from '@peculiar/asn1-pfx';
import { OctetString } from '@peculiar/asn1-schema';
import { TestCa } from '../../../test/support/test-ca';
import { buildPkcs12, pemCertificates, pkcs12Kdf } from './pkcs12';

describe('buildPkcs12', () => {
  let leaf: { certPem: string; keyPem: string };
  let caPem: string;
  beforeAll(async () => {
    const ca = await TestCa.create({ trustDomain: 'acme.test' });
    leaf = await ca.issueSvid({ id: 'spiffe://acme.test/ops/alice' });
    caPem = ca.bundlePem();
  });

  it('holds one cert bag per chain certificate and one shrouded key bag, under a MAC the password keys', () => {
    const der = buildPkcs12({ keyPem: leaf.keyPem, chainPem: leaf.certPem + caPem, password: 'pw', friendlyName: 'spiffe://acme.test/ops/alice', iterations: 10 });
    const pfx = AsnConvert.parse(der, PFX);
    expect(pfx.version).toBe(3);
    const authSafeDer = AsnConvert.parse(pfx.authSafe.content, OctetString);
    const safes = AsnConvert.parse(authSafeDer, AuthenticatedSafe);
    const bags = safes.map((ci) => AsnConvert.parse(AsnConvert.parse(ci.content, OctetString), SafeContents));
    expect(bags.map((b) => b.map((bag) => bag.bagId))).toEqual([['1.2.840.113549.1.12.10.1.3', '1.2.840.113549.1.12.10.1.3'], ['1.2.840.113549.1.12.10.1.2']]);
    const macKey = pkcs12Kdf('pw', Buffer.from(pfx.macData.macSalt.buffer), 3, 10, 32);
    const expected = createHmac('sha256', macKey).update(Buffer.from(authSafeDer.buffer)).digest();
    expect(Buffer.from(pfx.macData.mac.digest.buffer).equals(expected)).toBe(true);
    expect(pfx.macData.iterations).toBe(10);
  });

  it('refuses a key of another certificate and a chain without certificates', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => buildPkcs12({ keyPem: other, chainPem: leaf.certPem, password: 'pw', friendlyName: 'x' })).toThrow('the key does not belong to the leaf certificate');
    expect(() => buildPkcs12({ keyPem: leaf.keyPem, chainPem: '', password: 'pw', friendlyName: 'x' })).toThrow('the chain holds no certificate');
  });

  it('reads the certificates of a PEM text in order', () => {
    expect(pemCertificates(leaf.certPem + caPem)).toHaveLength(2);
  });
});

describe('pkcs12Kdf', () => {
  it('depends on the purpose id, the salt and the password, and gives the length asked for', () => {
    const salt = Buffer.alloc(8, 1);
    const mac = pkcs12Kdf('pw', salt, 3, 5, 32);
    expect(mac).toHaveLength(32);
    expect(pkcs12Kdf('pw', salt, 3, 5, 40)).toHaveLength(40);
    expect(pkcs12Kdf('pw', salt, 3, 5, 40).subarray(0, 32).equals(mac)).toBe(true);
    expect(pkcs12Kdf('pw', salt, 1, 5, 32).equals(mac)).toBe(false);
    expect(pkcs12Kdf('pX', salt, 3, 5, 32).equals(mac)).toBe(false);
    expect(pkcs12Kdf('pw', Buffer.alloc(8, 2), 3, 5, 32).equals(mac)).toBe(false);
  });
});
