import { encodeAuditCursor } from './audit-cursor';
import { parseAuditQuery, type AuditQuery } from './audit-filter';

function ok(raw: Record<string, unknown>, options = {}): AuditQuery {
  const r = parseAuditQuery(raw, options);
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
      pageSize: '25',
      format: 'json',
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
      pageSize: 25,
      maxRows: undefined,
      after: undefined,
      format: 'json',
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
    [{ pageSize: 'ten' }, 'pageSize'],
    [{ pageSize: '-5' }, 'pageSize'],
    [{ pageSize: '1.5' }, 'pageSize'],
    [{ maxRows: '10' }, 'maxRows'],
    [{ pageSize: '10', limit: '10' }, 'limit'],
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

  it('pages with pageSize: 0 or absent is the default, a larger value is capped', () => {
    expect(ok({}).pageSize).toBe(100);
    expect(ok({ pageSize: '0' }).pageSize).toBe(100);
    expect(ok({ pageSize: '7' }).pageSize).toBe(7);
    expect(ok({ pageSize: '5000' }).pageSize).toBe(1000);
    expect(ok({ pageSize: '9999999999' }).pageSize).toBe(1000);
    expect(ok({}).maxRows).toBeUndefined();
  });

  it('keeps limit as the deprecated name of pageSize, with its old range', () => {
    expect(ok({ limit: '25' }).pageSize).toBe(25);
    expect(errors({ limit: '1001' })).toEqual([{ field: 'limit', message: 'must be an integer from 1 to 1000' }]);
  });

  it('bounds a CSV export with maxRows (or the deprecated limit); pageSize is JSON only', () => {
    const csv = { csv: true };
    expect(ok({}, csv)).toMatchObject({ pageSize: undefined, maxRows: undefined });
    expect(ok({ maxRows: '5000' }, csv)).toMatchObject({ pageSize: undefined, maxRows: 5000 });
    expect(ok({ limit: '5000' }, csv)).toMatchObject({ pageSize: undefined, maxRows: 5000 });
    expect(errors({ pageSize: '10' }, csv)).toEqual([{ field: 'pageSize', message: 'pages are JSON only; a CSV export takes maxRows' }]);
    expect(errors({ maxRows: '0' }, csv).map((e) => e.field)).toEqual(['maxRows']);
    expect(errors({ maxRows: '10', limit: '10' }, csv)).toEqual([{ field: 'limit', message: 'deprecated name of maxRows: give only maxRows' }]);
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
