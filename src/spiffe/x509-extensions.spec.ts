/**
 * The extension decoders of x509-extensions.ts: table cases for each extension (well-formed,
 * malformed, truncated), then two properties against @peculiar/asn1-x509 (the generic ASN.1
 * schema parse the decoders replace): on values it encodes, both read the same fields; on
 * mutated values, the decoders throw a plain Error or agree with it, never accept what it
 * reads differently.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1 from '@peculiar/asn1-x509';
import fc from 'fast-check';
import {
  decodeBasicConstraints,
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeNameConstraints,
  decodeSubjectAltName,
  type Subtree,
} from './x509-extensions';

const tlv = (tag: number, ...body: number[][]): number[] => {
  const content = body.flat();
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return [tag, ...len, ...content];
};
const bytes = (...parts: number[][]): Uint8Array => Uint8Array.from(parts.flat());
const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
const seq = (...body: number[][]) => tlv(0x30, ...body);
const bool = (v: boolean) => tlv(0x01, [v ? 0xff : 0x00]);
const int = (...b: number[]) => tlv(0x02, b);
const uri = (s: string) => tlv(0x86, ascii(s));
const dns = (s: string) => tlv(0x82, ascii(s));
const oid = (...b: number[]) => tlv(0x06, b);
const CLIENT_AUTH = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
const SERVER_AUTH = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
/** A directory name [4] holding `CN=x`. */
const dirName = tlv(0xa4, seq(tlv(0x31, seq(oid(0x55, 0x04, 0x03), tlv(0x0c, ascii('x'))))));
/** An otherName [0]: type-id and an explicit [0] value. */
const otherName = tlv(0xa0, oid(0x2b, 0x06, 0x01), tlv(0xa0, tlv(0x0c, ascii('v'))));

describe('decodeBasicConstraints', () => {
  it.each([
    ['an empty sequence', seq(), { isCa: false, pathLen: undefined }],
    ['cA true', seq(bool(true)), { isCa: true, pathLen: undefined }],
    ['cA false written out', seq(bool(false)), { isCa: false, pathLen: undefined }],
    ['cA true, path length 0', seq(bool(true), int(0)), { isCa: true, pathLen: 0 }],
    ['cA true, path length 300', seq(bool(true), int(0x01, 0x2c)), { isCa: true, pathLen: 300 }],
    ['path length 128 (a leading zero octet)', seq(bool(true), int(0x00, 0x80)), { isCa: true, pathLen: 128 }],
    ['a path length without cA', seq(int(2)), { isCa: false, pathLen: 2 }],
  ])('reads %s', (_name, value, expected) => {
    expect(decodeBasicConstraints(bytes(value))).toEqual(expected);
  });

  it.each([
    ['a negative path length', seq(bool(true), int(0xff))],
    ['a non-minimal path length', seq(bool(true), int(0x00, 0x01))],
    ['an empty integer', seq(bool(true), int())],
    ['a path length beyond 2^53', seq(bool(true), int(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))],
    ['a two-octet boolean', seq(tlv(0x01, [0xff, 0xff]))],
    ['the fields in the wrong order', seq(int(0), bool(true))],
    ['a third field', seq(bool(true), int(0), int(0))],
    ['trailing data after the sequence', [...seq(bool(true)), 0x00]],
    ['a set instead of a sequence', tlv(0x31, bool(true))],
    ['a truncated sequence', seq(bool(true)).slice(0, 4)],
    ['a length past the end', [0x30, 0x05, 0x01, 0x01, 0xff]],
    ['an indefinite length', [0x30, 0x80, 0x01, 0x01, 0xff, 0x00, 0x00]],
    ['nothing', []],
  ])('rejects %s', (_name, value) => {
    expect(() => decodeBasicConstraints(bytes(value))).toThrow(Error);
  });
});

