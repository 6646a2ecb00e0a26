import { decodeOid, readTbsFields } from './der';

/** A minimal TBS-shaped certificate: only the fields der.ts walks, with the given times. */
function fakeCert(notBefore: number[], notAfter: number[], extensions: number[] = []): Uint8Array {
  const tlv = (tag: number, body: number[]): number[] => [tag, body.length, ...body];
  const tbs = tlv(0x30, [
    ...tlv(0x02, [1]),
    ...tlv(0x30, []),
    ...tlv(0x30, []),
    ...tlv(0x30, [...notBefore, ...notAfter]),
    ...tlv(0x30, []),
    ...tlv(0x30, []),
    ...(extensions.length > 0 ? tlv(0xa3, tlv(0x30, extensions)) : []),
  ]);
  return Uint8Array.from(tlv(0x30, [...tbs, ...tlv(0x30, []), ...tlv(0x03, [0])]));
}
const time = (tag: number, text: string) => [tag, text.length, ...Buffer.from(text, 'latin1')];

describe('der', () => {
  it('decodes object identifiers', () => {
    expect(decodeOid(Uint8Array.from([0x55, 0x1d, 0x13]))).toBe('2.5.29.19');
    expect(decodeOid(Uint8Array.from([0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01]))).toBe('1.3.6.1.5.5.7.3.1');
    expect(decodeOid(Uint8Array.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]))).toBe('1.2.840.113549');
    expect(() => decodeOid(Uint8Array.from([0x2a, 0x86]))).toThrow();
    expect(() => decodeOid(Uint8Array.from([0x2a, 0x80, 0x01]))).toThrow();
  });

  it('reads UTCTime (1950–2049 window) and GeneralizedTime', () => {
    const f = readTbsFields(fakeCert(time(0x17, '500101000000Z'), time(0x18, '20500101000000Z')));
    expect(new Date(f.notBefore).toISOString()).toBe('1950-01-01T00:00:00.000Z');
    expect(new Date(f.notAfter).toISOString()).toBe('2050-01-01T00:00:00.000Z');
    expect(new Date(readTbsFields(fakeCert(time(0x17, '491231235959Z'), time(0x17, '491231235959Z'))).notAfter).toISOString()).toBe(
      '2049-12-31T23:59:59.000Z',
    );
  });

  it.each([
    ['local time', time(0x17, '500101000000+0100')],
    ['no seconds', time(0x17, '5001010000Z')],
    ['fractional seconds', time(0x18, '20500101000000.5Z')],
    ['February 30', time(0x17, '300230000000Z')],
    ['hour 24', time(0x17, '300101240000Z')],
    ['not a time', [0x04, 0x01, 0x00]],
  ])('rejects %s', (_name, bad) => {
    expect(() => readTbsFields(fakeCert(bad, time(0x17, '300101000000Z')))).toThrow();
  });

  it('reads extensions with and without the critical flag', () => {
    const ext = (oid: number[], critical: boolean | undefined, value: number[]) => {
      const body = [0x06, oid.length, ...oid, ...(critical === undefined ? [] : [0x01, 0x01, critical ? 0xff : 0x00]), 0x04, value.length, ...value];
      return [0x30, body.length, ...body];
    };
    const f = readTbsFields(
      fakeCert(time(0x17, '300101000000Z'), time(0x17, '300201000000Z'), [
        ...ext([0x55, 0x1d, 0x13], true, [0x30, 0x00]),
        ...ext([0x55, 0x1d, 0x0e], undefined, [0x04, 0x00]),
      ]),
    );
    expect(f.extensions.map((e) => [e.oid, e.critical, e.value.length])).toEqual([
      ['2.5.29.19', true, 2],
      ['2.5.29.14', false, 2],
    ]);
  });

  it('rejects trailing data, truncation and multi-byte tags', () => {
    const good = fakeCert(time(0x17, '300101000000Z'), time(0x17, '300201000000Z'));
    expect(() => readTbsFields(Uint8Array.from([...good, 0]))).toThrow();
    expect(() => readTbsFields(good.subarray(0, good.length - 1))).toThrow();
    expect(() => readTbsFields(Uint8Array.from([0x1f, 0x01, 0x00]))).toThrow();
  });
});
