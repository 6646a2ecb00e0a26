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

/** The default admin.maxBodyBytes (2 MiB). */
const LIMIT = 2 * 1024 * 1024;
const RUNS_PER_ROUTE = 16;
const METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;

interface Route {
  method: string;
  template: string;
  /** A body built from the request schema's property examples (undefined: no JSON body). */
  example?: unknown;
}

type Schema = { $ref?: string; type?: string; properties?: Record<string, Schema>; items?: Schema; example?: unknown; enum?: unknown[] };

/** A value for `schema` from its examples (first enum value, else a placeholder of its type). */
function exampleOf(schema: Schema | undefined, components: Record<string, Schema>, depth = 0): unknown {
  if (schema === undefined || depth > 6) return undefined;
  if (schema.$ref !== undefined) return exampleOf(components[schema.$ref.split('/').at(-1)!], components, depth + 1);
  if (schema.example !== undefined) return schema.example;
  if (schema.enum !== undefined) return schema.enum[0];
  if (schema.properties !== undefined) return Object.fromEntries(Object.entries(schema.properties).map(([k, s]) => [k, exampleOf(s, components, depth + 1)]));
  if (schema.type === 'array') return [exampleOf(schema.items, components, depth + 1)];
  return { string: 'x', number: 1, integer: 1, boolean: false }[schema.type ?? ''];
}

/** Paths of the string leaves of a JSON value. */
function stringLeaves(value: unknown, path: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof value === 'string') return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringLeaves(v, [...path, i]));
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => stringLeaves(v, [...path, k]));
  return [];
}

/** `value` with the leaf at `path` replaced. */
function replaceAt(value: unknown, path: ReadonlyArray<string | number>, leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
  copy[path[0]!] = replaceAt(copy[path[0]!], path.slice(1), leaf);
  return copy;
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
const fieldNames = fc.constantFrom('spiffeId', 'fingerprint', 'reason', 'expiresAt', 'trustDomain', 'profile', 'endpointUrls', 'id', 'effect', 'subjects', 'methods', 'namespaces', 'cidrs', 'csv', 'mode', 'bundle', 'keys', 'namespace', 'pageSize', 'maxRows', 'limit', 'pageToken', 'format');
const jsonish: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.oneof(fieldNames, text), tie('value'), { maxKeys: 4 })),
})).value;

type Body = { bytes: Buffer; contentType: string } | undefined;

/** A body that prints as its size and type in counterexamples (not its megabytes). */
function bodyOf(bytes: Buffer, contentType: string): Body {
  const preview = bytes.subarray(0, 80).toString('latin1');
  return Object.assign({ bytes, contentType }, { [fc.toStringMethod]: () => `<${bytes.length} bytes ${contentType}: ${JSON.stringify(preview)}…>` });
}
/** Serialized, the string `${DEEP_MARK}n` becomes n nested arrays (too deep to build as a value). */
const DEEP_MARK = '\u0001deep:';

const poison = fc.oneof(
  fc.constantFrom('\u0000', '\ud800', 'x\udc00', 'spiffe://acme.test/a\u0000b', 'ml/\u0000', '../etc', 'A', 'a..b'),
  fc.integer({ min: 33, max: 5_000 }).map((n) => `${DEEP_MARK}${n}`),
  fc.integer({ min: LIMIT - 512, max: LIMIT + 4096 }).map((n) => 'x'.repeat(n)),
);


function serialize(value: unknown): Buffer {
  const text = JSON.stringify(value) ?? '{}';
  return Buffer.from(text.replace(/"\\u0001deep:(\d+)"/g, (_m, n: string) => `${'['.repeat(Number(n))}${']'.repeat(Number(n))}`));
}

/** The route's example body with one string leaf poisoned (NUL, lone surrogate, deep, huge). */
function poisonedExample(example: unknown): fc.Arbitrary<Body> {
  const leaves = stringLeaves(example);
  if (leaves.length === 0) return fc.constant(bodyOf(Buffer.from(JSON.stringify(example) ?? '{}'), 'application/json'));
  return fc.tuple(fc.nat({ max: leaves.length - 1 }), poison).map(([i, leaf]) => bodyOf(serialize(replaceAt(example, leaves[i]!, leaf)), 'application/json'));
}

