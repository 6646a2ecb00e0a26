import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId } from '../../../src/spiffe';
import { StoreClient, storeChannelOptions } from '../../../src/store';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { issueCreds } from '../../support/admin-api';
import { httpsRequest, type ClientCreds } from '../../support/https-client';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(60_000);

interface RecordJson {
  cid: string;
  namespace: string;
  mediaType: string;
  size: number;
  annotations: Record<string, string>;
  creatorSpiffeId: string;
  creatorTrustDomain: string;
  createdAt: string;
}

describe('admin API: records', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let base: string;
  let store: StoreClient;
  let admin: ClientCreds;
  const gatewayId = 'spiffe://acme.test/parley/gateway';
  const workloadId = 'spiffe://acme.test/ns/ml/sa/trainer';
  /** Pushed in this order: [namespace, media type, annotations, size]. */
  const pushed: Array<{ cid: string; namespace: string; mediaType: string; annotations: Record<string, string>; size: number }> = [];

  const creds = (id: string): Promise<ClientCreds> => issueCreds(ca, id);
  const call = (method: string, path: string, who: ClientCreds = admin) => httpsRequest(method, `${base}${path}`, ca.bundlePem(), who, gatewayId);
  const getJson = async <T>(path: string): Promise<T> => {
    const res = await call('GET', path);
    expect([path, res.status]).toEqual([path, 200]);
    return JSON.parse(res.body) as T;
  };
  const list = (query: string) => getJson<{ records: RecordJson[]; nextPageToken: string }>(`/v1/records?${query}`);
  const cidsOf = (records: RecordJson[]) => records.map((r) => r.cid);

  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    base = `https://127.0.0.1:${gw.gateway.listeners.admin!.port}`;
    admin = await creds('spiffe://acme.test/parley/admin');
    const issued = await ca.issue(requireSpiffeId(workloadId));
    store = new StoreClient(
      `127.0.0.1:${gw.gateway.listeners.grpc!.port}`,
      spiffeChannelCredentials({ svid: { certChainPem: issued.certPem, keyPem: issued.keyPem }, trust: gw.gateway.get(TrustStore), server: { id: requireSpiffeId(gatewayId) } }),
      { ...storeChannelOptions(), 'grpc.ssl_target_name_override': 'acme.test' },
    );
    const specs: Array<[string, string, Record<string, string>, number]> = [
      ['adm/a', 'application/octet-stream', { model: 'tiny', stage: 'dev' }, 10],
      ['adm/a/sub', 'text/plain', { model: 'tiny', stage: 'prod' }, 20],
      ['adm/b', 'application/octet-stream', { model: 'large' }, 30],
      ['adm/a', 'text/plain', { model: 'large', stage: 'prod' }, 40],
      ['adm/ab', 'application/octet-stream', {}, 50],
    ];
    for (const [namespace, mediaType, annotations, size] of specs) {
      const cid = await store.push({ namespace, media_type: mediaType, annotations }, randomBytes(size));
      pushed.push({ cid, namespace, mediaType, annotations, size });
    }
  });
  afterAll(async () => {
    store?.close();
    await gw?.stop();
  });

  it('lists records pushed over gRPC with their metadata, in push order', async () => {
    const { records, nextPageToken } = await list('');
    expect(nextPageToken).toBe('');
    expect(cidsOf(records)).toEqual(pushed.map((p) => p.cid));
    const grpc = (await store.lookup([pushed[0].cid])).records[0];
    expect(records[0]).toEqual({
      cid: pushed[0].cid,
      namespace: 'adm/a',
      mediaType: 'application/octet-stream',
      size: 10,
      annotations: { model: 'tiny', stage: 'dev' },
      creatorSpiffeId: workloadId,
      creatorTrustDomain: 'acme.test',
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/),
    });
    // Same instant as the gRPC Timestamp, to the microsecond.
    const micros = BigInt(grpc.created_at!.seconds as string) * 1_000_000n + BigInt(Math.floor((grpc.created_at!.nanos ?? 0) / 1000));
    const iso = records[0].createdAt;
    expect(BigInt(Date.parse(`${iso.slice(0, 23)}Z`)) * 1000n + BigInt(iso.slice(23, 26))).toBe(micros);
  });

  it('filters by namespace (exact or recursive), media type, annotations, creator trust domain and creation time', async () => {
    const [a1, asub, b, a2, ab] = pushed.map((p) => p.cid);
    expect(cidsOf((await list('namespace=adm/a')).records)).toEqual([a1, a2]);
    expect(cidsOf((await list('namespace=adm/a&recursive=true')).records)).toEqual([a1, asub, a2]);
    expect(cidsOf((await list('namespace=adm/a&recursive=false')).records)).toEqual([a1, a2]);
    expect(cidsOf((await list('mediaType=text/plain')).records)).toEqual([asub, a2]);
    expect(cidsOf((await list('annotation=model=tiny')).records)).toEqual([a1, asub]);
    expect(cidsOf((await list('annotation=model=large&annotation=stage=prod')).records)).toEqual([a2]);
    expect(cidsOf((await list('annotation=stage%3Dprod&namespace=adm/a&recursive=true&mediaType=text/plain')).records)).toEqual([asub, a2]);
    expect(cidsOf((await list('creatorTrustDomain=acme.test')).records)).toEqual([a1, asub, b, a2, ab]);
    expect((await list('creatorTrustDomain=partner.test')).records).toEqual([]);
    const all = (await list('')).records;
    // createdAt carries microseconds, so "after this record" excludes exactly it and earlier ones.
    expect(cidsOf((await list(`createdAfter=${encodeURIComponent(all[2].createdAt)}`)).records)).toEqual([a2, ab]);
    expect(cidsOf((await list('createdAfter=2000-01-01T00:00:00%2B02:00')).records)).toHaveLength(5);
    expect((await list('createdAfter=9999-12-31T23:59:59.999999Z')).records).toEqual([]);
  });

  it('pages with pageSize and pageToken, tokens bound to the filters and interchangeable with gRPC List', async () => {
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await list(`pageSize=2${token ? `&pageToken=${token}` : ''}`);
      expect(page.records.length).toBeLessThanOrEqual(2);
      seen.push(...cidsOf(page.records));
      token = page.nextPageToken;
      pages++;
    } while (token !== '');
    expect(pages).toBe(3);
    expect(seen).toEqual(pushed.map((p) => p.cid));

    const first = await list('namespace=adm&recursive=true&pageSize=1');
    const viaGrpc = await store.list({ namespace: 'adm', include_sub_namespaces: true, page_size: 10, page_token: first.nextPageToken });
    expect(viaGrpc.records.map((r) => r.cid)).toEqual(pushed.slice(1).map((p) => p.cid));

    const other = await call('GET', `/v1/records?namespace=adm/a&pageToken=${first.nextPageToken}`);
    expect(other.status).toBe(400);
    expect(JSON.parse(other.body)).toMatchObject({ code: 'invalid_argument', errors: [{ field: 'pageToken', message: 'was issued for different filters' }] });
  });

  it('gets one record with its referrers', async () => {
    const target = pushed[3].cid;
    const doc = Buffer.from('{"sig":"abc"}');
    const refCid = await store.pushReferrer(target, { type: 'signature', media_type: 'application/json', data: doc, annotations: { tool: 'cosign' } });
    const body = await getJson<RecordJson & { referrers: Array<Record<string, unknown>>; moreReferrers: boolean }>(`/v1/records/${target}`);
    expect(body).toMatchObject({ cid: target, namespace: 'adm/a', mediaType: 'text/plain', size: 40, annotations: { model: 'large', stage: 'prod' }, moreReferrers: false });
    expect(body.referrers).toEqual([
      { cid: refCid, type: 'signature', mediaType: 'application/json', size: doc.length, annotations: { tool: 'cosign' }, creatorSpiffeId: workloadId, createdAt: expect.any(String) },
    ]);
    const plain = await getJson<{ referrers: unknown[] }>(`/v1/records/${pushed[0].cid}`);
    expect(plain.referrers).toEqual([]);
  });

  it('deletes a record: 204, then 404 on the admin API and gone from gRPC Lookup and List', async () => {
    const cid = await store.push({ namespace: 'adm/doomed', media_type: 'application/octet-stream', annotations: {} }, randomBytes(100));
    await store.pushReferrer(cid, { type: 'note', media_type: 'text/plain', data: Buffer.from('bye'), annotations: {} });
    const res = await call('DELETE', `/v1/records/${cid}`);
    expect(res.status).toBe(204);
    expect(res.body).toBe('');
    const after = await call('GET', `/v1/records/${cid}`);
    expect(after.status).toBe(404);
    expect(after.contentType).toContain('application/problem+json');
    expect(JSON.parse(after.body)).toMatchObject({ status: 404, code: 'not_found' });
    const again = await call('DELETE', `/v1/records/${cid}`);
    expect(again.status).toBe(404);
    await expect(store.lookup([cid])).rejects.toMatchObject({ code: status.NOT_FOUND });
    expect((await store.list({ namespace: 'adm/doomed' })).records).toEqual([]);
  });

  it('answers 404 for an unknown but well-formed CID', async () => {
    const unknown = await store.push({ namespace: 'adm/tmp', media_type: '', annotations: {} }, randomBytes(8));
    await store.delete(unknown);
    const res = await call('GET', `/v1/records/${unknown}`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body).detail).toContain(unknown);
  });

  it.each([
    ['malformed CID on GET', 'GET', '/v1/records/not-a-cid', 'cid'],
    ['CIDv0 on DELETE', 'DELETE', '/v1/records/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', 'cid'],
    ['malformed pageToken', 'GET', '/v1/records?pageToken=bm9wZQ', 'pageToken'],
    ['non-base64url pageToken', 'GET', '/v1/records?pageToken=%2B%2B', 'pageToken'],
    ['createdAfter not a date-time', 'GET', '/v1/records?createdAfter=yesterday', 'createdAfter'],
    ['createdAfter impossible date', 'GET', '/v1/records?createdAfter=2025-02-30T00:00:00Z', 'createdAfter'],
    ['createdAfter out of range', 'GET', '/v1/records?createdAfter=0000-01-01T00:00:00Z', 'createdAfter'],
    ['pageSize not a number', 'GET', '/v1/records?pageSize=ten', 'pageSize'],
    ['negative pageSize', 'GET', '/v1/records?pageSize=-1', 'pageSize'],
    ['bad namespace', 'GET', '/v1/records?namespace=Bad/NS', 'namespace'],
    ['recursive without namespace', 'GET', '/v1/records?recursive=true', 'recursive'],
    ['recursive not boolean', 'GET', '/v1/records?namespace=adm&recursive=yes', 'recursive'],
    ['bad media type', 'GET', '/v1/records?mediaType=nonsense', 'mediaType'],
    ['bad trust domain', 'GET', '/v1/records?creatorTrustDomain=Not%20A%20Domain', 'creatorTrustDomain'],
    ['annotation without =', 'GET', '/v1/records?annotation=model', 'annotation'],
    ['annotation with bad key', 'GET', '/v1/records?annotation=Model=x', 'annotation'],
    ['annotation key twice', 'GET', '/v1/records?annotation=a=1&annotation=a=2', 'annotation'],
    ['repeated single-valued parameter', 'GET', '/v1/records?namespace=adm&namespace=adm/a', 'namespace'],
    ['unknown parameter', 'GET', '/v1/records?namespcae=adm', 'namespcae'],
  ])('answers 400 problem+json naming the field: %s', async (_name, method, path, field) => {
    const res = await call(method, path);
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    const problem = JSON.parse(res.body);
    expect(problem).toMatchObject({ status: 400, code: 'invalid_argument' });
    if (field === 'cid') expect(problem.detail).toMatch(/^cid: invalid cid/);
    else expect(problem.errors).toEqual([{ field, message: expect.any(String) }]);
  });

  it('refuses a non-admin with 403 on every route and deletes nothing', async () => {
    const workload = await creds(workloadId);
    const cid = pushed[0].cid;
    for (const [method, path] of [
      ['GET', '/v1/records'],
      ['GET', `/v1/records/${cid}`],
      ['DELETE', `/v1/records/${cid}`],
    ]) {
      const res = await call(method, path, workload);
      expect([method, path, res.status]).toEqual([method, path, 403]);
      expect(res.contentType).toContain('application/problem+json');
      expect(JSON.parse(res.body)).toMatchObject({ code: 'permission_denied', detail: 'permission denied' });
    }
    expect((await store.lookup([cid])).records).toHaveLength(1);
  });

  it('documents the routes in OpenAPI with their permissions and query parameters', async () => {
    const doc = JSON.parse((await call('GET', '/openapi.json')).body);
    expect(doc.paths['/v1/records'].get.security).toEqual([{ 'spiffe-mtls': ['records:read'] }]);
    expect(doc.paths['/v1/records/{cid}'].get.security).toEqual([{ 'spiffe-mtls': ['records:read'] }]);
    expect(doc.paths['/v1/records/{cid}'].delete.security).toEqual([{ 'spiffe-mtls': ['records:delete'] }]);
    const params = (doc.paths['/v1/records'].get.parameters as Array<{ name: string; in: string }>).filter((p) => p.in === 'query').map((p) => p.name);
    expect(params.sort()).toEqual(['annotation', 'createdAfter', 'creatorTrustDomain', 'mediaType', 'namespace', 'pageSize', 'pageToken', 'recursive']);
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['RecordDto', 'RecordPageDto', 'RecordDetailDto', 'ReferrerSummaryDto']));
  });
});
