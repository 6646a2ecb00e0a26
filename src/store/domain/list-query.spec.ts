import { storeLimits } from './limits';
import { decodeCursor, encodeCursor, parseListQuery } from './list-query';
import { microsToTimestamp, timestampToMicros } from './record';
import { parleyCodeOf as codeOf } from '../../../test/support/parley-errors';

const limits = storeLimits({ defaultPageSize: 10, maxPageSize: 50 });


describe('List query', () => {
  it('applies page size defaults and caps', () => {
    expect(parseListQuery({}, limits).pageSize).toBe(10);
    expect(parseListQuery({ pageSize: 7 }, limits).pageSize).toBe(7);
    expect(parseListQuery({ pageSize: 5000 }, limits).pageSize).toBe(50);
    expect(parseListQuery({}, limits).afterSeq).toBe(0n);
  });

  it('round-trips a cursor with the same filter', () => {
    const q = parseListQuery({ namespace: 'ml', includeSubNamespaces: true, annotations: { b: '2', a: '1' }, mediaType: 'Text/Plain' }, limits);
    const token = encodeCursor(12345678901234n, q.filter);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    // Annotation order does not matter; media type case does not matter.
    const same = parseListQuery({ namespace: 'ml', includeSubNamespaces: true, annotations: { a: '1', b: '2' }, mediaType: 'text/plain', pageToken: token }, limits);
    expect(same.afterSeq).toBe(12345678901234n);
  });

  it('refuses a cursor made for another filter, and malformed cursors', () => {
    const token = encodeCursor(5n, parseListQuery({ namespace: 'ml' }, limits).filter);
    expect(codeOf(() => parseListQuery({ namespace: 'other', pageToken: token }, limits))).toBe('invalid_argument');
    const filter = parseListQuery({}, limits).filter;
    for (const bad of ['%%%', 'x'.repeat(300), Buffer.from('{}').toString('base64url'), Buffer.from('[1,"-1","x"]').toString('base64url'), Buffer.from('[2,"1","x"]').toString('base64url')]) {
      expect(codeOf(() => decodeCursor(bad, filter))).toBe('invalid_argument');
    }
  });

  it('validates filters', () => {
    expect(codeOf(() => parseListQuery({ includeSubNamespaces: true }, limits))).toBe('invalid_argument');
    expect(codeOf(() => parseListQuery({ creatorTrustDomain: 'Not A Domain' }, limits))).toBe('invalid_argument');
    expect(parseListQuery({ creatorTrustDomain: 'partner.example' }, limits).filter.creatorTrustDomain).toBe('partner.example');
    expect(codeOf(() => parseListQuery({ pageSize: -1 }, limits))).toBe('invalid_argument');
    expect(codeOf(() => parseListQuery({ createdAfterMicros: 10n ** 20n }, limits))).toBe('invalid_argument');
  });
});

describe('timestamps', () => {
  it('converts microseconds to protobuf Timestamps and back exactly', () => {
    for (const micros of [0n, 1n, 1_700_000_000_123_456n, -1n, -1_500_000n]) {
      const ts = microsToTimestamp(micros);
      expect(ts.nanos).toBeGreaterThanOrEqual(0);
      expect(ts.nanos).toBeLessThan(1e9);
      expect(timestampToMicros(ts, 'f')).toBe(micros);
    }
    expect(timestampToMicros({ seconds: '1', nanos: 999 }, 'f')).toBe(1_000_000n);
    expect(codeOf(() => timestampToMicros({ seconds: 'x', nanos: 0 }, 'f'))).toBe('invalid_argument');
    expect(codeOf(() => timestampToMicros({ seconds: '1', nanos: 1e9 }, 'f'))).toBe('invalid_argument');
  });
});
