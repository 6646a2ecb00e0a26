/**
 * certInfo on real certificates from the test CA whose extensions are hand-encoded: a
 * malformed value of any extension the verifier applies is a `malformed_certificate` naming
 * the extension (and verification refuses the chain with that code), never a crash or a
 * silently missing field.
 */
import { TestCa } from '../../test/support/test-ca';
import { BundleSet, SpiffeError, TrustDomain, verifyX509Svid, X509Bundle } from './index';
import { certInfo, clearCertInfoCache, KU } from './x509-parse';

const NOW = new Date('2030-06-01T12:00:00Z');
const ID = 'spiffe://acme.test/w';
const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

let root: TestCa;
let bundles: BundleSet;

beforeAll(async () => {
  root = await TestCa.create({ trustDomain: 'acme.test', now: NOW });
  bundles = new BundleSet([X509Bundle.fromAuthorities(TrustDomain.parse('acme.test'), [root.certificate])]);
});

function refusal(fn: () => unknown): SpiffeError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SpiffeError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('certInfo with hand-encoded extensions', () => {
  it('reads a leaf whose SAN and key usage are given as raw values', async () => {
    const svid = await root.issueSvid({
      uris: [],
      keyUsage: null,
      extensions: [
        TestCa.extension('2.5.29.17', false, sanOf([ID], ['w.acme.test'])),
        TestCa.extension('2.5.29.15', true, hex('03 02 07 80')),
      ],
    });
    const info = certInfo(svid.chain[0]);
    expect(info.uris).toEqual([ID]);
    expect(info.dnsNames).toEqual(['w.acme.test']);
    expect(info.keyUsage).toBe(KU.digitalSignature);
    expect(verifyX509Svid(svid.chain, bundles, { role: 'client', now: NOW }).id.toString()).toBe(ID);
  });

  it.each([
    ['a truncated SAN', '2.5.29.17', 'uris', hex('30 10 86 0e 73 70 69 66')],
    ['a SAN with trailing bytes', '2.5.29.17', 'uris', Uint8Array.from([...sanOf([ID], []), 0x00])],
    ['a SAN entry that is not a general name', '2.5.29.17', 'uris', hex('30 03 0c 01 61')],
    ['key usage with set padding bits', '2.5.29.15', 'keyUsage', hex('03 02 03 84')],
    ['key usage that is not a bit string', '2.5.29.15', 'keyUsage', hex('04 02 07 80')],
    ['an EKU list holding a string', '2.5.29.37', 'ekus', hex('30 03 0c 01 61')],
    ['an EKU with a cut-off OID', '2.5.29.37', 'ekus', hex('30 04 06 02 2b 86')],
  ])('refuses %s as malformed_certificate naming the extension', async (_name, oid, omit, value) => {
    const svid = await root.issueSvid({
      ...(omit === 'uris' ? { uris: [] } : { id: ID }),
      ...(omit === 'keyUsage' ? { keyUsage: null } : {}),
      ...(omit === 'ekus' ? { ekus: null } : {}),
      extensions: [TestCa.extension(oid, false, value)],
    });
    const parse = refusal(() => certInfo(svid.chain[0], 0));
    expect(parse.code).toBe('malformed_certificate');
    expect(parse.message).toBe(`cannot parse certificate: malformed extension ${oid}`);
    expect(parse.details.index).toBe(0);
    expect(refusal(() => verifyX509Svid(svid.chain, bundles, { role: 'client', now: NOW })).code).toBe('malformed_certificate');
  });

  it('refuses a certificate with a second SAN extension', async () => {
    const svid = await root.issueSvid({ id: ID, extensions: [TestCa.extension('2.5.29.17', false, sanOf(['spiffe://acme.test/other'], []))] });
    const err = refusal(() => certInfo(svid.chain[0]));
    expect([err.code, err.message]).toEqual(['malformed_certificate', 'cannot parse certificate: duplicate extension 2.5.29.17']);
  });

  it('takes every URI of a SAN, so two are refused as leaf_multiple_uri_sans', async () => {
    const svid = await root.issueSvid({ uris: [], extensions: [TestCa.extension('2.5.29.17', false, sanOf([ID, 'spiffe://acme.test/x'], []))] });
    expect(certInfo(svid.chain[0]).uris).toEqual([ID, 'spiffe://acme.test/x']);
    expect(refusal(() => verifyX509Svid(svid.chain, bundles, { role: 'client', now: NOW })).code).toBe('leaf_multiple_uri_sans');
  });

  it('names the first unknown critical extension, and the verifier refuses it', async () => {
    const svid = await root.issueSvid({
      id: ID,
      extensions: [TestCa.extension('1.3.6.1.4.1.99999.1', false), TestCa.extension('1.3.6.1.4.1.99999.2', true), TestCa.extension('1.3.6.1.4.1.99999.3', true)],
    });
    expect(certInfo(svid.chain[0]).unsupportedCritical).toBe('1.3.6.1.4.1.99999.2');
    const err = refusal(() => verifyX509Svid(svid.chain, bundles, { role: 'client', now: NOW }));
    expect([err.code, err.details.oid]).toEqual(['unsupported_critical_extension', '1.3.6.1.4.1.99999.2']);
  });

  it('reads a path length of 2^24 (four integer octets), which the schema parse gave as text', async () => {
    const int = await root.intermediate({ pathLen: 1 << 24 });
    clearCertInfoCache();
    expect(certInfo(int.certificate).pathLen).toBe(1 << 24);
    const svid = await int.issueSvid({ id: ID });
    expect(verifyX509Svid(svid.chain, bundles, { role: 'client', now: NOW }).id.toString()).toBe(ID);
  });

  it('refuses a truncated certificate', async () => {
    const svid = await root.issueSvid({ id: ID });
    const der = svid.chain[0];
    for (const cut of [1, 10, der.length >> 1, der.length - 1]) {
      expect(refusal(() => certInfo(der.subarray(0, cut))).code).toBe('malformed_certificate');
    }
  });
});

/** A SubjectAltName value with the given URIs and DNS names. */
function sanOf(uris: string[], dnsNames: string[]): Uint8Array {
  const name = (tag: number, s: string) => [tag, s.length, ...Buffer.from(s, 'latin1')];
  const body = [...uris.map((u) => name(0x86, u)), ...dnsNames.map((d) => name(0x82, d))].flat();
  return Uint8Array.from([0x30, body.length, ...body]);
}
