/**
 * Pushing into the registry face of a real gateway (real PostgreSQL, real mTLS): blobs
 * staged in the store's chunks (monolithic and chunked uploads), a manifest that makes its
 * layer a record readable over gRPC, a referrer with a subject, and who may push.
 */
import { createHash } from 'node:crypto';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { StoreService } from '../../../src/store';
import { issueSvid, payload, startFederatedPair, workloadClient } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';
import { ociCode, REGISTRY_ENV, registryRequest } from './registry-harness';

jest.setTimeout(120_000);

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('registry push routes', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  let app: PemKeyPair;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair({ acme: { ...REGISTRY_ENV, PARLEY_STORE_CHUNK_BYTES: '65536' } }));
    app = await issueSvid(acme, '/ml/app');
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  async function chunkedUpload(name: string, bytes: Buffer, pieces: number): Promise<string> {
    const start = await registryRequest(acme, app, 'POST', `/v2/${name}/blobs/uploads/`);
    expect(start.status).toBe(202);
    const location = start.headers.location as string;
    const step = Math.ceil(bytes.length / pieces);
    for (let at = 0; at < bytes.length; at += step) {
      const piece = bytes.subarray(at, at + step);
      const patch = await registryRequest(acme, app, 'PATCH', location, { 'Content-Type': 'application/octet-stream', 'Content-Range': `${at}-${at + piece.length - 1}`, 'Content-Length': String(piece.length) }, piece);
      expect([patch.status, patch.headers.range]).toEqual([202, `0-${at + piece.length - 1}`]);
    }
    const put = await registryRequest(acme, app, 'PUT', `${location}?digest=${sha(bytes)}`, { 'Content-Length': '0' });
    expect([put.status, put.headers['docker-content-digest']]).toEqual([201, sha(bytes)]);
    return sha(bytes);
  }

  it('takes a chunked upload and a manifest: the layer becomes a record, byte-identical over gRPC, the manifest kept as pushed', async () => {
    const bytes = payload(300_001);
    const digest = await chunkedUpload('ml/pushed', bytes, 5);
    expect((await registryRequest(acme, app, 'HEAD', `/v2/ml/pushed/blobs/${digest}`)).headers['content-length']).toBe(String(bytes.length));
    // Before its manifest the blob is served from its staged chunks and the partial last chunk held in memory.
    expect((await registryRequest(acme, app, 'GET', `/v2/ml/pushed/blobs/${digest}`)).body.equals(bytes)).toBe(true);
    const ranged = await registryRequest(acme, app, 'GET', `/v2/ml/pushed/blobs/${digest}`, { Range: 'bytes=65000-300000' });
    expect([ranged.status, ranged.body.equals(bytes.subarray(65000, 300001))]).toEqual([206, true]);
    const cid = (await import('../../../src/store')).ContentId.fromSha256(Buffer.from(digest.slice(7), 'hex')).toString();
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, artifactType: 'application/vnd.example.model', config: EMPTY, layers: [{ mediaType: 'application/x-model', digest, size: bytes.length, annotations: { 'org.opencontainers.image.title': 'model.bin' } }], annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' } }));
    // A CID tag names its record: another record's CID is refused.
    const otherCid = (await import('../../../src/store')).ContentId.of(Buffer.from('another record')).toString();
    const wrongTag = await registryRequest(acme, app, 'PUT', `/v2/ml/pushed/manifests/${otherCid}`, { 'Content-Type': MANIFEST }, manifest);
    expect([wrongTag.status, ociCode(wrongTag)]).toEqual([400, 'MANIFEST_INVALID']);
    const put = await registryRequest(acme, app, 'PUT', `/v2/ml/pushed/manifests/${cid}`, { 'Content-Type': MANIFEST }, manifest);
    expect([put.status, put.headers['docker-content-digest']]).toEqual([201, sha(manifest)]);

    const reader = await workloadClient(acme, '/ml/reader', acme);
    try {
      const pulled = await reader.pullAll(cid);
      expect(pulled.data.equals(bytes)).toBe(true);
      expect(pulled.record).toMatchObject({ namespace: 'ml/pushed', media_type: 'application/x-model', annotations: { 'org.opencontainers.image.title': 'model.bin' } });
    } finally {
      reader.close();
    }
    const kept = await registryRequest(acme, app, 'GET', `/v2/ml/pushed/manifests/${sha(manifest)}`);
    expect(kept.body.equals(manifest)).toBe(true);
    expect((await registryRequest(acme, app, 'GET', '/v2/ml/pushed/tags/list')).json().tags).toEqual([cid]);
    expect((await registryRequest(acme, app, 'GET', `/v2/ml/pushed/blobs/${digest}`)).body.equals(bytes)).toBe(true);
  });

  it('takes a referrer (monolithic uploads, a manifest with subject): OCI-Subject, listed by the referrers API', async () => {
    const bytes = payload(1000);
    const post = await registryRequest(acme, app, 'POST', `/v2/ml/signed/blobs/uploads/?digest=${sha(bytes)}`, { 'Content-Length': String(bytes.length), 'Content-Type': 'application/octet-stream' }, bytes);
    expect(post.status).toBe(201);
    const cid = (await import('../../../src/store')).ContentId.fromSha256(Buffer.from(sha(bytes).slice(7), 'hex')).toString();
    const recordManifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: [{ mediaType: 'application/octet-stream', digest: sha(bytes), size: bytes.length }] }));
    expect((await registryRequest(acme, app, 'PUT', `/v2/ml/signed/manifests/${cid}`, { 'Content-Type': MANIFEST }, recordManifest)).status).toBe(201);
    const subject = (await registryRequest(acme, app, 'HEAD', `/v2/ml/signed/manifests/${cid}`)).headers['docker-content-digest'] as string;

    const sig = Buffer.from('{"signature":"acme"}');
    expect((await registryRequest(acme, app, 'POST', `/v2/ml/signed/blobs/uploads/?digest=${sha(sig)}`, { 'Content-Length': String(sig.length) }, sig)).status).toBe(201);
    const referrer = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, artifactType: 'application/vnd.example.signature', config: EMPTY, layers: [{ mediaType: 'application/json', digest: sha(sig), size: sig.length }], subject: { mediaType: MANIFEST, digest: subject, size: 1 }, annotations: { by: 'acme' } }));
    const put = await registryRequest(acme, app, 'PUT', `/v2/ml/signed/manifests/${sha(referrer)}`, { 'Content-Type': MANIFEST }, referrer);
    expect([put.status, put.headers['oci-subject'], put.headers['docker-content-digest']]).toEqual([201, subject, sha(referrer)]);
    const index = (await registryRequest(acme, app, 'GET', `/v2/ml/signed/referrers/${subject}`)).json();
    expect(index.manifests).toEqual([{ mediaType: MANIFEST, digest: sha(referrer), size: referrer.length, artifactType: 'application/vnd.example.signature', annotations: { by: 'acme' } }]);
    expect((await registryRequest(acme, app, 'GET', `/v2/ml/signed/manifests/${sha(referrer)}`)).body.equals(referrer)).toBe(true);
    expect((await registryRequest(acme, app, 'GET', `/v2/ml/signed/blobs/${sha(sig)}`)).body.equals(sig)).toBe(true);
  });

  it('refuses what does not fit, with the spec codes', async () => {
    const bytes = payload(100);
    const start = await registryRequest(acme, app, 'POST', '/v2/ml/bad/blobs/uploads/');
    const location = start.headers.location as string;
    const wrong = await registryRequest(acme, app, 'PUT', `${location}?digest=sha256:${'0'.repeat(64)}`, { 'Content-Length': String(bytes.length) }, bytes);
    expect([wrong.status, ociCode(wrong)]).toEqual([400, 'DIGEST_INVALID']);
    expect(ociCode(await registryRequest(acme, app, 'PATCH', location, { 'Content-Length': '1' }, Buffer.from('x')))).toBe('BLOB_UPLOAD_UNKNOWN');
    const second = (await registryRequest(acme, app, 'POST', '/v2/ml/bad/blobs/uploads/')).headers.location as string;
    const gap = await registryRequest(acme, app, 'PATCH', second, { 'Content-Range': '10-19', 'Content-Length': '10' }, payload(10));
    expect([gap.status, ociCode(gap)]).toEqual([416, 'RANGE_INVALID']);
    // The closing PUT's last chunk out of order: 416 too, the upload still open where it stood.
    const first = payload(10);
    expect((await registryRequest(acme, app, 'PATCH', second, { 'Content-Range': '0-9', 'Content-Length': '10' }, first)).status).toBe(202);
    const last = payload(10);
    const outOfOrder = await registryRequest(acme, app, 'PUT', `${second}?digest=${sha(Buffer.concat([first, last]))}`, { 'Content-Range': '20-29', 'Content-Length': '10' }, last);
    expect([outOfOrder.status, ociCode(outOfOrder)]).toEqual([416, 'RANGE_INVALID']);
    const stands = await registryRequest(acme, app, 'GET', second);
    expect([stands.status, stands.headers.range]).toEqual([204, '0-9']);
    const missing = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: [{ mediaType: 'application/octet-stream', digest: `sha256:${'1'.repeat(64)}`, size: 1 }] }));
    const unknown = await registryRequest(acme, app, 'PUT', `/v2/ml/bad/manifests/${sha(missing)}`, { 'Content-Type': MANIFEST }, missing);
    expect([unknown.status, ociCode(unknown)]).toEqual([404, 'MANIFEST_BLOB_UNKNOWN']);
    const notJson = await registryRequest(acme, app, 'PUT', '/v2/ml/bad/manifests/sha256:' + 'f'.repeat(64), { 'Content-Type': MANIFEST }, Buffer.from('{'));
    expect([notJson.status, ociCode(notJson)]).toEqual([400, 'DIGEST_INVALID']);
    const garbage = Buffer.from('{');
    const invalid = await registryRequest(acme, app, 'PUT', `/v2/ml/bad/manifests/${sha(garbage)}`, { 'Content-Type': MANIFEST }, garbage);
    expect([invalid.status, ociCode(invalid)]).toEqual([400, 'MANIFEST_INVALID']);
  });

  it('lets only callers allowed to Push write: a federated caller is refused (403 DENIED), nothing staged', async () => {
    const before = await acme.gateway.get(StoreService).repository.payloads.unfinishedCount();
    const outsider = await issueSvid(partner, '/parley/gateway');
    const refused = await registryRequest(acme, outsider, 'POST', '/v2/ml/pushed/blobs/uploads/');
    expect([refused.status, ociCode(refused)]).toEqual([403, 'DENIED']);
    expect(await acme.gateway.get(StoreService).repository.payloads.unfinishedCount()).toBe(before);
  });
});
