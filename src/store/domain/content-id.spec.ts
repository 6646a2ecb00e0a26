import { createHash } from 'node:crypto';
import { ParleyError } from '../../common/errors';
import { ContentId } from './content-id';

// Vectors computed with multiformats 14 (CID.createV1(raw.code, sha256 digest)) outside jest.
const VECTORS = [
  {
    input: '',
    base32: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku',
    base58btc: 'zb2rhmy65F3REf8SZp7De11gxtECBGgUKaLdiDj7MCGCHxbDW',
    base36: 'k2cwueebp9wws0fnm29jatrrbqocjaivp132efhd99cd5phw2odywbit',
  },
  {
    input: 'hello',
    base32: 'bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq',
    base58btc: 'zb2rhZfjRh2FHHB2RkHVEvL2vJnCTcu7kwRqgVsf9gpkLgteo',
    base36: 'k2cwue9rqdypmt3thjky14z1tk9fi9f0o5w7b3ofitdewlcf87lismqs',
  },
  {
    input: 'parley',
    base32: 'bafkreigwrhp43isolgirjdiwp3juzlhq3a7cybeaazul27yppl274whewq',
    base58btc: 'zb2rhm5kNqHvHezhAFHphb6s5HKxAVaz1JnoJj6SCyK9V6RUo',
    base36: 'k2cwuedzwg6ydy4c4fe0jxfxqkc99a04ofqte8gzee0i2xw6tpte2dv8',
  },
];

function invalidArgument(fn: () => unknown): ParleyError {
  try {
    fn();
  } catch (err) {
    expect(ParleyError.is(err, 'invalid_argument')).toBe(true);
    return err as ParleyError;
  }
  throw new Error('expected an invalid_argument error');
}

describe('ContentId', () => {
  it.each(VECTORS)('computes CIDv1 raw sha2-256 of "$input" like multiformats', (v) => {
    expect(ContentId.of(Buffer.from(v.input)).toString()).toBe(v.base32);
    expect(ContentId.fromSha256(createHash('sha256').update(v.input).digest()).toString()).toBe(v.base32);
  });

  it.each(VECTORS)('parses base32, upper-case base32, base58btc and base36 forms of "$input" to the canonical base32', (v) => {
    for (const text of [v.base32, `B${v.base32.slice(1).toUpperCase()}`, v.base58btc, v.base36, `K${v.base36.slice(1).toUpperCase()}`]) {
      expect(ContentId.parse(text).toString()).toBe(v.base32);
    }
  });

  it('parses sha256:<hex> digests', () => {
    const hex = createHash('sha256').update('hello').digest('hex');
    expect(ContentId.parseDigest(`sha256:${hex}`).toString()).toBe(VECTORS[1].base32);
    expect(ContentId.parseDigest(VECTORS[1].base58btc).sha256Hex).toBe(`sha256:${hex}`);
    invalidArgument(() => ContentId.parseDigest(`sha256:${hex.toUpperCase()}`));
    invalidArgument(() => ContentId.parseDigest(`sha256:${hex.slice(2)}`));
  });

  it.each([
    ['empty', ''],
    ['not a multibase', 'hello'],
    ['cidv0', 'QmRN6wdp1S2A5EtjW9A3M1vKSBuQQGcgvuhoMUoEz4iiT5'],
    ['dag-pb codec', 'bafybeibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq'],
    ['dag-json codec', 'bagaaieraftze3os7wcrq4jxihmvmlopctynrmhs4d6tuexttaqzwfe4ltasa'],
    ['sha2-512', 'bafkrgqe3ohjcjplc6n4f3fwunlj6upltggn7xqujbsvnvyw764srszz4u4rshq6ztos4chl4plgg4ffyyxnayrtdi5oc4xb2332g645433aeg'],
    ['truncated', VECTORS[1].base32.slice(0, -4)],
    ['extra byte', `${VECTORS[1].base32}aa`],
    ['bad base32 character', `${VECTORS[1].base32.slice(0, -1)}1`],
    ['non-canonical trailing bits', `${VECTORS[1].base32.slice(0, -1)}r`],
    ['mixed-case base32', `B${VECTORS[1].base32.slice(1)}`],
    ['too long', `b${'a'.repeat(200)}`],
  ])('refuses %s', (_name, text) => {
    const err = invalidArgument(() => ContentId.parse(text, 'ref.cid'));
    expect(err.message).toMatch(/^ref\.cid: invalid cid: /);
  });

  it('refuses non-strings', () => {
    invalidArgument(() => ContentId.parse(undefined));
    invalidArgument(() => ContentId.parse(42));
  });

  it('compares by digest', () => {
    expect(ContentId.parse(VECTORS[0].base58btc).equals(ContentId.of(Buffer.alloc(0)))).toBe(true);
    expect(ContentId.of(Buffer.from('a')).equals(ContentId.of(Buffer.from('b')))).toBe(false);
  });
});
