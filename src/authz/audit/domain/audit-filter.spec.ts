import { encodeAuditCursor } from './audit-cursor';
import { parseAuditQuery, type AuditQuery } from './audit-filter';

function ok(raw: Record<string, unknown>): AuditQuery {
  const r = parseAuditQuery(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.query;
}
function errors(raw: Record<string, unknown>, options = {}): Array<{ field: string; message: string }> {
  const r = parseAuditQuery(raw, options);
  return r.ok ? [] : r.errors;
}

describe('parseAuditQuery', () => {
  it('accepts every filter and normalises them', () => {
    const q = ok({
      spiffeId: 'spiffe://partner.test/ns/ml/sa/trainer',
      trustDomain: 'partner.test',
      method: '/parley.store.v1.StoreService/Pull',
      decision: 'deny',
      namespace: 'ml/llama',
      rule: 'partners-pull',
      since: '2025-01-31T00:00:00Z',
      until: '2025-02-01T00:00:00+01:00',
      limit: '25',
      format: 'csv',
    });
    expect(q).toEqual({
      filter: {
        spiffeId: 'spiffe://partner.test/ns/ml/sa/trainer',
        trustDomain: 'partner.test',
        method: '/parley.store.v1.StoreService/Pull',
        decision: 'deny',
        namespace: 'ml/llama',
        rule: 'partners-pull',
        sinceMicros: 1_738_281_600_000_000n,
        untilMicros: 1_738_364_400_000_000n,
      },
      limit: 25,
      after: undefined,
      format: 'csv',
    });
    expect(ok({}).filter).toEqual({});
    expect(ok({ method: 'POST /v1/policies' }).filter.method).toBe('POST /v1/policies');
    expect(ok({ method: 'DELETE /v1/federations/partner.test' }).filter.method).toBe('DELETE /v1/federations/partner.test');
    expect(ok({ spiffeId: '' }).filter.spiffeId).toBeUndefined();
  });

  it.each([
    [{ spiffeId: 'http://x/y' }, 'spiffeId'],
    [{ trustDomain: 'Not A Domain' }, 'trustDomain'],
    [{ trustDomain: 'spiffe://x.test' }, 'trustDomain'],
    [{ method: '/parley.store.v1.StoreService/*' }, 'method'],
    [{ method: 'Pull' }, 'method'],
    [{ method: 'post /v1/policies' }, 'method'],
    [{ method: 'POST v1/policies' }, 'method'],
    [{ method: 'POST /v1/a b' }, 'method'],
    [{ method: 'POST  /v1/policies' }, 'method'],
    [{ decision: 'maybe' }, 'decision'],
    [{ namespace: '/ml' }, 'namespace'],
    [{ namespace: 'a//b' }, 'namespace'],
    [{ rule: 'x'.repeat(257) }, 'rule'],
    [{ since: 'yesterday' }, 'since'],
    [{ until: '2025-02-30T00:00:00Z' }, 'until'],
    [{ since: '2025-01-02T00:00:00Z', until: '2025-01-01T00:00:00Z' }, 'until'],
    [{ limit: '0' }, 'limit'],
    [{ limit: '1001' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ limit: '-5' }, 'limit'],
    [{ format: 'xml' }, 'format'],
    [{ decision: ['allow', 'deny'] }, 'decision'],
    [{ spiffeid: 'spiffe://x.test/a' }, 'spiffeid'],
    [{ pageToken: 'bm9wZQ' }, 'pageToken'],
    [{ pageToken: '++' }, 'pageToken'],
  ])('names the bad parameter: %j', (raw, field) => {
    expect(errors(raw)).toEqual([{ field, message: expect.any(String) }]);
  });

  it('reports every bad field at once', () => {
    expect(errors({ decision: 'x', limit: '0', since: 'no' }).map((e) => e.field)).toEqual(['decision', 'since', 'limit']);
  });

  it('allows a larger limit when told (CSV)', () => {
    expect(errors({ limit: '5000' }, { maxLimit: 10_000 })).toEqual([]);
  });
});

describe('audit page tokens', () => {
  const filter = { decision: 'deny' as const, trustDomain: 'p.test' };
  const cursor = { atMicros: 1_738_324_800_123_456n, id: 42n };

  it('round-trip with the same filter', () => {
    const token = encodeAuditCursor(cursor, ok(filter).filter);
    expect(ok({ ...filter, pageToken: token }).after).toEqual(cursor);
  });

  it('are refused with any other filter', () => {
    const token = encodeAuditCursor(cursor, ok(filter).filter);
    for (const other of [{}, { decision: 'deny' }, { ...filter, since: '2025-01-01T00:00:00Z' }, { ...filter, trustDomain: 'q.test' }]) {
      expect(errors({ ...other, pageToken: token })).toEqual([{ field: 'pageToken', message: 'was issued for different filters' }]);
    }
  });

  it('are refused when tampered with', () => {
    const forged = (payload: unknown) => Buffer.from(JSON.stringify(payload)).toString('base64url');
    for (const token of [forged([1, '1', 'x', 'fp']), forged([2, '1', '1', 'fp']), forged([1, 1, '1', 'fp']), forged({}), 'x'.repeat(300)]) {
      expect(errors({ pageToken: token })).toEqual([{ field: 'pageToken', message: 'malformed' }]);
    }
  });
});
