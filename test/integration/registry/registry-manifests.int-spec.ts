/**
 * Manifests that are not one record on the registry face of a real gateway (real PostgreSQL,
 * real mTLS): an image of several layers or of none, and image indexes (nested, empty, with a
 * subject). Each is kept byte for byte; its blobs become records of their own (readable over
 * gRPC); an index needs its children in the repository; a record deleted over gRPC makes every
 * manifest standing on it unknown; the namespace's count is capped (registry.maxManifests).
 */
import { createHash } from 'node:crypto';
import { ContentId } from '../../../src/store';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { issueSvid, payload, startFederatedPair, workloadClient } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';
import { ociCode, REGISTRY_ENV, registryRequest } from './registry-harness';

jest.setTimeout(120_000);

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const cidOf = (b: Buffer) => ContentId.fromSha256(createHash('sha256').update(b).digest()).toString();
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const MAX_MANIFESTS = 6;

const json = (doc: unknown) => Buffer.from(JSON.stringify(doc));
const desc = (mediaType: string, b: Buffer, extra: Record<string, unknown> = {}) => ({ mediaType, digest: sha(b), size: b.length, ...extra });

describe('manifests kept as pushed (several layers, none, image indexes)', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  let app: PemKeyPair;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair({ acme: { ...REGISTRY_ENV, PARLEY_REGISTRY_MAX_MANIFESTS: String(MAX_MANIFESTS) } }));
    app = await issueSvid(acme, '/ml/app');
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  async function upload(name: string, bytes: Buffer): Promise<void> {
    const post = await registryRequest(acme, app, 'POST', `/v2/${name}/blobs/uploads/?digest=${sha(bytes)}`, { 'Content-Length': String(bytes.length), 'Content-Type': 'application/octet-stream' }, bytes);
    expect(post.status).toBe(201);
  }

  const put = (name: string, ref: string, manifest: Buffer, type = MANIFEST) => registryRequest(acme, app, 'PUT', `/v2/${name}/manifests/${ref}`, { 'Content-Type': type }, manifest);
  const get = (path: string) => registryRequest(acme, app, 'GET', path);

  /** An image of a config and two layers, its blobs uploaded. */
  async function image(name: string, extra: Record<string, unknown> = {}): Promise<{ bytes: Buffer; config: Buffer; layers: Buffer[] }> {
    const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' }, custom: payload(8).toString('hex') });
    const layers = [payload(70_000), payload(1234)];
    for (const b of [config, ...layers]) await upload(name, b);
    const bytes = json({ schemaVersion: 2, mediaType: MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: layers.map((l) => desc(LAYER, l)), ...extra });
    return { bytes, config, layers };
  }

  it('keeps an image of two layers as pushed: by tag and digest byte-identical, its blobs readable, each a record over gRPC', async () => {
    const name = 'ml/image';
    const img = await image(name, { annotations: { 'org.example.big': 'A'.repeat(5000) }, extraField: { kept: true } });
    const pushed = await put(name, 'v1', img.bytes);
    expect([pushed.status, pushed.headers['docker-content-digest']]).toEqual([201, sha(img.bytes)]);
    for (const ref of ['v1', sha(img.bytes)]) {
      const back = await get(`/v2/${name}/manifests/${ref}`);
      expect([back.status, back.headers['content-type'], back.headers['docker-content-digest'], back.body.equals(img.bytes)]).toEqual([200, MANIFEST, sha(img.bytes), true]);
    }
    for (const b of [img.config, ...img.layers]) expect((await get(`/v2/${name}/blobs/${sha(b)}`)).body.equals(b)).toBe(true);
    expect((await get(`/v2/${name}/tags/list`)).json().tags).toEqual(expect.arrayContaining(['v1', cidOf(img.layers[0])]));
    const reader = await workloadClient(acme, '/ml/reader', acme);
    try {
      const pulled = await reader.pullAll(cidOf(img.layers[0]));
      expect([pulled.data.equals(img.layers[0]), pulled.record.namespace, pulled.record.media_type]).toEqual([true, name, LAYER]);
    } finally {
      reader.close();
    }
    // The same image again: nothing changes (the records are reused, the manifest is there).
    expect((await put(name, sha(img.bytes), img.bytes)).status).toBe(201);
  });

  it('keeps an image of no layers, and takes a non-distributable layer that was never pushed', async () => {
    const name = 'ml/odd';
    const config = json({ os: 'linux' });
    await upload(name, config);
    const none = json({ schemaVersion: 2, mediaType: MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', config), layers: [] });
    expect((await put(name, 'no-layers', none)).status).toBe(201);
    expect((await get(`/v2/${name}/manifests/no-layers`)).body.equals(none)).toBe(true);
    const local = payload(300);
    await upload(name, local);
    const foreign = payload(50);
    const nd = json({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: desc('application/vnd.oci.image.config.v1+json', config),
      layers: [desc('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', foreign, { urls: ['https://store.example.com/blob'] }), desc(LAYER, local)],
    });
    expect((await put(name, 'nd', nd)).status).toBe(201);
    expect((await get(`/v2/${name}/blobs/${sha(foreign)}`)).status).toBe(404);
    // A layer that is neither here nor non-distributable is refused.
    const missing = json({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: [desc(LAYER, payload(10)), desc(LAYER, local)] });
    const refused = await put(name, sha(missing), missing);
    expect([refused.status, ociCode(refused)]).toEqual([404, 'MANIFEST_BLOB_UNKNOWN']);
  });

  it('keeps image indexes (nested, empty) whose children are manifests of the repository, and refuses one naming a manifest that is not', async () => {
    const name = 'ml/index';
    const a = await image(name);
    const one = payload(99);
    await upload(name, one);
    const record = json({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: [desc('application/octet-stream', one)] });
    expect((await put(name, cidOf(one), record)).status).toBe(201);
    expect((await put(name, sha(a.bytes), a.bytes)).status).toBe(201);
    const index = json({ schemaVersion: 2, mediaType: INDEX, manifests: [desc(MANIFEST, a.bytes, { platform: { os: 'linux', architecture: 'amd64' } }), desc(MANIFEST, record)] });
    const put1 = await put(name, 'multi', index, INDEX);
    expect([put1.status, put1.headers['docker-content-digest']]).toEqual([201, sha(index)]);
    const nested = json({ schemaVersion: 2, mediaType: INDEX, manifests: [desc(INDEX, index)] });
    expect((await put(name, 'nested', nested, INDEX)).status).toBe(201);
    const empty = json({ schemaVersion: 2, mediaType: INDEX, manifests: [] });
    expect((await put(name, 'empty', empty, INDEX)).status).toBe(201);
    for (const [tag, bytes] of [['multi', index], ['nested', nested], ['empty', empty]] as const) {
      const back = await get(`/v2/${name}/manifests/${tag}`);
      expect([back.status, back.headers['content-type'], back.body.equals(bytes)]).toEqual([200, INDEX, true]);
    }
    const stranger = json({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: MANIFEST, digest: `sha256:${'7'.repeat(64)}`, size: 10 }] });
    const refused = await put(name, sha(stranger), stranger, INDEX);
    expect([refused.status, ociCode(refused)]).toEqual([404, 'MANIFEST_BLOB_UNKNOWN']);
    expect(refused.json().errors).toEqual([expect.objectContaining({ message: expect.stringContaining('manifests[0]') })]);

    // A layer record deleted over gRPC: the image, and the indexes standing on it, are no longer served.
    const owner = await workloadClient(acme, '/ml/owner', acme);
    try {
      await owner.delete(cidOf(a.layers[1]));
    } finally {
      owner.close();
    }
    for (const ref of [sha(a.bytes), 'multi', 'nested']) {
      const gone = await get(`/v2/${name}/manifests/${ref}`);
      expect([ref, gone.status, ociCode(gone)]).toEqual([ref, 404, 'MANIFEST_UNKNOWN']);
    }
    expect((await get(`/v2/${name}/manifests/empty`)).status).toBe(200);
    expect((await get(`/v2/${name}/manifests/${cidOf(one)}`)).status).toBe(200);

    // Pushed again with the layer: whole again. The indexes that stood on the deleted record went at that push, with their tags.
    await upload(name, a.layers[1]);
    expect((await put(name, sha(a.bytes), a.bytes)).status).toBe(201);
    expect((await get(`/v2/${name}/manifests/${sha(a.bytes)}`)).body.equals(a.bytes)).toBe(true);
    expect((await get(`/v2/${name}/manifests/multi`)).status).toBe(404);
    expect((await get(`/v2/${name}/tags/list`)).json().tags).toEqual(expect.not.arrayContaining(['multi', 'nested']));
    expect((await get(`/v2/${name}/tags/list`)).json().tags).toEqual(expect.arrayContaining(['empty']));
    expect((await put(name, 'multi', index, INDEX)).status).toBe(201);
    expect((await get(`/v2/${name}/manifests/multi`)).body.equals(index)).toBe(true);
  });

  it('lists the referrers of an image kept as pushed: an index with that subject and an image manifest with it', async () => {
    const name = 'ml/refs';
    const subject = await image(name);
    expect((await put(name, 'image', subject.bytes)).status).toBe(201);
    const subjectDesc = desc(MANIFEST, subject.bytes);
    const sig = json({ sig: 'acme' });
    await upload(name, sig);
    const signature = json({ schemaVersion: 2, mediaType: MANIFEST, artifactType: 'application/vnd.example.sig', config: EMPTY, layers: [desc('application/json', sig)], subject: subjectDesc });
    const putSig = await put(name, sha(signature), signature);
    expect([putSig.status, putSig.headers['oci-subject']]).toEqual([201, sha(subject.bytes)]);
    const set = json({ schemaVersion: 2, mediaType: INDEX, artifactType: 'application/vnd.example.set', manifests: [], subject: subjectDesc, annotations: { by: 'acme' } });
    const putSet = await put(name, 'tagged-set', set, INDEX);
    expect([putSet.status, putSet.headers['oci-subject']]).toEqual([201, sha(subject.bytes)]);
    // An image referrer naming the subject's config (a record since the subject's push; not uploaded again).
    const sibling = json({ schemaVersion: 2, mediaType: MANIFEST, config: desc('application/vnd.oci.image.config.v1+json', subject.config), layers: [desc('application/json', sig)], subject: subjectDesc });
    expect((await put(name, sha(sibling), sibling)).status).toBe(201);
    const listed = (await get(`/v2/${name}/referrers/${sha(subject.bytes)}`)).json();
    expect(listed.manifests).toEqual([
      { mediaType: MANIFEST, digest: sha(signature), size: signature.length, artifactType: 'application/vnd.example.sig' },
      { mediaType: MANIFEST, digest: sha(sibling), size: sibling.length, artifactType: 'application/vnd.oci.image.config.v1+json' },
      { mediaType: INDEX, digest: sha(set), size: set.length, artifactType: 'application/vnd.example.set', annotations: { by: 'acme' } },
    ]);
    expect((await get(`/v2/${name}/blobs/${sha(subject.config)}`)).body.equals(subject.config)).toBe(true);
    const filtered = (await get(`/v2/${name}/referrers/${sha(subject.bytes)}?artifactType=application/vnd.example.set`)).json();
    expect(filtered.manifests).toEqual([expect.objectContaining({ digest: sha(set) })]);
  });

  it('caps the manifests kept as pushed per namespace (registry.maxManifests): one beyond is refused (403 DENIED), one already there is taken again', async () => {
    const name = 'ml/capped';
    const kept: Buffer[] = [];
    for (let i = 0; i < MAX_MANIFESTS; i++) {
      const empty = json({ schemaVersion: 2, mediaType: INDEX, manifests: [], annotations: { n: String(i) } });
      expect((await put(name, sha(empty), empty, INDEX)).status).toBe(201);
      kept.push(empty);
    }
    const over = json({ schemaVersion: 2, mediaType: INDEX, manifests: [], annotations: { n: 'over' } });
    const refused = await put(name, sha(over), over, INDEX);
    expect([refused.status, ociCode(refused)]).toEqual([403, 'DENIED']);
    expect(refused.json().errors).toEqual([expect.objectContaining({ message: expect.stringContaining(`more than the maximum of ${MAX_MANIFESTS} manifests kept as pushed (registry.maxManifests)`) })]);
    expect((await put(name, sha(kept[0]), kept[0], INDEX)).status).toBe(201);
    expect((await get(`/v2/${name}/manifests/${sha(over)}`)).status).toBe(404);
  });

  it('lets only callers allowed to Push keep one: a federated caller is refused (403 DENIED), nothing kept', async () => {
    const name = 'ml/guarded';
    const outsider = await issueSvid(partner, '/parley/gateway');
    const empty = json({ schemaVersion: 2, mediaType: INDEX, manifests: [] });
    const refused = await registryRequest(acme, outsider, 'PUT', `/v2/${name}/manifests/${sha(empty)}`, { 'Content-Type': INDEX }, empty);
    expect([refused.status, ociCode(refused)]).toEqual([403, 'DENIED']);
    expect((await get(`/v2/${name}/manifests/${sha(empty)}`)).status).toBe(404);
  });
});
