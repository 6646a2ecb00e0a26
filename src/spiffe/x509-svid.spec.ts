import { createPublicKey } from 'node:crypto';
import { KeyUsage, TestCa } from '../../test/support/test-ca';
import { parseDerCertificates, parsePemCertificates, parseX509Svid, SpiffeError, SpiffeErrorCode } from './index';
import { codeOf } from '../../test/support/spiffe-errors';

const NOW = new Date('2030-01-01T00:00:00Z');
const ID = 'spiffe://acme.test/gateway';
let root: TestCa;
let int: TestCa;

beforeAll(async () => {
  root = await TestCa.create({ trustDomain: 'acme.test', now: NOW });
  int = await root.intermediate();
});


describe('parseX509Svid', () => {
  it('parses PEM chain + PKCS#8 key; exposes id, chain, key, notAfter and PEM output', async () => {
    const issued = await int.issueSvid({ id: ID });
    const svid = parseX509Svid(issued.chainPem, issued.keyPem);
    expect(svid.id.toString()).toBe(ID);
    expect(svid.certificates.map((c) => c.fingerprint256)).toEqual(
      [issued.certificate, int.certificate].map((c) => c.fingerprint256),
    );
    expect(svid.leaf.fingerprint256).toBe(issued.certificate.fingerprint256);
    expect(svid.notAfter.toISOString()).toBe(new Date(issued.certificate.validTo).toISOString());
    expect(createPublicKey(svid.privateKey).equals(issued.certificate.publicKey)).toBe(true);
    expect(parsePemCertificates(svid.certChainPem())).toHaveLength(2);
    expect(svid.privateKeyPem()).toContain('-----BEGIN PRIVATE KEY-----');
    expect(svid.certChainDer().map((d) => d.length)).toEqual(issued.chain.map((d) => d.length));
    expect(Object.isFrozen(svid) && Object.isFrozen(svid.certificates)).toBe(true);
    expect(String(svid)).toBe(`X509Svid(${ID})`);
  });

  it('parses DER: concatenated certificates and a PKCS#8 key', async () => {
    const issued = await int.issueSvid({ id: ID });
    const svid = parseX509Svid(Buffer.concat(issued.chain), issued.keyDer);
    expect(svid.id.toString()).toBe(ID);
    expect(svid.certificates).toHaveLength(2);
  });

  it('one PEM file holding key and chain in any order, with unrelated blocks skipped', async () => {
    const issued = await int.issueSvid({ id: ID });
    const junk = '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n';
    const file = `${junk}${issued.keyPem}${issued.chainPem}`;
    expect(parseX509Svid(file, file).certificates).toHaveLength(2);
  });

  it('is not time-bound: an expired SVID still parses (rotation logic reads notAfter)', async () => {
    const issued = await root.issueSvid({ id: ID, notBefore: new Date('2001-01-01'), notAfter: new Date('2002-01-01') });
    expect(parseX509Svid(issued.certPem, issued.keyPem).notAfter.getUTCFullYear()).toBe(2002);
  });

  it.each<[string, Parameters<TestCa['issueSvid']>[0], SpiffeErrorCode]>([
    ['no URI SAN', { uris: [] }, 'leaf_no_uri_san'],
    ['two URI SANs', { uris: [ID, `${ID}2`] }, 'leaf_multiple_uri_sans'],
    ['an invalid SPIFFE ID', { uris: ['spiffe://acme.test/a//b'] }, 'invalid_spiffe_id'],
    ['an empty path (DECIDED, also for our own SVID)', { id: 'spiffe://acme.test' }, 'leaf_empty_path'],
    ['cA true', { id: ID, isCa: true }, 'leaf_is_ca'],
    ['no key usage', { id: ID, keyUsage: null }, 'leaf_key_usage_missing'],
    ['no digitalSignature', { id: ID, keyUsage: KeyUsage.keyAgreement }, 'leaf_no_digital_signature'],
    ['keyCertSign', { id: ID, keyUsage: KeyUsage.digitalSignature | KeyUsage.keyCertSign }, 'leaf_key_cert_sign'],
    ['cRLSign', { id: ID, keyUsage: KeyUsage.digitalSignature | KeyUsage.cRLSign }, 'leaf_crl_sign'],
  ])('leaf with %s -> %s', async (_name, opts, code) => {
    const issued = await root.issueSvid(opts);
    expect(codeOf(() => parseX509Svid(issued.certPem, issued.keyPem))).toBe(code);
  });

  it('intermediates must be CA with keyCertSign', async () => {
    const notCa = await (await root.intermediate({ ca: false })).issueSvid({ id: ID });
    expect(codeOf(() => parseX509Svid(notCa.chainPem, notCa.keyPem))).toBe('intermediate_not_ca');
    const noSign = await (await root.intermediate({ keyCertSign: false })).issueSvid({ id: ID });
    expect(codeOf(() => parseX509Svid(noSign.chainPem, noSign.keyPem))).toBe('intermediate_no_key_cert_sign');
  });

  it('key must match the leaf', async () => {
    const a = await root.issueSvid({ id: ID });
    const b = await root.issueSvid({ id: ID });
    const err = (() => {
      try {
        parseX509Svid(a.certPem, b.keyPem);
      } catch (e) {
        return e as SpiffeError;
      }
    })();
    expect(err?.code).toBe('key_mismatch');
    expect(err?.details).toEqual({ spiffeId: ID, serial: a.certificate.serialNumber });
    expect(err?.message).not.toContain('PRIVATE');
  });

  it('input errors', async () => {
    const issued = await root.issueSvid({ id: ID });
    expect(codeOf(() => parseX509Svid('', issued.keyPem))).toBe('no_certificates');
    expect(codeOf(() => parseX509Svid(Buffer.alloc(0), issued.keyPem))).toBe('no_certificates');
    expect(codeOf(() => parseX509Svid(issued.certPem, ''))).toBe('no_private_key');
    expect(codeOf(() => parseX509Svid(issued.certPem, Buffer.alloc(0)))).toBe('no_private_key');
    expect(codeOf(() => parseX509Svid(issued.certPem, Buffer.from([0x30, 0x03, 2, 1, 0])))).toBe('malformed_key');
    const truncated = issued.certPem.slice(0, issued.certPem.length - 30);
    expect(codeOf(() => parseX509Svid(truncated, issued.keyPem))).toBe('malformed_certificate');
    const badBase64 = issued.certPem.replace(/\n[A-Za-z]/, '\n*');
    expect(codeOf(() => parseX509Svid(badBase64, issued.keyPem))).toBe('malformed_certificate');
    expect(() => parseX509Svid(42 as unknown as string, issued.keyPem)).toThrow(TypeError);
  });
});

describe('parsePemCertificates / parseDerCertificates', () => {
  it('read the same chain from PEM and from concatenated DER', async () => {
    const issued = await int.issueSvid({ id: ID });
    const fromPem = parsePemCertificates(issued.chainPem);
    const fromDer = parseDerCertificates(Buffer.concat(issued.chain));
    expect(fromDer.map((c) => c.fingerprint256)).toEqual(fromPem.map((c) => c.fingerprint256));
    expect(parsePemCertificates('')).toEqual([]);
    expect(parseDerCertificates(Buffer.alloc(0))).toEqual([]);
  });

  it('reject trailing garbage, truncation and indefinite lengths in DER', async () => {
    const issued = await root.issueSvid({ id: ID });
    expect(codeOf(() => parseDerCertificates(Buffer.concat([issued.certDer, Buffer.from([0x30])])))).toBe(
      'malformed_certificate',
    );
    expect(codeOf(() => parseDerCertificates(issued.certDer.subarray(0, issued.certDer.length - 1)))).toBe(
      'malformed_certificate',
    );
    expect(codeOf(() => parseDerCertificates(Buffer.from([0x30, 0x80, 0, 0])))).toBe('malformed_certificate');
  });
});
