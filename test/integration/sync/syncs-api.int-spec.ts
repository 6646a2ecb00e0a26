/**
 * `/v1/syncs` over real mTLS against an in-process gateway: the same jobs, validation, paging
 * and errors as parley.sync.v1.SyncService (one SyncService behind both), admins only.
 */
import * as grpc from '@grpc/grpc-js';
import type { SyncDto, SyncPageDto } from '../../../src/admin';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import type { SyncClient } from '../../../src/sync';
import { DataSource } from 'typeorm';
import { AuditWriter } from '../../../src/authz';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { issueSvid } from '../../support/federation';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { syncClient } from './sync-harness';

jest.setTimeout(60_000);

const ADMIN_ID = 'spiffe://acme.test/parley/admin';
// Nothing listens there: the worker's attempts fail UNREACHABLE and are retried, which these tests do not wait for.
const NOWHERE = '127.0.0.1:9';

describe('admin API: syncs', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;
  let grpcSyncs: SyncClient;
  const api = async (method: string, path: string, body?: unknown, who: Creds = admin) => {
    const res = await adminRequest(gw, ca, who, method, path, { json: body });
    return { status: res.status, json: (res.body === '' ? undefined : JSON.parse(res.body)) as Record<string, unknown> };
  };
  const fields = (json: Record<string, unknown>) => (json.errors as Array<{ field: string; message: string }>).map((e) => [e.field, e.message]);

  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    admin = await issueCreds(ca, ADMIN_ID);
    grpcSyncs = syncClient(await issueSvid(gw, '/ops'), gw, gw);
  });
  afterAll(async () => {
    grpcSyncs?.close();
    await gw?.stop();
  });

  it('creates a sync (defaults filled in), shows it, and gRPC GetSync sees the same job', async () => {
    const created = await api('POST', '/v1/syncs', { remoteAddress: NOWHERE, remoteTrustDomain: 'partner.test', namespaces: ['ml/shared'], annotations: { stage: 'released' } });
    expect(created.status).toBe(201);
    const sync = created.json as unknown as SyncDto;
    expect(sync).toMatchObject({
      remoteAddress: NOWHERE,
      remoteSpiffeId: 'spiffe://partner.test/parley/gateway',
      selection: { namespaces: ['ml/shared'], cids: [], annotations: { stage: 'released' } },
      continuous: false,
      intervalSeconds: 0,
      targetNamespace: 'partners/partner.test',
      counters: { discovered: 0, transferred: 0, skipped: 0, failed: 0, bytes: 0 },
      createdBy: ADMIN_ID,
    });
    expect(sync.syncId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await api('GET', `/v1/syncs/${sync.syncId}`)).json).toMatchObject({ syncId: sync.syncId, createdBy: ADMIN_ID, targetNamespace: 'partners/partner.test' });
    expect(await grpcSyncs.getSync(sync.syncId)).toMatchObject({ sync_id: sync.syncId, created_by: ADMIN_ID, remote_address: NOWHERE });
  });

  it('refuses what CreateSync refuses, with the same field errors, and stores nothing', async () => {
    const before = (await grpcSyncs.listSyncs(500)).syncs.length;
    const bad = { remoteAddress: 'no-port', remoteTrustDomain: 'acme.test', namespaces: ['../etc'], continuous: true, intervalSeconds: 1 };
    const rest = await api('POST', '/v1/syncs', bad);
    expect(rest.status).toBe(400);
    expect(fields(rest.json)).toEqual([
      ['remoteAddress', 'must be host:port'],
      ['remoteTrustDomain', expect.stringContaining("own trust domain acme.test")],
      ['namespaces[0]', expect.any(String)],
      ['intervalSeconds', expect.stringContaining('10 to')],
    ]);
    let grpcError: grpc.ServiceError | undefined;
    await grpcSyncs
      .createSync({ remote_address: 'no-port', remote_trust_domain: 'acme.test', selection: { namespaces: ['../etc'] }, continuous: true, interval_seconds: 1 })
      .catch((err: grpc.ServiceError) => (grpcError = err));
    expect(grpcError?.code).toBe(grpc.status.INVALID_ARGUMENT);
    for (const [field, message] of fields(rest.json)) expect(grpcError?.details).toContain(`${field}: ${typeof message === 'string' ? message : ''}`);

    const shape = await api('POST', '/v1/syncs', { remoteAddress: 7, namespaces: 'ml', continuous: 'yes', colour: 'red' });
    expect(shape.status).toBe(400);
    expect(fields(shape.json).map(([f]) => f)).toEqual(expect.arrayContaining(['remoteAddress', 'namespaces', 'continuous', 'colour']));
    expect((await api('POST', '/v1/syncs', [])).status).toBe(400);
    expect((await grpcSyncs.listSyncs(500)).syncs.length).toBe(before);
  });

  it('lists newest first a page at a time, every sync once; a foreign page token is refused naming pageToken', async () => {
    for (let i = 0; i < 3; i++) expect((await api('POST', '/v1/syncs', { remoteAddress: NOWHERE, remoteTrustDomain: `p${i}.test` })).status).toBe(201);
    const all = (await grpcSyncs.listSyncs(500)).syncs.map((s) => s.sync_id);
    const seen: string[] = [];
    let token = '';
    for (let pages = 0; pages < 20; pages++) {
      const page = (await api('GET', `/v1/syncs?pageSize=2${token ? `&pageToken=${token}` : ''}`)).json as unknown as SyncPageDto;
      expect(page.syncs.length).toBeLessThanOrEqual(2);
      seen.push(...page.syncs.map((s) => s.syncId));
      token = page.nextPageToken;
      if (token === '') break;
    }
    expect(seen).toEqual(all);
    expect(seen.length).toBeGreaterThanOrEqual(4);
    const foreign = await api('GET', '/v1/syncs?pageToken=bm90LWEtdG9rZW4');
    expect(foreign.status).toBe(400);
    expect(fields(foreign.json)).toEqual([['pageToken', 'not a token of this listing']]);
    expect(fields((await api('GET', '/v1/syncs?pageSize=-1')).json).map(([f]) => f)).toEqual(['pageSize']);
    expect(fields((await api('GET', '/v1/syncs?size=2')).json).map(([f]) => f)).toEqual(['size']);
  });

  it('deletes in any state; an unknown id is 404, a malformed one 400 naming id', async () => {
    const { json } = await api('POST', '/v1/syncs', { remoteAddress: NOWHERE, remoteSpiffeId: 'spiffe://partner.test/parley/gateway' });
    const id = String(json.syncId);
    expect((await api('DELETE', `/v1/syncs/${id}`)).status).toBe(204);
    expect(['DELETED', 'DELETE_PENDING']).toContain((await api('GET', `/v1/syncs/${id}`)).json.status);
    expect((await grpcSyncs.getSync(id)).status).toMatch(/^SYNC_STATUS_DELETE(D|_PENDING)$/);
    expect((await api('DELETE', '/v1/syncs/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await api('GET', '/v1/syncs/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const malformed = await api('GET', '/v1/syncs/NOT-A-UUID');
    expect(malformed.status).toBe(400);
    expect(fields(malformed.json)).toEqual([['id', 'must be a sync id (a lowercase UUID)']]);
  });

  it('an OCI source: its password is kept, never shown (REST, gRPC, list, audit), the source shown with the secret as ***', async () => {
    const password = 'pw-' + 'x7'.repeat(12);
    const created = await api('POST', '/v1/syncs', { source: { kind: 'oci', url: 'https://127.0.0.1:9', repository: 'models/llama', tags: ['v1'], credentials: { basic: { username: 'reader', password } } } });
    expect(created.status).toBe(201);
    const sync = created.json as unknown as SyncDto;
    const shown = { kind: 'oci', url: 'https://127.0.0.1:9', repository: 'models/llama', tags: ['v1'], auth: 'basic', username: 'reader', secret: '***', customCa: false, insecure: false };
    expect(sync).toMatchObject({ source: shown, targetNamespace: 'mirrors/models/llama' });
    const got = await api('GET', `/v1/syncs/${sync.syncId}`);
    expect(got.json).toMatchObject({ source: shown });
    const listed = await api('GET', '/v1/syncs?pageSize=500');
    expect((listed.json.syncs as SyncDto[]).find((s) => s.syncId === sync.syncId)).toMatchObject({ source: shown });
    const grpcShown = await grpcSyncs.getSync(sync.syncId);
    expect(JSON.stringify(grpcShown)).toContain('models/llama');
    // The password is in the database, apart from the source shown.
    const [row] = await gw.gateway.get(DataSource).query<Array<{ source: unknown; source_secret: string }>>('SELECT source, source_secret FROM syncs WHERE id = $1', [sync.syncId]);
    expect(row.source_secret).toContain(password);
    await gw.gateway.get(AuditWriter).flush();
    const audit = await gw.gateway.get(DataSource).query('SELECT * FROM authz_audit');
    for (const text of [created, got, listed].map((r) => JSON.stringify(r.json)).concat(JSON.stringify(grpcShown), JSON.stringify(row.source), JSON.stringify(audit))) {
      expect(text).not.toContain(password);
    }
  });

  it('only admins may read or write syncs', async () => {
    const workload = await issueCreds(ca, 'spiffe://acme.test/ns/ml/sa/trainer');
    expect((await api('GET', '/v1/syncs', undefined, workload)).status).toBe(403);
    expect((await api('POST', '/v1/syncs', { remoteAddress: NOWHERE, remoteTrustDomain: 'partner.test' }, workload)).status).toBe(403);
    expect((await api('DELETE', '/v1/syncs/00000000-0000-4000-8000-000000000000', undefined, workload)).status).toBe(403);
  });

  it('is in the OpenAPI document with its permissions', async () => {
    const doc = (await api('GET', '/openapi.json')).json as { paths: Record<string, Record<string, { security: Array<Record<string, string[]>> }>> };
    expect(doc.paths['/v1/syncs'].post.security).toEqual([{ 'spiffe-mtls': ['syncs:write'] }]);
    expect(doc.paths['/v1/syncs'].get.security).toEqual([{ 'spiffe-mtls': ['syncs:read'] }]);
    expect(Object.keys(doc.paths['/v1/syncs/{id}']).sort()).toEqual(['delete', 'get']);
  });
});
