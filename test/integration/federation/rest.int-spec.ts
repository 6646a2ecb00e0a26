/**
 * The federation admin API on a real gateway over mTLS: CRUD and validation, a static
 * partner bundle uploaded as PEM or SPIFFE JSON feeding the gateway's trust store (a partner
 * workload can then complete the mTLS handshake), the deny list, bundle export, readiness
 * details, and deletion taking the partner's trust away again.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId, requireTrustDomain, SpiffeBundle } from '../../../src/spiffe';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { check, healthClient } from '../../support/grpc-health-client';
import { TestCa } from '../../support/test-ca';
import { ReadinessRegistry } from '../../../src/ops';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(60_000);

const PARTNER = 'partner.test';
const PARTNER_TD = requireTrustDomain(PARTNER);
const GATEWAY_ID = 'spiffe://acme.test/parley/gateway';

interface Reply {
  status: number;
  body: string;
  contentType?: string;
  json<T = Record<string, unknown>>(): T;
}

describe('admin API: federations and bundles', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;
  let ca1: TestCa;
  let ca2: TestCa;

  const api = async (method: string, path: string, o: { body?: unknown; raw?: string; contentType?: string; accept?: string; who?: Creds } = {}): Promise<Reply> => {
    const headers: Record<string, string> = { accept: o.accept ?? 'application/json' };
    if (o.contentType !== undefined) headers['content-type'] = o.contentType;
    const res = await adminRequest(gw, ca, o.who ?? admin, method, path, { json: o.body, raw: o.raw, headers, timeoutMs: 15_000 });
    return { ...res, json: <T>() => JSON.parse(res.body) as T };
  };

  /** A health check by a partner workload: PERMISSION_DENIED means the connection was admitted (authorization then refuses), UNAUTHENTICATED that it was refused. */
  const partnerHandshake = async (): Promise<number> => {
    const svid = await ca1.issueSvid({ id: 'spiffe://partner.test/sync' });
    const trust = { getX509Authorities: (td: typeof PARTNER_TD) => gw.gateway.get(TrustStore).getX509Authorities(td), allX509Authorities: () => gw.gateway.get(TrustStore).allX509Authorities() };
    const client = healthClient(`127.0.0.1:${gw.gateway.listeners.grpc!.port}`, spiffeChannelCredentials({ svid: { certChainPem: svid.certPem, keyPem: svid.keyPem }, trust, server: { id: requireSpiffeId(GATEWAY_ID) } }));
    try {
      await check(client);
      return grpcStatus.OK;
    } catch (err) {
      return (err as { code: number }).code;
    } finally {
      client.close();
    }
  };

  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    admin = await issueCreds(ca, 'spiffe://acme.test/parley/admin');
    [ca1, ca2] = await Promise.all([TestCa.create({ trustDomain: PARTNER }), TestCa.create({ trustDomain: PARTNER })]);
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('refuses invalid relationships with field errors, and callers without the permission', async () => {
    const bad = await api('POST', '/v1/federations', { body: { trustDomain: 'Bad_TD', profile: 'https_spiffe', endpointUrls: ['http://x/'], extra: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.contentType).toContain('application/problem+json');
    const fields = bad.json<{ errors: Array<{ field: string }> }>().errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['extra', 'trustDomain', 'endpointUrls[0]', 'endpointSpiffeId']));
    const own = await api('POST', '/v1/federations', { body: { trustDomain: 'acme.test', profile: 'static' } });
    expect(own.status).toBe(400);
    const denied = await api('GET', '/v1/federations', { who: await issueCreds(ca, 'spiffe://acme.test/ns/ml/sa/trainer') });
    expect(denied.status).toBe(403);
  });

  it('creates a static relationship (201, pending) and refuses a second one (409)', async () => {
    expect((await api('GET', '/v1/federations')).json()).toEqual({ federations: [] });
    const created = await api('POST', '/v1/federations', { body: { trustDomain: PARTNER, profile: 'static' } });
    expect(created.status).toBe(201);
    expect(created.json()).toMatchObject({ trustDomain: PARTNER, profile: 'static', state: 'pending', source: 'api', authorities: [] });
    expect((await api('POST', '/v1/federations', { body: { trustDomain: PARTNER, profile: 'static' } })).status).toBe(409);
    expect((await api('POST', `/v1/federations/${PARTNER}/refresh`)).status).toBe(412);
    expect((await api('POST', `/v1/federations/${PARTNER}:refresh`)).status).toBe(412);
    for (const path of ['/v1/federations/nobody.test/refresh', '/v1/federations/nobody.test:refresh']) expect([path, (await api('POST', path)).status]).toEqual([path, 404]);
    expect((await api('POST', `/v1/federations/${PARTNER}:resync`)).status).toBe(404);
    expect((await api('GET', '/v1/federations/nobody.test')).status).toBe(404);
    expect(gw.gateway.get(TrustStore).get(PARTNER_TD)).toBeUndefined();
    expect(await partnerHandshake()).toBe(grpcStatus.UNAUTHENTICATED);
  });

  it('feeds an uploaded PEM bundle into the trust store, then a SPIFFE JSON one', async () => {
    const bad = await api('PUT', `/v1/federations/${PARTNER}/bundle`, { raw: 'not a bundle', contentType: 'application/x-pem-file' });
    expect(bad.status).toBe(400);
    expect(bad.json<{ errors: Array<{ field: string }> }>().errors[0].field).toBe('bundle');

    const pem = await api('PUT', `/v1/federations/${PARTNER}/bundle`, { raw: ca1.certPem, contentType: 'application/x-pem-file' });
    expect(pem.status).toBe(200);
    expect(pem.json()).toMatchObject({ state: 'ready', sequence: '1', authorities: [{ fingerprint: ca1.certificate.fingerprint256.split(':').join('').toLowerCase() }] });
    expect(gw.gateway.get(TrustStore).getX509Authorities(PARTNER_TD)?.map((c) => c.fingerprint256)).toEqual([ca1.certificate.fingerprint256]);
    expect(await partnerHandshake()).toBe(grpcStatus.PERMISSION_DENIED);

    const doc = SpiffeBundle.fromX509Authorities(PARTNER_TD, [ca1.certificate, ca2.certificate], { sequence: 7n, refreshHint: 60 }).serialize();
    const json = await api('PUT', `/v1/federations/${PARTNER}/bundle`, { raw: doc });
    expect(json.status).toBe(200);
    expect(json.json()).toMatchObject({ sequence: '7', refreshHint: 60 });
    expect(gw.gateway.get(TrustStore).getX509Authorities(PARTNER_TD)).toHaveLength(2);
  });

  it('exports held bundles as SPIFFE JSON or PEM, ours included', async () => {
    const asJson = await api('GET', `/v1/bundles/${PARTNER}`);
    expect(asJson.contentType).toContain('application/json');
    const parsed = SpiffeBundle.parse(asJson.body, PARTNER_TD);
    expect(parsed.sequence).toBe(7n);
    expect(parsed.x509Authorities).toHaveLength(2);
    const asPem = await api('GET', `/v1/bundles/${PARTNER}`, { accept: 'application/x-pem-file' });
    expect(asPem.contentType).toContain('application/x-pem-file');
    expect(asPem.body.split('BEGIN CERTIFICATE')).toHaveLength(3);
    const own = SpiffeBundle.parse((await api('GET', '/v1/bundles/acme.test')).body, requireTrustDomain('acme.test'));
    expect(own.sequence).toBe(1n);
    expect(own.refreshHint).toBe(300);
    expect((await api('GET', '/v1/bundles/unknown.test')).status).toBe(404);
    expect((await api('GET', '/v1/bundles/NOT%20A%20TD')).status).toBe(400);
    const held = (await api('GET', '/v1/bundles')).json<{ bundles: Array<{ trustDomain: string; own: boolean }> }>().bundles;
    expect(held).toEqual(expect.arrayContaining([expect.objectContaining({ trustDomain: 'acme.test', own: true }), expect.objectContaining({ trustDomain: PARTNER, own: false, relationship: true })]));
  });

  it('applies the deny list, and reports each partner in readiness without failing it', async () => {
    const put = await api('PUT', `/v1/federations/${PARTNER}`, { body: { profile: 'static', deniedAuthorities: [ca1.certificate.fingerprint256] } });
    expect(put.status).toBe(200);
    expect(put.json<{ authorities: unknown[]; deniedInBundle: string[] }>().deniedInBundle).toHaveLength(1);
    expect(gw.gateway.get(TrustStore).getX509Authorities(PARTNER_TD)?.map((c) => c.fingerprint256)).toEqual([ca2.certificate.fingerprint256]);
    expect(await partnerHandshake()).toBe(grpcStatus.UNAUTHENTICATED); // its SVID is from the denied CA
    expect((await api('PUT', `/v1/federations/${PARTNER}`, { body: { trustDomain: 'other.test', profile: 'static' } })).status).toBe(400);

    await api('POST', '/v1/federations', { body: { trustDomain: 'down.test', profile: 'https_web', endpointUrls: ['https://127.0.0.1:1/'] } });
    for (const path of ['/v1/federations/down.test/refresh', '/v1/federations/down.test:refresh']) {
      const down = await api('POST', path);
      expect([path, down.status]).toEqual([path, 200]);
      expect(down.json()).toMatchObject({ trustDomain: 'down.test', state: 'failing', lastError: { reason: 'connect' } });
    }
    const report = await gw.gateway.get(ReadinessRegistry).evaluate(2000);
    const fed = report.checks.find((c) => c.name === 'federation')!;
    expect(fed.ok).toBe(true);
    expect(fed.critical).toBe(false);
    expect(report.ready).toBe(true);
    expect(fed.details).toMatchObject({ partners: { [PARTNER]: 'ready', 'down.test': 'failing' } });
    expect((await api('DELETE', '/v1/federations/down.test')).status).toBe(204);
  });

  it('documents refresh as POST /v1/federations/{trustDomain}/refresh, with a trustDomain path parameter; the :refresh spelling is not in the document', async () => {
    const doc = (await api('GET', '/openapi.json')).json<{ paths: Record<string, Record<string, { operationId: string; parameters?: Array<{ name: string; in: string; required?: boolean }>; security?: unknown }>> }>();
    const refresh = doc.paths['/v1/federations/{trustDomain}/refresh']?.post;
    expect(refresh).toBeDefined();
    expect(refresh!.operationId).toBe('FederationsController_refresh');
    expect(refresh!.parameters).toEqual([expect.objectContaining({ name: 'trustDomain', in: 'path', required: true })]);
    expect(refresh!.security).toEqual([{ 'spiffe-mtls': ['federations:write'] }]);
    const templates = Object.keys(doc.paths);
    expect(templates.filter((t) => t.includes('{action}') || t.includes(':refresh'))).toEqual([]);
    for (const ops of Object.values(doc.paths)) for (const op of Object.values(ops)) expect(op.parameters?.map((p) => p.name) ?? []).not.toContain('action');
  });

  it('deletes a relationship: the partner bundle leaves the trust store and its workloads are refused', async () => {
    await api('PUT', `/v1/federations/${PARTNER}`, { body: { profile: 'static' } });
    expect(await partnerHandshake()).toBe(grpcStatus.PERMISSION_DENIED);
    expect((await api('DELETE', `/v1/federations/${PARTNER}`)).status).toBe(204);
    expect(gw.gateway.get(TrustStore).get(PARTNER_TD)).toBeUndefined();
    expect((await api('GET', `/v1/federations/${PARTNER}`)).status).toBe(404);
    expect((await api('DELETE', `/v1/federations/${PARTNER}`)).status).toBe(404);
    expect(await partnerHandshake()).toBe(grpcStatus.UNAUTHENTICATED);
  });
});
