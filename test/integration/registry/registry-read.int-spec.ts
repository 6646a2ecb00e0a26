/**
 * The OCI registry face of a real gateway (real PostgreSQL, real mTLS on 127.0.0.1):
 * acme.test serves its registry; records pushed over gRPC are read as OCI artifacts by an
 * acme workload, and by partner.test's gateway only as far as its grant goes.
 */
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditWriter, RevocationStore, ServedMethods } from '../../../src/authz';
import { requireRouteRules } from '../../../src/registry';
import { ExportStore } from '../../../src/sync';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { ACME, PARTNER, gatewayIdOf, issueSvid, payload, startFederatedPair, workloadClient } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';
import { ociCode, openRegistryConnection, REGISTRY_ENV, registryRequest } from './registry-harness';

jest.setTimeout(120_000);

const LIST = '/parley.store.v1.StoreService/List';

async function auditRows(gw: TestGateway, method: string, spiffeId: string): Promise<Array<{ decision: string; reason: string; namespace: string | null }>> {
  await gw.gateway.get(AuditWriter).flush();
  return gw.gateway.get(DataSource).query('SELECT decision, reason, namespace FROM authz_audit WHERE method = $1 AND spiffe_id = $2 ORDER BY id', [method, spiffeId]);
}

describe('registry read routes', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  let app: PemKeyPair;
  let partnerGateway: PemKeyPair;
  const bytes = payload(700_000);
  let cid: string;
  let privateCid: string;
  let sigCid: string;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair({ acme: REGISTRY_ENV }));
    app = await issueSvid(acme, '/ml/app');
    partnerGateway = await issueSvid(partner, '/parley/gateway');
    const writer = await workloadClient(acme, '/ml/app', acme);
    try {
      cid = await writer.push({ namespace: 'ml/shared', media_type: 'application/x-safetensors', annotations: { model: 'tiny' } }, bytes);
      privateCid = await writer.push({ namespace: 'ml/private', media_type: 'text/plain' }, Buffer.from('not exported'));
      sigCid = await writer.pushReferrer(cid, { type: 'signature', media_type: 'application/json', data: Buffer.from('{"sig":"acme"}'), annotations: { alg: 'es256' } });
    } finally {
      writer.close();
    }
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  it('serves a record as an image manifest: tag = CID, one layer = the payload, its digest the CID digest', async () => {
    expect((await registryRequest(acme, app, 'GET', '/v2/')).status).toBe(200);
    const byTag = await registryRequest(acme, app, 'GET', `/v2/ml/shared/manifests/${cid}`);
    expect(byTag.status).toBe(200);
    expect(byTag.headers['content-type']).toBe('application/vnd.oci.image.manifest.v1+json');
    const digest = `sha256:${createHash('sha256').update(byTag.body).digest('hex')}`;
    expect(byTag.headers['docker-content-digest']).toBe(digest);
    const manifest = byTag.json();
    expect(manifest.artifactType).toBe('application/vnd.parley.record.v1');
    expect(manifest.layers).toEqual([
      { mediaType: 'application/x-safetensors', digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length, annotations: { model: 'tiny', 'org.opencontainers.image.title': cid } },
    ]);
    const byDigest = await registryRequest(acme, app, 'GET', `/v2/ml/shared/manifests/${digest}`);
    expect(byDigest.body.equals(byTag.body)).toBe(true);
    const head = await registryRequest(acme, app, 'HEAD', `/v2/ml/shared/manifests/${cid}`);
    expect([head.status, head.body.length, head.headers['docker-content-digest']]).toEqual([200, 0, digest]);
  });

  it('streams the payload as the blob, with Range', async () => {
    const layer = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const blob = await registryRequest(acme, app, 'GET', `/v2/ml/shared/blobs/${layer}`);
    expect([blob.status, blob.body.equals(bytes)]).toEqual([200, true]);
    const part = await registryRequest(acme, app, 'GET', `/v2/ml/shared/blobs/${layer}`, { Range: 'bytes=300000-300009' });
    expect([part.status, part.headers['content-range'], part.body.equals(bytes.subarray(300_000, 300_010))]).toEqual([206, `bytes 300000-300009/${bytes.length}`, true]);
    const config = await registryRequest(acme, app, 'GET', '/v2/ml/shared/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    expect(config.body.toString()).toBe('{}');
    const outside = await registryRequest(acme, app, 'GET', `/v2/ml/shared/blobs/${layer}`, { Range: `bytes=${bytes.length}-` });
    expect([outside.status, ociCode(outside)]).toEqual([416, 'RANGE_INVALID']);
  });

  it('lists tags and referrers; a referrer manifest has the record manifest as subject', async () => {
    const tags = await registryRequest(acme, app, 'GET', '/v2/ml/shared/tags/list');
    expect(tags.json()).toEqual({ name: 'ml/shared', tags: [cid] });
    const digest = (await registryRequest(acme, app, 'HEAD', `/v2/ml/shared/manifests/${cid}`)).headers['docker-content-digest'] as string;
    const referrers = await registryRequest(acme, app, 'GET', `/v2/ml/shared/referrers/${digest}`);
    expect(referrers.headers['content-type']).toBe('application/vnd.oci.image.index.v1+json');
    const [descriptor] = referrers.json().manifests as Array<{ digest: string; annotations: Record<string, string> }>;
    expect(descriptor.annotations).toMatchObject({ 'io.parley.cid': sigCid, 'io.parley.referrer.type': 'signature', alg: 'es256' });
    const sig = await registryRequest(acme, app, 'GET', `/v2/ml/shared/manifests/${descriptor.digest}`);
    expect(sig.json().subject).toMatchObject({ digest });
    const filtered = await registryRequest(acme, app, 'GET', `/v2/ml/shared/referrers/${digest}?artifactType=application/x.none`);
    expect([filtered.json().manifests, filtered.headers['oci-filters-applied']]).toEqual([[], 'artifactType']);
  });

  it('answers bad input with the spec error codes, never a 500, and finds nothing across namespaces', async () => {
    const layer = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const cases: Array<[string, string, number, string]> = [
      ['GET', `/v2/ml/private/blobs/${layer}`, 404, 'BLOB_UNKNOWN'],
      ['GET', `/v2/ml/private/manifests/${cid}`, 404, 'MANIFEST_UNKNOWN'],
      ['GET', `/v2/ml/shared/manifests/${privateCid}`, 404, 'MANIFEST_UNKNOWN'],
      ['GET', '/v2/ml/shared/manifests/not-a-cid', 404, 'MANIFEST_UNKNOWN'],
      ['GET', '/v2/ml/shared/blobs/sha256:xyz', 400, 'DIGEST_INVALID'],
      ['GET', `/v2/ml/shared/blobs/sha512:${'a'.repeat(128)}`, 404, 'BLOB_UNKNOWN'],
      ['GET', '/v2/ML/Shared/tags/list', 400, 'NAME_INVALID'],
      ['GET', '/v2/ml/shared/tags/list?n=-1', 400, 'UNSUPPORTED'],
      ['DELETE', `/v2/ml/shared/manifests/${cid}`, 405, 'UNSUPPORTED'],
      ['GET', '/v2/ml/shared/nothing/here', 404, 'NAME_UNKNOWN'],
    ];
    for (const [method, path, status, code] of cases) {
      const reply = await registryRequest(acme, app, method, path);
      expect([path, reply.status, ociCode(reply)]).toEqual([path, status, code]);
    }
  });

  it('lets a federated caller list tags only with a grant: 401 with a Bearer challenge, audited', async () => {
    expect(partner.gateway.listeners.registry).toBeUndefined(); // off unless configured
    const refused = await registryRequest(acme, partnerGateway, 'GET', '/v2/ml/shared/tags/list', { Host: 'registry.acme.test:8445' });
    expect([refused.status, ociCode(refused)]).toEqual([401, 'UNAUTHORIZED']);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="https://registry.acme.test:8445/token",service="acme.test",scope="repository:ml/shared:pull"');
    expect((await auditRows(acme, LIST, gatewayIdOf(PARTNER).toString())).at(-1)).toMatchObject({ decision: 'deny' });
  });

  it('issues a grant at the token endpoint to the mTLS caller, and lists tags within the export with it', async () => {
    const nothing = await registryRequest(acme, partnerGateway, 'GET', '/token?service=acme.test&scope=repository:ml/shared:pull');
    expect([nothing.status, ociCode(nothing)]).toEqual([403, 'DENIED']);
    await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'test');
    const token = await registryRequest(acme, partnerGateway, 'GET', '/token?service=acme.test&scope=repository:ml/shared:pull');
    expect(token.status).toBe(200);
    const grant = token.json().token as string;
    expect(token.json()).toMatchObject({ access_token: grant, expires_in: 300 });
    const tags = await registryRequest(acme, partnerGateway, 'GET', '/v2/ml/shared/tags/list', { Authorization: `Bearer ${grant}` });
    expect([tags.status, tags.json().tags]).toEqual([200, [cid]]);
    const outside = await registryRequest(acme, partnerGateway, 'GET', '/v2/ml/private/tags/list', { Authorization: `Bearer ${grant}` });
    expect([outside.status, ociCode(outside)]).toEqual([403, 'DENIED']);
    const rows = await auditRows(acme, LIST, gatewayIdOf(PARTNER).toString());
    expect(rows.slice(-2)).toEqual([
      { decision: 'allow', reason: expect.stringMatching(/^within grant /), namespace: 'ml/shared' },
      { decision: 'deny', reason: expect.stringMatching(/^namespace ml\/private is outside grant /), namespace: 'ml/private' },
    ]);
    const credentials = await auditRows(acme, '/parley.sync.v1.SyncService/RequestRegistryCredentials', gatewayIdOf(PARTNER).toString());
    expect(credentials.map((r) => [r.decision, r.reason])).toEqual([
      ['deny', 'permission_denied: nothing is exported to you'],
      ['allow', expect.any(String)],
    ]);

    // The same grant replayed from another certificate: refused (401), audited with the reason.
    const thief = await issueSvid(partner, '/ml/trainer');
    const replayed = await registryRequest(acme, thief, 'GET', '/v2/ml/shared/tags/list', { Authorization: `Bearer ${grant}` });
    expect([replayed.status, ociCode(replayed)]).toEqual([401, 'UNAUTHORIZED']);
    expect((await auditRows(acme, LIST, `spiffe://${PARTNER}/ml/trainer`)).at(-1)).toMatchObject({ decision: 'deny', reason: 'grant refused: grant_wrong_subject' });
    const sameIdOtherCert = await registryRequest(acme, await issueSvid(partner, '/parley/gateway'), 'GET', '/v2/ml/shared/tags/list', { Authorization: `Bearer ${grant}` });
    expect(sameIdOtherCert.status).toBe(401);
    expect((await auditRows(acme, LIST, gatewayIdOf(PARTNER).toString())).at(-1)).toMatchObject({ decision: 'deny', reason: 'grant refused: grant_wrong_certificate' });
  });

  it('admits peers through the mTLS admission: no client certificate, no request', async () => {
    await expect(registryRequest(acme, undefined, 'GET', '/v2/')).rejects.toThrow();
    expect(ACME).toBe(acme.config.identity.trustDomain);
  });

  it('closes an open registry connection when its identity is revoked, and refuses it afterwards (audited)', async () => {
    const revokedSvid = await issueSvid(acme, '/ml/soon-revoked');
    const socket = await openRegistryConnection(acme, revokedSvid);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await acme.gateway.get(RevocationStore).add({ kind: 'spiffe_id', value: `spiffe://${ACME}/ml/soon-revoked`, reason: 'test: compromised', createdBy: 'test' });
    await closed;
    const refused = await registryRequest(acme, revokedSvid, 'GET', '/v2/ml/shared/tags/list');
    expect([refused.status, ociCode(refused)]).toEqual([403, 'DENIED']);
    expect((await auditRows(acme, LIST, `spiffe://${ACME}/ml/soon-revoked`)).at(-1)).toMatchObject({ decision: 'deny', reason: expect.stringMatching(/^revoked: /) });
  });

  it('refuses to start with a route whose method no rule can name', () => {
    const served = acme.gateway.get(ServedMethods);
    expect(() => requireRouteRules(served)).not.toThrow();
    const without = new ServedMethods(['/parley.store.v1.StoreService/Lookup', '/parley.store.v1.StoreService/List'], []);
    expect(() => requireRouteRules(without)).toThrow(/routes without an authorization rule: token, manifest_put, manifest_delete, blob_get, blob_delete, referrers, upload_start, upload_patch, upload_put, upload_status, upload_cancel/);
  });
});
