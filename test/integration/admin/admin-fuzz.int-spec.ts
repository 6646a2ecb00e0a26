/**
 * Property test: random requests (deep, huge, invalid UTF-8, NULs, lone surrogates, random
 * JSON and query text) to every admin route of the OpenAPI document never get a 5xx, and the
 * gateway keeps serving. Routes are read from the running gateway's /openapi.json, so a new
 * route is covered without editing this test.
 */
import fc from 'fast-check';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';

jest.setTimeout(240_000);

const LIMIT = 64 * 1024;
const RUNS_PER_ROUTE = 12;
const METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;

interface Route {
  method: string;
  template: string;
}

/** Every byte percent-encoded: the path and query carry exactly the bytes generated. */
function percentEncode(bytes: Uint8Array): string {
  return [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('../etc', 'A', 'a..b', 'partner.test', 'spiffe://acme.test/x', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '\u0000', '\ud800', 'x:refresh', '9'.repeat(30)),
);
const segment = fc.oneof(
  text.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))),
  fc.uint8Array({ minLength: 1, maxLength: 24 }).map(percentEncode),
);
const fieldNames = fc.constantFrom('spiffeId', 'fingerprint', 'reason', 'expiresAt', 'trustDomain', 'profile', 'endpointUrls', 'id', 'effect', 'subjects', 'methods', 'namespaces', 'cidrs', 'csv', 'mode', 'bundle', 'keys', 'namespace', 'limit', 'pageToken', 'format');
const jsonish: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.oneof(fieldNames, text), tie('value'), { maxKeys: 4 })),
})).value;

type Body = { bytes: Buffer; contentType: string } | undefined;
const body: fc.Arbitrary<Body> = fc.oneof(
  fc.constant(undefined),
  jsonish.map((v) => ({ bytes: Buffer.from(JSON.stringify(v) ?? 'null'), contentType: 'application/json' })),
  fc.json().map((t) => ({ bytes: Buffer.from(t), contentType: 'application/json' })),
  fc.record({ depth: fc.integer({ min: 1, max: 20_000 }), open: fc.constantFrom('[', '{"a":') }).map(({ depth, open }) => ({
    bytes: Buffer.from(`${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`),
    contentType: 'application/json',
  })),
  fc.integer({ min: LIMIT - 64, max: LIMIT * 3 }).map((n) => ({ bytes: Buffer.from(JSON.stringify({ reason: 'x'.repeat(n) })), contentType: 'application/json' })),
  fc.uint8Array({ maxLength: 256 }).map((b) => ({ bytes: Buffer.from(b), contentType: 'application/json' })),
  fc.tuple(fieldNames, fc.constantFrom('\u0000', '\ud800', '\udc00x', 'a\u0000b')).map(([k, v]) => ({ bytes: Buffer.from(JSON.stringify({ [k]: v, nested: [{ [k]: v }] })), contentType: 'application/json' })),
  fc.tuple(fc.uint8Array({ maxLength: 512 }), fc.constantFrom('text/plain', 'application/x-pem-file', 'application/octet-stream')).map(([b, contentType]) => ({ bytes: Buffer.from(b), contentType })),
);
const query = fc.array(fc.tuple(fc.oneof(fieldNames, segment), segment), { maxLength: 3 }).map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

describe('admin API: random input never gets a 5xx', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;
  let routes: Route[];

  beforeAll(async () => {
    gw = await startTestGateway({ PARLEY_ADMIN_MAX_BODY_BYTES: String(LIMIT) });
    ca = await devCaOf(gw);
    admin = await issueCreds(ca, 'spiffe://acme.test/parley/admin');
    const doc = JSON.parse((await adminRequest(gw, ca, admin, 'GET', '/openapi.json')).body) as { paths: Record<string, Record<string, unknown>> };
    routes = Object.entries(doc.paths).flatMap(([template, ops]) => METHODS.filter((m) => ops[m] !== undefined).map((method) => ({ method: method.toUpperCase(), template })));
  });
  afterAll(() => gw?.stop());

  it('finds every admin route in the OpenAPI document', () => {
    expect(routes.length).toBeGreaterThanOrEqual(28);
    expect(routes).toEqual(expect.arrayContaining([{ method: 'PUT', template: '/v1/federations/{trustDomain}/bundle' }, { method: 'POST', template: '/v1/revocations' }]));
  });

  it('answers every route with a status below 500 for random path, query and body', async () => {
    const seen = new Map<number, number>();
    for (const route of routes) {
      const params = (route.template.match(/\{[^}]+\}/g) ?? []).length;
      await fc.assert(
        fc.asyncProperty(fc.array(segment, { minLength: params, maxLength: params }), query, body, async (values, search, sent) => {
          let i = 0;
          const path = route.template.replace(/\{[^}]+\}/g, () => values[i++]!) + search;
          const headers = sent === undefined ? {} : { 'content-type': sent.contentType };
          const res = await adminRequest(gw, ca, admin, route.method, path, { raw: sent?.bytes, headers, timeoutMs: 10_000 });
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          if (res.status >= 500 || res.status === 0) throw new Error(`${route.method} ${path.slice(0, 200)} answered ${res.status}: ${res.body.slice(0, 300)}`);
        }),
        { numRuns: RUNS_PER_ROUTE, seed: Number(process.env.FC_SEED ?? Date.now() % 1_000_000), endOnFailure: true },
      );
    }
    expect([...seen.keys()].every((status) => status < 500)).toBe(true);
    expect((await adminRequest(gw, ca, admin, 'GET', '/v1/identity')).status).toBe(200);
  });
});