describe('decodeKeyUsage', () => {
  it.each([
    ['digitalSignature', tlv(0x03, [0x07, 0x80]), 1],
    ['keyCertSign and cRLSign', tlv(0x03, [0x01, 0x06]), (1 << 5) | (1 << 6)],
    ['digitalSignature, keyEncipherment, keyAgreement', tlv(0x03, [0x03, 0xa8]), 1 | 4 | 16],
    ['decipherOnly (the ninth bit)', tlv(0x03, [0x07, 0x80, 0x80]), 1 | (1 << 8)],
    ['no bits', tlv(0x03, [0x00]), 0],
    ['a zero byte without unused bits', tlv(0x03, [0x00, 0x00]), 0],
  ])('reads %s', (_name, value, expected) => {
    expect(decodeKeyUsage(bytes(value))).toBe(expected);
  });

  it.each([
    ['set padding bits (a keyCertSign bit hidden in them)', tlv(0x03, [0x03, 0x84])],
    ['more than 7 unused bits', tlv(0x03, [0x08, 0x80])],
    ['unused bits in an empty string', tlv(0x03, [0x01])],
    ['no unused-bits octet', tlv(0x03, [])],
    ['an octet string', tlv(0x04, [0x07, 0x80])],
    ['trailing data', [...tlv(0x03, [0x07, 0x80]), 0x00]],
    ['a truncated value', [0x03, 0x02, 0x07]],
  ])('rejects %s', (_name, value) => {
    expect(() => decodeKeyUsage(bytes(value))).toThrow(Error);
  });
});

describe('decodeExtKeyUsage', () => {
  it('reads the purposes in order', () => {
    expect(decodeExtKeyUsage(bytes(seq(oid(...CLIENT_AUTH), oid(...SERVER_AUTH), oid(0x55, 0x1d, 0x25, 0x00))))).toEqual([
      '1.3.6.1.5.5.7.3.2',
      '1.3.6.1.5.5.7.3.1',
      '2.5.29.37.0',
    ]);
  });

  it('reads an empty list as no purpose (the verifier then finds no clientAuth)', () => {
    expect(decodeExtKeyUsage(bytes(seq()))).toEqual([]);
  });

  it.each([
    ['a purpose that is not an object identifier', seq(oid(...CLIENT_AUTH), tlv(0x0c, ascii('clientAuth')))],
    ['a truncated object identifier', seq(oid(0x2b, 0x86))],
    ['an empty object identifier', seq(oid())],
    ['trailing data', [...seq(oid(...CLIENT_AUTH)), 0x30]],
    ['a cut-off list', seq(oid(...CLIENT_AUTH)).slice(0, 6)],
  ])('rejects %s', (_name, value) => {
    expect(() => decodeExtKeyUsage(bytes(value))).toThrow(Error);
  });
});