const randomBody: fc.Arbitrary<Body> = fc.oneof(
  fc.constant(undefined),
  jsonish.map((v) => bodyOf(Buffer.from(JSON.stringify(v) ?? 'null'), 'application/json')),
  fc.json().map((t) => bodyOf(Buffer.from(t), 'application/json')),
  fc.record({ depth: fc.integer({ min: 1, max: 20_000 }), open: fc.constantFrom('[', '{"a":') }).map(({ depth, open }) => ({
    bytes: Buffer.from(`${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`),
    contentType: 'application/json',
  })),
  fc.integer({ min: LIMIT - 64, max: LIMIT + 64 * 1024 }).map((n) => bodyOf(Buffer.from(JSON.stringify({ reason: 'x'.repeat(n) })), 'application/json')),
  fc.integer({ min: 33, max: 20_000 }).map((n) => bodyOf(Buffer.from(`{"keys":${'['.repeat(n)}${']'.repeat(n)}}`), 'application/json')),
  fc.uint8Array({ maxLength: 256 }).map((b) => bodyOf(Buffer.from(b), 'application/json')),
  fc.tuple(fieldNames, fc.constantFrom('\u0000', '\ud800', '\udc00x', 'a\u0000b')).map(([k, v]) => bodyOf(Buffer.from(JSON.stringify({ [k]: v, nested: [{ [k]: v }] })), 'application/json')),
  fc.tuple(fc.uint8Array({ maxLength: 512 }), fc.constantFrom('text/plain', 'application/x-pem-file', 'application/octet-stream')).map(([b, contentType]) => bodyOf(Buffer.from(b), contentType)),
);
const query = fc.array(fc.tuple(fc.oneof(fieldNames, segment), segment), { maxLength: 3 }).map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

describe('admin API: random input never gets a 5xx', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;
  let routes: Route[];

  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    admin = await issueCreds(ca, 'spiffe://acme.test/parley/admin');
    type Operation = { requestBody?: { content?: Record<string, { schema?: Schema }> } };
    const doc = JSON.parse((await adminRequest(gw, ca, admin, 'GET', '/openapi.json')).body) as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };
    routes = Object.entries(doc.paths).flatMap(([template, ops]) =>
      METHODS.filter((m) => ops[m] !== undefined).map((method) => {
        const schema = ops[method]!.requestBody?.content?.['application/json']?.schema;
        return { method: method.toUpperCase(), template, example: schema === undefined ? undefined : exampleOf(schema, doc.components.schemas) };
      }),
    );
  });
  afterAll(() => gw?.stop());

  it('finds every admin route in the OpenAPI document', () => {
    expect(routes.length).toBeGreaterThanOrEqual(28);
    expect(routes.map((r) => `${r.method} ${r.template}`)).toEqual(expect.arrayContaining(['PUT /v1/federations/{trustDomain}/bundle', 'POST /v1/revocations', 'POST /v1/policies']));
    expect(routes.find((r) => r.template === '/v1/revocations' && r.method === 'POST')?.example).toMatchObject({ spiffeId: 'spiffe://partner.example/ns/ml/sa/puller' });
  });

  it('answers every route with a status below 500 for random path, query and body', async () => {
    const seen = new Map<number, number>();
    for (const route of routes) {
      const params = (route.template.match(/\{[^}]+\}/g) ?? []).length;
      const body = route.example === undefined ? randomBody : fc.oneof(poisonedExample(route.example), poisonedExample(route.example), randomBody);
      await fc.assert(
        fc.asyncProperty(fc.array(segment, { minLength: params, maxLength: params }), query, body, async (values, search, sent) => {
          let i = 0;
          const path = route.template.replace(/\{[^}]+\}/g, () => values[i++]!) + search;
          const headers: Record<string, string> = sent === undefined ? {} : { 'content-type': sent.contentType };
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
