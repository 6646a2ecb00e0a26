/**
 * Bad admin input is a 4xx problem+json naming what was wrong, and a non-admin's body is
 * never read: the gate runs before the body parser.
 */
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import type { HttpsRequestOptions } from '../../support/https-client';
import { metricSum, scrapeMetrics } from '../../support/prometheus';

jest.setTimeout(60_000);

const LIMIT = 64 * 1024;
const DEPTH = 32;

interface Answer {
  status: number;
  contentType?: string;
  json: { code?: string; detail?: string; errors?: Array<{ field: string; message: string }> } & Record<string, unknown>;
}

describe('admin API: bad input', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;
  let outsider: Creds;

  beforeAll(async () => {
    gw = await startTestGateway({ PARLEY_ADMIN_MAX_BODY_BYTES: String(LIMIT), PARLEY_ADMIN_MAX_JSON_DEPTH: String(DEPTH) });
    ca = await devCaOf(gw);
    admin = await issueCreds(ca, 'spiffe://acme.test/parley/admin');
    outsider = await issueCreds(ca, 'spiffe://acme.test/ns/ml/sa/trainer');
    const created = await send('POST', '/v1/federations', { json: { trustDomain: 'partner.test', profile: 'static' } });
    expect(created.status).toBe(201);
  });
  afterAll(() => gw?.stop());

  async function send(method: string, path: string, o: HttpsRequestOptions = {}, who: Creds = admin): Promise<Answer> {
    const res = await adminRequest(gw, ca, who, method, path, o);
    return { status: res.status, contentType: res.contentType, json: res.body === '' ? {} : JSON.parse(res.body) };
  }
  const fields = (a: Answer) => (a.json.errors ?? []).map((e) => e.field);

  it('answers a JSON body over admin.maxBodyBytes with 413 problem+json, by its declared length and by what is sent', async () => {
    const big = { spiffeId: 'spiffe://acme.test/x', reason: 'r'.repeat(LIMIT) };
    const declared = await send('POST', '/v1/revocations', { json: big });
    expect(declared).toMatchObject({ status: 413, contentType: expect.stringContaining('application/problem+json') });
    expect(declared.json).toMatchObject({ status: 413, code: 'resource_exhausted', detail: `request body: larger than ${LIMIT} bytes (admin.maxBodyBytes)` });
    const chunked = await send('POST', '/v1/revocations', { raw: JSON.stringify(big), headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } });
    expect(chunked.status).toBe(413);
  });

  it('refuses JSON nested deeper than admin.maxJsonDepth with 400, also on the bundle upload', async () => {
    const deep = `{"keys":${'['.repeat(5_000)}${']'.repeat(5_000)}}`;
    const upload = await send('PUT', '/v1/federations/partner.test/bundle', { raw: deep, headers: { 'content-type': 'application/json' } });
    expect(upload.status).toBe(400);
    expect(upload.json.errors).toEqual([{ field: 'body', message: `nested deeper than ${DEPTH} levels (admin.maxJsonDepth)` }]);
    const justDeepEnough = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;
    expect((await send('POST', '/v1/revocations', { raw: justDeepEnough })).json.errors).toEqual([{ field: '', message: 'body must be a JSON object' }]);
  });

  it('names every field with a NUL or an unpaired surrogate (400), and query filters too', async () => {
    const rule = { id: 'nul\u0000id', effect: 'allow', subjects: [{ spiffeId: 'spiffe://acme.test/a' }], methods: ['*'], description: 'x\u0000y' };
    const nul = await send('POST', '/v1/policies', { json: rule });
    expect(nul.status).toBe(400);
    expect(fields(nul).sort()).toEqual(['body.description', 'body.id']);
    expect(nul.json.errors?.[0]?.message).toBe('must not contain NUL characters');
    const lone = await send('POST', '/v1/revocations', { raw: '{"spiffeId":"spiffe://acme.test/a","reason":"\\ud800x"}', headers: { 'content-type': 'application/json' } });
    expect(lone.status).toBe(400);
    expect(lone.json.errors).toEqual([{ field: 'body.reason', message: 'must not contain unpaired UTF-16 surrogates' }]);
    const key = await send('POST', '/v1/revocations', { raw: '{"a\\u0000b": 1}', headers: { 'content-type': 'application/json' } });
    expect(key.json.errors).toEqual([{ field: 'body["a\\u0000b"]', message: 'key must not contain NUL characters' }]);
    for (const path of ['/v1/audit?spiffeId=spiffe%3A%2F%2Facme.test%2F%00', '/v1/records?namespace=ml%00x', '/v1/federations/partner%00.test']) {
      const res = await send('GET', path);
      expect(res.status).toBe(400);
      expect(fields(res)).toEqual([path.includes('?') ? path.split('?')[1]!.split('=')[0] : 'path']);
    }
    expect(fields(await send('GET', '/v1/federations/%ED%A0%80'))).toEqual(['path']);
  });

  it('refuses a body that is not UTF-8 or not JSON with 400 on field body, never echoing it', async () => {
    const notUtf8 = await send('POST', '/v1/policies', { raw: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), headers: { 'content-type': 'application/json' } });
    expect(notUtf8.json.errors).toEqual([{ field: 'body', message: 'must be UTF-8 text' }]);
    const notJson = await send('POST', '/v1/policies', { raw: '{"id": secret-token', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(fields(notJson)).toEqual(['body']);
    expect(JSON.stringify(notJson.json)).not.toContain('secret-token');
  });

  it('reports every problem at once with field paths, a CID error as a field too', async () => {
    const many = await send('POST', '/v1/revocations', { json: { spiffeId: 'nope', reason: 7, expiresAt: 'later', extra: true } });
    expect(fields(many).sort()).toEqual(['expiresAt', 'extra', 'reason', 'spiffeId']);
    const query = await send('GET', '/v1/records?recursive=maybe&pageSize=-1&bogus=1&createdAfter=nope&annotation=novalue');
    expect(query.status).toBe(400);
    expect(fields(query).sort()).toEqual(['annotation', 'bogus', 'createdAfter', 'pageSize', 'recursive']);
    const cid = await send('GET', '/v1/records/not-a-cid');
    expect(cid.status).toBe(400);
    expect(cid.json.errors).toEqual([{ field: 'cid', message: expect.stringContaining('invalid cid') }]);
  });

  it('validates policy namespaces with the store rule and trust domains with the SPIFFE core', async () => {
    const rule = { id: 'ns-rule', effect: 'allow', subjects: [{ trustDomain: 'A' }], methods: ['*'], namespaces: ['../etc', 'A', 'ok/fine'] };
    const res = await send('POST', '/v1/policies', { json: rule });
    expect(res.status).toBe(400);
    expect(fields(res).sort()).toEqual(['namespaces[0]', 'namespaces[1]', 'subjects[0].trustDomain']);
    const explain = await send('POST', '/v1/policies:explain', { json: { spiffeId: 'spiffe://acme.test/a', method: '/parley.store.v1.StoreService/Pull', namespace: '../etc' } });
    expect(fields(explain)).toEqual(['namespace']);
    expect((await send('GET', '/v1/audit?namespace=A')).status).toBe(400);
    for (const path of ['/v1/allowlists/A', '/v1/bundles/A']) expect((await send('GET', path)).status).toBe(400);
  });

  it('answers a non-admin 403 before reading its body: over the limit, not JSON, not UTF-8', async () => {
    const bodies: HttpsRequestOptions[] = [
      { raw: 'x'.repeat(LIMIT * 4), headers: { 'content-type': 'application/json' } },
      { raw: '{not json', headers: { 'content-type': 'application/json' } },
      { raw: `{"keys":${'['.repeat(1000)}`, headers: { 'content-type': 'application/json' } },
      { raw: Buffer.from([0xff, 0xfe]), headers: { 'content-type': 'application/json' } },
    ];
    for (const body of bodies) {
      const res = await send('POST', '/v1/revocations', body, outsider);
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ code: 'permission_denied', detail: 'permission denied' });
    }
  });

  it('counts refusals in parley_admin_requests_refused_total by reason', async () => {
    const samples = await scrapeMetrics(gw.gateway.listeners.ops!.port);
    for (const reason of ['body_too_large', 'json_too_deep', 'json_invalid', 'text_invalid', 'not_admin']) {
      expect(metricSum(samples, 'parley_admin_requests_refused_total', { reason })).toBeGreaterThan(0);
    }
  });
});
