import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId, requireTrustDomain, X509Bundle } from '../../../src/spiffe';
import { httpsGet } from '../../support/https-client';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { TestCa } from '../../support/test-ca';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(60_000);

interface OpenApiParameter {
  name: string;
  in: string;
  deprecated?: boolean;
  schema?: Record<string, unknown>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, { parameters?: OpenApiParameter[]; responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> }>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
}

/** Query parameter names that page a list in some convention other than pageSize + pageToken. */
const OTHER_PAGING = ['limit', 'offset', 'cursor', 'page', 'perPage', 'per_page', 'maxResults', 'page_size', 'page_token', 'after', 'before'];

/**
 * The GET routes of the document that answer pages (a response with nextPageToken), after
 * checking they all page alike: pageSize (integer, 0 or more) and pageToken in the query,
 * no other paging parameter unless deprecated, and no pageSize on a route that does not page.
 */
function pagedRoutesOf(doc: OpenApiDocument): string[] {
  const paged: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    const get = ops.get;
    if (get === undefined) continue;
    const refs = Object.values(get.responses?.['200']?.content ?? {}).flatMap((c) => (c.schema?.$ref === undefined ? [] : [c.schema.$ref]));
    const pages = refs.some((ref) => Object.hasOwn(doc.components.schemas[ref.split('/').at(-1)!]?.properties ?? {}, 'nextPageToken'));
    const query = (get.parameters ?? []).filter((p) => p.in === 'query');
    const names = query.filter((p) => p.deprecated !== true).map((p) => p.name);
    if (!pages) {
      expect([path, names.filter((n) => n === 'pageSize' || n === 'pageToken')]).toEqual([path, []]);
      continue;
    }
    paged.push(path);
    expect([path, names]).toEqual([path, expect.arrayContaining(['pageSize', 'pageToken'])]);
    expect([path, names.filter((n) => OTHER_PAGING.includes(n))]).toEqual([path, []]);
    expect([path, query.find((p) => p.name === 'pageSize')!.schema]).toEqual([path, expect.objectContaining({ type: 'integer', minimum: 0 })]);
  }
  return paged;
}

describe('admin API over HTTPS with mTLS', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let base: string;
  const gatewayId = 'spiffe://acme.test/parley/gateway';

  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    base = `https://127.0.0.1:${gw.gateway.listeners.admin!.port}`;
  });
  afterAll(() => gw?.stop());

  const as = async (id: string) => {
    const issued = await ca.issue(requireSpiffeId(id));
    return { certPem: issued.certPem, keyPem: issued.keyPem };
  };

  it('gives an admin the gateway identity', async () => {
    const res = await httpsGet(`${base}/v1/identity`, ca.bundlePem(), await as('spiffe://acme.test/parley/admin'), gatewayId);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({ spiffeId: gatewayId, trustDomain: 'acme.test', source: 'dev-ca' });
    expect(new Date(body.notAfter).getTime()).toBeGreaterThan(Date.now());
    expect(body.bundleAuthorities).toHaveLength(1);
    expect(body.serial).toMatch(/^[0-9A-F]+$/);
  });

  it('refuses a non-admin of the same trust domain with 403 problem+json, also on docs', async () => {
    const creds = await as('spiffe://acme.test/ns/ml/sa/trainer');
    for (const path of ['/v1/identity', '/openapi.json', '/docs']) {
      const res = await httpsGet(`${base}${path}`, ca.bundlePem(), creds, gatewayId);
      expect(res.status).toBe(403);
      expect(res.contentType).toContain('application/problem+json');
      expect(JSON.parse(res.body)).toMatchObject({ status: 403, code: 'permission_denied', detail: 'permission denied' });
    }
  });

  it('fails the connection without a client certificate', async () => {
    await expect(httpsGet(`${base}/v1/identity`, ca.bundlePem(), {}, gatewayId)).rejects.toThrow();
  });

  it('refuses a client whose chain comes from another CA even if it claims an admin ID', async () => {
    const foreign = await TestCa.create({ trustDomain: 'acme.test' });
    const svid = await foreign.issueSvid({ id: 'spiffe://acme.test/parley/admin' });
    await expect(httpsGet(`${base}/v1/identity`, ca.bundlePem(), { certPem: svid.certPem, keyPem: svid.keyPem }, gatewayId)).rejects.toThrow();
  });

  it('refuses a partner CA (trusted for its own domain) that signs an admin ID of ours — verification is per trust domain', async () => {
    const partner = await TestCa.create({ trustDomain: 'partner.test' });
    gw.gateway.get(TrustStore).set(X509Bundle.parsePem(requireTrustDomain('partner.test'), partner.bundlePem()));
    try {
      // A partner workload itself gets through TLS (trusted bundle) but is not an admin.
      const own = await partner.issueSvid({ id: 'spiffe://partner.test/ops' });
      const ok = await httpsGet(`${base}/v1/identity`, ca.bundlePem(), { certPem: own.certPem, keyPem: own.keyPem }, gatewayId);
      expect(ok.status).toBe(403);
      // The partner CA claiming our admin ID passes the handshake pre-filter but not per-domain verification.
      const forged = await partner.issueSvid({ id: 'spiffe://acme.test/parley/admin' });
      await expect(httpsGet(`${base}/v1/identity`, ca.bundlePem(), { certPem: forged.certPem, keyPem: forged.keyPem }, gatewayId)).rejects.toThrow(/socket hang up|ECONNRESET/);
      const appended = { certPem: forged.certPem + ca.bundlePem(), keyPem: forged.keyPem };
      await expect(httpsGet(`${base}/v1/identity`, ca.bundlePem(), appended, gatewayId)).rejects.toThrow(/socket hang up|ECONNRESET/);
    } finally {
      gw.gateway.get(TrustStore).remove(requireTrustDomain('partner.test'));
    }
  });

  it('serves the OpenAPI document (3.1, mutual TLS) to admins, with every route declaring its permission', async () => {
    const res = await httpsGet(`${base}/openapi.json`, ca.bundlePem(), await as('spiffe://acme.test/parley/admin'), gatewayId);
    expect(res.status).toBe(200);
    const doc = JSON.parse(res.body);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes['spiffe-mtls'].type).toBe('mutualTLS');
    for (const [path, ops] of Object.entries<Record<string, { security?: unknown[] }>>(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) expect([path, method, op.security?.length]).toEqual([path, method, 1]);
    }
    const docs = await httpsGet(`${base}/docs`, ca.bundlePem(), await as('spiffe://acme.test/parley/admin'), gatewayId);
    expect([200, 301]).toContain(docs.status);
  });

  it('documents one paging convention on every paged list route: pageSize and pageToken in, nextPageToken out', async () => {
    const res = await httpsGet(`${base}/openapi.json`, ca.bundlePem(), await as('spiffe://acme.test/parley/admin'), gatewayId);
    expect(pagedRoutesOf(JSON.parse(res.body) as OpenApiDocument).sort()).toEqual(['/v1/audit', '/v1/records', '/v1/syncs']);
  });
});
