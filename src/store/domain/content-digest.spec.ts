import { createHash } from 'node:crypto';
import { ContentDigest } from './content-digest';
import { ContentId } from './content-id';
import { parleyCodeOf as codeOf } from '../../../test/support/parley-errors';

const bytes = Buffer.from('the quick brown fox');
const cid = ContentId.of(bytes);

function feed(d: ContentDigest, data: Buffer, piece = 4): void {
  for (let i = 0; i < data.length; i += piece) d.update(data.subarray(i, i + piece));
}


describe('ContentDigest', () => {
  it('returns the CID and size of the streamed bytes, whatever the piece sizes', () => {
    for (const piece of [1, 3, 100]) {
      const d = new ContentDigest({ maxBytes: 100 });
      feed(d, bytes, piece);
      expect(d.finish()).toEqual({ cid, size: bytes.length });
    }
    expect(new ContentDigest({ maxBytes: 0 }).finish().cid.digest.equals(createHash('sha256').digest())).toBe(true);
  });

  it('accepts matching expectations', () => {
    const d = new ContentDigest({ maxBytes: 100, expectedSize: bytes.length, expectedDigest: cid });
    feed(d, bytes);
    expect(d.finish().cid.equals(cid)).toBe(true);
  });

  it('fails at the first byte beyond the maximum (resource_exhausted) or beyond the announced size (invalid_argument)', () => {
    const max = new ContentDigest({ maxBytes: 10 });
    max.update(bytes.subarray(0, 10));
    expect(codeOf(() => max.update(Buffer.from('x')))).toBe('resource_exhausted');
    const announced = new ContentDigest({ maxBytes: 100, expectedSize: 5 });
    announced.update(bytes.subarray(0, 5));
    expect(codeOf(() => announced.update(Buffer.from('x')))).toBe('invalid_argument');
  });

  it('fails finish on a short payload or a digest mismatch', () => {
    const short = new ContentDigest({ maxBytes: 100, expectedSize: bytes.length + 1 });
    feed(short, bytes);
    expect(codeOf(() => short.finish())).toBe('invalid_argument');
    const wrong = new ContentDigest({ maxBytes: 100, expectedDigest: ContentId.of(Buffer.from('other')) });
    feed(wrong, bytes);
    expect(() => wrong.finish()).toThrow(/^push: digest mismatch: payload is bafkrei/);
  });

  it('refuses an announced size above the maximum before any byte', () => {
    expect(codeOf(() => new ContentDigest({ maxBytes: 10, expectedSize: 11 }))).toBe('resource_exhausted');
    expect(codeOf(() => new ContentDigest({ maxBytes: 10, expectedSize: -1 }))).toBe('invalid_argument');
  });
});
