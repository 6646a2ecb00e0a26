import type { AuditRecord } from '../../../src/authz/ports';
import type { AuditEntryJson } from '../../../src/authz/audit';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { AuditWriter } from '../../../src/authz';
import { DataSource } from 'typeorm';

jest.setTimeout(60_000);

interface PageJson {
  entries: AuditEntryJson[];
  nextPageToken: string;
}

const PULL = '/parley.store.v1.StoreService/Pull';
const PUSH = '/parley.store.v1.StoreService/Push';
const BASE = Date.parse('2025-03-01T10:00:00.000Z');

/** 25 decisions, one second apart, except #10 and #11 which share their instant (the id breaks the tie). */
function fixture(): AuditRecord[] {
  return Array.from({ length: 25 }, (_, i): AuditRecord => {
    const partner = i % 3 === 0;
    const deny = i % 4 === 0;
    return {
      at: new Date(BASE + (i === 11 ? 10 : i) * 1000),
      spiffeId: partner ? `spiffe://partner.test/ns/ml/sa/w${i % 2}` : 'spiffe://acme.test/ns/ml/sa/trainer',
      trustDomain: partner ? 'partner.test' : 'acme.test',
      sourceAddress: partner ? '192.0.2.7' : '127.0.0.1',
      method: i % 2 === 0 ? PULL : PUSH,
      namespace: i % 5 === 0 ? undefined : i % 5 === 1 ? 'ml/llama' : 'ml/tiny',
      decision: deny ? 'deny' : 'allow',
      rule: deny ? (i % 8 === 0 ? 'block-all' : undefined) : 'own-all',
      reason: deny ? `denied #${i}` : `allowed #${i}`,
      dryRunDenied: i === 6 ? ['dry-a', 'dry-b'] : undefined,
    };
  });
}