describe('decodeSubjectAltName', () => {
  it('reads one URI', () => {
    expect(decodeSubjectAltName(bytes(seq(uri('spiffe://acme.test/w'))))).toEqual({ uris: ['spiffe://acme.test/w'], dnsNames: [] });
  });

  it('reads every URI, in order, so that several are refused by the leaf rules', () => {
    const san = decodeSubjectAltName(bytes(seq(uri('spiffe://acme.test/a'), dns('a.test'), uri('https://b.test/'), uri('spiffe://acme.test/c'))));
    expect(san).toEqual({ uris: ['spiffe://acme.test/a', 'https://b.test/', 'spiffe://acme.test/c'], dnsNames: ['a.test'] });
  });

  it('skips other name forms, checking their form', () => {
    const value = seq(
      tlv(0x81, ascii('a@b.test')),
      otherName,
      dirName,
      tlv(0x87, [127, 0, 0, 1]),
      tlv(0x88, [0x2b, 0x06, 0x01]),
      uri('spiffe://acme.test/w'),
    );
    expect(decodeSubjectAltName(bytes(value))).toEqual({ uris: ['spiffe://acme.test/w'], dnsNames: [] });
  });

  it('takes names byte for byte (the SPIFFE ID parser judges the characters)', () => {
    expect(decodeSubjectAltName(bytes(seq(tlv(0x86, [0x73, 0xe9, 0x00]))))).toEqual({ uris: ['s\u00e9\u0000'], dnsNames: [] });
    expect(decodeSubjectAltName(bytes(seq(uri(''))))).toEqual({ uris: [''], dnsNames: [] });
  });

  it('reads an empty list as no names', () => {
    expect(decodeSubjectAltName(bytes(seq()))).toEqual({ uris: [], dnsNames: [] });
  });

  it('reads a long URI (two-octet length)', () => {
    const long = `spiffe://acme.test/${'a'.repeat(400)}`;
    expect(decodeSubjectAltName(bytes(seq(uri(long)))).uris).toEqual([long]);
  });

  it.each([
    ['a universal string instead of a general name', seq(tlv(0x16, ascii('spiffe://acme.test/w')))],
    ['a constructed URI', seq(tlv(0xa6, uri('spiffe://acme.test/w')))],
    ['a primitive otherName', seq(tlv(0x80, ascii('x')))],
    ['an empty x400Address (a constructed form holds at least one element)', seq(tlv(0xa3, []))],
    ['an empty otherName', seq(tlv(0xa0, []))],
    ['a primitive directory name', seq(tlv(0x84, ascii('x')))],
    ['a context tag beyond [8]', seq(tlv(0x89, ascii('x')))],
    ['an application tag', seq(tlv(0x46, ascii('x')))],
    ['a multi-byte tag', seq([0x9f, 0x1f, 0x01, 0x00])],
    ['a malformed registered ID', seq(tlv(0x88, [0x2b, 0x86]))],
    ['a truncated otherName inside', seq(tlv(0xa0, [0x06, 0x05, 0x2b]))],
    ['an element that runs past its name', seq(tlv(0xa4, [0x30, 0x09, 0x31, 0x00]))],
    ['nesting deeper than the limit', seq(Array.from({ length: 20 }).reduce<number[]>((inner) => tlv(0xa0, inner), []))],
    ['a URI whose length runs past the list', [0x30, 0x04, 0x86, 0x10, 0x61, 0x62]],
    ['a list cut short', seq(uri('spiffe://acme.test/w')).slice(0, 10)],
    ['trailing data after the list', [...seq(uri('spiffe://acme.test/w')), 0x86, 0x00]],
    ['a second list', [...seq(uri('spiffe://acme.test/a')), ...seq(uri('spiffe://acme.test/b'))]],
    ['an indefinite length', [0x30, 0x80, ...uri('spiffe://a/b'), 0x00, 0x00]],
    ['a five-octet length', [0x30, 0x84, 0x00, 0x00, 0x00, 0x02, ...uri('')]],
  ])('rejects %s', (_name, value) => {
    expect(() => decodeSubjectAltName(bytes(value))).toThrow(Error);
  });
});

