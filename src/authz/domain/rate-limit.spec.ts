import { BucketTable, newBucket, refill, takeAll, validateBucketSpec } from './rate-limit';

const spec = { ratePerSecond: 10, burst: 5 };

/** Takes from one table until refused; returns how many calls went through (bounded). */
function drain(table: BucketTable, key: string, nowMs: number, max = 1000): number {
  let n = 0;
  while (n < max && takeAll([{ table, key }], nowMs) === -1) n++;
  return n;
}

describe('token bucket', () => {
  it('starts full: a new caller may send a whole burst, then is refused', () => {
    const t = new BucketTable(spec, 100);
    expect(drain(t, 'a', 0)).toBe(5);
    expect(takeAll([{ table: t, key: 'a' }], 0)).toBe(0);
  });

  it('refills at the rate and never above the burst', () => {
    const t = new BucketTable(spec, 100);
    drain(t, 'a', 0);
    expect(drain(t, 'a', 99)).toBe(0); // 0.99 tokens
    expect(drain(t, 'a', 100)).toBe(1);
    expect(drain(t, 'a', 350)).toBe(2); // 2.5 tokens earned, the half stays
    expect(drain(t, 'a', 400)).toBe(1);
    expect(drain(t, 'a', 60_000)).toBe(5); // an hour of quiet is still one burst
  });

  it('adds nothing when the clock goes back', () => {
    const b = newBucket(spec, 1000);
    b.tokens = 0;
    refill(b, spec, 500);
    expect(b).toEqual({ tokens: 0, updatedMs: 1000, used: 0 });
  });

  it('keeps callers apart', () => {
    const t = new BucketTable(spec, 100);
    drain(t, 'a', 0);
    expect(drain(t, 'b', 0)).toBe(5);
  });

  it('is off at rate 0', () => {
    const t = new BucketTable({ ratePerSecond: 0, burst: 1 }, 100);
    expect(t.enabled).toBe(false);
    expect(drain(t, 'a', 0, 50)).toBe(50);
    expect(t.size).toBe(0);
  });

  it.each([
    [{ ratePerSecond: -1, burst: 1 }],
    [{ ratePerSecond: Number.NaN, burst: 1 }],
    [{ ratePerSecond: 1, burst: 0 }],
    [{ ratePerSecond: 1, burst: Number.POSITIVE_INFINITY }],
  ])('refuses the misconfiguration %j', (bad) => {
    expect(() => validateBucketSpec(bad)).toThrow(TypeError);
  });
});

describe('bounded bucket table', () => {
  it('drops full (idle) buckets first when it reaches its bound', () => {
    const t = new BucketTable(spec, 3);
    drain(t, 'busy1', 0);
    drain(t, 'busy2', 0);
    t.bucket('idle', 0); // full, never used
    t.bucket('new', 0);
    expect(t.size).toBe(3);
    // The busy callers kept their empty buckets: no free burst for them.
    expect(drain(t, 'busy1', 0)).toBe(0);
    expect(drain(t, 'busy2', 0)).toBe(0);
  });

  it('drops the least recently used bucket when none is full', () => {
    const t = new BucketTable(spec, 2);
    drain(t, 'a', 0);
    drain(t, 'b', 0);
    drain(t, 'a', 10); // a is now the most recently used
    drain(t, 'c', 20);
    expect(t.size).toBe(2);
    expect(drain(t, 'a', 20)).toBe(0); // kept (still empty)
    expect(drain(t, 'b', 20)).toBe(5); // was dropped: starts full again
  });

  it('evicts by use, not by insertion, without reordering on use', () => {
    const t = new BucketTable(spec, 3);
    drain(t, 'first', 0);
    drain(t, 'second', 0);
    drain(t, 'third', 0);
    drain(t, 'first', 1); // inserted first, used last
    drain(t, 'second', 2);
    drain(t, 'new', 3); // third is the least recently used
    expect(drain(t, 'first', 3)).toBe(0);
    expect(drain(t, 'second', 3)).toBe(0);
    expect(drain(t, 'third', 3)).toBe(5);
  });

  it('stays bounded under many distinct callers', () => {
    const t = new BucketTable(spec, 50);
    for (let i = 0; i < 5000; i++) takeAll([{ table: t, key: `id-${i}` }], i);
    expect(t.size).toBeLessThanOrEqual(50);
  });
});

describe('takeAll (several limits on one call)', () => {
  it('charges no bucket when one of them refuses', () => {
    const perId = new BucketTable({ ratePerSecond: 1, burst: 3 }, 100);
    const perTd = new BucketTable({ ratePerSecond: 1, burst: 4 }, 100);
    const call = (id: string) => takeAll([{ table: perId, key: id }, { table: perTd, key: 'td' }], 0);
    expect([call('a'), call('a'), call('a')]).toEqual([-1, -1, -1]);
    expect(call('a')).toBe(0); // refused by the ID limit: the trust domain keeps its token ...
    expect(call('b')).toBe(-1); // ... for a sibling
    expect(call('b')).toBe(1); // trust domain empty: b's own bucket is not charged
    expect(perId.bucket('b', 0).tokens).toBe(2);
  });

  it('skips disabled limits', () => {
    const off = new BucketTable({ ratePerSecond: 0, burst: 1 }, 100);
    const on = new BucketTable({ ratePerSecond: 1, burst: 1 }, 100);
    expect(takeAll([{ table: off, key: 'x' }, { table: on, key: 'x' }], 0)).toBe(-1);
    expect(takeAll([{ table: off, key: 'x' }, { table: on, key: 'x' }], 0)).toBe(1);
  });
});