/** RFC 4180 reader for the test (quoted fields, doubled quotes, CRLF records). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  expect(cell).toBe('');
  expect(row).toEqual([]);
  return rows;
}

describe('audit trail: writer and GET /v1/audit', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;
  let writer: AuditWriter;
  const recorded = fixture();

  const call = (path: string, who: Creds = admin, accept?: string) => adminRequest(gw, ca, who, 'GET', path, { headers: accept === undefined ? {} : { accept }, timeoutMs: 10_000 });
  const page = async (query: string): Promise<PageJson> => {
    const res = await call(`/v1/audit?${query}`);
    expect([query, res.status, res.body.slice(0, 300)]).toEqual([query, 200, expect.any(String)]);
    return JSON.parse(res.body) as PageJson;
  };
  /** Indexes into `recorded`, newest first as the API orders them (ties: later record first). */
  const expected = (keep: (r: AuditRecord, i: number) => boolean) =>
    recorded
      .map((r, i) => ({ r, i }))
      .filter(({ r, i }) => keep(r, i))
      .sort((a, b) => b.r.at.getTime() - a.r.at.getTime() || b.i - a.i)
      .map(({ i }) => i);
  const indexesOf = (entries: AuditEntryJson[]) => entries.map((e) => Number(e.reason.slice(e.reason.indexOf('#') + 1)));
  const count = async (sql: string): Promise<number> => Number((await gw.gateway.get(DataSource).query(sql))[0].n);

  beforeAll(async () => {
    // The fixture lies in the past: a long retention keeps the sweep away from it.
    gw = await startTestGateway({ PARLEY_AUTHZ_AUDIT_BATCH_SIZE: '7', PARLEY_AUTHZ_AUDIT_FLUSH_INTERVAL: '50ms', PARLEY_AUTHZ_AUDIT_RETENTION: '36500d' });
    ca = await devCaOf(gw);
    admin = await issueCreds(ca, 'spiffe://acme.test/parley/admin');
    writer = gw.gateway.get(AuditWriter);
    for (const r of recorded) writer.record(r);
    const deadline = Date.now() + 10_000;
    while ((await count('SELECT count(*) AS n FROM authz_audit')) < recorded.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('writes the decisions in batches of authz.audit.batchSize, one INSERT (one transaction) per batch', async () => {
    expect(await count('SELECT count(*) AS n FROM authz_audit')).toBe(25);
    // Rows of one INSERT share their transaction id: 25 decisions in batches of 7 are 4 INSERTs.
    expect(await count('SELECT count(DISTINCT xmin::text) AS n FROM authz_audit')).toBe(4);
  });

  it('returns entries newest first with every field', async () => {
    const { entries, nextPageToken } = await page('');
    expect(nextPageToken).toBe('');
    expect(indexesOf(entries)).toEqual(expected(() => true));
    expect(entries.find((e) => e.reason === 'denied #12')).toEqual({
      id: expect.stringMatching(/^[0-9]+$/),
      at: '2025-03-01T10:00:12.000000Z',
      spiffeId: 'spiffe://partner.test/ns/ml/sa/w0',
      trustDomain: 'partner.test',
      sourceAddress: '192.0.2.7',
      method: PULL,
      namespace: 'ml/tiny',
      decision: 'deny',
      rule: null,
      reason: 'denied #12',
      dryRunDenied: [],
    });
    expect(entries.find((e) => e.reason === 'allowed #6')).toMatchObject({ dryRunDenied: ['dry-a', 'dry-b'], rule: 'own-all', namespace: 'ml/llama' });
    expect(entries.find((e) => e.reason === 'denied #0')).toMatchObject({ namespace: null, rule: 'block-all' });
  });

  it.each([
    ['spiffeId=spiffe://partner.test/ns/ml/sa/w1', (r: AuditRecord) => r.spiffeId === 'spiffe://partner.test/ns/ml/sa/w1'],
    ['trustDomain=partner.test', (r: AuditRecord) => r.trustDomain === 'partner.test'],
    [`method=${PUSH}`, (r: AuditRecord) => r.method === PUSH],
    ['decision=deny', (r: AuditRecord) => r.decision === 'deny'],
    ['decision=allow&namespace=ml/llama', (r: AuditRecord) => r.decision === 'allow' && r.namespace === 'ml/llama'],
    ['namespace=ml', () => false],
    ['rule=block-all', (r: AuditRecord) => r.rule === 'block-all'],
    ['since=2025-03-01T10:00:20Z', (r: AuditRecord) => r.at.getTime() >= BASE + 20_000],
    ['until=2025-03-01T10:00:03Z', (r: AuditRecord) => r.at.getTime() < BASE + 3000],
    ['since=2025-03-01T11:00:05%2B01:00&until=2025-03-01T10:00:11Z&trustDomain=acme.test', (r: AuditRecord) => r.at.getTime() >= BASE + 5000 && r.at.getTime() < BASE + 11_000 && r.trustDomain === 'acme.test'],
  ])('filters: %s', async (query, keep) => {
    const { entries } = await page(query);
    expect(indexesOf(entries)).toEqual(expected(keep));
  });

  it('pages exactly once with pageSize and pageToken, even while new decisions arrive', async () => {
    const seen: number[] = [];
    let token = '';
    let pages = 0;
    do {
      const p = await page(`pageSize=4&trustDomain=acme.test${token ? `&pageToken=${token}` : ''}`);
      expect(p.entries.length).toBeLessThanOrEqual(4);
      seen.push(...indexesOf(p.entries));
      token = p.nextPageToken;
      if (pages === 0) {
        // Newer decisions written between pages do not shift the following pages.
        writer.record({ ...recorded[1], at: new Date(BASE + 3_600_000), reason: 'allowed #100' });
        await writer.flush();
      }
      pages++;
    } while (token !== '' && pages < 20);
    const want = expected((r) => r.trustDomain === 'acme.test');
    expect(seen).toEqual(want);
    expect(pages).toBe(Math.ceil(want.length / 4));
    expect((await page('pageSize=1')).entries[0].reason).toBe('allowed #100');
  });

  it('says what is wrong with a bad pageSize, naming it', async () => {
    const res = await call('/v1/audit?pageSize=ten');
    expect([res.status, JSON.parse(res.body).errors]).toEqual([400, [{ field: 'pageSize', message: 'must be a non-negative integer (0: 100, at most 1000)' }]]);
  });

  it('still takes the deprecated limit as the page size of JSON pages, not together with pageSize', async () => {
    const byLimit = await page('limit=4&trustDomain=acme.test');
    const bySize = await page('pageSize=4&trustDomain=acme.test');
    expect(byLimit).toEqual(bySize);
    expect(byLimit.entries).toHaveLength(4);
    // The tokens are the same: a client may move from one name to the other between pages.
    expect(await page(`limit=4&trustDomain=acme.test&pageToken=${bySize.nextPageToken}`)).toEqual(await page(`pageSize=4&trustDomain=acme.test&pageToken=${byLimit.nextPageToken}`));
    const both = await call('/v1/audit?limit=4&pageSize=4');
    expect(both.status).toBe(400);
    expect(JSON.parse(both.body)).toMatchObject({ errors: [{ field: 'limit', message: 'deprecated name of pageSize: give only pageSize' }] });
  });

  it('refuses a page token with other filters than it was issued for', async () => {
    const first = await page('pageSize=2&decision=deny');
    const res = await call(`/v1/audit?pageSize=2&decision=allow&pageToken=${first.nextPageToken}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'invalid_argument', errors: [{ field: 'pageToken', message: 'was issued for different filters' }] });
  });

  it.each([
    ['spiffeId=not-an-id', 'spiffeId'],
    ['trustDomain=Bad%20Domain', 'trustDomain'],
    ['method=Pull', 'method'],
    ['decision=maybe', 'decision'],
    ['namespace=%2Fml', 'namespace'],
    ['since=yesterday', 'since'],
    ['until=2025-02-30T00:00:00Z', 'until'],
    ['pageSize=ten', 'pageSize'],
    ['pageSize=-1', 'pageSize'],
    ['pageSize=2.5', 'pageSize'],
    ['pageSize=1&pageSize=2', 'pageSize'],
    ['maxRows=10', 'maxRows'],
    ['format=csv&pageSize=10', 'pageSize'],
    ['format=csv&maxRows=0', 'maxRows'],
    ['format=csv&maxRows=10&limit=10', 'limit'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['pageToken=bm9wZQ', 'pageToken'],
    ['decision=deny&decision=allow', 'decision'],
    ['format=xml', 'format'],
    ['spifeId=spiffe://acme.test/x', 'spifeId'],
  ])('answers 400 problem+json naming the field: %s', async (query, field) => {
    const res = await call(`/v1/audit?${query}`);
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({ status: 400, code: 'invalid_argument', errors: [{ field, message: expect.any(String) }] });
  });

  it('exports every matching row as CSV (Accept: text/csv or format=csv), quoted and formula-guarded', async () => {
    writer.record({ at: new Date(BASE - 60_000), spiffeId: 'spiffe://partner.test/x', trustDomain: 'partner.test', sourceAddress: '::1', method: '=cmd|calc', decision: 'deny', reason: 'bad, "quoted"\nreason #200', rule: '@r' });
    await writer.flush();
    const json = await page('trustDomain=partner.test&pageSize=1000');
    for (const [query, accept] of [['trustDomain=partner.test', 'text/csv'], ['trustDomain=partner.test&format=csv', undefined]] as const) {
      const res = await call(`/v1/audit?${query}`, admin, accept);
      expect(res.status).toBe(200);
      expect(res.contentType).toContain('text/csv');
      const rows = parseCsv(res.body);
      expect(rows[0]).toEqual(['id', 'at', 'spiffe_id', 'trust_domain', 'source_address', 'method', 'namespace', 'decision', 'rule', 'reason', 'dry_run_denied']);
      expect(rows.slice(1).map((r) => r[0])).toEqual(json.entries.map((e) => e.id));
      const odd = rows.find((r) => r[9] === 'bad, "quoted"\nreason #200')!;
      expect(odd.slice(5, 9)).toEqual(["'=cmd|calc", '', 'deny', "'@r"]);
      expect(rows.find((r) => r[9] === 'allowed #6')?.[10]).toBe('dry-a;dry-b');
    }
    expect(parseCsv((await call('/v1/audit?format=csv')).body)).toHaveLength(1 + 27);
    expect(parseCsv((await call('/v1/audit?format=csv&maxRows=3&decision=deny')).body)).toHaveLength(4);
    // limit: the deprecated name of maxRows for CSV.
    expect(parseCsv((await call('/v1/audit?format=csv&limit=3&decision=deny')).body)).toHaveLength(4);
    const bad = await call('/v1/audit?decision=nope', admin, 'text/csv');
    expect(bad.status).toBe(400);
    expect(bad.contentType).toContain('application/problem+json');
  });

  it('refuses a caller without audit:read (403) and documents the route', async () => {
    const res = await call('/v1/audit', await issueCreds(ca, 'spiffe://acme.test/ns/ml/sa/trainer'));
    expect(res.status).toBe(403);
    const doc = JSON.parse((await call('/openapi.json')).body);
    const op = doc.paths['/v1/audit'].get;
    expect(op.security).toEqual([{ 'spiffe-mtls': ['audit:read'] }]);
    const params = op.parameters as Array<{ name: string; in: string; deprecated?: boolean; schema: Record<string, unknown> }>;
    expect(params.map((p) => p.name).sort()).toEqual(['decision', 'format', 'limit', 'maxRows', 'method', 'namespace', 'pageSize', 'pageToken', 'rule', 'since', 'spiffeId', 'trustDomain', 'until']);
    expect(params.filter((p) => p.deprecated === true).map((p) => p.name)).toEqual(['limit']);
    expect(params.find((p) => p.name === 'pageSize')!.schema).toMatchObject({ type: 'integer', minimum: 0 });
    expect(Object.keys(op.responses['200'].content)).toEqual(expect.arrayContaining(['application/json', 'text/csv']));
  });

  it('streams an export larger than one database page, newest first, each row once', async () => {
    await gw.gateway.get(DataSource).query(
      `INSERT INTO authz_audit (at, spiffe_id, trust_domain, source_address, method, decision, reason)
       SELECT timestamptz '2025-01-01T00:00:00Z' + g * interval '1 millisecond', 'spiffe://bulk.test/w', 'bulk.test', '10.0.0.1', $1, 'allow', 'bulk #' || g
       FROM generate_series(1, 2500) g`,
      [PULL],
    );
    const rows = parseCsv((await call('/v1/audit?format=csv')).body).slice(1);
    expect(rows).toHaveLength(27 + 2500);
    expect(new Set(rows.map((r) => r[0])).size).toBe(rows.length);
    const times = rows.map((r) => r[1]);
    expect([...times].sort().reverse()).toEqual(times);
    expect(rows.at(-1)![9]).toBe('bulk #1');
    expect(parseCsv((await call('/v1/audit?format=csv&maxRows=1500')).body)).toHaveLength(1 + 1500);
    // pageSize: 0 is the default page, a larger one than the server serves is capped (not refused).
    expect((await page('pageSize=0')).entries).toHaveLength(100);
    const capped = await page('pageSize=5000');
    expect(capped.entries).toHaveLength(1000);
    expect(capped.nextPageToken).not.toBe('');
  });
});