describe('decodeNameConstraints', () => {
  const subtree = (base: number[], ...rest: number[][]) => seq(base, ...rest);

  it('reads permitted and excluded URI and DNS subtrees', () => {
    const value = seq(tlv(0xa0, subtree(uri('acme.test')), subtree(dns('.acme.test'))), tlv(0xa1, subtree(uri('evil.test'))));
    expect(decodeNameConstraints(bytes(value))).toEqual({
      permitted: [
        { kind: 'uri', value: 'acme.test' },
        { kind: 'dns', value: '.acme.test' },
      ],
      excluded: [{ kind: 'uri', value: 'evil.test' }],
    });
  });

  it('reads only excluded subtrees, and a minimum of 0 written out', () => {
    expect(decodeNameConstraints(bytes(seq(tlv(0xa1, subtree(dns('x.test'), tlv(0x80, [0]))))))).toEqual({
      permitted: [],
      excluded: [{ kind: 'dns', value: 'x.test' }],
    });
  });

  it.each<[string, number[], Subtree]>([
    ['an IP address', subtree(tlv(0x87, [10, 0, 0, 0, 255, 0, 0, 0])), { kind: 'unsupported', what: 'ip address constraint' }],
    ['an email', subtree(tlv(0x81, ascii('acme.test'))), { kind: 'unsupported', what: 'email constraint' }],
    ['a directory name', subtree(dirName), { kind: 'unsupported', what: 'directory name constraint' }],
    ['an otherName', subtree(otherName), { kind: 'unsupported', what: 'constraint of an unsupported name form' }],
    ['a minimum of 1', subtree(uri('acme.test'), tlv(0x80, [1])), { kind: 'unsupported', what: 'subtree with minimum or maximum' }],
    ['a maximum', subtree(uri('acme.test'), tlv(0x81, [3])), { kind: 'unsupported', what: 'subtree with minimum or maximum' }],
  ])('marks %s as unsupported (the verifier refuses a chain under it)', (_name, value, expected) => {
    expect(decodeNameConstraints(bytes(seq(tlv(0xa0, value)))).permitted).toEqual([expected]);
  });

  it('reads an empty sequence as no constraint', () => {
    expect(decodeNameConstraints(bytes(seq()))).toEqual({ permitted: [], excluded: [] });
  });

  it.each([
    ['an empty list of subtrees', seq(tlv(0xa0))],
    ['excluded before permitted', seq(tlv(0xa1, subtree(uri('a.test'))), tlv(0xa0, subtree(uri('b.test'))))],
    ['permitted twice', seq(tlv(0xa0, subtree(uri('a.test'))), tlv(0xa0, subtree(uri('b.test'))))],
    ['a subtree that is not a sequence', seq(tlv(0xa0, uri('a.test')))],
    ['a subtree without a base', seq(tlv(0xa0, subtree([])))],
    ['maximum before minimum', seq(tlv(0xa0, subtree(uri('a.test'), tlv(0x81, [3]), tlv(0x80, [0]))))],
    ['a negative minimum', seq(tlv(0xa0, subtree(uri('a.test'), tlv(0x80, [0xff]))))],
    ['an extra element in a subtree', seq(tlv(0xa0, subtree(uri('a.test'), int(0))))],
    ['a primitive [0] list', seq(tlv(0x80, subtree(uri('a.test'))))],
    ['trailing data', [...seq(tlv(0xa0, subtree(uri('a.test')))), 0x00]],
    ['a cut-off value', seq(tlv(0xa0, subtree(uri('acme.test')))).slice(0, 9)],
  ])('rejects %s', (_name, value) => {
    expect(() => decodeNameConstraints(bytes(value))).toThrow(Error);
  });
});

/** What @peculiar/asn1-x509 reads from the same values, in the decoders' shapes. */
const reference = {
  basicConstraints(value: Uint8Array) {
    const bc = AsnConvert.parse(value, asn1.BasicConstraints);
    // It gives integers of 4 octets and more as decimal text (which x509-parse.ts, when it
    // used this parse, refused as an invalid path length).
    return { isCa: bc.cA === true, pathLen: bc.pathLenConstraint === undefined ? undefined : Number(bc.pathLenConstraint) };
  },
  keyUsage(value: Uint8Array) {
    const raw = new Uint8Array(AsnConvert.parse(value, asn1.KeyUsage).value);
    let flags = 0;
    for (let i = 0; i < Math.min(raw.length * 8, 16); i++) if ((raw[i >> 3] >> (7 - (i & 7))) & 1) flags |= 1 << i;
    return flags;
  },
  extKeyUsage(value: Uint8Array) {
    return [...AsnConvert.parse(value, asn1.ExtendedKeyUsage)];
  },
  subjectAltName(value: Uint8Array) {
    const names = [...AsnConvert.parse(value, asn1.SubjectAlternativeName)];
    return {
      uris: names.filter((n) => n.uniformResourceIdentifier !== undefined).map((n) => n.uniformResourceIdentifier),
      dnsNames: names.filter((n) => n.dNSName !== undefined).map((n) => n.dNSName),
    };
  },
};

const asciiText = fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'x'));
const generalName = fc.oneof(
  asciiText.map((s) => new asn1.GeneralName({ uniformResourceIdentifier: s })),
  asciiText.map((s) => new asn1.GeneralName({ dNSName: s })),
  asciiText.map((s) => new asn1.GeneralName({ rfc822Name: s })),
  fc.constantFrom(new asn1.GeneralName({ iPAddress: '10.0.0.1' }), new asn1.GeneralName({ registeredID: '1.2.3.4' })),
);
const der = (value: object) => new Uint8Array(AsnConvert.serialize(value));
const basicConstraints = fc
  .record({ cA: fc.boolean(), pathLen: fc.option(fc.integer({ min: 0, max: 1 << 30 }), { nil: undefined }) })
  .map(({ cA, pathLen }) => der(new asn1.BasicConstraints({ cA, pathLenConstraint: pathLen })));
