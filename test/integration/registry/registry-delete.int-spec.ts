/**
 * Content management on the registry face of a real gateway (real PostgreSQL, real mTLS):
 * DELETE of a named tag, of a manifest by digest (kept as pushed, a referrer, one kept without
 * its subject, a record's) and of a blob (a record's payload, a finished upload, a record's
 * small document, a blob kept with a referrer), each 202 and gone at once; what may not go
 * (a CID tag, the empty JSON blob) is 405; only callers allowed to Delete delete.
 */
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ContentId } from '../../../src/store';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { grpcCode, issueSvid, payload, startFederatedPair, workloadClient } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';
import { ociCode, REGISTRY_ENV, registryRequest } from './registry-harness';

jest.setTimeout(120_000);

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const cidOf = (b: Buffer) => ContentId.fromSha256(createHash('sha256').update(b).digest()).toString();
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const json = (doc: unknown) => Buffer.from(JSON.stringify(doc));
const desc = (mediaType: string, b: Buffer) => ({ mediaType, digest: sha(b), size: b.length });

describe('DELETE on the registry face', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  let app: PemKeyPair;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair({ acme: REGISTRY_ENV }));
    app = await issueSvid(acme, '/ml/app');
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  async function upload(name: string, bytes: Buffer): Promise<void> {
    expect((await registryRequest(acme, app, 'POST', `/v2/${name}/blobs/uploads/?digest=${sha(bytes)}`, { 'Content-Length': String(bytes.length) }, bytes)).status).toBe(201);
  }
  const put = async (name: string, ref: string, manifest: Buffer, type = MANIFEST) => expect((await registryRequest(acme, app, 'PUT', `/v2/${name}/manifests/${ref}`, { 'Content-Type': type }, manifest)).status).toBe(201);
  const del = (path: string, svid = app) => registryRequest(acme, svid, 'DELETE', path);
  const status = async (method: string, path: string) => (await registryRequest(acme, app, method, path)).status;

  /** Whether the record of `cid` is there, asked over gRPC. */
  async function recordThere(cid: string): Promise<boolean> {
    const client = await workloadClient(acme, '/ml/reader', acme);
    try {
      const code = await grpcCode(client.lookup([cid]));
      if (code !== undefined && code !== grpc.status.NOT_FOUND) throw new Error(`lookup: ${code}`);
      return code === undefined;
    } finally {
      client.close();
    }
  }

  it('deletes a named tag alone; a CID tag is its record’s (405); an unknown tag is 404', async () => {
    const name = 'ml/tags';
    const bytes = payload(500);
    await upload(name, bytes);
    const image = json({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: [desc('application/octet-stream', bytes)] });
    await put(name, 'v1', image);
    const gone = await del(`/v2/${name}/manifests/v1`);
    expect([gone.status, gone.headers['content-length']]).toEqual([202, '0']);
    expect(await status('HEAD', `/v2/${name}/manifests/v1`)).toBe(404);
    expect(await status('HEAD', `/v2/${name}/manifests/${sha(image)}`)).toBe(200);
    const again = await del(`/v2/${name}/manifests/v1`);
    expect([again.status, ociCode(again)]).toEqual([404, 'MANIFEST_UNKNOWN']);
    const cidTag = await del(`/v2/${name}/manifests/${cidOf(bytes)}`);
    expect([cidTag.status, ociCode(cidTag)]).toEqual([405, 'UNSUPPORTED']);
    expect(await recordThere(cidOf(bytes))).toBe(true);
  });

  it('deletes a manifest kept as pushed and its tags, its layer records staying until their blobs are deleted', async () => {
    const name = 'ml/image';
    const layers = [payload(3000), payload(4000)];
    for (const l of layers) await upload(name, l);
    const image = json({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: layers.map((l) => desc('application/vnd.oci.image.layer.v1.tar', l)) });
    await put(name, 'latest', image);
    const index = json({ schemaVersion: 2, mediaType: INDEX, manifests: [desc(MANIFEST, image)] });
    await put(name, sha(index), index, INDEX);
    expect((await del(`/v2/${name}/manifests/${sha(index)}`)).status).toBe(202);
    expect((await del(`/v2/${name}/manifests/${sha(image)}`)).status).toBe(202);
    expect(await status('GET', `/v2/${name}/manifests/${sha(image)}`)).toBe(404);
    expect(await status('GET', `/v2/${name}/manifests/latest`)).toBe(404);
    expect((await registryRequest(acme, app, 'GET', `/v2/${name}/tags/list`)).json().tags).not.toContain('latest');
    expect(await status('GET', `/v2/${name}/blobs/${sha(layers[0])}`)).toBe(200);
    expect(await recordThere(cidOf(layers[0]))).toBe(true);
    expect((await del(`/v2/${name}/blobs/${sha(layers[0])}`)).status).toBe(202);
    expect(await status('HEAD', `/v2/${name}/blobs/${sha(layers[0])}`)).toBe(404);
    expect(await recordThere(cidOf(layers[0]))).toBe(false);
    const unknown = await del(`/v2/${name}/blobs/${sha(layers[0])}`);
    expect([unknown.status, ociCode(unknown)]).toEqual([404, 'BLOB_UNKNOWN']);
    const unknownManifest = await del(`/v2/${name}/manifests/${sha(image)}`);
    expect([unknownManifest.status, ociCode(unknownManifest)]).toEqual([404, 'MANIFEST_UNKNOWN']);
  });

  it('deletes a referrer (the record stays), and a record’s manifest by digest (the record goes, as a gRPC Delete)', async () => {
    const name = 'ml/records';
    const bytes = payload(800);
    const config = json({ config: 'of a record' });
    await upload(name, bytes);
    await upload(name, config);
    const image = json({ schemaVersion: 2, mediaType: MANIFEST, config: desc('application/vnd.example.config', config), layers: [desc('application/octet-stream', bytes)] });
    await put(name, sha(image), image);
    const sig = json({ sig: 1 });
    await upload(name, sig);
    const referrer = json({ schemaVersion: 2, mediaType: MANIFEST, artifactType: 'application/vnd.example.sig', config: EMPTY, layers: [desc('application/json', sig)], subject: desc(MANIFEST, image) });
    await put(name, sha(referrer), referrer);
    const listed = async () => (await registryRequest(acme, app, 'GET', `/v2/${name}/referrers/${sha(image)}`)).json().manifests;
    expect(await listed()).toEqual([expect.objectContaining({ digest: sha(referrer) })]);
    expect((await del(`/v2/${name}/manifests/${sha(referrer)}`)).status).toBe(202);
    expect(await listed()).toEqual([]);
    expect(await status('GET', `/v2/${name}/manifests/${sha(referrer)}`)).toBe(404);
    expect(await recordThere(cidOf(bytes))).toBe(true);
    // The config, a small document of the record: deleted by itself.
    expect((await del(`/v2/${name}/blobs/${sha(config)}`)).status).toBe(202);
    expect(await status('HEAD', `/v2/${name}/blobs/${sha(config)}`)).toBe(404);
    // The manifest as pushed is the record's: deleting it deletes the record.
    expect((await del(`/v2/${name}/manifests/${sha(image)}`)).status).toBe(202);
    expect(await recordThere(cidOf(bytes))).toBe(false);
    expect(await status('HEAD', `/v2/${name}/blobs/${sha(bytes)}`)).toBe(404);
    // The record's generated manifest, by its digest, deletes its record too.
    const other = payload(900);
    await upload(name, other);
    await put(name, cidOf(other), json({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: [desc('application/octet-stream', other)] }));
    const generated = (await registryRequest(acme, app, 'HEAD', `/v2/${name}/manifests/${cidOf(other)}`)).headers['docker-content-digest'] as string;
    expect((await del(`/v2/${name}/manifests/${generated}`)).status).toBe(202);
    expect(await recordThere(cidOf(other))).toBe(false);
  });

  it('deletes a referrer kept without its subject with the blobs only it named; a blob another one names stays', async () => {
    const name = 'ml/orphans';
    const subject = { mediaType: MANIFEST, digest: `sha256:${'5'.repeat(64)}`, size: 10 };
    const shared = json({ shared: true });
    const own = json({ own: true });
    for (const b of [shared, own]) await upload(name, b);
    const first = json({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: [desc('application/json', shared), desc('application/json', own)], subject });
    const second = json({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: [desc('application/json', shared)], subject, annotations: { n: '2' } });
    await put(name, sha(first), first);
    await put(name, sha(second), second);
    expect((await del(`/v2/${name}/manifests/${sha(first)}`)).status).toBe(202);
    expect(await status('GET', `/v2/${name}/manifests/${sha(first)}`)).toBe(404);
    expect(await status('GET', `/v2/${name}/blobs/${sha(own)}`)).toBe(404);
    expect(await status('GET', `/v2/${name}/blobs/${sha(shared)}`)).toBe(200);
    expect((await registryRequest(acme, app, 'GET', `/v2/${name}/referrers/${subject.digest}`)).json().manifests).toEqual([expect.objectContaining({ digest: sha(second) })]);
    expect((await del(`/v2/${name}/blobs/${sha(shared)}`)).status).toBe(202);
    expect(await status('GET', `/v2/${name}/blobs/${sha(shared)}`)).toBe(404);
  });

  it('deletes a finished upload no manifest took; the empty JSON blob is always served (405)', async () => {
    const name = 'ml/staged';
    const bytes = payload(100);
    await upload(name, bytes);
    expect((await del(`/v2/${name}/blobs/${sha(bytes)}`)).status).toBe(202);
    expect(await status('HEAD', `/v2/${name}/blobs/${sha(bytes)}`)).toBe(404);
    const empty = await del(`/v2/${name}/blobs/${EMPTY.digest}`);
    expect([empty.status, ociCode(empty)]).toEqual([405, 'UNSUPPORTED']);
    expect(await status('HEAD', `/v2/${name}/blobs/${EMPTY.digest}`)).toBe(200);
    const bad = await del(`/v2/${name}/blobs/sha256:xyz`);
    expect([bad.status, ociCode(bad)]).toEqual([400, 'DIGEST_INVALID']);
  });

  it('lets only callers allowed to Delete delete: a federated caller is refused (403 DENIED), nothing deleted', async () => {
    const name = 'ml/guarded';
    const bytes = payload(100);
    await upload(name, bytes);
    const image = json({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: [desc('application/octet-stream', bytes)] });
    await put(name, 'v1', image);
    const outsider = await issueSvid(partner, '/parley/gateway');
    for (const path of [`/v2/${name}/manifests/v1`, `/v2/${name}/manifests/${sha(image)}`, `/v2/${name}/blobs/${sha(bytes)}`]) {
      const refused = await del(path, outsider);
      expect([path, refused.status, ociCode(refused)]).toEqual([path, 403, 'DENIED']);
    }
    expect(await status('HEAD', `/v2/${name}/manifests/v1`)).toBe(200);
    expect(await recordThere(cidOf(bytes))).toBe(true);
  });
});