const keyUsage = fc.integer({ min: 1, max: 0x1ff }).map((flags) => der(new asn1.KeyUsage(flags)));
const extKeyUsage = fc
  .array(fc.constantFrom(asn1.id_kp_clientAuth, asn1.id_kp_serverAuth, asn1.anyExtendedKeyUsage, '1.2.3.4.5', '2.999.1'), { minLength: 1, maxLength: 5 })
  .map((ekus) => der(new asn1.ExtendedKeyUsage(ekus)));
const subjectAltName = fc.array(generalName, { minLength: 1, maxLength: 6 }).map((names) => der(new asn1.SubjectAlternativeName(names)));

const cases = [
  ['basic constraints', basicConstraints, decodeBasicConstraints, reference.basicConstraints],
  ['key usage', keyUsage, decodeKeyUsage, reference.keyUsage],
  ['extended key usage', extKeyUsage, decodeExtKeyUsage, reference.extKeyUsage],
  ['subject alternative names', subjectAltName, decodeSubjectAltName, reference.subjectAltName],
] as const;

describe('against @peculiar/asn1-x509', () => {
  it.each(cases)('reads generated %s as it does (2,000 runs)', (_name, arbitrary, decode, ref) => {
    fc.assert(
      fc.property(arbitrary as fc.Arbitrary<Uint8Array>, (value) => {
        expect((decode as (v: Uint8Array) => unknown)(value)).toEqual((ref as (v: Uint8Array) => unknown)(value));
      }),
      { numRuns: 2000 },
    );
  });

  it.each(cases)('on mutated %s, throws an Error or agrees with it (5,000 runs)', (_name, arbitrary, decode, ref) => {
    const mutatedValue = fc.tuple(arbitrary as fc.Arbitrary<Uint8Array>, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }), fc.option(fc.nat()));
    fc.assert(
      fc.property(mutatedValue, ([base, edits, cut]) => {
        const value = Uint8Array.from(base);
        for (const [pos, byte] of edits) value[pos % value.length] = byte;
        const input = cut === null ? value : value.subarray(0, cut % (value.length + 1));
        let ours: unknown;
        try {
          ours = (decode as (v: Uint8Array) => unknown)(input);
        } catch (err) {
          return err instanceof Error;
        }
        let theirs: unknown;
        try {
          theirs = (ref as (v: Uint8Array) => unknown)(input);
        } catch {
          return false; // we accepted what the schema parse refuses
        }
        expect(ours).toEqual(theirs);
        return true;
      }),
      { numRuns: 5000 },
    );
  });

  it('reads generated name constraints as it does (1,000 runs)', () => {
    const subtree = generalName.map((base) => new asn1.GeneralSubtree({ base }));
    const subtrees = fc.option(fc.array(subtree, { minLength: 1, maxLength: 4 }), { nil: undefined });
    fc.assert(
      fc.property(subtrees, subtrees, (permitted, excluded) => {
        const value = der(
          new asn1.NameConstraints({
            permittedSubtrees: permitted && new asn1.GeneralSubtrees(permitted),
            excludedSubtrees: excluded && new asn1.GeneralSubtrees(excluded),
          }),
        );
        const nc = AsnConvert.parse(value, asn1.NameConstraints);
        const kinds = (list: asn1.GeneralSubtrees | undefined) =>
          (list ?? []).map((s) => s.base.uniformResourceIdentifier ?? s.base.dNSName ?? 'unsupported');
        const ours = decodeNameConstraints(value);
        const shown = (list: readonly Subtree[]) => list.map((s) => (s.kind === 'unsupported' ? 'unsupported' : s.value));
        expect([shown(ours.permitted), shown(ours.excluded)]).toEqual([kinds(nc.permittedSubtrees), kinds(nc.excludedSubtrees)]);
      }),
      { numRuns: 1000 },
    );
  });
});
